package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/playbook-mlops/playbook/internal/atomicfile"
	"github.com/playbook-mlops/playbook/internal/shellword"
	"github.com/playbook-mlops/playbook/scenarios"
)

func init() {
	register(command{name: "init", summary: "write the example scenarios embedded in playbook to a folder", run: runInit})
}

// initOptions holds the flags and arguments of playbook init.
type initOptions struct {
	Dir   string
	Force bool
}

func runInit(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var o initOptions
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: playbook init [flags] DIR")
		fmt.Fprintln(stderr, "\nWrites the example scenarios embedded in playbook to DIR (created if need be),")
		fmt.Fprintln(stderr, "to read, change and run with playbook run DIR/NAME.md. An existing file is not")
		fmt.Fprintln(stderr, "overwritten unless --force is given.")
		fmt.Fprintln(stderr, "\nflags:")
		printDefaults(fs)
	}
	fs.BoolVar(&o.Force, "force", false, "overwrite the files of DIR that have an embedded scenario's name")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage(fmt.Errorf("want one folder, got %d arguments", len(pos)))
	}
	o.Dir = pos[0]
	return initScenarios(o, stdout)
}

// initScenarios writes every embedded scenario to o.Dir and says what it
// wrote and what to run next. Without o.Force it writes nothing when one of
// the files exists.
func initScenarios(o initOptions, stdout io.Writer) error {
	names := scenarios.Names()
	if !o.Force {
		var there []string
		for _, n := range names {
			if _, err := os.Lstat(filepath.Join(o.Dir, n)); !errors.Is(err, fs.ErrNotExist) {
				there = append(there, filepath.Join(o.Dir, n))
			}
		}
		if len(there) > 0 {
			return errUsage(fmt.Errorf("%s: already there, not overwritten (--force overwrites): nothing written", strings.Join(there, ", ")))
		}
	}
	for _, n := range names {
		src, err := scenarios.Read(n)
		if err != nil {
			return err
		}
		// Atomically, DIR made as needed; a symbolic link at the
		// scenario's name is replaced, never followed.
		if err := atomicfile.WriteFile(o.Dir, n, src, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(o.Dir, n))
	}
	fmt.Fprintf(stdout, "\nnext: playbook run --out out %s %s\n", shellword.Quote(filepath.Join(o.Dir, "churn-training.md")), shellword.Quote(filepath.Join(o.Dir, "churn-promotion.fr.md")))
	return nil
}
