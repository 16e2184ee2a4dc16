"""playbook's Python worker: scores MLflow models with MLflow's own pyfunc.

playbook starts this program once per run and talks to it over its stdin
and stdout. Every message is a frame: a 4-byte big-endian length and a JSON
header, then, when the header says "payload": N, N bytes. Requests:

  {"op": "hello"}
      -> {"python": "3.11.7", "mlflow": "3.18.0"}
  {"op": "load", "path": DIR}
      -> {"model": ID, "flavors": [...], "proba": bool, "classes": [...],
          "inputs": [[name, type], ...] or null}
  {"op": "predict", "model": ID, "method": "proba" | "labels",
   "positive": LABEL, "payload": N}  + an Arrow IPC stream of the rows
      -> {"rows": R, "kind": "proba" | "labels", "payload": 8*R}
         + R little-endian float64 (probabilities of the positive class,
           or labels: 1.0 for the positive label, 0.0 otherwise); "seconds"
           is the time spent in the model's own predict
  {"op": "close"}

An error answers {"error": MESSAGE}; the worker then waits for the next
request. Probabilities come from the estimator's predict_proba for models
with the sklearn flavor (mlflow.sklearn.load_model: the pyfunc calls the
predict_fn chosen at log time, often predict), else from the pyfunc with
params {"predict_method": "predict_proba"} when its signature declares
that parameter; labels from the pyfunc's predict otherwise.
"""

import json
import struct
import sys
import time
import traceback

import numpy as np


def read_exact(stream, n):
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        k = stream.readinto(view[got:])
        if not k:
            raise EOFError
        got += k
    return buf


def read_frame(stream):
    (n,) = struct.unpack(">I", read_exact(stream, 4))
    header = json.loads(read_exact(stream, n))
    payload = read_exact(stream, header["payload"]) if header.get("payload") else b""
    return header, payload


def write_frame(stream, header, payload=b""):
    if payload:
        header = dict(header, payload=len(payload))
    data = json.dumps(header).encode()
    stream.write(struct.pack(">I", len(data)) + data + payload)
    stream.flush()


class Loaded:
    def __init__(self, path):
        import mlflow.pyfunc
        from mlflow.models import Model

        meta = Model.load(path)
        self.flavors = sorted(meta.flavors)
        self.pyfunc = mlflow.pyfunc.load_model(path)
        self.estimator = None
        if "sklearn" in meta.flavors:
            import mlflow.sklearn

            est = mlflow.sklearn.load_model(path)
            if hasattr(est, "predict_proba"):
                self.estimator = est
        sig = meta.signature
        self.params = set()
        self.inputs = None
        if sig is not None:
            if sig.params is not None:
                self.params = {p.name for p in sig.params.params}
            if sig.inputs is not None and sig.inputs.has_input_names():
                self.inputs = [[s.name, getattr(s.type, "name", str(s.type))] for s in sig.inputs.inputs]
        self.classes = []
        if self.estimator is not None and hasattr(self.estimator, "classes_"):
            self.classes = [c.item() if hasattr(c, "item") else c for c in self.estimator.classes_]

    def has_proba(self):
        return self.estimator is not None or "predict_method" in self.params

    def predict(self, df, method, positive):
        if method == "proba":
            if self.estimator is not None:
                proba = self.estimator.predict_proba(df)
                idx = self.class_index(positive)
                return "proba", np.asarray(proba[:, idx], dtype="<f8")
            if "predict_method" in self.params:
                out = self.pyfunc.predict(df, params={"predict_method": "predict_proba"})
                return "proba", as_column(out)
            raise ValueError("the model gives labels only (no predict_proba): a threshold needs scores")
        labels = self.pyfunc.predict(df)
        labels = np.asarray(labels).ravel()
        return "labels", np.asarray(labels == type_like(labels, positive), dtype="<f8")

    def class_index(self, positive):
        for i, c in enumerate(self.classes):
            if c == positive or str(c) == str(positive):
                return i
        raise ValueError(f"positive label {positive!r} is not one of the model's classes {self.classes!r}")


def as_column(out):
    arr = np.asarray(out, dtype="<f8")
    if arr.ndim == 2:
        arr = arr[:, -1]
    return arr.ravel()


def type_like(labels, positive):
    if labels.dtype.kind in "iub":
        try:
            return int(positive)
        except ValueError:
            return positive
    if labels.dtype.kind == "f":
        return float(positive)
    return positive


def main():
    import pyarrow as pa

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    # Anything a model prints goes to stderr, not into the protocol.
    sys.stdout = sys.stderr
    models = {}
    while True:
        try:
            header, payload = read_frame(stdin)
        except EOFError:
            return
        op = header.get("op")
        try:
            if op == "close":
                return
            if op == "hello":
                import mlflow

                write_frame(stdout, {"python": sys.version.split()[0], "mlflow": mlflow.__version__})
            elif op == "load":
                m = Loaded(header["path"])
                mid = str(len(models) + 1)
                models[mid] = m
                write_frame(stdout, {"model": mid, "flavors": m.flavors, "proba": m.has_proba(),
                                     "classes": [str(c) for c in m.classes], "inputs": m.inputs})
            elif op == "predict":
                m = models[header["model"]]
                df = pa.ipc.open_stream(payload).read_all().to_pandas()
                start = time.perf_counter()
                kind, values = m.predict(df, header["method"], header.get("positive", 1))
                seconds = time.perf_counter() - start
                write_frame(stdout, {"rows": len(values), "kind": kind, "seconds": seconds}, values.tobytes())
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as e:  # answered, not fatal: the run reports it
            print(traceback.format_exc(), file=sys.stderr)
            write_frame(stdout, {"error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
