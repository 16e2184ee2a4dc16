package mlflow_test

// The real server cannot be made to answer 429, 503 or Retry-After: these
// tests use fake servers (see fakeServer) for the retry policy alone.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// scripted answers the n-th request with replies[n] (the last one repeats)
// and counts requests.
type scripted struct {
	replies []func(w http.ResponseWriter)
	n       atomic.Int32
}

func (s *scripted) serve(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	s.replies[min(i, len(s.replies)-1)](w)
}

func status(code int, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(`{"error_code":"TEMPORARILY_UNAVAILABLE","message":"busy"}`))
	}
}

func okJSON(body string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}
}

const experimentJSON = `{"experiment":{"experiment_id":"7","name":"churn"}}`

func TestRetries(t *testing.T) {
	t.Parallel()

	t.Run("GetRetriedOn503ThenOK", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){status(503), status(502), okJSON(experimentJSON)}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), nil)
		exp, err := c.GetExperiment(t.Context(), "7")
		require.NoError(t, err)
		assert.Equal(t, "churn", exp.Name)
		assert.Equal(t, int32(3), s.n.Load())
		// Backoff factor 2, no jitter: 2 s, then 4 s.
		assert.Equal(t, []time.Duration{2 * time.Second, 4 * time.Second}, slept.all())
	})

	t.Run("RetryAfterSeconds", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){status(429, "Retry-After", "7"), okJSON(experimentJSON)}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), nil)
		_, err := c.GetExperiment(t.Context(), "7")
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{7 * time.Second}, slept.all())
	})

	t.Run("RetryAfterDate", func(t *testing.T) {
		when := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
		s := &scripted{replies: []func(http.ResponseWriter){status(503, "Retry-After", when), okJSON(experimentJSON)}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), nil)
		_, err := c.GetExperiment(t.Context(), "7")
		require.NoError(t, err)
		got := slept.all()
		require.Len(t, got, 1)
		assert.InDelta(t, 30*time.Second, got[0], float64(2*time.Second))
	})

	t.Run("RetryAfterCappedAndIgnorable", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){status(429, "Retry-After", "100000"), okJSON(experimentJSON)}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), nil)
		_, err := c.GetExperiment(t.Context(), "7")
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{mlflow.DefaultMaxBackoff}, slept.all())

		s2 := &scripted{replies: []func(http.ResponseWriter){status(429, "Retry-After", "60"), okJSON(experimentJSON)}}
		c2, slept2 := fakeClient(t, fakeServer(t, s2.serve), func(cfg *mlflow.Config) { cfg.IgnoreRetryAfter = true })
		_, err = c2.GetExperiment(t.Context(), "7")
		require.NoError(t, err)
		assert.Equal(t, []time.Duration{2 * time.Second}, slept2.all())
	})

	t.Run("CreateNotRetriedOn503", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){status(503), okJSON(`{"experiment_id":"8"}`)}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), nil)
		_, err := c.CreateExperiment(t.Context(), "churn", nil)
		require.ErrorIs(t, err, mlflow.ErrUnavailable)
		assert.Equal(t, int32(1), s.n.Load(), "a create that may have committed is not sent twice")
		assert.Empty(t, slept.all())
	})

	t.Run("CreateRetriedOn429", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){status(429), okJSON(`{"experiment_id":"8"}`)}}
		c, _ := fakeClient(t, fakeServer(t, s.serve), nil)
		id, err := c.CreateExperiment(t.Context(), "churn", nil)
		require.NoError(t, err)
		assert.Equal(t, "8", id)
		assert.Equal(t, int32(2), s.n.Load(), "429 means the server did not process it")
	})

	t.Run("BadRequestNotRetried", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error_code":"INVALID_PARAMETER_VALUE","message":"bad filter"}`))
		}}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), nil)
		_, err := c.GetExperiment(t.Context(), "7")
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
		assert.Equal(t, int32(1), s.n.Load())
		assert.Empty(t, slept.all())
	})

	t.Run("StopsAtMaxRetries", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){status(503)}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), func(cfg *mlflow.Config) { cfg.MaxRetries = 4 })
		err := c.SetRegisteredModelTag(t.Context(), "m", "k", "v")
		require.ErrorIs(t, err, mlflow.ErrUnavailable)
		var apiErr *mlflow.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
		assert.Equal(t, int32(5), s.n.Load(), "1 try + 4 retries")
		assert.Equal(t, []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second}, slept.all())
	})

	t.Run("BackoffCappedWithJitter", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){status(500)}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), func(cfg *mlflow.Config) {
			cfg.MaxRetries = 10
			cfg.BackoffFactor = 10
			cfg.BackoffJitter = 1
			cfg.MaxBackoff = 30 * time.Second
		})
		_, err := c.GetRun(t.Context(), "r")
		require.Error(t, err)
		got := slept.all()
		require.Len(t, got, 10)
		assert.GreaterOrEqual(t, got[0], 10*time.Second)
		assert.Less(t, got[0], 11*time.Second, "jitter adds under BackoffJitter seconds")
		assert.GreaterOrEqual(t, got[1], 20*time.Second)
		for _, d := range got[2:] {
			assert.Equal(t, 30*time.Second, d, "capped at MaxBackoff")
		}
	})

	t.Run("NoRetriesWhenZero", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){status(503)}}
		c, _ := fakeClient(t, fakeServer(t, s.serve), func(cfg *mlflow.Config) { cfg.MaxRetries = 0 })
		_, err := c.GetRun(t.Context(), "r")
		require.ErrorIs(t, err, mlflow.ErrUnavailable)
		assert.Equal(t, int32(1), s.n.Load())
	})

	t.Run("ArtifactsDisabledNotRetried", func(t *testing.T) {
		// MLflow's plain-text 503 of a server started with --no-serve-artifacts.
		s := &scripted{replies: []func(http.ResponseWriter){func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("Endpoint: /api/2.0/mlflow-artifacts/artifacts/<path:artifact_path> disabled due to the mlflow server running with `--no-serve-artifacts`. To enable artifacts server functionality, run `mlflow server` with `--serve-artifacts`"))
		}}}
		c, _ := fakeClient(t, fakeServer(t, s.serve), nil)
		_, err := c.DownloadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "model/MLmodel")
		require.ErrorIs(t, err, mlflow.ErrUnavailable)
		var apiErr *mlflow.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "", apiErr.Code)
		assert.Contains(t, apiErr.Message, "--no-serve-artifacts")
		assert.Equal(t, int32(1), s.n.Load())
	})

	t.Run("UploadRetriedWithRewoundBody", func(t *testing.T) {
		var bodies []string
		s := &scripted{}
		uri := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 64)
			n, _ := r.Body.Read(b)
			bodies = append(bodies, string(b[:n]))
			s.serve(w, r)
		})
		s.replies = []func(http.ResponseWriter){status(503), okJSON(`{}`)}
		c, _ := fakeClient(t, uri, nil)
		require.NoError(t, c.UploadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "a.txt", newSeeker("payload")))
		assert.Equal(t, []string{"payload", "payload"}, bodies)
	})

	t.Run("SleepHonoursContext", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){status(503)}}
		cfg := mlflow.DefaultConfig(fakeServer(t, s.serve))
		c, err := mlflow.New(cfg) // real sleeps: 2 s, 4 s, ...
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = c.GetRun(ctx, "r")
		assert.Less(t, time.Since(start), 1500*time.Millisecond)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, errors.Is(err, mlflow.ErrUnavailable), "a caller's deadline is not the server's fault")
	})
}

