package steps

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/record"
)

// TestConfusionSameOrderOnBothAxes: the actual classes read top to
// bottom in the order the predicted ones read left to right, so that the
// right answers are the diagonal from the top left.
func TestConfusionSameOrderOnBothAxes(t *testing.T) {
	g := confusionGrid(churn.Confusion{TN: 1, FP: 2, FN: 3, TP: 4})
	assert.Greater(t, g.Y(0), g.Y(1), "actual negatives (row 0) at the top")
	assert.Less(t, g.X(0), g.X(1), "predicted negatives (column 0) at the left")
	assert.Equal(t, 1.0, g.Z(0, 0), "top left: true negatives")
	assert.Equal(t, 4.0, g.Z(1, 1), "bottom right: true positives")
}

// TestLeaderboardAxisNotFromZero: close values look different; the best
// run is at the top, each bar named by its run.
func TestLeaderboardAxisNotFromZero(t *testing.T) {
	res := &BestRun{Metric: "f1", Leaderboard: []record.LeaderboardRow{
		{Rank: 1, RunName: "best", Value: 0.61}, {Rank: 2, RunName: "second", Value: 0.57},
	}}
	p := leaderboardPlot(res)
	assert.Greater(t, p.X.Min, 0.5, "the axis starts near the lowest value")
	assert.Less(t, p.X.Min, 0.57)
	assert.Equal(t, "Sans", string(p.Title.TextStyle.Font.Variant), "the page's sans-serif")
	assert.Equal(t, "Sans", string(p.Y.Tick.Label.Font.Variant))
}

// TestPaletteNotRedGreen: series colours differ, none is the pure red or
// green a colour-blind reader cannot tell apart.
func TestPaletteNotRedGreen(t *testing.T) {
	seen := map[[3]uint32]bool{}
	for i := range 6 {
		r, g, b, _ := seriesColor(i).RGBA()
		key := [3]uint32{r >> 8, g >> 8, b >> 8}
		assert.False(t, seen[key], "colour %d repeats", i)
		seen[key] = true
		assert.False(t, key == [3]uint32{255, 0, 0} || key == [3]uint32{0, 255, 0} || key == [3]uint32{0, 128, 0}, "colour %d is pure red or green", i)
	}
}
