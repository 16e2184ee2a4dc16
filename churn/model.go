package churn

import (
	"context"
	"fmt"
	"math"
)

// DefaultThreshold is the probability at or above which a model predicts
// churn, unless its Threshold says otherwise.
const DefaultThreshold = 0.5

// Model is a churn model ready to score customers: the feature encoding, the
// logistic regression, and the decision threshold. It serialises to JSON
// (model.json in its MLflow artifact: see [SaveModel]).
type Model struct {
	Encoder  *Encoder       `json:"encoder"`
	Logistic *LogisticModel `json:"logistic"`
	// Threshold: a customer whose churn probability is ≥ Threshold is
	// predicted to churn.
	Threshold float64 `json:"threshold"`
	// Options are the options the model was trained with.
	Options TrainOptions `json:"training_options"`
}

// Fit learns a model from a training set: [FitEncoder], then
// [TrainLogistic] on the encoded rows; the threshold is DefaultThreshold.
func Fit(train *Dataset, opts TrainOptions) (*Model, error) {
	return FitContext(context.Background(), train, opts)
}

// FitContext is Fit stopped by ctx (see [TrainLogisticContext]).
func FitContext(ctx context.Context, train *Dataset, opts TrainOptions) (*Model, error) {
	if train.Len() == 0 {
		return nil, fmt.Errorf("churn: Fit %s: %w", train.Name, ErrEmpty)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	enc := FitEncoder(train)
	lm, err := TrainLogisticContext(ctx, enc.Transform(train), train.Labels(), opts)
	if err != nil {
		return nil, err
	}
	return &Model{Encoder: enc, Logistic: lm, Threshold: DefaultThreshold, Options: opts}, nil
}

// PredictProba returns each customer's probability of churn.
func (m *Model) PredictProba(d *Dataset) []float64 {
	out := make([]float64, len(d.Customers))
	cols := m.Encoder.columns()
	x := make([]float64, m.Encoder.NumFeatures())
	for i := range d.Customers {
		m.Encoder.encodeInto(&d.Customers[i], cols, x)
		out[i] = m.Logistic.Proba(x)
	}
	return out
}

// PredictOne returns one customer's probability of churn.
func (m *Model) PredictOne(c Customer) float64 {
	return m.Logistic.Proba(m.Encoder.TransformOne(c))
}

// Predict returns each customer's predicted label: 1 (churn) when the
// probability is ≥ m.Threshold, else 0.
func (m *Model) Predict(d *Dataset) []int {
	return Threshold(m.PredictProba(d), m.Threshold)
}

// Threshold returns 1 for each score ≥ threshold, else 0.
func Threshold(scores []float64, threshold float64) []int {
	out := make([]int, len(scores))
	for i, s := range scores {
		if s >= threshold {
			out[i] = 1
		}
	}
	return out
}

// Evaluate scores d with the model and returns [Evaluate] of its labels at
// the model's threshold.
func (m *Model) Evaluate(d *Dataset) (Metrics, error) {
	return Evaluate(d.Labels(), m.PredictProba(d), m.Threshold)
}

// Fairness returns [FairnessByGroup] of the model's predictions on d, by the
// protected attribute attr ("gender" or "SeniorCitizen").
func (m *Model) Fairness(d *Dataset, attr string) (Fairness, error) {
	return FairnessOf(d, m.Predict(d), attr)
}

// Coefficients returns the model's coefficients by feature name (the
// intercept under "(intercept)"), for reports.
func (m *Model) Coefficients() map[string]float64 {
	out := map[string]float64{"(intercept)": m.Logistic.Intercept}
	for i, name := range m.Encoder.FeatureNames() {
		out[name] = m.Logistic.Coef[i]
	}
	return out
}

// validate checks a model read from a file.
func (m *Model) validate() error {
	if m.Encoder == nil || m.Logistic == nil {
		return ErrNotFitted
	}
	if err := m.Encoder.validate(); err != nil {
		return err
	}
	if p := m.Encoder.NumFeatures(); len(m.Logistic.Coef) != p {
		return fmt.Errorf("the encoder makes %d features but the model has %d coefficients", p, len(m.Logistic.Coef))
	}
	if !isFinite(m.Logistic.Intercept) {
		return fmt.Errorf("intercept %v is not finite", m.Logistic.Intercept)
	}
	for i, v := range m.Logistic.Coef {
		if !isFinite(v) {
			return fmt.Errorf("coefficient %d is %v, not finite", i, v)
		}
	}
	if !(m.Threshold >= 0 && m.Threshold <= 1) {
		return fmt.Errorf("threshold %v is not in [0, 1]", m.Threshold)
	}
	return nil
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
