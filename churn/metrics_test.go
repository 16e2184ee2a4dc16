package churn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var inf = math.Inf(1)

// Hand-computed cases. The first is the example of scikit-learn's
// documentation of roc_curve and precision_recall_curve.
func TestCurvesByHand(t *testing.T) {
	tests := []struct {
		name             string
		y, s             []float64
		fpr, tpr, rocThr []float64
		auc              float64
		prec, rec, prThr []float64
	}{
		{
			name: "SklearnDocExample",
			y:    []float64{0, 0, 1, 1}, s: []float64{0.1, 0.4, 0.35, 0.8},
			fpr: []float64{0, 0, 0.5, 0.5, 1}, tpr: []float64{0, 0.5, 0.5, 1, 1}, rocThr: []float64{inf, 0.8, 0.4, 0.35, 0.1},
			auc:  0.75,
			prec: []float64{0.5, 2.0 / 3, 0.5, 1, 1}, rec: []float64{1, 1, 0.5, 0.5, 0}, prThr: []float64{0.1, 0.35, 0.4, 0.8},
		},
		{
			name: "AllTied",
			y:    []float64{0, 1, 0, 1}, s: []float64{0.5, 0.5, 0.5, 0.5},
			fpr: []float64{0, 1}, tpr: []float64{0, 1}, rocThr: []float64{inf, 0.5},
			auc:  0.5,
			prec: []float64{0.5, 1}, rec: []float64{1, 0}, prThr: []float64{0.5},
		},
		{
			// Positives {.9, .5}, negatives {.9, .2, .2}: of the 6 pairs, 4
			// are ordered right and 1 is tied: AUC = 4.5/6.
			name: "PartialTies",
			y:    []float64{1, 0, 1, 0, 0}, s: []float64{0.9, 0.9, 0.5, 0.2, 0.2},
			fpr: []float64{0, 1.0 / 3, 1.0 / 3, 1}, tpr: []float64{0, 0.5, 1, 1}, rocThr: []float64{inf, 0.9, 0.5, 0.2},
			auc:  0.75,
			prec: []float64{0.4, 2.0 / 3, 0.5, 1}, rec: []float64{1, 1, 0.5, 0}, prThr: []float64{0.2, 0.5, 0.9},
		},
		{
			// Six distinct scores, perfectly separated: drop_intermediate
			// keeps the corners (0.9, 0.7) and the end (0.1) only.
			name: "DropIntermediate",
			y:    []float64{1, 1, 1, 0, 0, 0}, s: []float64{0.9, 0.8, 0.7, 0.3, 0.2, 0.1},
			fpr: []float64{0, 0, 0, 1}, tpr: []float64{0, 1.0 / 3, 1, 1}, rocThr: []float64{inf, 0.9, 0.7, 0.1},
			auc:  1,
			prec: []float64{0.5, 0.6, 0.75, 1, 1, 1, 1}, rec: []float64{1, 1, 1, 1, 2.0 / 3, 1.0 / 3, 0}, prThr: []float64{0.1, 0.2, 0.3, 0.7, 0.8, 0.9},
		},
		{
			name: "Reversed",
			y:    []float64{0, 0, 1, 1}, s: []float64{0.9, 0.8, 0.2, 0.1},
			fpr: []float64{0, 0.5, 1, 1}, tpr: []float64{0, 0, 0, 1}, rocThr: []float64{inf, 0.9, 0.8, 0.1},
			auc:  0,
			prec: []float64{0.5, 1.0 / 3, 0, 0, 1}, rec: []float64{1, 0.5, 0, 0, 0}, prThr: []float64{0.1, 0.2, 0.8, 0.9},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fpr, tpr, thr := ROCCurve(tt.y, tt.s)
			assertAllClose(t, tt.fpr, fpr, 1e-15, "fpr")
			assertAllClose(t, tt.tpr, tpr, 1e-15, "tpr")
			assertAllClose(t, tt.rocThr, thr, 0, "roc thresholds")
			auc, err := ROCAUC(tt.y, tt.s)
			require.NoError(t, err)
			assert.InDelta(t, tt.auc, auc, 1e-15)
			prec, rec, prThr := PRCurve(tt.y, tt.s)
			assertAllClose(t, tt.prec, prec, 1e-15, "precision")
			assertAllClose(t, tt.rec, rec, 1e-15, "recall")
			assertAllClose(t, tt.prThr, prThr, 0, "pr thresholds")
		})
	}
}

func TestEvaluateByHand(t *testing.T) {
	y := []float64{0, 0, 1, 1}
	s := []float64{0.1, 0.4, 0.35, 0.8}
	m, err := Evaluate(y, s, 0.5)
	require.NoError(t, err)
	// At 0.5 only 0.8 is predicted positive.
	assert.Equal(t, Confusion{TN: 2, FP: 0, FN: 1, TP: 1}, m.Confusion)
	assert.Equal(t, 4, m.N)
	assert.Equal(t, 2, m.Positives)
	assert.Equal(t, 0.75, m.Accuracy)
	assert.Equal(t, 1.0, m.Precision)
	assert.Equal(t, 0.5, m.Recall)
	assert.InDelta(t, 2.0/3, m.F1, 1e-15)
	assert.InDelta(t, 0.75, m.ROCAUC, 1e-15)
	assert.InDelta(t, -(math.Log(0.9)+math.Log(0.6)+math.Log(0.35)+math.Log(0.8))/4, m.LogLoss, 1e-15)
	assert.InDelta(t, (0.01+0.16+0.4225+0.04)/4, m.Brier, 1e-15)

	t.Run("ThresholdIsInclusive", func(t *testing.T) {
		m, err := Evaluate(y, s, 0.35)
		require.NoError(t, err)
		assert.Equal(t, Confusion{TN: 1, FP: 1, FN: 0, TP: 2}, m.Confusion)
	})
	t.Run("NothingPredictedPositive", func(t *testing.T) {
		m, err := Evaluate(y, s, 0.9)
		require.NoError(t, err)
		assert.Equal(t, 0.0, m.Precision, "zero_division=0")
		assert.Equal(t, 0.0, m.Recall)
		assert.Equal(t, 0.0, m.F1)
	})
	t.Run("LogLossClipsAtEpsilon", func(t *testing.T) {
		// Both predictions certain and wrong: each costs −log(2⁻⁵²).
		m, err := Evaluate([]float64{1, 0}, []float64{0, 1}, 0.5)
		require.NoError(t, err)
		assert.InDelta(t, 52*math.Ln2, m.LogLoss, 1e-12)
		m, err = Evaluate([]float64{1, 0}, []float64{1, 0}, 0.5)
		require.NoError(t, err)
		assert.InDelta(t, -math.Log(1-0x1p-52), m.LogLoss, 1e-30)
	})
	t.Run("Map", func(t *testing.T) {
		mp := m.Map()
		assert.Len(t, mp, 7)
		assert.Equal(t, m.F1, mp["f1"])
		assert.Equal(t, m.ROCAUC, mp["roc_auc"])
	})
}

