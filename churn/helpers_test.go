package churn

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"gonum.org/v1/gonum/mat"
)

func nan() float64 { return math.NaN() }

// assertClose asserts |got − want| ≤ tol, NaN matching NaN and infinities
// matching themselves.
func assertClose(t *testing.T, want, got, tol float64, what string, args ...any) bool {
	t.Helper()
	switch {
	case math.IsNaN(want) || math.IsNaN(got):
		return assert.True(t, math.IsNaN(want) && math.IsNaN(got), append([]any{what + ": want %v, got %v"}, append(args, want, got)...)...)
	case math.IsInf(want, 0) || math.IsInf(got, 0):
		return assert.Equal(t, want, got, append([]any{what}, args...)...)
	}
	return assert.InDelta(t, want, got, tol, append([]any{what}, args...)...)
}

// assertAllClose compares two slices element-wise, lengths first.
func assertAllClose(t *testing.T, want, got []float64, tol float64, what string) {
	t.Helper()
	if !assert.Len(t, got, len(want), "%s: length", what) {
		return
	}
	for i := range want {
		if !assertClose(t, want[i], got[i], tol, "%s[%d]", what, i) {
			return
		}
	}
}

func jsonMarshalForTest(v any) ([]byte, error) { return json.Marshal(v) }

// denseFromRows builds a matrix from its rows.
func denseFromRows(rows [][]float64) *mat.Dense {
	X := mat.NewDense(len(rows), len(rows[0]), nil)
	for i, r := range rows {
		X.SetRow(i, r)
	}
	return X
}
