package churn

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFairnessByGroupByHand(t *testing.T) {
	y := []float64{1, 1, 0, 0, 1, 0, 0, 0, 1}
	pred := []int{1, 0, 1, 0, 1, 1, 0, 0, 0}
	groups := []string{"a", "a", "a", "a", "b", "b", "b", "b", "c"}

	f, err := FairnessByGroup(y, pred, groups)
	require.NoError(t, err)
	assert.Equal(t, []GroupRates{
		{Group: "a", Count: 4, Positives: 2, Negatives: 2, SelectionRate: 0.5, TPR: 0.5, FPR: 0.5},
		{Group: "b", Count: 4, Positives: 1, Negatives: 3, SelectionRate: 0.5, TPR: 1, FPR: 1.0 / 3},
		// One member, a positive predicted 0: FPR has no negative to
		// measure and is 0, as in fairlearn.
		{Group: "c", Count: 1, Positives: 1, Negatives: 0, SelectionRate: 0, TPR: 0, FPR: 0},
	}, f.Groups)
	assert.Equal(t, 0.5, f.DemographicParityDifference)
	assert.Equal(t, 1.0, f.TPRDifference)
	assert.Equal(t, 0.5, f.FPRDifference)
	assert.Equal(t, 1.0, f.EqualizedOddsDifference)

	t.Run("WithoutTheSingleMember", func(t *testing.T) {
		f, err := FairnessByGroup(y[:8], pred[:8], groups[:8])
		require.NoError(t, err)
		assert.Equal(t, 0.0, f.DemographicParityDifference)
		assert.Equal(t, 0.5, f.TPRDifference)
		assert.InDelta(t, 0.5-1.0/3, f.FPRDifference, 1e-15)
		assert.Equal(t, 0.5, f.EqualizedOddsDifference)
	})
	t.Run("GroupWithoutPositives", func(t *testing.T) {
		f, err := FairnessByGroup([]float64{0, 0, 1, 0}, []int{1, 0, 1, 0}, []string{"x", "x", "y", "y"})
		require.NoError(t, err)
		assert.Equal(t, 0.0, f.Groups[0].TPR, "no positive in x: TPR 0, as fairlearn")
		assert.Equal(t, 0.5, f.Groups[0].FPR)
		assert.Equal(t, 1.0, f.Groups[1].TPR)
		assert.Equal(t, 1.0, f.EqualizedOddsDifference)
	})
	t.Run("OneGroup", func(t *testing.T) {
		f, err := FairnessByGroup(y, pred, make([]string, len(y)))
		require.NoError(t, err)
		require.Len(t, f.Groups, 1)
		assert.Equal(t, 9, f.Groups[0].Count)
		assert.Zero(t, f.DemographicParityDifference)
		assert.Zero(t, f.EqualizedOddsDifference)
	})
	t.Run("String", func(t *testing.T) {
		s := f.String()
		assert.Contains(t, s, "demographic parity difference 0.5000")
		assert.Equal(t, 3+3, strings.Count(s, "\n"))
	})
}

func TestFairnessByGroupErrors(t *testing.T) {
	tests := []struct {
		name   string
		y      []float64
		pred   []int
		groups []string
		is     error
	}{
		{"ErrLength", []float64{0, 1}, []int{0, 1}, []string{"a"}, ErrLength},
		{"ErrLengthPred", []float64{0, 1}, []int{0}, []string{"a", "b"}, ErrLength},
		{"ErrEmpty", nil, nil, nil, ErrEmpty},
		{"BadLabel", []float64{0, 3}, []int{0, 1}, []string{"a", "b"}, ErrLabel},
		{"BadPrediction", []float64{0, 1}, []int{0, -1}, []string{"a", "b"}, ErrLabel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FairnessByGroup(tt.y, tt.pred, tt.groups)
			assert.ErrorIs(t, err, tt.is)
		})
	}
}

// TestFairnessFindsTheSeniorEffect: the generator gives seniors +0.4
// log-odds of churn and gender no effect, so a model's selection rates
// differ clearly more by SeniorCitizen than by gender.
func TestFairnessFindsTheSeniorEffect(t *testing.T) {
	train, valid := StratifiedSplit(GenerateDataset(40000, 17), 0.5, 1)
	m, err := Fit(train, TrainOptions{L2: 1e-4})
	require.NoError(t, err)
	pred := m.Predict(valid)
	senior, err := FairnessOf(valid, pred, AttrSeniorCitizen)
	require.NoError(t, err)
	gender, err := FairnessOf(valid, pred, AttrGender)
	require.NoError(t, err)
	t.Logf("\n%s\n%s", senior, gender)
	assert.Equal(t, AttrSeniorCitizen, senior.Attribute)
	require.Len(t, senior.Groups, 2)
	assert.Equal(t, "1", senior.Groups[1].Group)
	assert.Greater(t, senior.Groups[1].SelectionRate, senior.Groups[0].SelectionRate)
	assert.Greater(t, senior.DemographicParityDifference, 0.04)
	assert.Less(t, gender.DemographicParityDifference, 0.02)
	_, err = FairnessOf(valid, pred, "Partner")
	assert.Error(t, err)
}
