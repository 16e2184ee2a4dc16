package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// TestServerCommand: playbook server prints its URI, serves MLflow's API
// from its data directory, and stops cleanly on SIGINT (ctx cancelled);
// a second start on the same directory finds the data.
func TestServerCommand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	serve := func(check func(c *mlflow.Client)) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		outR, outW := io.Pipe()
		var stderr bytes.Buffer
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"server", "--port", "0", "--data-dir", data}, outW, &stderr)
			outW.Close()
		}()
		line, err := bufio.NewReader(outR).ReadString('\n')
		require.NoError(t, err, "stderr: %s", stderr.String())
		uri := strings.TrimSpace(line)
		assert.True(t, strings.HasPrefix(uri, "http://127.0.0.1:"), uri)
		c, err := mlflow.New(mlflow.DefaultConfig(uri))
		require.NoError(t, err)
		require.NoError(t, c.Health(t.Context()))
		check(c)
		cancel()
		go func() { _, _ = io.Copy(io.Discard, outR) }()
		select {
		case code := <-done:
			assert.Equal(t, ExitOK, code, stderr.String())
		case <-time.After(15 * time.Second):
			t.Fatal("playbook server did not stop")
		}
		assert.Contains(t, stderr.String(), "MLflow 3.18.0-compatible tracking server, data in "+data)
		_, err = http.Get(uri + "/health")
		assert.Error(t, err, "the port is closed")
	}
	serve(func(c *mlflow.Client) {
		_, err := c.CreateRegisteredModel(t.Context(), "Kept", nil, "")
		require.NoError(t, err)
	})
	serve(func(c *mlflow.Client) {
		_, err := c.GetRegisteredModel(t.Context(), "Kept")
		require.NoError(t, err, "the data directory keeps the registry")
	})
}

func TestServerCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"BadPort", []string{"server", "--port", "70000"}, ExitUsage, "--port 70000: want 0 to 65535"},
		{"Arguments", []string{"server", "extra"}, ExitUsage, `unexpected arguments ["extra"]`},
		{"BadHost", []string{"server", "--host", "256.0.0.1", "--port", "0", "--data-dir", "DIR"}, ExitStepFailed, "256.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, a := range tc.args {
				if a == "DIR" {
					tc.args[i] = t.TempDir()
				}
			}
			code, _, stderr := runCLI(t, tc.args...)
			assert.Equal(t, tc.code, code, stderr)
			assert.Contains(t, stderr, tc.stderr)
		})
	}
}
