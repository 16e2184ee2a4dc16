package browser_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
)

func writePage(t *testing.T, html string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "page #1.html") // a space and a # to escape
	require.NoError(t, os.WriteFile(p, []byte(html), 0o644))
	u, err := browser.FileURL(p)
	require.NoError(t, err)
	return u
}

// A clean self-contained page loads offline with nothing failed and nothing
// logged, and its text and a non-blank screenshot come back.
func TestOpenOfflineClean(t *testing.T) {
	bin := testenv.Chromium(t)
	u := writePage(t, `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,"><title>Clean</title>
<style>body{background:#fff;color:#000;font:16px sans-serif} .b{background:#c00;width:200px;height:100px}</style></head>
<body><h1>Hello, offline</h1><div class="b"></div>
<img alt="dot" src="data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHdpZHRoPSIxMCIgaGVpZ2h0PSIxMCI+PHJlY3Qgd2lkdGg9IjEwIiBoZWlnaHQ9IjEwIi8+PC9zdmc+">
</body></html>`)
	p, err := browser.Open(t.Context(), u, browser.Options{Binary: bin, Offline: true, Width: 640, Height: 480})
	require.NoError(t, err)
	assert.Empty(t, p.Failed)
	assert.Empty(t, p.Errors)
	assert.Equal(t, "Clean", p.Title)
	assert.Contains(t, p.Text, "Hello, offline")
	colors, ink, err := browser.Ink(p.PNG)
	require.NoError(t, err)
	assert.Greater(t, colors, 2)
	assert.Greater(t, ink, 0.02, "the red block and the heading cover more than 2%% of the page")
	img, err := png.Decode(bytes.NewReader(p.PNG))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 640, 480), img.Bounds())
}

// The negative control: a page that fetches from the network, breaks its
// own Content-Security-Policy and logs errors is caught on every count, so
// a clean result above means something.
func TestOpenOfflineReportsFailures(t *testing.T) {
	bin := testenv.Chromium(t)
	u := writePage(t, `<!doctype html><html><head><meta charset="utf-8"><title>Dirty</title>
<link rel="stylesheet" href="https://fonts.example.com/font.css"></head>
<body><p>dirty</p><img src="http://example.com/pixel.png">
<script>console.error("boom"); throw new Error("uncaught");</script></body></html>`)
	p, err := browser.Open(t.Context(), u, browser.Options{Binary: bin, Offline: true, NoScreenshot: true})
	require.NoError(t, err)
	failed := strings.Join(p.Failed, "\n")
	assert.Contains(t, failed, "http://example.com/pixel.png")
	assert.Contains(t, failed, "https://fonts.example.com/font.css")
	errs := strings.Join(p.Errors, "\n")
	assert.Contains(t, errs, "console.error: boom")
	assert.Contains(t, errs, "uncaught")
	assert.Nil(t, p.PNG)

	// With the CSP of the report, the same fetches are refused by the
	// page itself, and reported too.
	u = writePage(t, `<!doctype html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>CSP</title></head><body><img src="http://example.com/pixel.png"><script>alert(1)</script></body></html>`)
	p, err = browser.Open(t.Context(), u, browser.Options{Binary: bin, Offline: true, NoScreenshot: true})
	require.NoError(t, err)
	assert.NotEmpty(t, p.Errors, "CSP violations are logged as errors")
}

func TestOpenMissingFile(t *testing.T) {
	bin := testenv.Chromium(t)
	u, err := browser.FileURL(filepath.Join(t.TempDir(), "absent.html"))
	require.NoError(t, err)
	_, err = browser.Open(t.Context(), u, browser.Options{Binary: bin, Offline: true})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ERR_FILE_NOT_FOUND")
}

