package runner

import (
	"context"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"regexp"
	"strconv"
	"strings"

	"github.com/traefik/yaegi/interp"

	"github.com/playbook-mlops/playbook/record"
)

// compiled is a cell ready to execute: its declarations, its statements,
// and its final expression, each compiled (nil when absent).
type compiled struct {
	decls, stmts, final *interp.Program
}

// compileWithin compiles cell c as compile does, until ctx is done (the
// cell's timeout): yaegi's compiler cannot be interrupted, so it compiles
// in a goroutine of its own, and when ctx ends first the error says the
// cell did not compile in time. That goroutine is then left compiling,
// holding the interpreter: k.abandoned is set, and k must not compile or
// run anything more (the run stops there, and the process exits after it).
func (k *kernel) compileWithin(ctx context.Context, c Cell) (*compiled, error) {
	if k.abandoned {
		return nil, &Error{Kind: record.ErrCompile, File: k.file, Line: c.Line, Step: c.Step,
			Err: errors.New("not compiled: the interpreter is still compiling an earlier cell that ran out of time")}
	}
	type result struct {
		p   *compiled
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if v := recover(); v != nil {
				r = result{err: &Error{Kind: record.ErrCompile, File: k.file, Line: c.Line, Step: c.Step,
					Err: fmt.Errorf("compiling the cell failed: %v", v)}}
			}
			done <- r
		}()
		r.p, r.err = k.compile(c)
	}()
	select {
	case r := <-done:
		return r.p, r.err
	case <-ctx.Done():
		k.abandoned = true
		err := ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &Error{Kind: record.ErrTimeout, File: k.file, Line: c.Line, Step: c.Step,
				Err: &TimeoutError{Timeout: c.Timeout, Compiling: true, Lines: c.EndLine - c.Line + 1, Err: err}}
		}
		return nil, &Error{Kind: record.ErrCancelled, File: k.file, Line: c.Line, Step: c.Step, Err: fmt.Errorf("interrupted while compiling: %w", err)}
	}
}

