package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
)

func init() {
	register(command{name: "completion", summary: "print a shell completion script (bash, zsh or fish)", run: runCompletion})
}

// The flag sets the commands' help printed, by command: printDefaults
// records them, and completion reads them, so that the scripts complete
// the flags the commands really have.
var (
	flagSetsMu sync.Mutex
	flagSets   = map[string]*flag.FlagSet{}
)

func recordFlagSet(fs *flag.FlagSet) {
	flagSetsMu.Lock()
	defer flagSetsMu.Unlock()
	flagSets[fs.Name()] = fs
}

// scenarioCommands take scenario files (.md) as arguments.
var scenarioCommands = []string{"check", "run", "watch"}

func runCompletion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: playbook completion bash|zsh|fish")
		fmt.Fprintln(stderr, "\nPrints a script that completes playbook's commands, their flags and the scenario")
		fmt.Fprintln(stderr, "files (.md) they take. Load it in the shell's start-up file:")
		fmt.Fprintln(stderr, "  bash: source <(playbook completion bash)              (in ~/.bashrc)")
		fmt.Fprintln(stderr, "  zsh:  source <(playbook completion zsh)               (in ~/.zshrc, after compinit)")
		fmt.Fprintln(stderr, "  fish: playbook completion fish | source               (in ~/.config/fish/config.fish)")
		printDefaults(fs)
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errUsage(errors.New("want one shell: bash, zsh or fish"))
	}
	cmds := completionCommands(ctx)
	switch fs.Arg(0) {
	case "bash":
		_, err := io.WriteString(stdout, bashCompletion(cmds))
		return err
	case "zsh":
		_, err := io.WriteString(stdout, zshCompletion(cmds))
		return err
	case "fish":
		_, err := io.WriteString(stdout, fishCompletion(cmds))
		return err
	}
	return errUsage(fmt.Errorf("shell %q: want bash, zsh or fish", fs.Arg(0)))
}

// completed is a command as the completion scripts know it.
type completed struct {
	name, summary string
	flags         []*flag.Flag
	scenarios     bool // takes .md files
}

// completionCommands returns every command with the flags its help
// lists (each command's -h, nothing run).
func completionCommands(ctx context.Context) []completed {
	var out []completed
	for _, n := range commandNames() {
		_, _ = helpText(ctx, n)
		c := completed{name: n, summary: commands[n].summary, scenarios: slices.Contains(scenarioCommands, n)}
		flagSetsMu.Lock()
		if fs := flagSets[n]; fs != nil {
			fs.VisitAll(func(f *flag.Flag) { c.flags = append(c.flags, f) })
		}
		flagSetsMu.Unlock()
		out = append(out, c)
	}
	return out
}

