package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/regproxy"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/steps"
)

// Fault modes of faultProxy, each at one mutating call.
const (
	// faultLost: the call reaches the server, which applies it; the reply
	// is lost and the server is gone from then on (killed right after).
	faultLost = "reply-lost"
	// faultDropped: the server dies as the call arrives: never applied, no
	// reply, gone from then on.
	faultDropped = "server-killed"
	// faultKill: the call is applied and answered by the server, and
	// playbook is killed (SIGKILL) before it reads the reply.
	faultKill = "client-killed"
	// faultServer: the call is applied and answered by the server, which
	// is then killed (SIGKILL, the real MLflow process) before the reply
	// reaches playbook.
	faultServer = "mlflow-killed"
)

// faultProxy is a loopback proxy in front of a tracking server that
// injects one fault at the n-th call that changes the registry (n = 0: no
// fault) and records the changes it saw.
type faultProxy struct {
	t      *testing.T
	target *url.URL
	rp     *httputil.ReverseProxy
	ln     net.Listener
	srv    *http.Server
	mode   string
	n      int
	// match, when set, puts the fault at the first change named so ("POST
	// registered-models/alias") whose body holds matchBody.
	match, matchBody string
	kill             func()

	mu    sync.Mutex
	seen  []string // "METHOD endpoint" of each change, in order
	dark  bool
	fired bool
}

func newFaultProxy(t *testing.T, target, mode string, n int) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &faultProxy{t: t, target: u, rp: httputil.NewSingleHostReverseProxy(u), ln: ln, mode: mode, n: n}
	f.rp.ErrorLog = nil
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

func (f *faultProxy) URL() string { return "http://" + f.ln.Addr().String() }

// goDark makes the server look dead: no new connection is accepted.
func (f *faultProxy) goDark() {
	f.dark = true
	_ = f.ln.Close()
}

func (f *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint := r.URL.EscapedPath()
	f.mu.Lock()
	if f.dark {
		f.mu.Unlock()
		hangUp(w)
		return
	}
	fire := false
	if regproxy.Mutating(r.Method, endpoint) {
		name := r.Method + " " + strings.TrimPrefix(endpoint, "/api/2.0/mlflow/")
		f.seen = append(f.seen, name)
		fire = len(f.seen) == f.n
		if f.match != "" && name == f.match && !f.fired {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			fire = strings.Contains(string(body), f.matchBody)
		}
	}
	if fire {
		f.fired = true
		f.goDark()
	}
	f.mu.Unlock()
	if !fire {
		f.rp.ServeHTTP(w, r)
		return
	}
	if f.mode != faultDropped {
		out := r.Clone(context.Background())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host, out.Host = f.target.Scheme, f.target.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			f.t.Errorf("fault proxy: forwarding %s %s: %v", r.Method, endpoint, err)
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				f.t.Errorf("fault proxy: %s %s: the server answered %s", r.Method, endpoint, resp.Status)
			}
		}
	}
	if f.mode == faultKill || f.mode == faultServer {
		f.kill()
	}
	hangUp(w)
}

// hangUp closes the connection without a reply.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func (f *faultProxy) changes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// killCase is one kill point: a fault mode at the n-th change of a run
// promoting version 2 over version 1.
type killCase struct {
	mode string
	n    int
	call string
}

