// Package server is the embedded MLflow-compatible tracking server: the
// part of MLflow's REST API that playbook and the churn exercise use,
// with MLflow's own statuses, error codes and messages, held to MLflow
// 3.18.0 by the conformance suite in ../conformance.
//
// # What is served
//
//   - Experiments: create, get, get-by-name, search, update (rename),
//     delete, restore, set-experiment-tag, delete-experiment-tag.
//   - Runs: create, get, update, delete, restore, log-batch, log-metric,
//     log-parameter, set-tag, delete-tag, search; metrics/get-history and
//     metrics/get-history-bulk-interval (also under /ajax-api/2.0/, where
//     MLflow's UI calls it), sampled as MLflow's SQL store samples it.
//   - Run inputs and outputs: runs/log-inputs (datasets, kept once per
//     experiment, name and digest, with input tags; logged models) and
//     runs/outputs (logged models at a step), returned by runs/get (and,
//     without model inputs, runs/search) as MLflow returns them. Model ids
//     are opaque strings: MLflow does not check that the model exists.
//   - The model registry: registered models (create, get, search,
//     update, rename, delete, set-tag, delete-tag, aliases,
//     get-latest-versions) and model versions (create, get, update,
//     delete, search, set-tag, delete-tag, get-download-uri, and
//     transition-stage for MLflow's deprecated stages). A deleted version
//     is kept redacted and hidden, as MLflow keeps it.
//   - MLflow 3's logged models (/api/2.0/mlflow/logged-models): create,
//     get (allow_deleted), finalize, delete, set tags, delete tag, log
//     params, search (filter on attributes, metrics, params and tags;
//     datasets; order_by attributes or metrics, per dataset; page tokens
//     bound to their search) and artifacts/directories. Their artifacts
//     live under <experiment location>/models/<model id>/artifacts, behind
//     the same artifact proxy as the runs'. Metrics that runs/log-metric
//     and runs/log-batch log with a model_id are also that model's
//     metrics. model-versions/create takes a model_id and a models:/<id>
//     source, registers the model's artifact location as the version's
//     storage location (what get-download-uri answers) and lists the
//     version in the model's mlflow.modelVersions tag.
//   - Proxied artifacts (mlflow-artifacts), artifacts/list (a run's
//     artifacts, paths relative to its root), /api/3.0/mlflow/server-info,
//     /health and /version.
//   - A read-only registry page in place of MLflow's UI (ui.go): / lists
//     the registered models and holds each model's page and the page of
//     each run a shown version comes from, as sections whose ids are the
//     MLflow UI's routes (/models/NAME, /models/NAME/versions/N,
//     /experiments/E/runs/R), which CSS shows when the URL's fragment
//     names them: the MLflow UI's links (BASE/#/models/NAME) lead there
//     with no script. /ui/models/{name} and /ui/runs/{run_id} are the same
//     pages on their own. Server-rendered HTML (html/template), GET and
//     HEAD only, bounded (200 models, 50 versions each), under a
//     Content-Security-Policy that allows nothing but its inline style.
//
// Not served: MLflow's UI (its JavaScript application), prompts and other
// MLflow 3 (3.0 API) endpoints, dataset search, models:/<name>/<version>
// model version sources, the GraphQL and ajax-api UI endpoints (but
// get-history-bulk-interval; the UI's logged model artifact files
// included), and multipart or presigned artifact transfers. A path that
// is not served is answered, as MLflow answers it, with Flask's HTML 404
// page and no error code (mlflow.LoggedModelsSupported relies on this for
// servers without logged models).
//
// Traces are the exception: every path under /api/2.0/mlflow/traces,
// /api/3.0/mlflow/traces and /v1/traces is refused with MLflow's
// NOT_IMPLEMENTED (501) and a message saying that this server does not
// keep traces. MLflow's Python client reports that message as is (a
// trace export logs "Failed to send trace to MLflow backend:
// NOT_IMPLEMENTED: ...", and the traced code goes on), where a 404 makes
// it retry the deprecated v2 API and then quote an HTML page. Only traced
// code (mlflow.trace, GenAI autologging, mlflow.genai) calls them:
// mlflow.sklearn.autolog and mlflow.models.evaluate do not.
//
// Where MLflow's protobuf parser fails on a member of the wrong JSON type
// inside log-inputs' datasets or log-outputs' models and MLflow goes on
// with what it parsed before the failure (which depends on the order of
// the request's keys), the server refuses the request with MLflow's
// type-mismatch message for the whole field. Experiment tags are listed
// by key, where MLflow lists them in the order they were set. A logged model
// search's page token that is not base64 is a JSON 500, where MLflow
// answers Flask's HTML 500 page; a log-batch whose metrics name a missing
// logged model fails as MLflow's does, its run part kept.
//
// A data directory holds everything: mlflow.db, a SQLite database (WAL,
// synchronous=FULL: a write is committed before its reply), and
// artifacts/, written atomically (temporary file, fsync, rename) and
// reached only through an os.Root. playbook server serves it on
// 127.0.0.1; playbook run starts one in-process when no tracking URI is
// given.
//
// # Layers
//
// The code follows MLflow's own split between mlflow/server/handlers.py
// and the SQLAlchemy stores:
//
//   - Handlers (handlers_registry.go, handlers_tracking.go) decode the
//     request, call one store method and build the reply, nothing else.
//     Server.api adapts them to net/http: it reads the request
//     (readRequest) and writes the reply or MLflow's error reply.
//   - The decoder (decode.go) reads a request's fields in the order the
//     handler asks for them, as MLflow's _get_request_message checks its
//     schema. Its first error sticks and later reads are no-ops, so a
//     handler reads every field and then hands the store call to
//     decoder.then, which makes it only when every read succeeded.
//   - The store (store.go for the database and its schema;
//     store_registry.go, store_tracking.go and store_search.go for the
//     typed methods such as SetAlias, CreateModelVersion, GetRun or
//     SearchModelVersions) validates its arguments in MLflow's order
//     (validate.go), runs its SQL in one transaction and answers with
//     MLflow's error codes (*apiError), so it is testable without HTTP.
//     Like MLflow's store, it takes model versions as strings and parses
//     them after checking the names.
//   - The searches share one order_by parser and one comparator table
//     (order.go), one page token format (search.go) and one filter
//     grammar (filter.go). Registry searches select their attribute
//     comparisons (name, and for versions run_id, source and version) in
//     SQL, then apply the whole filter in Go where MLflow's semantics need
//     it (case-sensitive LIKE, tags, prompts).
//   - python.go holds the helpers that reproduce Python's str(), repr()
//     and json.dumps in MLflow's messages.
package server
