package notebook

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

// Evidence is kept through package-level functions, which cells cannot
// reach (runner's TestCellsCannotWriteEvidence): they record, stamped.
func TestEvidence(t *testing.T) {
	rec := &record.Run{Schema: record.Schema, Cells: []record.Cell{{Step: "s"}}}
	pb, ctl := New(Options{Run: rec})
	ctl.Begin(t.Context(), "s")
	RecordCall(pb, record.Call{Method: "POST", Endpoint: "/api/2.0/mlflow/registered-models/alias", Outcome: "ok"})
	RecordMetric(pb, record.Metric{Name: "f1", Value: 0.6})
	Update(pb, func(r *record.Run) { r.Environment.MLflowVersion = "3.18.0" })
	require.Len(t, rec.Evidence.Calls, 1)
	assert.Equal(t, "s", rec.Evidence.Calls[0].Step)
	assert.False(t, rec.Evidence.Calls[0].Time.IsZero())
	assert.Equal(t, []record.Metric{{Step: "s", Name: "f1", Value: 0.6}}, rec.Evidence.Metrics)
	assert.Equal(t, "3.18.0", rec.Environment.MLflowVersion)

	ctl.Close()
	RecordCall(pb, record.Call{Method: "POST"})
	assert.Len(t, rec.Evidence.Calls, 1, "nothing is recorded once the run is closed")
}

// OnClose's functions run once, at Close, last registered first, while
// they may still keep evidence; one registered after Close runs at once.
func TestOnClose(t *testing.T) {
	rec := &record.Run{Schema: record.Schema, Cells: []record.Cell{{Step: "s"}}}
	pb, ctl := New(Options{Run: rec})
	var order []string
	OnClose(pb, func() { order = append(order, "first") })
	OnClose(pb, func() {
		order = append(order, "second")
		Update(pb, func(r *record.Run) { r.Evidence.Served = append(r.Evidence.Served, record.Served{URI: "models:/m@a"}) })
	})
	assert.Empty(t, order, "not before Close")
	ctl.Close()
	assert.Equal(t, []string{"second", "first"}, order)
	require.Len(t, rec.Evidence.Served, 1, "kept before the record closed")
	ctl.Close()
	assert.Len(t, order, 2, "once")
	OnClose(pb, func() { order = append(order, "late") })
	assert.Equal(t, []string{"second", "first", "late"}, order)
}

// InterpreterOf finds the interpreter once; a run without one says so.
func TestInterpreterOf(t *testing.T) {
	calls := 0
	pb, _ := New(Options{Interpreter: func() (string, error) { calls++; return "/venv/bin/python", nil }})
	for range 2 {
		py, err := InterpreterOf(pb)
		require.NoError(t, err)
		assert.Equal(t, "/venv/bin/python", py)
	}
	assert.Equal(t, 1, calls)
	pb, _ = New(Options{})
	_, err := InterpreterOf(pb)
	assert.ErrorIs(t, err, ErrNoInterpreter)
}
