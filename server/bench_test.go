package server_test

import (
	"context"
	"io"
	"net/http"
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
