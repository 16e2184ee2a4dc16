// Command playbook runs executable notebooks for the MLflow Model Registry.
//
// Each subcommand lives in its own file, registers itself with register in
// an init function, parses its flags into an options struct and calls a
// function that does the work. Exit codes are mapped from error types in one
// place, exitCode in exit.go.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

func main() {
	if os.Getenv(envKernel) == "1" {
		os.Exit(kernelMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
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
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "playbook: unknown command %q\n\n", args[0])
		usage(stderr)
		return ExitUsage
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	if err != nil && !isSilent(err) {
		fmt.Fprintf(stderr, "playbook %s: %v\n", c.name, err)
	}
	return exitCode(err)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: playbook COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'playbook COMMAND -h' for a command's flags.")
}
