package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTracesNotServed: every trace endpoint, with any method, is MLflow's
// NOT_IMPLEMENTED (501) JSON error; neighbouring paths stay 404 pages.
func TestTracesNotServed(t *testing.T) {
	s, err := Open(context.Background(), Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	defer s.Close()
	for _, c := range []struct{ method, path string }{
		{"POST", "/api/3.0/mlflow/traces"},
		{"POST", "/api/3.0/mlflow/traces/search"},
		{"GET", "/api/3.0/mlflow/traces/tr-123"},
		{"POST", "/api/2.0/mlflow/traces"},
		{"PATCH", "/api/2.0/mlflow/traces/tr-1/tags"},
		{"POST", "/v1/traces"},
	} {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest(c.method, c.path, strings.NewReader("{}")))
		assert.Equal(t, http.StatusNotImplemented, w.Code, c.path)
		var body map[string]string
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), c.path)
		assert.Equal(t, "NOT_IMPLEMENTED", body["error_code"], c.path)
		assert.Contains(t, body["message"], "Traces are not supported", c.path)
		assert.NotContains(t, body, "error_class", "MLflow classifies no NOT_IMPLEMENTED error")
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/3.0/mlflow/tracesx", nil))
	assert.Equal(t, http.StatusNotFound, w.Code)
}

// TestSampleIndices: MLflow's NTILE sampling of a history, the last point
// always kept.
func TestSampleIndices(t *testing.T) {
	keys := func(m map[int64]bool) []int64 {
		var out []int64
		for i := range int64(100) {
			if m[i] {
				out = append(out, i)
			}
		}
		return out
	}
	assert.Empty(t, keys(sampleIndices(0, 5)))
	assert.Equal(t, []int64{0, 1, 2}, keys(sampleIndices(3, 5)))
	assert.Equal(t, []int64{10}, keys(sampleIndices(11, 1)))
	assert.Equal(t, []int64{0, 4, 10}, keys(sampleIndices(11, 3)), "buckets of 4, 4, 3; the last replaced")
	assert.Equal(t, []int64{0, 2, 3, 4, 5, 6, 7, 8, 9, 10}, keys(sampleIndices(11, 10)), "buckets of 2, then 1")
}

// TestIntegrityError: SQLAlchemy's message, one row as a tuple, several
// as a list.
func TestIntegrityError(t *testing.T) {
	one := uniqueError("t.a", "INSERT INTO t (a) VALUES (?)", [][]any{{"x'y", int64(3)}})
	assert.Equal(t, "(sqlite3.IntegrityError) UNIQUE constraint failed: t.a\n[SQL: INSERT INTO t (a) VALUES (?)]\n[parameters: (\"x'y\", 3)]\n(Background on this error at: https://sqlalche.me/e/21/gkpj)", one.Message)
	two := uniqueError("t.a", "INSERT", [][]any{{"a"}, {"b"}})
	assert.Contains(t, two.Message, "[parameters: [('a',), ('b',)]]")
	assert.Equal(t, "BAD_REQUEST", two.Code)
}