// TestPromotionKillPointsHeavy kills a promotion at each of its changes,
// three ways (the reply lost, the server killed, playbook killed), against
// the real MLflow 3.18, then reruns the scenario: production must end on
// exactly one version with every promotion and archive tag consistent, no
// intent left, and the rerun's evidence must say what it repaired.
func TestPromotionKillPointsHeavy(t *testing.T) {
	testenv.Heavy(t)
	uri := testenv.RealMLflow(t)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	stamp := time.Now().UnixNano()
	exp := fmt.Sprintf("kill-points-%d", stamp)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("KillTemplate-%d", stamp)}
	// The template's production from one training; the runs killed
	// promote the best of another, a better model (as in
	// promotionEndToEnd): the same model would leave production unchanged.
	e.train(exp+"-template", 2, 5000, 3)
	code, stderr, _ := e.promote(exp + "-template")
	require.Equal(t, ExitOK, code, stderr)
	e.train(exp, 2, 5000, 2)

	// Calibration: the changes of a run that promotes version 2.
	model := e.cloneProduction(fmt.Sprintf("KillCalibrate-%d", stamp))
	f := newFaultProxy(t, uri, "", 0)
	code, out := killRun(t, f, exp, model)
	require.Equal(t, ExitOK, code, out)
	calls := f.changes()
	intent := -1
	for i, call := range calls {
		if call == "POST registered-models/set-tag" {
			intent = i
			break
		}
	}
	require.Positive(t, intent, "the promotion writes its intent: %v", calls)
	require.Equal(t, "DELETE registered-models/delete-tag", calls[len(calls)-1], "and deletes it last")
	st := e.state(model)
	require.Equal(t, "2", st.Aliases["production-live"])
	assertConsistent(t, c, model)

	var cases []killCase
	for _, mode := range []string{faultLost, faultDropped, faultKill} {
		for n := intent - 1; n <= len(calls); n++ {
			cases = append(cases, killCase{mode: mode, n: n, call: calls[n-1]})
		}
	}
	require.GreaterOrEqual(t, len(cases), 30, "at least 30 kill points")
	t.Logf("%d kill points over %d changes: %v", len(cases), len(calls), calls[intent-2:])

	// The kill points are independent (a model each): they run side by
	// side, as many at once as -parallel allows (.ci/run's heavy lane: 4;
	// each waits mostly on MLflow).
	for i, kc := range cases {
		t.Run(fmt.Sprintf("%s/%02d-%s", kc.mode, kc.n, strings.ReplaceAll(kc.call, "/", "-")), func(t *testing.T) {
			t.Parallel()
			e := &e2e{t: t, uri: e.uri, c: e.c, model: e.model}
			model := e.cloneProduction(fmt.Sprintf("Kill-%d-%d", stamp, i))
			f := newFaultProxy(t, uri, kc.mode, kc.n)
			code, out := killRun(t, f, exp, model)
			require.True(t, f.fired, "the fault fired")
			if kc.mode == faultKill {
				assert.Equal(t, -1, code, "killed: %s", out)
			} else {
				assert.NotEqual(t, ExitOK, code, out)
				first, _, _ := strings.Cut(out, "\n")
				assert.Contains(t, out, "may have been applied", "the lost change is said to be uncertain; first line: %s", first)
			}
			before := e.state(model)
			consistent := consistency(c, t.Context(), model) == ""

			dir := t.TempDir()
			var so, se bytes.Buffer
			code = run(t.Context(), []string{"run", "--quiet", "--out", dir, "--tracking-uri", uri, scenario("churn-promotion.fr.md"),
				"-p", "experiment=" + exp, "-p", "model_name=" + model}, &so, &se)
			require.Equal(t, ExitOK, code, "the rerun succeeds\n%s", se.String())
			assertConsistent(t, c, model)
			rec := readEvidence(t, dir)
			if !consistent {
				assert.NotEmpty(t, rec.Evidence.Repairs, "the rerun says what it repaired (state before it: %+v)", before)
			}
			for _, rep := range rec.Evidence.Repairs {
				assert.Contains(t, []string{record.RepairCompleted, record.RepairReversed}, rep.Kind)
				assert.NotEmpty(t, rep.Detail)
			}
		})
	}
}

