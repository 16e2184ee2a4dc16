package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTransportSameAsTCP: the in-process transport answers what the server
// answers over TCP: a JSON call, an error, an artifact of more than the
// buffered size (streamed) and a HEAD.
func TestTransportSameAsTCP(t *testing.T) {
	s, err := Open(context.Background(), Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	defer s.Close()
	uri, err := s.Start("127.0.0.1:0")
	require.NoError(t, err)
	tcp := &http.Client{}
	mem := &http.Client{Transport: s.Transport()}

	big := bytes.Repeat([]byte("0123456789abcdef"), 3*replyBuffer/16+7) // 3 buffers and a bit
	put, err := http.NewRequest(http.MethodPut, uri+"/api/2.0/mlflow-artifacts/artifacts/0/t/big.bin", bytes.NewReader(big))
	require.NoError(t, err)
	resp, err := mem.Do(put)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "an upload through the transport")

	for _, c := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/2.0/mlflow/experiments/create", `{"name":"transport"}`},
		{http.MethodGet, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=transport", ""},
		{http.MethodGet, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=none", ""},
		{http.MethodPost, "/api/2.0/mlflow/experiments/create", `{"name":`},
		{http.MethodGet, "/api/2.0/mlflow-artifacts/artifacts/0/t/big.bin", ""},
		{http.MethodHead, "/api/2.0/mlflow-artifacts/artifacts/0/t/big.bin", ""},
		{http.MethodGet, "/no/such/page", ""},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			do := func(hc *http.Client) (int, string, string) {
				req, err := http.NewRequest(c.method, uri+c.path, strings.NewReader(c.body))
				require.NoError(t, err)
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := hc.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
			}
			if c.method == http.MethodPost && strings.HasSuffix(c.path, "create") && strings.HasSuffix(c.body, "}") {
				// Creating twice fails: compare the second answers.
				codeM, _, bodyM := do(mem)
				assert.Equal(t, http.StatusOK, codeM, bodyM)
				codeT, typeT, bodyT := do(tcp)
				codeM, typeM, bodyM := do(mem)
				assert.Equal(t, []any{codeT, typeT, bodyT}, []any{codeM, typeM, bodyM})
				return
			}
			codeT, typeT, bodyT := do(tcp)
			codeM, typeM, bodyM := do(mem)
			assert.Equal(t, codeT, codeM)
			assert.Equal(t, typeT, typeM)
			assert.Equal(t, bodyT, bodyM)
			if c.method == http.MethodGet && strings.HasSuffix(c.path, "big.bin") {
				assert.Equal(t, string(big), bodyM, "the streamed artifact whole")
			}
		})
	}
}

// TestTransportPanicAndCancel: a handler that panics fails the request
// (before or after part of its reply), and a caller that gives up stops
// a handler that streams.
func TestTransportPanicAndCancel(t *testing.T) {
	stop := make(chan struct{})
	slowErr := make(chan error, 1)
	h := http.NewServeMux()
	h.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h.HandleFunc("/panic-late", func(w http.ResponseWriter, _ *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 2*replyBuffer))
		panic("boom")
	})
	h.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		defer close(stop)
		w.(http.Flusher).Flush()
		for r.Context().Err() == nil {
			w.Write([]byte("x"))
		}
	})
	h.HandleFunc("/slow-big", func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(50 * time.Millisecond)
		_, err := w.Write(bytes.Repeat([]byte("x"), 2*replyBuffer))
		slowErr <- err
	})
	hc := &http.Client{Transport: memTransport{h: h}}

	_, err := hc.Get("http://in-process/panic")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "panicked: boom")

	resp, err := hc.Get("http://in-process/panic-late")
	require.NoError(t, err, "the first part of the reply is handed back")
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Error(t, err, "then the body fails")
	assert.Contains(t, err.Error(), "panicked: boom")

	resp, err = hc.Get("http://in-process/endless")
	require.NoError(t, err)
	_, err = io.ReadFull(resp.Body, make([]byte, 10))
	require.NoError(t, err)
	resp.Body.Close()
	<-stop // the handler saw the caller go: this test ends

	// A caller that gives up before the reply begins: the handler's write
	// of a long reply fails, it does not wait for a reader for ever.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://in-process/slow-big", nil)
	require.NoError(t, err)
	_, err = hc.Do(req)
	require.Error(t, err)
	select {
	case err := <-slowErr:
		assert.Error(t, err, "the abandoned reply's write fails")
	case <-time.After(5 * time.Second):
		t.Fatal("the handler of an abandoned request is still writing after 5 s")
	}
}
