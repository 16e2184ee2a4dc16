package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/server"
)

// lockedBuffer is a bytes.Buffer written by one goroutine and read by
// another.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// watching is a playbook watch started by a test.
type watching struct {
	t              testing.TB
	url            string
	hub            *liveHub
	stdout, stderr *lockedBuffer
	code           chan int
	stop           context.CancelFunc
}

// startWatch runs playbook watch with args until the test ends, and
// returns once its page is served.
func startWatch(t testing.TB, args ...string) *watching {
	t.Helper()
	return startWatchNotify(t, nil, args...)
}

// startWatchNotify is startWatch, notify told of each event the page is
// sent.
func startWatchNotify(t testing.TB, notify func(event string), args ...string) *watching {
	t.Helper()
	served := make(chan *watching, 1)
	w := &watching{t: t, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, code: make(chan int, 1)}
	watchServed = func(url string, hub *liveHub) {
		hub.notify = notify
		w.url, w.hub = url, hub
		served <- w
	}
	t.Cleanup(func() { watchServed = nil })
	ctx, cancel := context.WithCancel(t.Context())
	w.stop = cancel
	go func() { w.code <- run(ctx, append([]string{"watch"}, args...), w.stdout, w.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.code:
		case <-time.After(30 * time.Second):
			t.Error("playbook watch did not stop within 30 s of its context's end")
		}
	})
	select {
	case <-served:
	case code := <-w.code:
		t.Fatalf("playbook watch exited %d before serving its page:\n%s", code, w.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("playbook watch served no page in 30 s:\n%s", w.stderr.String())
	}
	return w
}

// waitRuns waits until n scenario runs have ended and returns the banner.
func (w *watching) waitRuns(n int) string {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ended, status := w.hub.endedRuns()
		if ended >= n {
			return status
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%d runs of %d ended in 2 minutes; stderr:\n%s", ended, n, w.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// save writes the file again with the same bytes, as an editor's save
// does, with a new modification time.
func save(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o644))
	future := time.Now().Add(time.Second)
	require.NoError(t, os.Chtimes(path, future, future))
}

// trainedDir returns a work folder whose embedded registry holds the
// churn training runs, and the French scenario copied into it.
func trainedDir(t testing.TB) (work, sc string) {
	t.Helper()
	noExternalBackend(t)
	work = t.TempDir()
	t.Chdir(work)
	code, _, stderr := runCLI(t, "run", "--quiet", repoScenario("churn-training.md"), "-p", "runs=2", "-p", "rows=1500")
	require.Equal(t, ExitOK, code, stderr)
	return work, scenarioIn(t, work, "churn-promotion.fr.md")
}

// varying are the evidence's fields that differ from run to run of the
// same scenario on the same registry: times and durations (measured on
// two runs: nothing else differs, ids included, since each run starts
// from the same registry).
var varying = regexp.MustCompile(`^(time|start|end|duration|kernel_start|\w+_at)$`)

