package regproxy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/playbook-mlops/playbook/internal/regsnap"
	"github.com/playbook-mlops/playbook/internal/textcut"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// DefaultMaxBody bounds a request body by default (Options.MaxBody and
// Options.MaxUpload).
const DefaultMaxBody = 64 << 20

// Outcomes of calls the proxy did not send, in record.Call.Outcome, besides
// "ok" and the server's errors.
const (
	OutcomeOK      = "ok"
	OutcomeNotSent = "not sent (dry run)" // as package steps records it
	// OutcomeMayHaveApplied starts the outcome of a change sent to the
	// server that got no reply: the server may have applied it.
	OutcomeMayHaveApplied = "no reply, may have been applied: "
)

// Options configure a Proxy.
type Options struct {
	// Target is the parent's client: where calls are forwarded, with its
	// credentials and TLS settings. It also reads the snapshots.
	Target *mlflow.Client
	// Connect, when Target is nil, returns it on first need (the
	// embedded server, started only when a cell calls MLflow): once.
	Connect func() (*mlflow.Client, error)
	// DryRun records mutating calls without forwarding them (see the
	// package documentation).
	DryRun bool
	// Step returns the current cell's step name, for the records; nil
	// leaves Step empty. It is called from the proxy's request goroutines:
	// it must be safe for concurrent use.
	Step func() string
	// CellTokens attributes each call to the cell whose code made it, by
	// the token in its CellHeader (BeginCell, EndCell), instead of Step:
	// a call made with the token of a cell that ended, or an unknown
	// token, is refused (403), and a change made with no token too; a
	// refused change is recorded, with the step of the cell that made it
	// when its token says.
	CellTokens bool
	// MaxBody bounds the JSON body of an API call, read whole before it is
	// forwarded; MaxUpload bounds an artifact upload, streamed. Zero means
	// DefaultMaxBody.
	MaxBody   int64
	MaxUpload int64
}

// Proxy forwards the kernel's MLflow calls to Options.Target. It is safe
// for concurrent use.
type Proxy struct {
	opts   Options
	token  string
	prefix string // "/k/<token>"
	ln     net.Listener
	srv    *http.Server
	served sync.WaitGroup
	extra  *http.ServeMux
	inCell map[string]bool // the patterns of extra served only for a running cell (HandleInCell)

	connectOnce sync.Once
	target      *mlflow.Client // Options.Target, or Connect's
	targetErr   error

	cells cells

	mu     sync.Mutex
	calls  []*record.Call // in arrival order; nil until finished
	models []*touched     // in order of first touch
	byName map[string]*touched
}

// touched is a registered model some mutating call named.
type touched struct {
	name  string
	mu    sync.Mutex // held while the "before" snapshot is read
	taken bool
	snap  record.Snapshot
}

// connect returns the client calls are forwarded to: Options.Target, or
// Connect's, asked once.
func (p *Proxy) connect() (*mlflow.Client, error) {
	p.connectOnce.Do(func() {
		p.target = p.opts.Target
		if p.target == nil {
			p.target, p.targetErr = p.opts.Connect()
			if p.target == nil && p.targetErr == nil {
				p.targetErr = errors.New("no tracking server")
			}
		}
	})
	return p.target, p.targetErr
}

// client is connect's client, nil when there is none.
func (p *Proxy) client() *mlflow.Client {
	c, _ := p.connect()
	return c
}

// snapshot reads model's state from the target (regsnap.Take).
func (p *Proxy) snapshot(ctx context.Context, model, label string) (record.Snapshot, error) {
	c, err := p.connect()
	if err != nil {
		return record.Snapshot{}, err
	}
	return regsnap.Take(ctx, c, model, label)
}

// scrub removes the target's credentials from s; before a connection
// there are none to remove.
func (p *Proxy) scrub(s string) string {
	if c := p.client(); c != nil {
		return c.Scrub(s)
	}
	return s
}

