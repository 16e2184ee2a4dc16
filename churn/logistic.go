package churn

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// Defaults of TrainOptions' zero fields.
const (
	DefaultMaxIterations = 1000
	DefaultTolerance     = 1e-6
)

// TrainOptions configures [TrainLogistic] and [Fit].
type TrainOptions struct {
	// L2 is the ridge penalty λ ≥ 0 of the objective
	//
	//	(1/n) Σᵢ logloss(yᵢ, b + w·xᵢ) + (λ/2) ‖w‖²
	//
	// on the mean loss, the intercept b not penalised. It is the same model
	// as scikit-learn's LogisticRegression(C=c) on the same features with
	// λ = 1/(c·n), n the number of training rows. 0 means no penalty (then
	// separable data have no finite optimum and training stops at
	// MaxIterations).
	L2 float64 `json:"l2"`
	// MaxIterations bounds the L-BFGS iterations; 0 means
	// DefaultMaxIterations.
	MaxIterations int `json:"max_iterations"`
	// Tolerance stops training when the largest component of the
	// objective's gradient is below it; 0 means DefaultTolerance.
	Tolerance float64 `json:"tolerance"`
}

// withDefaults returns o with zero fields set to their defaults, or an error
// for a negative or non-finite field.
func (o TrainOptions) withDefaults() (TrainOptions, error) {
	if !(o.L2 >= 0) || math.IsInf(o.L2, 0) {
		return o, fmt.Errorf("churn: TrainOptions.L2 %v: want a finite value ≥ 0", o.L2)
	}
	if o.MaxIterations < 0 {
		return o, fmt.Errorf("churn: TrainOptions.MaxIterations %d: want ≥ 0", o.MaxIterations)
	}
	if !(o.Tolerance >= 0) || math.IsInf(o.Tolerance, 0) {
		return o, fmt.Errorf("churn: TrainOptions.Tolerance %v: want a finite value ≥ 0", o.Tolerance)
	}
	if o.MaxIterations == 0 {
		o.MaxIterations = DefaultMaxIterations
	}
	if o.Tolerance == 0 {
		o.Tolerance = DefaultTolerance
	}
	return o, nil
}

// LogisticModel is a fitted logistic regression: P(y=1 | x) = σ(b + w·x).
type LogisticModel struct {
	Intercept float64   `json:"intercept"`
	Coef      []float64 `json:"coef"`
	Info      TrainInfo `json:"info"`
}

// TrainInfo says how training went.
type TrainInfo struct {
	Rows        int `json:"rows"`
	Iterations  int `json:"iterations"`
	Evaluations int `json:"evaluations"`
	// Status is gonum/optimize's termination status, e.g.
	// "GradientThreshold" (converged) or "IterationLimit".
	Status string `json:"status"`
	// Converged reports that training met its tolerance (or stopped because
	// the objective no longer decreased), not a limit.
	Converged bool `json:"converged"`
	// Objective is the final value of the penalised mean loss, GradNorm the
	// largest component of its gradient.
	Objective float64 `json:"objective"`
	GradNorm  float64 `json:"grad_norm"`
}

// TrainLogistic fits an L2-regularised logistic regression of y (0 or 1) on
// the rows of X by minimising the objective documented in [TrainOptions]
// with L-BFGS (gonum/optimize) and its analytic gradient, from the
// intercept-only model (zero coefficients, the intercept at the log-odds of
// the mean label). The loss is computed as softplus(z) − y·z with a stable
// softplus, so no score overflows.
//
// X must hold at least one row, finite values, and as many rows as y. When
// training hits MaxIterations the model is still returned, with
// Info.Converged false.
func TrainLogistic(X mat.Matrix, y []float64, opts TrainOptions) (*LogisticModel, error) {
	return TrainLogisticContext(context.Background(), X, y, opts)
}

// TrainLogisticContext is TrainLogistic stopped by ctx: when ctx is done it
// returns an error wrapping ctx.Err() after at most one more evaluation of
// the objective (one pass over the rows).
func TrainLogisticContext(ctx context.Context, X mat.Matrix, y []float64, opts TrainOptions) (*LogisticModel, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("churn: TrainLogistic: %w", err)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	n, p := X.Dims()
	switch {
	case n == 0:
		return nil, fmt.Errorf("churn: TrainLogistic: %w", ErrEmpty)
	case len(y) != n:
		return nil, fmt.Errorf("churn: TrainLogistic: %w: X has %d rows, y %d labels", ErrLength, n, len(y))
	}
	for i, v := range y {
		if v != 0 && v != 1 {
			return nil, fmt.Errorf("churn: TrainLogistic: y[%d] = %v: %w", i, v, ErrLabel)
		}
	}
	raw := rawRowMajor(X)
	for i := range n {
		if row := raw.Data[i*raw.Stride : i*raw.Stride+p]; floats.HasNaN(row) || hasInf(row) {
			return nil, fmt.Errorf("churn: TrainLogistic: row %d of X is not finite", i)
		}
	}

	obj := &logisticObjective{x: raw, n: n, p: p, y: y, l2: opts.L2,
		grad: make([]float64, p+1), theta: make([]float64, p+1)}
	problem := optimize.Problem{
		Func: func(theta []float64) float64 {
			obj.eval(theta)
			return obj.f
		},
		Grad: func(grad, theta []float64) {
			obj.eval(theta)
			copy(grad, obj.grad)
		},
		Status: func() (optimize.Status, error) {
			if err := ctx.Err(); err != nil {
				return optimize.Failure, err
			}
			return optimize.NotTerminated, nil
		},
	}
	settings := &optimize.Settings{
		GradientThreshold: opts.Tolerance,
		MajorIterations:   opts.MaxIterations,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-15, Relative: 1e-13, Iterations: 20},
	}
	// Start from the intercept-only model: the log-odds of the base rate.
	init := make([]float64, p+1)
	if mean := floats.Sum(y) / float64(n); mean > 0 && mean < 1 {
		init[0] = math.Log(mean / (1 - mean))
	}
	res, err := optimize.Minimize(problem, init, settings, &optimize.LBFGS{})
	if res == nil {
		return nil, fmt.Errorf("churn: TrainLogistic: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("churn: TrainLogistic: %w", err)
	}
	obj.eval(res.X)
	gradNorm := floats.Norm(obj.grad, math.Inf(1))
	if err != nil && !(gradNorm < math.Sqrt(opts.Tolerance)) {
		// A line search that fails far from the optimum is an error; one that
		// fails at it (the objective flat to rounding) is not.
		return nil, fmt.Errorf("churn: TrainLogistic: %w (gradient norm %.3g)", err, gradNorm)
	}
	converged := err == nil && !res.Status.Early() || gradNorm < opts.Tolerance
	m := &LogisticModel{
		Intercept: res.X[0],
		Coef:      append([]float64(nil), res.X[1:]...),
		Info: TrainInfo{
			Rows:        n,
			Iterations:  res.MajorIterations,
			Evaluations: res.FuncEvaluations,
			Status:      res.Status.String(),
			Converged:   converged,
			Objective:   obj.f,
			GradNorm:    gradNorm,
		},
	}
	return m, nil
}

