package steps

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServeEnviron: the scoring server gets the interpreter's folder first
// on PATH and the tracking URI, and none of playbook's secrets.
func TestServeEnviron(t *testing.T) {
	t.Setenv("PATH", "/usr/bin:/bin")
	t.Setenv("MLFLOW_TRACKING_TOKEN", "s3cret-token")
	t.Setenv("MLFLOW_TRACKING_PASSWORD", "s3cret-password")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cret-aws")
	env := serveEnviron("/venv/bin/python", "http://127.0.0.1:5000")
	assert.Contains(t, env, "PATH=/venv/bin:/usr/bin:/bin")
	assert.Contains(t, env, "MLFLOW_TRACKING_URI=http://127.0.0.1:5000")
	for _, kv := range env {
		assert.NotContains(t, kv, "s3cret", kv)
		assert.False(t, strings.HasPrefix(kv, "MLFLOW_TRACKING_TOKEN="), kv)
	}
}

// TestServedPrediction: what the scoring server's predictions are read as.
func TestServedPrediction(t *testing.T) {
	proba := &ServedModel{Probabilities: true}
	labels := &ServedModel{}
	for _, tc := range []struct {
		s       *ServedModel
		raw     string
		v       float64
		isLabel bool
	}{
		{proba, `0.25`, 0.25, false},
		{labels, `1`, 1, true},
		{labels, `0`, 0, true},
		{labels, `"Yes"`, 1, true},
		{labels, `"No"`, 0, true},
		{labels, `true`, 1, true},
		{labels, `[0.75, 0.25]`, 0.25, false},
	} {
		v, isLabel, err := tc.s.prediction(json.RawMessage(tc.raw))
		require.NoError(t, err, tc.raw)
		assert.Equal(t, tc.v, v, tc.raw)
		assert.Equal(t, tc.isLabel, isLabel, tc.raw)
	}
	_, _, err := labels.prediction(json.RawMessage(`{"a": 1}`))
	assert.EqualError(t, err, `{"a": 1}: want a probability, a label or a [P(0), P(1)] pair`)
}
