package mlflow_test

// Error paths the real server cannot be made to produce: no server, a
// server that never answers, auth failures, plain-text and non-JSON replies.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

const (
	secretToken    = "tok-SECRET-4f1d9a"
	secretPassword = "pw-SECRET-77c2e1"
)

// closedPort returns the address of a listener that was closed: dialing it
// is refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				_, _ = io.Copy(io.Discard, conn) // read the request, never answer
				<-done
				conn.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	assert.NotContains(t, s, secretToken)
	assert.NotContains(t, s, secretPassword)
}

func TestConnectionErrors(t *testing.T) {
	t.Parallel()

	t.Run("RefusedNamesRedactedURIWithinTimeout", func(t *testing.T) {
		addr := closedPort(t)
		cfg := mlflow.DefaultConfig("http://alice:" + secretPassword + "@" + addr + "/?token=" + secretToken)
		cfg.Timeout = 2 * time.Second
		cfg.BackoffFactor = 0.2
		c, err := mlflow.New(cfg)
		require.NoError(t, err)

		start := time.Now()
		_, err = c.GetRegisteredModel(t.Context(), "ChurnPredictor")
		elapsed := time.Since(start)
		require.Error(t, err)
		assert.Less(t, elapsed, cfg.Timeout+500*time.Millisecond, "an unreachable server fails within Timeout")
		assert.ErrorIs(t, err, mlflow.ErrUnavailable)
		assert.Contains(t, err.Error(), "http://"+addr+"/api/2.0/mlflow/registered-models/get")
		assert.Contains(t, err.Error(), "connection refused")
		assertNoSecret(t, err.Error())
		assert.NotContains(t, err.Error(), "alice")
		var apiErr *mlflow.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Zero(t, apiErr.StatusCode)
	})

	t.Run("SilentServerTimesOut", func(t *testing.T) {
		cfg := mlflow.DefaultConfig("http://" + silentServer(t))
		cfg.Timeout = 500 * time.Millisecond
		c, err := mlflow.New(cfg)
		require.NoError(t, err)

		start := time.Now()
		err = c.Health(t.Context())
		elapsed := time.Since(start)
		require.Error(t, err)
		assert.GreaterOrEqual(t, elapsed, cfg.Timeout)
		assert.Less(t, elapsed, cfg.Timeout+700*time.Millisecond, "no retry after a full Timeout of silence")
		assert.ErrorIs(t, err, mlflow.ErrUnavailable)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "MLFLOW_HTTP_REQUEST_TIMEOUT")
	})

	t.Run("CallerContextCancels", func(t *testing.T) {
		cfg := mlflow.DefaultConfig("http://" + silentServer(t))
		c, err := mlflow.New(cfg)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		start := time.Now()
		_, err = c.ServerVersion(ctx)
		assert.Less(t, time.Since(start), 2*time.Second)
		require.ErrorIs(t, err, context.Canceled)
		assert.False(t, errors.Is(err, mlflow.ErrUnavailable))
	})
}

func TestServerErrors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name        string
		reply       func(w http.ResponseWriter, r *http.Request)
		sentinel    error
		status      int
		code        string
		message     string
		notSentinel error
	}{
		{
			name: "ErrUnauthenticated",
			reply: func(w http.ResponseWriter, r *http.Request) {
				// A proxy that echoes the credentials it refused.
				w.Header().Set("WWW-Authenticate", `Basic realm="mlflow"`)
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, "You are not authenticated. Got %s (token %s, password %s)",
					r.Header.Get("Authorization"), secretToken, secretPassword)
			},
			sentinel: mlflow.ErrUnauthenticated, status: 401, message: "You are not authenticated. Got Basic REDACTED",
		},
		{
			name: "ErrPermissionDeniedHostCheck",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte("Invalid Host header - possible DNS rebinding attack detected"))
			},
			sentinel: mlflow.ErrPermissionDenied, status: 403, message: "Invalid Host header - possible DNS rebinding attack detected",
		},
		{
			name: "ErrPermissionDeniedJSON",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusForbidden)
				_, _ = w.Write([]byte(`{"error_code":"PERMISSION_DENIED","message":"Permission denied"}`))
			},
			sentinel: mlflow.ErrPermissionDenied, status: 403, code: "PERMISSION_DENIED", message: "Permission denied",
		},
		{
			name: "LongPlainTextTruncated",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
				_, _ = w.Write([]byte("<html><body>" + strings.Repeat("bad gateway ", 500) + "</body></html>"))
			},
			sentinel: mlflow.ErrUnavailable, status: 502, message: "<html><body>bad gateway bad gateway",
		},
		{
			name: "HTMLRouteNotFound",
			reply: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte("<!doctype html><title>404 Not Found</title>"))
			},
			sentinel: mlflow.ErrNotFound, status: 404, message: "404 Not Found", notSentinel: mlflow.ErrInvalidParameter,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uri := fakeServer(t, tc.reply)
			cfg := mlflow.DefaultConfig(uri)
			cfg.Username, cfg.Password, cfg.Token = "alice", secretPassword, secretToken
			var logs bytes.Buffer
			c, err := mlflow.New(cfg, mlflow.WithSleep(func(ctx context.Context, d time.Duration) error { return nil }),
				mlflow.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			require.NoError(t, err)

			_, err = c.GetRegisteredModel(t.Context(), "ChurnPredictor")
			require.ErrorIs(t, err, tc.sentinel)
			if tc.notSentinel != nil {
				assert.NotErrorIs(t, err, tc.notSentinel)
			}
			var apiErr *mlflow.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, tc.code, apiErr.Code)
			assert.Contains(t, apiErr.Message, tc.message)
			assert.LessOrEqual(t, len(apiErr.Message), 600, "plain-text bodies are truncated")
			assert.Equal(t, http.MethodGet, apiErr.Method)
			assert.Equal(t, basePath+"/api/2.0/mlflow/registered-models/get", apiErr.Endpoint)
			assert.True(t, strings.HasPrefix(err.Error(), fmt.Sprintf("mlflow: GET %s/api/2.0/mlflow/registered-models/get: %d ", basePath, tc.status)), err.Error())
			assertNoSecret(t, err.Error())
			assertNoSecret(t, fmt.Sprintf("%+v %#v", err, err))
			assert.Contains(t, logs.String(), "mlflow request", "the logger was used")
			assertNoSecret(t, logs.String())
		})
	}
}

