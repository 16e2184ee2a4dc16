#!/usr/bin/env python3
"""Score a registered model the way a Python service does, for interop tests.

Loads MODEL_URI (e.g. models:/ChurnPredictor@production-live) with MLflow's
own mlflow.pyfunc.load_model against MLFLOW_TRACKING_URI, scores the rows of
ROWS_JSON ({"columns": [...], "data": [[...]], "targets": [0, 1, ...]}, the
pandas split form plus the true labels), and runs
mlflow.models.evaluate(model_type="classifier") on them. Prints one JSON
object on its last line: the model's flavors, labels and probabilities, and
the metrics evaluate computed.

  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python scripts/score_with_pyfunc.py MODEL_URI ROWS_JSON
"""

import json
import sys

import mlflow
import pandas as pd


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: score_with_pyfunc.py MODEL_URI ROWS_JSON")
    uri, rows_path = sys.argv[1], sys.argv[2]
    with open(rows_path, encoding="utf-8") as f:
        rows = json.load(f)
    df = pd.DataFrame(rows["data"], columns=rows["columns"])

    model = mlflow.pyfunc.load_model(uri)
    labels = model.predict(df)
    proba = model.predict(df, params={"predict_method": "predict_proba"})

    data = df.copy()
    data["label"] = rows["targets"]
    with mlflow.start_run(run_name="evaluate-" + uri.rsplit("/", 1)[-1]):
        # No SHAP explanations: the model reads string columns, which SHAP cannot.
        result = mlflow.models.evaluate(uri, data, targets="label", model_type="classifier",
                                        evaluator_config={"log_model_explainability": False})
    print(json.dumps({
        "flavors": sorted(model.metadata.flavors),
        "labels": [int(v) for v in labels],
        "proba": [float(v) for v in proba],
        "evaluate_metrics": {k: float(v) for k, v in result.metrics.items()},
    }))


if __name__ == "__main__":
    main()
