package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"syscall"
)

// Exit codes, documented in README.md.
const (
	ExitOK          = 0 // done
	ExitStepFailed  = 1 // a step failed (MLflow error, cell error, ...)
	ExitUsage       = 2 // usage or scenario error
	ExitGateRefused = 3 // the scenario ran and a gate refused
	// A run interrupted by a signal exits 128 + the signal's number, as
	// shells report it: 130 for Ctrl-C (SIGINT), 143 for SIGTERM.
	ExitInterrupted = 128 + int(syscall.SIGINT)
	ExitTerminated  = 128 + int(syscall.SIGTERM)
)

// interruptedError is the error of a command whose context a signal
// cancelled (signal.NotifyContext in main): exit 130 or 143.
type interruptedError struct {
	sig string // the context's cause: "interrupt signal received", ...
	err error  // the command's error, nil when it ended without one
}

func (e *interruptedError) Error() string {
	if e.err == nil {
		return e.sig
	}
	return e.err.Error()
}
func (e *interruptedError) Unwrap() error { return e.err }

// interrupted wraps err as an interruptedError when a signal cancelled ctx.
func interrupted(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	// signal.NotifyContext's cause is "interrupt signal received", ...
	// (an error that is also context.Canceled).
	cause := context.Cause(ctx)
	if cause == nil || cause == context.Canceled || !strings.HasSuffix(cause.Error(), " signal received") {
		return err // not a signal's
	}
	return &interruptedError{sig: cause.Error(), err: err}
}

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
	var ie *interruptedError
	// A command a signal stopped without an error of its own (watch's
	// Ctrl-C) has nothing to say: exit 130 says it.
	return errors.As(err, &s) || errors.Is(err, flag.ErrHelp) || (errors.As(err, &ie) && ie.err == nil)
}

// exitCode maps an error to the process exit code, in one place.
func exitCode(err error) int {
	var ie *interruptedError
	if errors.As(err, &ie) {
		if strings.HasPrefix(ie.sig, syscall.SIGTERM.String()) {
			return ExitTerminated
		}
		return ExitInterrupted
	}
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

// printDefaults prints the flags of fs to its output as its PrintDefaults
// does, but GNU-style: --name for a long flag, -x for one of one letter.
// Every command's help prints its flags with it.
func printDefaults(fs *flag.FlagSet) {
	recordFlagSet(fs)
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprint(w, flagLine(f))
	})
}

// flagName is the name of f as help writes it: --name, or -x.
func flagName(f *flag.Flag) string {
	if len(f.Name) == 1 {
		return "-" + f.Name
	}
	return "--" + f.Name
}

// flagLine is f's entry of a help text.
func flagLine(f *flag.Flag) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  %s", flagName(f))
	name, usage := flag.UnquoteUsage(f)
	if name != "" {
		b.WriteString(" " + name)
	}
	// As the flag package does: a short flag's usage on its line.
	if b.Len() <= 4 {
		b.WriteString("\t")
	} else {
		b.WriteString("\n    \t")
	}
	b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
	if !isZeroDefault(f) {
		if fmt.Sprintf("%T", f.Value) == "*flag.stringValue" {
			fmt.Fprintf(&b, " (default %q)", f.DefValue)
		} else {
			fmt.Fprintf(&b, " (default %v)", f.DefValue)
		}
	}
	b.WriteString("\n")
	return b.String()
}

// isZeroDefault says whether f's default is its type's zero value, which
// help does not print.
func isZeroDefault(f *flag.Flag) bool {
	switch f.DefValue {
	case "", "false", "0", "0s", "[]":
		return true
	}
	return false
}
