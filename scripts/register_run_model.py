#!/usr/bin/env python3
"""Register a run's model the way MLflow users do, for interop tests.

Calls mlflow.register_model("runs:/RUN/model", NAME) with MLflow's own
Python client against MLFLOW_TRACKING_URI and prints one JSON object on its
last line: the created version's name, version, source, run_id, status and
model_id (ModelVersion.model_id as the client returns it: MLflow 3.18's
REST replies carry no model_id on model versions, so it stays null even
when the source is models:/m-...).
On an MLflow 3 server where the run logged a LoggedModel called "model"
(and left its own artifacts empty), the source is models:/m-...; where the
run holds the model as run artifacts under model/, it is that folder's URI.

  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python scripts/register_run_model.py RUN_ID NAME
"""

import json
import sys

import mlflow


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: register_run_model.py RUN_ID NAME")
    run_id, name = sys.argv[1], sys.argv[2]
    mv = mlflow.register_model(f"runs:/{run_id}/model", name)
    print(json.dumps({
        "name": mv.name,
        "version": str(mv.version),
        "source": mv.source,
        "run_id": mv.run_id,
        "status": mv.status,
        "model_id": mv.model_id,
    }))


if __name__ == "__main__":
    main()
