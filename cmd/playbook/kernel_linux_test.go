package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestKernelParentUndumpable: once playbook starts a kernel, its own
// process is not dumpable, so that its /proc files (environ: the
// credentials) are root's, not readable by a kernel of the same user
// where Landlock is missing.
func TestKernelParentUndumpable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"run", "--quiet", "--kernel", kernelProcess, "--out", t.TempDir(), testdata + "shared.md"}, &stdout, &stderr)
	require.Equal(t, ExitOK, code, stderr.String())
	d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, 0, d, "playbook's process is not dumpable once it started a kernel")
}
