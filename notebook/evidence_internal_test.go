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
