package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// MLflowVersion is the MLflow release whose REST API the server is held
// to: the conformance suite runs against both.
const MLflowVersion = "3.18.0"

// DefaultVersion is what /version answers: MLflow's version with build
// metadata that says which server this is (semver build metadata, which
// version checks ignore).
const DefaultVersion = MLflowVersion + "+playbook"

// DefaultDataDir is the data directory of playbook run and playbook
// server when none is given.
const DefaultDataDir = "playbook-data"

// Config configures a Server.
type Config struct {
	// DataDir holds the database (mlflow.db) and the artifacts
	// (artifacts/); created if missing.
	DataDir string
	// Version is what /version answers; DefaultVersion when empty.
	Version string
	// Logger receives one line per request (Debug) and per failure (Error);
	// nil discards. Bodies and query strings are never logged.
	Logger *slog.Logger
}

// Server is an embedded MLflow-compatible tracking server: experiments,
// runs, the model registry and proxied artifacts, kept in one data
// directory. It is safe for concurrent use; its Handler serves many
// clients at once.
type Server struct {
	dir       string
	version   string
	log       *slog.Logger
	db        *store
	artifacts *os.Root
	handler   http.Handler

	mu   sync.Mutex
	http *http.Server
	done chan error

	connMu sync.Mutex
	fresh  map[net.Conn]bool // connections in http.StateNew
}

// Open opens the data directory cfg.DataDir (creating it and its database
// if needed) and returns a Server ready to serve.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("server: data directory %s: %w", cfg.DataDir, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, artifactsDir), 0o755); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	db, err := openStore(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	root, err := os.OpenRoot(filepath.Join(dir, artifactsDir))
	if err != nil {
		db.close()
		return nil, fmt.Errorf("server: artifacts: %w", err)
	}
	s := &Server{dir: dir, version: cfg.Version, log: cfg.Logger, db: db, artifacts: root}
	if s.version == "" {
		s.version = DefaultVersion
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.handler = s.routes()
	return s, nil
}

// DataDir returns the absolute path of the data directory.
func (s *Server) DataDir() string { return s.dir }

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on addr (host:port; port 0 picks a free one) and serves in
// the background. It returns the tracking URI, e.g. http://127.0.0.1:5000.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("server: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.http != nil {
		ln.Close()
		return "", errors.New("server: already started")
	}
	s.fresh = map[net.Conn]bool{}
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		ConnState:         s.trackConn,
	}
	s.done = make(chan error, 1)
	go func(h *http.Server, done chan<- error) {
		err := h.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}(s.http, s.done)
	return "http://" + ln.Addr().String(), nil
}

// Wait blocks until the server started by Start stops, and returns why.
func (s *Server) Wait() error {
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done == nil {
		return nil
	}
	err := <-done
	done <- err // for other waiters
	return err
}

// Shutdown stops accepting requests, lets those in flight finish (until
// ctx ends), and closes the database and the artifact folder.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	h := s.http
	s.mu.Unlock()
	var errs []error
	if h != nil {
		done := make(chan error, 1)
		go func() { done <- h.Shutdown(ctx) }()
		// http.Server waits up to 5 s for a connection that never sent a
		// request (a client's spare one): close those, there is nothing
		// in flight on them.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					errs = append(errs, err, h.Close())
				}
				break wait
			case <-tick.C:
				s.closeFresh()
			}
		}
	}
	errs = append(errs, s.db.close(), s.artifacts.Close())
	return errors.Join(errs...)
}

// trackConn records the connections that have not sent a request yet.
func (s *Server) trackConn(c net.Conn, state http.ConnState) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if state == http.StateNew {
		s.fresh[c] = true
	} else {
		delete(s.fresh, c)
	}
}

// closeFresh closes the connections that never sent a request.
func (s *Server) closeFresh() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	for c := range s.fresh {
		_ = c.Close()
		delete(s.fresh, c)
	}
}

// Close is Shutdown with a short grace period.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.Shutdown(ctx)
}

// serverInfo is what /api/3.0/mlflow/server-info says the server can do:
// MLflow 3 clients read it before artifact transfers. Multipart and
// presigned transfers, workspaces and trace archival are not implemented.
var serverInfo = map[string]any{
	"store_type":                                   "SqlStore",
	"workspaces_enabled":                           false,
	"trace_archival_enabled":                       false,
	"multipart_uploads_enabled":                    false,
	"multipart_downloads_enabled":                  false,
	"artifact_serving_enabled":                     true,
	"presigned_upload_run_id_supported":            false,
	"presigned_upload_model_id_supported":          false,
	"model_artifact_presigned_downloads_supported": false,
	"features_enabled":                             map[string]bool{},
	"tracking_auth":                                "",
	"artifacts_presigned_only":                     false,
}

