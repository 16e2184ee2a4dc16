package main

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
	"github.com/playbook-mlops/playbook/server"
)

// TestEmbeddedRegistryPage: the README's French scenario on the embedded
// default, twice (the second, after another training, registers a better
// model and promotes it over the first),
// with Chromium: verify captures the model's page, which the embedded
// server's registry page answers at the MLflow UI's link; that page, opened
// again on the same data, shows both aliases on the new version and its
// validation_status passed; and every link the reports print answers 200,
// its section there, when the data directory is served again at the
// address the run used.
func TestEmbeddedRegistryPage(t *testing.T) {
	bin := testenv.Chromium(t)
	t.Setenv(browser.EnvChromium, bin)
	t.Setenv(mlflow.EnvTrackingURI, "")
	work := t.TempDir()
	data := filepath.Join(work, "data")
	const model = "ChurnPredictor"
	var outs []string
	// Two trainings, the second's best a better model (another seed, as
	// in promotionEndToEnd): the second promotion moves production (the
	// same model registered again would leave it unchanged).
	for i, seed := range []string{"3", "2"} {
		exp := "page-" + seed
		train := []string{"run", "--quiet", "--data-dir", data, "--out", filepath.Join(work, "train"+seed), repoScenario("churn-training.md"),
			"-p", "experiment=" + exp, "-p", "runs=2", "-p", "seed=" + seed}
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), train, &stdout, &stderr)
		require.Equal(t, ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		out := filepath.Join(work, "out"+string(rune('1'+i)))
		args := []string{"run", "--quiet", "--data-dir", data, "--out", out, "-p", "serve=off", repoScenario("churn-promotion.fr.md"), "-p", "experiment=" + exp}
		stdout.Reset()
		stderr.Reset()
		code = run(t.Context(), args, &stdout, &stderr)
		require.Equal(t, ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		outs = append(outs, out)
	}

	var captures []record.Capture
	for i, dir := range outs {
		rec := readRecord(t, dir)
		// The second promotion archived version 1: its page is captured too.
		require.Len(t, rec.Evidence.Captures, i+1, dir)
		for j, c := range rec.Evidence.Captures {
			require.Empty(t, c.Reason, "verify's capture of the page was taken")
			colors, ink, err := browser.Ink(c.PNG)
			require.NoError(t, err)
			assert.Greater(t, colors, 2, "not a blank page")
			assert.Greater(t, ink, 0.02, "not a blank page")
			if j == 1 {
				assert.Equal(t, model+" version 1 (archivée) — page du registre", c.Title)
				assert.True(t, strings.HasSuffix(c.URL, "/#/models/"+model+"/versions/1"), c.URL)
			}
		}
		c := rec.Evidence.Captures[0]
		assert.Equal(t, model+" — page du registre", c.Title, "the French scenario's words")
		assert.True(t, strings.HasSuffix(c.URL, "/#/models/"+model), c.URL)
		pngs, err := filepath.Glob(filepath.Join(dir, "capture-*.png"))
		require.NoError(t, err)
		assert.Len(t, pngs, i+1, "the report keeps the captures")
		captures = append(captures, c)
	}
	last := readRecord(t, outs[1])
	p := last.Evidence.Promotion
	require.NotNil(t, p)
	require.NotEqual(t, p.Previous, p.Version, "the second promotion registered a new version")

	// Each report's links, on the address of the run that wrote it.
	var uri string
	for i, dir := range outs {
		u, err := url.Parse(captures[i].URL)
		require.NoError(t, err)
		srv, err := server.Open(t.Context(), server.Config{DataDir: data})
		require.NoError(t, err)
		base, err := srv.Start(u.Host)
		if err != nil {
			t.Logf("port of %s busy (%v): its links not checked", dir, err)
			require.NoError(t, srv.Close())
			continue
		}
		checkReportLinks(t, dir, u.Host)
		if i < len(outs)-1 {
			require.NoError(t, srv.Close())
			continue
		}
		uri = base
		t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	}
	if uri == "" {
		srv, err := server.Open(t.Context(), server.Config{DataDir: data})
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, srv.Close()) })
		uri, err = srv.Start("127.0.0.1:0")
		require.NoError(t, err)
	}

	// The page the capture shows, opened again: the new version holds both
	// aliases and validation_status passed; the old one, its archive tag.
	page, err := browser.Open(t.Context(), uri+"/#/models/"+model, browser.Options{Binary: bin,
		WaitText: []string{model, p.Alias, p.CandidateAlias}, Timeout: 30 * time.Second})
	require.NoError(t, err)
	assert.Empty(t, page.Errors)
	assert.Empty(t, page.Failed)
	assert.NotContains(t, page.Text, "Latest version", "the list is hidden, the model's page shown")
	// The overview: a row a version, newest first, aliases and tags.
	overview := regexp.MustCompile(`(?m)^Version ` + p.Version + `\s+production-live\s+staging-candidate\s+READY\s.*\bvalidation_status=passed\b`)
	assert.Regexp(t, overview, page.Text)
	assert.Regexp(t, `(?m)^Version `+p.Previous+`\s+READY\s.*\barchived=true\b`, page.Text)
	// Each version's part: every tag in a table.
	_, text, ok := strings.Cut(page.Text, "\nVersion details\n")
	require.True(t, ok, page.Text)
	heading := func(version string) int { // where the version's part starts
		loc := regexp.MustCompile(`(?m)^Version ` + version + `\b`).FindStringIndex(text)
		if loc == nil {
			return -1
		}
		return loc[0]
	}
	newer, older := heading(p.Version), heading(p.Previous)
	require.True(t, newer >= 0 && older > newer, "both versions, newest first:\n%s", text)
	assert.Regexp(t, `^Version `+p.Version+`\s+production-live\s+staging-candidate\s`, text[newer:])
	assert.Regexp(t, `validation_status\s+passed`, text[newer:older])
	assert.Regexp(t, `archived\s+true`, text[older:])
	assert.NotContains(t, text[older:], "production-live")
}

// reportLink is an http(s) address in a report's text.
var reportLink = regexp.MustCompile("https?://[^\\s\"'<>`|()\\[\\]]+")

// checkReportLinks gets every http(s) link of the report in dir to the
// run's server (host): each answers 200, and the section its fragment
// names is on the page.
func checkReportLinks(t *testing.T, dir, host string) {
	t.Helper()
	var links []string
	for _, name := range []string{report.MarkdownFile, report.HTMLFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		text := string(b)
		if name == report.HTMLFile {
			text = html.UnescapeString(text)
		}
		for _, l := range reportLink.FindAllString(text, -1) {
			links = append(links, strings.TrimRight(l, ".,;:"))
		}
	}
	slices.Sort(links)
	links = slices.Compact(links)
	checked := 0
	for _, l := range links {
		u, err := url.Parse(l)
		require.NoError(t, err, l)
		if u.Host != host { // the scenario's prose: an example command's MLflow server
			t.Logf("%s: not the run's server (%s), not checked", l, host)
			continue
		}
		resp, err := http.Get(l)
		require.NoError(t, err, l)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode, l)
		if frag := u.Fragment; frag != "" {
			assert.Contains(t, string(body), `id="`+html.EscapeString(frag)+`"`, "%s: the page has its section", l)
		}
		checked++
	}
	assert.GreaterOrEqual(t, checked, 2, "the run's page and the model's: %v", links)
}
