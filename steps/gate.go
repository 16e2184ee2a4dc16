package steps

import (
	"fmt"
	"strings"
)

// GateError is a gate's refusal: validation failed, promotion refused. The
// run ends as refused (playbook exits 3). Step functions return or panic
// with one; a cell may too: panic(steps.Refuse("validate", "f1 %.3f < %.3f", f1, min)).
type GateError struct {
	Gate   string // the step or check that refused
	Reason string

	format string // Refuse's format and arguments, for Localize
	args   []any
	french bool // Error says it in French
}

func (e *GateError) Error() string {
	if e.french {
		return fmt.Sprintf("refus de %s : %s", e.Gate, e.Reason)
	}
	return fmt.Sprintf("%s refused: %s", e.Gate, e.Reason)
}

// GateRefused marks the error as a gate's refusal.
func (e *GateError) GateRefused() bool { return true }

// Localize returns the refusal in the words of a scenario's language: in
// French for fr (fr-FR, ...), the reason from the catalogue (catalogFR)
// when it holds Refuse's format, else as given (a cell's own reason is its
// author's words). In any other language, e itself.
func (e *GateError) Localize(lang string) error {
	if !french(lang) {
		return e
	}
	out := *e
	out.french = true
	if fr, ok := catalogFR[e.format]; ok {
		out.Reason = fmt.Sprintf(fr, localizeArgs(lang, e.args)...)
	}
	return &out
}

// Refuse returns a GateError for gate, its reason formatted as fmt.Sprintf
// does.
func Refuse(gate, format string, a ...any) *GateError {
	return &GateError{Gate: gate, Reason: fmt.Sprintf(format, a...), format: format, args: a}
}

// french reports whether lang is French: fr, fr-FR, fr_CA...
func french(lang string) bool {
	l := strings.ToLower(strings.TrimSpace(lang))
	return l == "fr" || strings.HasPrefix(l, "fr-") || strings.HasPrefix(l, "fr_")
}