// Start listens on 127.0.0.1 on a free port and serves until Close.
func Start(opts Options) (*Proxy, error) {
	if opts.Target == nil && opts.Connect == nil {
		return nil, errors.New("regproxy: Options.Target and Options.Connect are nil")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = DefaultMaxBody
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("regproxy: token: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("regproxy: %w", err)
	}
	p := &Proxy{
		opts:   opts,
		token:  hex.EncodeToString(b[:]),
		ln:     ln,
		extra:  http.NewServeMux(),
		inCell: map[string]bool{},
		byName: map[string]*touched{},
	}
	p.prefix = "/k/" + p.token
	p.srv = &http.Server{
		Handler:           http.HandlerFunc(p.serve),
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	p.Serve(ln)
	return p, nil
}

// Serve serves the connections of ln too (e.g. connections handed to the
// kernel over a socket pair, when its sandbox creates no socket), until
// Close, which closes ln.
func (p *Proxy) Serve(ln net.Listener) {
	p.served.Add(1)
	go func() {
		defer p.served.Done()
		_ = p.srv.Serve(ln)
	}()
}

// URL returns the tracking URI the kernel's client uses:
// http://127.0.0.1:PORT/k/<token>. It holds the token: give it to the
// kernel only.
func (p *Proxy) URL() string { return fmt.Sprintf("http://127.0.0.1:%d%s", p.Port(), p.prefix) }

// Port returns the port the proxy listens on, for the kernel's sandbox.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Prefix returns the token's path, "/k/<token>": a client whose transport
// adds it to every request's path can use http://127.0.0.1:PORT as its
// tracking URI, so that the token is in none of its URLs or messages.
func (p *Proxy) Prefix() string { return p.prefix }

// Handle adds an endpoint of the parent's own under the token prefix, e.g.
// Handle("POST /rpc/capture", h): h sees the request with the prefix
// removed from URL.Path. pattern is a net/http.ServeMux pattern without a
// host; it must not lie under the forwarded paths. Calls to these
// endpoints are not recorded.
func (p *Proxy) Handle(pattern string, h http.Handler) {
	path := pattern
	if _, rest, ok := strings.Cut(pattern, " "); ok {
		path = strings.TrimSpace(rest)
	}
	if !strings.HasPrefix(path, "/") {
		panic(fmt.Sprintf("regproxy: Handle(%q): the pattern must be a path, without a host", pattern))
	}
	if Forwarded(path) || strings.HasPrefix(path, apiPrefix) || strings.HasPrefix(path, artifactsPrefix) || strings.HasPrefix(path, "/api/") {
		panic(fmt.Sprintf("regproxy: Handle(%q): the path is the tracking server's", pattern))
	}
	p.extra.Handle(pattern, h)
}

// HandleInCell is Handle for an endpoint that starts or drives programs
// (a worker, a scoring server, a browser): with Options.CellTokens, it is
// served only for a call that carries the running cell's token, so that
// code running for no cell (the runner between cells, a goroutine too far
// from its cell's to have a token) cannot start them. A call with a
// revoked token is refused by every endpoint.
func (p *Proxy) HandleInCell(pattern string, h http.Handler) {
	p.Handle(pattern, h)
	p.inCell[pattern] = true
}

// Calls returns the mutating calls finished so far, in the order they
// arrived.
func (p *Proxy) Calls() []record.Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]record.Call, 0, len(p.calls))
	for _, c := range p.calls {
		if c != nil {
			out = append(out, *c)
		}
	}
	return out
}

// Snapshots returns, for each registered model a mutating call touched (in
// the order of their first touch), its state before the first such call,
// labelled "before", and its state now, labelled "after". An "after"
// snapshot that cannot be read is left out and its error returned (joined
// with the others).
func (p *Proxy) Snapshots(ctx context.Context) ([]record.Snapshot, error) {
	p.mu.Lock()
	models := append([]*touched(nil), p.models...)
	p.mu.Unlock()
	var (
		out  []record.Snapshot
		errs []error
	)
	for _, m := range models {
		m.mu.Lock()
		taken, before := m.taken, m.snap
		m.mu.Unlock()
		if !taken {
			continue // its calls were all refused
		}
		out = append(out, before)
		after, err := p.snapshot(ctx, m.name, "after")
		if err != nil {
			errs = append(errs, fmt.Errorf("regproxy: the after snapshot of model %q: %w", m.name, err))
			continue
		}
		after.Step = p.lastStep()
		out = append(out, after)
	}
	return out, errors.Join(errs...)
}

