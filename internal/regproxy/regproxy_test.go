package regproxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/regproxy"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// env is one test's tracking server, the parent's direct client of it, a
// proxy in front of it, and the kernel's client of the proxy.
type env struct {
	direct *mlflow.Client
	proxy  *regproxy.Proxy
	kernel *mlflow.Client
}

func newEnv(t *testing.T, opts regproxy.Options) *env {
	t.Helper()
	direct, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.URI(t)))
	require.NoError(t, err)
	return newEnvWith(t, direct, opts)
}

func newEnvWith(t *testing.T, target *mlflow.Client, opts regproxy.Options) *env {
	t.Helper()
	opts.Target = target
	if opts.Step == nil {
		opts.Step = func() string { return "cell-1" }
	}
	p, err := regproxy.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	return &env{direct: target, proxy: p, kernel: kernelClient(t, p.URL())}
}

// kernelClient is the kernel's client: no credentials, no retries.
func kernelClient(t *testing.T, uri string) *mlflow.Client {
	t.Helper()
	cfg := mlflow.DefaultConfig(uri)
	cfg.MaxRetries = 0
	c, err := mlflow.New(cfg)
	require.NoError(t, err)
	return c
}

// newVersion creates a registered model with one version, directly.
func (e *env) newVersion(t *testing.T) (model string, run *mlflow.Run) {
	t.Helper()
	ctx := t.Context()
	exp, err := e.direct.GetOrCreateExperiment(ctx, mlflowtest.Unique("regproxy"))
	require.NoError(t, err)
	run, err = e.direct.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID})
	require.NoError(t, err)
	model = mlflowtest.Unique("RegproxyModel")
	_, err = e.direct.CreateRegisteredModel(ctx, model, nil, "")
	require.NoError(t, err)
	mv, err := e.direct.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: model, Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID})
	require.NoError(t, err)
	_, err = e.direct.WaitModelVersionReady(ctx, model, mv.Version, 30*time.Second)
	require.NoError(t, err)
	return model, run
}

// raw sends a request to the proxy's port with net/http.
func raw(t *testing.T, method, url string, body io.Reader, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func lastCall(t *testing.T, p *regproxy.Proxy) record.Call {
	t.Helper()
	calls := p.Calls()
	require.NotEmpty(t, calls)
	return calls[len(calls)-1]
}

// TestReadsAndWrites: the kernel's client works through the proxy; writes
// are recorded, reads (searches by POST included) are not.
func TestReadsAndWrites(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{})
	ctx := t.Context()

	require.NoError(t, e.kernel.Health(ctx))
	_, err := e.kernel.ServerVersion(ctx)
	require.NoError(t, err)

	name := mlflowtest.Unique("regproxy-exp")
	id, err := e.kernel.CreateExperiment(ctx, name, nil)
	require.NoError(t, err)
	require.NotEmpty(t, id)
	calls := e.proxy.Calls()
	require.Len(t, calls, 1)
	c := calls[0]
	assert.Equal(t, "POST", c.Method)
	assert.Equal(t, "/api/2.0/mlflow/experiments/create", c.Endpoint)
	assert.Equal(t, name, c.Args["name"])
	assert.Equal(t, "ok", c.Outcome)
	assert.Equal(t, "cell-1", c.Step)
	assert.False(t, c.DryRun)
	assert.False(t, c.Time.IsZero())
	assert.Positive(t, c.Duration)

	run, err := e.kernel.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: id})
	require.NoError(t, err)
	n := len(e.proxy.Calls())
	assert.Equal(t, 2, n)

	runs, err := e.kernel.SearchAllRuns(ctx, mlflow.SearchRunsRequest{ExperimentIDs: []string{id}})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, run.Info.RunID, runs[0].Info.RunID)
	got, err := e.kernel.GetExperiment(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, name, got.Name)
	_, err = e.kernel.SearchLoggedModels(ctx, mlflow.SearchLoggedModelsRequest{ExperimentIDs: []string{id}})
	require.NoError(t, err)
	assert.Len(t, e.proxy.Calls(), n, "reads are not recorded")

	snaps, err := e.proxy.Snapshots(ctx)
	require.NoError(t, err)
	assert.Empty(t, snaps, "no registered model was touched")
}

