package mlflow_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// TestForward: Forward sends one request under the tracking URI with the
// client's credentials instead of the caller's, no cookie, and hands back
// any reply as is, without retrying.
func TestForward(t *testing.T) {
	t.Parallel()
	type seen struct{ method, uri, auth, cookie, ct, body string }
	got := make(chan seen, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Cookie"), r.Header.Get("Content-Type"), string(b)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}`)
	}))
	t.Cleanup(srv.Close)
	cfg := mlflow.DefaultConfig(srv.URL + "/base")
	cfg.Token = "parent-token"
	c, err := mlflow.New(cfg)
	require.NoError(t, err)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "api/2.0/mlflow/runs/search?x=a%20b", strings.NewReader(`{"a":1}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer kernel")
	req.Header.Set("Cookie", "session=kernel")
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Forward(req)
	require.NoError(t, err, "a 503 is a reply, not an error")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, string(b), "busy")
	s := <-got
	assert.Equal(t, seen{"POST", "/base/api/2.0/mlflow/runs/search?x=a%20b", "Bearer parent-token", "", "application/json", `{"a":1}`}, s)
	assert.Empty(t, got, "no retry")
	assert.Equal(t, "Bearer kernel", req.Header.Get("Authorization"), "the caller's request is not modified")

	t.Run("basic auth", func(t *testing.T) {
		cfg := mlflow.DefaultConfig(srv.URL)
		cfg.Username, cfg.Password = "u", "p"
		c, err := mlflow.New(cfg)
		require.NoError(t, err)
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "health", nil)
		resp, err := c.Forward(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, "Basic dTpw", (<-got).auth)
		assert.Equal(t, "REDACTED", c.Scrub("p"))
	})

	t.Run("refused", func(t *testing.T) {
		for _, u := range []string{"http://evil.example/api/2.0/mlflow/x", "//evil.example/x", "/api/2.0/mlflow/x", "api/../../x", "api/%2e%2e/x", "./health"} {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
			require.NoError(t, err, u)
			_, err = c.Forward(req)
			assert.True(t, errors.Is(err, mlflow.ErrInvalidParameter), "%s: %v", u, err)
		}
		assert.Empty(t, got, "nothing sent")
	})
}