// normalized is rec as JSON with the varying fields blanked, and values
// that carry a time (RFC 3339) or a temporary path blanked wherever they
// are.
func normalized(t *testing.T, rec *record.Run) string {
	t.Helper()
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	durs := regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s)\b`)
	var walk func(any) any
	walk = func(x any) any {
		switch x := x.(type) {
		case map[string]any:
			for k, e := range x {
				if varying.MatchString(k) {
					x[k] = "·"
					continue
				}
				x[k] = walk(e)
			}
			return x
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
			return x
		case string:
			x = stamp.ReplaceAllString(x, "<time>")
			return durs.ReplaceAllString(x, "<dur>")
		}
		return x
	}
	out, err := json.MarshalIndent(walk(v), "", " ")
	require.NoError(t, err)
	return string(out)
}

// TestWatchTenSavesSameReport: on the embedded registry, ten saves give
// ten runs from the same registry: the same version promoted each time,
// reports that differ only in times (the ids are the same: each run
// starts from the same registry).
func TestWatchTenSavesSameReport(t *testing.T) {
	work, sc := trainedDir(t)
	out := filepath.Join(work, "wout")
	w := startWatch(t, "--out", out, "--debounce", "20ms", sc, "-p", "serve=off") // not --quiet: its summary lines are counted
	w.waitRuns(1)
	first := readRecord(t, out)
	require.Equal(t, record.OutcomeOK, first.Environment.Exit.Status, w.stderr.String())
	require.NotNil(t, first.Evidence.Promotion)
	require.Equal(t, "1", first.Evidence.Promotion.Version, "a fresh registry promotes version 1")
	want := normalized(t, first)
	for i := 2; i <= 11; i++ {
		save(t, sc)
		w.waitRuns(i)
		rec := readRecord(t, out)
		assert.Equal(t, "1", rec.Evidence.Promotion.Version, "save %d: the registry was put back, version 1 again", i-1)
		assert.False(t, rec.Environment.Start.Equal(first.Environment.Start), "save %d: a new run", i-1)
		assert.Equal(t, want, normalized(t, rec), "save %d: the report differs in more than times and ids", i-1)
	}
	assert.Equal(t, 11, strings.Count(w.stdout.String(), sc+": ok,"), w.stdout.String())

	// The registry is the last run's, and version 1 only.
	w.stop()
	<-w.code
	w.code <- 0
	srv, err := server.Open(t.Context(), server.Config{DataDir: filepath.Join(work, server.DefaultDataDir)})
	require.NoError(t, err)
	defer srv.Close()
	uri, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	mvs, err := c.SearchAllModelVersions(t.Context(), "name = 'ChurnPredictor'")
	require.NoError(t, err)
	assert.Len(t, mvs, 1, "ten saves, one version: each run started from the same registry")
}

// TestWatchRealMLflowDryRun: against a real MLflow and without --apply,
// several saves leave the registry as it was.
func TestWatchRealMLflowDryRun(t *testing.T) {
	uri := testenv.RealMLflow(t)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	stamp := time.Now().UnixNano()
	exp := fmt.Sprintf("watch-dry-%d", stamp)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("ChurnPredictor-watch-%d", stamp)}
	e.train(exp, 2, 5000, 3)
	// A first promotion, so that the registry has something to keep.
	code, stderr, _ := e.promote(exp)
	require.Equal(t, ExitOK, code, stderr)
	before := e.state(e.model)
	models := func() []string {
		page, err := c.SearchRegisteredModels(t.Context(), fmt.Sprintf("name LIKE 'ChurnPredictor-watch-%d%%'", stamp), 100, nil, "")
		require.NoError(t, err)
		var names []string
		for _, m := range page.RegisteredModels {
			names = append(names, m.Name)
		}
		return names
	}
	modelsBefore := models()

	dir := t.TempDir()
	sc := scenarioIn(t, dir, "churn-promotion.fr.md")
	out := filepath.Join(dir, "wout")
	// A better model to promote: the dry run would promote it.
	e.train(exp, 2, 5000, 2)
	w := startWatch(t, "--tracking-uri", uri, "--quiet", "--out", out, "--debounce", "20ms", sc,
		"-p", "experiment="+exp, "-p", "model_name="+e.model, "-p", "serve=off")
	assert.Contains(t, w.stderr.String(), "each run is a dry run against "+uri)
	for i := 1; i <= 3; i++ {
		if i > 1 {
			save(t, sc)
		}
		w.waitRuns(i)
		rec := readRecord(t, out)
		assert.True(t, rec.Environment.DryRun, "run %d", i)
		assert.Equal(t, before, e.state(e.model), "run %d: the registry changed", i)
		assert.Equal(t, modelsBefore, models(), "run %d", i)
		for _, call := range rec.Evidence.Calls {
			if call.Method != http.MethodGet && !strings.Contains(call.Endpoint, "/search") && !strings.HasSuffix(call.Endpoint, "/get") {
				assert.True(t, call.DryRun, "run %d: %s %s was sent", i, call.Method, call.Endpoint)
			}
		}
	}
}

// TestWatchApplyNamesTheRegistry: with --apply against a real MLflow,
// watch says that each save changes the registry.
func TestWatchApplyNamesTheRegistry(t *testing.T) {
	uri := testenv.RealMLflow(t)
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.md")
	require.NoError(t, os.WriteFile(sc, []byte("# S\n\n```go\nfmt.Println(\"hello\")\n```\n"), 0o644))
	w := startWatch(t, "--tracking-uri", uri, "--apply", "--quiet", sc)
	w.waitRuns(1)
	assert.Contains(t, w.stderr.String(), "--apply: each save runs the scenarios against "+uri+" and CHANGES ITS REGISTRY")
}

