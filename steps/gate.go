package steps

import "fmt"

// GateError is a gate's refusal: validation failed, promotion refused. The
// run ends as refused (playbook exits 3). Step functions return or panic
// with one; a cell may too: panic(steps.Refuse("validate", "f1 %.3f < %.3f", f1, min)).
type GateError struct {
	Gate   string // the step or check that refused
	Reason string
}

func (e *GateError) Error() string { return fmt.Sprintf("%s refused: %s", e.Gate, e.Reason) }

// GateRefused marks the error as a gate's refusal.
func (e *GateError) GateRefused() bool { return true }

// Refuse returns a GateError for gate, its reason formatted as fmt.Sprintf
// does.
func Refuse(gate, format string, a ...any) *GateError {
	return &GateError{Gate: gate, Reason: fmt.Sprintf(format, a...)}
}
