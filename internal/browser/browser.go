package browser

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/playbook-mlops/playbook/internal/tailbuf"
)

// EnvChromium names the variable that, when set, gives the Chromium binary;
// "off" turns captures off (Find fails with ErrOff).
const EnvChromium = "PLAYBOOK_CHROMIUM"

// Defaults of Options.
const (
	DefaultWidth   = 1280
	DefaultHeight  = 900
	DefaultTimeout = 60 * time.Second
	// idle is how long the network must stay quiet for a page that loads
	// its content with scripts (the MLflow UI) to count as settled.
	idle      = 500 * time.Millisecond
	longLived = 2 * time.Second
)

// ErrNotFound is the error when no Chromium binary can be found.
var ErrNotFound = errors.New("browser: no Chromium found: install chromium or set " + EnvChromium)

// ErrOff is Find's error when PLAYBOOK_CHROMIUM=off.
var ErrOff = errors.New("browser: Chromium turned off by " + EnvChromium + "=off")

// ErrBlank is Screenshot's error when the page it captured is blank.
var ErrBlank = errors.New("browser: the screenshot is blank")

// Find returns the Chromium binary: $PLAYBOOK_CHROMIUM when set, else the
// first of chromium, chromium-browser, google-chrome and
// google-chrome-stable on PATH.
func Find() (string, error) {
	if p := os.Getenv(EnvChromium); p == "off" {
		return "", ErrOff
	} else if p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("browser: %s=%s: %w", EnvChromium, p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNotFound
}

// Options configure Open.
type Options struct {
	// Binary is Chromium's path; "" means Find.
	Binary string
	// Width and Height are the viewport and the screenshot's size in
	// pixels; 0 means DefaultWidth and DefaultHeight.
	Width, Height int
	// Offline cuts the network off: host names resolve to nothing, every
	// request goes to a proxy that is not there, and the page is emulated
	// offline. Only file: and data: URLs load.
	Offline bool
	// Settle is the longest Open waits, after the load event, for the
	// network to stay quiet for half a second: the time a page that
	// fetches its content with scripts needs to draw it. 0 waits for the
	// load event only.
	Settle time.Duration
	// WaitText lists texts the page must show before the screenshot: Open
	// polls the page's text until it holds them all, and fails when it
	// still does not at the deadline.
	WaitText []string
	// Timeout bounds the whole of Open; 0 means DefaultTimeout.
	Timeout time.Duration
	// NoScreenshot skips the screenshot.
	NoScreenshot bool
	// Username and Password, when Username is set, answer the HTTP basic
	// authentication challenges of url's origin (DevTools'
	// Fetch.authRequired): the password is on no command line and in no
	// URL. A challenge they do not meet is cancelled, not asked again.
	Username, Password string
	// Bearer, when set (and Username is not), is sent as
	// "Authorization: Bearer" with the requests to url's origin, and only
	// those (DevTools' Fetch domain): MLflow's MLFLOW_TRACKING_TOKEN.
	Bearer string
	// FullPage takes the screenshot of the whole page, Width wide and as
	// tall as the document, not only of the first screen. A page that
	// scrolls inside an element of its own (the MLflow UI's main pane)
	// rather than the document is shown whole too: the viewport is made
	// as tall as that element's content (at most MaxFullPageHeight).
	FullPage bool
	// Click lists CSS selectors of elements clicked, those present, once
	// the page shows WaitText (the button that closes a side panel).
	Click []string
	// CSS is a style sheet added to the page once it shows WaitText (after
	// Click): what the screenshot should not show, or show whole.
	CSS string
	// ColorScheme, "light" or "dark", emulates the reader's preference
	// (prefers-color-scheme); "" leaves Chromium's default (light).
	ColorScheme string
	// PDF asks for the page printed to PDF too, as the print style sheet
	// lays it out.
	PDF bool
	// Then, when set, is called once the page is shown as the options
	// ask, with eval, which evaluates a JavaScript expression in the page
	// and returns its value as a string: a test drives a live page with
	// it. Its error ends Open's.
	Then func(ctx context.Context, eval func(expr string) (string, error)) error
}

// Page is what Open saw.
type Page struct {
	URL   string
	Title string
	// Text is the page's visible text (document.body.innerText).
	Text string
	// PNG is the screenshot of the viewport.
	PNG []byte
	// PDF is the page printed, when Options.PDF asked for it.
	PDF []byte
	// Failed lists the requests that failed, each "URL: reason".
	Failed []string
	// Errors lists console errors, uncaught exceptions and error log
	// entries (a resource that failed to load, a Content-Security-Policy
	// violation), each as Chromium worded it.
	Errors []string
}

// Screenshot writes to outPNG a PNG screenshot of url, width × height
// pixels, taken once the page has loaded and its network has been quiet for
// half a second (at most 15 s after the load event), as a JavaScript page
// such as the MLflow UI needs. It fails with ErrBlank when the screenshot
// is a single colour.
func Screenshot(ctx context.Context, url, outPNG string, width, height int) error {
	p, err := Open(ctx, url, Options{Width: width, Height: height, Settle: 15 * time.Second})
	if err != nil {
		return err
	}
	if colors, _, err := Ink(p.PNG); err != nil {
		return err
	} else if colors < 2 {
		return ErrBlank
	}
	return os.WriteFile(outPNG, p.PNG, 0o644)
}

// The size of CaptureModelPage's screenshots: wide enough for the MLflow
// UI's versions table to show the aliases column. CaptureHeight is the
// first screen's; the screenshot is as tall as the page.
const (
	CaptureWidth  = 1440
	CaptureHeight = 900
)

// MaxFullPageHeight bounds the height, in pixels, of a FullPage
// screenshot of a page that scrolls inside an element of its own.
const MaxFullPageHeight = 12000

// MLflowUIClick and MLflowUICSS are what CaptureModelPage does to a page
// of the MLflow UI (3.x, as of 3.18) before the screenshot: close its
// assistant's side panel and fold its navigation bar (the buttons that
// do it, by their data-component-id), hide the assistant should it stay
// (its root carries data-assistant-ui), and let the tables that scroll
// inside a fixed height (a version's tags) show every row. Selectors a
// page does not have do nothing: the embedded server's registry page is
// left as it is.
var (
	MLflowUIClick = []string{
		`[data-component-id="mlflow.assistant.chat_panel.close"]`,
		`[data-component-id="mlflow_header.toggle_sidebar_button"]`,
	}
	MLflowUICSS = `[data-assistant-ui] { display: none !important; }
[class*="-table-body"] { max-height: none !important; overflow-y: visible !important; }`
)

// CaptureModelPage returns a PNG screenshot, CaptureWidth wide and as
// tall as the page, of a page of the MLflow UI: a registered model's at
// url (the tracking server's address + "/#/models/" + the model's name),
// or one of its versions' (+ "/versions/N"), taken once the page shows
// the model's name and each of want (its aliases, a tag's name), with
// MLflow's side panels closed (MLflowUIClick, MLflowUICSS). It fails with
// ErrNotFound or ErrOff when there is no Chromium to run, with ErrBlank
// when the page drew nothing, and with an error naming what the page does
// not show when it does not show it within a minute.
// MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, when set, answer
// the server's basic authentication (Options.Username); otherwise
// MLFLOW_TRACKING_TOKEN, when set, goes to the server as
// "Authorization: Bearer" (Options.Bearer).
func CaptureModelPage(ctx context.Context, url, model string, want []string) ([]byte, error) {
	opts := Options{Width: CaptureWidth, Height: CaptureHeight, Settle: 15 * time.Second, FullPage: true,
		Username: os.Getenv("MLFLOW_TRACKING_USERNAME"), Password: os.Getenv("MLFLOW_TRACKING_PASSWORD"),
		Click: MLflowUIClick, CSS: MLflowUICSS,
		WaitText: append([]string{model}, want...)}
	if opts.Username == "" {
		opts.Bearer = os.Getenv("MLFLOW_TRACKING_TOKEN")
	}
	p, err := Open(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	if colors, _, err := Ink(p.PNG); err != nil {
		return nil, err
	} else if colors < 2 {
		return nil, ErrBlank
	}
	return p.PNG, nil
}

// Open starts a headless Chromium with a fresh profile, opens url, waits as
// opts says, and returns what it saw. Chromium is gone when Open returns.
func Open(ctx context.Context, url string, opts Options) (*Page, error) {
	if opts.Width <= 0 {
		opts.Width = DefaultWidth
	}
	if opts.Height <= 0 {
		opts.Height = DefaultHeight
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Binary == "" {
		bin, err := Find()
		if err != nil {
			return nil, err
		}
		opts.Binary = bin
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	b, err := launch(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer b.close()
	p, err := b.open(ctx, url, opts)
	if err != nil {
		return nil, b.explain(fmt.Errorf("browser: %s: %w", url, err))
	}
	return p, nil
}

// Ink decodes a PNG and returns its number of distinct colours and the
// fraction of its pixels that differ from its most common colour (the
// background): 1 and 0 for a blank image.
func Ink(data []byte) (colors int, ink float64, err error) {
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return 0, 0, fmt.Errorf("browser: decoding the screenshot: %w", err)
	}
	counts := map[color.RGBA]int{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			counts[rgba(img, x, y)]++
		}
	}
	top, total := 0, r.Dx()*r.Dy()
	for _, n := range counts {
		top = max(top, n)
	}
	if total == 0 {
		return 0, 0, nil
	}
	return len(counts), float64(total-top) / float64(total), nil
}

func rgba(img image.Image, x, y int) color.RGBA {
	r, g, b, a := img.At(x, y).RGBA()
	return color.RGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: uint8(a >> 8)}
}

// chromium is one running Chromium and its DevTools connection.
type chromium struct {
	cmd     *exec.Cmd
	conn    *conn
	profile string
	stderr  *tailbuf.Buffer
	exited  chan struct{}

	mu     sync.Mutex
	reaped bool
}

func launch(ctx context.Context, opts Options) (*chromium, error) {
	profile, err := os.MkdirTemp("", "playbook-chromium-")
	if err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	}
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--no-first-run", "--no-default-browser-check",
		"--disable-breakpad", "--disable-crash-reporter",
		"--hide-scrollbars", "--mute-audio", "--force-color-profile=srgb",
		"--user-data-dir=" + profile,
		"--window-size=" + strconv.Itoa(opts.Width) + "," + strconv.Itoa(opts.Height),
		"--remote-debugging-pipe",
	}
	if opts.Offline {
		args = append(args, "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")
	}
	args = append(args, "about:blank")

	// Chromium reads commands from its fd 3 and writes replies to fd 4.
	inR, inW, err := os.Pipe()
	if err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("browser: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		os.RemoveAll(profile)
		return nil, fmt.Errorf("browser: %w", err)
	}
	cmd := exec.Command(opts.Binary, args...)
	cmd.ExtraFiles = []*os.File{inR, outW}
	st := &tailbuf.Buffer{Max: 8 << 10}
	cmd.Stdout, cmd.Stderr = st, st
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		for _, f := range []*os.File{inR, inW, outR, outW} {
			f.Close()
		}
		os.RemoveAll(profile)
		return nil, fmt.Errorf("browser: starting %s: %w", opts.Binary, err)
	}
	inR.Close()
	outW.Close()
	b := &chromium{cmd: cmd, profile: profile, stderr: st, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		b.mu.Lock()
		killGroup(cmd) // the helpers Chromium may have left behind
		b.reaped = true
		b.mu.Unlock()
		close(b.exited)
	}()
	b.conn = newConn(inW, outR)
	go func() {
		select {
		case <-ctx.Done():
			b.kill()
		case <-b.exited:
		}
	}()
	return b, nil
}