// TestWatchRefusesBadInput: the errors of watch's own flags are usage
// errors, before anything is served or run.
func TestWatchRefusesBadInput(t *testing.T) {
	noExternalBackend(t)
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"NotLoopback", []string{"--addr", "0.0.0.0:0", "x.md"}, "served on this machine only"},
		{"NoScenario", nil, "no scenario given"},
		{"NegativeDebounce", []string{"--debounce", "-1s", "x.md"}, "want a duration of 0 or more"},
		{"StepWithoutTerminal", []string{"--step", "x.md"}, "--step needs a terminal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, append([]string{"watch"}, tc.args...)...)
			assert.Equal(t, ExitUsage, code, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.NoDirExists(t, filepath.Join(dir, server.DefaultDataDir), "nothing ran")
		})
	}
}

// TestWatchDataDirOfItsOwn: watch puts the data directory back before
// each run, so one that holds files of the user's (--data-dir .) is
// refused, and they are left as they were.
func TestWatchDataDirOfItsOwn(t *testing.T) {
	noExternalBackend(t)
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.WriteFile("notes.txt", []byte("mine"), 0o644))
	require.NoError(t, os.WriteFile("s.md", []byte("# S\n\n```go\nfmt.Println(1)\n```\n"), 0o644))
	code, _, stderr := runCLI(t, "watch", "--data-dir", ".", "s.md")
	assert.Equal(t, ExitUsage, code, stderr)
	assert.Contains(t, stderr, "--data-dir .: copying it, to start each run from it: it holds notes.txt, which is not the embedded server's")
	b, err := os.ReadFile("notes.txt")
	require.NoError(t, err)
	assert.Equal(t, "mine", string(b))
	assert.NoFileExists(t, "mlflow.db")
}