func TestUnexpectedReplies(t *testing.T) {
	t.Parallel()

	t.Run("NonJSONSuccess", func(t *testing.T) {
		uri := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>Please log in</html>"))
		})
		c, _ := fakeClient(t, uri, nil)
		_, err := c.GetRegisteredModel(t.Context(), "m")
		require.Error(t, err)
		var apiErr *mlflow.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusOK, apiErr.StatusCode)
		assert.Contains(t, err.Error(), "not the expected JSON (text/html)")
		assert.Contains(t, err.Error(), "Please log in")
	})

	t.Run("HealthNotOK", func(t *testing.T) {
		uri := fakeServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("starting")) })
		c, _ := fakeClient(t, uri, nil)
		err := c.Health(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), `expected OK, got "starting"`)
	})

	t.Run("BareNaNTolerated", func(t *testing.T) {
		// Python's json module writes NaN bare; MLflow itself writes "NaN".
		uri := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"run":{"info":{"run_id":"r"},"data":{"metrics":[
				{"key":"a","value":NaN,"timestamp":"1700000000000","step":"3"},
				{"key":"b","value":-Infinity,"timestamp":1,"step":0},
				{"key":"c","value":"Infinity","timestamp":1,"step":0},
				{"key":"d NaN","value":0.25,"timestamp":1,"step":0}]}}}`))
		})
		c, _ := fakeClient(t, uri, nil)
		run, err := c.GetRun(t.Context(), "r")
		require.NoError(t, err)
		require.Len(t, run.Data.Metrics, 4)
		assert.True(t, isNaN(run.Data.Metrics[0].Value))
		assert.Equal(t, int64(1700000000000), run.Data.Metrics[0].Timestamp)
		assert.Equal(t, int64(3), run.Data.Metrics[0].Step)
		assert.True(t, run.Data.Metrics[1].Value < -1e308)
		assert.True(t, run.Data.Metrics[2].Value > 1e308)
		v, ok := run.Metric("d NaN")
		assert.True(t, ok)
		assert.Equal(t, 0.25, v)
	})
}

func isNaN(f float64) bool { return f != f }

func TestRequests(t *testing.T) {
	t.Parallel()
	var got []*http.Request
	var bodies []string
	uri := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r)
		bodies = append(bodies, string(b))
		_, _ = w.Write([]byte(`{}`))
	})
	cfg := mlflow.DefaultConfig(uri)
	cfg.Token = secretToken
	c, err := mlflow.New(cfg, mlflow.WithUserAgent("playbook-test/1"))
	require.NoError(t, err)
	ctx := t.Context()

	_, err = c.SearchModelVersions(ctx, "name = 'a b'", 5, []string{"version_number DESC", "name"}, "tok")
	require.NoError(t, err)
	require.NoError(t, c.DeleteModelVersionTag(ctx, "m", "1", "k"))

	require.Len(t, got, 2)
	get := got[0]
	assert.Equal(t, http.MethodGet, get.Method)
	assert.Equal(t, "name = 'a b'", get.URL.Query().Get("filter"))
	assert.Equal(t, "5", get.URL.Query().Get("max_results"))
	assert.Equal(t, []string{"version_number DESC", "name"}, get.URL.Query()["order_by"])
	assert.Equal(t, "tok", get.URL.Query().Get("page_token"))
	assert.Empty(t, bodies[0])
	assert.Equal(t, "Bearer "+secretToken, get.Header.Get("Authorization"))
	assert.Equal(t, "playbook-test/1", get.Header.Get("User-Agent"))

	del := got[1]
	assert.Equal(t, http.MethodDelete, del.Method)
	assert.Empty(t, del.URL.RawQuery)
	assert.Equal(t, "application/json", del.Header.Get("Content-Type"))
	assert.JSONEq(t, `{"name":"m","version":"1","key":"k"}`, bodies[1])
}

func TestBasicAuthFromURI(t *testing.T) {
	t.Parallel()
	var auth string
	uri := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		_, _ = w.Write([]byte("OK"))
	})
	withCreds := strings.Replace(uri, "http://", "http://alice:"+secretPassword+"@", 1)
	c, err := mlflow.New(mlflow.DefaultConfig(withCreds))
	require.NoError(t, err)
	require.NoError(t, c.Health(t.Context()))
	user, pass, ok := (&http.Request{Header: http.Header{"Authorization": {auth}}}).BasicAuth()
	require.True(t, ok)
	assert.Equal(t, "alice", user)
	assert.Equal(t, secretPassword, pass)
	assert.Equal(t, uri, c.TrackingURI())
}
