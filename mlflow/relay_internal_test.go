package mlflow

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingReader reads n bytes of 'x', then fails, as a store's stream that
// breaks midway does.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("the store's stream broke")
	}
	k := min(len(p), r.n)
	copy(p, strings.Repeat("x", k))
	r.n -= k
	return k, nil
}

// sizedFailingReader is a failingReader of an announced size.
type sizedFailingReader struct {
	failingReader
	size int64
}

func (r *sizedFailingReader) Size() int64 { return r.size }

// TestRelayTruncated: a relayed file whose read fails midway at the parent
// is an error for the kernel's client, whether the parent knew its length
// (Content-Length) or not (chunked), never a shorter file; DownloadDir
// leaves no partial file.
func TestRelayTruncated(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]func() io.Reader{
		"Sized":   func() io.Reader { return &sizedFailingReader{failingReader{100 << 10}, 1 << 20} },
		"Unsized": func() io.Reader { return &failingReader{100 << 10} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/list") {
					_ = json.NewEncoder(w).Encode(map[string]any{"files": []FileInfo{{Path: "weights.bin", FileSize: 1 << 20}}})
					return
				}
				serveBody(w, body())
			}))
			t.Cleanup(srv.Close)
			kernel, err := New(DefaultConfig(srv.URL), WithArtifactRelay())
			require.NoError(t, err)
			const root = "file:///srv/mlruns/1/abc/artifacts"
			rc, err := kernel.DownloadArtifact(t.Context(), root, "weights.bin")
			require.NoError(t, err)
			b, err := io.ReadAll(rc)
			_ = rc.Close()
			require.Error(t, err, "read %d bytes and no error", len(b))
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			assert.Contains(t, err.Error(), "weights.bin")

			dst := t.TempDir()
			err = kernel.DownloadDir(t.Context(), root, "", dst)
			require.Error(t, err)
			_, serr := os.Stat(filepath.Join(dst, "weights.bin"))
			assert.ErrorIs(t, serr, os.ErrNotExist, "no partial file")
		})
	}
}

// TestRelayBodyLength: the kernel's side checks the length the parent
// announced, whatever the transport let through.
func TestRelayBodyLength(t *testing.T) {
	t.Parallel()
	b := &relayBody{ReadCloser: io.NopCloser(strings.NewReader("short")), want: 10, what: "a/b", uri: "s3://bucket/x"}
	_, err := io.ReadAll(b)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Contains(t, err.Error(), "5 bytes of 10")
	b = &relayBody{ReadCloser: io.NopCloser(strings.NewReader("exact")), want: 5}
	got, err := io.ReadAll(b)
	require.NoError(t, err)
	assert.Equal(t, "exact", string(got))
	b = &relayBody{ReadCloser: io.NopCloser(strings.NewReader("any")), want: -1}
	_, err = io.ReadAll(b)
	require.NoError(t, err)
}