// TestAliasRecordedAndSnapshots: setting an alias through the proxy is
// recorded with its arguments; the proxy's before snapshot predates it and
// its after snapshot shows it.
func TestAliasRecordedAndSnapshots(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{})
	ctx := t.Context()
	model, _ := e.newVersion(t)

	require.NoError(t, e.kernel.SetRegisteredModelAlias(ctx, model, "champion", "1"))
	c := lastCall(t, e.proxy)
	assert.Equal(t, "POST", c.Method)
	assert.Equal(t, "/api/2.0/mlflow/registered-models/alias", c.Endpoint)
	assert.Equal(t, map[string]any{"name": model, "alias": "champion", "version": "1"}, c.Args)
	assert.Equal(t, "ok", c.Outcome)

	// A secret-looking tag is recorded without its value.
	require.NoError(t, e.kernel.SetModelVersionTag(ctx, model, "1", "api_token", "s3cr3t"))
	c = lastCall(t, e.proxy)
	assert.Equal(t, "/api/2.0/mlflow/model-versions/set-tag", c.Endpoint)
	assert.Equal(t, "api_token", c.Args["key"])
	assert.Equal(t, regproxy.Redacted, c.Args["value"])
	for _, c := range e.proxy.Calls() {
		b, _ := json.Marshal(c)
		assert.NotContains(t, string(b), "s3cr3t")
	}

	snaps, err := e.proxy.Snapshots(ctx)
	require.NoError(t, err)
	require.Len(t, snaps, 2, "one model touched: before and after")
	before, after := snaps[0], snaps[1]
	assert.Equal(t, "before", before.Label)
	assert.Equal(t, "after", after.Label)
	assert.Equal(t, model, before.Model)
	assert.Equal(t, "cell-1", before.Step)
	assert.Empty(t, before.Aliases, "taken before the alias was set")
	require.Len(t, before.Versions, 1)
	assert.Empty(t, before.Versions[0].Tags)
	assert.Equal(t, map[string]string{"champion": "1"}, after.Aliases)
	require.Len(t, after.Versions, 1)
	assert.Equal(t, []string{"champion"}, after.Versions[0].Aliases)
	assert.Equal(t, map[string]string{"api_token": "s3cr3t"}, after.Versions[0].Tags, "the snapshot is the registry's state")
}

// TestErrorOutcome: a call the server refuses is recorded with MLflow's
// error; its model, which does not exist, has empty snapshots.
func TestErrorOutcome(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{})
	ctx := t.Context()
	model := mlflowtest.Unique("Missing")
	err := e.kernel.SetRegisteredModelAlias(ctx, model, "champion", "1")
	require.ErrorIs(t, err, mlflow.ErrNotFound)
	c := lastCall(t, e.proxy)
	assert.Equal(t, "/api/2.0/mlflow/registered-models/alias", c.Endpoint)
	assert.True(t, strings.HasPrefix(c.Outcome, "RESOURCE_DOES_NOT_EXIST: "), c.Outcome)

	snaps, err := e.proxy.Snapshots(ctx)
	require.NoError(t, err)
	require.Len(t, snaps, 2)
	for _, s := range snaps {
		assert.Equal(t, model, s.Model)
		assert.Empty(t, s.Aliases)
		assert.Empty(t, s.Versions)
	}
}

// counting is a fake tracking server that counts what reaches it.
type counting struct {
	srv *httptest.Server
	n   atomic.Int64
}

func newCounting(t *testing.T, h http.HandlerFunc) (*counting, *mlflow.Client) {
	t.Helper()
	c := &counting{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		h(w, r)
	}))
	t.Cleanup(c.srv.Close)
	cfg := mlflow.DefaultConfig(c.srv.URL)
	cfg.Token = "parent-secret"
	cfg.MaxRetries = 0
	target, err := mlflow.New(cfg)
	require.NoError(t, err)
	return c, target
}

