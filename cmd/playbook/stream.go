package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/runner"
)

// What a cell prints is shown on the progress's writer (stderr) as it
// arrives: the kernel's "cell" messages (every 200 ms) or, in process, the
// record read as often; the rest at the cell's end. Each line is indented
// under the cell's progress line, stdout's with "  | ", stderr's with
// "  ! ", control characters made visible; the terminal's progress line is
// cleared before and drawn again after.

// cellStream is what was shown of one cell's output.
type cellStream struct {
	shown   [2]int    // bytes of the cell's stdout and stderr text shown (or held)
	partial [2]string // the last line of each, held until it ends
	done    bool
}

var streamPrefix = [2]string{"  | ", "  ! "}

// cellTexts returns what c printed to stdout and to stderr.
func cellTexts(c record.Cell) [2]string {
	var b [2]strings.Builder
	for _, o := range c.Outputs {
		switch o.Kind {
		case record.OutputStdout:
			b[0].WriteString(o.Text)
		case record.OutputStderr:
			b[1].WriteString(o.Text)
		}
	}
	return [2]string{b[0].String(), b[1].String()}
}

// cellOutput shows what cell index (from 1) printed since the last time;
// a nil progress shows nothing. final shows the lines not yet ended too,
// and nothing more of the cell after.
func (p *progress) cellOutput(index int, c record.Cell, final bool) {
	if p == nil {
		return
	}
	texts := cellTexts(c)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cells == nil {
		p.cells = map[int]*cellStream{}
	}
	st := p.cells[index]
	if st == nil {
		st = &cellStream{}
		p.cells[index] = st
	}
	if st.done {
		return
	}
	var lines []string
	for k, text := range texts {
		if len(text) > st.shown[k] {
			more := st.partial[k] + text[st.shown[k]:]
			st.shown[k] = len(text)
			whole, rest := more, ""
			if i := strings.LastIndexByte(more, '\n'); i < len(more)-1 {
				whole, rest = more[:i+1], more[i+1:]
			}
			st.partial[k] = rest
			for l := range strings.Lines(whole) {
				lines = append(lines, streamPrefix[k]+termText(strings.TrimSuffix(l, "\n")))
			}
		}
		if final && st.partial[k] != "" {
			lines = append(lines, streamPrefix[k]+termText(st.partial[k]))
			st.partial[k] = ""
		}
	}
	st.done = final
	if len(lines) == 0 {
		return
	}
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K")
	}
	for _, l := range lines {
		fmt.Fprintln(p.w, l)
	}
	if p.terminal {
		p.draw()
	}
}

// cellDone shows the rest of what a cell printed, at its end
// (runner.Options.CellDone), then calls next when set.
func (p *progress) cellDone(next func(int, record.Cell)) func(int, record.Cell) {
	return func(index int, c record.Cell) {
		p.cellOutput(index, c, true)
		if next != nil {
			next(index, c)
		}
	}
}

// pollCells shows, every 200 ms until stop is closed, what the running
// cells of an in-process run printed (runner.Options.Live).
func (p *progress) pollCells(stop <-chan struct{}) func(view func(func(*record.Run))) {
	return func(view func(func(*record.Run))) {
		go every(streamInterval, stop, func() {
			var running []record.Cell
			var index []int
			view(func(r *record.Run) {
				for i, c := range r.Cells {
					if !c.Start.IsZero() && c.Status != record.StatusOK && c.Status != record.StatusFailed {
						running = append(running, runner.CopyCell(c))
						index = append(index, i+1)
					}
				}
			})
			for i, c := range running {
				p.cellOutput(index[i], c, false)
			}
		})
	}
}

// streamInterval is how often what a running cell printed is sent (by a
// kernel) or read (in process).
const streamInterval = 200 * time.Millisecond

// every calls f every d until stop is closed.
func every(d time.Duration, stop <-chan struct{}, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			f()
		}
	}
}