// rawRowMajor returns X's data in row-major order, copying only when X is
// not a *mat.Dense.
func rawRowMajor(X mat.Matrix) blas64.General {
	d, ok := X.(*mat.Dense)
	if !ok {
		d = mat.DenseCopyOf(X)
	}
	return d.RawMatrix()
}

func hasInf(x []float64) bool {
	for _, v := range x {
		if math.IsInf(v, 0) {
			return true
		}
	}
	return false
}

// chunkRows is the number of rows of a unit of work of the objective. The
// partial sums of each chunk are added in chunk order, so the result does not
// depend on how many goroutines computed them.
const chunkRows = 4096

// logisticObjective evaluates the objective and its gradient together and
// remembers the last point, since L-BFGS asks for both at the same point.
type logisticObjective struct {
	x     blas64.General
	n, p  int
	y     []float64
	l2    float64
	theta []float64 // last point evaluated: intercept, then coefficients
	f     float64
	grad  []float64
	valid bool
	// partial[k] holds chunk k's loss, then its gradient (p+1 values).
	partial [][]float64
}

// eval computes f and grad at theta (intercept first) unless theta is the
// last point evaluated: one pass over the rows, split in chunks computed by
// up to GOMAXPROCS goroutines, with no allocation but the goroutines'.
func (o *logisticObjective) eval(theta []float64) {
	if o.valid && floats.Equal(theta, o.theta) {
		return
	}
	copy(o.theta, theta)
	o.valid = true
	chunks := (o.n + chunkRows - 1) / chunkRows
	if o.partial == nil {
		o.partial = make([][]float64, chunks)
		for k := range o.partial {
			o.partial[k] = make([]float64, o.p+2)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), chunks)
	if workers <= 1 {
		for k := range chunks {
			o.chunk(k, theta)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for k := int(next.Add(1) - 1); k < chunks; k = int(next.Add(1) - 1) {
					o.chunk(k, theta)
				}
			})
		}
		wg.Wait()
	}
	var loss float64
	clear(o.grad)
	for _, part := range o.partial {
		loss += part[0]
		floats.Add(o.grad, part[1:])
	}
	w := theta[1:]
	gw := o.grad[1:]
	inv := 1 / float64(o.n)
	o.f = loss*inv + 0.5*o.l2*floats.Dot(w, w)
	floats.Scale(inv, o.grad)
	floats.AddScaled(gw, o.l2, w)
}

// chunk computes the loss and the gradient of the unpenalised loss summed
// over the rows of chunk k, into o.partial[k].
func (o *logisticObjective) chunk(k int, theta []float64) {
	out := o.partial[k]
	clear(out)
	gb, gw := &out[1], out[2:]
	b, w := theta[0], theta[1:]
	var loss float64
	for i := k * chunkRows; i < min((k+1)*chunkRows, o.n); i++ {
		row := o.x.Data[i*o.x.Stride : i*o.x.Stride+o.p]
		z := b + floats.Dot(row, w)
		yi := o.y[i]
		// softplus(z) = log(1+e^z) and σ(z), from one exponential.
		var sp, s float64
		if z > 0 {
			e := math.Exp(-z)
			sp = z + math.Log1p(e)
			s = 1 / (1 + e)
		} else {
			e := math.Exp(z)
			sp = math.Log1p(e)
			s = e / (1 + e)
		}
		loss += sp - yi*z
		r := s - yi
		*gb += r
		floats.AddScaled(gw, r, row)
	}
	out[0] = loss
}

// Decision returns b + w·x.
func (m *LogisticModel) Decision(x []float64) float64 {
	return m.Intercept + floats.Dot(m.Coef, x)
}

// Proba returns σ(b + w·x), the probability of class 1.
func (m *LogisticModel) Proba(x []float64) float64 {
	return sigmoid(m.Decision(x))
}

// PredictProba returns the probability of class 1 for each row of X.
func (m *LogisticModel) PredictProba(X mat.Matrix) []float64 {
	n, _ := X.Dims()
	out := make([]float64, n)
	if n == 0 {
		return out
	}
	raw := rawRowMajor(X)
	p := len(m.Coef)
	for i := range out {
		out[i] = m.Proba(raw.Data[i*raw.Stride : i*raw.Stride+p])
	}
	return out
}
