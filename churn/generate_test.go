package churn

import (
	"math"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGenerateIsSeeded(t *testing.T) {
	a := Generate(300, 7)
	tests := []struct {
		name string
		got  []Customer
		same bool
	}{
		{"SameSeed", Generate(300, 7), true},
		{"OtherSeed", Generate(300, 8), false},
		{"PrefixDoesNotDependOnN", Generate(1000, 7)[:300], true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.same {
				assert.Equal(t, a, tt.got)
			} else {
				assert.NotEqual(t, a, tt.got)
			}
		})
	}
	t.Run("Empty", func(t *testing.T) {
		assert.Empty(t, Generate(0, 1))
		assert.Empty(t, Generate(-5, 1))
	})
}

func TestGenerateRowsAreConsistent(t *testing.T) {
	idPattern := regexp.MustCompile(`^[0-9]{4}-[A-Z]{5}$`)
	customers := Generate(10000, 11)
	ids := make(map[string]bool)
	for i, c := range customers {
		require.NoError(t, c.Validate(), "row %d", i)
		require.Regexp(t, idPattern, c.CustomerID)
		require.False(t, ids[c.CustomerID], "duplicate ID %s", c.CustomerID)
		ids[c.CustomerID] = true

		require.GreaterOrEqual(t, c.Tenure, 0)
		require.LessOrEqual(t, c.Tenure, 72)
		require.GreaterOrEqual(t, c.MonthlyCharges, 18.25)
		require.LessOrEqual(t, c.MonthlyCharges, 125.0)
		cents := c.MonthlyCharges * 100
		require.InDelta(t, 0, math.Mod(math.Round(cents), 5), 1e-9, "MonthlyCharges %v not a multiple of 0.05", c.MonthlyCharges)
		switch {
		case c.Tenure == 0:
			require.Zero(t, c.TotalCharges, "row %d: tenure 0", i)
		case c.Tenure == 1:
			require.Equal(t, c.MonthlyCharges, c.TotalCharges, "row %d: tenure 1", i)
		default:
			expected := float64(c.Tenure) * c.MonthlyCharges
			require.InEpsilon(t, expected, c.TotalCharges, 0.25, "row %d: TotalCharges far from tenure × monthly", i)
		}
		require.Equal(t, c.PhoneService == No, c.MultipleLines == NoPhoneService, "row %d", i)
		noNet := c.InternetService == InternetNone
		for _, v := range []string{c.OnlineSecurity, c.OnlineBackup, c.DeviceProtection, c.TechSupport, c.StreamingTV, c.StreamingMovies} {
			require.Equal(t, noNet, v == NoInternetService, "row %d", i)
		}
	}
}

// TestGenerateFrequenciesCloseToRealFile compares the generated frequencies
// with those of the IBM Telco file (counts out of 7,043 rows, from
// ../shared/data/README.md and the file itself).
func TestGenerateFrequenciesCloseToRealFile(t *testing.T) {
	d := GenerateDataset(50000, 3)
	frac := func(pred func(c *Customer) bool) float64 {
		n := 0
		for i := range d.Customers {
			if pred(&d.Customers[i]) {
				n++
			}
		}
		return float64(n) / float64(d.Len())
	}
	const real = 7043.0
	tests := []struct {
		name string
		want float64
		pred func(c *Customer) bool
	}{
		{"Churn", 1869 / real, func(c *Customer) bool { return c.Churn }},
		{"Male", 3555 / real, func(c *Customer) bool { return c.Gender == Male }},
		{"Senior", 1142 / real, func(c *Customer) bool { return c.SeniorCitizen == 1 }},
		{"Partner", 3402 / real, func(c *Customer) bool { return c.Partner == Yes }},
		{"Dependents", 2110 / real, func(c *Customer) bool { return c.Dependents == Yes }},
		{"PhoneService", 6361 / real, func(c *Customer) bool { return c.PhoneService == Yes }},
		{"MultipleLines", 2971 / real, func(c *Customer) bool { return c.MultipleLines == Yes }},
		{"FiberOptic", 3096 / real, func(c *Customer) bool { return c.InternetService == InternetFiber }},
		{"NoInternet", 1526 / real, func(c *Customer) bool { return c.InternetService == InternetNone }},
		{"OnlineSecurity", 2019 / real, func(c *Customer) bool { return c.OnlineSecurity == Yes }},
		{"TechSupport", 2044 / real, func(c *Customer) bool { return c.TechSupport == Yes }},
		{"StreamingTV", 2707 / real, func(c *Customer) bool { return c.StreamingTV == Yes }},
		{"MonthToMonth", 3875 / real, func(c *Customer) bool { return c.Contract == ContractMonthToMonth }},
		{"TwoYear", 1695 / real, func(c *Customer) bool { return c.Contract == ContractTwoYear }},
		{"PaperlessBilling", 4171 / real, func(c *Customer) bool { return c.PaperlessBilling == Yes }},
		{"ElectronicCheck", 2365 / real, func(c *Customer) bool { return c.PaymentMethod == PaymentElectronicCheck }},
		{"Tenure1", 613 / real, func(c *Customer) bool { return c.Tenure == 1 }},
		{"Tenure72", 362 / real, func(c *Customer) bool { return c.Tenure == 72 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, frac(tt.pred), 0.03)
		})
	}
	t.Run("Tenure0Rare", func(t *testing.T) {
		got := frac(func(c *Customer) bool { return c.Tenure == 0 })
		assert.Greater(t, got, 0.0)
		assert.Less(t, got, 0.005)
	})
	t.Run("TenureMean", func(t *testing.T) {
		sum := 0.0
		for _, c := range d.Customers {
			sum += float64(c.Tenure)
		}
		assert.InDelta(t, 32.37, sum/float64(d.Len()), 2)
	})
	t.Run("MonthlyChargesMean", func(t *testing.T) {
		sum := 0.0
		for _, c := range d.Customers {
			sum += c.MonthlyCharges
		}
		assert.InDelta(t, 64.76, sum/float64(d.Len()), 3)
	})
}