// Close stops listening and waits for the requests in flight to finish.
func (p *Proxy) Close() error { return p.Shutdown(context.Background()) }

// Shutdown is Close that stops waiting when ctx ends: the connections
// still open are then closed.
func (p *Proxy) Shutdown(ctx context.Context) error {
	err := p.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, p.srv.Close())
	}
	p.served.Wait()
	return err
}

func (p *Proxy) step() string {
	if p.opts.Step == nil {
		return ""
	}
	return p.opts.Step()
}

// serve checks the token and dispatches.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	escaped := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(escaped, "/k/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	tok, endpoint, _ := strings.Cut(rest, "/")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(p.token)) != 1 {
		http.NotFound(w, r)
		return
	}
	endpoint = "/" + endpoint
	o := p.originOf(r)
	r.Header.Del(CellHeader)
	if o.refused != "" && (!o.none || (Forwarded(endpoint) && Mutating(r.Method, endpoint))) {
		p.refuse(w, r, endpoint, o)
		return
	}
	if Forwarded(endpoint) {
		if !allowedMethod(r.Method, endpoint) {
			w.Header().Set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE")
			writeError(w, http.StatusMethodNotAllowed, "INVALID_PARAMETER_VALUE", "method "+r.Method+" is not forwarded")
			return
		}
		p.forward(w, r, endpoint, o.step)
		return
	}
	if strings.HasPrefix(endpoint, "/api/") || strings.HasPrefix(endpoint, "/ajax-api/") {
		http.NotFound(w, r)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path, _ = url.PathUnescape(endpoint)
	r2.URL.RawPath = ""
	_, pattern := p.extra.Handler(r2)
	if pattern == "" {
		http.NotFound(w, r)
		return
	}
	if p.inCell[pattern] && o.none {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "playbook's registry proxy "+OutcomeNoCell+": "+endpoint+" is served only for a running cell's code")
		return
	}
	p.extra.ServeHTTP(w, r2.WithContext(context.WithValue(r2.Context(), stepKey{}, o.step)))
}

// stepKey holds, in the context of a request to a parent's endpoint, the
// step of the cell whose code made it.
type stepKey struct{}

// HandleUpload is HandleInCell for an endpoint of the parent's that writes
// files for the kernel where the tracking server does not proxy them (an
// artifact store the parent reaches itself): each call is recorded as a
// forwarded upload is, Method PUT and Endpoint the request's path, under
// the step of the cell that made it, its Args those args returns (nil:
// none), in a dry run as in a real one, so args must redact what the
// evidence must not show (mlflow.RedactURL); h may complete the Args, sets
// the Outcome ("ok" or why not) and reads the body, bounded by
// Options.MaxUpload (beyond, a read fails). In a dry run h is not called:
// the call is recorded as not sent and answered {}.
func (p *Proxy) HandleUpload(pattern string, args func(r *http.Request) map[string]any, h func(w http.ResponseWriter, r *http.Request, call *record.Call)) {
	p.HandleInCell(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		step, _ := r.Context().Value(stepKey{}).(string)
		call := &record.Call{Time: time.Now(), Step: step, Method: http.MethodPut, Endpoint: r.URL.Path, DryRun: p.opts.DryRun}
		if args != nil {
			call.Args = args(r)
		}
		if call.Args == nil {
			call.Args = map[string]any{}
		}
		slot := p.reserve()
		rw := &recordingWriter{ResponseWriter: w, finish: func() { p.finish(slot, call) }}
		defer rw.done()
		if r.ContentLength > p.opts.MaxUpload {
			p.tooLarge(rw, call, p.opts.MaxUpload)
			return
		}
		if p.opts.DryRun {
			call.Outcome = OutcomeNotSent
			writeJSON(rw, http.StatusOK, []byte("{}"))
			return
		}
		r.Body = io.NopCloser(&limitedReader{r: r.Body, limit: p.opts.MaxUpload})
		start := time.Now()
		h(rw, r, call)
		call.Duration = record.Duration(time.Since(start))
	}))
}

// forwardedHeaders are the request headers passed on to the server; the
// others (Authorization, Cookie, Accept-Encoding, X-Forwarded-*, ...) are
// dropped.
var forwardedHeaders = []string{"Accept", "Accept-Language", "Content-Type", "Content-Encoding", "Range", "User-Agent", "If-Match", "If-None-Match", "If-Modified-Since", "If-Range"}

