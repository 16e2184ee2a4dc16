package runner

import (
	"go/ast"
	"go/token"
)

// yaegi (v0.16.1, the latest) cannot compile a definition of several
// names (`x, err := f()`, `v, ok := m[k]`, `var a, b = f()`) inside a
// block of a program's top level: `for … { x, err := f() }` fails with
// "undefined: x", and `if v, ok := m[k]; ok { … }` panics in its compiler
// ("nil type"). The same code inside a function literal compiles and runs.
// A cell's statements are its program's top level, and these are among
// the most common lines of Go, so each top-level statement that holds one
// is run as the body of a function literal called at once,
// `func() { STMT }()`, which means the same: a compound statement
// declares nothing outside itself, and the literal sees and assigns the
// cell's variables as the statement did. Statements whose meaning would
// change are left as they are: a return, defer or goto, a labelled
// statement, or a break or continue leaving the statement.

// wrapMultiDefines returns list with each such statement wrapped.
func wrapMultiDefines(list []ast.Stmt) []ast.Stmt {
	for i, s := range list {
		if compound(s) && hasMultiDefine(s) && keepsMeaningInFunc(s) {
			list[i] = &ast.ExprStmt{X: &ast.CallExpr{
				Fun: &ast.FuncLit{
					Type: &ast.FuncType{Func: s.Pos(), Params: &ast.FieldList{}},
					Body: &ast.BlockStmt{Lbrace: s.Pos(), List: []ast.Stmt{s}, Rbrace: s.End()},
				},
				Lparen: s.End(), Rparen: s.End(),
			}}
		}
	}
	return list
}

func compound(s ast.Stmt) bool {
	switch s.(type) {
	case *ast.BlockStmt, *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt, *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt:
		return true
	}
	return false
}

// hasMultiDefine reports whether s defines several names at once outside
// any function literal.
func hasMultiDefine(s ast.Stmt) bool {
	found := false
	ast.Inspect(s, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			return false
		case *ast.AssignStmt:
			found = found || n.Tok == token.DEFINE && len(n.Lhs) > 1
		case *ast.ValueSpec:
			found = found || len(n.Names) > 1
		}
		return !found
	})
	return found
}

// keepsMeaningInFunc reports whether s means the same as the body of a
// function literal: no return, defer or goto, no label, and no break or
// continue that leaves s (one outside the loop, switch or select it
// belongs to within s).
func keepsMeaningInFunc(s ast.Stmt) bool {
	ok := true
	var walk func(n ast.Node, inLoop, inBreakable bool)
	walk = func(n ast.Node, inLoop, inBreakable bool) {
		ast.Inspect(n, func(x ast.Node) bool {
			if !ok || x == nil || x == n {
				return ok
			}
			switch x := x.(type) {
			case *ast.FuncLit:
				return false
			case *ast.ReturnStmt, *ast.DeferStmt, *ast.LabeledStmt:
				ok = false
			case *ast.BranchStmt:
				switch {
				case x.Label != nil, x.Tok == token.GOTO, x.Tok == token.FALLTHROUGH && !inBreakable:
					ok = false
				case x.Tok == token.BREAK && !inBreakable, x.Tok == token.CONTINUE && !inLoop:
					ok = false
				}
			case *ast.ForStmt, *ast.RangeStmt:
				walk(x, true, true)
				return false
			case *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt:
				walk(x, inLoop, true)
				return false
			}
			return ok
		})
	}
	switch s.(type) {
	case *ast.ForStmt, *ast.RangeStmt:
		walk(s, true, true)
	case *ast.SwitchStmt, *ast.TypeSwitchStmt, *ast.SelectStmt:
		walk(s, false, true)
	default:
		walk(s, false, false)
	}
	return ok
}
