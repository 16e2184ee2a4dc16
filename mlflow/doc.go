// Package mlflow is a typed REST client for MLflow tracking servers (2.x and
// 3.x): experiments, runs, the model registry (registered models, versions,
// tags, aliases), artifacts through the server's proxy, and models:/ URIs.
//
// Configuration follows MLflow's own environment variables and defaults
// (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, ...). Every error a call
// returns after sending a request is an *APIError or wraps one, usable with
// errors.Is and errors.As; arguments refused before any request (a bad
// alias, an artifact path that escapes its root, an unsupported URI) wrap a
// sentinel such as ErrInvalidParameter or ErrPathEscape. No error carries a
// secret.
package mlflow
