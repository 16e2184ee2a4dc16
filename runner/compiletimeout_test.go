package runner

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

// bigCell returns the code of a cell of n+1 statements, one a line.
func bigCell(n int) string {
	var b strings.Builder
	b.WriteString("x := 0\n")
	for i := range n {
		fmt.Fprintf(&b, "x += %d\n", i)
	}
	return b.String()
}

// compileTimeoutScenario: a small cell, then (its fence on line 5, its
// code from line 6) a cell of 4001 lines that the interpreter compiles in
// about a third of a second, and runs in a few milliseconds, with a
// timeout of 50ms; then a cell with a syntax error.
func compileTimeoutScenario(t *testing.T) *Scenario {
	t.Helper()
	src := "```go step=small\ny := 1\n```\n\n```go step=big timeout=50ms\n" + bigCell(4000) + "```\n\n```go step=after\nz := (\n```\n"
	sc, err := Parse("testdata/inline.md", []byte(src))
	require.NoError(t, err)
	return sc
}

const compileTimeoutError = "testdata/inline.md:6: step big: timed out after 50ms compiling the cell (4001 lines), before it ran: the timeout counts the compilation too"

// The time a cell takes to compile counts against its timeout: a cell
// that cannot compile within it fails, on its first line, and the run
// stops there.
func TestCompileTimeoutRun(t *testing.T) {
	sc := compileTimeoutScenario(t)
	sc.Cells = sc.Cells[:2] // the syntax error is check's
	start := time.Now()
	rec, err := Run(t.Context(), sc, Options{})
	assert.Less(t, time.Since(start), 250*time.Millisecond, "the run does not wait for the compilation to end")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), compileTimeoutError), "got %q\nwant %q...", err, compileTimeoutError)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.True(t, te.Compiling)
	assert.Equal(t, record.StatusOK, rec.Cells[0].Status)
	assert.Equal(t, record.StatusFailed, rec.Cells[1].Status)
	assert.Equal(t, record.ErrTimeout, rec.Cells[1].Error.Kind)
	assert.Equal(t, 6, rec.Cells[1].Error.Line)
	assert.Equal(t, record.OutcomeFailed, rec.Environment.Exit.Status)
}

// Check (and so run's check before anything runs) holds each cell to its
// timeout too, and checks no cell after one that ran out of time: the
// interpreter is still compiling it.
func TestCompileTimeoutCheck(t *testing.T) {
	start := time.Now()
	err := Check(compileTimeoutScenario(t), Options{})
	assert.Less(t, time.Since(start), 250*time.Millisecond, "check does not wait for the compilation to end")
	require.Error(t, err)
	var errs Errors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 1, "the cell after is not checked:\n%s", err)
	assert.True(t, strings.HasPrefix(errs[0].Error(), compileTimeoutError), "got %q\nwant %q...", errs[0], compileTimeoutError)
	assert.Equal(t, record.ErrTimeout, errs[0].Kind)

	// Given the time, the same cell compiles.
	sc := compileTimeoutScenario(t)
	sc.Cells[1].Timeout = time.Minute
	err = Check(sc, Options{})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "testdata/inline.md:4010: step after: syntax error"), err.Error())
}
