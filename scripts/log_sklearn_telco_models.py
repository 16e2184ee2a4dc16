#!/usr/bin/env python3
"""Train scikit-learn churn models on Telco data and log them the MLflow 3 way.

The students' models of the previous exercises, for interop tests: for each
of --runs runs in --experiment, a OneHotEncoder + StandardScaler +
LogisticRegression pipeline on the 19 feature columns of --train (a CSV in
the Telco schema; a blank TotalCharges reads as 0, as playbook reads it),
logged with mlflow.sklearn.log_model(pipe, name="model") with its signature
and an input example, and metrics f1 and roc_auc on --valid. Each run uses a
different C. It prints one JSON object on its last line:

  {"experiment_id": "1", "best_run_id": "...", "reference": {...}}

where "reference" is what scikit-learn and fairlearn compute for the best
run's model (by f1) on --valid: accuracy, precision, recall, f1, roc_auc,
log_loss, and for gender and SeniorCitizen the demographic parity and
equalized odds differences, labels being predict_proba >= 0.5.

With --requirements skinny, each model's requirements are what MLflow
infers with mlflow-skinny>=3,<4 in place of mlflow==<this version>.

With --score URI CSV instead, it loads the model at URI with
mlflow.sklearn.load_model and prints {"proba": [...]}: predict_proba of the
positive class for the rows of CSV.

  MLFLOW_TRACKING_URI=... python scripts/log_sklearn_telco_models.py \\
      --experiment students --train train.csv --valid valid.csv
  MLFLOW_TRACKING_URI=... python scripts/log_sklearn_telco_models.py \\
      --score models:/ChurnPredictor@production-live rows.csv
"""

import argparse
import json
import os
import sys
import tempfile

import fairlearn.metrics as flm
import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["tenure", "MonthlyCharges", "TotalCharges"]
FLAGS = ["SeniorCitizen"]
CATEGORICAL = ["gender", "Partner", "Dependents", "PhoneService", "MultipleLines", "InternetService",
               "OnlineSecurity", "OnlineBackup", "DeviceProtection", "TechSupport", "StreamingTV",
               "StreamingMovies", "Contract", "PaperlessBilling", "PaymentMethod"]


def read(path):
    df = pd.read_csv(path, dtype={c: str for c in CATEGORICAL + ["customerID", "TotalCharges"]},
                     keep_default_na=False)
    df["TotalCharges"] = pd.to_numeric(df["TotalCharges"].str.strip().replace("", "0"))
    df["MonthlyCharges"] = df["MonthlyCharges"].astype(float)
    df["tenure"] = df["tenure"].astype(np.int64)
    df["SeniorCitizen"] = df["SeniorCitizen"].astype(np.int64)
    x = df[[c for c in df.columns if c in NUMERIC + FLAGS + CATEGORICAL]]
    y = (df["Churn"] == "Yes").astype(int).to_numpy() if "Churn" in df else None
    return x, y


def reference(y, proba, x):
    pred = (proba >= 0.5).astype(int)
    out = {
        "accuracy": skm.accuracy_score(y, pred),
        "precision": skm.precision_score(y, pred, zero_division=0),
        "recall": skm.recall_score(y, pred, zero_division=0),
        "f1": skm.f1_score(y, pred, zero_division=0),
        "roc_auc": skm.roc_auc_score(y, proba),
        "log_loss": skm.log_loss(y, proba, labels=[0, 1]),
    }
    for attr in ["gender", "SeniorCitizen"]:
        groups = x[attr].astype(str).to_numpy()
        out["dp_diff." + attr] = flm.demographic_parity_difference(y, pred, sensitive_features=groups)
        out["eo_diff." + attr] = flm.equalized_odds_difference(y, pred, sensitive_features=groups)
    return {k: float(v) for k, v in out.items()}


def train(args):
    experiment = mlflow.set_experiment(args.experiment)
    xt, yt = read(args.train)
    xv, yv = read(args.valid)
    best = None
    for i, c in enumerate([0.01, 0.1, 1.0][: args.runs]):
        pre = ColumnTransformer([
            ("num", StandardScaler(), NUMERIC),
            ("flag", "passthrough", FLAGS),
            ("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ])
        pipe = make_pipeline(pre, LogisticRegression(C=c, max_iter=2000)).fit(xt, yt)
        proba = pipe.predict_proba(xv)[:, 1]
        with mlflow.start_run(run_name=f"sklearn-telco-{i}") as run:
            mlflow.log_param("C", c)
            mlflow.sklearn.log_model(pipe, name="model", signature=infer_signature(xv, pipe.predict(xv)),
                                     input_example=xv.head(3), pip_requirements=requirements(args, pipe))
            f1 = skm.f1_score(yv, (proba >= 0.5).astype(int))
            mlflow.log_metrics({"f1": f1, "roc_auc": skm.roc_auc_score(yv, proba)})
        if best is None or f1 > best[0]:
            best = (f1, run.info.run_id, proba)
    print(json.dumps({"experiment_id": experiment.experiment_id, "best_run_id": best[1],
                      "reference": reference(yv, best[2], xv)}))


def requirements(args, pipe):
    """The model's pip requirements: None (what MLflow infers), or with
    --requirements skinny what it infers but mlflow-skinny>=3,<4 for
    mlflow==<this version>, as a team serving from small images logs them."""
    if args.requirements != "skinny":
        return None
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.sklearn.save_model(pipe, os.path.join(tmp, "m"))
        with open(os.path.join(tmp, "m", "requirements.txt")) as f:
            return [r for r in f.read().split() if not r.startswith("mlflow")] + ["mlflow-skinny>=3,<4"]


def score(uri, path):
    model = mlflow.sklearn.load_model(uri)
    x, _ = read(path)
    print(json.dumps({"proba": [float(v) for v in model.predict_proba(x)[:, 1]]}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--experiment")
    p.add_argument("--train")
    p.add_argument("--valid")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--score", nargs=2, metavar=("URI", "CSV"))
    p.add_argument("--requirements", default="inferred", choices=["inferred", "skinny"])
    args = p.parse_args()
    if args.score:
        score(*args.score)
    elif args.experiment and args.train and args.valid:
        train(args)
    else:
        p.error("give --experiment, --train and --valid, or --score URI CSV")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