// The real server registers versions READY at once: pending and failed
// registrations need a fake one.
func TestWaitModelVersionReady(t *testing.T) {
	t.Parallel()
	version := func(status, msg string) func(http.ResponseWriter) {
		return okJSON(`{"model_version":{"name":"m","version":"3","status":"` + status + `","status_message":"` + msg + `"}}`)
	}

	t.Run("OK", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){version("PENDING_REGISTRATION", ""), version("PENDING_REGISTRATION", ""), version("READY", "")}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), nil)
		mv, err := c.WaitModelVersionReady(t.Context(), "m", "3", time.Minute)
		require.NoError(t, err)
		assert.Equal(t, mlflow.ModelVersionReady, mv.Status)
		assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, slept.all())
	})

	t.Run("ErrFailedRegistration", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){version("PENDING_REGISTRATION", ""), version("FAILED_REGISTRATION", "source not found")}}
		c, _ := fakeClient(t, fakeServer(t, s.serve), nil)
		_, err := c.WaitModelVersionReady(t.Context(), "m", "3", time.Minute)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "registration failed: source not found")
	})

	t.Run("ErrStillPending", func(t *testing.T) {
		s := &scripted{replies: []func(http.ResponseWriter){version("PENDING_REGISTRATION", "")}}
		c, slept := fakeClient(t, fakeServer(t, s.serve), nil)
		_, err := c.WaitModelVersionReady(t.Context(), "m", "3", 250*time.Millisecond)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "still PENDING_REGISTRATION")
		assert.Equal(t, int32(3), s.n.Load())
		assert.Equal(t, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}, slept.all())
	})
}

