package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/runner"
)

// closedPortScenario writes a scenario whose cell calls a tracking server
// on a loopback port nothing listens on, and returns its path and the URI.
func closedPortScenario(t *testing.T) (path, uri string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	path = filepath.Join(t.TempDir(), "closed.md")
	require.NoError(t, os.WriteFile(path, []byte("```go step=call\nc, err := pb.Client()\nif err != nil { panic(err) }\n_, err = c.GetExperimentByName(pb.Context(), \"x\")\nif err != nil { panic(err) }\n```\n"), 0o644))
	return path, "http://alice:s3cret@" + addr
}

// playbook run shows each retry of its MLflow client on stderr, as it
// waits; --quiet shows none.
func TestRunShowsRetries(t *testing.T) {
	t.Setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
	t.Setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
	t.Setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
	path, uri := closedPortScenario(t)
	code, _, stderr := runCLI(t, "run", "--kernel", "in-process", "--tracking-uri", uri, path)
	assert.Equal(t, ExitStepFailed, code, stderr)
	lines := strings.Split(stderr, "\n")
	assert.Contains(t, lines, "retrying GET /version, attempt 1 of 2, next in 0 s", stderr)
	assert.Contains(t, lines, "retrying GET /version, attempt 2 of 2, next in 0 s", stderr)

	code, _, stderr = runCLI(t, "run", "--quiet", "--kernel", "in-process", "--tracking-uri", uri, path)
	assert.Equal(t, ExitStepFailed, code, stderr)
	assert.NotContains(t, stderr, "retrying")
}

// The kernel's client tells playbook of its retries; playbook prints them
// as mlflow.Retry says them (control characters dropped or escaped), and stops listening after
// maxKernelRetries.
func TestKernelRetries(t *testing.T) {
	var out bytes.Buffer
	sc := &runner.Scenario{Cells: []runner.Cell{{Step: "s"}}}
	s := &kernelSession{sc: sc, px: kernelProxy{retried: retryNotice(&out, false)}}
	s.handle(kernelMsg{Type: "retry", Retry: &mlflow.Retry{Method: "GET", Path: "/api/2.0/mlflow/runs/get", Retry: 3, MaxRetries: 7, Wait: 8e9}})
	s.handle(kernelMsg{Type: "retry", Retry: &mlflow.Retry{Method: "GET\x1b[2J", Path: "/x\n\x1b[31m", Retry: 1, MaxRetries: 7}})
	assert.Equal(t, "retrying GET /api/2.0/mlflow/runs/get, attempt 3 of 7, next in 8 s\nretrying GETJ /x%0A%1B%5B31m, attempt 1 of 7, next in 0 s\n", out.String())
	for range maxKernelRetries {
		s.handle(kernelMsg{Type: "retry", Retry: &mlflow.Retry{Method: "GET", Path: "/y", Retry: 1, MaxRetries: 7}})
	}
	assert.Equal(t, maxKernelRetries, strings.Count(out.String(), "\n"))

	var term bytes.Buffer
	retryNotice(&term, true)(mlflow.Retry{Method: "POST", Path: "/p", Retry: 1, MaxRetries: 1})
	assert.Equal(t, "\r\033[Kretrying POST /p, attempt 1 of 1, next in 0 s\n", term.String(), "on a terminal, the progress line is cleared first")
}