// handlerFunc is an API endpoint: it reads its request and returns the
// reply to encode, or an error (an *apiError is MLflow's error reply).
type handlerFunc func(ctx context.Context, req *request) (any, error)

// routes builds the mux: MLflow's paths, each with its methods.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	paths := http.NewServeMux() // every path served, with some method
	seen := map[string]bool{}
	handle := func(pattern string, h http.Handler) {
		if _, path, _ := strings.Cut(pattern, " "); !seen[path] {
			seen[path] = true
			paths.Handle(path, http.NotFoundHandler())
		}
		mux.Handle(pattern, h)
	}
	api := func(method, path string, h handlerFunc) {
		handle(method+" /api/2.0/mlflow/"+path, s.api(h))
	}
	api("POST", "experiments/create", s.createExperiment)
	api("GET", "experiments/get", s.getExperiment)
	api("GET", "experiments/get-by-name", s.getExperimentByName)
	api("POST", "experiments/search", s.searchExperiments)
	api("GET", "experiments/search", s.searchExperiments)
	api("POST", "experiments/update", s.updateExperiment)
	api("POST", "experiments/set-experiment-tag", s.setExperimentTag)
	api("POST", "experiments/delete-experiment-tag", s.deleteExperimentTag)
	api("POST", "experiments/delete", s.deleteExperiment)
	api("POST", "experiments/restore", s.restoreExperiment)

	api("POST", "runs/create", s.createRun)
	api("GET", "runs/get", s.getRun)
	api("POST", "runs/update", s.updateRun)
	api("POST", "runs/delete", s.deleteRun)
	api("POST", "runs/restore", s.restoreRun)
	api("POST", "runs/log-batch", s.logBatch)
	api("POST", "runs/log-metric", s.logMetric)
	api("POST", "runs/log-parameter", s.logParam)
	api("POST", "runs/set-tag", s.setRunTag)
	api("POST", "runs/delete-tag", s.deleteRunTag)
	api("POST", "runs/search", s.searchRuns)
	api("GET", "metrics/get-history", s.getMetricHistory)
	s.runIORoutes(api, handle)

	api("POST", "registered-models/create", s.createRegisteredModel)
	api("GET", "registered-models/get", s.getRegisteredModel)
	api("GET", "registered-models/search", s.searchRegisteredModels)
	api("PATCH", "registered-models/update", s.updateRegisteredModel)
	api("POST", "registered-models/rename", s.renameRegisteredModel)
	api("DELETE", "registered-models/delete", s.deleteRegisteredModel)
	api("POST", "registered-models/set-tag", s.setRegisteredModelTag)
	api("DELETE", "registered-models/delete-tag", s.deleteRegisteredModelTag)
	api("POST", "registered-models/alias", s.setAlias)
	api("DELETE", "registered-models/alias", s.deleteAlias)
	api("GET", "registered-models/alias", s.getVersionByAlias)
	api("POST", "registered-models/get-latest-versions", s.getLatestVersions)
	api("GET", "registered-models/get-latest-versions", s.getLatestVersions)

	api("POST", "model-versions/create", s.createModelVersion)
	api("GET", "model-versions/get", s.getModelVersion)
	api("PATCH", "model-versions/update", s.updateModelVersion)
	api("DELETE", "model-versions/delete", s.deleteModelVersion)
	api("POST", "model-versions/transition-stage", s.transitionStage)
	api("GET", "model-versions/search", s.searchModelVersions)
	api("POST", "model-versions/set-tag", s.setModelVersionTag)
	api("DELETE", "model-versions/delete-tag", s.deleteModelVersionTag)
	api("GET", "model-versions/get-download-uri", s.getDownloadURI)

	s.loggedModelRoutes(api)

	handle("GET "+artifactsPrefix, http.HandlerFunc(s.listArtifacts))

	handle("GET /api/3.0/mlflow/server-info", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, serverInfo)
	}))
	handle("GET /health", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "OK")
	}))
	handle("GET /version", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, s.version)
	}))
	s.uiRoutes(handle)
	return s.logged(s.dispatch(mux, paths))
}

// runIORoutes adds MLflow 3's run inputs and outputs, the bulk metric
// history and the run artifact listing.
func (s *Server) runIORoutes(api func(method, path string, h handlerFunc), handle func(pattern string, h http.Handler)) {
	api("GET", "metrics/get-history-bulk-interval", s.getMetricHistoryBulkInterval)
	// MLflow's UI calls it under /ajax-api/ too (mlflow/server/__init__.py).
	handle("GET /ajax-api/2.0/mlflow/metrics/get-history-bulk-interval", s.api(s.getMetricHistoryBulkInterval))
	api("POST", "runs/log-inputs", s.logInputs)
	api("POST", "runs/outputs", s.logOutputs)
	api("GET", "artifacts/list", s.listRunArtifacts)
}

