#!/usr/bin/env python3
"""Run MLflow's own Python client, unchanged, against a tracking server.

Each check below is one thing MLflow 3 users do with the Python client
(log a scikit-learn or a pyfunc model, log a table or a dataset, evaluate,
autolog, search logged models, register, load by alias, rename, delete a
version) and asserts what the server gave back, not only that no exception
was raised. The checks are independent: each logs what it needs under
names of its own (a --prefix, random by default, since a real server is
shared), so one failing does not fail the others.

Progress goes to stderr. The last line of stdout is one JSON object, check
name -> "ok" or the error text; the exit status is 1 when any check fails.
Nothing here reaches the network but the tracking server: the data are
generated with scikit-learn.

  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python scripts/python_client_suite.py
  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python scripts/python_client_suite.py \\
      --only register_model_from_run --only load_model_by_alias
"""

import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time
import traceback
import uuid

import mlflow
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException
from mlflow.models import Model
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

FEATURES = ["f0", "f1", "f2", "f3"]

# Skip pip requirement inference (a subprocess that imports the model): the
# checks are about the server, and inference is slow.
SKLEARN_REQS = ["scikit-learn"]
PYFUNC_REQS = ["mlflow", "pandas"]


class CheckFailed(AssertionError):
    pass


class WarningsKept(logging.Handler):
    """A logging handler that keeps the text of warnings and errors."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(short(record.getMessage()))


def short(text, limit=300):
    """text on one line, cut at limit characters; an HTML error page that
    MLflow quotes in its message is reduced to its title."""
    text = " ".join(str(text).split())
    text = re.sub(r"'<!doctype html>.*?<title>(.*?)</title>.*?'", r"an HTML page '\1'", text, flags=re.IGNORECASE)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def expect(cond, message):
    """Fail the current check with message unless cond holds."""
    if not cond:
        raise CheckFailed(message)


def expect_missing(call, what):
    """Fail unless call() raises MLflow's RESOURCE_DOES_NOT_EXIST."""
    try:
        call()
    except MlflowException as e:
        expect(e.error_code == "RESOURCE_DOES_NOT_EXIST", f"{what}: want RESOURCE_DOES_NOT_EXIST, got {e.error_code}: {e.message}")
        return
    raise CheckFailed(f"{what}: still found")


def dataset(seed, n=300):
    """A small synthetic binary classification table, split 70/30."""
    X, y = make_classification(
        n_samples=n, n_features=len(FEATURES), n_informative=3, n_redundant=0, random_state=seed
    )
    df = pd.DataFrame(X, columns=FEATURES)
    df["label"] = y
    return train_test_split(df, test_size=0.3, random_state=seed, stratify=df["label"])


class ScaledSum(mlflow.pyfunc.PythonModel):
    """A pyfunc model: the sum of each row's features times a factor."""

    def __init__(self, factor):
        self.factor = factor

    def predict(self, context, model_input, params=None):
        return model_input[FEATURES].sum(axis=1) * self.factor


