package mlflow_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/mlflow"
)

// serverClient returns a client of a tracking server (mlflowtest.URI: the
// real MLflow server of MLFLOW_TRACKING_URI, else an embedded one), with
// short retries.
func serverClient(t testing.TB, opts ...mlflow.Option) *mlflow.Client {
	t.Helper()
	return clientOf(t, mlflowtest.URI(t), opts...)
}

// clientOf returns a client of uri with short retries.
func clientOf(t testing.TB, uri string, opts ...mlflow.Option) *mlflow.Client {
	t.Helper()
	cfg := mlflow.DefaultConfig(uri)
	cfg.MaxRetries = 3
	cfg.BackoffFactor = 0.2
	cfg.BackoffJitter = 0.1
	cfg.Timeout = 60 * time.Second
	c, err := mlflow.New(cfg, opts...)
	require.NoError(t, err)
	return c
}

// unique returns prefix with a random suffix: the real server is shared.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%s-%s", prefix, time.Now().Format("150405"), strings.ToLower(rand.Text()[:8]))
}

// recorder is an http.RoundTripper that records every request (and its
// body) before passing it on.
type recorder struct {
	next http.RoundTripper

	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := recorded{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Header: req.Header.Clone()}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		rec.Body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Lock()
	r.requests = append(r.requests, rec)
	r.mu.Unlock()
	next := r.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(req)
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.requests...)
}

func (r *recorder) count() int { return len(r.all()) }

// recordingClient is serverClient with a recorder on its transport.
func recordingClient(t testing.TB) (*mlflow.Client, *recorder) {
	t.Helper()
	rec := &recorder{}
	return serverClient(t, mlflow.WithHTTPClient(&http.Client{Transport: rec})), rec
}

// basePath is where fake servers mount the MLflow API: a request built with
// the wrong path lands outside it and fails the test (go-github's trap).
const basePath = "/mlflow-base"

// fakeServer serves h under basePath and fails the test for anything else.
// It returns the tracking URI to use.
func fakeServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(basePath+"/", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request outside the base path: %s %s", r.Method, r.URL.Path)
		http.Error(w, "wrong path", http.StatusTeapot)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + basePath
}

// sleeps records the waits a client asks for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// fakeClient returns a client of uri with deterministic retries (no jitter)
// whose waits are recorded, not slept.
func fakeClient(t *testing.T, uri string, edit func(*mlflow.Config)) (*mlflow.Client, *sleeps) {
	t.Helper()
	cfg := mlflow.DefaultConfig(uri)
	cfg.BackoffJitter = 0
	if edit != nil {
		edit(&cfg)
	}
	s := &sleeps{}
	c, err := mlflow.New(cfg, mlflow.WithSleep(s.sleep))
	require.NoError(t, err)
	return c, s
}

// newRun creates an experiment and a run in it.
func newRun(t *testing.T, c *mlflow.Client, prefix string) *mlflow.Run {
	t.Helper()
	exp, err := c.GetOrCreateExperiment(t.Context(), unique(prefix))
	require.NoError(t, err)
	run, err := c.CreateRun(t.Context(), mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: prefix})
	require.NoError(t, err)
	return run
}

// seeker is an io.ReadSeeker that net/http does not know how to rewind by
// itself (unlike *strings.Reader), so the client's own rewinding is tested.
type seeker struct{ r *strings.Reader }

func newSeeker(s string) *seeker { return &seeker{strings.NewReader(s)} }

func (s *seeker) Read(p []byte) (int, error)                { return s.r.Read(p) }
func (s *seeker) Seek(off int64, whence int) (int64, error) { return s.r.Seek(off, whence) }
