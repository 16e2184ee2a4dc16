package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
)

// The hostile strings of the registry page's tests: each must reach the
// page as text, never as markup.
const (
	hostile     = `<script>alert(1)</script>`
	hostileName = `UI <b>bold<b> & "quoted" 'x'` // a model name has no "/"
)

// uiFixture is a registry with a model of two versions (aliases, tags,
// a hostile one and a very long one), a model with a hostile name, and
// the run both versions come from (params, metrics, artifacts).
type uiFixture struct {
	uri, model, experimentID, runID, long string
}

func newUIFixture(t *testing.T) *uiFixture {
	t.Helper()
	_, c := start(t)
	ctx := t.Context()
	f := &uiFixture{uri: c.TrackingURI(), model: "UIChurn", long: strings.Repeat("0123456789", 600) + "END"}
	var err error
	f.experimentID, err = c.CreateExperiment(ctx, "ui-"+hostile, nil)
	require.NoError(t, err)
	run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: f.experimentID, RunName: "best-run", Tags: map[string]string{"note": hostile}})
	require.NoError(t, err)
	f.runID = run.Info.RunID
	now := time.Now().UnixMilli()
	require.NoError(t, c.LogBatch(ctx, f.runID,
		[]mlflow.Metric{{Key: "f1", Value: 0.5, Timestamp: now, Step: 0}, {Key: "f1", Value: 0.625, Timestamp: now + 1, Step: 1}, {Key: "auc", Value: 0.8125, Timestamp: now}},
		[]mlflow.Param{{Key: "C", Value: "0.5"}, {Key: "payload", Value: hostile}}, nil))
	require.NoError(t, c.UploadArtifact(ctx, run.Info.ArtifactURI, "model/MLmodel", strings.NewReader("flavors: {}\n")))
	require.NoError(t, c.UploadArtifact(ctx, run.Info.ArtifactURI, "model/model.json", strings.NewReader(strings.Repeat("x", 2048))))
	require.NoError(t, c.UploadArtifact(ctx, run.Info.ArtifactURI, "notes.txt", strings.NewReader("hello")))
	_, err = c.UpdateRun(ctx, f.runID, mlflow.RunStatusFinished, 0)
	require.NoError(t, err)

	_, err = c.CreateRegisteredModel(ctx, f.model, map[string]string{"team": hostile}, "Churn model: "+hostile)
	require.NoError(t, err)
	for i := range 2 {
		_, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{
			Name: f.model, Source: run.Info.ArtifactURI + "/model", RunID: f.runID, Description: fmt.Sprintf("version %d", i+1),
		})
		require.NoError(t, err)
	}
	require.NoError(t, c.SetModelVersionTag(ctx, f.model, "1", "archived", "true"))
	require.NoError(t, c.SetModelVersionTag(ctx, f.model, "2", "validation_status", "passed"))
	require.NoError(t, c.SetModelVersionTag(ctx, f.model, "2", "hostile", hostile))
	require.NoError(t, c.SetModelVersionTag(ctx, f.model, "2", "long", f.long))
	require.NoError(t, c.SetRegisteredModelAlias(ctx, f.model, "production-live", "2"))
	require.NoError(t, c.SetRegisteredModelAlias(ctx, f.model, "staging-candidate", "2"))
	require.NoError(t, c.SetRegisteredModelAlias(ctx, f.model, "previous", "1"))

	_, err = c.CreateRegisteredModel(ctx, hostileName, nil, "")
	require.NoError(t, err)
	_, err = c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: hostileName, Source: run.Info.ArtifactURI + "/model", RunID: f.runID})
	require.NoError(t, err)
	return f
}

// get fetches path of the fixture's server and returns the response and
// its body.
func (f *uiFixture) get(t *testing.T, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, f.uri+path, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// page gets a registry page that must be there: a 200, its headers set,
// every hostile string escaped. It returns the response and the body.
func (f *uiFixture) page(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	resp, body := f.get(t, http.MethodGet, path)
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	assertPageHeaders(t, resp)
	assertEscaped(t, body)
	return resp, body
}

// assertPageHeaders checks the headers every registry page has.
func assertPageHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'", resp.Header.Get("Content-Security-Policy"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
}

// assertEscaped checks that no hostile string reached the page as markup.
func assertEscaped(t *testing.T, body string) {
	t.Helper()
	for _, markup := range []string{"<script", "<b>"} {
		assert.False(t, strings.Contains(body, markup), "%s in the page", markup)
	}
}

