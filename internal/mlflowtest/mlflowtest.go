// Package mlflowtest gives tests that need an MLflow tracking server one to
// talk to: the real MLflow server of MLFLOW_TRACKING_URI when a developer
// names one, else an embedded server (package server) on a fresh data
// directory, so these tests run on a machine with only Go instead of
// skipping.
//
// Tests that must be held to MLflow itself (the conformance suite, the
// scripts driving MLflow's own Python client, the MLflow UI capture) call
// testenv.RealMLflow instead. Under CI=true URI always answers an embedded
// server: CI holds the code to MLflow through those suites, and tests the
// embedded server, the default backend, everywhere else.
//
// It is a package of its own, not part of testenv, so that testenv stays
// free of the server (and SQLite) and the server's own tests may use it.
package mlflowtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/server"
)

// URI returns the tracking URI of a server for a test that needs MLflow's
// REST API, not MLflow itself: the real server of MLFLOW_TRACKING_URI when
// it is set outside CI, else a new embedded server (see Embedded). The
// real server is shared by every test and every run: names must be unique.
func URI(t testing.TB) string {
	t.Helper()
	if uri := os.Getenv("MLFLOW_TRACKING_URI"); uri != "" && !testenv.InCI() {
		return strings.TrimRight(uri, "/")
	}
	return Embedded(t)
}

// Embedded starts an embedded MLflow-compatible server on a fresh
// temporary data directory, stops it when the test ends, and returns its
// tracking URI (http://127.0.0.1:PORT). Its failures are logged to the
// test's output.
func Embedded(t testing.TB) string {
	t.Helper()
	return EmbeddedWith(t, server.Config{})
}

// EmbeddedWith is Embedded with cfg (a fresh temporary data directory when
// cfg.DataDir is empty; the test's output when cfg.Logger is nil), e.g. a
// Version that /version answers.
func EmbeddedWith(t testing.TB, cfg server.Config) string {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelError}))
	}
	srv, err := server.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("embedded MLflow server: %v", err)
	}
	uri, err := srv.Start("127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatalf("embedded MLflow server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("stopping the embedded MLflow server: %v", err)
		}
	})
	return uri
}

// EmbeddedWithoutLoggedModels is Embedded behind a proxy that answers
// MLflow 3's logged-model paths (/api/2.0/mlflow/logged-models...) as
// MLflow 2 answers them, with Flask's HTML 404 page: a server without
// logged models, for the code paths that fall back to run artifacts.
func EmbeddedWithoutLoggedModels(t testing.TB) string {
	t.Helper()
	target, err := url.Parse(Embedded(t))
	if err != nil {
		t.Fatalf("embedded MLflow server: %v", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/2.0/mlflow/logged-models") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, mlflow2NotFound)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// mlflow2NotFound is Flask's 404 page, which MLflow 2 answers for a path
// it does not serve.
const mlflow2NotFound = `<!doctype html>
<html lang=en>
<title>404 Not Found</title>
<h1>Not Found</h1>
<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>
`

// Client returns a client of URI(t) with MLflow's default settings.
func Client(t testing.TB) *mlflow.Client {
	t.Helper()
	c, err := mlflow.New(mlflow.DefaultConfig(URI(t)))
	if err != nil {
		t.Fatalf("mlflowtest: a client of the test server: %v", err)
	}
	return c
}

// Unique returns prefix with a suffix no other name of this process takes,
// for the experiments and models of a test on a shared server.
func Unique(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), uniqueSeq.Add(1))
}

var uniqueSeq atomic.Int64