// compile parses and compiles cell c without running it. Its errors are
// *Error values naming the scenario file and the line in it.
func (k *kernel) compile(c Cell) (*compiled, error) {
	declSrc, stmtSrc, hasDecls, hasStmts := splitCell(c.Code)
	pad := strings.Repeat("\n", c.Line-1)
	fset := k.in.FileSet()
	var file *ast.File
	var body *ast.BlockStmt
	var errs []error
	if hasDecls {
		f, err := parser.ParseFile(fset, k.file, "package main;"+pad+declSrc, parser.DeclarationErrors)
		if err != nil {
			errs = append(errs, err)
		}
		file = f
	}
	if hasStmts {
		f, err := parser.ParseFile(fset, k.file, "package main; func main() {"+pad+stmtSrc+"\n}", 0)
		if err != nil {
			errs = append(errs, err)
		}
		if f != nil && len(f.Decls) > 0 {
			if fd, ok := f.Decls[0].(*ast.FuncDecl); ok {
				body = fd.Body
			}
		}
	}
	if len(errs) > 0 {
		// What parsed still names what the cell declares, so that check
		// does not report those names undefined in later cells.
		k.remember(c, file, body, false)
		return nil, k.syntaxError(c, errs)
	}

	if file != nil {
		err := k.checkImports(c, file)
		if err == nil {
			err = k.checkTypes(c, file)
		}
		if err != nil {
			k.remember(c, file, body, false)
			return nil, err
		}
	}
	var nodes []ast.Node
	if file != nil {
		nodes = append(nodes, file)
	}
	if body != nil {
		nodes = append(nodes, body)
	}
	err := k.checkKernelName(c, nodes...)
	if err == nil {
		err = k.checkCalls(c, nodes...)
	}
	if err != nil {
		k.remember(c, file, body, false)
		return nil, err
	}

	if file != nil {
		k.tickFuncs(file)
	}
	if body != nil {
		k.tickFuncs(body)
	}
	var final ast.Expr
	if body != nil {
		if n := len(body.List); n > 0 {
			if es, ok := body.List[n-1].(*ast.ExprStmt); ok {
				final = es.X
				body.List = body.List[:n-1]
			}
		}
		body.List = k.trace(wrapMultiDefines(body.List))
	}

	out, err := k.compileParts(c, file, body, final)
	k.remember(c, file, body, err == nil)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (k *kernel) compileParts(c Cell, file *ast.File, body *ast.BlockStmt, final ast.Expr) (out *compiled, err error) {
	out = &compiled{}
	defer func() {
		// yaegi's compiler panics on some valid Go (see multidefine.go):
		// the cell fails to compile, the run goes on to its report.
		if v := recover(); v != nil {
			var n ast.Node = file
			if body != nil {
				n = body
			}
			out, err = nil, k.compileError(c, n, fmt.Errorf("the interpreter (yaegi) failed on this cell: %v; rewriting the statement may avoid it", v))
		}
	}()
	if file != nil && len(file.Decls) > 0 {
		k.rememberImports(file)
		if out.decls, err = k.in.CompileAST(file); err != nil {
			return nil, k.compileError(c, file, err)
		}
	}
	if body != nil && len(body.List) > 0 {
		if out.stmts, err = k.in.CompileAST(body); err != nil {
			return nil, k.compileError(c, body, err)
		}
	}
	if final != nil {
		// Show the value, as a notebook does; a call that returns nothing
		// does not compile that way, and runs as a plain statement.
		show := &ast.ExprStmt{X: k.call(final.Pos(), "Show", final)}
		if out.final, err = k.in.CompileAST(k.block(final.Pos(), show)); err != nil {
			plain := k.block(final.Pos(), &ast.ExprStmt{X: final})
			if out.final, err = k.in.CompileAST(plain); err != nil {
				return nil, k.compileError(c, plain, err)
			}
		}
	}
	return out, nil
}

// block returns { __pb.At(line); stmt } at pos.
func (k *kernel) block(pos token.Pos, s ast.Stmt) *ast.BlockStmt {
	return &ast.BlockStmt{Lbrace: pos, List: []ast.Stmt{k.at(pos), s}, Rbrace: pos}
}

// call returns __pb.NAME(args...) positioned at pos: yaegi resolves package
// names through the file a node's position is in.
func (k *kernel) call(pos token.Pos, name string, args ...ast.Expr) *ast.CallExpr {
	return &ast.CallExpr{
		Fun:    &ast.SelectorExpr{X: &ast.Ident{NamePos: pos, Name: kernelName}, Sel: &ast.Ident{NamePos: pos, Name: name}},
		Lparen: pos, Args: args, Rparen: pos,
	}
}

// at returns the statement that records pos's line as the one running.
func (k *kernel) at(pos token.Pos) ast.Stmt {
	line := k.in.FileSet().Position(pos).Line
	return &ast.ExprStmt{X: k.call(pos, "At", &ast.BasicLit{ValuePos: pos, Kind: token.INT, Value: strconv.Itoa(line)})}
}

// Instrumentation. The runner stops a cell that times out without yaegi's
// own cancellation (ExecuteWithContext races on its results when it gives
// up): before each statement of a cell, the cell calls __pb.At(LINE), which
// records the line running and ends the goroutine (runtime.Goexit) once the
// cell's time is up; inside functions and function literals it calls
// __pb.Tick(), which only checks. So interpreted code, loops and goroutines
// included, stops at its next statement; an empty loop body gets a Tick too.

// trace inserts __pb.At(LINE) before each statement of list and of the
// blocks nested in it (not in function literals), so that a panic or a
// timeout names the statement that was running, in the cell.
func (k *kernel) trace(list []ast.Stmt) []ast.Stmt {
	return k.instrument(list, true)
}

// tickFuncs inserts __pb.Tick() before each statement of every function
// declared, and every function literal written, in n.
func (k *kernel) tickFuncs(n ast.Node) {
	ast.Inspect(n, func(x ast.Node) bool {
		switch f := x.(type) {
		case *ast.FuncDecl:
			if f.Body != nil {
				f.Body.List = k.instrument(f.Body.List, false)
			}
		case *ast.FuncLit:
			f.Body.List = k.instrument(f.Body.List, false)
		}
		return true
	})
}

// instrument inserts At (lines true) or Tick before each statement of list
// and of the blocks nested in it, function literals excepted.
func (k *kernel) instrument(list []ast.Stmt, lines bool) []ast.Stmt {
	out := make([]ast.Stmt, 0, 2*len(list))
	for _, s := range list {
		k.instrumentNested(s, lines)
		if lines {
			out = append(out, k.at(s.Pos()))
		} else {
			out = append(out, k.tick(s.Pos()))
		}
		out = append(out, s)
	}
	return out
}

func (k *kernel) instrumentNested(s ast.Stmt, lines bool) {
	loopBody := func(b *ast.BlockStmt) {
		if len(b.List) == 0 {
			b.List = []ast.Stmt{k.tick(b.Pos())} // for {} must stop too
			return
		}
		k.instrumentNested(b, lines)
	}
	switch s := s.(type) {
	case *ast.BlockStmt:
		s.List = k.instrument(s.List, lines)
	case *ast.IfStmt:
		k.instrumentNested(s.Body, lines)
		if s.Else != nil {
			k.instrumentNested(s.Else, lines)
		}
	case *ast.ForStmt:
		loopBody(s.Body)
	case *ast.RangeStmt:
		loopBody(s.Body)
	case *ast.SwitchStmt:
		k.instrumentNested(s.Body, lines)
	case *ast.TypeSwitchStmt:
		k.instrumentNested(s.Body, lines)
	case *ast.SelectStmt:
		k.instrumentNested(s.Body, lines)
	case *ast.CaseClause:
		s.Body = k.instrument(s.Body, lines)
	case *ast.CommClause:
		s.Body = k.instrument(s.Body, lines)
	case *ast.LabeledStmt:
		k.instrumentNested(s.Stmt, lines)
	}
}

// tick returns the statement __pb.Tick() at pos.
func (k *kernel) tick(pos token.Pos) ast.Stmt {
	return &ast.ExprStmt{X: k.call(pos, "Tick")}
}

// checkImports refuses imports outside the allow-list and drops those the
// interpreter already has (yaegi refuses to import a package twice).
func (k *kernel) checkImports(c Cell, f *ast.File) error {
	names := importable(k.unrestricted)
	var decls []ast.Decl
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.IMPORT {
			decls = append(decls, d)
			continue
		}
		var specs []ast.Spec
		for _, s := range g.Specs {
			spec := s.(*ast.ImportSpec)
			p, _ := strconv.Unquote(spec.Path.Value)
			line := k.in.FileSet().Position(spec.Pos()).Line
			pkgName, ok := names[p]
			if _, generic := genericPackages[p]; !ok || generic || p == kernelPath {
				return &Error{Kind: record.ErrImport, File: k.file, Line: line, Step: c.Step, Err: k.refused(p)}
			}
			name := pkgName
			if spec.Name != nil {
				name = spec.Name.Name
			}
			if name == "_" || name == "." {
				specs = append(specs, spec)
				continue
			}
			if have, ok := k.imports[name]; ok {
				if have == p {
					continue // already imported
				}
				return &Error{Kind: record.ErrImport, File: k.file, Line: line, Step: c.Step,
					Err: fmt.Errorf("import %q: the name %s is already package %q: import it under another name (import other %q)", p, name, have, p)}
			}
			specs = append(specs, spec)
		}
		if len(specs) > 0 {
			g.Specs = specs
			decls = append(decls, g)
		}
	}
	f.Decls = decls
	return nil
}

