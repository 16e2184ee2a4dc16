#!/usr/bin/env python3
"""Train non-linear scikit-learn classifiers on the breast cancer data set and log them the MLflow 3 way.

The data set is scikit-learn's bundled Wisconsin breast cancer data
(sklearn.datasets.load_breast_cancer: 569 tumours, 30 numeric features, read
from the scikit-learn wheel, no network). Its target is 0 for malignant and
1 for benign; this script names the classes instead, in a column
"diagnosis" ("malignant" or "benign"), and the positive class of the
validation is "malignant": the tumours a screening must not miss. The data
set has no demographic column, so the script adds one at random, "clinic"
("north" or "south", seeded), to show fairness by group: it is not a
feature, and the models never see it.

The rows are split 70/30, stratified (random_state 42). For each of --runs
runs in --experiment (a GradientBoostingClassifier, a RandomForestClassifier,
a second GradientBoostingClassifier with other settings), the model is
trained on the 30 features of the training rows, logged with
mlflow.sklearn.log_model(model, name="model") with its signature, an input
example and the skops types to trust (MLflow 3.18 saves with skops), and its metrics on the validation rows logged: f1, roc_auc,
precision, recall, accuracy and log_loss, "malignant" being positive and
labels predict_proba >= 0.5. The validation rows (the 30 features,
diagnosis, clinic) are written to --valid-out. It prints one JSON object on
its last line:

  {"experiment_id": "1", "best_run_id": "...", "best_run_name": "...", "rows": 171,
   "reference": {...}}

where the best run has the lowest log_loss, and "reference" is what
scikit-learn and fairlearn compute for its model on the CSV as written
(read back with pandas): the six metrics, and dp_diff.clinic and
eo_diff.clinic.

With --score URI CSV N instead, it loads the model at URI with
mlflow.sklearn.load_model and prints {"proba": [...]}: the probability of
"malignant" for the first N rows of CSV.

  MLFLOW_TRACKING_URI=... python scripts/log_breast_cancer_models.py \\
      --experiment breast-cancer --valid-out scenarios/breast-cancer-valid.csv

(The scenario reads its validation data beside it: playbook reads the data
files a scenario names inside the scenario's folder only.)
"""

import argparse
import json
import sys

import fairlearn.metrics as flm
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.model_selection import train_test_split

LABEL, POSITIVE, GROUP = "diagnosis", "malignant", "clinic"
TRUSTED = ["sklearn.tree._tree.Tree"]


def dataset():
    bc = load_breast_cancer(as_frame=True)
    df = bc.frame.drop(columns=["target"])
    # sklearn's target: 0 = malignant, 1 = benign.
    df[LABEL] = np.where(bc.target.to_numpy() == 0, "malignant", "benign")
    df[GROUP] = np.random.default_rng(7).choice(["north", "south"], size=len(df))
    return df, list(bc.feature_names)


def models(n):
    return [
        ("gradient-boosting", GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0)),
        ("random-forest", RandomForestClassifier(n_estimators=200, min_samples_leaf=2, random_state=0)),
        ("gradient-boosting-shallow", GradientBoostingClassifier(n_estimators=50, max_depth=2, learning_rate=0.2,
                                                                 random_state=0)),
    ][:n]


def scores(model, x):
    return model.predict_proba(x)[:, list(model.classes_).index(POSITIVE)]


def metrics(y, proba):
    pred = (proba >= 0.5).astype(int)
    return {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred, zero_division=0),
        "f1": skm.f1_score(y, pred, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, proba),
        "log_loss": skm.log_loss(y, proba, labels=[0, 1]),
    }


def train(args):
    df, features = dataset()
    tr, va = train_test_split(df, test_size=0.3, stratify=df[LABEL], random_state=42)
    va.to_csv(args.valid_out, index=False)
    # The reference is computed on the CSV as written, as playbook reads it.
    back = pd.read_csv(args.valid_out)
    yv = (back[LABEL] == POSITIVE).astype(int).to_numpy()
    experiment = mlflow.set_experiment(args.experiment)
    best = None
    for name, model in models(args.runs):
        model.fit(tr[features], tr[LABEL])
        with mlflow.start_run(run_name=name) as run:
            mlflow.log_params({k: v for k, v in model.get_params().items() if isinstance(v, (int, float, str))})
            # MLflow 3.18 saves scikit-learn models with skops, which loads
            # only the types it is told to trust: the trees' node storage
            # (kept in the MLmodel file, which loading reads back).
            mlflow.sklearn.log_model(model, name="model", signature=infer_signature(tr[features], model.predict(tr[features])),
                                     input_example=tr[features].head(3), skops_trusted_types=TRUSTED)
            proba = scores(model, back[features])
            m = metrics(yv, proba)
            mlflow.log_metrics(m)
        if best is None or m["log_loss"] < best[0]:
            best = (m["log_loss"], run.info.run_id, name, proba, m)
    _, run_id, name, proba, ref = best
    pred = (proba >= 0.5).astype(int)
    groups = back[GROUP].astype(str).to_numpy()
    ref["dp_diff." + GROUP] = flm.demographic_parity_difference(yv, pred, sensitive_features=groups)
    ref["eo_diff." + GROUP] = flm.equalized_odds_difference(yv, pred, sensitive_features=groups)
    print(json.dumps({"experiment_id": experiment.experiment_id, "best_run_id": run_id, "best_run_name": name,
                      "rows": len(back), "reference": {k: float(v) for k, v in ref.items()}}))


def score(uri, path, n):
    model = mlflow.sklearn.load_model(uri)
    x = pd.read_csv(path).head(int(n))
    print(json.dumps({"proba": [float(v) for v in scores(model, x[list(model.feature_names_in_)])]}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment")
    p.add_argument("--valid-out", default="breast-cancer-valid.csv")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--score", nargs=3, metavar=("URI", "CSV", "N"))
    args = p.parse_args()
    if args.score:
        score(*args.score)
    elif args.experiment:
        train(args)
    else:
        p.error("give --experiment (and --valid-out), or --score URI CSV N")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
