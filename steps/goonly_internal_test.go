package steps

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
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

// TestFormatList: a list of names, or none, in the scenario's language.
func TestFormatList(t *testing.T) {
	assert.Equal(t, "a, b", formatList(nil, []string{"a", "b"}))
}
