package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/runner"

	"github.com/playbook-mlops/playbook/internal/regproxy"
	"github.com/playbook-mlops/playbook/internal/scoring"
)

// kernelServices are the programs playbook starts for a kernel process,
// which starts none (its sandbox refuses execve): the Python workers
// (POST /rpc/python, the run's or, with --env-manager virtualenv or uv,
// one per model environment), MLflow's scoring servers (POST /rpc/serve)
// and the interpreter they run (POST /rpc/interpreter, POST /rpc/envs).
// They run out of the kernel's sandbox, on files playbook downloads itself
// from the tracking server, never on files the kernel wrote, and their
// evidence is playbook's.
type kernelServices struct {
	ctx context.Context
	px  *regproxy.Proxy
	// client is playbook's client of the tracking server (connected on
	// first need).
	client func() (*mlflow.Client, error)
	opts   runner.Options
	step   func() string
	// earlier are the registry calls of the scenarios this playbook run
	// ran before (runScenarios): a model one of them uploaded is refused
	// as one of this scenario's is.
	earlier []record.Call

	mu      sync.Mutex
	closed  bool
	run     *pyworker.Worker // the run's worker (opts.Python), started on first use
	runErr  error
	runOnce bool
	workers map[string]*pyworker.Worker // by interpreter, with an environment manager
	dirs    map[string]string           // downloaded artifacts, by URI
	envs    []record.ModelEnv
	envKept map[string]bool
	servers []*kernelServer
	// roots are the artifact roots the kernel's relayed artifact calls
	// were found under.
	roots artifactRoots
	// starting counts the scoring servers being started.
	starting int
}

// kernelServer is a scoring server started for the kernel.
type kernelServer struct {
	proc *scoring.Process
	rec  record.Served
}

// calls are the registry calls of this playbook run so far: the earlier
// scenarios' and this one's.
func (s *kernelServices) calls() []record.Call {
	return append(slices.Clone(s.earlier), s.px.Calls()...)
}

func newKernelServices(ctx context.Context, px *regproxy.Proxy, opts runner.Options, client func() (*mlflow.Client, error), step func() string) *kernelServices {
	s := &kernelServices{ctx: ctx, px: px, client: client, opts: opts, step: step,
		workers: map[string]*pyworker.Worker{}, dirs: map[string]string{}, envKept: map[string]bool{}}
	px.Handle("POST /rpc/connect", http.HandlerFunc(s.connect))
	px.Handle("POST /rpc/interpreter", http.HandlerFunc(s.interpreter))
	px.Handle("POST /rpc/envs", http.HandlerFunc(s.checkEnvs))
	// Every method, so that a wrong one is answered 405 with an Allow
	// header (by the relay handler), not 404: PUT .../put is more specific.
	px.Handle(mlflow.RelayPath+"/{op}", http.HandlerFunc(s.artifacts))
	px.HandleUpload("PUT "+mlflow.RelayPath+"/put", uploadArgs, s.uploadArtifact)
	px.HandleInCell("POST /rpc/python", http.HandlerFunc(s.python))
	px.HandleInCell("POST /rpc/serve", http.HandlerFunc(s.serve))
	px.HandleInCell("POST /rpc/serve/{id}/invocations", http.HandlerFunc(s.invoke))
	return s
}

// artifacts reads, for the kernel, the files of an artifact store the
// tracking server does not proxy (s3://, file://): playbook holds the
// store's keys, the kernel none. Only the artifact roots of the registry's
// runs and logged models are read (artifactRoots.find), as paths under
// those roots; nothing is written here (uploadArtifact writes).
func (s *kernelServices) artifacts(rw http.ResponseWriter, req *http.Request) {
	if req.PathValue("op") == "put" {
		rw.Header().Set("Allow", http.MethodPut)
		rpcError(rw, fmt.Errorf("the artifact relay's %s/put answers PUT, not %s", mlflow.RelayPath, req.Method), http.StatusMethodNotAllowed)
		return
	}
	c, err := s.client()
	if err != nil {
		rpcError(rw, err, http.StatusBadGateway)
		return
	}
	mlflow.ArtifactRelayHandler(c, func(ctx context.Context, uri string) (string, string, bool) { return s.roots.find(ctx, c, uri) }).ServeHTTP(rw, req)
}

