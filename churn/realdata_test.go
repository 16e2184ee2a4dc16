package churn

import (
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
)

// TestRealTelcoFile loads the IBM Telco file (../shared/data, skipped when
// absent) and fits a model on it. Expected counts are the file's, from
// ../shared/data/README.md.
func TestRealTelcoFile(t *testing.T) {
	path := testenv.TelcoCSV(t)
	d, rep, err := LoadCSVFile(path, LoadOptions{Name: "telco-customer-churn.csv"})
	require.NoError(t, err)

	assert.Equal(t, 7043, d.Len())
	assert.Equal(t, 7043, rep.Rows)
	assert.Equal(t, 1869, rep.Churners)
	assert.Equal(t, 11, rep.BlankTotalCharges, "the 11 customers with tenure 0")
	assert.Zero(t, rep.Skipped)
	assert.Equal(t, "telco-customer-churn.csv", d.Name)

	t.Run("Counts", func(t *testing.T) {
		count := func(pred func(Customer) bool) int {
			n := 0
			for _, c := range d.Customers {
				if pred(c) {
					n++
				}
			}
			return n
		}
		assert.Equal(t, 1869, count(func(c Customer) bool { return c.Churn }))
		assert.Equal(t, 3555, count(func(c Customer) bool { return c.Gender == Male }))
		assert.Equal(t, 3488, count(func(c Customer) bool { return c.Gender == Female }))
		assert.Equal(t, 11, count(func(c Customer) bool { return c.Tenure == 0 }))
		assert.Equal(t, 11, count(func(c Customer) bool { return c.Tenure == 0 && c.TotalCharges == 0 }))
	})

	t.Run("CategoriesAreTheFilesValues", func(t *testing.T) {
		// Every allowed category occurs in the file (the loader already
		// refuses values outside them).
		for col, s := range schema {
			if s.Kind != KindCategorical {
				continue
			}
			seen := make(map[string]bool)
			for i := range d.Customers {
				seen[*d.Customers[i].str(col)] = true
			}
			var values []string
			for v := range seen {
				values = append(values, v)
			}
			slices.Sort(values)
			assert.Equal(t, s.Categories, values, s.Name)
		}
	})

	t.Run("StrictAndLenientAgree", func(t *testing.T) {
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		d2, rep2, err := LoadCSV(f, LoadOptions{Lenient: true})
		require.NoError(t, err)
		assert.Equal(t, d.Customers, d2.Customers)
		assert.Zero(t, rep2.Skipped)
	})

	t.Run("HoldoutAUC", func(t *testing.T) {
		train, valid := StratifiedSplit(d, 0.25, 1)
		assert.Equal(t, 1761, valid.Len())
		m, err := Fit(train, TrainOptions{L2: 1e-4})
		require.NoError(t, err)
		met, err := m.Evaluate(valid)
		require.NoError(t, err)
		t.Logf("real Telco data, stratified 75/25 split (seed 1): ROC AUC %.4f, F1 %.4f, accuracy %.4f, log loss %.4f; training %+v",
			met.ROCAUC, met.F1, met.Accuracy, met.LogLoss, m.Logistic.Info)
		assert.GreaterOrEqual(t, met.ROCAUC, 0.83)
		assert.True(t, m.Logistic.Info.Converged)

		f, err := m.Fairness(valid, AttrSeniorCitizen)
		require.NoError(t, err)
		t.Logf("\n%s", f)
	})
}
