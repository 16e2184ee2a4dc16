package steps

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