// droppedReplyHeaders are the reply headers not passed back: hop-by-hop
// headers and cookies.
var droppedReplyHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Set-Cookie", "Set-Cookie2"}

// forward handles one call to a forwarded endpoint (escaped, relative to
// the tracking URI) made by the code of step.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, endpoint, step string) {
	if !Mutating(r.Method, endpoint) {
		var body io.Reader = http.NoBody
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			buf, ok := p.readBody(w, r, nil)
			if !ok {
				return
			}
			if len(buf) > 0 {
				body = bytes.NewReader(buf)
			}
		}
		p.send(w, r, endpoint, body, nil)
		return
	}
	decoded, err := url.PathUnescape(endpoint)
	if err != nil {
		decoded = endpoint
	}
	call := &record.Call{Time: time.Now(), Step: step, Method: r.Method, Endpoint: decoded, DryRun: p.opts.DryRun}
	slot := p.reserve()
	// The call is recorded before the kernel sees a byte of the reply: a
	// kernel that got its answer finds its call in Calls.
	rw := &recordingWriter{ResponseWriter: w, finish: func() { p.finish(slot, call) }}
	defer rw.done()

	if r.Method == http.MethodPut && strings.HasPrefix(endpoint, uploadPrefix) {
		p.upload(rw, r, endpoint, call)
		return
	}
	buf, ok := p.readBody(rw, r, call)
	if !ok {
		return
	}
	args := decodeArgs(buf)
	if args == nil && r.URL.RawQuery != "" {
		args = map[string]any{}
		for k, vs := range r.URL.Query() {
			if len(vs) > 0 {
				args[k] = vs[0]
			}
		}
	}
	if _, bad := args["body"]; bad && len(args) == 2 {
		// Not a JSON object (a JSON string holding one, which a server may
		// decode twice): what the call changes cannot be read, so it is
		// not sent.
		call.Args = args
		call.Outcome = "refused: the body is not a JSON object"
		writeError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "playbook's registry proxy forwards a change only with a JSON object as its body")
		return
	}
	names := modelNames(endpoint, args)
	if len(names) == 0 && (strings.Contains(endpoint, "/registered-models/") || strings.Contains(endpoint, "/model-versions/")) {
		call.Args = args
		call.Outcome = "refused: no registered model named"
		writeError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "playbook's registry proxy forwards a change of the registry only when it names the registered model")
		return
	}
	if args != nil {
		Redact(args)
		call.Args = args
	}
	for _, name := range names {
		if err := p.before(r.Context(), name, call.Step); err != nil {
			msg := p.scrub(err.Error())
			call.Outcome = "not sent: " + msg
			writeError(rw, http.StatusBadGateway, "TEMPORARILY_UNAVAILABLE", "playbook's registry proxy could not read the state of the model before the change: "+msg)
			return
		}
	}
	if p.opts.DryRun {
		call.Outcome = OutcomeNotSent
		writeJSON(rw, http.StatusOK, []byte("{}"))
		return
	}
	var body io.Reader = http.NoBody
	if len(buf) > 0 {
		body = bytes.NewReader(buf)
	}
	p.send(rw, r, endpoint, body, call)
}

// readBody reads a JSON call's body whole, within Options.MaxBody; it
// answers the kernel itself and reports false when it cannot.
func (p *Proxy) readBody(w http.ResponseWriter, r *http.Request, call *record.Call) ([]byte, bool) {
	if r.ContentLength > p.opts.MaxBody {
		p.tooLarge(w, call, p.opts.MaxBody)
		return nil, false
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, p.opts.MaxBody+1))
	if err != nil {
		if call != nil {
			call.Outcome = "not sent: reading the request: " + err.Error()
		}
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "reading the request body: "+err.Error())
		return nil, false
	}
	if int64(len(buf)) > p.opts.MaxBody {
		p.tooLarge(w, call, p.opts.MaxBody)
		return nil, false
	}
	return buf, true
}

