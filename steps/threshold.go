package steps

import (
	"math"
	"strconv"
)

// MetricThreshold is a validation threshold on one metric, shaped like
// MLflow's mlflow.models.MetricThreshold. A nil field is not checked, as
// MLflow's None:
//
//   - Threshold: the candidate's value must be ≥ Threshold when greater is
//     better, ≤ otherwise.
//   - MinAbsoluteChange (> 0): the candidate must beat the champion (the
//     production version) by at least this much: value ≥ champion +
//     MinAbsoluteChange when greater is better, ≤ champion −
//     MinAbsoluteChange otherwise.
//   - MinRelativeChange (in [0, 1]): the same, relative to the champion's
//     magnitude: value ≥ champion + MinRelativeChange × |champion|. Zero asks
//     the candidate to be at least as good as the champion.
//
// The champion checks are skipped when there is no champion. GreaterIsBetter
// says which way the metric improves; for the metrics churn computes it must
// agree with the metric (true for f1, roc_auc, precision, recall,
// accuracy; false for log_loss and brier).
type MetricThreshold struct {
	Threshold         *float64
	MinAbsoluteChange *float64
	MinRelativeChange *float64
	GreaterIsBetter   bool
}

// Float returns a pointer to v, for MetricThreshold's fields:
// steps.MetricThreshold{Threshold: steps.Float(0.55), GreaterIsBetter: true}.
func Float(v float64) *float64 { return &v }

// metricGreaterIsBetter says, for each metric churn computes, whether a
// greater value is better.
var metricGreaterIsBetter = map[string]bool{
	"accuracy": true, "precision": true, "recall": true, "f1": true, "roc_auc": true,
	"log_loss": false, "brier": false,
}

// ErrThreshold is the cause of a MetricThreshold that cannot be used.
var ErrThreshold error = &phrase{"bad metric threshold", "seuil de métrique invalide"}

// validate applies MLflow's rules to t, a threshold on metric.
func (t MetricThreshold) validate(metric string) error {
	gib, known := metricGreaterIsBetter[metric]
	switch {
	case !known:
		return stepErrorf("%w for %s: unknown metric: want one of accuracy, brier, f1, log_loss, precision, recall, roc_auc", ErrThreshold, metric)
	case t.Threshold == nil && t.MinAbsoluteChange == nil && t.MinRelativeChange == nil:
		return stepErrorf("%w for %s: no threshold, min_absolute_change nor min_relative_change set", ErrThreshold, metric)
	case t.Threshold != nil && (math.IsNaN(*t.Threshold) || math.IsInf(*t.Threshold, 0)):
		return stepErrorf("%w for %s: threshold %v is not a finite number", ErrThreshold, metric, *t.Threshold)
	case t.MinAbsoluteChange != nil && !(*t.MinAbsoluteChange > 0) || t.MinAbsoluteChange != nil && math.IsInf(*t.MinAbsoluteChange, 0):
		return stepErrorf("%w for %s: min_absolute_change %v: must be a positive number (MLflow's rule)", ErrThreshold, metric, *t.MinAbsoluteChange)
	case t.MinRelativeChange != nil && !(*t.MinRelativeChange >= 0 && *t.MinRelativeChange <= 1):
		return stepErrorf("%w for %s: min_relative_change %v: must be between 0 and 1 (MLflow's rule)", ErrThreshold, metric, *t.MinRelativeChange)
	case t.GreaterIsBetter != gib:
		return stepErrorf("%w for %s: greater_is_better is %v, but %s is better when %s: set GreaterIsBetter: %v", ErrThreshold, metric,
			t.GreaterIsBetter, metric, map[bool]word{true: word("greater"), false: word("smaller")}[gib], gib)
	}
	return nil
}

// tolerance absorbs the rounding of float64 sums: MLflow compares in
// decimal, where 0.5 + 0.1 is 0.6.
const tolerance = 1e-12

// atLeast reports whether v is at least as good as bound.
func atLeast(v, bound float64, greaterIsBetter bool) bool {
	if greaterIsBetter {
		return v >= bound-tolerance
	}
	return v <= bound+tolerance
}

// cmpWord is ">=" or "<=".
func cmpWord(greaterIsBetter bool) string {
	if greaterIsBetter {
		return ">="
	}
	return "<="
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
