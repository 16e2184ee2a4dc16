"""Save a scikit-learn classifier as an MLflow model folder, for tests.

  python save_sklearn_model.py OUT_DIR ROWS [--predict-fn predict|predict_proba] [--labels yes-no]
                               [--requirements skinny|pinned]

Trains a OneHotEncoder + StandardScaler + LogisticRegression pipeline on
ROWS synthetic rows (a float, an int and a string column), saves it with
mlflow.sklearn.save_model(OUT_DIR/model), and writes OUT_DIR/rows.json: the
columns, and scikit-learn's own predict_proba (positive class) and predict
on them, the reference the Go side compares with. --requirements skinny
saves it with the requirements MLflow infers but mlflow-skinny>=3,<4 for
mlflow==<this version>, as a team that serves from small images does;
pinned (the default) keeps what MLflow infers.
"""

import argparse
import json
import os
import shutil

import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("rows", type=int)
p.add_argument("--predict-fn", default="predict")
p.add_argument("--labels", default="int")
p.add_argument("--requirements", default="pinned", choices=["pinned", "skinny"])
a = p.parse_args()

rng = np.random.default_rng(1)
n = a.rows
df = pd.DataFrame({
    "charges": rng.uniform(20, 110, n),
    "tenure": rng.integers(0, 72, n).astype(np.int64),
    "contract": rng.choice(["Month-to-month", "One year", "Two year"], n),
})
z = 0.03 * df["charges"] - 0.05 * df["tenure"] + (df["contract"] == "Month-to-month") * 1.2 - 1 + rng.normal(0, 1, n)
y = (z > 0).astype(int)
if a.labels == "yes-no":
    y = np.where(y == 1, "Yes", "No")
pre = ColumnTransformer([("num", StandardScaler(), ["charges", "tenure"]), ("cat", OneHotEncoder(), ["contract"])])
pipe = make_pipeline(pre, LogisticRegression(C=0.5, max_iter=500)).fit(df, y)
path = os.path.join(a.out, "model")
mlflow.sklearn.save_model(pipe, path, signature=infer_signature(df, pipe.predict(df)), pyfunc_predict_fn=a.predict_fn)
if a.requirements == "skinny":
    # What MLflow inferred, mlflow itself swapped for mlflow-skinny.
    with open(os.path.join(path, "requirements.txt")) as f:
        reqs = [r for r in f.read().split() if not r.startswith("mlflow")] + ["mlflow-skinny>=3,<4"]
    shutil.rmtree(path)
    mlflow.sklearn.save_model(pipe, path, signature=infer_signature(df, pipe.predict(df)), pyfunc_predict_fn=a.predict_fn,
                              pip_requirements=reqs)
positive = "Yes" if a.labels == "yes-no" else 1
idx = list(pipe.classes_).index(positive)
with open(os.path.join(a.out, "rows.json"), "w") as f:
    json.dump({
        "charges": df["charges"].tolist(), "tenure": df["tenure"].tolist(), "contract": df["contract"].tolist(),
        "proba": pipe.predict_proba(df)[:, idx].tolist(),
        "positive_predicted": (pipe.predict(df) == positive).astype(float).tolist(),
    }, f)