// upload handles an artifact upload: recorded by its path and size, and
// streamed to the server within Options.MaxUpload.
func (p *Proxy) upload(w http.ResponseWriter, r *http.Request, endpoint string, call *record.Call) {
	call.Args = map[string]any{"path": strings.TrimPrefix(call.Endpoint, uploadPrefix), "bytes": int64(0)}
	if r.ContentLength > p.opts.MaxUpload {
		call.Args["bytes"] = r.ContentLength
		p.tooLarge(w, call, p.opts.MaxUpload)
		return
	}
	counter := &limitedReader{r: r.Body, limit: p.opts.MaxUpload}
	var body io.Reader = counter
	if r.ContentLength == 0 {
		body = http.NoBody
	}
	if p.opts.DryRun {
		_, err := io.Copy(io.Discard, counter)
		call.Args["bytes"] = counter.n
		switch {
		case counter.over:
			p.tooLarge(w, call, p.opts.MaxUpload)
		case err != nil:
			call.Outcome = "not sent: reading the request: " + err.Error()
			writeError(w, http.StatusBadRequest, "BAD_REQUEST", "reading the request body: "+err.Error())
		default:
			call.Outcome = OutcomeNotSent
			writeJSON(w, http.StatusOK, []byte("{}"))
		}
		return
	}
	p.send(w, r, endpoint, body, call, func() {
		call.Args["bytes"] = counter.n
	})
}

// send forwards the call to Target and passes the reply back, streamed.
// For a recorded call (call not nil), the outcome is set from the reply's
// status and its first 64 KiB before any of it reaches the kernel; then
// runs before the outcome is set, the request body read.
func (p *Proxy) send(w http.ResponseWriter, r *http.Request, endpoint string, body io.Reader, call *record.Call, then ...func()) {
	if body == nil {
		body = http.NoBody
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, strings.TrimPrefix(endpoint, "/"), body)
	if err != nil {
		if call != nil {
			call.Outcome = "not sent: " + err.Error()
		}
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	out.URL.RawQuery = r.URL.RawQuery
	switch b := body.(type) {
	case *bytes.Reader:
		out.ContentLength = int64(b.Len())
	case *limitedReader:
		out.ContentLength = r.ContentLength
	default:
		out.ContentLength = 0
	}
	for _, h := range forwardedHeaders {
		if vs := r.Header.Values(h); len(vs) > 0 {
			out.Header[http.CanonicalHeaderKey(h)] = append([]string(nil), vs...)
		}
	}
	counter, _ := body.(*limitedReader)

	start := time.Now()
	var resp *http.Response
	target, err := p.connect()
	if err == nil {
		resp, err = target.Forward(out)
		if err != nil && mlflow.NotSent(err) {
			err = fmt.Errorf("not sent: %w", err)
		}
	} else {
		err = fmt.Errorf("not sent: playbook could not connect to the tracking server: %w", err)
	}
	for _, f := range then {
		f()
	}
	if err != nil {
		if call != nil {
			call.Duration = record.Duration(time.Since(start))
			call.Outcome = err.Error()
			if !strings.HasPrefix(call.Outcome, "not sent: ") && r.Context().Err() == nil {
				// The request went out and no reply came back: the
				// server may have applied it.
				call.Outcome = OutcomeMayHaveApplied + call.Outcome
			}
		}
		if counter != nil && counter.over {
			p.tooLarge(w, call, p.opts.MaxUpload)
			call.Outcome = "cut: " + strings.TrimPrefix(call.Outcome, "not sent: ") + " (the upload was aborted)"
			return
		}
		writeError(w, http.StatusBadGateway, "TEMPORARILY_UNAVAILABLE", "playbook's registry proxy: "+err.Error())
		return
	}
	defer resp.Body.Close()

	var head []byte
	if call != nil {
		head, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		call.Duration = record.Duration(time.Since(start))
		call.Outcome = p.outcome(resp.StatusCode, head)
		if err != nil && call.Outcome == OutcomeOK {
			call.Outcome = "ok (the reply was cut: " + p.scrub(err.Error()) + ")"
		}
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	for _, h := range droppedReplyHeaders {
		w.Header().Del(h)
	}
	if resp.Uncompressed {
		w.Header().Del("Content-Length")
	}
	w.WriteHeader(resp.StatusCode)
	if len(head) > 0 {
		if _, err := w.Write(head); err != nil {
			return
		}
	}
	_, _ = io.Copy(flushWriter{w}, resp.Body)
}

// recordingWriter finishes a call's record before the first byte of the
// reply is written.
type recordingWriter struct {
	http.ResponseWriter
	finish func()
	once   sync.Once
}

func (rw *recordingWriter) done() { rw.once.Do(rw.finish) }

func (rw *recordingWriter) WriteHeader(status int) {
	rw.done()
	rw.ResponseWriter.WriteHeader(status)
}

func (rw *recordingWriter) Write(b []byte) (int, error) {
	rw.done()
	return rw.ResponseWriter.Write(b)
}

func (rw *recordingWriter) Flush() {
	rw.done()
	_ = http.NewResponseController(rw.ResponseWriter).Flush()
}

func (rw *recordingWriter) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// before takes model's "before" snapshot unless a call already did.
func (p *Proxy) before(ctx context.Context, model, step string) error {
	p.mu.Lock()
	m := p.byName[model]
	if m == nil {
		m = &touched{name: model}
		p.byName[model] = m
		p.models = append(p.models, m)
	}
	p.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taken {
		return nil
	}
	s, err := p.snapshot(ctx, model, "before")
	if err != nil {
		return err
	}
	s.Step = step
	m.snap, m.taken = s, true
	return nil
}

// reserve keeps a call's place in the arrival order.
func (p *Proxy) reserve() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, nil)
	return len(p.calls) - 1
}

