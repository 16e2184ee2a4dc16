package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/server"
)

// openPTY returns a new pseudo-terminal: its master, which the test
// types into, and its slave, playbook's standard input.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	unlock := 0
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock)))
	require.Zero(t, errno)
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	require.NoError(t, err)
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// presenting prepares a presenter's run: only Go, a folder of its own
// (the current one) holding presenterScenario, and standard input a new
// pseudo-terminal, whose master it returns.
func presenting(t *testing.T) (dir, sc string, master *os.File) {
	t.Helper()
	noExternalBackend(t)
	dir = t.TempDir()
	t.Chdir(dir)
	sc = presenterScenario(t, dir)
	master, slave := openPTY(t)
	old := stdin
	stdin = slave
	t.Cleanup(func() { stdin = old })
	return dir, sc, master
}

// presenterScenario writes a scenario of three cells in two sections.
func presenterScenario(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "talk.md")
	require.NoError(t, os.WriteFile(p, []byte(`---
title: A talk
---

# Part one

`+"```go step=first"+`
fmt.Println("first cell ran")
`+"```"+`

## Part two

`+"```go step=second"+`
fmt.Println("second cell ran")
`+"```"+`

`+"```go step=third"+`
fmt.Println("third cell ran")
`+"```"+`
`), 0o644))
	return p
}

// waitFor waits until buf holds want.
func waitFor(t *testing.T, buf *lockedBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(buf.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in:\n%s", want, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunStepPresenter: playbook run --step on a pseudo-terminal shows
// each cell's section and code before it runs; Enter runs it, q stops:
// the cells after are not run, the report is written, exit 0. In the
// kernel process and in process.
func TestRunStepPresenter(t *testing.T) {
	for _, kernel := range []string{kernelProcess, kernelInProcess} {
		t.Run(kernel, func(t *testing.T) {
			dir, sc, master := presenting(t)
			out := filepath.Join(dir, "out")
			stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
			code := make(chan int, 1)
			go func() {
				code <- run(t.Context(), []string{"run", "--step", "--kernel", kernel, "--out", out, sc}, stdout, stderr)
			}()
			waitFor(t, stderr, "[1/3] first (line 8)")
			assert.Contains(t, stderr.String(), "Part one")
			assert.Contains(t, stderr.String(), `8 │ fmt.Println("first cell ran")`)
			assert.NotContains(t, stderr.String(), "[2/3]", "the second cell waits for the first")
			_, err := master.Write([]byte("\r"))
			require.NoError(t, err)
			waitFor(t, stderr, "[2/3] second (line 14)")
			assert.Contains(t, stderr.String(), "Part two")
			_, err = master.Write([]byte("q"))
			require.NoError(t, err)
			select {
			case c := <-code:
				assert.Equal(t, ExitOK, c, stderr.String())
			case <-time.After(60 * time.Second):
				t.Fatalf("run --step did not end after q:\n%s", stderr.String())
			}
			assert.Contains(t, stderr.String(), "stopped by the presenter before cell 2 (second)")
			rec := readRecord(t, out)
			assert.Equal(t, record.OutcomeStopped, rec.Environment.Exit.Status)
			require.Len(t, rec.Cells, 3)
			assert.Equal(t, record.StatusOK, rec.Cells[0].Status)
			assert.Equal(t, "first cell ran\n", rec.Cells[0].Outputs[0].Text)
			assert.Equal(t, record.StatusNotRun, rec.Cells[1].Status)
			assert.Equal(t, record.StatusNotRun, rec.Cells[2].Status)
			page, err := os.ReadFile(filepath.Join(out, "index.html"))
			require.NoError(t, err)
			assert.Contains(t, string(page), "the presenter stopped the run before step second")
			assert.Contains(t, stdout.String(), sc+": stopped, 1 of 3 cells run")
		})
	}
}

// TestRunStepNeedsTerminal: --step with standard input a pipe or
// /dev/null (a character device, not a terminal) is a usage error before
// anything runs.
func TestRunStepNeedsTerminal(t *testing.T) {
	noExternalBackend(t)
	dir := t.TempDir()
	t.Chdir(dir)
	sc := presenterScenario(t, dir)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	null, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer null.Close()
	for name, in := range map[string]*os.File{"pipe": r, "devnull": null} {
		t.Run(name, func(t *testing.T) {
			old := stdin
			stdin = in
			defer func() { stdin = old }()
			code, stdout, stderr := runCLI(t, "run", "--step", "--out", "out", sc)
			assert.Equal(t, ExitUsage, code)
			assert.Contains(t, stderr, "--step needs a terminal on standard input")
			assert.Empty(t, stdout)
			assert.NoDirExists(t, filepath.Join(dir, "out"), "nothing ran, no report")
			assert.NoDirExists(t, filepath.Join(dir, server.DefaultDataDir))
		})
	}
}

// TestWatchStepHighlightsCell: watch --step: the live page highlights the
// cell the presenter waits before, and q stops the run, the page saying
// so.
func TestWatchStepHighlightsCell(t *testing.T) {
	_, sc, master := presenting(t)
	events := make(chan string, 256)
	w := startWatchNotify(t, func(ev string) {
		select {
		case events <- ev:
		default:
		}
	}, "--step", sc)
	waitFor(t, w.stderr, "[1/3] first (line 8)")
	_, status := w.hub.endedRuns()
	assert.Contains(t, status, "waiting before cell 1 of 3 (first)")
	assert.Contains(t, drain(events), "current")
	_, err := master.Write([]byte("\r"))
	require.NoError(t, err)
	waitFor(t, w.stderr, "[2/3] second")
	_, status = w.hub.endedRuns()
	assert.Contains(t, status, "waiting before cell 2 of 3 (second)")
	_, err = master.Write([]byte("q"))
	require.NoError(t, err)
	status = w.waitRuns(1)
	assert.Contains(t, status, "stopped by the presenter")
}

// drain returns the events received so far.
func drain(ch chan string) []string {
	var out []string
	for {
		select {
		case ev := <-ch:
			out = append(out, ev)
		default:
			return out
		}
	}
}