// tagRow matches a tag table's row of key and value.
func tagRow(key, value string) *regexp.Regexp {
	return regexp.MustCompile(`<td class="key">` + regexp.QuoteMeta(key) + `</td><td class="value">` + regexp.QuoteMeta(value) + `</td>`)
}

// TestRegistryPage: / lists the registered models and holds every model's
// page and the page of the run their versions come from, as sections whose
// ids are the MLflow UI's routes; every string escaped, the headers set.
func TestRegistryPage(t *testing.T) {
	f := newUIFixture(t)
	_, body := f.page(t, "/")

	assert.Contains(t, body, "Registry (read-only)")
	assert.Contains(t, body, `<section class="list">`)
	assert.Contains(t, body, `href="#/models/UIChurn"`)
	assert.Contains(t, body, `<section class="page model" id="/models/UIChurn">`)
	assert.Contains(t, body, `<article class="version" id="/models/UIChurn/versions/2">`)
	assert.Contains(t, body, `<section class="page run" id="/experiments/`+f.experimentID+`/runs/`+f.runID+`">`)
	assert.Contains(t, body, `href="#/experiments/`+f.experimentID+`/runs/`+f.runID+`"`, "a version links to its run's section")
	assert.Contains(t, body, `href="#/models/UIChurn/versions/2">production-live → 2</a>`)
	assert.Regexp(t, tagRow("validation_status", "passed"), body)
	assert.Contains(t, body, f.long, "a long value whole")
	assert.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	// The hostile name: escaped in the id, in the text and in the link.
	assert.Contains(t, body, `id="/models/UI &lt;b&gt;bold&lt;b&gt; &amp; &#34;quoted&#34; &#39;x&#39;"`)
	assert.Contains(t, body, `href="#/models/`+strings.ReplaceAll(url.PathEscape(hostileName), "&", "&amp;")+`"`)
	assert.Contains(t, body, `body:has(.page:target) .list`)
	assert.Equal(t, 1, strings.Count(body, `<section class="page run"`), "one run, one section")

	head, rest := f.get(t, http.MethodHead, "/")
	assert.Equal(t, http.StatusOK, head.StatusCode)
	assertPageHeaders(t, head)
	assert.Empty(t, rest)
}

// TestRegistryPageModel: /ui/models/NAME is the model's page on its own:
// versions newest first with every tag, the aliases, links to the run's
// own page.
func TestRegistryPageModel(t *testing.T) {
	f := newUIFixture(t)
	_, body := f.page(t, "/ui/models/UIChurn")
	assert.NotContains(t, body, `<section class="list">`)
	assert.NotContains(t, body, `class="index"`)
	assert.Contains(t, body, "<title>UIChurn — Registry (read-only)</title>")
	assert.Contains(t, body, "Churn model: &lt;script&gt;")
	assert.Regexp(t, tagRow("team", "&lt;script&gt;alert(1)&lt;/script&gt;"), body)
	assert.Regexp(t, tagRow("validation_status", "passed"), body)
	assert.Regexp(t, tagRow("archived", "true"), body)
	assert.Regexp(t, tagRow("long", f.long), body)
	// The versions' overview: every tag, long values cut.
	assert.Contains(t, body, `<span class="tag">validation_status=<span class="v">passed</span></span>`)
	assert.Contains(t, body, `<span class="tag">long=<span class="v">`+f.long[:80]+`…</span></span>`)
	v2 := strings.Index(body, `id="/models/UIChurn/versions/2"`)
	v1 := strings.Index(body, `id="/models/UIChurn/versions/1"`)
	require.True(t, v1 > 0 && v2 > 0)
	assert.Less(t, v2, v1, "newest first")
	assert.Contains(t, body[v2:v1], `<span class="chip">production-live</span> <span class="chip">staging-candidate</span>`)
	assert.Contains(t, body[v1:], `<span class="chip">previous</span>`)
	assert.Contains(t, body, `<a href="/ui/runs/`+f.runID+`">`+f.runID+`</a>`)
	assert.Contains(t, body, `href="/ui/models/UIChurn#/models/UIChurn/versions/2">Version 2</a>`)
	assert.Contains(t, body, "READY")
	assert.Contains(t, body, "version 2")

	_, body = f.page(t, "/ui/models/"+url.PathEscape(hostileName))
	assert.Contains(t, body, "UI &lt;b&gt;bold&lt;b&gt;")
}

