package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
	"github.com/playbook-mlops/playbook/steps"
)

// TestBasicAuthMLflow: against MLflow's basic-auth app (mlflow server
// --app-name basic-auth), as a user who is not an admin and may manage
// only the scenario's model, the French scenario promotes with the
// credentials of MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD:
// verify captures the model's page and the archived version's through
// MLflow's basic authentication, the run's actor is that MLflow user,
// verified by the server, beside the operating system's user (the
// record, the report's first screen, the tags promote writes), and the
// password is nowhere in what playbook wrote or printed. It starts its
// own basic-auth server with scripts/mlflow-server (a state folder and a
// port of its own) unless MLFLOW_TRACKING_URI names one already, with
// an admin's credentials in the environment.
func TestBasicAuthMLflow(t *testing.T) {
	start := time.Now()
	uri := testenv.RealMLflow(t)
	t.Setenv(browser.EnvChromium, testenv.Chromium(t))
	uri, admin, adminPW := basicAuthServer(t, uri)
	t.Logf("basic-auth server at %s after %s", uri, time.Since(start).Round(time.Millisecond))

	// The admin trains (runs of an experiment every user may read) and
	// makes the model, and a user of no other rights manages it.
	adminClient := authClient(t, uri, admin, adminPW)
	user, userPW := "alice-"+randomHex(t)[:6], "pw-"+randomHex(t)
	model, exp := mlflowtest.Unique("ChurnBasicAuth"), mlflowtest.Unique("basic-auth")
	authREST(t, uri, admin, adminPW, "POST", "/api/2.0/mlflow/users/create", map[string]any{"username": user, "password": userPW})
	_, err := adminClient.CreateRegisteredModel(t.Context(), model, nil, "")
	require.NoError(t, err)
	authREST(t, uri, admin, adminPW, "POST", "/api/3.0/mlflow/users/permissions/grant",
		map[string]any{"username": user, "resource_type": "registered_model", "resource_id": model, "permission": "MANAGE"})

	secrets := []string{adminPW, userPW, base64.StdEncoding.EncodeToString([]byte(user + ":" + userPW)),
		base64.StdEncoding.EncodeToString([]byte(admin + ":" + adminPW))}
	var outs []string
	var stderrs []string
	as := func(name, pw string, args ...string) (int, *record.Run, string) {
		t.Helper()
		t.Setenv(mlflow.EnvTrackingUsername, name)
		t.Setenv(mlflow.EnvTrackingPassword, pw)
		out := t.TempDir()
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append([]string{"run", "--tracking-uri", uri, "--out", out}, args...), &stdout, &stderr)
		outs = append(outs, out)
		stderrs = append(stderrs, stdout.String(), stderr.String())
		var rec *record.Run
		if b, err := os.ReadFile(filepath.Join(out, record.EvidenceFile)); err == nil {
			rec, err = record.Read(bytes.NewReader(b))
			require.NoError(t, err)
		}
		return code, rec, stderr.String()
	}
	train := func(seed string) {
		t.Helper()
		code, _, stderr := as(admin, adminPW, scenario("churn-training.md"), "-p", "experiment="+exp, "-p", "runs=2", "-p", "rows=5000", "-p", "seed="+seed)
		require.Equal(t, ExitOK, code, stderr)
	}
	promote := func() (*record.Run, string) {
		t.Helper()
		code, rec, stderr := as(user, userPW, scenario("churn-promotion.fr.md"), "-p", "experiment="+exp, "-p", "model_name="+model, "-p", "serve=off")
		require.Equal(t, ExitOK, code, stderr)
		require.NotNil(t, rec)
		return rec, stderr
	}

	// A first promotion, without Chromium: version 1 in production.
	train("3")
	t.Setenv(browser.EnvChromium, "off")
	rec, _ := promote()
	require.Equal(t, "1", rec.Evidence.Promotion.Version)
	t.Logf("trained and promoted version 1 after %s", time.Since(start).Round(time.Millisecond))

	// Better runs, then the promotion that archives version 1, captured.
	train("2")
	t.Setenv(browser.EnvChromium, testenv.Chromium(t))
	rec, _ = promote()
	t.Logf("promoted version 2 after %s", time.Since(start).Round(time.Millisecond))
	p := rec.Evidence.Promotion
	require.Equal(t, "2", p.Version)
	require.Equal(t, "1", p.Previous)

	// The actor: the MLflow user, verified, beside the OS user.
	env := rec.Environment
	require.NotNil(t, env.Actor, "the MLflow user is recorded")
	assert.Equal(t, user, env.Actor.Name)
	assert.Equal(t, mlflow.ViaBasicAuth, env.Actor.Via)
	assert.True(t, env.Actor.Verified, env.Actor.Note)
	assert.NotEmpty(t, env.User, "the OS user stays")
	who := fmt.Sprintf("%s (OS %s@%s)", user, env.User, env.Host)
	assert.Equal(t, who, p.By)
	tags := map[string]string{}
	mv, err := adminClient.GetModelVersion(t.Context(), model, "2")
	require.NoError(t, err)
	for _, tg := range mv.Tags {
		tags[tg.Key] = tg.Value
	}
	assert.Equal(t, who, tags[steps.TagPromotedBy], "the tags name the MLflow user")
	assert.Equal(t, who, tags["candidate_by"])

	// The captures: the model's page and the archived version's, taken
	// through basic authentication, whole pages.
	require.Len(t, rec.Evidence.Captures, 2)
	c := authClient(t, uri, "", "")
	for i, want := range []struct{ url, title string }{
		{steps.ModelURL(c, model), model + " — interface MLflow"},
		{steps.ModelVersionURL(c, model, "1"), model + " version 1 (archivée) — interface MLflow"},
	} {
		capt := rec.Evidence.Captures[i]
		require.Empty(t, capt.Reason, "capture %d taken", i)
		assert.Equal(t, want.url, capt.URL)
		assert.Equal(t, want.title, capt.Title)
		colors, ink, err := browser.Ink(capt.PNG)
		require.NoError(t, err)
		assert.Greater(t, colors, 16, "not a blank page, nor a login error")
		assert.Greater(t, ink, 0.02)
		assert.Equal(t, browser.CaptureWidth, capt.Width)
		assert.GreaterOrEqual(t, capt.Height, browser.CaptureHeight, "the whole page")
	}
	assert.Greater(t, rec.Evidence.Captures[1].Height, browser.CaptureHeight, "the archived version's tags, every one, below the first screen")

	// The report: both captures, the MLflow user and the OS user in French.
	dir := outs[len(outs)-1]
	html, err := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	require.NoError(t, err)
	md, err := os.ReadFile(filepath.Join(dir, report.MarkdownFile))
	require.NoError(t, err)
	for _, doc := range []string{string(html), string(md)} {
		assert.Contains(t, doc, "Utilisateur MLflow")
		assert.Contains(t, doc, "Utilisateur du système")
		assert.Contains(t, doc, user+" (vérifié par le serveur, authentification basic)")
		assert.Contains(t, doc, "version 1 (archivée) — interface MLflow")
	}
	for _, name := range []string{"capture-verify-1.png", "capture-verify-2.png"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err, "report.md's capture beside it")
		assert.Greater(t, fi.Size(), int64(10_000), name)
	}

	// No password, nor the Authorization header's value, anywhere.
	for _, out := range outs {
		require.NoError(t, filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, s := range secrets {
				assert.NotContains(t, string(b), s, "%s holds a secret", path)
			}
			return nil
		}))
	}
	for _, text := range stderrs {
		for _, s := range secrets {
			assert.NotContains(t, text, s, "playbook printed a secret")
		}
	}
	t.Logf("done after %s", time.Since(start).Round(time.Millisecond))
}

