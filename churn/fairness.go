package churn

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// GroupRates are the rates of one group of a protected attribute.
type GroupRates struct {
	Group     string `json:"group"`
	Count     int    `json:"count"`
	Positives int    `json:"positives"` // label 1
	Negatives int    `json:"negatives"` // label 0
	// SelectionRate is the fraction predicted 1 (fairlearn's
	// selection_rate).
	SelectionRate float64 `json:"selection_rate"`
	// TPR is the fraction of positives predicted 1, FPR the fraction of
	// negatives predicted 1 (fairlearn's true_positive_rate and
	// false_positive_rate). A group with no positive has TPR 0, one with no
	// negative FPR 0, as in fairlearn (whose rates come from scikit-learn's
	// confusion_matrix(normalize="true"), which turns 0/0 into 0).
	TPR float64 `json:"tpr"`
	FPR float64 `json:"fpr"`
}

// Fairness compares a classifier's predictions across the groups of a
// protected attribute, as fairlearn does.
type Fairness struct {
	// Attribute is the protected attribute, when known ("gender",
	// "SeniorCitizen").
	Attribute string `json:"attribute,omitempty"`
	// Groups holds one entry per group, sorted by group name.
	Groups []GroupRates `json:"groups"`
	// DemographicParityDifference is the largest minus the smallest
	// selection rate (fairlearn's demographic_parity_difference,
	// method="between_groups").
	DemographicParityDifference float64 `json:"demographic_parity_difference"`
	// TPRDifference and FPRDifference are the largest minus the smallest
	// TPR and FPR.
	TPRDifference float64 `json:"tpr_difference"`
	FPRDifference float64 `json:"fpr_difference"`
	// EqualizedOddsDifference is max(TPRDifference, FPRDifference)
	// (fairlearn's equalized_odds_difference, method="between_groups",
	// agg="worst_case").
	EqualizedOddsDifference float64 `json:"equalized_odds_difference"`
}

// String formats the fairness report as a small table.
func (f Fairness) String() string {
	var b strings.Builder
	if f.Attribute != "" {
		fmt.Fprintf(&b, "fairness by %s\n", f.Attribute)
	}
	fmt.Fprintf(&b, "%-12s %7s %9s %6s %6s\n", "group", "count", "selection", "TPR", "FPR")
	for _, g := range f.Groups {
		fmt.Fprintf(&b, "%-12s %7d %9.4f %6.4f %6.4f\n", g.Group, g.Count, g.SelectionRate, g.TPR, g.FPR)
	}
	fmt.Fprintf(&b, "demographic parity difference %.4f\nequalized odds difference     %.4f\n",
		f.DemographicParityDifference, f.EqualizedOddsDifference)
	return b.String()
}

// FairnessByGroup computes, for each group, the selection rate, the true
// positive rate and the false positive rate of predictions yPred (0 or 1)
// against labels yTrue (0 or 1), and the demographic parity and equalized
// odds differences between groups, exactly as fairlearn's MetricFrame,
// demographic_parity_difference and equalized_odds_difference with their
// defaults (checked to 1e-9 by the package's tests against the installed
// fairlearn). With a single group every difference is 0.
func FairnessByGroup(yTrue []float64, yPred []int, groups []string) (Fairness, error) {
	switch {
	case len(yTrue) != len(yPred) || len(yTrue) != len(groups):
		return Fairness{}, fmt.Errorf("churn: FairnessByGroup: %w: %d labels, %d predictions, %d groups", ErrLength, len(yTrue), len(yPred), len(groups))
	case len(yTrue) == 0:
		return Fairness{}, fmt.Errorf("churn: FairnessByGroup: %w", ErrEmpty)
	}
	type counts struct{ n, pos, neg, sel, tp, fp int }
	by := make(map[string]*counts)
	for i, y := range yTrue {
		if y != 0 && y != 1 {
			return Fairness{}, fmt.Errorf("churn: FairnessByGroup: %w: yTrue[%d] = %v", ErrLabel, i, y)
		}
		p := yPred[i]
		if p != 0 && p != 1 {
			return Fairness{}, fmt.Errorf("churn: FairnessByGroup: %w: yPred[%d] = %d", ErrLabel, i, p)
		}
		c := by[groups[i]]
		if c == nil {
			c = &counts{}
			by[groups[i]] = c
		}
		c.n++
		c.sel += p
		if y == 1 {
			c.pos++
			c.tp += p
		} else {
			c.neg++
			c.fp += p
		}
	}
	var f Fairness
	for g, c := range by {
		f.Groups = append(f.Groups, GroupRates{
			Group: g, Count: c.n, Positives: c.pos, Negatives: c.neg,
			SelectionRate: ratio(c.sel, c.n),
			TPR:           ratio(c.tp, c.pos),
			FPR:           ratio(c.fp, c.neg),
		})
	}
	slices.SortFunc(f.Groups, func(a, b GroupRates) int { return strings.Compare(a.Group, b.Group) })
	f.DemographicParityDifference = spread(f.Groups, func(g GroupRates) float64 { return g.SelectionRate })
	f.TPRDifference = spread(f.Groups, func(g GroupRates) float64 { return g.TPR })
	f.FPRDifference = spread(f.Groups, func(g GroupRates) float64 { return g.FPR })
	f.EqualizedOddsDifference = math.Max(f.TPRDifference, f.FPRDifference)
	return f, nil
}

// spread returns the largest minus the smallest of rate over the groups.
func spread(groups []GroupRates, rate func(GroupRates) float64) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, g := range groups {
		lo = math.Min(lo, rate(g))
		hi = math.Max(hi, rate(g))
	}
	return hi - lo
}

// FairnessOf returns [FairnessByGroup] of predictions yPred on d by the
// protected attribute attr: "gender" or "SeniorCitizen" (see
// [Dataset.Groups]).
func FairnessOf(d *Dataset, yPred []int, attr string) (Fairness, error) {
	groups, err := d.Groups(attr)
	if err != nil {
		return Fairness{}, err
	}
	f, err := FairnessByGroup(d.Labels(), yPred, groups)
	if err != nil {
		return Fairness{}, err
	}
	f.Attribute = attr
	return f, nil
}