// kill kills Chromium's process group, unless Chromium was already reaped
// (its process group id may then be another's).
func (b *chromium) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.reaped {
		killGroup(b.cmd)
	}
}

// close asks Chromium to quit, kills what is left of it, and removes its
// profile.
func (b *chromium) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = b.conn.call(ctx, "", "Browser.close", nil, nil)
	select {
	case <-b.exited:
	case <-ctx.Done():
		b.kill()
	}
	<-b.exited
	b.conn.close()
	os.RemoveAll(b.profile)
}

// explain adds what Chromium printed to an error when Chromium died.
func (b *chromium) explain(err error) error {
	select {
	case <-b.exited:
		return fmt.Errorf("%w (chromium exited: %s)", err, strings.TrimSpace(b.stderr.String()))
	default:
		return err
	}
}

// page collects a page's events.
type page struct {
	mu       sync.Mutex
	loaded   chan struct{}
	isLoaded bool
	urls     map[string]string    // request id → URL
	inflight map[string]time.Time // request id → when it started
	last     time.Time            // of the last network event
	failed   []string
	errors   []string
}

func (p *page) event(method string, params map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch method {
	case "Page.loadEventFired":
		if !p.isLoaded {
			p.isLoaded = true
			close(p.loaded)
		}
	case "Network.requestWillBeSent":
		id := str(params, "requestId")
		p.urls[id] = str(params, "request", "url")
		if _, ok := p.inflight[id]; !ok { // a redirect keeps its id
			p.inflight[id] = time.Now()
		}
		p.last = time.Now()
	case "Network.loadingFinished":
		delete(p.inflight, str(params, "requestId"))
		p.last = time.Now()
	case "Network.loadingFailed":
		id := str(params, "requestId")
		delete(p.inflight, id)
		p.last = time.Now()
		why := str(params, "errorText")
		if r := str(params, "blockedReason"); r != "" {
			why += " (blocked: " + r + ")"
		}
		p.failed = append(p.failed, p.urls[id]+": "+why)
	case "Runtime.consoleAPICalled":
		if t := str(params, "type"); t == "error" || t == "assert" {
			var parts []string
			if args, ok := params["args"].([]any); ok {
				for _, a := range args {
					if m, ok := a.(map[string]any); ok {
						if v, ok := m["value"]; ok {
							parts = append(parts, fmt.Sprint(v))
						} else {
							parts = append(parts, str(m, "description"))
						}
					}
				}
			}
			p.errors = append(p.errors, "console."+t+": "+strings.Join(parts, " "))
		}
	case "Runtime.exceptionThrown":
		msg := str(params, "exceptionDetails", "text")
		if d := str(params, "exceptionDetails", "exception", "description"); d != "" {
			msg += " " + d
		}
		p.errors = append(p.errors, "exception: "+msg)
	case "Log.entryAdded":
		if str(params, "entry", "level") == "error" {
			msg := str(params, "entry", "source") + ": " + str(params, "entry", "text")
			if u := str(params, "entry", "url"); u != "" {
				msg += " (" + u + ")"
			}
			p.errors = append(p.errors, msg)
		}
	}
}

