"""MLflow python_function loader for playbook's churn models.

Written by playbook into the code/ folder of every churn model it saves, so
that MLflow's own mlflow.pyfunc.load_model (and `mlflow models serve`) load
the model without playbook. It reads model.json, the file playbook's Go
code reads, and scores with numpy exactly as the Go model does:

  - tenure, MonthlyCharges, TotalCharges standardised with the training
    mean and population standard deviation kept in model.json;
  - SeniorCitizen as is;
  - one indicator per training category of each categorical column (a
    category not seen in training encodes as all zeros);
  - probability of churn = sigmoid(intercept + coef . x).

predict returns labels (1 = churn) at the model's threshold, as MLflow's
sklearn flavor returns a classifier's labels; params={"predict_method":
"predict_proba"} returns the probabilities. Only numpy and pandas are used.
"""

import json

import numpy as np
import pandas as pd

FLAVOR = "playbook_churn"
FORMAT_VERSION = 1
PREDICT_METHODS = ("predict", "predict_proba")


def _load_pyfunc(data_path, model_config=None):
    return ChurnModel(data_path)


def _sigmoid(z):
    # The Go model's formula, branch for branch, so that both round alike.
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    e = np.exp(z[~pos])
    out[~pos] = e / (1.0 + e)
    return out


class ChurnModel:
    """A playbook churn model read from model.json."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("format_version") != FORMAT_VERSION or doc.get("flavor") != FLAVOR:
            raise ValueError(
                f"{path}: format_version {doc.get('format_version')!r}, flavor "
                f"{doc.get('flavor')!r}: this loader reads only version {FORMAT_VERSION} "
                f"of {FLAVOR}"
            )
        model = doc["model"]
        enc = model["encoder"]
        self.numeric = [(f["column"], float(f["mean"]), float(f["std"])) for f in enc["numeric"]]
        self.flags = list(enc["flags"])
        self.categorical = [(f["column"], list(f["categories"])) for f in enc["categorical"]]
        self.intercept = float(model["logistic"]["intercept"])
        self.coef = np.asarray(model["logistic"]["coef"], dtype=np.float64)
        self.threshold = float(model["threshold"])
        width = len(self.numeric) + len(self.flags) + sum(len(c) for _, c in self.categorical)
        if width != len(self.coef):
            raise ValueError(f"{path}: the encoder makes {width} features but the model has {len(self.coef)} coefficients")

    def columns(self):
        """The input columns the model reads."""
        return [c for c, _, _ in self.numeric] + self.flags + [c for c, _ in self.categorical]

    def encode(self, df):
        """The feature matrix of a data frame, one row per customer."""
        missing = [c for c in self.columns() if c not in df.columns]
        if missing:
            raise ValueError(f"missing input columns: {', '.join(missing)}")
        parts = []
        for col, mean, std in self.numeric:
            parts.append(((df[col].to_numpy(dtype=np.float64) - mean) / std)[:, None])
        for col in self.flags:
            parts.append(df[col].to_numpy(dtype=np.float64)[:, None])
        for col, cats in self.categorical:
            values = df[col].astype(str).to_numpy()
            parts.append(np.stack([values == c for c in cats], axis=1).astype(np.float64)
                         if cats else np.zeros((len(df), 0)))
        return np.hstack(parts) if parts else np.zeros((len(df), 0))

    def predict_proba(self, df):
        """Each customer's probability of churn."""
        x = self.encode(df)
        return _sigmoid(self.intercept + x @ self.coef)

    def predict(self, model_input, params=None):
        method = (params or {}).get("predict_method", "predict")
        if method not in PREDICT_METHODS:
            raise ValueError(f"predict_method {method!r}: want one of {', '.join(PREDICT_METHODS)}")
        df = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        proba = self.predict_proba(df)
        if method == "predict_proba":
            return proba
        return (proba >= self.threshold).astype(np.int64)