// takesValue says whether f is followed by a value (not a boolean flag).
func takesValue(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// describe is the first sentence of f's usage, short, without the
// characters the scripts quote.
func describe(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if i := strings.Index(s, ": "); i > 20 {
		s = s[:i]
	}
	s = strings.Map(func(r rune) rune {
		switch r {
		case '\'':
			return '’'
		case '"', '`', '[', ']', ':', '\\', '$':
			return -1
		}
		return r
	}, s)
	if len(s) > 70 {
		s = strings.TrimSpace(s[:67]) + "..."
	}
	return s
}

func flagUsage(f *flag.Flag) string {
	_, u := flag.UnquoteUsage(f)
	return describe(u)
}

func bashCompletion(cmds []completed) string {
	var b strings.Builder
	names := make([]string, len(cmds))
	for i, c := range cmds {
		names[i] = c.name
	}
	b.WriteString("# bash completion for playbook: source <(playbook completion bash)\n")
	b.WriteString("_playbook() {\n")
	b.WriteString("\tlocal cur prev cmd flags values scenarios=\"\"\n")
	b.WriteString("\tcur=\"${COMP_WORDS[COMP_CWORD]}\"\n")
	b.WriteString("\tprev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n")
	b.WriteString("\tif [ \"$COMP_CWORD\" -eq 1 ]; then\n")
	fmt.Fprintf(&b, "\t\tCOMPREPLY=( $(compgen -W %q -- \"$cur\") )\n", strings.Join(names, " ")+" help --help --version")
	b.WriteString("\t\treturn\n\tfi\n")
	b.WriteString("\tcmd=\"${COMP_WORDS[1]}\"\n")
	b.WriteString("\tcase \"$cmd\" in\n")
	fmt.Fprintf(&b, "\thelp) COMPREPLY=( $(compgen -W %q -- \"$cur\") ); return ;;\n", strings.Join(names, " "))
	for _, c := range cmds {
		var fl, vals []string
		for _, f := range c.flags {
			fl = append(fl, flagName(f))
			if takesValue(f) {
				vals = append(vals, flagName(f))
			}
		}
		fl = append(fl, "--help")
		fmt.Fprintf(&b, "\t%s) flags=%q; values=%q", c.name, strings.Join(fl, " "), " "+strings.Join(vals, " ")+" ")
		if c.scenarios {
			b.WriteString("; scenarios=1")
		}
		b.WriteString(" ;;\n")
	}
	b.WriteString("\t*) return ;;\n\tesac\n")
	b.WriteString("\tif [[ \"$values\" == *\" $prev \"* ]]; then\n")
	b.WriteString("\t\tCOMPREPLY=( $(compgen -f -- \"$cur\") )\n\t\treturn\n\tfi\n")
	b.WriteString("\tif [[ \"$cur\" == -* ]]; then\n")
	b.WriteString("\t\tCOMPREPLY=( $(compgen -W \"$flags\" -- \"$cur\") )\n\t\treturn\n\tfi\n")
	b.WriteString("\tif [ -n \"$scenarios\" ]; then\n")
	b.WriteString("\t\tCOMPREPLY=( $(compgen -f -X '!*.md' -- \"$cur\") $(compgen -d -- \"$cur\") )\n")
	b.WriteString("\telse\n\t\tCOMPREPLY=( $(compgen -f -- \"$cur\") )\n\tfi\n")
	b.WriteString("}\n")
	b.WriteString("complete -o filenames -F _playbook playbook\n")
	return b.String()
}

func zshCompletion(cmds []completed) string {
	var b strings.Builder
	b.WriteString("#compdef playbook\n# zsh completion for playbook: source <(playbook completion zsh), after compinit\n")
	b.WriteString("_playbook() {\n")
	b.WriteString("\tlocal state line\n\tlocal -a cmds\n\tcmds=(\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t'%s:%s'\n", c.name, describe(c.summary))
	}
	b.WriteString("\t)\n")
	b.WriteString("\t_arguments -C '--help[show help]' '--version[print the version]' '1: :->cmd' '*:: :->args'\n")
	b.WriteString("\tcase $state in\n")
	b.WriteString("\tcmd) _describe 'command' cmds ;;\n")
	b.WriteString("\targs)\n\t\tcase $line[1] in\n")
	b.WriteString("\t\thelp) _describe 'command' cmds ;;\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "\t\t%s) _arguments '--help[show help]'", c.name)
		for _, f := range c.flags {
			spec := fmt.Sprintf("%s[%s]", flagName(f), flagUsage(f))
			if takesValue(f) {
				name, _ := flag.UnquoteUsage(f)
				spec += ":" + describe(name) + ":_files"
			}
			if f.Name == "p" || f.Name == "f" {
				spec = "*" + spec
			}
			fmt.Fprintf(&b, " '%s'", spec)
		}
		if c.scenarios {
			b.WriteString(` '*:scenario:_files -g "*.md"'`)
		} else {
			b.WriteString(` '*:file:_files'`)
		}
		b.WriteString(" ;;\n")
	}
	b.WriteString("\t\tesac ;;\n\tesac\n}\n")
	b.WriteString("if [ \"$funcstack[1]\" = \"_playbook\" ]; then _playbook \"$@\"; else compdef _playbook playbook; fi\n")
	return b.String()
}

func fishCompletion(cmds []completed) string {
	var b strings.Builder
	b.WriteString("# fish completion for playbook: playbook completion fish | source\n")
	b.WriteString("complete -c playbook -f\n")
	b.WriteString("complete -c playbook -n __fish_use_subcommand -l help -d 'show help'\n")
	b.WriteString("complete -c playbook -n __fish_use_subcommand -l version -d 'print the version'\n")
	for _, c := range cmds {
		fmt.Fprintf(&b, "complete -c playbook -n __fish_use_subcommand -a %s -d '%s'\n", c.name, describe(c.summary))
	}
	for _, c := range cmds {
		cond := fmt.Sprintf("'__fish_seen_subcommand_from %s'", c.name)
		for _, f := range c.flags {
			opt := "-l " + f.Name
			if len(f.Name) == 1 {
				opt = "-s " + f.Name
			}
			if takesValue(f) {
				opt += " -r -F"
			}
			fmt.Fprintf(&b, "complete -c playbook -n %s %s -d '%s'\n", cond, opt, flagUsage(f))
		}
		if c.scenarios {
			fmt.Fprintf(&b, "complete -c playbook -n %s -a '(__fish_complete_suffix .md)'\n", cond)
		}
	}
	return b.String()
}
