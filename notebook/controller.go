package notebook

import (
	"context"
	"io"

	"github.com/playbook-mlops/playbook/record"
)

// Controller is the runner's side of a Playbook: it moves the Playbook from
// cell to cell and captures what cells print. Cells never see it.
type Controller struct{ pb *Playbook }

// Begin makes step the current cell: ctx is its context (with its timeout),
// and what is printed or displayed goes to its record.
func (c *Controller) Begin(ctx context.Context, step string) {
	p := c.pb
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx, p.step, p.stream = ctx, step, 0
	p.cell = p.run.Cell(step)
	if p.cell != nil && p.cell.Outputs == nil {
		p.cell.Outputs = []record.Output{}
	}
}

// End ends the current cell: later writes (from a goroutine the cell left
// running) are dropped.
func (c *Controller) End() {
	p := c.pb
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cell, p.step, p.ctx = nil, "", context.Background()
}

// Close ends the run: the functions OnClose registered have run (the
// processes steps started have stopped), the Python worker, if one was
// started, has stopped, and the record may be read once Close returns.
func (c *Controller) Close() {
	p := c.pb
	runOnClose(p)
	p.mu.Lock()
	p.closed, p.cell = true, nil
	p.mu.Unlock()
	_ = closePython(p)
}

// Stdout and Stderr return the writers of the current cell's printed output,
// for the interpreter.
func (c *Controller) Stdout() io.Writer { return stream{c.pb, record.OutputStdout} }

// Stderr: see Stdout.
func (c *Controller) Stderr() io.Writer { return stream{c.pb, record.OutputStderr} }

// Show displays the values of a cell's final expression, as a notebook
// shows a cell's result. A non-nil error among them (the last result of a
// call) is returned instead: the cell failed. Several values (a call such as
// fmt.Println) and nil are not displayed.
func (c *Controller) Show(values []any) error {
	if n := len(values); n > 0 {
		if err, ok := values[n-1].(error); ok && err != nil {
			return err
		}
	}
	if len(values) != 1 || values[0] == nil {
		return nil
	}
	o := valueOutput(values[0])
	p := c.pb
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addOutput(o)
	return nil
}
