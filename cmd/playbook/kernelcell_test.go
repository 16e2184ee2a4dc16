package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAncestry(t *testing.T) {
	trace := "goroutine 8 [running]:\nmain.stack(...)\n\t/tmp/main.go:9\n" +
		"created by main.main.func1 in goroutine 7\n\t/tmp/main.go:15 +0x56\n" +
		"[originating from goroutine 7]:\nmain.main.func1(...)\n\t/tmp/main.go:19 +0x56\n" +
		"created by main.main\n\t/tmp/main.go:14 +0x65\n" +
		"[originating from goroutine 1]:\nmain.main(...)\n"
	assert.Equal(t, []uint64{8, 7, 1}, parseAncestry([]byte(trace)))
	assert.Equal(t, []uint64{3}, parseAncestry([]byte("goroutine 3 [running]:\nmain.f()\n")))
	assert.Nil(t, parseAncestry([]byte("not a trace")))
}

// TestKernelCellsToken: a goroutine that runs a cell's code, and those it
// starts (its grandchildren too), get the cell's token; others none; once
// the next cell starts, the first cell's goroutines still get the first
// cell's token (which playbook has revoked). It runs in a child of the
// test binary with the kernel's GODEBUG.
func TestKernelCellsToken(t *testing.T) {
	want := "tracebackancestors=" + strconv.Itoa(kernelAncestors)
	if !strings.Contains(os.Getenv("GODEBUG"), want) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKernelCellsToken$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "GODEBUG="+want)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "--- PASS: TestKernelCellsToken")
		return
	}
	k := newKernelCells()
	k.begin(1, "tok-1")
	grandchild := make(chan string)
	release := make(chan struct{})
	late := make(chan string)
	root := make(chan string)
	go func() {
		k.enter()
		root <- k.token()
		go func() {
			go func() {
				grandchild <- k.token()
				<-release
				late <- k.token()
			}()
		}()
	}()
	assert.Equal(t, "tok-1", <-root)
	assert.Equal(t, "tok-1", <-grandchild)
	assert.Empty(t, k.token(), "the test's own goroutine runs no cell")
	k.end()
	k.begin(2, "tok-2")
	other := make(chan string)
	go func() {
		k.enter()
		other <- k.token()
	}()
	assert.Equal(t, "tok-2", <-other)
	close(release)
	assert.Equal(t, "tok-1", <-late, "a goroutine cell 1 left behind sends cell 1's token")
}