// loggedModelRoutes adds MLflow 3's logged model endpoints; the model id
// and the tag key are path wildcards, as in MLflow's routes.
func (s *Server) loggedModelRoutes(api func(method, path string, h handlerFunc)) {
	api("POST", "logged-models", s.createLoggedModel)
	api("POST", "logged-models/search", s.searchLoggedModels)
	api("GET", "logged-models/{model_id}", s.getLoggedModel)
	api("PATCH", "logged-models/{model_id}", s.finalizeLoggedModel)
	api("DELETE", "logged-models/{model_id}", s.deleteLoggedModel)
	api("PATCH", "logged-models/{model_id}/tags", s.setLoggedModelTags)
	api("DELETE", "logged-models/{model_id}/tags/{tag_key}", s.deleteLoggedModelTag)
	api("POST", "logged-models/{model_id}/params", s.logLoggedModelParams)
	api("GET", "logged-models/{model_id}/artifacts/directories", s.listLoggedModelArtifacts)
}

// dispatch sends artifact paths to their handlers as sent (ServeMux would
// clean "a/../b" into a redirect, where MLflow answers "Invalid path"),
// a path mux does not serve with any method to MLflow's 404 page (where
// ServeMux would answer its own plain-text 404), and the rest to mux.
func (s *Server) dispatch(mux, paths *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := rawArtifactPath(r); ok {
			switch r.Method {
			case http.MethodGet, http.MethodHead:
				s.downloadArtifact(w, r)
			case http.MethodPut:
				s.uploadArtifact(w, r)
			default:
				w.Header().Set("Allow", "GET, HEAD, PUT")
				http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
			}
			return
		}
		if isTracePath(r.URL.Path) {
			writeError(w, errTracesNotServed)
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" && !servedPath(paths, r) {
			notFound(w)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// tracePrefixes are the trace endpoints of MLflow 3 clients: the REST
// API (v3, and v2 which clients fall back to) and OTLP ingestion.
var tracePrefixes = []string{"/api/2.0/mlflow/traces", "/api/3.0/mlflow/traces", "/v1/traces"}

// isTracePath reports whether p is a trace endpoint.
func isTracePath(p string) bool {
	for _, prefix := range tracePrefixes {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// errTracesNotServed answers the trace endpoints: MLflow's NOT_IMPLEMENTED
// (501), which MLflow's client reports as is (a trace export logs "Failed
// to send trace to MLflow backend: NOT_IMPLEMENTED: ..."), where a 404
// would make it retry the v2 API and then quote an HTML page.
var errTracesNotServed = &apiError{Status: http.StatusNotImplemented, Code: "NOT_IMPLEMENTED",
	Message: "Traces are not supported by playbook's embedded tracking server (it serves experiments, runs, the model registry and artifacts); log traces to an MLflow tracking server."}

// servedPath reports whether paths (the routes' paths, without their
// methods) has r's path, as written: a method MLflow does not serve there
// is a 405, not a 404.
func servedPath(paths *http.ServeMux, r *http.Request) bool {
	if path.Clean(r.URL.Path) != r.URL.Path {
		return false
	}
	_, pattern := paths.Handler(r)
	return pattern != ""
}

// notFoundPage is the page MLflow's server (Flask, through uvicorn)
// answers with a 404 for a path it does not serve, under /api/2.0/mlflow/
// as anywhere else: HTML, no MLflow error code.
const notFoundPage = `<!doctype html>
<html lang=en>
<title>404 Not Found</title>
<h1>Not Found</h1>
<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>
`

// notFound answers a path the server does not serve as MLflow does.
func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, notFoundPage)
}

// api adapts an endpoint to http: reads the request, runs the endpoint,
// writes its reply or MLflow's error reply.
func (s *Server) api(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, aerr := readRequest(r)
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		req.pathValue = r.PathValue
		out, err := h(r.Context(), req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, out)
	})
}

// fail writes err: an *apiError as is, anything else as a 500 that is also
// logged.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var aerr *apiError
	if !errors.As(err, &aerr) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		aerr = errInternal("%s %s: %v", r.Method, r.URL.Path, err)
	}
	writeError(w, aerr)
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// logged logs each request at Debug: method, path (no query), status and
// duration.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
	})
}
