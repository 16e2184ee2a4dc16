package churn

import (
	"context"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// synthetic returns n rows of p standard normal features and labels drawn
// from σ(b + w·x).
func synthetic(n int, b float64, w []float64, seed uint64) (*mat.Dense, []float64) {
	r := newRNG(seed, 99)
	X := mat.NewDense(n, len(w), nil)
	y := make([]float64, n)
	for i := range n {
		row := X.RawRowView(i)
		for j := range row {
			row[j] = r.normal()
		}
		if r.float() < sigmoid(b+floats.Dot(w, row)) {
			y[i] = 1
		}
	}
	return X, y
}

func newObjective(X *mat.Dense, y []float64, l2 float64) *logisticObjective {
	n, p := X.Dims()
	return &logisticObjective{x: rawRowMajor(X), n: n, p: p, y: y, l2: l2,
		grad: make([]float64, p+1), theta: make([]float64, p+1)}
}

func TestLogisticGradientMatchesFiniteDifferences(t *testing.T) {
	// 10,000 rows: three chunks, so the chunked sums are exercised.
	X, y := synthetic(10000, 0.3, []float64{1, -2, 0.5, 0}, 1)
	obj := newObjective(X, y, 0.05)
	theta := []float64{0.1, 0.4, -0.7, 0.2, 1.5}
	obj.eval(theta)
	grad := append([]float64(nil), obj.grad...)
	f0 := obj.f

	// The objective by its definition, computed naively.
	naive := func(th []float64) float64 {
		var loss float64
		for i := range y {
			z := th[0] + floats.Dot(X.RawRowView(i), th[1:])
			p := 1 / (1 + math.Exp(-z))
			loss -= y[i]*math.Log(p) + (1-y[i])*math.Log(1-p)
		}
		return loss/float64(len(y)) + 0.05/2*floats.Dot(th[1:], th[1:])
	}
	assert.InDelta(t, naive(theta), f0, 1e-12, "objective value")
	const h = 1e-6
	for k := range theta {
		plus := append([]float64(nil), theta...)
		minus := append([]float64(nil), theta...)
		plus[k] += h
		minus[k] -= h
		fd := (naive(plus) - naive(minus)) / (2 * h)
		assert.InDelta(t, fd, grad[k], 1e-7, "d/dθ%d", k)
	}
}

func TestTrainLogisticRecoversCoefficients(t *testing.T) {
	wantB, wantW := -0.5, []float64{1, -2, 0.5}
	X, y := synthetic(60000, wantB, wantW, 2)
	m, err := TrainLogistic(X, y, TrainOptions{})
	require.NoError(t, err)
	assert.True(t, m.Info.Converged, "%+v", m.Info)
	assert.Less(t, m.Info.GradNorm, DefaultTolerance)
	assert.Equal(t, 60000, m.Info.Rows)
	assert.InDelta(t, wantB, m.Intercept, 0.05)
	for j := range wantW {
		assert.InDelta(t, wantW[j], m.Coef[j], 0.05, "coef %d", j)
	}
}

func TestTrainLogisticInterceptIsNotPenalised(t *testing.T) {
	X, y := synthetic(5000, 1.2, []float64{2, 1}, 3)
	m, err := TrainLogistic(X, y, TrainOptions{L2: 1e6})
	require.NoError(t, err)
	mean := floats.Sum(y) / float64(len(y))
	// With w crushed to ~0 the optimum intercept is the log-odds of the
	// mean label: a penalised intercept would be pulled towards 0.
	assert.InDelta(t, math.Log(mean/(1-mean)), m.Intercept, 1e-4)
	assert.Less(t, floats.Norm(m.Coef, 2), 1e-5)

	t.Run("PenaltyShrinks", func(t *testing.T) {
		var norms []float64
		for _, l2 := range []float64{0, 0.01, 0.1, 1} {
			m, err := TrainLogistic(X, y, TrainOptions{L2: l2})
			require.NoError(t, err)
			norms = append(norms, floats.Norm(m.Coef, 2))
		}
		for i := 1; i < len(norms); i++ {
			assert.Less(t, norms[i], norms[i-1])
		}
	})
}

func TestTrainLogisticIsStable(t *testing.T) {
	t.Run("SeparableWithoutPenalty", func(t *testing.T) {
		X := mat.NewDense(6, 1, []float64{-3, -2, -1, 1, 2, 3})
		y := []float64{0, 0, 0, 1, 1, 1}
		m, err := TrainLogistic(X, y, TrainOptions{MaxIterations: 50})
		require.NoError(t, err)
		assert.False(t, math.IsNaN(m.Coef[0]) || math.IsInf(m.Coef[0], 0))
		assert.Greater(t, m.Coef[0], 5.0, "grows without bound")
		assert.Less(t, m.Info.Objective, 1e-3)
		assert.False(t, math.IsNaN(m.Info.Objective))
		p := m.PredictProba(X)
		for i := range p {
			assert.Equal(t, y[i], math.Round(p[i]))
		}
	})
	t.Run("HugeFeatures", func(t *testing.T) {
		X, y := synthetic(2000, 0, []float64{1, -1}, 4)
		X.Scale(1e4, X)
		m, err := TrainLogistic(X, y, TrainOptions{L2: 1e-3})
		require.NoError(t, err)
		assert.False(t, math.IsNaN(m.Info.Objective) || math.IsInf(m.Info.Objective, 0))
		obj := newObjective(X, y, 0)
		obj.eval([]float64{0, 10, -10}) // scores of ±1e5 and more
		assert.False(t, math.IsInf(obj.f, 0) || math.IsNaN(obj.f), "loss %v", obj.f)
		assert.False(t, floats.HasNaN(obj.grad))
	})
}

func TestTrainLogisticIsDeterministic(t *testing.T) {
	X, y := synthetic(20000, 0.1, []float64{0.5, -0.3, 0.8}, 5)
	prev := runtime.GOMAXPROCS(1)
	one, err := TrainLogistic(X, y, TrainOptions{L2: 1e-3})
	runtime.GOMAXPROCS(4)
	four, err2 := TrainLogistic(X, y, TrainOptions{L2: 1e-3})
	runtime.GOMAXPROCS(prev)
	require.NoError(t, err)
	require.NoError(t, err2)
	assert.Equal(t, one, four, "same coefficients whatever the number of goroutines")

	t.Run("AnyMatrix", func(t *testing.T) {
		// The transpose of the transpose is not a *mat.Dense.
		var T mat.Dense
		T.CloneFrom(X.T())
		m, err := TrainLogistic(T.T(), y, TrainOptions{L2: 1e-3})
		require.NoError(t, err)
		assert.Equal(t, one.Coef, m.Coef)
	})
}

func TestTrainLogisticErrors(t *testing.T) {
	X := mat.NewDense(3, 2, []float64{1, 2, 3, 4, 5, 6})
	tests := []struct {
		name string
		X    mat.Matrix
		y    []float64
		opts TrainOptions
		is   error
		msg  string
	}{
		{"ErrEmpty", &mat.Dense{}, nil, TrainOptions{}, ErrEmpty, ""},
		{"ErrLength", X, []float64{0, 1}, TrainOptions{}, ErrLength, "X has 3 rows, y 2 labels"},
		{"ErrLabel", X, []float64{0, 2, 1}, TrainOptions{}, ErrLabel, "y[1] = 2"},
		{"NaNFeature", mat.NewDense(2, 1, []float64{1, math.NaN()}), []float64{0, 1}, TrainOptions{}, nil, "row 1 of X is not finite"},
		{"InfFeature", mat.NewDense(2, 1, []float64{math.Inf(-1), 1}), []float64{0, 1}, TrainOptions{}, nil, "row 0 of X is not finite"},
		{"NegativeL2", X, []float64{0, 1, 1}, TrainOptions{L2: -1}, nil, "L2 -1"},
		{"NaNL2", X, []float64{0, 1, 1}, TrainOptions{L2: math.NaN()}, nil, "L2 NaN"},
		{"NegativeIterations", X, []float64{0, 1, 1}, TrainOptions{MaxIterations: -2}, nil, "MaxIterations -2"},
		{"NegativeTolerance", X, []float64{0, 1, 1}, TrainOptions{Tolerance: -1e-3}, nil, "Tolerance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := TrainLogistic(tt.X, tt.y, tt.opts)
			require.Error(t, err)
			assert.Nil(t, m)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestTrainLogisticHonoursTheContext(t *testing.T) {
	X, y := synthetic(50000, 0.1, []float64{0.5, -0.3, 0.8}, 6)
	t.Run("AlreadyCancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := TrainLogisticContext(ctx, X, y, TrainOptions{})
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("CancelledDuringTraining", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		// Training checks ctx once before starting and after each
		// evaluation: cancel at the 5th check, after 4 evaluations.
		checks := 0
		m, err := TrainLogisticContext(&countingContext{Context: ctx, after: 5, cancel: cancel, n: &checks}, X, y, TrainOptions{Tolerance: 1e-12})
		assert.ErrorIs(t, err, context.Canceled)
		assert.Nil(t, m)
		assert.LessOrEqual(t, checks, 6, "no evaluation after the cancellation, then one final check")
	})
	t.Run("Fit", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := FitContext(ctx, GenerateDataset(100, 1), TrainOptions{})
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// countingContext cancels itself on its after-th call to Err.
type countingContext struct {
	context.Context
	after  int
	n      *int
	cancel context.CancelFunc
}

func (c *countingContext) Err() error {
	*c.n++
	if *c.n == c.after {
		c.cancel()
	}
	return c.Context.Err()
}

func TestModel(t *testing.T) {
	train, valid := StratifiedSplit(GenerateDataset(4000, 12), 0.25, 1)
	m, err := Fit(train, TrainOptions{L2: 1e-3})
	require.NoError(t, err)
	assert.Equal(t, DefaultThreshold, m.Threshold)
	assert.Equal(t, TrainOptions{L2: 1e-3, MaxIterations: DefaultMaxIterations, Tolerance: DefaultTolerance}, m.Options)

	proba := m.PredictProba(valid)
	t.Run("PredictProbaIsEncoderThenLogistic", func(t *testing.T) {
		assert.Equal(t, m.Logistic.PredictProba(m.Encoder.Transform(valid)), proba)
	})
	t.Run("PredictOne", func(t *testing.T) {
		for i, c := range valid.Customers[:50] {
			assert.Equal(t, proba[i], m.PredictOne(c))
		}
	})
	t.Run("PredictAtThreshold", func(t *testing.T) {
		m2 := *m
		m2.Threshold = proba[7]
		pred := m2.Predict(valid)
		for i, p := range proba {
			assert.Equal(t, p >= proba[7], pred[i] == 1, "row %d", i)
		}
		assert.Equal(t, 1, pred[7], "a probability equal to the threshold predicts churn")
	})
	t.Run("Evaluate", func(t *testing.T) {
		got, err := m.Evaluate(valid)
		require.NoError(t, err)
		want, err := Evaluate(valid.Labels(), proba, 0.5)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		t.Logf("generated data, 3000/1000 split: AUC %.4f, F1 %.4f", got.ROCAUC, got.F1)
		assert.Greater(t, got.ROCAUC, 0.78)
	})
	t.Run("Fairness", func(t *testing.T) {
		got, err := m.Fairness(valid, AttrSeniorCitizen)
		require.NoError(t, err)
		groups, _ := valid.Groups(AttrSeniorCitizen)
		want, err := FairnessByGroup(valid.Labels(), m.Predict(valid), groups)
		require.NoError(t, err)
		want.Attribute = AttrSeniorCitizen
		assert.Equal(t, want, got)
		_, err = m.Fairness(valid, "Contract")
		assert.Error(t, err)
	})
	t.Run("Coefficients", func(t *testing.T) {
		coef := m.Coefficients()
		assert.Len(t, coef, m.Encoder.NumFeatures()+1)
		assert.Equal(t, m.Logistic.Intercept, coef["(intercept)"])
	})
	t.Run("ErrEmpty", func(t *testing.T) {
		_, err := Fit(&Dataset{Name: "empty.csv"}, TrainOptions{})
		assert.ErrorIs(t, err, ErrEmpty)
		assert.Contains(t, err.Error(), "empty.csv")
	})
}
