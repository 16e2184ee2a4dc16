#!/usr/bin/env python3
"""The churn promotion exercise, written with MLflow's own Python client.

"Cas d'usage industriel - promotion d'un modele de churn", section by
section, with mlflow.MlflowClient against the tracking server named by
MLFLOW_TRACKING_URI (a real MLflow server or `playbook server`: the script
runs unchanged on both).

  0. log three training runs of a small logistic model (create_run,
     log_param, log_metric, log_artifacts, set_terminated);
  1. identify the best run by F1 (search_runs) and register its model
     (create_registered_model, create_model_version);
  2. alias the new version staging-candidate and tag it (set_model_version_tag,
     set_registered_model_alias);
  3. validate the candidate loaded through its alias (get_model_version_by_alias)
     and tag the result;
  4. promote: move production-live to the new version, tag the old one
     archived, keep a previous-production alias for the rollback;
  5. load the production model by alias alone (models:/NAME@production-live);
  6. score a few customers;
  7. verify the registry, then drop the rollback alias
     (delete_registered_model_alias).

Run it twice on one model: the second run registers a new version and
archives the first. It prints one JSON object describing the registry.

  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python scripts/exercise_mlflowclient.py \\
      --experiment churn-exercise --model ChurnPredictor
"""

import argparse
import json
import math
import os
import sys
import tempfile

from mlflow import MlflowClient
from mlflow.artifacts import download_artifacts
from mlflow.exceptions import MlflowException

CANDIDATE = "staging-candidate"
PRODUCTION = "production-live"
PREVIOUS = "previous-production"
MIN_F1 = 0.55

# Customers: (tenure in months, monthly charges, month-to-month contract).
CUSTOMERS = [(2, 95.0, 1), (60, 25.0, 0), (12, 70.0, 1), (40, 105.0, 0)]
LABELS = [1, 0, 1, 0]


def predict(weights, customer):
    tenure, charges, monthly = customer
    z = weights["bias"] + weights["tenure"] * tenure + weights["charges"] * charges + weights["monthly"] * monthly
    return 1.0 / (1.0 + math.exp(-z))


def f1_score(weights, threshold):
    tp = fp = fn = 0
    for customer, label in zip(CUSTOMERS, LABELS):
        pred = 1 if predict(weights, customer) >= threshold else 0
        tp += pred and label
        fp += pred and not label
        fn += (not pred) and label
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def train(client, experiment_id):
    """Section 0: three training runs, each with its model under model/."""
    grid = [
        {"tenure": -0.05, "charges": 0.02, "monthly": 1.2, "bias": -1.0, "threshold": 0.5},
        {"tenure": -0.08, "charges": 0.03, "monthly": 1.5, "bias": -1.5, "threshold": 0.4},
        {"tenure": -0.01, "charges": 0.001, "monthly": 0.1, "bias": -2.0, "threshold": 0.6},
    ]
    for i, w in enumerate(grid):
        run = client.create_run(experiment_id, run_name=f"churn-logreg-{i + 1:02d}")
        run_id = run.info.run_id
        for key in ("tenure", "charges", "monthly", "bias", "threshold"):
            client.log_param(run_id, key, w[key])
        f1 = f1_score(w, w["threshold"])
        client.log_metric(run_id, "f1", f1)
        client.log_metric(run_id, "roc_auc", 0.7 + f1 / 4)
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "MLmodel"), "w") as f:
                f.write("flavors:\n  churn_logreg: {}\n")
            with open(os.path.join(tmp, "weights.json"), "w") as f:
                json.dump(w, f)
            client.log_artifacts(run_id, tmp, artifact_path="model")
        client.set_terminated(run_id)


def version_by_alias(client, name, alias):
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiment", default="churn-exercise")
    parser.add_argument("--model", default="ChurnPredictor")
    args = parser.parse_args()
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        sys.exit("exercise: set MLFLOW_TRACKING_URI to a tracking server")
    client = MlflowClient()

    experiment = client.get_experiment_by_name(args.experiment)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(args.experiment)
    train(client, experiment_id)

    # 1. Identify the best run by F1, and register its model.
    best = client.search_runs(
        [experiment_id],
        filter_string="attributes.status = 'FINISHED' AND metrics.f1 > 0",
        order_by=["metrics.f1 DESC"],
        max_results=1,
    )[0]
    try:
        client.create_registered_model(args.model, description="churn predictor")
    except MlflowException as e:
        if e.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    new = client.create_model_version(args.model, f"{best.info.artifact_uri}/model", run_id=best.info.run_id)

    # 2. Alias and tag the candidate.
    client.set_model_version_tag(args.model, new.version, "validation_status", "pending")
    client.set_model_version_tag(args.model, new.version, "context", "churn exercise, " + args.experiment)
    client.set_registered_model_alias(args.model, CANDIDATE, new.version)

    # 3. Validate the model loaded through the candidate alias.
    candidate = client.get_model_version_by_alias(args.model, CANDIDATE)
    weights = json.load(open(os.path.join(download_artifacts(f"models:/{args.model}@{CANDIDATE}"), "weights.json")))
    f1 = f1_score(weights, weights["threshold"])
    passed = f1 >= MIN_F1
    client.set_model_version_tag(args.model, candidate.version, "validation_status", "passed" if passed else "failed")
    if not passed:
        sys.exit(f"exercise: validation failed: f1 {f1:.3f} < {MIN_F1}")

    # 4. Promote: production-live moves to the new version.
    old = version_by_alias(client, args.model, PRODUCTION)
    if old is not None and old.version != candidate.version:
        client.set_model_version_tag(args.model, old.version, "archived", "true")
        client.set_registered_model_alias(args.model, PREVIOUS, old.version)
    client.set_registered_model_alias(args.model, PRODUCTION, candidate.version)

    # 5. Load the production model by alias alone.
    production_dir = download_artifacts(f"models:/{args.model}@{PRODUCTION}")
    production = json.load(open(os.path.join(production_dir, "weights.json")))

    # 6. Score a few customers.
    scores = [round(predict(production, c), 4) for c in CUSTOMERS]

    # 7. Verify: both aliases on the new version, validation passed, the
    # old version archived; then drop the rollback alias.
    model = client.get_registered_model(args.model)
    assert model.aliases[PRODUCTION] == candidate.version, model.aliases
    assert model.aliases[CANDIDATE] == candidate.version, model.aliases
    assert client.get_model_version(args.model, candidate.version).tags["validation_status"] == "passed"
    if old is not None and old.version != candidate.version:
        assert client.get_model_version(args.model, old.version).tags["archived"] == "true"
        assert client.get_model_version_by_alias(args.model, PREVIOUS).version == old.version
        client.delete_registered_model_alias(args.model, PREVIOUS)
        assert version_by_alias(client, args.model, PREVIOUS) is None

    print(json.dumps({
        "model": args.model,
        "best_run": best.info.run_id,
        "best_f1": best.data.metrics["f1"],
        "version": candidate.version,
        "previous": old.version if old is not None else None,
        "aliases": dict(client.get_registered_model(args.model).aliases),
        "scores": scores,
    }, sort_keys=True))


if __name__ == "__main__":
    main()
