package runner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/playbook-mlops/playbook/record"
)

// Error is a failure that a user fixes in a scenario file or that a cell
// raised while running: it names the file, the line in that file and, for a
// cell, its step. Kind is one of record's Err* kinds.
type Error struct {
	Kind string
	File string
	Line int // 0 when the error concerns the whole file
	Step string
	Err  error
}

// Error returns "FILE:LINE: step NAME: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Step != "" {
		fmt.Fprintf(&b, "step %s: ", e.Step)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ScenarioError reports whether the error is in the scenario's text
// (front matter, parameters, syntax, types, imports) rather than something
// that happened while it ran: playbook exits 2 for those.
func (e *Error) ScenarioError() bool {
	switch e.Kind {
	case record.ErrScenario, record.ErrSyntax, record.ErrCompile, record.ErrImport:
		return true
	}
	return false
}

// Record returns the error as the run record stores it.
func (e *Error) Record() *record.Error {
	return &record.Error{Kind: e.Kind, File: e.File, Line: e.Line, Step: e.Step, Message: e.Err.Error()}
}

// IsScenarioError reports whether err is, or wraps only, scenario errors:
// errors a user fixes in the scenario file or on the command line.
func IsScenarioError(err error) bool {
	var list Errors
	if errors.As(err, &list) {
		for _, e := range list {
			if !e.ScenarioError() {
				return false
			}
		}
		return len(list) > 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.ScenarioError()
	}
	var p *ParamError
	return errors.As(err, &p)
}

// Errors is a list of errors reported together, one per line.
type Errors []*Error

func (l Errors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the errors of the list.
func (l Errors) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err returns nil for an empty list, else the list.
func (l Errors) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

func scenarioErr(file string, line int, format string, a ...any) *Error {
	return &Error{Kind: record.ErrScenario, File: file, Line: line, Err: fmt.Errorf(format, a...)}
}
