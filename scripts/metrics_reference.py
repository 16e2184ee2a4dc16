#!/usr/bin/env python3
"""Reference values for the Go metrics of playbook's churn package.

Usage: metrics_reference.py CASES.json   (or the cases on standard input)

CASES.json is written by churn/reference_test.go:

    {"cases": [{"name": "...", "y": [0, 1, ...], "scores": [0.3, ...],
                "threshold": 0.5, "groups": ["A", "B", ...],
                "fit": {"X": [[...], ...], "y": [...], "C": 1.0}}]}

"groups" and "fit" are optional. For each case the script prints, as JSON on
standard output, what scikit-learn and fairlearn compute, with the labels
predicted as `scores >= threshold`:

- scikit-learn: accuracy_score, precision_score, recall_score, f1_score
  (zero_division=0), confusion_matrix (labels=[0, 1]), roc_auc_score,
  roc_curve, precision_recall_curve, log_loss (labels=[0, 1]),
  brier_score_loss (pos_label=1);
- fairlearn: MetricFrame by group (count, selection_rate,
  true_positive_rate, false_positive_rate), demographic_parity_difference and
  equalized_odds_difference with their defaults;
- for "fit": LogisticRegression(C=C) with the lbfgs solver run to a tight
  tolerance: intercept and coefficients.

Undefined values follow the libraries: with one class in y, roc_auc_score
warns and returns NaN, roc_curve gives NaN rates. JSON has no NaN or
infinity: non-finite numbers are written as the strings "nan", "inf" and
"-inf". The warnings raised for each case are listed by category.
"""

import json
import math
import sys
import warnings

import fairlearn
import fairlearn.metrics as flm
import numpy as np
import sklearn
import sklearn.metrics as skm
from sklearn.linear_model import LogisticRegression


def finite(x):
    """Converts numpy values to JSON-safe Python values, recursively."""
    if isinstance(x, dict):
        return {str(k): finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, np.ndarray)):
        return [finite(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    return x


def evaluate(case):
    y = np.asarray(case["y"], dtype=np.int64)
    scores = np.asarray(case["scores"], dtype=np.float64)
    threshold = float(case["threshold"])
    pred = (scores >= threshold).astype(np.int64)
    out = {"name": case["name"]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out["accuracy"] = skm.accuracy_score(y, pred)
        out["precision"] = skm.precision_score(y, pred, zero_division=0)
        out["recall"] = skm.recall_score(y, pred, zero_division=0)
        out["f1"] = skm.f1_score(y, pred, zero_division=0)
        tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
        out["confusion"] = {"tn": tn, "fp": fp, "fn": fn, "tp": tp}
        out["roc_auc"] = skm.roc_auc_score(y, scores)
        fpr, tpr, thr = skm.roc_curve(y, scores)
        out["roc_curve"] = {"fpr": fpr, "tpr": tpr, "thresholds": thr}
        prec, rec, thr = skm.precision_recall_curve(y, scores)
        out["pr_curve"] = {"precision": prec, "recall": rec, "thresholds": thr}
        out["log_loss"] = skm.log_loss(y, scores, labels=[0, 1])
        out["brier"] = skm.brier_score_loss(y, scores, pos_label=1)

        if case.get("groups") is not None:
            groups = np.asarray(case["groups"], dtype=object)
            frame = flm.MetricFrame(
                metrics={
                    "count": flm.count,
                    "selection_rate": flm.selection_rate,
                    "true_positive_rate": flm.true_positive_rate,
                    "false_positive_rate": flm.false_positive_rate,
                },
                y_true=y,
                y_pred=pred,
                sensitive_features=groups,
            )
            by_group = {
                str(g): {k: row[k] for k in frame.by_group.columns}
                for g, row in frame.by_group.iterrows()
            }
            out["fairness"] = {
                "by_group": by_group,
                "demographic_parity_difference": flm.demographic_parity_difference(
                    y, pred, sensitive_features=groups
                ),
                "equalized_odds_difference": flm.equalized_odds_difference(
                    y, pred, sensitive_features=groups
                ),
            }

        if case.get("fit") is not None:
            fit = case["fit"]
            model = LogisticRegression(
                C=float(fit["C"]), solver="lbfgs", tol=1e-12, max_iter=100000
            )
            model.fit(np.asarray(fit["X"], dtype=np.float64), np.asarray(fit["y"]))
            out["fit"] = {
                "intercept": model.intercept_[0],
                "coef": model.coef_[0],
            }
    out["warnings"] = sorted({w.category.__name__ for w in caught})
    return out


def main(argv):
    if len(argv) > 2:
        print("usage: metrics_reference.py [CASES.json]", file=sys.stderr)
        return 2
    if len(argv) == 2:
        with open(argv[1], encoding="utf-8") as f:
            doc = json.load(f)
    else:
        doc = json.load(sys.stdin)
    result = {
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "sklearn": sklearn.__version__,
            "fairlearn": fairlearn.__version__,
        },
        "cases": [evaluate(c) for c in doc["cases"]],
    }
    json.dump(finite(result), sys.stdout, allow_nan=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
