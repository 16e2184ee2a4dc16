package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/playbook-mlops/playbook/server"
)

// BenchmarkServerStart: from nothing to a server answering /health: open
// the data directory (creating the database and its schema when new),
// listen, serve the first request; then stop.
func BenchmarkServerStart(b *testing.B) {
	startOnce := func(b *testing.B, dir string) {
		srv, err := server.Open(context.Background(), server.Config{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		uri, err := srv.Start("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		resp, err := http.Get(uri + "/health")
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("/health: %s", resp.Status)
		}
		b.StopTimer()
		if err := srv.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.Run("new", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			startOnce(b, dir)
		}
	})
	b.Run("existing", func(b *testing.B) {
		dir := b.TempDir()
		startOnce(b, dir)
		for b.Loop() {
			startOnce(b, dir)
		}
	})
}

// BenchmarkSearchModelVersionsByName: model-versions/search with the
// filter promotion steps send, name = 'X', on a registry of 20 models of
// 25 versions each.
func BenchmarkSearchModelVersionsByName(b *testing.B) {
	srv, err := server.Open(context.Background(), server.Config{DataDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	h := srv.Handler()
	call := func(method, path, body string) string {
		req := httptest.NewRequest(method, "/api/2.0/mlflow/"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	var run struct {
		Run struct {
			Info struct {
				RunID       string `json:"run_id"`
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(call("POST", "runs/create", `{"experiment_id": "0"}`)), &run); err != nil {
		b.Fatal(err)
	}
	for m := range 20 {
		call("POST", "registered-models/create", fmt.Sprintf(`{"name": "model-%d"}`, m))
		for range 25 {
			call("POST", "model-versions/create", fmt.Sprintf(`{"name": "model-%d", "source": %q, "run_id": %q}`,
				m, run.Run.Info.ArtifactURI+"/model", run.Run.Info.RunID))
		}
	}
	q := "model-versions/search?filter=" + url.QueryEscape("name = 'model-7'")
	for b.Loop() {
		call("GET", q, "")
	}
}
