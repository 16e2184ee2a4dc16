package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/playbook-mlops/playbook/runner"
)

func init() {
	register(command{name: "check", summary: "parse and type-check scenarios without running them", run: runCheck})
}

// checkOptions holds the flags and arguments of playbook check.
type checkOptions struct {
	Params       paramFlags
	ParamFiles   paramFileFlags
	Unrestricted bool
	Scenarios    []string
}

func runCheck(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var o checkOptions
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: playbook check [flags] SCENARIO...")
		fmt.Fprintln(stderr, "\nParses every scenario and compiles every cell, without running any and without")
		fmt.Fprintln(stderr, "an MLflow server, and reports every error found, each as FILE:LINE. Exit status 2")
		fmt.Fprintln(stderr, "when there is one.")
		fmt.Fprintln(stderr, "\nflags:")
		printDefaults(fs)
	}
	fs.Var(&o.Params, "p", "check a parameter value: `name=value` (repeatable)")
	fs.Var(&o.ParamFiles, "f", "check the parameters of a YAML `file`, as run -f reads it (repeatable)")
	fs.BoolVar(&o.Unrestricted, "unrestricted", false, "let cells import the whole standard library, as run --unrestricted")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage(errors.New("no scenario given"))
	}
	if err := checkMLflowConfig("", false); err != nil {
		return err
	}
	o.Scenarios = pos
	return check(o, stdout, stderr)
}

// check reports every error of every scenario on stderr, one per line, and
// "PATH: ok" on stdout for each scenario without any.
func check(o checkOptions, stdout, stderr io.Writer) error {
	var scs []*runner.Scenario
	var errs []error
	r := &scenarioReader{}
	defer r.close()
	for _, p := range o.Scenarios {
		sc, err := r.parse(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		scs = append(scs, sc)
	}
	fromFiles, err := readParamFiles(o.ParamFiles)
	if err == nil {
		err = checkFileParams(scs, fromFiles)
	}
	if err != nil {
		errs = append(errs, err)
		fromFiles = nil // said once, not again as a -p
	}
	overrides, err := runner.SplitOverrides(scs, append(fileOverrides(fromFiles), o.Params...))
	if err != nil {
		errs = append(errs, err)
	}
	for i, sc := range scs {
		var ov []string
		if overrides != nil {
			ov = overrides[i]
		}
		if err := runner.Check(sc, runner.Options{Params: ov, Unrestricted: o.Unrestricted}); err != nil {
			var pe *runner.ParamError
			if errors.As(err, &pe) {
				err = fmt.Errorf("%s: %w", sc.Path, err)
			}
			errs = append(errs, explainEmbedded(sc, err))
			continue
		}
		fmt.Fprintf(stdout, "%s: ok\n", sc.Path)
	}
	if len(errs) == 0 {
		return nil
	}
	n := 0
	for _, err := range errs {
		fmt.Fprintln(stderr, err)
		var list runner.Errors
		if errors.As(err, &list) {
			n += len(list)
		} else {
			n++
		}
	}
	plural := "s"
	if n == 1 {
		plural = ""
	}
	fmt.Fprintf(stderr, "playbook check: %d error%s\n", n, plural)
	return &silentError{errUsage(errors.Join(errs...))}
}
