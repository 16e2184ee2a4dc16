// Package conformance holds the suite that keeps playbook's embedded
// tracking server (package server) to MLflow's own behaviour: the same
// cases, written with the mlflow client and raw HTTP, run against a real
// MLflow server (MLFLOW_TRACKING_URI) and against an embedded server
// started in-process, and must pass on both. A case states what MLflow
// answers (status, error_code, message, JSON shape); when the two servers
// disagree, the real one is right.
//
// The package also holds what compares the two servers as a whole: the
// exercise run with MLflow's own Python client, the suite of what MLflow 3
// users do with that client (scripts/python_client_suite.py, one named
// check each), Python's register_model on runs trained by playbook, and
// the request-mix and log-model/register benchmarks.
//
//	go test ./conformance                                  # embedded only
//	MLFLOW_TRACKING_URI=$(scripts/mlflow-server start) go test ./conformance
package conformance