// ErrImportRefused is the cause of a refused import.
var ErrImportRefused = errors.New("import not allowed")

func (k *kernel) refused(p string) error {
	if instead, ok := genericPackages[p]; ok {
		return fmt.Errorf("import %q: %w: the interpreter cannot run the standard library's generic packages (cmp, maps, slices): %s", p, ErrImportRefused, instead)
	}
	if k.unrestricted {
		return fmt.Errorf("import %q: %w: the package is not available to cells (available: %s)", p, ErrImportRefused, allowedList(true))
	}
	return fmt.Errorf("import %q: %w in a cell: cells may import %s; run with --unrestricted to allow the whole standard library (os, os/exec, net, ...)", p, ErrImportRefused, allowedList(false))
}

// checkTypes refuses to redefine a type an earlier cell declared: yaegi
// would keep the first definition.
func (k *kernel) checkTypes(c Cell, f *ast.File) error {
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			ts := s.(*ast.TypeSpec)
			if step, ok := k.types[ts.Name.Name]; ok && step != c.Step {
				return &Error{Kind: record.ErrCompile, File: k.file, Line: k.in.FileSet().Position(ts.Pos()).Line, Step: c.Step,
					Err: fmt.Errorf("type %s is already declared by step %s: a type cannot be redefined, give this one another name", ts.Name.Name, step)}
			}
		}
	}
	return nil
}