// quiet reports whether no request started or ended for d, and none is in
// flight but long-lived ones (a worker's script, a long poll: started more
// than longLived ago), which never end.
func (p *page) quiet(d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.last) < d {
		return false
	}
	for _, start := range p.inflight {
		if time.Since(start) < longLived {
			return false
		}
	}
	return true
}

func (b *chromium) open(ctx context.Context, url string, opts Options) (*Page, error) {
	c := b.conn
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		return nil, err
	}
	s := attached.SessionID
	pg := &page{loaded: make(chan struct{}), urls: map[string]string{}, inflight: map[string]time.Time{}, last: time.Now()}
	handle := pg.event
	fetch := opts.Username != "" || opts.Bearer != ""
	if fetch {
		handle = authHandler(c, s, url, opts, pg.event)
	}
	c.subscribe(s, handle)

	setup := []struct {
		method string
		params map[string]any
	}{
		{"Page.enable", nil},
		{"Network.enable", nil},
		{"Runtime.enable", nil},
		{"Log.enable", nil},
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": opts.Width, "height": opts.Height, "deviceScaleFactor": 1, "mobile": false}},
	}
	if opts.ColorScheme != "" {
		setup = append(setup, struct {
			method string
			params map[string]any
		}{"Emulation.setEmulatedMedia", map[string]any{"features": []map[string]string{{"name": "prefers-color-scheme", "value": opts.ColorScheme}}}})
	}
	if opts.Offline {
		setup = append(setup, struct {
			method string
			params map[string]any
		}{"Network.emulateNetworkConditions", map[string]any{"offline": true, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}})
	}
	if fetch {
		setup = append(setup, struct {
			method string
			params map[string]any
		}{"Fetch.enable", map[string]any{"handleAuthRequests": true, "patterns": []map[string]string{{"urlPattern": "*"}}}})
	}
	for _, st := range setup {
		if err := c.call(ctx, s, st.method, st.params, nil); err != nil {
			return nil, err
		}
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := c.call(ctx, s, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return nil, err
	}
	if nav.ErrorText != "" {
		return nil, errors.New(nav.ErrorText)
	}
	select {
	case <-pg.loaded:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the page to load: %w", context.Cause(ctx))
	}
	// The texts the page must show, then the network quiet: a script may
	// still be drawing what it fetched.
	text, err := evaluate(ctx, c, s, "document.body ? document.body.innerText : ''")
	if err != nil {
		return nil, err
	}
	settle := opts.Settle
	if len(opts.WaitText) > 0 {
		for missing := absent(text, opts.WaitText); len(missing) > 0; missing = absent(text, opts.WaitText) {
			if err := sleep(ctx, 250*time.Millisecond); err != nil {
				return nil, fmt.Errorf("the page does not show %q: %w", missing, err)
			}
			if text, err = evaluate(ctx, c, s, "document.body ? document.body.innerText : ''"); err != nil {
				return nil, fmt.Errorf("the page does not show %q: %w", missing, err)
			}
		}
		settle = min(settle, 3*time.Second)
	}
	if len(opts.Click) > 0 || opts.CSS != "" {
		if _, err := evaluate(ctx, c, s, prepareJS(opts.Click, opts.CSS)); err != nil {
			return nil, err
		}
		// What the clicks changed is drawn in the next frames.
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if settle > 0 {
		deadline := time.Now().Add(settle)
		for !pg.quiet(idle) && time.Now().Before(deadline) {
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return nil, fmt.Errorf("waiting for the page to settle: %w", err)
			}
		}
		if text, err = evaluate(ctx, c, s, "document.body ? document.body.innerText : ''"); err != nil {
			return nil, err
		}
	}
	if opts.Then != nil {
		if err := opts.Then(ctx, func(expr string) (string, error) { return evaluate(ctx, c, s, expr) }); err != nil {
			return nil, err
		}
		if text, err = evaluate(ctx, c, s, "document.body ? document.body.innerText : ''"); err != nil {
			return nil, err
		}
	}
	title, err := evaluate(ctx, c, s, "document.title")
	if err != nil {
		return nil, err
	}
	p := &Page{URL: url, Title: title, Text: text}
	if !opts.NoScreenshot {
		var shot struct {
			Data string `json:"data"`
		}
		params := map[string]any{"format": "png"}
		if opts.FullPage {
			height, err := unroll(ctx, c, s, opts)
			if err != nil {
				return nil, err
			}
			var m struct {
				Content struct{ Width, Height float64 } `json:"cssContentSize"`
			}
			if err := c.call(ctx, s, "Page.getLayoutMetrics", nil, &m); err != nil {
				return nil, err
			}
			if h := max(math.Ceil(m.Content.Height), float64(height)); h > float64(opts.Height) {
				params["captureBeyondViewport"] = true
				params["clip"] = map[string]any{"x": 0, "y": 0, "width": opts.Width, "height": h, "scale": 1}
			}
		}
		if err := c.call(ctx, s, "Page.captureScreenshot", params, &shot); err != nil {
			return nil, err
		}
		if p.PNG, err = base64.StdEncoding.DecodeString(shot.Data); err != nil {
			return nil, fmt.Errorf("decoding the screenshot: %w", err)
		}
	}
	if opts.PDF {
		var pdf struct {
			Data string `json:"data"`
		}
		if err := c.call(ctx, s, "Page.printToPDF", map[string]any{"printBackground": true, "preferCSSPageSize": true}, &pdf); err != nil {
			return nil, err
		}
		if p.PDF, err = base64.StdEncoding.DecodeString(pdf.Data); err != nil {
			return nil, fmt.Errorf("decoding the PDF: %w", err)
		}
	}
	pg.mu.Lock()
	p.Failed, p.Errors = slices.Clone(pg.failed), slices.Clone(pg.errors)
	pg.mu.Unlock()
	return p, nil
}