// uploadArgs are the Args of the record of a relayed upload, in a dry run
// as in a real one: the URI redacted (no credentials, no signature), the
// path, and the bytes written (0 until uploadArtifact counts them).
func uploadArgs(req *http.Request) map[string]any {
	q := req.URL.Query()
	return map[string]any{"artifact_uri": mlflow.RedactURL(q.Get("uri")), "path": q.Get("path"), "bytes": int64(0)}
}

// uploadArtifact writes, for the kernel, a file under the artifact root of
// one of the registry's runs or logged models that the tracking server does
// not proxy, as a path under that root; the proxy records the call (its
// URI, path and size: uploadArgs), as it records the uploads it forwards.
func (s *kernelServices) uploadArtifact(rw http.ResponseWriter, req *http.Request, call *record.Call) {
	uri, rel := req.URL.Query().Get("uri"), req.URL.Query().Get("path")
	n := &countingReader{r: req.Body}
	defer func() { call.Args["bytes"] = n.n }()
	var body io.Reader = n
	if req.ContentLength >= 0 {
		// A known size: an S3 upload goes in one request (or parts of
		// minio's choosing), not in 16 MiB parts buffered in memory.
		body = sizedReader{n, req.ContentLength}
	}
	c, err := s.client()
	var root, sub string
	if err == nil {
		var ok bool
		if root, sub, ok = s.roots.find(req.Context(), c, uri); !ok {
			err = fmt.Errorf("%w: %s is not the artifact root of a run or a logged model of this registry, nor a folder under one",
				mlflow.ErrPermissionDenied, mlflow.RedactURL(uri))
		}
	}
	if err == nil {
		if sub != "" && rel != "" {
			rel = sub + "/" + rel
		}
		err = c.UploadArtifact(req.Context(), root, rel, body)
	}
	if err != nil {
		call.Outcome = err.Error()
		status := http.StatusBadRequest
		if errors.Is(err, mlflow.ErrPermissionDenied) || errors.Is(err, mlflow.ErrPathEscape) {
			status = http.StatusForbidden
		}
		rpcError(rw, err, status)
		return
	}
	call.Outcome = "ok"
	writeJSON(rw, struct{}{})
}

// countingReader counts what it reads.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// sizedReader is a countingReader of a known size: its Len, what is left,
// tells the client the size of the upload.
type sizedReader struct {
	*countingReader
	size int64
}

func (s sizedReader) Len() int { return int(max(s.size-s.n, 0)) }

// rpcError is the answer of a /rpc/ call that failed: the kernel shows
// its text.
func rpcError(rw http.ResponseWriter, err error, status int) { http.Error(rw, err.Error(), status) }

// connect connects playbook to the tracking server (starting the embedded
// one) and answers its URI, credentials removed, for the kernel's links.
func (s *kernelServices) connect(rw http.ResponseWriter, _ *http.Request) {
	c, err := s.client()
	if err != nil {
		rpcError(rw, err, http.StatusBadGateway)
		return
	}
	writeJSON(rw, struct {
		DisplayURI string `json:"display_uri"`
	}{mlflow.RedactURL(c.TrackingURI())})
}

func (s *kernelServices) interpreter(rw http.ResponseWriter, _ *http.Request) {
	var reply struct {
		Python string `json:"python"`
		Error  string `json:"error,omitempty"`
	}
	if s.opts.Interpreter == nil {
		reply.Error = notebook.ErrNoInterpreter.Error()
	} else if py, err := s.opts.Interpreter(); err != nil {
		reply.Error = err.Error()
	} else {
		reply.Python = py
	}
	writeJSON(rw, reply)
}

func (s *kernelServices) checkEnvs(rw http.ResponseWriter, _ *http.Request) {
	var reply struct {
		Error string `json:"error,omitempty"`
	}
	if s.opts.ModelEnvs == nil {
		reply.Error = "this run has no --env-manager virtualenv or uv"
	} else if err := s.opts.ModelEnvs.Check(); err != nil {
		reply.Error = err.Error()
	}
	writeJSON(rw, reply)
}

func writeJSON(rw http.ResponseWriter, v any) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(v)
}

// envHeader carries, in the answer to POST /rpc/python for a model, the
// environment its worker runs in (JSON).
const envHeader = "X-Playbook-Env"

