package churn

import (
	"testing"
)

// benchScores returns n labels (27 % positive) and probabilities with ties
// (rounded to 1e-4), informative about the label.
func benchScores(n int) (y, scores []float64) {
	r := newRNG(1, 5)
	y = make([]float64, n)
	scores = make([]float64, n)
	for i := range n {
		if r.bernoulli(0.27) {
			y[i] = 1
		}
		p := sigmoid(1.5*y[i] - 1 + r.normal())
		scores[i] = float64(int(p*1e4)) / 1e4
	}
	return y, scores
}

// BenchmarkEvaluate1M: every metric (confusion, F1, ROC AUC, log loss...)
// of a million scored rows.
func BenchmarkEvaluate1M(b *testing.B) {
	y, s := benchScores(1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Evaluate(y, s, 0.5); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkROCAUC1M: the ROC AUC alone of a million rows.
func BenchmarkROCAUC1M(b *testing.B) {
	y, s := benchScores(1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ROCAUC(y, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrain100k: Fit (encoding and L-BFGS) on 100,000 generated
// customers.
func BenchmarkTrain100k(b *testing.B) {
	d := GenerateDataset(100_000, 1)
	b.ReportAllocs()
	for b.Loop() {
		m, err := Fit(d, TrainOptions{L2: 1e-4})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(m.Logistic.Info.Evaluations), "evals/op")
	}
}

// BenchmarkGenerate: 100,000 synthetic customers.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Generate(100_000, 1)
	}
}