// authHandler passes a session's events to next, and answers its paused
// requests and its authentication challenges. A paused request is
// continued as it is, or, with opts.Bearer, to pageURL's origin only,
// with the bearer token added. A challenge is answered with
// opts.Username and opts.Password when it comes from pageURL's origin
// and the request was not already answered, else cancelled. The answers
// go from goroutines: events come on the connection's reader.
func authHandler(c *conn, session, pageURL string, opts Options, next func(string, map[string]any)) func(string, map[string]any) {
	origin := originOf(pageURL)
	username, password := opts.Username, opts.Password
	var mu sync.Mutex
	answered := map[string]bool{}
	return func(method string, params map[string]any) {
		id := str(params, "requestId")
		switch method {
		case "Fetch.requestPaused":
			cont := map[string]any{"requestId": id}
			if opts.Bearer != "" && username == "" && originOf(str(params, "request", "url")) == origin {
				cont["headers"] = withBearer(params, opts.Bearer)
			}
			go func() {
				_ = c.call(context.Background(), session, "Fetch.continueRequest", cont, nil)
			}()
			return
		case "Fetch.authRequired":
			mu.Lock()
			again := answered[id]
			answered[id] = true
			mu.Unlock()
			resp := map[string]any{"response": "CancelAuth"}
			if ch, _ := params["authChallenge"].(map[string]any); !again && ch != nil && originOf(str(ch, "origin")) == origin && str(ch, "source") != "Proxy" {
				resp = map[string]any{"response": "ProvideCredentials", "username": username, "password": password}
			}
			go func() {
				_ = c.call(context.Background(), session, "Fetch.continueWithAuth", map[string]any{"requestId": id, "authChallengeResponse": resp}, nil)
			}()
			return
		}
		next(method, params)
	}
}