// TestRegistryPageRun: /ui/runs/ID is the run's page: params, latest
// metrics, tags, artifacts one level deep with sizes, the versions
// registered from it.
func TestRegistryPageRun(t *testing.T) {
	f := newUIFixture(t)
	_, body := f.page(t, "/ui/runs/"+f.runID)
	assert.Contains(t, body, "best-run")
	assert.Contains(t, body, "ui-&lt;script&gt;alert(1)&lt;/script&gt; (id "+f.experimentID+")")
	assert.Contains(t, body, "FINISHED")
	assert.Regexp(t, tagRow("C", "0.5"), body)
	assert.Regexp(t, tagRow("payload", "&lt;script&gt;alert(1)&lt;/script&gt;"), body)
	assert.Regexp(t, tagRow("note", "&lt;script&gt;alert(1)&lt;/script&gt;"), body)
	assert.Contains(t, body, `<td class="key">f1</td><td class="mono">0.625</td><td>1</td>`, "the latest value")
	assert.Contains(t, body, `<td class="key">auc</td><td class="mono">0.8125</td>`)
	assert.Contains(t, body, `<span class="mono">model/</span>`)
	assert.Contains(t, body, `<span class="mono">MLmodel</span> <span class="size">12 B</span>`)
	assert.Contains(t, body, `<span class="mono">model.json</span> <span class="size">2.0 KiB</span>`)
	assert.Contains(t, body, `<span class="mono">notes.txt</span> <span class="size">5 B</span>`)
	assert.Contains(t, body, `<a href="/ui/models/UIChurn#/models/UIChurn/versions/2">UIChurn, version 2</a>`)
	assert.Contains(t, body, "UI &lt;b&gt;bold&lt;b&gt;")
}

// TestRegistryPageNotFound: an unknown model or run is an HTML 404 that
// names it, escaped; other paths keep MLflow's answers.
func TestRegistryPageNotFound(t *testing.T) {
	f := newUIFixture(t)
	for _, p := range []string{"/ui/models/" + url.PathEscape(hostile), "/ui/models/Nothing", "/ui/runs/" + url.PathEscape(hostile), "/ui/runs/0123"} {
		resp, body := f.get(t, http.MethodGet, p)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, p)
		assertPageHeaders(t, resp)
		assertEscaped(t, body)
		assert.Contains(t, body, "Not found", p)
	}
	_, body := f.get(t, http.MethodGet, "/ui/models/"+url.PathEscape(hostile))
	assert.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;")

	// Read-only: another method is refused.
	for _, p := range []string{"/", "/ui/models/UIChurn", "/ui/runs/" + f.runID} {
		resp, _ := f.get(t, http.MethodPost, p)
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, p)
	}
	// What the server does not serve stays MLflow's HTML 404 page.
	for _, p := range []string{"/nothing", "/ui/", "/ui/models/", "/api/2.0/mlflow/nothing", "/index.html"} {
		resp, body := f.get(t, http.MethodGet, p)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, p)
		assert.Contains(t, body, "The requested URL was not found on the server.", p)
	}
}

// TestRegistryPageFragments: in Chromium, /#/models/NAME shows that
// model's page alone and /#/experiments/E/runs/R that run's, with no
// script; / alone shows the list.
func TestRegistryPageFragments(t *testing.T) {
	f := newUIFixture(t)
	bin := testenv.Chromium(t)
	open := func(u string, wait ...string) *browser.Page {
		t.Helper()
		p, err := browser.Open(t.Context(), f.uri+u, browser.Options{Binary: bin, WaitText: wait, Timeout: 30 * time.Second})
		require.NoError(t, err, u)
		assert.Empty(t, p.Errors, u)
		assert.Empty(t, p.Failed, u)
		return p
	}
	p := open("/", "Registered models")
	assert.Contains(t, p.Text, "UIChurn")
	assert.NotContains(t, p.Text, "validation_status", "the model pages are hidden")

	p = open("/#/models/UIChurn", "production-live")
	assert.Contains(t, p.Text, "staging-candidate")
	assert.Regexp(t, `validation_status\s+passed`, p.Text)
	assert.NotContains(t, p.Text, "Latest version", "the list is hidden")
	assert.NotContains(t, p.Text, "FINISHED", "the run's page is hidden")

	p = open("/#/models/"+url.PathEscape(hostileName), hostileName)
	assert.NotContains(t, p.Text, "production-live")

	p = open("/#/models/UIChurn/versions/1", "previous")
	assert.Contains(t, p.Text, "archived", "a version's route shows its model's page")

	p = open("/#/experiments/"+f.experimentID+"/runs/"+f.runID, "best-run")
	assert.Contains(t, p.Text, "MLmodel")
	assert.Regexp(t, `f1\s+0\.625`, p.Text)
	assert.NotContains(t, p.Text, "validation_status")
}
