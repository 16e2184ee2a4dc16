#!/usr/bin/env python3
"""Log small scikit-learn churn models the MLflow 3 way, for interop tests.

For each of --runs runs in --experiment: train a StandardScaler +
LogisticRegression pipeline on a small synthetic data set, log the
validation set as the run's input dataset, log the model with
mlflow.sklearn.log_model(pipe, name="model") (a LoggedModel: its files go
under the model's own artifact location, the run's artifacts stay empty),
and log metrics f1 and roc_auc linked to the run, the model and the
validation dataset. Each run uses a different regularisation, so the
models have different scores.

With --register NAME, it then registers the best model by f1 the way
MLflow 3 users do, mlflow.register_model("runs:/RUN/model", NAME), and
reports the version's source and model_id. It prints one JSON object on
its last line:

  {"experiment_id": "1", "models": [{"run_id": "...", "model_id": "m-...",
    "f1": 0.8, "roc_auc": 0.9, "dataset_digest": "..."}, ...],
   "registered": {"name": "...", "version": "1", "source": "models:/m-...",
   "model_id": "m-...", "run_id": "..."}}

With --load URI instead, it loads that model with mlflow.pyfunc.load_model
and prints {"flavor": ..., "predictions": [...]} for three customers.

  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python scripts/log_sklearn_models.py \\
      --experiment lm-interop --runs 3 --register ChurnPredictor
  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python scripts/log_sklearn_models.py \\
      --load models:/ChurnPredictor/2
"""

import argparse
import json

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["tenure", "monthly_charges", "month_to_month"]


def churn_data(seed):
    """A small synthetic churn table: short tenure, high charges and
    month-to-month contracts make churn likelier."""
    rng = np.random.default_rng(seed)
    n = 400
    tenure = rng.integers(1, 72, n)
    charges = rng.uniform(20, 110, n)
    monthly = rng.integers(0, 2, n)
    z = -0.06 * tenure + 0.03 * charges + 1.2 * monthly - 1.5 + rng.normal(0, 1, n)
    churn = (z > 0).astype(int)
    return pd.DataFrame({"tenure": tenure, "monthly_charges": charges, "month_to_month": monthly, "churn": churn})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--register", metavar="NAME", help="register the best model under NAME")
    parser.add_argument("--load", metavar="URI", help="only load the model at URI and predict")
    args = parser.parse_args()
    if args.load:
        load(args.load)
        return
    if not args.experiment:
        parser.error("--experiment is required unless --load is given")

    experiment = mlflow.set_experiment(args.experiment)
    data = churn_data(seed=7)
    train, valid = train_test_split(data, test_size=0.3, random_state=7, stratify=data["churn"])
    dataset = mlflow.data.from_pandas(valid, name="churn-validation", targets="churn")

    out = {"experiment_id": experiment.experiment_id, "models": []}
    strengths = [0.003, 0.03, 1.0, 10.0]
    for i in range(args.runs):
        c = strengths[i % len(strengths)]
        with mlflow.start_run(run_name=f"churn-sklearn-{i + 1:02d}") as run:
            mlflow.log_input(dataset, context="validation")
            mlflow.log_params({"C": c, "model": "logreg"})
            pipe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=200))
            pipe.fit(train[FEATURES], train["churn"])
            info = mlflow.sklearn.log_model(
                pipe,
                name="model",
                pip_requirements=["scikit-learn"],  # skip requirement inference: faster
                params={"C": c},
            )
            proba = pipe.predict_proba(valid[FEATURES])[:, 1]
            f1 = round(float(f1_score(valid["churn"], proba >= 0.5)), 6)
            auc = round(float(roc_auc_score(valid["churn"], proba)), 6)
            mlflow.log_metrics({"f1": f1, "roc_auc": auc}, model_id=info.model_id, dataset=dataset)
            out["models"].append(
                {
                    "run_id": run.info.run_id,
                    "model_id": info.model_id,
                    "f1": f1,
                    "roc_auc": auc,
                    "dataset_digest": dataset.digest,
                }
            )
    if args.register:
        best = max(out["models"], key=lambda m: m["f1"])
        mv = mlflow.register_model(f"runs:/{best['run_id']}/model", args.register)
        out["registered"] = {
            "name": mv.name,
            "version": mv.version,
            "source": mv.source,
            "model_id": mv.model_id,
            "run_id": mv.run_id,
        }
    print(json.dumps(out))


def load(uri):
    model = mlflow.pyfunc.load_model(uri)
    customers = pd.DataFrame({"tenure": [2, 60, 12], "monthly_charges": [95.0, 25.0, 70.0], "month_to_month": [1, 0, 1]})
    predictions = [int(p) for p in model.predict(customers)]
    print(json.dumps({"flavor": model.loader_module, "model_id": model.model_id, "predictions": predictions}))


if __name__ == "__main__":
    main()
