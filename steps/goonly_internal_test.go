package steps

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/internal/tailbuf"
)

// TestPositiveClass: the class that means churn, as a model spells it.
func TestPositiveClass(t *testing.T) {
	for classes, want := range map[string]string{"": "1", "0 1": "1", "No Yes": "Yes", "False True": "True", "0.0 1.0": "1.0"} {
		got, err := positiveClass(strings.Fields(classes))
		require.NoError(t, err, classes)
		assert.Equal(t, want, got, classes)
	}
	_, err := positiveClass([]string{"stay", "leave"})
	require.EqualError(t, err, `its classes are ["stay" "leave"]: playbook reads churn as 1, "Yes" or True`)
}

// TestFeatureFrame: customers become the typed columns a model reads, in
// the order asked.
func TestFeatureFrame(t *testing.T) {
	customers := churn.Generate(4, 9)
	f := featureFrame(customers, []string{"Contract", "tenure", "MonthlyCharges"})
	require.Len(t, f.Columns, 3)
	assert.Equal(t, 4, f.Rows())
	for i, c := range customers {
		assert.Equal(t, c.Contract, f.Columns[0].String[i])
		assert.Equal(t, int64(c.Tenure), f.Columns[1].Int[i])
		assert.Equal(t, c.MonthlyCharges, f.Columns[2].Float[i])
	}
	assert.Nil(t, f.Columns[0].Int)
	assert.Nil(t, f.Columns[1].Float)
	assert.Nil(t, f.Columns[2].String)
}

// TestTailBuffer: the scoring server's output keeps its last bytes, and
// the last lines of them.
func TestTailBuffer(t *testing.T) {
	tb := &tailbuf.Buffer{Max: 16}
	for i := range 10 {
		_, err := tb.Write([]byte("line " + strconv.Itoa(i) + "\n"))
		require.NoError(t, err)
	}
	assert.LessOrEqual(t, len(tb.String()), 16)
	assert.Equal(t, "line 8\nline 9", lastLines(tb, 2))
	assert.Equal(t, "line 9", lastLines(tb, 1))
}

// TestFreePort: a port of 127.0.0.1 that can be listened on.
func TestFreePort(t *testing.T) {
	port, err := freePort()
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err)
	require.NoError(t, l.Close())
}

// TestFormatList: a list of names, or none, in the scenario's language.
func TestFormatList(t *testing.T) {
	assert.Equal(t, "a, b", formatList(nil, []string{"a", "b"}))
}