func (p *Proxy) finish(slot int, c *record.Call) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[slot] = c
}

// tooLarge answers 413 and records why.
func (p *Proxy) tooLarge(w http.ResponseWriter, call *record.Call, limit int64) {
	msg := fmt.Sprintf("request body over %s, the limit of playbook's registry proxy", sizeText(limit))
	if call != nil {
		call.Outcome = "not sent: " + msg
	}
	writeError(w, http.StatusRequestEntityTooLarge, "REQUEST_LIMIT_EXCEEDED", msg)
}

// outcome is "ok" for a 2xx reply, else MLflow's error code and message
// from the reply's head, or its status and text.
func (p *Proxy) outcome(status int, head []byte) string {
	if status >= 200 && status < 300 {
		return OutcomeOK
	}
	var e struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	var s string
	if json.Unmarshal(head, &e) == nil && (e.ErrorCode != "" || e.Message != "") {
		switch {
		case e.ErrorCode == "":
			s = e.Message
		case e.Message == "":
			s = e.ErrorCode
		default:
			s = e.ErrorCode + ": " + e.Message
		}
		s = textcut.Truncate(s, 4096)
	} else {
		s = fmt.Sprintf("HTTP %d", status)
		if text := textcut.Truncate(strings.Join(strings.Fields(string(head)), " "), 512); text != "" {
			s += ": " + text
		} else if t := http.StatusText(status); t != "" {
			s += " " + t
		}
	}
	return p.scrub(s)
}

// decodeArgs decodes a JSON object body; another body is recorded by its
// size.
func decodeArgs(buf []byte) map[string]any {
	if len(bytes.TrimSpace(buf)) == 0 {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(buf))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return map[string]any{"body": "not a JSON object", "bytes": len(buf)}
	}
	return m
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers an MLflow-style JSON error.
func writeError(w http.ResponseWriter, status int, code, message string) {
	b, _ := json.Marshal(map[string]string{"error_code": code, "message": message})
	writeJSON(w, status, b)
}

var errTooLarge = errors.New("request body too large")

// limitedReader counts what it reads and fails past limit.
type limitedReader struct {
	r     io.Reader
	limit int64
	n     int64
	over  bool
}

func (l *limitedReader) Read(b []byte) (int, error) {
	if l.over {
		return 0, errTooLarge
	}
	if rem := l.limit - l.n + 1; int64(len(b)) > rem {
		b = b[:rem]
	}
	n, err := l.r.Read(b)
	l.n += int64(n)
	if l.n > l.limit {
		l.over = true
		return 0, errTooLarge
	}
	return n, err
}

// flushWriter flushes after each write, so that a slow stream reaches the
// kernel as it comes.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if err == nil {
		_ = http.NewResponseController(f.w).Flush()
	}
	return n, err
}

func sizeText(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
