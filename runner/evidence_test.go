package runner

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

// TestCellsCannotWriteEvidence: the evidence (registry calls, metrics,
// snapshots, checks) is written by the steps through package notebook's
// functions, which no cell can reach: not as methods of pb (yaegi finds
// only exported methods), not by importing notebook, not through steps. A
// cell that tries fails at its line, whether it is checked or run, and the
// evidence stays empty.
func TestCellsCannotWriteEvidence(t *testing.T) {
	tests := []struct {
		name string
		code string
		err  string // in the error, after "testdata/inline.md:LINE: step s: "
		// runOnly: playbook check compiles the cell; running it fails
		// (reflect refuses to set or read an unexported field).
		runOnly bool
	}{
		{name: "Update", code: `pb.update(func(r *record.Run) { r.Evidence.Calls = append(r.Evidence.Calls, record.Call{}) })`},
		{name: "RecordCall", code: `pb.recordCall(record.Call{Method: "POST"})`},
		{name: "RecordMetric", code: `pb.recordMetric(record.Metric{Name: "f1", Value: 1})`},
		{name: "AddOutput", code: `pb.addOutput(record.Output{})`},
		{name: "FieldWrite", code: `pb.run.Evidence.Calls = append(pb.run.Evidence.Calls, record.Call{Method: "FORGED"})`, runOnly: true},
		{name: "FieldSet", code: `pb.run.Environment.User = "forged"`, runOnly: true},
		{name: "Interface", code: "var w interface{ recordCall(record.Call) } = pb\nw.recordCall(record.Call{})", runOnly: true},
		{name: "ImportNotebook", code: "import \"github.com/playbook-mlops/playbook/notebook\"\nnotebook.RecordCall(pb, record.Call{})", err: "import not allowed"},
		{name: "NotebookUnimported", code: `notebook.RecordCall(pb, record.Call{})`, err: "undefined: notebook"},
		{name: "NewPlaybook", code: `steps.NewPlaybook(steps.Options{})`},
		{name: "Controller", code: `var c *steps.Controller; _ = c`},
		{name: "KernelShow", code: `__pb.Show(record.Call{Method: "FORGED"})`, err: "__pb is the runner's name: a cell cannot use it"},
		{name: "KernelPB", code: `__pb.PB = nil`, err: "__pb is the runner's name"},
		{name: "Reflect", code: "import \"reflect\"\nreflect.ValueOf(pb).Elem().FieldByName(\"run\")", err: "import not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "# Forge\n\n```go step=s\n" + tt.code + "\n```\n"
			sc, err := Parse("testdata/inline.md", []byte(src))
			require.NoError(t, err)
			if err := Check(sc, Options{}); !tt.runOnly {
				require.Error(t, err, "check")
				assert.True(t, strings.HasPrefix(err.Error(), "testdata/inline.md:4: step s: "), "check: %v", err)
				assert.Contains(t, err.Error(), tt.err)
			}

			rec, err := Run(t.Context(), sc, Options{})
			require.Error(t, err, "run")
			assert.True(t, strings.HasPrefix(err.Error(), "testdata/inline.md:4: step s: "), "run: %v", err)
			assert.Contains(t, err.Error(), tt.err)
			assert.NotEqual(t, "forged", rec.Environment.User)
			assert.Equal(t, record.Evidence{Calls: []record.Call{}, Snapshots: []record.Snapshot{}, Metrics: []record.Metric{}, Files: []record.File{}}, rec.Evidence)
		})
	}
}

// TestCellSnapshotIsNotEvidence: pb.Snapshot shows a snapshot under the
// cell; the evidence keeps only the snapshots the steps take.
func TestCellSnapshotIsNotEvidence(t *testing.T) {
	rec, err := run(t, "```go step=s\npb.Snapshot(record.Snapshot{Label: \"before\", Model: \"M\", Aliases: map[string]string{\"production-live\": \"9\"}})\n```\n", Options{})
	require.NoError(t, err)
	require.Len(t, rec.Cells[0].Outputs, 1)
	assert.Equal(t, record.OutputSnapshot, rec.Cells[0].Outputs[0].Kind)
	assert.Empty(t, rec.Evidence.Snapshots)
}
