package churn

import (
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/mat"
)

func TestEncoderFeatureNames(t *testing.T) {
	enc := FitEncoder(GenerateDataset(2000, 1))
	names := enc.FeatureNames()
	require.Len(t, names, enc.NumFeatures())
	assert.Equal(t, []string{"tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen", "gender=Female", "gender=Male", "Partner=No", "Partner=Yes"}, names[:8])
	assert.Contains(t, names, "MultipleLines=No phone service")
	assert.Contains(t, names, "PaymentMethod=Bank transfer (automatic)")
	// 3 numeric + 1 flag + every category of the 15 categorical columns
	// (2000 generated customers hold them all).
	want := 4
	for _, c := range Schema() {
		if c.Kind == KindCategorical {
			want += len(c.Categories)
		}
	}
	assert.Equal(t, want, len(names))
	assert.Equal(t, 45, want) // 4 + 2·5 (two-valued) + 3·9 (three-valued) + 4 (PaymentMethod)
}

func TestEncoderStandardisesWithTrainingStatistics(t *testing.T) {
	train := GenerateDataset(3000, 4)
	enc := FitEncoder(train)
	X := enc.Transform(train)
	n, _ := X.Dims()
	for j, name := range []string{"tenure", "MonthlyCharges", "TotalCharges"} {
		col := mat.Col(nil, j, X)
		mean, sumSq := 0.0, 0.0
		for _, v := range col {
			mean += v
		}
		mean /= float64(n)
		for _, v := range col {
			sumSq += (v - mean) * (v - mean)
		}
		assert.InDelta(t, 0, mean, 1e-12, name)
		assert.InDelta(t, 1, math.Sqrt(sumSq/float64(n)), 1e-12, name) // population std
	}

	t.Run("ValidationUsesTrainingMeans", func(t *testing.T) {
		other := &Dataset{Customers: []Customer{validCustomer()}}
		x := enc.Transform(other).RawRowView(0)
		f := enc.Numeric[0]
		assert.Equal(t, (1-f.Mean)/f.Std, x[0], "tenure 1 standardised with the training mean/std")
	})
}

func TestEncoderOneHot(t *testing.T) {
	train := GenerateDataset(1000, 8)
	enc := FitEncoder(train)
	names := enc.FeatureNames()
	c := validCustomer()
	x := enc.TransformOne(c)
	for j, name := range names {
		col, cat, ok := strings.Cut(name, "=")
		if !ok {
			continue
		}
		val := *c.str(columnIndex(col))
		assert.Equal(t, b2f(val == cat), x[j], name)
	}
	assert.Equal(t, 0.0, x[3], "SeniorCitizen 0")
	c.SeniorCitizen = 1
	assert.Equal(t, 1.0, enc.TransformOne(c)[3], "SeniorCitizen 1")
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestEncoderUnseenCategoryIsAllZeros(t *testing.T) {
	// Training without any fiber customer, nor any two-year contract.
	var train Dataset
	for _, c := range Generate(2000, 2) {
		if c.InternetService != InternetFiber && c.Contract != ContractTwoYear {
			train.Customers = append(train.Customers, c)
		}
	}
	enc := FitEncoder(&train)
	names := enc.FeatureNames()
	assert.NotContains(t, names, "InternetService=Fiber optic")
	assert.NotContains(t, names, "Contract=Two year")

	c := validCustomer()
	c.InternetService = InternetFiber
	c.Contract = "Three year" // not even in the schema
	x := enc.TransformOne(c)
	for j, name := range names {
		if strings.HasPrefix(name, "InternetService=") || strings.HasPrefix(name, "Contract=") {
			assert.Zero(t, x[j], name)
		}
	}
}

func TestEncoderTransformMatchesTransformOne(t *testing.T) {
	d := GenerateDataset(200, 6)
	enc := FitEncoder(d)
	X := enc.Transform(d)
	for i, c := range d.Customers {
		require.Equal(t, enc.TransformOne(c), X.RawRowView(i), "row %d", i)
	}
	t.Run("Empty", func(t *testing.T) {
		assert.True(t, enc.Transform(&Dataset{}).IsEmpty())
	})
}

func TestEncoderJSONRoundTrip(t *testing.T) {
	d := GenerateDataset(500, 3)
	enc := FitEncoder(d)
	b, err := json.Marshal(enc)
	require.NoError(t, err)
	var back Encoder
	require.NoError(t, json.Unmarshal(b, &back))
	require.NoError(t, back.validate())
	assert.Equal(t, enc, &back)
	assert.True(t, mat.Equal(enc.Transform(d), back.Transform(d)))
}

func TestEncoderValidate(t *testing.T) {
	good := func() *Encoder { return FitEncoder(GenerateDataset(500, 3)) }
	tests := []struct {
		name   string
		change func(*Encoder)
		want   string
	}{
		{"UnknownColumn", func(e *Encoder) { e.Numeric[0].Column = "age" }, `column "age"`},
		{"WrongKind", func(e *Encoder) { e.Flags[0] = "gender" }, `column "gender"`},
		{"Twice", func(e *Encoder) { e.Categorical[1] = e.Categorical[0] }, "twice"},
		{"ZeroStd", func(e *Encoder) { e.Numeric[1].Std = 0 }, "std"},
		{"NaNMean", func(e *Encoder) { e.Numeric[2].Mean = math.NaN() }, "mean"},
		{"UnknownCategory", func(e *Encoder) { e.Categorical[0].Categories[0] = "Other" }, `"Other"`},
		{"RepeatedCategory", func(e *Encoder) {
			e.Categorical[0].Categories = slices.Repeat(e.Categorical[0].Categories[:1], 2)
		}, "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := good()
			require.NoError(t, e.validate())
			tt.change(e)
			err := e.validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
