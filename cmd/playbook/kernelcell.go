package main

// Which cell a registry call comes from. Playbook gives the kernel a
// token per cell with the cell's start (its ack) and revokes it when the
// cell ends (regproxy.Proxy.BeginCell, EndCell): the proxy records a call
// under a cell only with that cell's token, and refuses a call made with
// the token of a cell that ended. In the kernel, the transport of the
// MLflow client attaches to a call the token of the cell whose code makes
// it: the cell whose goroutine (runner.Options.CellGoroutine) is the
// calling goroutine or one of its ancestors, as the Go runtime tells them
// (runtime.Stack, with GODEBUG=tracebackancestors set by playbook in the
// kernel's environment). A goroutine a cell left behind thus sends its
// own cell's token, revoked, whatever handle it calls through; code that
// runs for no cell (the runner between cells) sends none, and may then
// only read.

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
)

// kernelAncestors is how many ancestors of a goroutine the kernel's Go
// runtime keeps (GODEBUG=tracebackancestors): a goroutine further from
// its cell's than that has no cell, and may not change the registry.
const kernelAncestors = 100

// kernelCells is the kernel's knowledge of the cells: their tokens and
// the goroutines that run their code.
type kernelCells struct {
	mu      sync.Mutex
	current int              // the running cell's index, 0 between cells
	tokens  map[int]string   // each cell's token, by index
	roots   map[uint64]int   // a goroutine running a cell's code → the cell's index
	stack   func([]byte) int // runtime.Stack of the calling goroutine; tests replace it
}

func newKernelCells() *kernelCells {
	return &kernelCells{tokens: map[int]string{}, roots: map[uint64]int{}, stack: func(b []byte) int { return runtime.Stack(b, false) }}
}

// begin is told that cell index starts, with its token.
func (k *kernelCells) begin(index int, token string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.current = index
	k.tokens[index] = token
}

// end is told that the running cell ended.
func (k *kernelCells) end() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.current = 0
}

// enter is runner.Options.CellGoroutine: the calling goroutine runs the
// running cell's code.
func (k *kernelCells) enter() {
	ids := k.ancestry()
	if len(ids) == 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != 0 {
		k.roots[ids[0]] = k.current
	}
}

// token returns the token of the cell whose code the calling goroutine
// runs, or that started it (a revoked one when that cell ended), "" when
// it runs no cell's code.
func (k *kernelCells) token() string {
	ids := k.ancestry()
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, id := range ids {
		if i, ok := k.roots[id]; ok {
			return k.tokens[i]
		}
	}
	return ""
}

// ancestry returns the calling goroutine's id, then those of the
// goroutines that created it, nearest first, as runtime.Stack reports
// them: "goroutine N [...]:" first, "created by F in goroutine N" and
// "[originating from goroutine N]:" after. A trace too long to read
// whole (past 4 MiB) loses its farthest ancestors.
func (k *kernelCells) ancestry() []uint64 {
	buf := make([]byte, 16<<10)
	for {
		n := k.stack(buf)
		if n < len(buf) || len(buf) >= 4<<20 {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return parseAncestry(buf)
}

// parseAncestry reads the goroutine ids of a runtime.Stack trace of one
// goroutine (see ancestry).
func parseAncestry(trace []byte) []uint64 {
	var ids []uint64
	add := func(s []byte) {
		if n, err := strconv.ParseUint(string(s), 10, 64); err == nil && (len(ids) == 0 || ids[len(ids)-1] != n) {
			ids = append(ids, n)
		}
	}
	for i, line := range bytes.Split(trace, []byte("\n")) {
		switch {
		case i == 0:
			rest, ok := bytes.CutPrefix(line, []byte("goroutine "))
			if !ok {
				return nil
			}
			id, _, _ := bytes.Cut(rest, []byte(" "))
			add(id)
		case bytes.HasPrefix(line, []byte("created by ")):
			if j := bytes.LastIndex(line, []byte(" in goroutine ")); j >= 0 {
				add(line[j+len(" in goroutine "):])
			}
		case bytes.HasPrefix(line, []byte("[originating from goroutine ")):
			rest := bytes.TrimPrefix(line, []byte("[originating from goroutine "))
			add(bytes.TrimSuffix(rest, []byte("]:")))
		}
	}
	return ids
}