// killRun runs playbook as a process of its own (the test binary as
// playbook) through f, promoting a new version; f kills it at a
// faultKill. It returns the exit code (-1 when killed) and the output.
func killRun(t *testing.T, f *faultProxy, exp, model string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--quiet", "--out", t.TempDir(), "--tracking-uri", f.URL(),
		scenario("churn-promotion.fr.md"), "-p", "experiment="+exp, "-p", "model_name="+model, "-p", "new_version=true")
	cmd.Env = append(os.Environ(), envTestMain+"=1", mlflow.EnvMaxRetries+"=1", mlflow.EnvBackoffFactor+"=0.05",
		mlflow.EnvBackoffJitter+"=0", mlflow.EnvTimeout+"=20", "MLFLOW_TRACKING_URI=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	if f.kill == nil {
		f.kill = func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("playbook did not end within 5 minutes:\n%s", out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// cloneProduction makes model a registered model whose version 1 is the
// template's production version (same source and run, same tags) and
// holds production-live and staging-candidate: a registry a first
// promotion left.
func (e *e2e) cloneProduction(model string) string {
	t := e.t
	t.Helper()
	ctx := t.Context()
	src, err := e.c.GetModelVersionByAlias(ctx, e.model, "production-live")
	require.NoError(t, err)
	_, err = e.c.CreateRegisteredModel(ctx, model, nil, "")
	require.NoError(t, err)
	id := src.ModelID
	if id == "" {
		id, _ = strings.CutPrefix(src.Source, "models:/")
	}
	mv, err := e.c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: model, Source: src.Source, RunID: src.RunID, ModelID: id})
	require.NoError(t, err)
	_, err = e.c.WaitModelVersionReady(ctx, model, mv.Version, time.Minute)
	require.NoError(t, err)
	for _, tag := range src.Tags {
		require.NoError(t, e.c.SetModelVersionTag(ctx, model, mv.Version, tag.Key, tag.Value))
	}
	for _, a := range []string{"production-live", "staging-candidate"} {
		require.NoError(t, e.c.SetRegisteredModelAlias(ctx, model, a, mv.Version))
	}
	return model
}

// readEvidence reads the evidence.json a run wrote into dir (one scenario).
func readEvidence(t *testing.T, dir string) *record.Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, record.EvidenceFile))
	require.NoError(t, err)
	var rec record.Run
	require.NoError(t, json.Unmarshal(b, &rec))
	return &rec
}

func assertConsistent(t *testing.T, c *mlflow.Client, model string) {
	t.Helper()
	assert.Empty(t, consistency(c, t.Context(), model), "the registry of %s is consistent", model)
}

// consistency returns what is inconsistent in model's promotion state
// ("" for nothing): production on exactly one version, which carries its
// promotion tags, passed validation and no archive tag; every other
// version once in production archived, superseded by a version that
// exists; no promotion intent left.
func consistency(c *mlflow.Client, ctx context.Context, model string) string {
	rm, err := c.GetRegisteredModel(ctx, model)
	if err != nil {
		return err.Error()
	}
	var problems []string
	for _, tag := range rm.Tags {
		if strings.HasPrefix(tag.Key, steps.TagIntentPrefix) {
			problems = append(problems, "intent left: "+tag.Value)
		}
	}
	prod := ""
	for _, a := range rm.Aliases {
		if a.Alias == "production-live" {
			prod = a.Version
		}
	}
	if prod == "" {
		return "no production version"
	}
	mvs, err := c.SearchAllModelVersions(ctx, "name = '"+model+"'")
	if err != nil {
		return err.Error()
	}
	exists := map[string]bool{}
	for _, mv := range mvs {
		exists[mv.Version] = true
	}
	for _, mv := range mvs {
		tags := map[string]string{}
		for _, tg := range mv.Tags {
			tags[tg.Key] = tg.Value
		}
		once := tags[steps.TagPromotedAt] != "" || tags[steps.TagRolledBackAt] != ""
		switch {
		case mv.Version == prod:
			if !once {
				problems = append(problems, "production version "+prod+" has no promotion tags")
			}
			if tags[steps.TagArchived] != "" {
				problems = append(problems, "production version "+prod+" is archived")
			}
			if tags[steps.TagValidationStatus] != steps.StatusPassed {
				problems = append(problems, "production version "+prod+" has validation_status="+tags[steps.TagValidationStatus])
			}
		case once && tags[steps.TagArchived] != "true":
			problems = append(problems, "version "+mv.Version+" was in production and is not archived")
		case tags[steps.TagArchived] == "true" && !exists[tags[steps.TagSupersededBy]]:
			problems = append(problems, "version "+mv.Version+" is superseded by a version that does not exist: "+tags[steps.TagSupersededBy])
		}
	}
	return strings.Join(problems, "; ")
}