// originOf returns scheme://host of a URL, "" when it has none.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// withBearer returns the headers of a paused request (Fetch.requestPaused's
// params) with its Authorization replaced by the bearer token, as
// Fetch.continueRequest takes them.
func withBearer(params map[string]any, token string) []map[string]string {
	out := []map[string]string{{"name": "Authorization", "value": "Bearer " + token}}
	req, _ := params["request"].(map[string]any)
	headers, _ := req["headers"].(map[string]any)
	for k, v := range headers {
		if s, ok := v.(string); ok && !strings.EqualFold(k, "Authorization") {
			out = append(out, map[string]string{"name": k, "value": s})
		}
	}
	return out
}

// prepareJS is the script that clicks the elements of selectors the page
// has and adds the style sheet css.
func prepareJS(selectors []string, css string) string {
	sel, _ := json.Marshal(selectors)
	sheet, _ := json.Marshal(css)
	return `(() => {
  for (const s of ` + string(sel) + `) { const e = document.querySelector(s); if (e) e.click(); }
  const css = ` + string(sheet) + `;
  if (css) { const st = document.createElement('style'); st.textContent = css; document.head.appendChild(st); }
  return '';
})()`
}

// scrollExtraJS measures, in CSS pixels, how much taller than their box
// the page's scrolling elements' content is (the most of them): what
// the viewport lacks to show a page that scrolls inside an element.
const scrollExtraJS = `(() => {
  let extra = 0;
  for (const e of document.querySelectorAll('body *')) {
    if (e.clientHeight <= 0 || e.scrollHeight <= e.clientHeight) continue;
    const o = getComputedStyle(e).overflowY;
    if (o === 'auto' || o === 'scroll') extra = Math.max(extra, e.scrollHeight - e.clientHeight);
  }
  return String(Math.ceil(extra));
})()`

