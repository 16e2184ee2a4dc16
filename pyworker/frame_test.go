package pyworker_test

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/pyworker"
)

// TestWriteArrowTypes: each kind of column goes as its Arrow type, and a
// column of another length is an error naming both.
func TestWriteArrowTypes(t *testing.T) {
	f := &pyworker.Frame{Columns: []pyworker.Column{
		{Name: "x", Float: []float64{1.5, 2}},
		{Name: "n", Int: []int64{3, 4}},
		{Name: "s", String: []string{"a", "b"}},
		{Name: "b", Bool: []bool{true, false}},
	}}
	var buf bytes.Buffer
	require.NoError(t, f.WriteArrow(&buf))
	r, err := ipc.NewReader(&buf)
	require.NoError(t, err)
	defer r.Release()
	require.True(t, r.Next())
	rec := r.RecordBatch()
	var types []arrow.Type
	for _, fl := range rec.Schema().Fields() {
		types = append(types, fl.Type.ID())
	}
	assert.Equal(t, []arrow.Type{arrow.FLOAT64, arrow.INT64, arrow.STRING, arrow.BOOL}, types)
	b := rec.Column(3).(*array.Boolean)
	assert.Equal(t, []bool{true, false}, []bool{b.Value(0), b.Value(1)})

	f.Columns[3].Bool = []bool{true}
	assert.EqualError(t, f.WriteArrow(&bytes.Buffer{}), `pyworker: column "b" has 1 rows, column "x" 2`)
}