// modelHeader names, in POST /rpc/python, the artifacts' URI of the model
// whose own environment the worker must run in (--env-manager virtualenv
// or uv).
const modelHeader = "X-Playbook-Model"

// python relays the kernel's connection, upgraded to pyworker's frames,
// to a worker: the run's, or the one of the environment of the model
// named by modelHeader.
func (s *kernelServices) python(rw http.ResponseWriter, r *http.Request) {
	var w *pyworker.Worker
	var err error
	env := ""
	if uri := r.Header.Get(modelHeader); uri != "" {
		var e *pyworker.Env
		w, e, err = s.envWorker(uri)
		if e != nil {
			b, _ := json.Marshal(e)
			env = string(b)
		}
	} else {
		w, err = s.runWorker()
	}
	if err != nil {
		rpcError(rw, err, http.StatusServiceUnavailable)
		return
	}
	hj, ok := rw.(http.Hijacker)
	if !ok {
		http.Error(rw, "no connection to relay", http.StatusInternalServerError)
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + kernelWorkerProtocol + "\r\n")
	if env != "" {
		brw.WriteString(envHeader + ": " + env + "\r\n")
	}
	brw.WriteString("\r\n")
	if brw.Flush() != nil {
		return
	}
	_ = pyworker.Relay(struct {
		io.Reader
		io.Writer
	}{brw.Reader, conn}, w, s.fetch)
}

// runWorker returns the run's worker, started on first use.
func (s *kernelServices) runWorker() (*pyworker.Worker, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.runOnce {
		s.runOnce = true
		switch {
		case s.closed:
			s.runErr = errors.New("the run has ended")
		case s.opts.Python == nil:
			s.runErr = errors.New("this run has no Python worker")
		default:
			s.run, s.runErr = s.opts.Python()
		}
	}
	return s.run, s.runErr
}

// envWorker returns the worker of the environment of the model at uri,
// building the environment and starting the worker on first use; the
// environment is kept in the evidence, once.
func (s *kernelServices) envWorker(uri string) (*pyworker.Worker, *pyworker.Env, error) {
	env, err := s.modelEnv(uri)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errors.New("the run has ended")
	}
	if w, ok := s.workers[env.Python]; ok {
		return w, env, nil
	}
	if s.opts.StartWorker == nil {
		return nil, nil, notebook.ErrNoPythonWorker
	}
	w, err := s.opts.StartWorker(env.Python)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the worker in the model's environment %s: %w", env.Dir, err)
	}
	s.workers[env.Python] = w
	return w, env, nil
}

// modelEnv builds or finds the environment of the model at uri
// (--env-manager virtualenv or uv) from its python_env.yaml.
func (s *kernelServices) modelEnv(uri string) (*pyworker.Env, error) {
	if s.opts.ModelEnvs == nil {
		return nil, errors.New("this run has no --env-manager virtualenv or uv")
	}
	dir, err := s.fetch(uri)
	if err != nil {
		return nil, err
	}
	env, err := s.opts.ModelEnvs.For(s.ctx, dir)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if !s.envKept[env.Key] {
		s.envKept[env.Key] = true
		s.envs = append(s.envs, notebook.ModelEnvRecord(s.step(), env))
	}
	s.mu.Unlock()
	return &env, nil
}