// unroll makes the viewport tall enough for the page's scrolling
// elements to show their whole content, at most MaxFullPageHeight, and
// returns its height. A page that grows as it is made taller (a list
// drawn as it comes into view) is measured again, three times at most.
func unroll(ctx context.Context, c *conn, session string, opts Options) (int, error) {
	height := opts.Height
	for range 3 {
		s, err := evaluate(ctx, c, session, scrollExtraJS)
		if err != nil {
			return 0, err
		}
		extra, _ := strconv.Atoi(s)
		if extra <= 1 || height >= MaxFullPageHeight {
			break
		}
		height = min(height+extra, MaxFullPageHeight)
		if err := c.call(ctx, session, "Emulation.setDeviceMetricsOverride", map[string]any{"width": opts.Width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
			return 0, err
		}
		if err := sleep(ctx, 300*time.Millisecond); err != nil {
			return 0, err
		}
	}
	return height, nil
}

// absent returns the texts of want that text does not hold.
func absent(text string, want []string) []string {
	var out []string
	for _, w := range want {
		if !strings.Contains(text, w) {
			out = append(out, w)
		}
	}
	return out
}

func evaluate(ctx context.Context, c *conn, session, expr string) (string, error) {
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := c.call(ctx, session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return "", err
	}
	if res.ExceptionDetails != nil {
		return "", fmt.Errorf("evaluating %s: %s", expr, res.ExceptionDetails.Text)
	}
	s, _ := res.Result.Value.(string)
	return s, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// str digs a string out of decoded JSON: str(m, "a", "b") is m.a.b.
func str(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[k]
	}
	s, _ := v.(string)
	return s
}

// FileURL returns the file: URL of a local path.
func FileURL(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs)}).String(), nil
}
