// Command playbook runs executable notebooks for the MLflow Model Registry.
//
// Each subcommand lives in its own file, registers itself with register in
// an init function, parses its flags into an options struct and calls a
// function that does the work. Exit codes are mapped from error types in one
// place, exitCode in exit.go.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
)

func main() {
	if os.Getenv(envKernel) == "1" {
		os.Exit(kernelMain())
	}
	os.Exit(mainExit(os.Args[1:]))
}

// mainExit runs playbook with args as the process does, Ctrl-C (SIGINT)
// and SIGTERM cancelling the run (exit 130 and 143, see exitCode).
func mainExit(args []string) int {
	softMemoryLimit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdout, os.Stderr)
}

// memoryLimit is playbook's soft memory limit (runtime/debug's, as
// GOMEMLIMIT sets it): near it the collector runs more often, so that a
// large run record, rendered three times into reports, does not make
// playbook hold twice what it uses. GOMEMLIMIT, when set, wins.
const memoryLimit = 512 << 20

func softMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}

// command is one subcommand of playbook.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// run dispatches args to a subcommand and returns the process exit code.
// Help asked for (playbook --help, help, help CMD, CMD --help) goes to
// stdout with exit 0; help after a usage error, to stderr with exit 2.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return ExitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return ExitOK
	case "--version":
		args = []string{"version"}
	case "help":
		switch len(args) {
		case 1:
			usage(stdout)
			return ExitOK
		case 2:
			if args[1] == "help" {
				usage(stdout)
				return ExitOK
			}
			return commandHelp(ctx, args[1], stdout, stderr)
		}
		fmt.Fprintln(stderr, "usage: playbook help [COMMAND]")
		return ExitUsage
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "playbook: unknown command %q\n\n", args[0])
		usage(stderr)
		return ExitUsage
	}
	if wantsHelp(args[1:]) {
		return commandHelp(ctx, c.name, stdout, stderr)
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	err = interrupted(ctx, err)
	if err != nil && !isSilent(err) {
		fmt.Fprintf(stderr, "playbook %s: %v\n", c.name, err)
	}
	return exitCode(err)
}

// wantsHelp says whether the flags of args, those before "--", ask for
// help: -h, -help or --help.
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--h", "--help":
			return true
		}
	}
	return false
}

// commandHelp prints the help of command name on stdout (exit 0), or says
// on stderr that there is no such command (exit 2).
func commandHelp(ctx context.Context, name string, stdout, stderr io.Writer) int {
	text, ok := helpText(ctx, name)
	if !ok {
		fmt.Fprintf(stderr, "playbook help: unknown command %q\n\n", name)
		usage(stderr)
		return ExitUsage
	}
	fmt.Fprint(stdout, text)
	return ExitOK
}

// helpText returns the help of command name: what the command itself
// prints for -h (its flags parsed, nothing run). The flag package's bare
// "Usage of NAME:" becomes a usage line and the command's summary.
func helpText(ctx context.Context, name string) (string, bool) {
	c, ok := commands[name]
	if !ok {
		return "", false
	}
	var buf bytes.Buffer
	_ = c.run(ctx, []string{"-h"}, io.Discard, &buf)
	text := buf.String()
	if rest, ok := strings.CutPrefix(text, "Usage of "+name+":\n"); ok {
		text = fmt.Sprintf("usage: playbook %s\n\n%s.\n", name, upperFirst(c.summary))
		if rest != "" {
			text += "\nflags:\n" + rest
		}
	}
	return text, true
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// commandNames returns the registered commands' names, sorted.
func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: playbook COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'playbook help COMMAND' or 'playbook COMMAND --help' for a command's flags,")
	fmt.Fprintln(w, "'playbook --version' for playbook's version.")
}