// retryLines collects the progress lines of a client's retries.
type retryLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *retryLines) add(r mlflow.Retry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.String())
}

func (l *retryLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// A server that does not answer: each retry is told as it is decided, by
// its path (no query string, no host, no credentials), its number and the
// wait before it.
func TestRetryLinesClosedPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	cfg := mlflow.DefaultConfig("http://alice:s3cret@" + addr + "/base")
	cfg.BackoffJitter, cfg.MaxRetries = 0, 3
	var lines retryLines
	s := &sleeps{}
	c, err := mlflow.New(cfg, mlflow.WithSleep(s.sleep), mlflow.WithLogger(slog.New(mlflow.RetryHandler(lines.add))))
	require.NoError(t, err)
	_, err = c.GetExperimentByName(t.Context(), "churn model")
	require.ErrorIs(t, err, mlflow.ErrUnavailable)
	assert.Equal(t, []string{
		"retrying GET /base/api/2.0/mlflow/experiments/get-by-name, attempt 1 of 3, next in 2 s",
		"retrying GET /base/api/2.0/mlflow/experiments/get-by-name, attempt 2 of 3, next in 4 s",
		"retrying GET /base/api/2.0/mlflow/experiments/get-by-name, attempt 3 of 3, next in 8 s",
	}, lines.all())
	for _, l := range lines.all() {
		assert.NotContains(t, l, "alice")
		assert.NotContains(t, l, "s3cret")
		assert.NotContains(t, l, addr)
	}
}

// A server answering 503 with Retry-After: the line says the server's
// wait; only retries make lines (the Debug logs of each request do not).
func TestRetryLines503(t *testing.T) {
	t.Parallel()
	s := &scripted{replies: []func(http.ResponseWriter){status(503, "Retry-After", "7"), status(503), okJSON(experimentJSON)}}
	uri := fakeServer(t, s.serve)
	cfg := mlflow.DefaultConfig(uri)
	cfg.BackoffJitter = 0
	var lines retryLines
	c, err := mlflow.New(cfg, mlflow.WithSleep((&sleeps{}).sleep), mlflow.WithLogger(slog.New(mlflow.RetryHandler(lines.add))))
	require.NoError(t, err)
	_, err = c.GetExperiment(t.Context(), "7")
	require.NoError(t, err)
	assert.Equal(t, []string{
		"retrying GET /mlflow-base/api/2.0/mlflow/experiments/get, attempt 1 of 7, next in 7 s",
		"retrying GET /mlflow-base/api/2.0/mlflow/experiments/get, attempt 2 of 7, next in 4 s",
	}, lines.all())
}

func TestRetryString(t *testing.T) {
	r := mlflow.Retry{Method: "PUT", Path: "/api/2.0/mlflow-artifacts/artifacts/1/a b\n\x1b[31mred", Retry: 2, MaxRetries: 7, Wait: 8370 * time.Millisecond}
	assert.Equal(t, "retrying PUT /api/2.0/mlflow-artifacts/artifacts/1/a%20b%0A%1B%5B31mred, attempt 2 of 7, next in 8.4 s", r.String())
	r = mlflow.Retry{Method: "G\nET", Path: "/x", Retry: 1, MaxRetries: 1}
	assert.Equal(t, "retrying GET /x, attempt 1 of 1, next in 0 s", r.String())
}
