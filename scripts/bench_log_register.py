#!/usr/bin/env python3
"""Time mlflow.sklearn.log_model and mlflow.register_model on tracking servers.

For each of -n iterations, and for each server in turn (interleaved, so
that every server sees the same moments of the machine's load): start a
run, time mlflow.sklearn.log_model of a small fitted LogisticRegression
(the same model every time), end the run, then time
mlflow.register_model("runs:/RUN/model", NAME), a new version of one
registered model per server. One warm-up iteration runs first and is not
counted (imports, the experiment and the registered model created).

log_model is given pip_requirements, so that MLflow's requirement
inference (a subprocess importing the model, the same cost whatever the
server) stays out of the figures; what remains is the client's work
(serialising the model, writing MLmodel and its environment files) and
the server's (create the logged model, upload its files, finalize it;
register: search the run's logged models, create the version, tag the
logged model).

Servers are given as NAME=URI. A server that fails an operation is
dropped from the rest of the run and reported with its error ("pending"
in the table). Prints a table per operation (median, p90, min, max in
ms) to stderr and one JSON object on the last line of stdout.

  python scripts/bench_log_register.py -n 30 embedded=http://127.0.0.1:5055 mlflow=http://127.0.0.1:5000
"""

import argparse
import json
import re
import statistics
import sys
import time
import uuid

import mlflow
import mlflow.sklearn
from mlflow import MlflowClient
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

OPS = ["log_model", "register_model"]


def short(e, limit=300):
    """An exception's text on one line, an HTML error page quoted in it
    reduced to its title, cut at limit characters."""
    text = " ".join(f"{type(e).__name__}: {e}".split())
    text = re.sub(r"'<!doctype html>.*?<title>(.*?)</title>.*?'", r"an HTML page '\1'", text, flags=re.IGNORECASE)
    return text[:limit]


def percentile(values, q):
    """The q-th percentile (0-100) of values, by linear interpolation."""
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def one(uri, experiment_id, model_name, model):
    """Log and register model once on uri; returns the two durations in ms."""
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        start = time.perf_counter()
        mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        logged = time.perf_counter() - start
    start = time.perf_counter()
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", model_name)
    registered = time.perf_counter() - start
    if not mv.source.startswith("models:/m-"):
        raise RuntimeError(f"registered source {mv.source!r}, not a logged model")
    return {"log_model": logged * 1000, "register_model": registered * 1000}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--iterations", type=int, default=20, help="timed iterations per server")
    parser.add_argument("servers", nargs="+", metavar="NAME=URI")
    args = parser.parse_args()
    servers = dict(s.split("=", 1) for s in args.servers)

    X, y = make_classification(n_samples=500, n_features=8, random_state=1)
    model = LogisticRegression(max_iter=300).fit(X, y)
    suffix = uuid.uuid4().hex[:8]
    model_name = f"bench-log-register-{suffix}"

    experiments, errors = {}, {}
    for name, uri in servers.items():
        try:
            experiments[name] = MlflowClient(uri).create_experiment(f"bench-log-register-{suffix}")
        except Exception as e:  # noqa: BLE001 - reported, the other servers go on
            errors[name] = short(e)
    times = {name: {op: [] for op in OPS} for name in servers}
    for i in range(args.iterations + 1):  # iteration 0 is the warm-up
        for name, uri in servers.items():
            if name in errors:
                continue
            try:
                got = one(uri, experiments[name], model_name, model)
            except Exception as e:  # noqa: BLE001
                errors[name] = short(e)
                print(f"{name}: dropped: {errors[name]}", file=sys.stderr)
                continue
            if i > 0:
                for op in OPS:
                    times[name][op].append(got[op])

    out = {"iterations": args.iterations, "servers": {}}
    for name in servers:
        if name in errors:
            out["servers"][name] = {"error": errors[name]}
            continue
        out["servers"][name] = {
            op: {
                "median_ms": round(statistics.median(v), 2),
                "p90_ms": round(percentile(v, 90), 2),
                "min_ms": round(min(v), 2),
                "max_ms": round(max(v), 2),
            }
            for op, v in times[name].items()
        }
    for op in OPS:
        print(f"\n{op}, {args.iterations} iterations (ms)", file=sys.stderr)
        print(f"{'server':<12} {'median':>9} {'p90':>9} {'min':>9} {'max':>9}", file=sys.stderr)
        for name, res in out["servers"].items():
            if "error" in res:
                print(f"{name:<12} pending: {res['error']}", file=sys.stderr)
            else:
                r = res[op]
                print(f"{name:<12} {r['median_ms']:>9.1f} {r['p90_ms']:>9.1f} {r['min_ms']:>9.1f} {r['max_ms']:>9.1f}",
                      file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