// mlflowServer runs scripts/mlflow-server with a state, a data folder and
// a port of the test's own, so that the test can kill the server and start
// it again on the same registry.
type mlflowServer struct {
	t   *testing.T
	env []string
	uri string
}

func startOwnMLflow(t *testing.T) *mlflowServer {
	t.Helper()
	testenv.Python(t)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	s := &mlflowServer{t: t, env: append(os.Environ(),
		"PLAYBOOK_MLFLOW_STATE="+filepath.Join(dir, "state"), "PLAYBOOK_MLFLOW_DATA="+filepath.Join(dir, "data"),
		fmt.Sprint("PLAYBOOK_MLFLOW_PORT=", port))}
	t.Cleanup(func() { s.script("stop") })
	s.uri = strings.TrimSpace(s.script("start"))
	return s
}

func (s *mlflowServer) script(cmd string) string {
	s.t.Helper()
	c := exec.Command(filepath.Join(testenv.RepoRoot(), "scripts", "mlflow-server"), cmd)
	c.Env = s.env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	require.NoError(s.t, c.Run(), "scripts/mlflow-server %s: %s", cmd, errb.String())
	return out.String()
}

// TestPromotionMLflowKilledHeavy kills the real MLflow server (SIGKILL)
// right after it applied the production alias move, before its reply
// reached playbook; the server is started again on the same registry and
// the scenario rerun: it completes the promotion and says so.
func TestPromotionMLflowKilledHeavy(t *testing.T) {
	testenv.Heavy(t)
	srv := startOwnMLflow(t)
	c, err := mlflow.New(mlflow.DefaultConfig(srv.uri))
	require.NoError(t, err)
	stamp := time.Now().UnixNano()
	exp := fmt.Sprintf("mlflow-killed-%d", stamp)
	e := &e2e{t: t, uri: srv.uri, c: c, model: fmt.Sprintf("KilledTemplate-%d", stamp)}
	// The template's production from one training; the runs killed
	// promote the best of another, a better model (as in
	// promotionEndToEnd): the same model would leave production unchanged.
	e.train(exp+"-template", 2, 5000, 3)
	code, stderr, _ := e.promote(exp + "-template")
	require.Equal(t, ExitOK, code, stderr)
	e.train(exp, 2, 5000, 2)
	model := e.cloneProduction(fmt.Sprintf("Killed-%d", stamp))

	f := newFaultProxy(t, srv.uri, faultServer, 0)
	f.match, f.matchBody = "POST registered-models/alias", `"production-live"`
	f.kill = func() { srv.script("kill") }
	code, out := killRun(t, f, exp, model)
	require.True(t, f.fired)
	assert.NotEqual(t, ExitOK, code, out)
	assert.Contains(t, out, "may have been applied")
	_, err = c.GetRegisteredModel(t.Context(), model)
	require.Error(t, err, "the server is gone")

	srv.script("start")
	st := e.state(model)
	require.Equal(t, "2", st.Aliases["production-live"], "the server had applied the move before it was killed")
	require.NotEmpty(t, consistency(c, t.Context(), model), "a half-promotion")

	dir := t.TempDir()
	var so, se bytes.Buffer
	code = run(t.Context(), []string{"run", "--quiet", "--out", dir, "--tracking-uri", srv.uri, scenario("churn-promotion.fr.md"),
		"-p", "experiment=" + exp, "-p", "model_name=" + model}, &so, &se)
	require.Equal(t, ExitOK, code, se.String())
	assertConsistent(t, c, model)
	rec := readEvidence(t, dir)
	require.Len(t, rec.Evidence.Repairs, 1)
	assert.Equal(t, record.RepairCompleted, rec.Evidence.Repairs[0].Kind)
	assert.Equal(t, "2", rec.Evidence.Repairs[0].To)
}
