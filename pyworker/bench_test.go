package pyworker_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
)

// BenchmarkPredictProba100k scores 100,000 rows of a scikit-learn pipeline
// through the worker (Arrow out, float64 back) and reports, measured in
// the same calls, the time spent in the model's own predict_proba inside
// Python (predict-ns/op) and the ratio of the whole call to it
// (overhead-x, target ≤ 1.5).
func BenchmarkPredictProba100k(b *testing.B) {
	py := testenv.Python(b)
	dir, ref := sklearnModel(b, py, 100_000)
	w := startWorker(b, py)
	m, err := w.Load(dir)
	require.NoError(b, err)
	f := ref.frame()
	var inside time.Duration
	b.ResetTimer()
	for b.Loop() {
		_, err := m.PredictProba(f, "1")
		require.NoError(b, err)
		inside += m.LastPredictTime()
	}
	b.StopTimer()
	perOp := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(inside.Nanoseconds())/float64(b.N), "predict-ns/op")
	b.ReportMetric(float64(perOp)/(float64(inside)/float64(b.N)), "overhead-x")
}

// BenchmarkStart measures a worker's start: Python, mlflow and pyarrow
// imported, the first answer read.
func BenchmarkStart(b *testing.B) {
	py := testenv.Python(b)
	for b.Loop() {
		w := startWorker(b, py)
		require.NoError(b, w.Close())
	}
}

// BenchmarkWriteArrow100k is the Go side of the transport: 100,000 rows
// of a float, an int and a string column as an Arrow IPC stream.
func BenchmarkWriteArrow100k(b *testing.B) {
	py := testenv.Python(b)
	_, ref := sklearnModel(b, py, 100_000)
	f := ref.frame()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		require.NoError(b, f.WriteArrow(&buf))
	}
	b.SetBytes(int64(buf.Len()))
}