// remember records what cell c declares: its top-level names (into
// k.declared, or k.failed when it did not compile) and, when it compiled,
// its types.
func (k *kernel) remember(c Cell, f *ast.File, body *ast.BlockStmt, ok bool) {
	m := k.declared
	if !ok {
		m = k.failed
	}
	for _, n := range topLevelNames(f, body) {
		m[n] = c.Step
	}
	if !ok || f == nil {
		return
	}
	for _, d := range f.Decls {
		if g, isGen := d.(*ast.GenDecl); isGen && g.Tok == token.TYPE {
			for _, s := range g.Specs {
				k.types[s.(*ast.TypeSpec).Name.Name] = c.Step
			}
		}
	}
}

// rememberImports records the imports of f as done: yaegi registers them
// before it compiles the rest, so even when the rest fails.
func (k *kernel) rememberImports(f *ast.File) {
	names := importable(k.unrestricted)
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.IMPORT {
			continue
		}
		for _, s := range g.Specs {
			spec := s.(*ast.ImportSpec)
			p, _ := strconv.Unquote(spec.Path.Value)
			name := names[p]
			if spec.Name != nil {
				name = spec.Name.Name
			}
			if name != "_" && name != "." {
				k.imports[name] = p
			}
		}
	}
}

// topLevelNames lists the names a cell declares at top level: declared
// functions, types, variables and constants, and variables its top-level
// statements define.
func topLevelNames(f *ast.File, body *ast.BlockStmt) []string {
	var names []string
	if f != nil {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names = append(names, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						names = append(names, s.Name.Name)
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names = append(names, n.Name)
						}
					}
				}
			}
		}
	}
	if body != nil {
		for _, s := range body.List {
			switch s := s.(type) {
			case *ast.AssignStmt:
				if s.Tok == token.DEFINE {
					for _, e := range s.Lhs {
						if id, ok := e.(*ast.Ident); ok {
							names = append(names, id.Name)
						}
					}
				}
			case *ast.DeclStmt:
				if g, ok := s.Decl.(*ast.GenDecl); ok {
					for _, sp := range g.Specs {
						switch sp := sp.(type) {
						case *ast.ValueSpec:
							for _, n := range sp.Names {
								names = append(names, n.Name)
							}
						case *ast.TypeSpec:
							names = append(names, sp.Name.Name)
						}
					}
				}
			}
		}
	}
	return names
}

// syntaxError turns parse errors into one *Error on the first bad line.
func (k *kernel) syntaxError(c Cell, errs []error) error {
	var first *scanner.Error
	for _, err := range errs {
		var list scanner.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			if e := list[0]; first == nil || e.Pos.Line < first.Pos.Line {
				first = e
			}
		}
	}
	if first == nil {
		return &Error{Kind: record.ErrSyntax, File: k.file, Line: c.Line, Step: c.Step, Err: errs[0]}
	}
	line, msg := first.Pos.Line, first.Msg
	if line > c.EndLine || line < c.Line {
		// Past the cell's end: the cell stops in the middle of something.
		line = max(c.Line, min(line, c.EndLine))
		msg = strings.ReplaceAll(msg, "found '}'", "found the end of the cell")
	}
	return &Error{Kind: record.ErrSyntax, File: k.file, Line: line, Step: c.Step, Err: fmt.Errorf("syntax error: %s", msg)}
}

var posPrefix = regexp.MustCompile(`(?s)^(.*?):(\d+):(\d+): (.*)$`)