// TestTokenAndPaths: without the exact token, or outside the forwarded
// paths, the proxy answers 404 and forwards nothing.
func TestTokenAndPaths(t *testing.T) {
	t.Parallel()
	fake, target := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	})
	e := newEnvWith(t, target, regproxy.Options{})
	u := e.proxy.URL()
	token := u[strings.LastIndex(u, "/")+1:]
	require.Len(t, token, 32, "128 bits in hex")
	origin := strings.TrimSuffix(u, "/k/"+token)
	wrong := []byte(token)
	wrong[0] ^= 1

	for _, path := range []string{
		"/api/2.0/mlflow/registered-models/create",
		"/k/api/2.0/mlflow/registered-models/create",
		"/k/" + string(wrong) + "/api/2.0/mlflow/registered-models/create",
		"/k/" + token[:31] + "/api/2.0/mlflow/registered-models/create",
		"/k/" + token + "x/api/2.0/mlflow/registered-models/create",
		"/K/" + token + "/api/2.0/mlflow/registered-models/create",
		"/x/k/" + token + "/api/2.0/mlflow/registered-models/create",
	} {
		resp, _ := raw(t, "POST", origin+path, strings.NewReader(`{"name":"m"}`), http.Header{"Content-Type": {"application/json"}})
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}
	for _, path := range []string{
		"", "/", "/static-files/index.html", "/ajax-api/2.0/mlflow/runs/search", "/api/3.0/mlflow/server-info",
		"/api/2.0/preview/mlflow/runs/search", "/api/2.0/mlflow/", "/api/2.0/mlflow/../../admin",
		"/api/2.0/mlflow/runs/%2e%2e/x", "/api/2.0/mlflow-artifacts/artifacts/1/..%2f..%2fx",
		"/api/2.0/mlflow//runs/search", "/api/2.0/mlflow-artifacts/artifacts/1/a%5Cb", "/graphql", "/healthz",
	} {
		resp, _ := raw(t, "GET", u+path, nil, nil)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
	}
	assert.Zero(t, fake.n.Load(), "nothing forwarded")
	assert.Empty(t, e.proxy.Calls())

	resp, _ := raw(t, "POST", u+"/health", nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, _ = raw(t, "OPTIONS", u+"/api/2.0/mlflow/runs/search", nil, nil)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Zero(t, fake.n.Load(), "nothing forwarded")

	resp, _ = raw(t, "GET", u+"/api/2.0/mlflow/experiments/get?experiment_id=0", nil, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.EqualValues(t, 1, fake.n.Load(), "the right token and path are forwarded")
}

// TestCredentials: the server sees the parent's credentials, never the
// kernel's Authorization or cookies, and the kernel sees no Set-Cookie.
func TestCredentials(t *testing.T) {
	t.Parallel()
	type seen struct{ auth, cookie, proxyAuth, forwarded, path string }
	got := make(chan seen, 10)
	_, target := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Header.Get("Authorization"), r.Header.Get("Cookie"), r.Header.Get("Proxy-Authorization"), r.Header.Get("X-Forwarded-For"), r.URL.Path}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "server"})
		w.Header().Set("X-Server", "yes")
		if r.URL.Path == "/health" {
			_, _ = io.WriteString(w, "OK")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"registered_model": {"name": "m"}}`)
	})
	e := newEnvWith(t, target, regproxy.Options{})

	resp, body := raw(t, "POST", e.proxy.URL()+"/api/2.0/mlflow/registered-models/create", strings.NewReader(`{"name":"m"}`), http.Header{
		"Authorization":       {"Bearer kernel-token"},
		"Cookie":              {"session=kernel"},
		"Proxy-Authorization": {"Basic a2VybmVs"},
		"X-Forwarded-For":     {"10.0.0.1"},
		"Content-Type":        {"application/json"},
	})
	assert.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "yes", resp.Header.Get("X-Server"))
	var create seen
	for create.path == "" { // the before snapshot's reads, then the call
		s := <-got
		if s.path == "/api/2.0/mlflow/registered-models/create" {
			create = s
		} else {
			assert.Equal(t, "Bearer parent-secret", s.auth, s.path)
		}
	}
	assert.Equal(t, seen{"Bearer parent-secret", "", "", "", "/api/2.0/mlflow/registered-models/create"}, create)

	// The kernel's own client, without credentials, works.
	require.NoError(t, e.kernel.Health(t.Context()))
	assert.Equal(t, "Bearer parent-secret", (<-got).auth)

	for _, c := range e.proxy.Calls() {
		b, _ := json.Marshal(c)
		assert.NotContains(t, string(b), "secret")
		assert.NotContains(t, string(b), "kernel")
	}
}

// TestDryRun: mutating calls are recorded and never sent; the registry is
// unchanged; reads still reach it.
func TestDryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{DryRun: true})
	ctx := t.Context()
	model, run := e.newVersion(t)

	require.NoError(t, e.kernel.SetRegisteredModelAlias(ctx, model, "champion", "1"))
	newModel := mlflowtest.Unique("DryRunModel")
	_, err := e.kernel.CreateRegisteredModel(ctx, newModel, nil, "")
	require.NoError(t, err, "a dry run's {} reply does not fail the client")
	require.NoError(t, e.kernel.UploadArtifact(ctx, run.Info.ArtifactURI, "model/x.txt", strings.NewReader("hello")))

	calls := e.proxy.Calls()
	require.Len(t, calls, 3)
	for _, c := range calls {
		assert.True(t, c.DryRun, c.Endpoint)
		assert.Equal(t, "not sent (dry run)", c.Outcome, c.Endpoint)
		assert.Zero(t, c.Duration)
	}
	assert.Equal(t, map[string]any{"name": model, "alias": "champion", "version": "1"}, calls[0].Args)
	assert.Equal(t, "/api/2.0/mlflow/registered-models/create", calls[1].Endpoint)
	assert.Equal(t, "PUT", calls[2].Method)
	assert.EqualValues(t, 5, calls[2].Args["bytes"])

	_, err = e.direct.GetRegisteredModel(ctx, newModel)
	assert.ErrorIs(t, err, mlflow.ErrNotFound, "the model was not created")
	_, err = e.direct.GetModelVersionByAlias(ctx, model, "champion")
	assert.ErrorIs(t, err, mlflow.ErrNotFound, "the alias was not set")
	files, err := e.direct.ListArtifacts(ctx, run.Info.ArtifactURI, "model")
	require.NoError(t, err)
	assert.Empty(t, files, "nothing uploaded")

	rm, err := e.kernel.GetRegisteredModel(ctx, model)
	require.NoError(t, err, "reads are forwarded")
	assert.Equal(t, model, rm.Name)

	snaps, err := e.proxy.Snapshots(ctx)
	require.NoError(t, err)
	require.Len(t, snaps, 4)
	assert.Equal(t, snaps[0].Aliases, snaps[1].Aliases, "unchanged")
	assert.Equal(t, newModel, snaps[2].Model)
	assert.Empty(t, snaps[3].Versions)
}

// TestArtifacts: uploads are recorded by path and size; downloads go
// through.
func TestArtifacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{})
	ctx := t.Context()
	_, run := e.newVersion(t)
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	require.NoError(t, e.kernel.UploadArtifact(ctx, run.Info.ArtifactURI, "model/weights.bin", bytes.NewReader(payload)))
	require.NoError(t, e.kernel.UploadArtifact(ctx, run.Info.ArtifactURI, "model/MLmodel", strings.NewReader("flavors: {}\n")))
	calls := e.proxy.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "PUT", calls[0].Method)
	assert.True(t, strings.HasPrefix(calls[0].Endpoint, "/api/2.0/mlflow-artifacts/artifacts/"), calls[0].Endpoint)
	assert.True(t, strings.HasSuffix(calls[0].Args["path"].(string), "/model/weights.bin"), calls[0].Args)
	assert.EqualValues(t, len(payload), calls[0].Args["bytes"])
	assert.Equal(t, "ok", calls[0].Outcome)

	dst := t.TempDir()
	require.NoError(t, e.kernel.DownloadDir(ctx, run.Info.ArtifactURI, "model", dst))
	got, err := os.ReadFile(filepath.Join(dst, "weights.bin"))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(payload, got))
	assert.Len(t, e.proxy.Calls(), 2, "downloads are not recorded")
}

// TestStreaming: a reply reaches the kernel as the server sends it, not
// once it is whole.
func TestStreaming(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	_, target := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first chunk;")
		http.NewResponseController(w).Flush()
		<-release
		_, _ = io.WriteString(w, "second chunk")
	})
	e := newEnvWith(t, target, regproxy.Options{})
	rc, err := e.kernel.DownloadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "model/big.bin")
	require.NoError(t, err)
	defer rc.Close()
	first := make([]byte, len("first chunk;"))
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(rc, first); done <- err }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("the first chunk did not arrive before the reply was whole: the proxy buffers")
	}
	assert.Equal(t, "first chunk;", string(first))
	close(release)
	rest, err := io.ReadAll(rc)
	require.NoError(t, err)
	assert.Equal(t, "second chunk", string(rest))
}

// TestBodyLimits: a body over the limit is a 413 and is not forwarded.
func TestBodyLimits(t *testing.T) {
	t.Parallel()
	fake, target := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	})
	e := newEnvWith(t, target, regproxy.Options{MaxBody: 1024, MaxUpload: 4096})
	big := `{"name": "` + strings.Repeat("x", 2000) + `"}`
	resp, body := raw(t, "POST", e.proxy.URL()+"/api/2.0/mlflow/runs/log-batch", strings.NewReader(big), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Contains(t, body, "REQUEST_LIMIT_EXCEEDED")
	// Without a Content-Length: the limit holds as the body is read.
	resp, _ = raw(t, "POST", e.proxy.URL()+"/api/2.0/mlflow/runs/log-batch", io.MultiReader(strings.NewReader(big)), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Zero(t, fake.n.Load(), "not forwarded")

	err := e.kernel.UploadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "big.bin", bytes.NewReader(make([]byte, 5000)))
	var apiErr *mlflow.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusRequestEntityTooLarge, apiErr.StatusCode)
	assert.Zero(t, fake.n.Load(), "not forwarded")
	// Streamed with no length: cut at the limit.
	resp, _ = raw(t, "PUT", e.proxy.URL()+"/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/big.bin", io.MultiReader(bytes.NewReader(make([]byte, 5000))), nil)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	calls := e.proxy.Calls()
	require.Len(t, calls, 4)
	for _, c := range calls {
		assert.Contains(t, c.Outcome, "over", c.Endpoint)
	}
	require.NoError(t, e.kernel.UploadArtifact(t.Context(), "mlflow-artifacts:/1/r/artifacts", "small.bin", bytes.NewReader(make([]byte, 4096))))
	assert.EqualValues(t, 4096, lastCall(t, e.proxy).Args["bytes"])
}

// TestHandle: the parent's own endpoints answer under the token prefix
// only, and cannot shadow the tracking server's paths.
func TestHandle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{})
	e.proxy.Handle("POST /rpc/capture", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "captured "+r.URL.Path)
	}))
	resp, body := raw(t, "POST", e.proxy.URL()+"/rpc/capture", nil, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "captured /rpc/capture", body)
	u := e.proxy.URL()
	resp, _ = raw(t, "POST", u[:strings.LastIndex(u, "/k/")]+"/rpc/capture", nil, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = raw(t, "POST", u+"/rpc/other", nil, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Empty(t, e.proxy.Calls())
	assert.Panics(t, func() { e.proxy.Handle("GET /api/2.0/mlflow/runs/get", http.NotFoundHandler()) })
	assert.Panics(t, func() { e.proxy.Handle("/health", http.NotFoundHandler()) })
}

// TestConcurrentAndClose: concurrent calls are all recorded, one before
// snapshot per model; Close waits for the request in flight.
func TestConcurrentAndClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{})
	ctx := t.Context()
	model, _ := e.newVersion(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			assert.NoError(t, e.kernel.SetModelVersionTag(ctx, model, "1", "k"+string(rune('a'+i)), "v"))
		})
	}
	wg.Wait()
	assert.Len(t, e.proxy.Calls(), 16)
	snaps, err := e.proxy.Snapshots(ctx)
	require.NoError(t, err)
	require.Len(t, snaps, 2)
	assert.Empty(t, snaps[0].Versions[0].Tags, "before every call")
	assert.Len(t, snaps[1].Versions[0].Tags, 16)

	entered, release := make(chan struct{}), make(chan struct{})
	_, target := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "OK")
	})
	p, err := regproxy.Start(regproxy.Options{Target: target})
	require.NoError(t, err)
	health := make(chan error, 1)
	go func() { health <- kernelClient(t, p.URL()).Health(context.Background()) }()
	<-entered
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case <-closed:
		t.Fatal("Close returned with a request in flight")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-health, "the request in flight finished")
	require.NoError(t, <-closed)
	_, err = http.Get(p.URL() + "/health")
	assert.Error(t, err, "no longer listening")
}

// TestMutating: the classification of calls.
func TestMutating(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		method, endpoint string
		mutating         bool
	}{
		{"GET", "/api/2.0/mlflow/registered-models/get", false},
		{"GET", "/api/2.0/mlflow/registered-models/alias", false},
		{"HEAD", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/x", false},
		{"GET", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/x", false},
		{"GET", "/health", false},
		{"POST", "/api/2.0/mlflow/runs/search", false},
		{"POST", "/api/2.0/mlflow/experiments/search", false},
		{"POST", "/api/2.0/mlflow/logged-models/search", false},
		{"POST", "/api/2.0/mlflow/registered-models/get-latest-versions", false},
		{"POST", "/api/2.0/mlflow/experiments/create", true},
		{"POST", "/api/2.0/mlflow/runs/create", true},
		{"POST", "/api/2.0/mlflow/runs/log-batch", true},
		{"POST", "/api/2.0/mlflow/runs/outputs", true},
		{"POST", "/api/2.0/mlflow/registered-models/create", true},
		{"POST", "/api/2.0/mlflow/registered-models/alias", true},
		{"DELETE", "/api/2.0/mlflow/registered-models/alias", true},
		{"POST", "/api/2.0/mlflow/model-versions/create", true},
		{"POST", "/api/2.0/mlflow/model-versions/set-tag", true},
		{"DELETE", "/api/2.0/mlflow/model-versions/delete-tag", true},
		{"PATCH", "/api/2.0/mlflow/model-versions/update", true},
		{"PATCH", "/api/2.0/mlflow/logged-models/m-1", true},
		{"DELETE", "/api/2.0/mlflow/logged-models/m-1", true},
		{"PUT", "/api/2.0/mlflow-artifacts/artifacts/1/r/artifacts/x", true},
		{"POST", "/api/2.0/mlflow/runs/search/", true}, // not the read-only path: fail safe
		{"POST", "/api/2.0/mlflow/some-future-endpoint", true},
	} {
		assert.Equal(t, c.mutating, regproxy.Mutating(c.method, c.endpoint), "%s %s", c.method, c.endpoint)
	}
}

// TestRedact: secret-looking fields, at any depth, and the values of
// secret-looking tags and params.
func TestRedact(t *testing.T) {
	t.Parallel()
	args := map[string]any{
		"name":     "m",
		"key":      "stage",
		"value":    "prod",
		"token":    "t",
		"password": "p",
		"api_key":  "k",
		"nested":   map[string]any{"client_secret": "s", "ok": "yes"},
		"params":   []any{map[string]any{"key": "db_password", "value": "hunter2"}, map[string]any{"key": "lr", "value": "0.1"}},
	}
	regproxy.Redact(args)
	assert.Equal(t, map[string]any{
		"name":     "m",
		"key":      "stage",
		"value":    "prod",
		"token":    regproxy.Redacted,
		"password": regproxy.Redacted,
		"api_key":  regproxy.Redacted,
		"nested":   map[string]any{"client_secret": regproxy.Redacted, "ok": "yes"},
		"params":   []any{map[string]any{"key": "db_password", "value": regproxy.Redacted}, map[string]any{"key": "lr", "value": "0.1"}},
	}, args)
}

// TestNoSnapshotNoCall: a call whose model's before snapshot cannot be read
// is refused, not forwarded; a rename touches both names.
func TestNoSnapshotNoCall(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var paths []string
	_, target := newCounting(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/2.0/mlflow/registered-models/get" && r.URL.Query().Get("name") == "broken" {
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"error_code": "INTERNAL_ERROR", "message": "database is locked"}`)
			return
		}
		if r.URL.Path == "/api/2.0/mlflow/registered-models/get" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such model"}`)
			return
		}
		_, _ = io.WriteString(w, `{}`)
	})
	e := newEnvWith(t, target, regproxy.Options{})
	err := e.kernel.SetRegisteredModelAlias(t.Context(), "broken", "champion", "1")
	var apiErr *mlflow.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusBadGateway, apiErr.StatusCode)
	mu.Lock()
	assert.NotContains(t, paths, "/api/2.0/mlflow/registered-models/alias", "not forwarded")
	mu.Unlock()
	c := lastCall(t, e.proxy)
	assert.True(t, strings.HasPrefix(c.Outcome, "not sent: "), c.Outcome)
	assert.Contains(t, c.Outcome, "database is locked")

	resp, body := raw(t, "POST", e.proxy.URL()+"/api/2.0/mlflow/registered-models/rename", strings.NewReader(`{"name": "old", "new_name": "new"}`), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	snaps, err := e.proxy.Snapshots(t.Context())
	require.NoError(t, err)
	var models []string
	for _, s := range snaps {
		models = append(models, s.Label+":"+s.Model)
	}
	assert.Equal(t, []string{"before:old", "after:old", "before:new", "after:new"}, models, "broken has no before snapshot")
}