class Suite:
    def __init__(self, prefix):
        self.prefix = prefix
        self.client = MlflowClient()
        self.experiment_id = mlflow.set_experiment(f"{prefix}-suite").experiment_id

    def name(self, what):
        return f"{self.prefix}-{what}"

    def log_classifier(self, seed=1, c=1.0, name="model", **kwargs):
        """Fit a logistic regression and log it with mlflow.sklearn.log_model
        in the active run; returns (model, model info, test set)."""
        train, test = dataset(seed)
        model = LogisticRegression(C=c, max_iter=300).fit(train[FEATURES], train["label"])
        info = mlflow.sklearn.log_model(model, name=name, pip_requirements=SKLEARN_REQS, **kwargs)
        return model, info, test

    def expect_same_predictions(self, uri, model, test):
        """Load uri with mlflow.pyfunc.load_model and compare its predictions
        with the fitted model's."""
        loaded = mlflow.pyfunc.load_model(uri)
        got = np.asarray(loaded.predict(test[FEATURES]))
        want = model.predict(test[FEATURES])
        expect(np.array_equal(got, want), f"{uri} predicts {got[:5]}..., the fitted model {want[:5]}...")
        return loaded

    def expect_version_linked(self, model_id, name, version):
        """register_model records the version on the logged model's
        mlflow.modelVersions tag."""
        tag = self.client.get_logged_model(model_id).tags.get("mlflow.modelVersions")
        expect(tag is not None, f"logged model {model_id} has no mlflow.modelVersions tag")
        linked = json.loads(tag)
        expect({"name": name, "version": str(version)} in [{k: str(v) for k, v in x.items()} for x in linked],
               f"mlflow.modelVersions of {model_id} is {tag}, want it to list {name} version {version}")

    # The checks, in the order they run.

    def check_sklearn_log_model(self):
        with mlflow.start_run(run_name="sklearn-log-model") as run:
            model, info, test = self.log_classifier(seed=1, input_example=dataset(1)[1][FEATURES].head(3))
        run_id = run.info.run_id
        expect(info.model_id.startswith("m-"), f"model_id {info.model_id!r}")
        expect(info.model_uri == f"models:/{info.model_id}", f"model_uri {info.model_uri!r}")
        lm = self.client.get_logged_model(info.model_id)
        expect(lm.status == LoggedModelStatus.READY, f"logged model status {lm.status}")
        expect(lm.source_run_id == run_id, f"source_run_id {lm.source_run_id}, want {run_id}")
        expect(lm.name == "model", f"logged model name {lm.name!r}")
        expect(lm.experiment_id == self.experiment_id, f"experiment_id {lm.experiment_id}")
        flavor = Model.load(info.model_uri).flavors.get("sklearn", {})
        files = {f.path for f in self.client.list_logged_model_artifacts(info.model_id)}
        expect({"MLmodel", "requirements.txt", flavor.get("pickled_model")} <= files,
               f"the logged model's files are {sorted(files)}, its sklearn flavor {flavor}")
        expect(info.signature is not None and [c.name for c in info.signature.inputs] == FEATURES,
               f"signature {info.signature}")
        outputs = [o.model_id for o in self.client.get_run(run_id).outputs.model_outputs]
        expect(outputs == [info.model_id], f"the run's model outputs are {outputs}")
        loaded = mlflow.sklearn.load_model(info.model_uri)
        expect(np.array_equal(loaded.predict(test[FEATURES]), model.predict(test[FEATURES])),
               "the loaded model predicts differently")
        expect(np.allclose(loaded.coef_, model.coef_), "the loaded model has other coefficients")

    def check_pyfunc_log_model(self):
        _, test = dataset(2)
        with mlflow.start_run(run_name="pyfunc-log-model") as run:
            info = mlflow.pyfunc.log_model(name="scaled-sum", python_model=ScaledSum(2.5), pip_requirements=PYFUNC_REQS)
        lm = self.client.get_logged_model(info.model_id)
        expect(lm.status == LoggedModelStatus.READY, f"logged model status {lm.status}")
        expect(lm.source_run_id == run.info.run_id, f"source_run_id {lm.source_run_id}")
        loaded = mlflow.pyfunc.load_model(info.model_uri)
        expect(loaded.loader_module == "mlflow.pyfunc.model", f"loader_module {loaded.loader_module}")
        got = np.asarray(loaded.predict(test[FEATURES]))
        want = test[FEATURES].sum(axis=1).to_numpy() * 2.5
        expect(np.allclose(got, want), f"predictions {got[:3]}..., want {want[:3]}...")

    def check_log_table(self):
        _, test = dataset(3)
        table = test[FEATURES[:2]].head(5).reset_index(drop=True)
        table["customer"] = [f"c{i}" for i in range(len(table))]
        with mlflow.start_run(run_name="log-table") as run:
            mlflow.log_table(data=table, artifact_file="eval/predictions.json")
        run_id = run.info.run_id
        back = mlflow.load_table("eval/predictions.json", run_ids=[run_id])
        expect(list(back["customer"]) == list(table["customer"]), f"customers {list(back['customer'])}")
        expect(np.allclose(back[FEATURES[:2]].to_numpy(), table[FEATURES[:2]].to_numpy()), "the table's values differ")
        logged = json.loads(self.client.get_run(run_id).data.tags.get("mlflow.loggedArtifacts", "[]"))
        expect({"path": "eval/predictions.json", "type": "table"} in logged, f"mlflow.loggedArtifacts is {logged}")
        files = [f.path for f in self.client.list_artifacts(run_id, "eval")]
        expect(files == ["eval/predictions.json"], f"artifacts under eval: {files}")

    def check_list_artifacts_path(self):
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "nested"))
            with open(os.path.join(tmp, "a.txt"), "w") as f:
                f.write("alpha\n")
            with open(os.path.join(tmp, "nested", "b.txt"), "w") as f:
                f.write("bravo bravo\n")
            with mlflow.start_run(run_name="list-artifacts") as run:
                mlflow.log_artifacts(tmp, artifact_path="some/path")
        run_id = run.info.run_id
        top = [(f.path, f.is_dir) for f in self.client.list_artifacts(run_id)]
        expect(top == [("some", True)], f"root: {top}")
        under = {f.path: f for f in self.client.list_artifacts(run_id, "some/path")}
        expect(sorted(under) == ["some/path/a.txt", "some/path/nested"], f"some/path: {sorted(under)}")
        expect(not under["some/path/a.txt"].is_dir and under["some/path/a.txt"].file_size == 6,
               f"some/path/a.txt: {under['some/path/a.txt']}")
        expect(under["some/path/nested"].is_dir, "some/path/nested is not a folder")
        nested = [(f.path, f.file_size) for f in self.client.list_artifacts(run_id, "some/path/nested")]
        expect(nested == [("some/path/nested/b.txt", 12)], f"some/path/nested: {nested}")
        with tempfile.TemporaryDirectory() as dst:
            local = self.client.download_artifacts(run_id, "some/path/nested/b.txt", dst)
            with open(local) as f:
                content = f.read()
        expect(content == "bravo bravo\n", f"b.txt downloaded as {content!r}")

    def check_log_input(self):
        train, _ = dataset(4)
        ds = mlflow.data.from_pandas(train, name=self.name("train-set"), targets="label")
        with mlflow.start_run(run_name="log-input") as run:
            mlflow.log_input(ds, context="training", tags={"split": "train"})
        inputs = self.client.get_run(run.info.run_id).inputs.dataset_inputs
        expect(len(inputs) == 1, f"{len(inputs)} dataset inputs")
        got = inputs[0]
        expect(got.dataset.name == ds.name, f"dataset name {got.dataset.name!r}, want {ds.name!r}")
        expect(got.dataset.digest == ds.digest, f"digest {got.dataset.digest!r}, want {ds.digest!r}")
        expect(got.dataset.source_type == ds.source._get_source_type(), f"source_type {got.dataset.source_type!r}")
        schema = json.loads(got.dataset.schema)
        columns = [c["name"] for c in schema["mlflow_colspec"]]
        expect(columns == FEATURES + ["label"], f"schema columns {columns}")
        expect(json.loads(got.dataset.profile).get("num_rows") == len(train), f"profile {got.dataset.profile}")
        tags = {t.key: t.value for t in got.tags}
        expect(tags.get("mlflow.data.context") == "training" and tags.get("split") == "train", f"input tags {tags}")

    def check_evaluate_classifier(self):
        with mlflow.start_run(run_name="evaluate") as run:
            model, info, test = self.log_classifier(seed=5)
            result = mlflow.models.evaluate(
                info.model_uri,
                test,
                targets="label",
                model_type="classifier",
                evaluators=["default"],
                evaluator_config={"default": {"log_model_explainability": False}},
            )
        predicted = model.predict(test[FEATURES])
        want = {"accuracy_score": accuracy_score(test["label"], predicted), "f1_score": f1_score(test["label"], predicted)}
        logged = self.client.get_run(run.info.run_id).data.metrics
        for key, value in want.items():
            expect(key in result.metrics, f"evaluate returned no {key}: {sorted(result.metrics)}")
            expect(abs(result.metrics[key] - value) < 1e-9, f"{key} {result.metrics[key]}, sklearn says {value}")
            expect(key in logged, f"the run has no metric {key}: {sorted(logged)}")
            expect(abs(logged[key] - value) < 1e-9, f"the run's {key} is {logged[key]}, want {value}")
        expect("roc_auc" in logged, f"the run has no roc_auc: {sorted(logged)}")
        model_metrics = {m.key for m in self.client.get_logged_model(info.model_id).metrics or []}
        expect("accuracy_score" in model_metrics, f"the evaluated model's metrics are {sorted(model_metrics)}")

    def check_sklearn_autolog(self):
        train, test = dataset(6)
        # Autologging swallows its errors into warnings of the mlflow logger:
        # keep them, to tell why something was not logged.
        warned = WarningsKept()
        logging.getLogger("mlflow").addHandler(warned)
        mlflow.sklearn.autolog(log_input_examples=False)
        try:
            with mlflow.start_run(run_name="autolog") as run:
                model = LogisticRegression(C=0.25, max_iter=300).fit(train[FEATURES], train["label"])
        finally:
            mlflow.sklearn.autolog(disable=True)
            logging.getLogger("mlflow").removeHandler(warned)
        try:
            self.expect_autologged(run.info.run_id, model, train, test)
        except CheckFailed as e:
            errors = [m for m in warned.messages if "error" in m.lower()]
            raise CheckFailed(f"{e}; autologging warned: {errors}" if errors else str(e)) from None

    def expect_autologged(self, run_id, model, train, test):
        data = self.client.get_run(run_id).data
        expect(data.params.get("C") == "0.25" and data.params.get("max_iter") == "300",
               f"params C={data.params.get('C')!r} max_iter={data.params.get('max_iter')!r}")
        want = model.score(train[FEATURES], train["label"])
        got = data.metrics.get("training_accuracy_score")
        expect(got is not None and abs(got - want) < 1e-9, f"training_accuracy_score {got}, want {want}")
        models = [m for m in mlflow.search_logged_models(experiment_ids=[self.experiment_id], output_format="list")
                  if m.source_run_id == run_id]
        expect(len(models) == 1, f"{len(models)} logged models from the autologged run")
        expect(models[0].status == LoggedModelStatus.READY, f"status {models[0].status}")
        self.expect_same_predictions(models[0].model_uri, model, test)

    def check_search_logged_models(self):
        # An experiment of its own, so that the search sees these models only.
        experiment_id = self.client.create_experiment(self.name("search-logged-models"))
        logged = []
        with mlflow.start_run(experiment_id=experiment_id, run_name="search-logged-models"):
            for rows in (60, 120, 210):
                train, test = dataset(7, n=rows)
                model = LogisticRegression(max_iter=300).fit(train[FEATURES], train["label"])
                info = mlflow.sklearn.log_model(model, name=f"rows-{rows}", params={"family": "logreg"},
                                                pip_requirements=SKLEARN_REQS)
                mlflow.log_metric("train_rows", len(train), model_id=info.model_id)
                mlflow.log_metric("accuracy", model.score(test[FEATURES], test["label"]), model_id=info.model_id)
                logged.append((len(train), info.model_id))
        threshold = logged[0][0]
        want = [mid for n, mid in sorted(logged, reverse=True) if n > threshold]
        found = mlflow.search_logged_models(
            experiment_ids=[experiment_id],
            filter_string=f"metrics.train_rows > {threshold} AND params.family = 'logreg'",
            order_by=[{"field_name": "metrics.train_rows", "ascending": False}],
            output_format="list",
        )
        got = [m.model_id for m in found]
        expect(got == want, f"filtered, by train_rows descending: {got}, want {want}")
        ascending = mlflow.search_logged_models(
            experiment_ids=[experiment_id],
            order_by=[{"field_name": "metrics.train_rows", "ascending": True}],
            output_format="list",
        )
        got = [m.model_id for m in ascending]
        want = [mid for _, mid in sorted(logged)]
        expect(got == want, f"all, by train_rows ascending: {got}, want {want}")
        frame = mlflow.search_logged_models(experiment_ids=[experiment_id], filter_string="name = 'rows-120'")
        expect(list(frame["model_id"]) == [logged[1][1]], f"name = 'rows-120': {list(frame['model_id'])}")

    def check_register_model_from_run(self):
        name = self.name("from-run")
        with mlflow.start_run(run_name="register-from-run") as run:
            model, info, test = self.log_classifier(seed=8)
        run_id = run.info.run_id
        mv = mlflow.register_model(f"runs:/{run_id}/model", name)
        expect(str(mv.version) == "1", f"version {mv.version}")
        expect(mv.source == f"models:/{info.model_id}", f"source {mv.source!r}, want models:/{info.model_id}")
        expect(mv.run_id == run_id, f"run_id {mv.run_id}, want {run_id}")
        expect(mv.status == "READY", f"status {mv.status}")
        # MLflow 3.18's REST replies carry no model_id: the client leaves it None.
        expect(mv.model_id is None, f"model_id {mv.model_id!r}: MLflow 3.18 replies carry none")
        stored = self.client.get_model_version(name, mv.version)
        expect(stored.source == mv.source and stored.run_id == run_id, f"stored: source {stored.source}, run_id {stored.run_id}")
        self.expect_version_linked(info.model_id, name, mv.version)
        self.expect_same_predictions(f"models:/{name}/{mv.version}", model, test)

    def check_register_model_from_logged_model(self):
        name = self.name("from-logged-model")
        with mlflow.start_run(run_name="register-from-logged-model"):
            model, info, test = self.log_classifier(seed=9)
        mv = mlflow.register_model(info.model_uri, name)
        expect(info.model_uri.startswith("models:/m-"), f"model_uri {info.model_uri!r}")
        expect(str(mv.version) == "1", f"version {mv.version}")
        expect(mv.source == info.model_uri, f"source {mv.source!r}, want {info.model_uri}")
        expect(mv.status == "READY", f"status {mv.status}")
        stored = self.client.get_model_version(name, mv.version)
        expect(stored.source == info.model_uri, f"stored source {stored.source!r}")
        self.expect_version_linked(info.model_id, name, mv.version)
        self.expect_same_predictions(f"models:/{name}/{mv.version}", model, test)

    def check_load_model_by_alias(self):
        name = self.name("by-alias")
        with mlflow.start_run(run_name="load-by-alias"):
            first, info1, test = self.log_classifier(seed=10, c=0.001)
            second, info2, _ = self.log_classifier(seed=10, c=100.0, name="model-2")
        v1 = mlflow.register_model(info1.model_uri, name)
        v2 = mlflow.register_model(info2.model_uri, name)
        self.client.set_registered_model_alias(name, "champion", v1.version)
        by_alias = self.client.get_model_version_by_alias(name, "champion")
        expect(str(by_alias.version) == str(v1.version), f"champion is version {by_alias.version}")
        loaded = self.expect_same_predictions(f"models:/{name}@champion", first, test)
        expect(loaded.model_id == info1.model_id, f"loaded model_id {loaded.model_id}, want {info1.model_id}")
        # Move the alias: the same URI now loads the other version.
        self.client.set_registered_model_alias(name, "champion", v2.version)
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        expect(loaded.model_id == info2.model_id, f"after the move, loaded model_id {loaded.model_id}, want {info2.model_id}")
        expect(np.array_equal(np.asarray(loaded.predict(test[FEATURES])), second.predict(test[FEATURES])),
               "after the move, the alias does not predict as version 2")
        aliases = self.client.get_registered_model(name).aliases
        expect(aliases == {"champion": str(v2.version)}, f"aliases {aliases}")

    def check_rename_registered_model(self):
        old, new = self.name("rename-old"), self.name("rename-new")
        with mlflow.start_run(run_name="rename"):
            model, info, test = self.log_classifier(seed=11)
        mv = mlflow.register_model(info.model_uri, old)
        self.client.update_registered_model(old, description="before the rename")
        self.client.rename_registered_model(old, new)  # returns None, whatever its annotation says
        got = self.client.get_registered_model(new)
        expect(got.name == new and got.description == "before the rename", f"{new}: {got.name!r}, {got.description!r}")
        expect_missing(lambda: self.client.get_registered_model(old), f"the old name {old}")
        version = self.client.get_model_version(new, mv.version)
        expect(version.name == new and version.source == info.model_uri, f"version {mv.version} of {new}: {version.name}, {version.source}")
        found = [m.name for m in self.client.search_registered_models(filter_string=f"name = '{new}'")]
        expect(found == [new], f"search by the new name: {found}")
        self.expect_same_predictions(f"models:/{new}/{mv.version}", model, test)

    def check_delete_model_version(self):
        name = self.name("delete-version")
        with mlflow.start_run(run_name="delete-version"):
            _, info, _ = self.log_classifier(seed=12)
        v1 = mlflow.register_model(info.model_uri, name)
        v2 = mlflow.register_model(info.model_uri, name)
        self.client.delete_model_version(name, v1.version)
        expect_missing(lambda: self.client.get_model_version(name, v1.version), f"version {v1.version}")
        versions = [str(v.version) for v in self.client.search_model_versions(f"name = '{name}'")]
        expect(versions == [str(v2.version)], f"versions left: {versions}")
        latest = [str(v.version) for v in self.client.get_registered_model(name).latest_versions]
        expect(latest == [str(v2.version)], f"latest versions: {latest}")
        v3 = mlflow.register_model(info.model_uri, name)
        expect(int(v3.version) == int(v2.version) + 1, f"the next version is {v3.version}, want {int(v2.version) + 1}")


CHECKS = [m[len("check_"):] for m in vars(Suite) if m.startswith("check_")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default=f"pysuite-{uuid.uuid4().hex[:8]}",
                        help="prefix of every experiment and model name (random by default)")
    parser.add_argument("--only", action="append", choices=CHECKS, metavar="CHECK",
                        help=f"run only this check (repeatable): {', '.join(CHECKS)}")
    args = parser.parse_args()

    suite = Suite(args.prefix)
    summary = {}
    for check in args.only or CHECKS:
        start = time.monotonic()
        try:
            getattr(suite, "check_" + check)()
            summary[check] = "ok"
        except Exception as e:  # noqa: BLE001 - each check reports its own failure
            summary[check] = short(f"{type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stderr)
        finally:
            if mlflow.active_run():  # a check that failed inside a run
                mlflow.end_run("FAILED")
        print(f"{check}: {summary[check]} ({time.monotonic() - start:.1f} s)", file=sys.stderr, flush=True)
    print(json.dumps(summary))
    sys.exit(0 if all(v == "ok" for v in summary.values()) else 1)


if __name__ == "__main__":
    main()
