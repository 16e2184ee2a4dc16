package steps

import "fmt"

// stepError is a step's error (not a gate's refusal): bad input, a failed
// call to MLflow. Steps panic with one (failf); the runner records it as
// the step's failure, said in the scenario's language (Localize).
type stepError struct {
	format string // failf's format and arguments, for Localize
	args   []any
	err    error // the error as said, in English or French
}

// stepErrorf returns a stepError formatted as fmt.Errorf does, %w
// included: errors.Is and errors.As see what it wraps.
func stepErrorf(format string, a ...any) *stepError {
	return &stepError{format: format, args: a, err: fmt.Errorf(format, a...)}
}

func (e *stepError) Error() string { return e.err.Error() }

// Unwrap returns the error as formatted, which unwraps to what %w wrapped.
func (e *stepError) Unwrap() error { return e.err }

// Localize returns the error in the words of a scenario's language: in
// French for fr (fr-FR, ...), from the catalogue (catalogStepsFR) when it
// holds the format, its arguments localized too (a refusal wrapped in a
// step's error). In any other language, e itself.
func (e *stepError) Localize(lang string) error {
	fr, ok := catalogStepsFR[e.format]
	if !french(lang) || !ok {
		return e
	}
	return &stepError{format: e.format, args: e.args, err: fmt.Errorf(fr, localizeArgs(lang, e.args)...)}
}

// localizeArgs returns a with each error that can say itself in lang
// (a stepError, a GateError), and each value that can (a version), said
// so.
func localizeArgs(lang string, a []any) []any {
	out := make([]any, len(a))
	for i, v := range a {
		switch l := v.(type) {
		case interface{ Localize(string) error }:
			v = l.Localize(lang)
		case interface{ LocalizeText(string) string }:
			v = l.LocalizeText(lang)
		}
		out[i] = v
	}
	return out
}