// TestUnreadableChangesRefused: a change whose body is not a JSON object
// (a JSON string holding one), a registry change naming no model, and a
// REST path with an escape (registered%2Dmodels) are not forwarded; the
// model's alias and tags are as they were before, and the first two are
// recorded as refused.
func TestUnreadableChangesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{})
	ctx := t.Context()
	model, _ := e.newVersion(t)
	before, err := e.direct.GetRegisteredModel(ctx, model)
	require.NoError(t, err)
	json := func(v string) *strings.Reader { return strings.NewReader(v) }
	h := http.Header{"Content-Type": {"application/json"}}

	object := `{"name":"` + model + `","alias":"champion","version":"1"}`
	resp, _ := raw(t, http.MethodPost, e.proxy.URL()+"/api/2.0/mlflow/registered-models/alias", json(strconv.Quote(object)), h)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "refused: the body is not a JSON object", lastCall(t, e.proxy).Outcome)

	resp, _ = raw(t, http.MethodPost, e.proxy.URL()+"/api/2.0/mlflow/model-versions/set-tag", json(`{"version":"1","key":"k","value":"v"}`), h)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "refused: no registered model named", lastCall(t, e.proxy).Outcome)

	n := len(e.proxy.Calls())
	resp, _ = raw(t, http.MethodPost, e.proxy.URL()+"/api/2.0/mlflow/registered%2Dmodels/set-tag", json(`{"name":"`+model+`","key":"k","value":"v"}`), h)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Len(t, e.proxy.Calls(), n, "not forwarded, nothing recorded")

	after, err := e.direct.GetRegisteredModel(ctx, model)
	require.NoError(t, err)
	assert.Equal(t, before.Aliases, after.Aliases)
	assert.Equal(t, before.Tags, after.Tags)
	mv, err := e.direct.GetModelVersion(ctx, model, "1")
	require.NoError(t, err)
	assert.Empty(t, mv.Tags, "no tag was set")
}