func TestOpenWaitTextTimesOut(t *testing.T) {
	bin := testenv.Chromium(t)
	u := writePage(t, `<!doctype html><title>x</title><p>present</p>`)
	start := time.Now()
	_, err := browser.Open(t.Context(), u, browser.Options{Binary: bin, Offline: true, WaitText: []string{"present", "never shown"}, Timeout: 8 * time.Second})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"never shown"`)
	assert.NotContains(t, err.Error(), `"present"`)
	assert.Less(t, time.Since(start), 20*time.Second)
}

func TestInk(t *testing.T) {
	encode := func(img image.Image) []byte {
		var b bytes.Buffer
		require.NoError(t, png.Encode(&b, img))
		return b.Bytes()
	}
	blank := image.NewRGBA(image.Rect(0, 0, 10, 10))
	for i := range blank.Pix {
		blank.Pix[i] = 255
	}
	colors, ink, err := browser.Ink(encode(blank))
	require.NoError(t, err)
	assert.Equal(t, 1, colors)
	assert.Zero(t, ink)

	blank.Set(1, 1, color.RGBA{A: 255})
	blank.Set(2, 2, color.RGBA{R: 255, A: 255})
	colors, ink, err = browser.Ink(encode(blank))
	require.NoError(t, err)
	assert.Equal(t, 3, colors)
	assert.InDelta(t, 0.02, ink, 1e-9)

	_, _, err = browser.Ink([]byte("not a png"))
	assert.Error(t, err)
}

func TestFind(t *testing.T) {
	t.Setenv(browser.EnvChromium, filepath.Join(t.TempDir(), "no-such-chromium"))
	_, err := browser.Find()
	assert.Error(t, err)
	t.Setenv(browser.EnvChromium, "off")
	_, err = browser.Find()
	assert.ErrorIs(t, err, browser.ErrOff)
	_, err = browser.CaptureModelPage(t.Context(), "http://127.0.0.1:9/#/models/M", "M", nil)
	assert.ErrorIs(t, err, browser.ErrOff)
}

// The screenshot the verify step takes: the MLflow UI's page of a model,
// drawn by the UI's JavaScript, with the aliases on it.
func TestScreenshotMLflowModelPage(t *testing.T) {
	bin := testenv.Chromium(t)
	uri := testenv.RealMLflow(t)
	t.Setenv(browser.EnvChromium, bin)
	c, err := mlflow.New(mlflow.Config{TrackingURI: uri})
	require.NoError(t, err)
	ctx := t.Context()
	name := fmt.Sprintf("BrowserCapture-%d", time.Now().UnixNano())
	_, err = c.CreateRegisteredModel(ctx, name, nil, "")
	require.NoError(t, err)
	exp, err := c.GetOrCreateExperiment(ctx, "browser-capture")
	require.NoError(t, err)
	run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: name})
	require.NoError(t, err)
	v, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: name, RunID: run.Info.RunID, Source: run.Info.ArtifactURI + "/model"})
	require.NoError(t, err)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "production-live", v.Version))
	require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "staging-candidate", v.Version))

	url := strings.TrimRight(uri, "/") + "/#/models/" + name
	shot, err := browser.CaptureModelPage(ctx, url, name, []string{"production-live", "staging-candidate"})
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(t, err)
	assert.Equal(t, browser.CaptureWidth, img.Bounds().Dx())
	assert.GreaterOrEqual(t, img.Bounds().Dy(), browser.CaptureHeight, "the first screen at least: the whole page")
	colors, ink, err := browser.Ink(shot)
	require.NoError(t, err)
	assert.Greater(t, colors, 16, "a drawn page, not a blank one")
	assert.Greater(t, ink, 0.05)

	short, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	_, err = browser.CaptureModelPage(short, url, name, []string{"no-such-alias"})
	require.Error(t, err, "an alias the page does not show")
	assert.Contains(t, err.Error(), "no-such-alias")

	out := filepath.Join(t.TempDir(), "model.png")
	require.NoError(t, browser.Screenshot(ctx, url, out, 1280, 900))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	colors, _, err = browser.Ink(b)
	require.NoError(t, err)
	assert.Greater(t, colors, 16)
}

// FullPage screenshots the whole of a page taller than the viewport.
func TestOpenFullPage(t *testing.T) {
	bin := testenv.Chromium(t)
	u := writePage(t, `<!doctype html><html><head><meta charset="utf-8"><title>Tall</title>
<style>body{margin:0} .b{background:#c00;width:200px;height:1500px}</style></head>
<body><div class="b"></div><p>bottom</p></body></html>`)
	p, err := browser.Open(t.Context(), u, browser.Options{Binary: bin, Offline: true, Width: 640, Height: 480, FullPage: true})
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(p.PNG))
	require.NoError(t, err)
	assert.Equal(t, 640, img.Bounds().Dx())
	assert.Greater(t, img.Bounds().Dy(), 1500, "the whole page, not the first screen")
}

// Username and Password answer a loopback server's basic authentication
// challenge; wrong ones fail once, without a loop of challenges.
func TestOpenBasicAuth(t *testing.T) {
	bin := testenv.Chromium(t)
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="mlflow"`)
			http.Error(w, "401", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, "<!doctype html><title>In</title><p>welcome admin</p>")
	}))
	defer srv.Close()
	p, err := browser.Open(t.Context(), srv.URL+"/", browser.Options{Binary: bin, Username: "admin", Password: "s3cret", WaitText: []string{"welcome admin"}, Timeout: 30 * time.Second})
	require.NoError(t, err)
	assert.Contains(t, p.Text, "welcome admin")

	asked.Store(0)
	p, err = browser.Open(t.Context(), srv.URL+"/", browser.Options{Binary: bin, Username: "admin", Password: "wrong", Timeout: 30 * time.Second})
	if err == nil {
		assert.NotContains(t, p.Text, "welcome admin")
	}
	assert.Less(t, asked.Load(), int32(5), "a wrong password is not sent again and again")
}

