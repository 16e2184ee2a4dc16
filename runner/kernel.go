package runner

import (
	"context"
	"errors"
	"fmt"
	"go/parser"
	"io"
	"io/fs"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/traefik/yaegi/interp"

	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// kernel is one yaegi interpreter running the cells of one scenario in
// order: what a cell declares, later cells see.
type kernel struct {
	in           *interp.Interpreter
	file         string
	lang         string // the scenario's language, for Localizer errors
	unrestricted bool
	ctl          *notebook.Controller
	enter        func() // Options.CellGoroutine

	line      atomic.Int64 // line of the top-level statement running
	stopped   atomic.Bool  // the running cell's context is done
	panicLine atomic.Int64 // first line yaegi printed for a panic

	showMu sync.Mutex
	shown  []any
	showed bool

	imports map[string]string // package name → import path, in the interpreter
	// declared maps the top-level names cells declared to their step;
	// failed holds those of cells that failed to compile (check).
	declared map[string]string
	failed   map[string]string
	types    map[string]string // type name → step that declared it

	// abandoned: a cell's compilation ran out of time and still holds the
	// interpreter (see compileWithin).
	abandoned bool
}

// emptyFS is the interpreter's source file system: yaegi finds no source
// package in it, so only packages registered with Use can be imported.
type emptyFS struct{}

func (emptyFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// newKernel starts an interpreter for file with the symbol tables loaded,
// pb and params declared, and the predefined packages imported.
func newKernel(file string, pb *notebook.Playbook, ctl *notebook.Controller, params []record.Param, unrestricted bool) (*kernel, error) {
	loadSymbols()
	k := &kernel{
		file: file, unrestricted: unrestricted, ctl: ctl,
		imports: map[string]string{}, declared: map[string]string{}, failed: map[string]string{}, types: map[string]string{},
	}
	var stdout, stderr io.Writer = io.Discard, io.Discard
	if ctl != nil {
		stdout, stderr = ctl.Stdout(), ctl.Stderr()
	}
	k.in = interp.New(interp.Options{
		Stdin:                strings.NewReader(""),
		Stdout:               stdout,
		Stderr:               &panicFilter{k: k, w: stderr},
		Args:                 []string{"playbook"},
		Env:                  []string{},
		SourcecodeFilesystem: emptyFS{},
		Unrestricted:         unrestricted,
	})
	syms := restrictedSymbols
	if unrestricted {
		syms = allSymbols
	}
	if err := k.in.Use(syms); err != nil {
		return nil, fmt.Errorf("loading symbols: %w", err)
	}
	pbVar := pb
	err := k.in.Use(interp.Exports{kernelPath + "/kernel": {
		"PB":   reflect.ValueOf(&pbVar).Elem(),
		"At":   reflect.ValueOf(k.atLine),
		"Tick": reflect.ValueOf(k.tickCheck),
		"Show": reflect.ValueOf(k.show),
	}})
	if err != nil {
		return nil, fmt.Errorf("loading the kernel: %w", err)
	}

	var src strings.Builder
	src.WriteString("package main\n\nimport (\n")
	fmt.Fprintf(&src, "\t%s %q\n", kernelName, kernelPath)
	k.imports[kernelName] = kernelPath
	names := importable(unrestricted)
	for _, p := range predefined {
		fmt.Fprintf(&src, "\t%q\n", p)
		k.imports[names[p]] = p
	}
	src.WriteString(")\n\nvar pb = " + kernelName + ".PB\n\n")
	src.WriteString(paramsSource(params) + "\n")
	f, err := parser.ParseFile(k.in.FileSet(), file, src.String(), 0)
	if err != nil {
		return nil, fmt.Errorf("kernel prelude: %w", err)
	}
	p, err := k.in.CompileAST(f)
	if err != nil {
		return nil, fmt.Errorf("kernel prelude: %w", err)
	}
	if _, err := k.in.Execute(p); err != nil {
		return nil, fmt.Errorf("kernel prelude: %w", err)
	}
	k.declared["pb"], k.declared["params"] = "", ""
	return k, nil
}

func (k *kernel) show(v ...any) {
	k.showMu.Lock()
	defer k.showMu.Unlock()
	k.shown, k.showed = v, true
}

// panicFilter drops the "FILE:LINE:COL: panic" lines yaegi prints for each
// interpreted frame a panic crosses, keeping the first line for the error.
type panicFilter struct {
	k *kernel
	w io.Writer
}

var panicLine = regexp.MustCompile(`^(.*):(\d+):(\d+): panic`)

func (f *panicFilter) Write(b []byte) (int, error) {
	if m := panicLine.FindSubmatch(b); m != nil && string(m[1]) == f.k.file {
		line, _ := strconv.Atoi(string(m[2]))
		f.k.panicLine.CompareAndSwap(0, int64(line))
		return len(b), nil
	}
	return f.w.Write(b)
}

// run executes a compiled cell under ctx. A panic, an error shown as the
// final value, a timeout and an interruption are returned as *Error.
func (k *kernel) run(ctx context.Context, c Cell, p *compiled) error {
	k.line.Store(0)
	k.panicLine.Store(0)
	k.showMu.Lock()
	k.shown, k.showed = nil, false
	k.showMu.Unlock()
	for _, prog := range []*interp.Program{p.decls, p.stmts, p.final} {
		if prog == nil {
			continue
		}
		if err := k.execute(ctx, prog); err != nil {
			return k.runError(ctx, c, err)
		}
	}
	k.showMu.Lock()
	shown, showed := k.shown, k.showed
	k.showMu.Unlock()
	if showed && k.ctl != nil {
		if err := k.ctl.Show(shown); err != nil {
			return k.failure(c, k.where(c), err)
		}
	}
	return nil
}

// execute runs prog until it ends or ctx is done. When ctx is done, it
// returns ctx.Err() at once; the interpreted code stops at its next
// statement, compiled code it called when that returns (or never, if it
// ignores the context: its goroutine is then left behind).
func (k *kernel) execute(ctx context.Context, prog *interp.Program) error {
	k.stopped.Store(false)
	done := make(chan error, 1)
	go func() {
		// Goexit (a stopped cell) skips the send: nobody waits then.
		if k.enter != nil {
			k.enter()
		}
		_, err := k.in.Execute(prog)
		done <- err
	}()
	stop := context.AfterFunc(ctx, func() { k.stopped.Store(true) })
	defer stop()
	select {
	case err := <-done:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// atLine records line as the one running and stops a cell whose time is up.
func (k *kernel) atLine(line int) {
	k.line.Store(int64(line))
	k.tickCheck()
}

// tickCheck ends the calling goroutine, running its deferred calls, when
// the cell's time is up or the run has ended. Unlike a panic, this cannot
// crash the process from a goroutine the cell started.
func (k *kernel) tickCheck() {
	if k.stopped.Load() {
		runtime.Goexit()
	}
}

// close stops whatever interpreted code a cell left running.
func (k *kernel) close() { k.stopped.Store(true) }

// where returns the line of the statement running, or the line yaegi named
// for a panic, or the cell's first line.
func (k *kernel) where(c Cell) int {
	for _, l := range []int64{k.line.Load(), k.panicLine.Load()} {
		if int(l) >= c.Line && int(l) <= c.EndLine {
			return int(l)
		}
	}
	return c.Line
}

// runError classifies an error from executing a cell.
func (k *kernel) runError(ctx context.Context, c Cell, err error) error {
	line := k.where(c)
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		timeout := c.Timeout
		if d, ok := ctx.Deadline(); ok && timeout == 0 {
			timeout = time.Until(d)
		}
		return &Error{Kind: record.ErrTimeout, File: k.file, Line: line, Step: c.Step,
			Err: &TimeoutError{Timeout: timeout, Err: err}}
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return &Error{Kind: record.ErrCancelled, File: k.file, Line: line, Step: c.Step, Err: fmt.Errorf("interrupted: %w", err)}
	}
	var p interp.Panic
	if errors.As(err, &p) {
		v := p.Value
		if rv, ok := v.(reflect.Value); ok && rv.IsValid() && rv.CanInterface() {
			v = rv.Interface()
		}
		if e, ok := v.(error); ok && !isRuntimePanic(e) {
			return k.failure(c, line, e)
		}
		pe := &PanicError{Value: runtimeMessage(v)}
		pe.Err, _ = v.(error)
		return &Error{Kind: record.ErrPanic, File: k.file, Line: line, Step: c.Step, Err: pe}
	}
	return &Error{Kind: record.ErrCompile, File: k.file, Line: line, Step: c.Step, Err: err}
}

// Localizer is implemented by errors that can say themselves in a
// scenario's language (its front matter's lang): a step's error, raised in
// a cell, is recorded and reported as Localize(lang) returns it.
type Localizer interface{ Localize(lang string) error }

// failure is a step that failed with err: a gate refusal when err says so.
func (k *kernel) failure(c Cell, line int, err error) error {
	// A step's error says itself in the scenario's language when it can
	// (steps.GateError in French).
	if l, ok := err.(Localizer); ok {
		err = l.Localize(k.lang)
	}
	kind := record.ErrStep
	var g interface{ GateRefused() bool }
	if errors.As(err, &g) && g.GateRefused() {
		kind = record.ErrGate
	}
	return &Error{Kind: kind, File: k.file, Line: line, Step: c.Step, Err: err}
}

// isRuntimePanic reports whether e is the Go runtime's or reflect's panic
// (an index out of range, a nil pointer), not an error a step raised.
func isRuntimePanic(e error) bool {
	var re runtime.Error
	var ve *reflect.ValueError
	return errors.As(e, &re) || errors.As(e, &ve)
}

// runtimeMessage says what the interpreter's panics (raised by reflect,
// which it runs on) mean in Go's own words.
func runtimeMessage(v any) any {
	switch x := v.(type) {
	case *reflect.ValueError:
		if x.Kind == reflect.Invalid {
			return "runtime error: invalid memory address or nil pointer dereference"
		}
	case string:
		switch x {
		case "reflect: slice index out of range", "reflect: array index out of range", "reflect: string index out of range":
			return "runtime error: index out of range"
		case "reflect: slice bounds out of range", "reflect.Value.Slice: slice index out of bounds", "reflect.Value.Slice3: slice index out of bounds":
			return "runtime error: slice bounds out of range"
		}
	}
	return v
}

// TimeoutError is the cause of a cell that ran out of time.
type TimeoutError struct {
	Timeout time.Duration
	// Compiling says the time ran out before the cell had compiled; Lines
	// is then the cell's number of lines.
	Compiling bool
	Lines     int
	Err       error // context.DeadlineExceeded
}

func (e *TimeoutError) Error() string {
	if e.Compiling {
		return fmt.Sprintf("timed out after %s compiling the cell (%d lines), before it ran: the timeout counts the compilation too (raise it with timeout= on the cell's fence, or split the cell)",
			e.Timeout, e.Lines)
	}
	return fmt.Sprintf("timed out after %s (raise it with timeout= on the cell's fence)", e.Timeout)
}

// Unwrap returns context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return e.Err }

// PanicError is the cause of a cell that panicked with a value that is not
// a step's error: a runtime error, or panic("...").
type PanicError struct {
	Value any
	Err   error // Value when it is an error
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic's value when it is an error.
func (e *PanicError) Unwrap() error { return e.Err }