// fetch downloads, once, the artifacts at uri (an artifact URI) into a
// folder of playbook's: the files a worker loads or an environment is
// built from. A model whose files the kernel uploaded is refused.
func (s *kernelServices) fetch(uri string) (string, error) {
	if up := uploadedUnder(s.calls(), uri); up != "" {
		return "", fmt.Errorf("%s: a scenario of this run wrote the model's files itself (%s, through the registry): playbook runs no code a scenario wrote outside its sandbox; use a model logged before the run", uri, up)
	}
	s.mu.Lock()
	dir, ok := s.dirs[uri]
	s.mu.Unlock()
	if ok {
		return dir, nil
	}
	dir, err := os.MkdirTemp("", "playbook-relay-")
	if err != nil {
		return "", err
	}
	c, err := s.client()
	if err == nil {
		err = c.DownloadDir(s.ctx, uri, "", dir)
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("downloading %s: %w", uri, err)
	}
	if up := uploadedUnder(s.calls(), uri); up != "" { // uploaded while it downloaded
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("%s: a scenario of this run wrote the model's files itself (%s, through the registry): playbook runs no code a scenario wrote outside its sandbox; use a model logged before the run", uri, up)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.dirs[uri]; ok { // downloaded meanwhile
		_ = os.RemoveAll(dir)
		return old, nil
	}
	s.dirs[uri] = dir
	return dir, nil
}

// maxKernelServers bounds the scoring servers playbook starts for one
// run's kernel: each is an MLflow process of a few hundred MiB out of the
// kernel's sandbox, and so out of its memory bound.
const maxKernelServers = 4

// maxServeTimeout bounds the wait for /ping a kernel may ask for.
const maxServeTimeout = 30 * time.Minute

// serve starts `mlflow models serve` for the kernel (a notebook.ServeRequest):
// playbook resolves where the source's files are itself, refuses a model
// whose files the kernel uploaded, builds the model's environment with an
// environment manager, and answers a notebook.Served.
func (s *kernelServices) serve(rw http.ResponseWriter, r *http.Request) {
	var req notebook.ServeRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
		rpcError(rw, fmt.Errorf("a serve request: %w", err), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if n := len(s.servers) + s.starting; n >= maxKernelServers {
		s.mu.Unlock()
		rpcError(rw, fmt.Errorf("%s: playbook starts at most %d scoring servers for a run", req.Source, maxKernelServers), http.StatusTooManyRequests)
		return
	}
	s.starting++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.starting--
		s.mu.Unlock()
	}()
	if req.ReadyTimeout <= 0 || req.ReadyTimeout > maxServeTimeout {
		req.ReadyTimeout = min(max(req.ReadyTimeout, time.Second), maxServeTimeout)
	}
	storage, model, version, err := s.storageOf(r.Context(), req.Source)
	if err != nil {
		rpcError(rw, err, http.StatusBadRequest)
		return
	}
	// The server loads the files playbook downloaded itself from storage,
	// not req.Source: `mlflow models serve -m models:/NAME@ALIAS` would
	// resolve the alias again, seconds later, after the kernel moved it to
	// a version of its own.
	var py, dir string
	var env *pyworker.Env
	if up := uploadedUnder(s.calls(), storage); up != "" {
		err = fmt.Errorf("%s: a scenario of this run wrote the model's files itself (%s, through the registry): playbook serves no code a scenario wrote; serve a model logged before the run", req.Source, up)
	} else {
		dir, err = s.fetch(storage)
	}
	if err == nil {
		switch {
		case s.opts.ModelEnvs != nil:
			if env, err = s.modelEnv(storage); err == nil {
				py = env.Python
			}
		case s.opts.Interpreter == nil:
			err = notebook.ErrNoInterpreter
		default:
			py, err = s.opts.Interpreter()
		}
	}
	if err != nil {
		rpcError(rw, err, http.StatusServiceUnavailable)
		return
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		rpcError(rw, errors.New("the run has ended"), http.StatusServiceUnavailable)
		return
	}
	c, err := s.client()
	if err != nil {
		rpcError(rw, err, http.StatusBadGateway)
		return
	}
	proc, err := scoring.Start(r.Context(), py, dir, mlflow.RedactURL(c.TrackingURI()), req.ReadyTimeout)
	if err != nil {
		rpcError(rw, err, http.StatusBadGateway)
		return
	}
	ks := &kernelServer{proc: proc, rec: record.Served{
		Step: s.step(), Time: proc.Started, URI: cmp.Or(req.URI, req.Source), Model: cmp.Or(model, req.Model), Version: cmp.Or(version, req.Version), Source: req.Source,
		Command: proc.Args(), URL: proc.URL, Port: proc.Port, PID: proc.PID(), ReadyIn: record.Duration(proc.ReadyIn),
	}}
	s.mu.Lock()
	if s.closed {
		// The run ended while the server started: stopped now, not left
		// running in its own process group past playbook.
		s.mu.Unlock()
		proc.Stop()
		rpcError(rw, errors.New("the run ended while the scoring server started"), http.StatusServiceUnavailable)
		return
	}
	id := strconv.Itoa(len(s.servers) + 1)
	s.servers = append(s.servers, ks)
	s.mu.Unlock()
	writeJSON(rw, notebook.Served{ID: id, URL: proc.URL, Port: proc.Port, PID: proc.PID(), Command: proc.Args(),
		Started: proc.Started, ReadyIn: proc.ReadyIn, Env: env})
}

// storageOf returns where the files of source are, as the tracking server
// says: a registered version's download URI (models:/NAME@ALIAS,
// models:/NAME/VERSION, whose model and version it returns too), a logged
// model's artifacts (models:/m-ID), a run's (runs:/ID/PATH), or source
// itself, an artifact URI.
func (s *kernelServices) storageOf(ctx context.Context, source string) (storage, model, version string, err error) {
	fail := func(err error) (string, string, string, error) { return "", "", "", fmt.Errorf("%s: %w", source, err) }
	c, err := s.client()
	if err != nil {
		return fail(err)
	}
	switch {
	case strings.HasPrefix(source, "models:/m-"):
		m, err := c.GetLoggedModel(ctx, strings.TrimPrefix(source, "models:/"))
		if err != nil {
			return fail(err)
		}
		return m.Info.ArtifactURI, "", "", nil
	case strings.HasPrefix(source, "models:/"):
		u, err := mlflow.ParseModelURI(source)
		if err != nil {
			return "", "", "", err
		}
		version := u.Version
		if u.Alias != "" {
			mv, err := c.GetModelVersionByAlias(ctx, u.Name, u.Alias)
			if err != nil {
				return fail(err)
			}
			version = mv.Version
		}
		uri, err := c.GetModelVersionDownloadURI(ctx, u.Name, version)
		if err != nil {
			return fail(err)
		}
		return uri, u.Name, version, nil
	case strings.HasPrefix(source, "runs:/"):
		id, p, _ := strings.Cut(strings.TrimPrefix(source, "runs:/"), "/")
		run, err := c.GetRun(ctx, id)
		if err != nil {
			return fail(err)
		}
		return strings.TrimSuffix(run.Info.ArtifactURI, "/") + "/" + path.Clean("/" + p)[1:], "", "", nil
	case strings.HasPrefix(source, "mlflow-artifacts:/"):
		return source, "", "", nil
	}
	return fail(errors.New("playbook serves a models:/, runs:/ or mlflow-artifacts:/ URI"))
}

// invoke posts the kernel's request to a scoring server's /invocations
// and answers what it answered.
func (s *kernelServices) invoke(rw http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	var ks *kernelServer
	if err == nil && n >= 1 && n <= len(s.servers) {
		ks = s.servers[n-1]
	}
	s.mu.Unlock()
	if ks == nil {
		rpcError(rw, fmt.Errorf("no scoring server %q", r.PathValue("id")), http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, scoring.MaxAnswer))
	if err != nil {
		rpcError(rw, err, http.StatusBadRequest)
		return
	}
	status, answer, err := ks.proc.Invoke(r.Context(), body)
	if err != nil {
		rpcError(rw, err, http.StatusBadGateway)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_, _ = rw.Write(answer)
}

// stop stops the scoring servers and keeps how each ended.
func (s *kernelServices) stop() {
	s.mu.Lock()
	s.closed = true
	servers := s.servers
	s.mu.Unlock()
	for _, ks := range servers {
		outcome := ks.proc.Stop()
		s.mu.Lock()
		ks.rec.Stopped, ks.rec.StopOutcome = time.Now(), outcome
		s.mu.Unlock()
	}
}

// keepEvidence puts playbook's record of what it started for the kernel
// in the evidence, in place of what the kernel said of it.
func (s *kernelServices) keepEvidence(rec *record.Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec.Evidence.Served = nil
	for _, ks := range s.servers {
		rec.Evidence.Served = append(rec.Evidence.Served, ks.rec)
	}
	if s.opts.ModelEnvs != nil {
		rec.Evidence.Environments = append([]record.ModelEnv(nil), s.envs...)
	}
}

// close stops everything: the scoring servers, the workers, and removes
// the downloads.
func (s *kernelServices) close() {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runOnce = true // none after the run
	if s.run != nil {
		_ = s.run.Close()
	}
	for _, w := range s.workers {
		_ = w.Close()
	}
	for _, d := range s.dirs {
		_ = os.RemoveAll(d)
	}
}