func TestEvaluateOneClass(t *testing.T) {
	tests := []struct {
		name string
		y    float64
	}{
		{"AllNegative", 0},
		{"AllPositive", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := []float64{tt.y, tt.y, tt.y}
			s := []float64{0.2, 0.7, 0.7}
			m, err := Evaluate(y, s, 0.5)
			require.ErrorIs(t, err, ErrOneClass)
			assert.True(t, math.IsNaN(m.ROCAUC))
			assert.Equal(t, 3, m.N, "the other metrics are returned")
			assert.InDelta(t, b2f(tt.y == 1)*2.0/3+b2f(tt.y == 0)/3, m.Accuracy, 1e-15)
			assert.NotContains(t, m.Map(), "roc_auc")

			auc, err := ROCAUC(y, s)
			assert.ErrorIs(t, err, ErrOneClass)
			assert.True(t, math.IsNaN(auc))

			fpr, tpr, thr := ROCCurve(y, s)
			assert.Equal(t, []float64{inf, 0.7, 0.2}, thr)
			undefined, defined := fpr, tpr
			if tt.y == 0 {
				undefined, defined = tpr, fpr
			}
			for _, v := range undefined {
				assert.True(t, math.IsNaN(v))
			}
			assert.Equal(t, []float64{0, 2.0 / 3, 1}, defined)

			_, rec, _ := PRCurve(y, s)
			if tt.y == 0 {
				assert.Equal(t, []float64{1, 1, 0}, rec, "recall is 1 with no positive, as scikit-learn")
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	tests := []struct {
		name      string
		y, s      []float64
		threshold float64
		is        error
	}{
		{"ErrLength", []float64{0, 1}, []float64{0.5}, 0.5, ErrLength},
		{"ErrEmpty", nil, nil, 0.5, ErrEmpty},
		{"ErrLabel", []float64{0, 2}, []float64{0.5, 0.5}, 0.5, ErrLabel},
		{"ScoreAboveOne", []float64{0, 1}, []float64{0.5, 1.5}, 0.5, ErrScore},
		{"NegativeScore", []float64{0, 1}, []float64{-0.1, 0.5}, 0.5, ErrScore},
		{"NaNScore", []float64{0, 1}, []float64{math.NaN(), 0.5}, 0.5, ErrScore},
		{"NaNThreshold", []float64{0, 1}, []float64{0.2, 0.5}, math.NaN(), ErrScore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Evaluate(tt.y, tt.s, tt.threshold)
			assert.ErrorIs(t, err, tt.is)
			assert.Equal(t, Metrics{}, m)
		})
	}
	t.Run("ROCAUCAcceptsAnyFiniteScore", func(t *testing.T) {
		auc, err := ROCAUC([]float64{0, 1, 0, 1}, []float64{-3, 10, 2, 7})
		require.NoError(t, err)
		assert.Equal(t, 1.0, auc)
		_, err = ROCAUC([]float64{0, 1}, []float64{math.Inf(1), 0})
		assert.ErrorIs(t, err, ErrScore)
	})
	t.Run("CurvesPanicOnLengthMismatch", func(t *testing.T) {
		assert.Panics(t, func() { ROCCurve([]float64{0, 1}, []float64{0.5}) })
		assert.Panics(t, func() { PRCurve([]float64{0, 1}, []float64{0.5}) })
	})
}

// TestROCAUCIsTheRankStatistic checks the AUC of random tied scores
// against its definition: the probability that a random positive outranks a
// random negative, ties counting one half (O(n²) count).
func TestROCAUCIsTheRankStatistic(t *testing.T) {
	r := newRNG(3, 3)
	for trial := range 20 {
		n := 50 + r.intn(200)
		y := make([]float64, n)
		s := make([]float64, n)
		for i := range n {
			y[i] = b2f(r.bernoulli(0.3))
			s[i] = float64(r.intn(10)) / 10 // many ties
		}
		var pairs, wins float64
		for i := range n {
			for j := range n {
				if y[i] == 1 && y[j] == 0 {
					pairs++
					switch {
					case s[i] > s[j]:
						wins++
					case s[i] == s[j]:
						wins += 0.5
					}
				}
			}
		}
		auc, err := ROCAUC(y, s)
		if pairs == 0 {
			assert.ErrorIs(t, err, ErrOneClass)
			continue
		}
		require.NoError(t, err)
		assert.InDelta(t, wins/pairs, auc, 1e-12, "trial %d", trial)
	}
}
