package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/playbook-mlops/playbook/runner"
)

// errNoTerminal refuses --step when standard input is not a terminal.
var errNoTerminal = errors.New("--step needs a terminal on standard input, to wait for Enter before each cell (stdin is a pipe or a file here); run without --step")

// presenter is playbook run --step: before each cell it shows, on the
// terminal, the cell's section title and code, and waits for a key: Enter
// runs the cell, q stops the run (the cells after are not run, the report
// is written). The keys are read from the terminal in non-canonical mode
// (no Enter needed after q, nothing echoed); ^C still interrupts.
type presenter struct {
	in  *os.File
	out io.Writer
	// current, when set, is told which cell waits (the live page of
	// playbook watch highlights it).
	current func(sc *runner.Scenario, index int)

	once sync.Once
	keys chan byte
}

// newPresenter returns the presenter of a run on the terminal in, writing
// to out; an error when in is not a terminal.
func newPresenter(in *os.File, out io.Writer) (*presenter, error) {
	if !isTTY(in) {
		return nil, errUsage(errNoTerminal)
	}
	return &presenter{in: in, out: out, keys: make(chan byte, 64)}, nil
}

// read reads the terminal's keys into p.keys, from the first gate on.
func (p *presenter) read() {
	go func() {
		var b [1]byte
		for {
			n, err := p.in.Read(b[:])
			if err != nil {
				close(p.keys)
				return
			}
			if n == 1 {
				p.keys <- b[0]
			}
		}
	}()
}

// gate returns the runner's gate for the scenario sc.
func (p *presenter) gate(sc *runner.Scenario) func(ctx context.Context, index int) bool {
	titles := sectionTitles(sc)
	return func(ctx context.Context, index int) bool {
		p.once.Do(p.read)
		c := sc.Cells[index-1]
		var b strings.Builder
		fmt.Fprintf(&b, "\n── %s", termText(sc.Path))
		if t := titles[index-1]; t != "" {
			fmt.Fprintf(&b, " — %s", termText(t))
		}
		fmt.Fprintf(&b, "\n[%d/%d] %s (line %d)\n", index, len(sc.Cells), termText(c.Step), c.Line)
		width := len(strconv.Itoa(c.Line + strings.Count(c.Code, "\n")))
		for i, line := range strings.Split(strings.TrimRight(c.Code, "\n"), "\n") {
			fmt.Fprintf(&b, "%*d │ %s\n", width, c.Line+i, termText(line))
		}
		b.WriteString("Enter: run this cell · q: stop here (the report is written) ")
		restore := cbreak(p.in)
		defer restore()
		// Keys typed while the cell before ran are not answers.
		for drained := false; !drained; {
			select {
			case <-p.keys:
			default:
				drained = true
			}
		}
		_, _ = io.WriteString(p.out, b.String())
		if p.current != nil {
			p.current(sc, index)
		}
		for {
			select {
			case <-ctx.Done():
				_, _ = io.WriteString(p.out, "\n")
				return false
			case k, ok := <-p.keys:
				switch {
				case !ok: // the terminal is gone
					_, _ = io.WriteString(p.out, "\n")
					return false
				case k == '\r' || k == '\n':
					_, _ = io.WriteString(p.out, "\n")
					return true
				case k == 'q' || k == 'Q' || k == 4: // q, or ^D
					_, _ = io.WriteString(p.out, "q\nplaybook: stopped by the presenter before cell "+strconv.Itoa(index)+" ("+termText(c.Step)+"); the cells after it are not run\n")
					return false
				}
			}
		}
	}
}

// sectionTitles returns, for each cell of sc, the title of the last
// Markdown heading before it ("" when there is none).
func sectionTitles(sc *runner.Scenario) []string {
	titles := make([]string, len(sc.Cells))
	title, cell := "", 0
	for _, b := range sc.Blocks {
		if b.Step != "" {
			if cell < len(titles) {
				titles[cell] = title
			}
			cell++
			continue
		}
		fence := ""
		for _, line := range strings.Split(b.Markdown, "\n") {
			t := strings.TrimSpace(line)
			if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
				if fence == "" {
					fence = t[:3]
				} else if strings.HasPrefix(t, fence) {
					fence = ""
				}
				continue
			}
			if fence == "" && strings.HasPrefix(t, "#") {
				if h := strings.TrimSpace(strings.TrimLeft(t, "#")); h != "" {
					title = h
				}
			}
		}
	}
	return titles
}

// termText makes s safe to print on a terminal: control characters (an
// escape sequence a scenario could hide in its code) are shown quoted,
// not sent.
func termText(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r))
}
