package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
)

// runCLI runs playbook with args and returns its exit code and streams.
func runCLI(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(t.Context(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTrainCommand(t *testing.T) {
	uri := mlflowtest.URI(t)
	exp := fmt.Sprintf("cli-train-%d", time.Now().UnixNano())
	code, stdout, stderr := runCLI(t, "train", "--tracking-uri", uri, "--experiment", exp, "--runs", "2", "--rows", "600")
	require.Equal(t, ExitOK, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 3, stdout)
	assert.Equal(t, "run_id\trun_name\tl2\tthreshold\tf1\troc_auc\tstatus", lines[0])
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		require.Len(t, f, 7, l)
		assert.Equal(t, "FINISHED", f[6])
	}
	assert.Contains(t, stderr, "FINISHED")
}

func TestTrainCommandErrors(t *testing.T) {
	t.Setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
	t.Setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")

	t.Run("NoTrackingURIEmbedded", func(t *testing.T) {
		// Without a tracking URI, train logs to an embedded server whose
		// data directory keeps the runs for the next command.
		t.Setenv("MLFLOW_TRACKING_URI", "")
		data := filepath.Join(t.TempDir(), "data")
		code, stdout, stderr := runCLI(t, "train", "--data-dir", data, "--runs", "1", "--rows", "300")
		assert.Equal(t, ExitOK, code, stderr)
		assert.Contains(t, stderr, "using the embedded tracking server at http://127.0.0.1:")
		assert.Contains(t, stderr, "data in "+data)
		assert.Contains(t, stdout, "FINISHED")
		assert.FileExists(t, filepath.Join(data, "mlflow.db"))
	})
	t.Run("ErrBadFlag", func(t *testing.T) {
		code, _, stderr := runCLI(t, "train", "--runs", "many")
		assert.Equal(t, ExitUsage, code)
		assert.Contains(t, stderr, `invalid value "many" for flag -runs`)
	})
	t.Run("ErrServerUnreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		dead := "http://user:s3cret@" + l.Addr().String()
		require.NoError(t, l.Close())
		start := time.Now()
		code, _, stderr := runCLI(t, "train", "--tracking-uri", dead, "--experiment", "x", "--runs", "1", "--rows", "100")
		assert.Equal(t, ExitStepFailed, code)
		assert.Contains(t, stderr, l.Addr().String(), "the error names the server")
		assert.NotContains(t, stderr, "s3cret", "no secret in the error")
		assert.Less(t, time.Since(start), 10*time.Second)
	})
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"ErrNoRuns":      {[]string{"--runs", "0"}, "--runs 0: want at least 1"},
		"ErrFewRows":     {[]string{"--rows", "5"}, "--rows 5: want at least 10"},
		"ErrValidFrac":   {[]string{"--valid-frac", "2"}, "--valid-frac 2: want a value in (0, 1)"},
		"ErrValidFrac0":  {[]string{"--valid-frac", "0"}, "--valid-frac 0: want a value in (0, 1)"},
		"ErrMissingData": {[]string{"--data", "/nonexistent/telco.csv"}, "--data: stat /nonexistent/telco.csv"},
	} {
		t.Run(name, func(t *testing.T) {
			dataDir := t.TempDir()
			code, _, stderr := runCLI(t, append([]string{"train", "--data-dir", dataDir}, tc.args...)...)
			assert.Equal(t, ExitUsage, code)
			assert.Contains(t, stderr, tc.want)
			entries, err := os.ReadDir(dataDir)
			require.NoError(t, err)
			assert.Empty(t, entries, "checked before any server starts")
		})
	}
	t.Run("ErrBadCSV", func(t *testing.T) {
		uri := mlflowtest.URI(t)
		path := t.TempDir() + "/bad.csv"
		require.NoError(t, writeFile(path, "customerID,gender\nx,Male\n"))
		code, _, stderr := runCLI(t, "train", "--tracking-uri", uri, "--data", path)
		assert.Equal(t, ExitStepFailed, code)
		assert.Contains(t, stderr, "bad.csv")
	})
}
