// Package mlflow is a typed REST client for MLflow tracking servers (2.x and
// 3.x): experiments, runs, MLflow 3's logged models, the model registry
// (registered models, versions, tags, aliases), artifacts through the
// server's proxy or, when the server does not proxy them, straight from an
// s3:// bucket (Config.S3: MLflow's MLFLOW_S3_* and AWS_* variables) or a
// file:// folder, and models:/ and runs:/ URIs. CheckArtifactStore tells an
// unreachable store, or one that refuses the credentials, before anything
// changes; a client without the store's keys (a kernel process) reads and
// writes through its parent (WithArtifactRelay, ArtifactRelayHandler).
//
// Configuration follows MLflow's own environment variables and defaults
// (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN, ...). Every error a call
// returns after sending a request is an *APIError or wraps one, usable with
// errors.Is and errors.As; arguments refused before any request (a bad
// alias, an artifact path that escapes its root, an unsupported URI) wrap a
// sentinel such as ErrInvalidParameter or ErrPathEscape. No error carries a
// secret.
//
// Forward sends a raw request once, with the client's credentials and TLS
// settings, for a proxy that lets a client without credentials reach the
// server (the cell kernel's, internal/regproxy).
//
// # MLflow 3 logged models
//
// In MLflow 3, mlflow.<flavor>.log_model(..., name="model") creates a
// LoggedModel, an entity of its own beside runs and model versions: an id
// (m-...), a status (PENDING until finalized READY or UPLOAD_FAILED),
// params, metrics, tags, and files under
// <experiment>/models/<model_id>/artifacts; the run's own artifacts stay
// empty and the run records the model in its outputs. CreateLoggedModel,
// FinalizeLoggedModel, GetLoggedModel, SearchLoggedModels (filters over
// attributes, metrics, params and tags; ParseLoggedModelOrderBy reads
// "metrics.f1 DESC"), SetLoggedModelTags, DeleteLoggedModelTag,
// LogLoggedModelParams, LogLoggedModelMetrics and DeleteLoggedModel make
// MLflow's logged-model REST calls (public in service.proto, though
// rest-api.html does not document them); LogInputs and LogOutputs link runs
// to datasets and models.
//
// A logged model is registered with Source models:/<model_id> and ModelID
// (CreateModelVersionRequest). ResolveArtifactURI resolves
// runs:/RUN/model as mlflow.register_model does (the run's logged model
// called "model", else the run's artifacts) and models:/ URIs, the
// models:/<model_id> form included, to an artifact URI that the artifact
// methods read, as MLflow's Python client does.
package mlflow