// compileError turns a yaegi compile error ("FILE:LINE:COL: msg") into an
// *Error, naming the undefined identifier yaegi reports as a "constant
// definition loop".
func (k *kernel) compileError(c Cell, n ast.Node, err error) error {
	msg := err.Error()
	line := c.Line
	if m := posPrefix.FindStringSubmatch(msg); m != nil && m[1] == k.file {
		line, _ = strconv.Atoi(m[2])
		msg = m[4]
	}
	switch {
	case strings.HasPrefix(msg, "constant definition loop"):
		// yaegi's words for x := undefinedName: find the name.
		if id := k.undefined(n, line); id != nil {
			line = k.in.FileSet().Position(id.Pos()).Line
			msg = "undefined: " + id.Name
		}
	case strings.HasPrefix(msg, "undefined: ") && (line < c.Line || line > c.EndLine):
		// A position outside the cell: find the name in it.
		name := strings.TrimPrefix(msg, "undefined: ")
		found := false
		ast.Inspect(n, func(x ast.Node) bool {
			if id, ok := x.(*ast.Ident); ok && !found && id.Name == name && id.Pos().IsValid() {
				line, found = k.in.FileSet().Position(id.Pos()).Line, true
			}
			return !found
		})
	}
	if line < c.Line || line > c.EndLine {
		line = c.Line
	}
	return &Error{Kind: record.ErrCompile, File: k.file, Line: line, Step: c.Step, Err: errors.New(msg)}
}

// undefined returns the first identifier of n, preferably on line, that
// names nothing: not a predeclared name, not a package, not a name an
// earlier cell declared, not a name declared inside n.
func (k *kernel) undefined(n ast.Node, line int) *ast.Ident {
	local := map[string]bool{}
	ast.Inspect(n, func(x ast.Node) bool {
		switch x := x.(type) {
		case *ast.AssignStmt:
			if x.Tok == token.DEFINE {
				for _, e := range x.Lhs {
					if id, ok := e.(*ast.Ident); ok {
						local[id.Name] = true
					}
				}
			}
		case *ast.ValueSpec:
			for _, id := range x.Names {
				local[id.Name] = true
			}
		case *ast.TypeSpec:
			local[x.Name.Name] = true
		case *ast.FuncDecl:
			local[x.Name.Name] = true
		case *ast.Field:
			for _, id := range x.Names {
				local[id.Name] = true
			}
		case *ast.RangeStmt:
			for _, e := range []ast.Expr{x.Key, x.Value} {
				if id, ok := e.(*ast.Ident); ok {
					local[id.Name] = true
				}
			}
		case *ast.LabeledStmt:
			local[x.Label.Name] = true
		}
		return true
	})
	var found, onLine *ast.Ident
	ast.Inspect(n, func(x ast.Node) bool {
		switch x := x.(type) {
		case *ast.SelectorExpr:
			ast.Inspect(x.X, func(y ast.Node) bool { return k.visitIdent(y, local, &found, &onLine, line) })
			return false // x.Sel is a field or method
		case *ast.KeyValueExpr:
			if _, ok := x.Key.(*ast.Ident); ok {
				ast.Inspect(x.Value, func(y ast.Node) bool { return k.visitIdent(y, local, &found, &onLine, line) })
				return false // a struct field name
			}
		case *ast.BranchStmt:
			return false
		}
		return k.visitIdent(x, local, &found, &onLine, line)
	})
	if onLine != nil {
		return onLine
	}
	return found
}

func (k *kernel) visitIdent(x ast.Node, local map[string]bool, found, onLine **ast.Ident, line int) bool {
	id, ok := x.(*ast.Ident)
	if !ok {
		return true
	}
	name := id.Name
	if name == "_" || local[name] || predeclared[name] || name == kernelName {
		return true
	}
	if _, ok := k.imports[name]; ok {
		return true
	}
	if _, ok := k.declared[name]; ok {
		return true
	}
	if *found == nil {
		*found = id
	}
	if *onLine == nil && k.in.FileSet().Position(id.Pos()).Line == line {
		*onLine = id
	}
	return true
}

var predeclared = map[string]bool{}

func init() {
	for _, n := range strings.Fields(`any bool byte comparable complex64 complex128 error float32 float64
		int int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr
		true false iota nil append cap clear close complex copy delete imag len make max min new panic
		print println real recover`) {
		predeclared[n] = true
	}
}