// TestGenerateFollowsGroundTruth checks that the label follows the documented
// logistic model: the churn rate, the senior effect seen directly, and the
// documented coefficients recovered by a logistic regression on 50,000 rows.
func TestGenerateFollowsGroundTruth(t *testing.T) {
	d := GenerateDataset(50000, 5)
	rate := d.ChurnRate()
	t.Logf("churn rate on 50,000 generated rows: %.4f", rate)
	assert.InDelta(t, 0.265, rate, 0.02)

	var senior, seniorChurn, other, otherChurn float64
	for _, c := range d.Customers {
		if c.SeniorCitizen == 1 {
			senior++
			if c.Churn {
				seniorChurn++
			}
		} else {
			other++
			if c.Churn {
				otherChurn++
			}
		}
	}
	t.Logf("churn rate: seniors %.4f, others %.4f", seniorChurn/senior, otherChurn/other)
	assert.Greater(t, seniorChurn/senior-otherChurn/other, 0.04, "seniors must churn visibly more")

	m, err := Fit(d, TrainOptions{L2: 1e-7})
	require.NoError(t, err)
	require.True(t, m.Logistic.Info.Converged, "%+v", m.Logistic.Info)
	coef := m.Coefficients()
	tenureStd := m.Encoder.Numeric[0].Std
	require.Equal(t, ColTenure, m.Encoder.Numeric[0].Column)
	// One-hot columns with an intercept are identified up to a constant per
	// column: compare differences with the reference category.
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"SeniorCitizen", coef["SeniorCitizen"], truthSeniorCitizen},
		{"MonthToMonth", coef["Contract=Month-to-month"] - coef["Contract=One year"], truthMonthToMonth},
		{"TwoYear", coef["Contract=Two year"] - coef["Contract=One year"], truthTwoYear},
		{"Fiber", coef["InternetService=Fiber optic"] - coef["InternetService=DSL"], truthFiber},
		{"ElectronicCheck", coef["PaymentMethod=Electronic check"] - coef["PaymentMethod=Mailed check"], truthElectronicCheck},
		{"TechSupport", coef["TechSupport=Yes"] - coef["TechSupport=No"], truthTechSupport},
		{"GenderNone", coef["gender=Male"] - coef["gender=Female"], 0},
		{"PartnerNone", coef["Partner=Yes"] - coef["Partner=No"], 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, tt.got, 0.12)
		})
	}
	t.Run("TenurePerMonth", func(t *testing.T) {
		// tenure is standardised: its coefficient per month is coef/std. The
		// fitted model also sees TotalCharges (≈ tenure × monthly), so allow
		// for some of the effect to move there.
		assert.InDelta(t, truthTenurePerMonth, coef["tenure"]/tenureStd, 0.015)
	})
}