// TestWatchLivePageBrowser: a browser on the live page sees it change as
// the scenario is edited on disk: a new sentence, then a cell that does
// not compile (shown failed at its line, scrolled to), then fixed again.
func TestWatchLivePageBrowser(t *testing.T) {
	chromium := testenv.Chromium(t)
	_, sc := trainedDir(t)
	w := startWatch(t, "--quiet", "--debounce", "20ms", sc, "-p", "serve=off")
	w.waitRuns(1)
	orig, err := os.ReadFile(sc)
	require.NoError(t, err)

	text := func(ctx context.Context, eval func(string) (string, error), want string, timeout time.Duration) (string, error) {
		deadline := time.Now().Add(timeout)
		for {
			got, err := eval("document.body.innerText")
			if err != nil {
				return "", err
			}
			if strings.Contains(got, want) {
				return got, nil
			}
			if time.Now().After(deadline) {
				return got, fmt.Errorf("the page does not show %q after %s", want, timeout)
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	edited := strings.Replace(string(orig), "\n## ", "\nUne phrase ajoutée pendant le cours.\n\n## ", 1)
	require.NotEqual(t, string(orig), edited)
	broken := strings.Replace(edited, "candidate := steps.Alias(", "candidate := steps.Alias(undefinedName, ", 1)
	require.NotEqual(t, edited, broken)
	var steps []string
	page, err := browser.Open(t.Context(), w.url, browser.Options{
		Binary: chromium, NoScreenshot: true, WaitText: []string{"ChurnPredictor version 1", "exécution 1 :"},
		Then: func(ctx context.Context, eval func(string) (string, error)) error {
			// 1. A new sentence in the prose.
			start := time.Now()
			if err := os.WriteFile(sc, []byte(edited), 0o644); err != nil {
				return err
			}
			if _, err := text(ctx, eval, "Une phrase ajoutée pendant le cours.", 30*time.Second); err != nil {
				return err
			}
			steps = append(steps, fmt.Sprintf("sentence shown %s after the save", time.Since(start).Round(time.Millisecond)))
			if _, err := text(ctx, eval, "exécution 2 :", 30*time.Second); err != nil {
				return err
			}
			// 2. A cell that does not compile: the cell shows the error
			// at its line, and the page scrolls to it.
			if err := os.WriteFile(sc, []byte(broken), 0o644); err != nil {
				return err
			}
			if _, err := text(ctx, eval, "undefinedName", 30*time.Second); err != nil {
				return err
			}
			failed, err := eval(`(function(){var a=document.querySelector("article.cell.failed"); if(!a) return "none"; var r=a.getBoundingClientRect(); return a.id+" "+(a.querySelector(".ln .err")?a.querySelector(".ln .err").textContent:"")+" "+(r.bottom>0&&r.top<window.innerHeight)})()`)
			if err != nil {
				return err
			}
			steps = append(steps, "failed: "+failed)
			// 3. Fixed again: the page is whole and passes.
			if err := os.WriteFile(sc, orig, 0o644); err != nil {
				return err
			}
			if _, err := text(ctx, eval, "exécution 4 :", 30*time.Second); err != nil {
				return err
			}
			_, err = text(ctx, eval, "ok, en", 30*time.Second)
			return err
		},
	})
	require.NoError(t, err, "stderr:\n%s", w.stderr.String())
	t.Log(strings.Join(steps, "\n"))
	require.Len(t, steps, 2)
	alias := lineOf(t, broken, "candidate := steps.Alias(")
	assert.Regexp(t, `^failed: cell-\d+-alias `+fmt.Sprint(alias)+` true$`, steps[1], "the alias cell failed at its line, in view")
	assert.NotContains(t, page.Text, "Une phrase ajoutée")
	assert.NotContains(t, page.Text, "undefinedName")
	assert.Empty(t, page.Errors, "no script or policy error on the live page")
	assert.Contains(t, w.stderr.String(), "undefinedName", "the terminal says it too")
}

// TestWatchPageSecurity: the live page carries a script allowed by a
// fresh nonce only, the files written to --out carry none, and a request
// for another host is refused.
func TestWatchPageSecurity(t *testing.T) {
	work, sc := trainedDir(t)
	out := filepath.Join(work, "wout")
	w := startWatch(t, "--quiet", "--out", out, sc, "-p", "serve=off")
	w.waitRuns(1)
	get := func(host string) (*http.Response, string) {
		req, err := http.NewRequest(http.MethodGet, w.url, nil)
		require.NoError(t, err)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp, b.String()
	}
	r1, p1 := get("")
	_, p2 := get("")
	require.Equal(t, http.StatusOK, r1.StatusCode)
	nonce := regexp.MustCompile(`<script nonce="([^"]+)">`)
	m1, m2 := nonce.FindStringSubmatch(p1), nonce.FindStringSubmatch(p2)
	require.NotNil(t, m1)
	require.NotNil(t, m2)
	assert.NotEqual(t, m1[1], m2[1], "a fresh nonce for each page")
	assert.Contains(t, r1.Header.Get("Content-Security-Policy"), "script-src 'nonce-"+m1[1]+"'")
	assert.Equal(t, 1, strings.Count(p1, "<script"), "one script, the live page's")

	written, err := os.ReadFile(filepath.Join(out, "index.html"))
	require.NoError(t, err)
	assert.NotContains(t, string(written), "<script")
	assert.NotContains(t, string(written), "live-status")

	r3, _ := get("evil.example:80")
	assert.Equal(t, http.StatusForbidden, r3.StatusCode)
}

// BenchmarkWatchSaveToPage: playbook watch on the French scenario and the
// embedded registry (the kernel process, as by default), a browser's
// events read over HTTP: the time from a save to the whole new page
// received (ns/op), and to the first cell's new article (first-cell-ms).
func BenchmarkWatchSaveToPage(b *testing.B) {
	_, sc := trainedDir(b)
	w := startWatch(b, "--quiet", "--debounce", "20ms", sc, "-p", "serve=off")
	w.waitRuns(1)
	resp, err := http.Get(w.url + "events")
	require.NoError(b, err)
	defer resp.Body.Close()
	events := make(chan string, 1024)
	go func() {
		defer close(events)
		r := bufio.NewReaderSize(resp.Body, 1<<20)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if ev, ok := strings.CutPrefix(line, "event: "); ok {
				events <- strings.TrimSpace(ev)
			}
		}
	}()
	next := func(want string) {
		for ev := range events {
			if ev == want {
				return
			}
		}
		b.Fatal("the events ended")
	}
	next("page") // the page sent on connecting
	var firstCell time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		save(b, sc)
		next("cell")
		firstCell += time.Since(start)
		next("page")
	}
	b.StopTimer()
	b.ReportMetric(float64(firstCell.Milliseconds())/float64(b.N), "first-cell-ms")
}