// A page that scrolls inside an element of its own (as the MLflow UI's
// <main>) is taken whole by FullPage; Click closes a side panel and CSS
// hides what it names, before the screenshot (MLflowUIClick and
// MLflowUICSS on a page shaped like the MLflow UI 3.18's).
func TestOpenFullPageInnerScrollAndPanels(t *testing.T) {
	bin := testenv.Chromium(t)
	u := writePage(t, `<!doctype html><html><head><meta charset="utf-8"><title>UI</title>
<style>html,body{margin:0;height:100%} #root{display:flex;height:100vh}
main{flex:1;overflow-y:auto} .tall{background:#06c;height:2500px}
.du-bois-light-table-body{max-height:50px;overflow-y:scroll} .row{height:40px}
#assistant{width:300px;background:#eee} aside{width:150px;background:#ddd}</style></head>
<body><div id="root"><aside><button data-component-id="mlflow_header.toggle_sidebar_button" onclick="document.querySelector('aside').style.width='40px'">nav</button></aside>
<main><p>ChurnPredictor</p><div class="du-bois-light-table-body"><div class="row">archived</div><div class="row">a</div><div class="row">b</div><div class="row">c</div></div><div class="tall"></div><p>bottom</p></main>
<div id="assistant" data-assistant-ui="true"><button data-component-id="mlflow.assistant.chat_panel.close" onclick="window.panelClosed=1">x</button>Assistant</div>
</div></body></html>`)
	var seen string
	p, err := browser.Open(t.Context(), u, browser.Options{Binary: bin, Offline: true, Width: 800, Height: 600, FullPage: true,
		WaitText: []string{"ChurnPredictor"}, Click: browser.MLflowUIClick, CSS: browser.MLflowUICSS,
		Then: func(_ context.Context, eval func(string) (string, error)) error {
			var err error
			seen, err = eval(`[String(window.panelClosed), getComputedStyle(document.getElementById('assistant')).display,
				document.querySelector('aside').style.width, String(document.querySelector('.du-bois-light-table-body').clientHeight)].join(' ')`)
			return err
		}})
	require.NoError(t, err)
	assert.Equal(t, "1 none 40px 160", seen, "the panel's close clicked and the panel hidden, the navigation folded, every row of the table shown")
	img, err := png.Decode(bytes.NewReader(p.PNG))
	require.NoError(t, err)
	assert.Equal(t, 800, img.Bounds().Dx())
	assert.Greater(t, img.Bounds().Dy(), 2500, "the whole of <main>, not its first screen")
}

// Bearer goes as "Authorization: Bearer" to the page's origin only, never
// to another origin the page loads from.
func TestOpenBearer(t *testing.T) {
	bin := testenv.Chromium(t)
	var otherAuth atomic.Value
	otherAuth.Store("")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherAuth.Store(r.Header.Get("Authorization") + "|asked")
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = io.WriteString(w, `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>`)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			http.Error(w, "401", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `<!doctype html><title>In</title><p>welcome bearer</p><img src="`+other.URL+`/x.svg">`)
	}))
	defer srv.Close()
	p, err := browser.Open(t.Context(), srv.URL+"/", browser.Options{Binary: bin, Bearer: "tok-123", WaitText: []string{"welcome bearer"}, Settle: 5 * time.Second, Timeout: 30 * time.Second})
	require.NoError(t, err)
	assert.Contains(t, p.Text, "welcome bearer")
	assert.Equal(t, "|asked", otherAuth.Load(), "the other origin was asked, without the token")
}
