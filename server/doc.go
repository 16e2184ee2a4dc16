// Package server is the embedded MLflow-compatible tracking server: the
// part of MLflow's REST API that playbook and the churn exercise use
// (experiments, runs and run search, the model registry with tags and
// aliases, proxied artifacts, /health and /version), with MLflow's own
// statuses, error codes and messages, held to MLflow 3.18.0 by the
// conformance suite in ../conformance.
//
// A data directory holds everything: mlflow.db, a SQLite database (WAL,
// synchronous=FULL: a write is committed before its reply), and
// artifacts/, written atomically (temporary file, fsync, rename) and
// reached only through an os.Root. playbook server serves it on
// 127.0.0.1; playbook run starts one in-process when no tracking URI is
// given.
package server