// basicAuthServer returns a basic-auth MLflow server and an admin's
// credentials: uri's when it is one and MLFLOW_TRACKING_USERNAME and
// MLFLOW_TRACKING_PASSWORD are set, else one the test starts with
// scripts/mlflow-server (its own state folder, data and port, the admin's
// password made for it, in the environment), stopped at its end.
func basicAuthServer(t *testing.T, uri string) (string, string, string) {
	t.Helper()
	if u, pw := os.Getenv(mlflow.EnvTrackingUsername), os.Getenv(mlflow.EnvTrackingPassword); u != "" && pw != "" {
		resp, err := http.Get(strings.TrimRight(uri, "/") + "/api/2.0/mlflow/users/current")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return uri, u, pw
			}
		}
	}
	testenv.Python(t) // the virtualenv the script runs MLflow from
	state := t.TempDir()
	pw := "admin-" + randomHex(t)
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "PLAYBOOK_MLFLOW_") && !strings.HasPrefix(k, "MLFLOW_TRACKING_") && !strings.HasPrefix(k, "MLFLOW_AUTH_") {
			env = append(env, kv)
		}
	}
	env = append(env, "PLAYBOOK_MLFLOW_STATE="+state, "PLAYBOOK_MLFLOW_APP=basic-auth", "MLFLOW_AUTH_ADMIN_PASSWORD="+pw)
	script := filepath.Join(testenv.RepoRoot(), "scripts", "mlflow-server")
	stop := func() {
		cmd := exec.Command(script, "stop")
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Logf("scripts/mlflow-server stop: %v\n%s", err, out)
		}
	}
	t.Cleanup(stop)
	cmd := exec.CommandContext(t.Context(), script, "start")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "scripts/mlflow-server start (basic-auth):\n%s", stderr.String())
	return strings.TrimSpace(string(out)), "admin", pw
}

// authClient returns a client of uri with basic-auth credentials (none
// when user is "").
func authClient(t *testing.T, uri, user, pw string) *mlflow.Client {
	t.Helper()
	cfg := mlflow.DefaultConfig(uri)
	cfg.Username, cfg.Password = user, pw
	c, err := mlflow.New(cfg)
	require.NoError(t, err)
	return c
}

// authREST sends a JSON request to MLflow's auth API as user.
func authREST(t *testing.T, uri, user, pw, method, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), method, strings.TrimRight(uri, "/")+path, bytes.NewReader(b))
	require.NoError(t, err)
	req.SetBasicAuth(user, pw)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s", method, path, reply)
}

// TestActorViaNames: the evidence's Actor.Via spells how mlflow learnt
// the identity with the record's names.
func TestActorViaNames(t *testing.T) {
	assert.Equal(t, record.ActorViaBasicAuth, mlflow.ViaBasicAuth)
	assert.Equal(t, record.ActorViaBearerJWT, mlflow.ViaBearerJWT)
}
