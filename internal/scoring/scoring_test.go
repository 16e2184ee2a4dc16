package scoring

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/tailbuf"
)

// TestServeEnviron: the scoring server gets the interpreter's folder first
// on PATH and the tracking URI, and none of playbook's secrets.
func TestServeEnviron(t *testing.T) {
	t.Setenv("PATH", "/usr/bin:/bin")
	t.Setenv("MLFLOW_TRACKING_TOKEN", "s3cret-token")
	t.Setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-password")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cret-aws")
	env := Environ("/venv/bin/python", "http://127.0.0.1:5000")
	assert.Contains(t, env, "PATH=/venv/bin:/usr/bin:/bin")
	assert.Contains(t, env, "MLFLOW_TRACKING_URI=http://127.0.0.1:5000")
	for _, kv := range env {
		assert.NotContains(t, kv, "s3cret", kv)
		assert.False(t, strings.HasPrefix(kv, "MLFLOW_TRACKING_TOKEN="), kv)
	}
}

// TestTailBuffer: the scoring server's output keeps its last bytes, and
// the last lines of them.
func TestTailBuffer(t *testing.T) {
	tb := &tailbuf.Buffer{Max: 16}
	for i := range 10 {
		_, err := tb.Write([]byte("line " + strconv.Itoa(i) + "\n"))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, len(tb.String()), 16)
	assert.Equal(t, "line 8\nline 9", LastLines(tb, 2))
	assert.Equal(t, "line 9", LastLines(tb, 1))
}

// TestFreePort: a port of 127.0.0.1 that can be listened on.
func TestFreePort(t *testing.T) {
	port, err := FreePort()
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err)
	require.NoError(t, l.Close())
}
