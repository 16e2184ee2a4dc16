package steps

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

// Evidence is kept through unexported methods: cells, which see only the
// exported API, cannot forge the record.
func TestEvidence(t *testing.T) {
	rec := &record.Run{Schema: record.Schema, Cells: []record.Cell{{Step: "s"}}}
	pb, ctl := NewPlaybook(Options{Run: rec})
	ctl.Begin(t.Context(), "s")
	pb.recordCall(record.Call{Method: "POST", Endpoint: "/api/2.0/mlflow/registered-models/alias", Outcome: "ok"})
	pb.recordMetric(record.Metric{Name: "f1", Value: 0.6})
	pb.update(func(r *record.Run) { r.Environment.MLflowVersion = "3.18.0" })
	require.Len(t, rec.Evidence.Calls, 1)
	assert.Equal(t, "s", rec.Evidence.Calls[0].Step)
	assert.False(t, rec.Evidence.Calls[0].Time.IsZero())
	assert.Equal(t, []record.Metric{{Step: "s", Name: "f1", Value: 0.6}}, rec.Evidence.Metrics)
	assert.Equal(t, "3.18.0", rec.Environment.MLflowVersion)

	ctl.Close()
	pb.recordCall(record.Call{Method: "POST"})
	assert.Len(t, rec.Evidence.Calls, 1, "nothing is recorded once the run is closed")
}
