package churn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func countChurn(d *Dataset) (pos, neg int) {
	for _, c := range d.Customers {
		if c.Churn {
			pos++
		} else {
			neg++
		}
	}
	return pos, neg
}

func TestStratifiedSplit(t *testing.T) {
	d := GenerateDataset(5003, 9)
	pos, neg := countChurn(d)
	tests := []struct {
		name string
		frac float64
	}{
		{"Quarter", 0.25},
		{"Third", 1.0 / 3},
		{"Tiny", 0.001},
		{"None", 0},
		{"All", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			train, valid := StratifiedSplit(d, tt.frac, 42)
			vp, vn := countChurn(valid)
			tp, tn := countChurn(train)
			// Each class split by round(frac × class size).
			assert.Equal(t, int(math.Round(tt.frac*float64(pos))), vp)
			assert.Equal(t, int(math.Round(tt.frac*float64(neg))), vn)
			assert.Equal(t, pos, vp+tp)
			assert.Equal(t, neg, vn+tn)

			// Disjoint, covering, each in d's order.
			index := make(map[string]int)
			for i, c := range d.Customers {
				index[c.CustomerID] = i
			}
			seen := make(map[string]bool)
			for _, part := range []*Dataset{train, valid} {
				last := -1
				for _, c := range part.Customers {
					require.False(t, seen[c.CustomerID], "customer %s in both sets", c.CustomerID)
					seen[c.CustomerID] = true
					require.Greater(t, index[c.CustomerID], last, "order kept")
					last = index[c.CustomerID]
				}
			}
			assert.Len(t, seen, d.Len())
		})
	}
}

func TestStratifiedSplitKeepsTheRate(t *testing.T) {
	d := GenerateDataset(10000, 2)
	train, valid := StratifiedSplit(d, 0.25, 1)
	// Within one row per class of the overall rate.
	assert.InDelta(t, d.ChurnRate(), valid.ChurnRate(), 2.0/float64(valid.Len()))
	assert.InDelta(t, d.ChurnRate(), train.ChurnRate(), 2.0/float64(train.Len()))
}

func TestStratifiedSplitIsSeeded(t *testing.T) {
	d := GenerateDataset(2000, 3)
	t1, v1 := StratifiedSplit(d, 0.3, 5)
	t2, v2 := StratifiedSplit(d, 0.3, 5)
	assert.Equal(t, t1, t2)
	assert.Equal(t, v1, v2)
	_, v3 := StratifiedSplit(d, 0.3, 6)
	assert.NotEqual(t, v1.Customers, v3.Customers)

	t.Run("DoesNotShareMemory", func(t *testing.T) {
		v1.Customers[0].Gender = "changed"
		for _, c := range d.Customers {
			assert.NotEqual(t, "changed", c.Gender)
		}
	})
}

func TestStratifiedSplitPanicsOnBadFraction(t *testing.T) {
	d := GenerateDataset(10, 1)
	for _, frac := range []float64{-0.1, 1.5, math.NaN()} {
		assert.Panics(t, func() { StratifiedSplit(d, frac, 1) }, "frac %v", frac)
	}
}
