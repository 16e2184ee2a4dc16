package mlflowtest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/server"
)

// get returns the body of GET uri+path, failing the test on any error.
func get(t *testing.T, uri, path string) string {
	t.Helper()
	resp, err := http.Get(uri + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
	return string(b)
}

func TestURI(t *testing.T) {
	const named = "http://mlflow.example.com:5000"
	for name, tc := range map[string]struct {
		ci, uri  string
		embedded bool
	}{
		"Unset":     {"", "", true},
		"Named":     {"", named + "/", false},
		"CINamed":   {"true", named, true},
		"CINotTrue": {"1", named, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("MLFLOW_TRACKING_URI", tc.uri)
			uri := mlflowtest.URI(t)
			if !tc.embedded {
				assert.Equal(t, named, uri, "the named server, without its trailing slash")
				return
			}
			assert.True(t, strings.HasPrefix(uri, "http://127.0.0.1:"), uri)
			assert.Equal(t, "OK", get(t, uri, "/health"))
		})
	}
}

// TestEmbeddedFresh: each test's server is its own, on its own data
// directory, and is gone when the test ends.
func TestEmbeddedFresh(t *testing.T) {
	var first string
	t.Run("First", func(t *testing.T) {
		first = mlflowtest.Embedded(t)
		resp, err := http.Post(first+"/api/2.0/mlflow/registered-models/create", "application/json", strings.NewReader(`{"name": "M"}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, get(t, first, "/api/2.0/mlflow/registered-models/search"), `"M"`)
	})
	_, err := http.Get(first + "/health")
	assert.Error(t, err, "stopped at the end of its test")

	second := mlflowtest.Embedded(t)
	assert.NotEqual(t, first, second)
	assert.NotContains(t, get(t, second, "/api/2.0/mlflow/registered-models/search"), `"M"`, "a fresh registry: no model M")
}

func TestEmbeddedWith(t *testing.T) {
	uri := mlflowtest.EmbeddedWith(t, server.Config{Version: "3.18.0"})
	assert.Equal(t, "3.18.0", get(t, uri, "/version"))
	assert.Contains(t, get(t, mlflowtest.Embedded(t), "/version"), "+playbook", "the default version says it is the embedded server")
}

// EmbeddedWithoutLoggedModels answers the logged-model paths as MLflow 2
// does, and the rest as the embedded server.
func TestEmbeddedWithoutLoggedModels(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.EmbeddedWithoutLoggedModels(t)))
	require.NoError(t, err)
	ok, err := c.LoggedModelsSupported(t.Context(), "0")
	require.NoError(t, err)
	assert.False(t, ok)
	_, err = c.GetExperiment(t.Context(), "0")
	require.NoError(t, err, "the rest is served")
}
