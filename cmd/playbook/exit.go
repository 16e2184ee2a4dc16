package main

import (
	"errors"
	"flag"
)

// Exit codes, documented in README.md.
const (
	ExitOK          = 0 // done
	ExitStepFailed  = 1 // a step failed (MLflow error, cell error, ...)
	ExitUsage       = 2 // usage or scenario error
	ExitGateRefused = 3 // the scenario ran and a gate refused
)

// usageError is a command-line or scenario error: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// errUsage wraps err as a usage error.
func errUsage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err: err}
}

// GateRefused is implemented by errors that mean a gate (validation,
// promotion) refused: exit code 3.
type GateRefused interface{ GateRefused() bool }

// silentError has already been reported to the user.
type silentError struct {
	err error
}

func (e *silentError) Error() string { return e.err.Error() }
func (e *silentError) Unwrap() error { return e.err }

func isSilent(err error) bool {
	var s *silentError
	return errors.As(err, &s) || errors.Is(err, flag.ErrHelp)
}

// exitCode maps an error to the process exit code, in one place.
func exitCode(err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var g GateRefused
	if errors.As(err, &g) && g.GateRefused() {
		return ExitGateRefused
	}
	var u *usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitStepFailed
}

// parseFlags parses args with fs. The flag package has already printed a
// parse error and the usage, so the error returned is silent.
func parseFlags(fs *flag.FlagSet, args []string) error {
	return flagError(fs.Parse(args))
}

// flagError turns an error of the flag package, which has already printed
// it and the usage, into a silent usage error.
func flagError(err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return errUsage(&silentError{err: err})
}
