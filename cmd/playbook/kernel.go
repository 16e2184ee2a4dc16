package main

// The kernel process: `playbook run --kernel process` runs each scenario's
// cells in a child process of its own binary, as Jupyter runs a kernel.
// The parent (this process) keeps the credentials, the connection to
// MLflow, the report writer and everything that starts programs; the
// kernel gets a clean environment and, on Linux, a sandbox (Landlock,
// seccomp, rlimits: internal/sandbox) before it runs any cell. It streams
// the run record to the parent as it grows, so that a kernel that dies
// (a crash, a signal, out of memory, a cell past its timeout, which the
// parent ends) loses nothing it had recorded: the parent writes the
// report, naming the cell that was running and the kernel's last words.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/playbook-mlops/playbook/internal/regproxy"
	"github.com/playbook-mlops/playbook/internal/sandbox"
	"github.com/playbook-mlops/playbook/internal/scoring"
	"github.com/playbook-mlops/playbook/internal/tailbuf"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/runner"
)

// The kernel modes of --kernel.
const (
	kernelInProcess = "in-process"
	kernelProcess   = "process"
)

// envKernel is set in the kernel's environment: the binary then runs as
// a kernel (kernelMain) instead of as the command line.
const envKernel = "PLAYBOOK_KERNEL"

// kernelGrace is how long past a cell's timeout the parent waits for the
// kernel's own timeout to end the cell before it ends the kernel.
const kernelGrace = 500 * time.Millisecond

// kernelMemory is the kernel's address-space limit (RLIMIT_AS): the Go
// runtime reserves address space beyond what it uses, so it is generous.
const kernelMemory = 4 << 30

// kernelFileSize bounds a file the kernel writes (RLIMIT_FSIZE): a little
// above a cell file's limit, so that the limit's own error is the one seen.
const kernelFileSize = 20 << 20

// kernelConfig is what the parent sends the kernel on its stdin.
type kernelConfig struct {
	Scenario    string   `json:"scenario"`
	Params      []string `json:"params"`
	TrackingURI string   `json:"tracking_uri"` // where the kernel's client connects (the proxy); "" for none
	ProxyPrefix string   `json:"proxy_prefix"` // the path its requests start with (the proxy's token)
	DisplayURI  string   `json:"display_uri"`  // the server behind it, for links and messages
	RecordedURI string   `json:"recorded_uri"` // what the record says of the server
	User        string   `json:"user"`         // who runs it, for the record and the tags
	Host        string   `json:"host"`
	// Actor is the MLflow user playbook's credentials are (the kernel
	// has none to ask with), for the record and the tags.
	Actor        *record.Actor `json:"actor,omitempty"`
	OutDir       string        `json:"out_dir"`  // the cell files' folder; "" refuses writes
	TempDir      string        `json:"temp_dir"` // the kernel's own temporary folder
	DryRun       bool          `json:"dry_run"`
	Unrestricted bool          `json:"unrestricted"`
	Version      string        `json:"version"`
	// CaptureWidth and CaptureHeight, when set, are the size of the
	// screenshots of the MLflow UI playbook takes for the kernel
	// (POST /rpc/capture).
	CaptureWidth  int `json:"capture_width,omitempty"`
	CaptureHeight int `json:"capture_height,omitempty"`
	// EnvManager is the run's --env-manager: playbook builds the models'
	// environments (POST /rpc/python for a model, POST /rpc/serve).
	EnvManager string `json:"env_manager,omitempty"`
	// Retry is how the kernel's client retries, as MLflow's variables
	// told playbook (the kernel does not see them).
	Retry kernelRetry `json:"retry"`
	// Gate: before each cell the kernel asks playbook whether it runs
	// (an "ask" message; the answer, a line "run" or "stop", on stdin):
	// playbook run --step.
	Gate bool `json:"gate,omitempty"`
}

// kernelRetry is the retry part of an mlflow.Config.
type kernelRetry struct {
	MaxRetries       int           `json:"max_retries"`
	BackoffFactor    float64       `json:"backoff_factor"`
	BackoffJitter    float64       `json:"backoff_jitter"`
	MaxBackoff       time.Duration `json:"max_backoff"`
	Timeout          time.Duration `json:"timeout"`
	IgnoreRetryAfter bool          `json:"ignore_retry_after,omitempty"`
}

// retryFromEnv reads MLflow's retry variables, their defaults when one is
// invalid (run has refused those before it starts a kernel).
func retryFromEnv() kernelRetry {
	cfg, err := mlflow.ConfigFromEnv(os.Getenv)
	if err != nil {
		cfg = mlflow.DefaultConfig("")
	}
	return kernelRetry{MaxRetries: cfg.MaxRetries, BackoffFactor: cfg.BackoffFactor, BackoffJitter: cfg.BackoffJitter,
		MaxBackoff: cfg.MaxBackoff, Timeout: cfg.Timeout, IgnoreRetryAfter: cfg.IgnoreRetryAfter}
}

// config returns the client configuration for uri with these retries.
func (k kernelRetry) config(uri string) mlflow.Config {
	cfg := mlflow.DefaultConfig(uri)
	if k.Timeout > 0 {
		cfg.MaxRetries, cfg.BackoffFactor, cfg.BackoffJitter = k.MaxRetries, k.BackoffFactor, k.BackoffJitter
		cfg.MaxBackoff, cfg.Timeout, cfg.IgnoreRetryAfter = k.MaxBackoff, k.Timeout, k.IgnoreRetryAfter
	}
	return cfg
}

// kernelMsg is one message of the kernel to the parent, one JSON object
// per line on the kernel's file descriptor 3.
type kernelMsg struct {
	Type   string          `json:"type"` // "ready", "ask", "event", "cell", "top", "retry", "done"
	Event  *runner.Event   `json:"event,omitempty"`
	Retry  *mlflow.Retry   `json:"retry,omitempty"`  // retry: the kernel's client retries a call
	Index  int             `json:"index,omitempty"`  // cell: the cell's index (from 1)
	Record json.RawMessage `json:"record,omitempty"` // cell: the cell's record; top: the rest of the run's

	Sandbox *sandbox.Report `json:"sandbox,omitempty"`
	Error   string          `json:"error,omitempty"` // ready: the sandbox could not be applied
}

// kernelMain runs the binary as a kernel: it reads its configuration on
// stdin, applies the sandbox, runs the scenario's cells and streams the
// record on file descriptor 3. Its exit status is 0 whatever the cells
// did (the record says); 1 when it could not run them.
func kernelMain() int {
	out := os.NewFile(3, "kernel-messages")
	if out == nil {
		fmt.Fprintln(os.Stderr, "playbook kernel: no message descriptor (fd 3)")
		return 1
	}
	w := &kernelWriter{w: bufio.NewWriterSize(out, 1<<16)}
	var cfg kernelConfig
	stdin := bufio.NewReaderSize(os.Stdin, 1<<16)
	line, err := stdin.ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &cfg)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "playbook kernel: reading the configuration: %v\n", err)
		return 1
	}
	sc, err := runner.ParseFile(cfg.Scenario)
	if err != nil {
		fmt.Fprintf(os.Stderr, "playbook kernel: %v\n", err)
		return 1
	}
	rep, err := sandbox.Apply(kernelPolicy(cfg, sc))
	if err != nil {
		w.send(kernelMsg{Type: "ready", Error: err.Error()})
		return 1
	}
	w.send(kernelMsg{Type: "ready", Sandbox: &rep})

	var connect func() (*mlflow.Client, error)
	// The kernel's requests to the proxy: the token's path added to each,
	// the calling cell's token too, over connections playbook hands it.
	cells := newKernelCells()
	dialer, err := newKernelDialer(kernelLinkFD)
	if err != nil {
		fmt.Fprintf(os.Stderr, "playbook kernel: %v\n", err)
		return 1
	}
	hc := &http.Client{Transport: prefixTransport{prefix: cfg.ProxyPrefix, base: kernelTransport(dialer), cell: cells.token}}
	if cfg.TrackingURI != "" {
		connect = sync.OnceValues(func() (*mlflow.Client, error) {
			display := cfg.DisplayURI
			if display == "" {
				// The embedded server, started now that a cell needs it.
				b, err := rpcPost(context.Background(), hc, cfg.TrackingURI+"/rpc/connect", struct{}{}, 64<<10)
				if err != nil {
					return nil, err
				}
				var r struct {
					DisplayURI string `json:"display_uri"`
				}
				if err := json.Unmarshal(b, &r); err != nil {
					return nil, err
				}
				display = r.DisplayURI
			}
			// Its retries are told to playbook, which shows them.
			retried := func(r mlflow.Retry) { w.send(kernelMsg{Type: "retry", Retry: &r}) }
			return mlflow.New(cfg.Retry.config(cfg.TrackingURI), mlflow.WithUserAgent("playbook-kernel/"+cfg.Version),
				mlflow.WithHTTPClient(hc), mlflow.WithDisplayURI(display), mlflow.WithArtifactRelay(),
				mlflow.WithLogger(slog.New(mlflow.RetryHandler(retried))))
		})
	}
	var python func() (*pyworker.Worker, error)
	var parent *notebook.Parent
	interpreter := func() (string, error) { return "", notebook.ErrNoInterpreter }
	if cfg.TrackingURI != "" {
		python = func() (*pyworker.Worker, error) {
			w, _, err := dialWorker(dialer, cells.token(), cfg.TrackingURI, cfg.ProxyPrefix, "")
			return w, err
		}
		parent, interpreter = kernelParent(hc, cfg, dialer, cells)
	}
	var capture *notebook.Capturer
	if cfg.TrackingURI != "" && cfg.CaptureWidth > 0 {
		capture = &notebook.Capturer{Width: cfg.CaptureWidth, Height: cfg.CaptureHeight,
			ModelPage: func(ctx context.Context, url, model string, want []string) ([]byte, error) {
				return askCapture(ctx, hc, cfg.TrackingURI, captureRequest{URL: url, Model: model, Want: want})
			}}
	}
	var view func(func(*record.Run))
	sendRecord := func() {
		if view != nil {
			view(func(r *record.Run) { w.sendRecord(r, false) })
		}
	}
	stop := make(chan struct{})
	opts := runner.Options{
		Params: cfg.Params, Connect: connect, Python: python, TrackingURI: cfg.RecordedURI, OutDir: cfg.OutDir,
		Interpreter: interpreter, Parent: parent,
		Capture: capture,
		DryRun:  cfg.DryRun, Unrestricted: cfg.Unrestricted, Version: cfg.Version, User: cfg.User, Actor: cfg.Actor, Host: cfg.Host,
		Progress: func(ev runner.Event) {
			if ev.Status != runner.StatusRunning {
				cells.end()
				sendRecord() // the cell's outputs, before its end is told
			}
			w.send(kernelMsg{Type: "event", Event: &ev})
			if ev.Status == runner.StatusRunning {
				// The cell runs once the parent knows it does: the registry
				// calls its code makes, with the token of the ack, are
				// recorded under its step.
				tok, err := stdin.ReadString('\n')
				if err != nil {
					os.Exit(1) // the parent is gone
				}
				cells.begin(ev.Index, strings.TrimSpace(tok))
			}
		},
		Live: func(v func(func(*record.Run))) {
			view = v
			go every(streamInterval, stop, sendRecord) // what a running cell prints reaches the parent as it goes
		},
	}
	if cfg.Gate {
		opts.Gate = func(_ context.Context, index int) bool {
			w.send(kernelMsg{Type: "ask", Index: index})
			answer, err := stdin.ReadString('\n')
			if err != nil {
				os.Exit(1) // the parent is gone
			}
			return strings.TrimSpace(answer) == "run"
		}
	}
	opts.CellGoroutine = cells.enter // which cell a registry call comes from
	rec, _ := runner.Run(context.Background(), sc, opts)
	close(stop)
	// Under the record's lock, as the ticker sends it: a tick still under
	// way is over before the last send.
	switch {
	case view != nil:
		view(func(r *record.Run) { w.sendRecord(r, true) })
	case rec != nil:
		w.sendRecord(rec, true)
	}
	w.send(kernelMsg{Type: "done"})
	return 0
}

// captureRequest asks playbook for a screenshot of a model's page, or of
// one of its versions', in the MLflow UI (POST /rpc/capture), which the
// kernel cannot take: it starts no browser. Want lists the texts the page
// must show (the aliases, a tag's name).
type captureRequest struct {
	URL   string   `json:"url"`
	Model string   `json:"model"`
	Want  []string `json:"want"`
}

// askCapture asks playbook for a screenshot: the PNG, or the reason there
// is none.
func askCapture(ctx context.Context, hc *http.Client, proxyURL string, req captureRequest) ([]byte, error) {
	return rpcPost(ctx, hc, proxyURL+"/rpc/capture", req, 32<<20)
}

// rpcPost posts req (JSON) to url, one of playbook's /rpc/ endpoints, and
// returns the answer's body (at most limit bytes), or its text as the
// error when it is not 200 OK.
func rpcPost(ctx context.Context, hc *http.Client, url string, req any, limit int64) ([]byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	r.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(strings.TrimSpace(string(b)))
	}
	return b, nil
}

// kernelWorkerProtocol names the protocol a kernel's connection to its
// Python worker is upgraded to (pyworker's frames, relayed by playbook).
const kernelWorkerProtocol = "playbook-worker"

// dialWorker connects the kernel to the Python worker playbook runs for it
// (POST /rpc/python on the proxy, upgraded to pyworker's frames).
func dialWorker(d *kernelDialer, cellToken, proxyURL, prefix, model string) (*pyworker.Worker, *pyworker.Env, error) {
	u, err := url.Parse(proxyURL)
	if err != nil {
		return nil, nil, err
	}
	if strings.ContainsAny(model, "\r\n") {
		return nil, nil, fmt.Errorf("the Python worker: a model URI holds a line break: %q", model)
	}
	conn, err := d.DialContext(context.Background(), "tcp", u.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("the Python worker: %w", err)
	}
	header := regproxy.CellHeader + ": " + cellToken + "\r\n"
	if model != "" {
		header += modelHeader + ": " + model + "\r\n"
	}
	fmt.Fprintf(conn, "POST %s/rpc/python HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n%sContent-Length: 0\r\n\r\n", prefix, u.Host, kernelWorkerProtocol, header)
	br := bufio.NewReaderSize(conn, 1<<16)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("the Python worker: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		conn.Close()
		return nil, nil, errors.New(strings.TrimSpace(string(b)))
	}
	var env *pyworker.Env
	if h := resp.Header.Get(envHeader); h != "" {
		env = new(pyworker.Env)
		if err := json.Unmarshal([]byte(h), env); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("the Python worker: its environment: %w", err)
		}
	}
	w, err := pyworker.Connect(struct {
		io.Reader
		io.Writer
		io.Closer
	}{br, conn, conn})
	return w, env, err
}

// kernelParent returns what the kernel asks playbook for (see
// kernelServices): the models' environments' workers, scoring servers and
// the interpreter they run.
func kernelParent(hc *http.Client, cfg kernelConfig, d *kernelDialer, cells *kernelCells) (*notebook.Parent, func() (string, error)) {
	base := cfg.TrackingURI + "/rpc/"
	errorOf := func(b []byte, err error) error {
		if err != nil {
			return err
		}
		var r struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		if r.Error != "" {
			return errors.New(r.Error)
		}
		return nil
	}
	interpreter := func() (string, error) {
		b, err := rpcPost(context.Background(), hc, base+"interpreter", struct{}{}, 64<<10)
		if err := errorOf(b, err); err != nil {
			return "", err
		}
		var r struct {
			Python string `json:"python"`
		}
		return r.Python, json.Unmarshal(b, &r)
	}
	p := &notebook.Parent{
		EnvManager: cmp.Or(cfg.EnvManager, pyworker.EnvLocal),
		CheckEnvs: func() error {
			return errorOf(rpcPost(context.Background(), hc, base+"envs", struct{}{}, 64<<10))
		},
		Worker: func(_ context.Context, artifactURI string) (*pyworker.Worker, *pyworker.Env, error) {
			w, env, err := dialWorker(d, cells.token(), cfg.TrackingURI, cfg.ProxyPrefix, artifactURI)
			if err == nil && env == nil {
				_ = w.Close()
				return nil, nil, errors.New("the Python worker: playbook did not say which environment it runs in")
			}
			return w, env, err
		},
		Serve: func(ctx context.Context, req notebook.ServeRequest) (*notebook.Served, error) {
			b, err := rpcPost(ctx, hc, base+"serve", req, 1<<20)
			if err != nil {
				return nil, err
			}
			var s notebook.Served
			if err := json.Unmarshal(b, &s); err != nil {
				return nil, err
			}
			at := base + "serve/" + url.PathEscape(s.ID) + "/invocations"
			s.Invoke = func(ctx context.Context, body []byte) (int, []byte, error) {
				r, err := http.NewRequestWithContext(ctx, http.MethodPost, at, bytes.NewReader(body))
				if err != nil {
					return 0, nil, err
				}
				r.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(r)
				if err != nil {
					return 0, nil, err
				}
				defer resp.Body.Close()
				data, err := io.ReadAll(io.LimitReader(resp.Body, scoring.MaxAnswer))
				return resp.StatusCode, data, err
			}
			return &s, nil
		},
	}
	return p, interpreter
}

// prefixTransport adds the proxy's token path to every request: the
// client's tracking URI, its URLs and its errors hold none of it; and,
// when cell is set, the token of the cell whose code makes the request
// (none when it is ""), whatever header the caller set.
type prefixTransport struct {
	prefix string
	base   http.RoundTripper
	cell   func() string
}

func (t prefixTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Del(regproxy.CellHeader)
	// A GET or HEAD changes nothing, and the proxy lets a read through
	// with no token: the cell's token (a trace of the calling goroutine,
	// about 0.1 ms) is looked up for the other methods only.
	if t.cell != nil && req.Method != http.MethodGet && req.Method != http.MethodHead {
		if tok := t.cell(); tok != "" {
			r.Header.Set(regproxy.CellHeader, tok)
		}
	}
	r.URL.Path = t.prefix + req.URL.Path
	if req.URL.RawPath != "" {
		r.URL.RawPath = t.prefix + req.URL.RawPath
	}
	resp, err := t.base.RoundTrip(r)
	if resp != nil {
		resp.Request = req
	}
	return resp, err
}

// kernelPolicy is the kernel's sandbox: read the scenario's folder (its
// data files are inside it) and the system's time zones; write only the
// cell files' folder and its own temporary folder; no network: no socket
// created, no TCP port (its connections to the proxy are handed to it,
// see kernelnet.go); start no program; bounded memory, file size, open
// files and CPU time (kernelCPU).
func kernelPolicy(cfg kernelConfig, sc *runner.Scenario) sandbox.Policy {
	ro := append(sandbox.DefaultReadOnly(), filepath.Dir(cfg.Scenario))
	rw := sandbox.DefaultReadWrite()
	for _, d := range []string{cfg.OutDir, cfg.TempDir} {
		if d != "" {
			rw = append(rw, d)
		}
	}
	p := sandbox.Policy{
		ReadOnly: ro, ReadWrite: rw, NoExec: true, NoProcesses: true, NoUnixSockets: true, NoSockets: true,
		MemoryBytes: kernelMemory, FileSizeBytes: kernelFileSize, OpenFiles: 256, CPUSeconds: kernelCPU(sc, runtime.NumCPU()),
	}
	return p
}

// kernelCPU bounds the kernel's CPU time, in seconds: what its cells may
// use in their timeouts on every core, and the start's idle limit, so
// that only a kernel that outlives its timeouts meets it (SIGXCPU ends
// it, and the parent reports the cell that ran). The parent's timeouts
// stop a cell sooner; this holds if they did not.
func kernelCPU(sc *runner.Scenario, cores int) uint64 {
	total := kernelIdle
	for _, c := range sc.Cells {
		total += c.Timeout + kernelGap
	}
	return uint64(total.Seconds()*float64(max(cores, 1))) + 1
}

// kernelWriter sends messages, one at a time.
type kernelWriter struct {
	mu sync.Mutex
	w  *bufio.Writer
	// sent is what was last sent of each cell, by index, and top of the
	// rest of the record: what has not changed is not sent again.
	sent [][]byte
	top  []byte
	// settled counts the leading cells that ended and were sent so: a
	// cell's record changes no more once it ended, until the run's end
	// (when every cell is looked at again).
	settled int
}

func (k *kernelWriter) send(m kernelMsg) {
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	k.write(b)
}

func (k *kernelWriter) write(b []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.w.Write(b)
	k.w.WriteByte('\n')
	k.w.Flush()
}

// sendRecord sends what changed of r since the last time: the record of
// each cell that changed ("cell", its code left out: the parent has it),
// then the rest of the record ("top": no cells, no scenario, no
// parameters). Streaming the whole record at each cell's end would send
// (and the parent read) every earlier cell again, plots included. final
// looks at every cell; otherwise only at those that had not yet ended.
// It is called from the record's view, under the run's lock.
func (k *kernelWriter) sendRecord(r *record.Run, final bool) {
	if len(k.sent) < len(r.Cells) {
		k.sent = append(k.sent, make([][]byte, len(r.Cells)-len(k.sent))...)
	}
	from := k.settled
	if final {
		from = 0
	}
	for i := from; i < len(r.Cells); i++ {
		c := r.Cells[i]
		if !final && c.Start.IsZero() {
			break // not started: nothing new, nor after it
		}
		c.Code = ""
		b, err := json.Marshal(&c)
		if err != nil {
			continue
		}
		if !bytes.Equal(b, k.sent[i]) {
			k.sent[i] = b
			k.write(fmt.Appendf(nil, `{"type":"cell","index":%d,"record":%s}`, i+1, b))
		}
		if i == k.settled && (c.Status == record.StatusOK || c.Status == record.StatusFailed) {
			k.settled++
		}
	}
	top := *r
	top.Scenario, top.Params, top.Cells = record.Scenario{}, nil, nil
	b, err := json.Marshal(&top)
	if err == nil && !bytes.Equal(b, k.top) {
		k.top = b
		k.write(fmt.Appendf(nil, `{"type":"top","record":%s}`, b))
	}
}

// kernelRun runs sc in a kernel process and returns its record, as
// runner.Run does in process: the parent's side of the kernel.
func kernelRun(ctx context.Context, sc *runner.Scenario, opts runner.Options, px kernelProxy) (*record.Run, error) {
	base := runner.NewRecord(sc, opts) // who and where, which the kernel cannot read
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("starting the kernel: %w", err)
	}
	tmp, err := os.MkdirTemp("", "playbook-kernel-")
	if err != nil {
		return nil, fmt.Errorf("starting the kernel: %w", err)
	}
	defer os.RemoveAll(tmp)
	scenarioPath, err := filepath.Abs(sc.DiskPath())
	if err != nil {
		return nil, err
	}
	cfg := kernelConfig{
		Scenario: scenarioPath, Params: opts.Params, TrackingURI: px.url, ProxyPrefix: px.prefix, DisplayURI: px.display,
		RecordedURI: opts.TrackingURI, User: base.Environment.User, Host: base.Environment.Host, Actor: base.Environment.Actor,
		CaptureWidth: captureSize(opts, true), CaptureHeight: captureSize(opts, false),
		TempDir: tmp, DryRun: opts.DryRun, Unrestricted: opts.Unrestricted, Version: opts.Version,
		Retry: retryFromEnv(), Gate: opts.Gate != nil,
	}
	if opts.ModelEnvs != nil {
		cfg.EnvManager = opts.ModelEnvs.Manager
	}
	if opts.OutDir != "" {
		// Cell files go to a folder of their own, beside (not over) the
		// report's files.
		cfg.OutDir = filepath.Join(opts.OutDir, cellFilesDir)
		if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
			return nil, fmt.Errorf("the cell files' folder: %w", err)
		}
		if cfg.OutDir, err = filepath.Abs(cfg.OutDir); err != nil {
			return nil, err
		}
	}
	conf, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	msgR, msgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer msgR.Close()
	cmd := exec.Command(exe)
	cmd.Env = kernelEnviron(tmp)
	cmd.Dir = tmp
	ackW, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stderr := &kernelStderr{tail: tailbuf.Buffer{Max: 16 << 10}}
	cmd.Stderr = stderr
	link, linkChild, err := newKernelLink()
	if err != nil {
		msgW.Close()
		return nil, fmt.Errorf("starting the kernel: %w", err)
	}
	defer link.Close()
	if px.serve != nil {
		px.serve(link)
	}
	cmd.ExtraFiles = []*os.File{msgW, linkChild} // fds 3 and kernelLinkFD
	cmd.SysProcAttr = kernelSysProcAttr()
	undumpable()
	started := time.Now()
	if err := cmd.Start(); err != nil {
		msgW.Close()
		linkChild.Close()
		return nil, fmt.Errorf("starting the kernel: %w", err)
	}
	msgW.Close()
	linkChild.Close()
	if _, err := ackW.Write(append(conf, '\n')); err != nil {
		killGroup(cmd.Process)
	}

	s := &kernelSession{cmd: cmd, sc: sc, opts: opts, base: base, started: started, ack: ackW, px: px, ctx: ctx}
	// The run is interrupted (^C): the kernel is ended with it.
	stopOnCancel := context.AfterFunc(ctx, func() { s.kill("interrupted") })
	defer stopOnCancel()
	s.read(msgR)
	s.px.endCell()
	ackW.Close()
	waitErr := cmd.Wait()
	s.stopTimer()
	rec, err := s.finish(waitErr, stderr)
	if cfg.OutDir != "" {
		cellFiles(rec, cfg.OutDir)
	}
	return rec, err
}

// captureSize is the width (or height) of the run's screenshots, 0 when it
// takes none.
func captureSize(opts runner.Options, width bool) int {
	switch {
	case opts.Capture == nil || opts.Capture.ModelPage == nil:
		return 0
	case width:
		return opts.Capture.Width
	}
	return opts.Capture.Height
}

// cellFiles makes the evidence's list of the files the cells wrote what
// dir (the cell files' folder) holds, not what the kernel says: each
// regular file (its name under files/, size and sha256; its step when the
// kernel's list names it), anything else (a link, a fifo) removed, and a
// file that would take the total over notebook.MaxRunFilesSize removed,
// both said in the audit block.
func cellFiles(rec *record.Run, dir string) {
	steps := map[string]string{}
	for _, f := range rec.Evidence.Files {
		steps[cellFilesDir+"/"+f.Name] = f.Step
	}
	files := []record.File{}
	var total int64
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		name := cellFilesDir + "/" + filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			_ = os.Remove(p)
			addProblem(rec, "removed "+name+": not a regular file (a cell may write regular files only)")
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if total+int64(len(b)) > notebook.MaxRunFilesSize {
			_ = os.Remove(p)
			addProblem(rec, fmt.Sprintf("removed %s (%d MiB): over the %d MiB the cells of a run may write", name, len(b)>>20, notebook.MaxRunFilesSize>>20))
			return nil
		}
		total += int64(len(b))
		sum := sha256.Sum256(b)
		files = append(files, record.File{Step: steps[name], Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
		return nil
	})
	rec.Evidence.Files = files
}

// addProblem says in the audit block what playbook found wrong with what
// the kernel left.
func addProblem(rec *record.Run, p string) {
	if rec.Environment.Isolation != nil {
		rec.Environment.Isolation.Problems = append(rec.Environment.Isolation.Problems, p)
	}
}

// kernelProxy is where the kernel's client connects: url (the proxy's
// name: its connections are handed to it, whatever the address), the
// path prefix of its requests, and the server it names in links and
// messages; serve, when set, serves the kernel's link; begin and end,
// when set, give a token to a cell that starts and revoke it.
type kernelProxy struct {
	url, prefix, display string
	serve                func(net.Listener)
	begin                func(step string) (string, error)
	end                  func()
	// retried, when set, is told of the retries of the kernel's client,
	// at most maxKernelRetries of them.
	retried func(mlflow.Retry)
	// output, when set, is given each running cell's record as the
	// kernel streams it: what the cell printed so far.
	output func(index int, c record.Cell)
}

// maxKernelRetries bounds the retries of a kernel that playbook shows: a
// kernel that tells of more is not heard, not to flood the terminal.
const maxKernelRetries = 1000

func (px kernelProxy) beginCell(step string) string {
	if px.begin == nil {
		return ""
	}
	tok, err := px.begin(step)
	if err != nil {
		return "" // no token: the cell's changes are refused
	}
	return tok
}

func (px kernelProxy) endCell() {
	if px.end != nil {
		px.end()
	}
}

// cellFilesDir is the folder of the output folder where a kernel's cells
// write their files (pb.WriteFile).
const cellFilesDir = "files"

// kernelEnviron is the kernel's environment: no credentials, no proxy, no
// MLflow variables; only what Go and the locale need.
func kernelEnviron(tmp string) []string {
	env := []string{envKernel + "=1", "HOME=" + tmp, "TMPDIR=" + tmp, "PATH=/usr/bin:/bin",
		// The goroutines' ancestors, by which the kernel tells the cell
		// whose code makes a registry call (kernelcell.go).
		"GODEBUG=tracebackancestors=" + strconv.Itoa(kernelAncestors)}
	for _, k := range []string{"LANG", "LC_ALL", "TZ", "USER", "GOMAXPROCS", "GOTRACEBACK", "PLAYBOOK_CHROMIUM"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// kernelSession is the parent's view of one kernel.
type kernelSession struct {
	cmd     *exec.Cmd
	sc      *runner.Scenario
	opts    runner.Options
	base    *record.Run // the parent's own record of the scenario, no cell run
	started time.Time
	ack     io.WriteCloser // the kernel's stdin: a line per cell started, its token
	px      kernelProxy

	ready   bool
	readyIn time.Duration
	sandbox *sandbox.Report
	refused string // the sandbox could not be applied
	done    bool
	// cells and top are the last the kernel sent of each cell's record
	// (by index) and of the rest of the run's (see kernelWriter.sendRecord).
	cells   [][]byte
	top     []byte
	running *runner.Event
	// lastIndex is the index of the last cell that started.
	lastIndex int
	// asked is the index of the last cell the kernel asked to run (--step).
	asked int
	// ctx is the run's: the gate waits on it.
	ctx context.Context
	// retries counts the retries the kernel told of.
	retries int

	mu     sync.Mutex
	timer  *time.Timer
	killed string // why the parent ended the kernel
}

// read reads the kernel's messages until it closes its end.
func (s *kernelSession) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 1<<20)
	s.idle(kernelIdle) // until the first cell starts
	for {
		line, err := readLine(br, maxKernelMessage)
		if errors.Is(err, errTooLong) {
			s.kill(fmt.Sprintf("it sent a message of more than %d MiB", maxKernelMessage>>20))
			_, _ = io.Copy(io.Discard, br)
			return
		}
		if len(line) > 0 {
			var m kernelMsg
			if json.Unmarshal(line, &m) == nil {
				s.handle(m)
			}
		}
		if err != nil {
			return
		}
	}
}

// maxKernelMessage bounds one message of the kernel, maxKernelRecord all
// the record's parts kept at once (a record holds at most 1 MiB of printed
// text per cell, plots and tables: the evidence of a run that prints
// 64 MiB stays under 4 MiB).
const (
	maxKernelMessage = 64 << 20
	maxKernelRecord  = 96 << 20
)

// kernelIdle bounds the kernel's start, until its first cell; kernelGap
// the time between two cells, and after the last until the kernel is
// done: the runner does next to nothing there (it sends the record), so a
// kernel silent that long is stuck or stopped.
const (
	kernelIdle = 30 * time.Second
	kernelGap  = 2 * time.Second
)

var errTooLong = errors.New("message too long")

// readLine reads one line of br, at most limit bytes. A long line is kept
// as copies of br's buffer and joined once, at its end: growing one slice
// by appending would hold about twice the line (the old array and the new
// one) at each step, and a line that proves too long would have cost that
// much before it is refused.
func readLine(br *bufio.Reader, limit int) ([]byte, error) {
	var parts [][]byte
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		if n+len(chunk) > limit {
			return nil, errTooLong
		}
		if err != bufio.ErrBufferFull && parts == nil {
			return append([]byte(nil), chunk...), err
		}
		parts = append(parts, append([]byte(nil), chunk...))
		n += len(chunk)
		if err != bufio.ErrBufferFull {
			return bytes.Join(parts, nil), err
		}
	}
}

func (s *kernelSession) handle(m kernelMsg) {
	s.mu.Lock()
	killed := s.killed != ""
	s.mu.Unlock()
	if killed && m.Type != "cell" && m.Type != "top" {
		// Once playbook has ended the kernel, what it still says of its
		// cells is not heard: a cell that forged an event cannot then
		// have its real end, or "done", accepted.
		return
	}
	switch m.Type {
	case "ready":
		if !s.ready {
			s.ready, s.readyIn, s.sandbox, s.refused = true, time.Since(s.started), m.Sandbox, m.Error
		}
	case "ask":
		// Before a cell starts, whether it runs (--step): the next cell,
		// asked once, while none runs.
		if s.running != nil || m.Index != s.lastIndex+1 || m.Index > len(s.sc.Cells) || s.asked == m.Index || s.opts.Gate == nil {
			s.kill(fmt.Sprintf("it asked whether cell %d runs out of turn", m.Index))
			return
		}
		s.asked = m.Index
		s.stopTimer() // the presenter takes the time they take
		answer := "stop"
		if s.opts.Gate(s.ctx, m.Index) {
			answer = "run"
		}
		_, _ = io.WriteString(s.ack, answer+"\n")
		s.idle(kernelGap)
	case "cell":
		if m.Index < 1 || m.Index > len(s.sc.Cells) {
			s.kill(fmt.Sprintf("it sent the record of a cell %d the scenario does not have", m.Index))
			return
		}
		if s.cells == nil {
			s.cells = make([][]byte, len(s.sc.Cells))
		}
		s.keep(&s.cells[m.Index-1], m.Record)
		if s.px.output != nil && s.running != nil && s.running.Index == m.Index {
			var c record.Cell
			if json.Unmarshal(m.Record, &c) == nil {
				s.px.output(m.Index, c)
			}
		}
	case "top":
		s.keep(&s.top, m.Record)
	case "retry":
		// The line is Retry's String: the kernel's words cannot hold a
		// control character, nor be longer than a line.
		if m.Retry != nil && s.px.retried != nil && s.retries < maxKernelRetries {
			s.retries++
			s.px.retried(*m.Retry)
		}
	case "event":
		if m.Event == nil {
			return
		}
		ev := *m.Event
		// The events must be the scenario's cells, in order: a cell
		// starts after the previous one ended, and ends once.
		if ev.Index < 1 || ev.Index > len(s.sc.Cells) || ev.Step != s.sc.Cells[ev.Index-1].Step {
			s.kill(fmt.Sprintf("it told of a cell %d %q the scenario does not have", ev.Index, ev.Step))
			return
		}
		if ev.Status == runner.StatusRunning {
			if s.running != nil || ev.Index != s.lastIndex+1 {
				s.kill(fmt.Sprintf("it told of cell %d (%s) starting out of order", ev.Index, ev.Step))
				return
			}
			s.running, s.lastIndex = &ev, ev.Index
			if s.opts.Progress != nil {
				s.opts.Progress(ev)
			}
			s.arm(ev)
			_, _ = io.WriteString(s.ack, s.px.beginCell(ev.Step)+"\n")
			return
		}
		if s.running == nil || s.running.Index != ev.Index {
			s.kill(fmt.Sprintf("it told of cell %d (%s) ending, which was not running", ev.Index, ev.Step))
			return
		}
		s.px.endCell()
		if s.opts.CellDone != nil {
			var c record.Cell
			if s.cells != nil && json.Unmarshal(s.cells[ev.Index-1], &c) == nil {
				b := s.base.Cells[ev.Index-1]
				c.Step, c.File, c.Line, c.Code, c.Timeout = b.Step, b.File, b.Line, b.Code, b.Timeout
				if c.Error != nil && filepath.IsAbs(c.Error.File) {
					c.Error.File = s.sc.Path // the kernel reads the scenario by its absolute path
				}
				s.opts.CellDone(ev.Index, c)
			}
		}
		if s.opts.Progress != nil {
			s.opts.Progress(ev)
		}
		s.running = nil
		s.idle(kernelGap)
	case "done":
		if s.running != nil {
			// The runner says done after its last cell ended: this is a
			// cell's word (it holds the descriptor), not the kernel's.
			s.kill(fmt.Sprintf("it said it was done while cell %d (%s) ran", s.running.Index, s.running.Step))
			return
		}
		s.done = true
		// The kernel exits once it said done: it gets kernelGap to do so.
		// A cell that forged the word and stopped the process (SIGSTOP,
		// no CPU used) would otherwise leave playbook waiting for ever.
		s.exitBy(kernelGap)
	}
}

// keep replaces *slot, a part of the record the kernel sent, by b within
// maxKernelRecord for all the parts together: a kernel that sends more
// (a cell writing to its descriptor) is ended, and its last parts within
// the bound are kept, so that playbook's memory stays bounded whatever
// the number of cells.
func (s *kernelSession) keep(slot *[]byte, b []byte) {
	total := len(s.top)
	for _, c := range s.cells {
		total += len(c)
	}
	if total-len(*slot)+len(b) > maxKernelRecord {
		s.kill(fmt.Sprintf("its record grew past %d MiB", maxKernelRecord>>20))
		return
	}
	*slot = b
}

// idle starts the watch of the time between two cells (or before the
// first, or after the last until the kernel is done): limit.
func (s *kernelSession) idle(limit time.Duration) {
	s.watch(limit, fmt.Sprintf("it was silent for %s between two cells", limit))
}

// exitBy ends the kernel if it has not exited within limit.
func (s *kernelSession) exitBy(limit time.Duration) {
	s.watch(limit, fmt.Sprintf("it did not exit within %s of saying it was done", limit))
}

// watch ends the kernel, for why, past limit, unless watched again
// before (the one timer of the session).
func (s *kernelSession) watch(limit time.Duration, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
	s.timer = time.AfterFunc(limit, func() { s.kill(why) })
}

// arm starts the watch of the cell ev: past its timeout and the grace,
// the kernel is ended.
func (s *kernelSession) arm(ev runner.Event) {
	timeout := runner.DefaultTimeout
	if i := ev.Index - 1; i >= 0 && i < len(s.sc.Cells) && s.sc.Cells[i].Timeout > 0 {
		timeout = s.sc.Cells[i].Timeout
	}
	s.watch(timeout+kernelGrace, fmt.Sprintf("step %s: timed out after %s (the kernel did not stop the cell: playbook ended it)", ev.Step, timeout))
}

func (s *kernelSession) stopTimer() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer != nil {
		s.timer.Stop()
	}
}

// kill ends the kernel and everything it started (its process group).
func (s *kernelSession) kill(why string) {
	s.mu.Lock()
	if s.killed == "" {
		s.killed = why
	}
	s.mu.Unlock()
	killGroup(s.cmd.Process)
}

// received is the run's record as the kernel last sent it, each cell's
// part on the scenario's record of it; nil when it sent none, or a top
// that is not a record.
func (s *kernelSession) received() *record.Run {
	if len(s.top) == 0 && s.cells == nil {
		return nil
	}
	rec := &record.Run{Schema: record.Schema}
	if len(s.top) > 0 {
		r, err := record.Read(bytes.NewReader(s.top))
		if err != nil {
			return nil
		}
		rec = r
	}
	rec.Cells = slices.Clone(s.base.Cells)
	for i, b := range s.cells {
		var c record.Cell
		if len(b) > 0 && json.Unmarshal(b, &c) == nil {
			rec.Cells[i] = c
		}
	}
	return rec
}

// finish builds the run's record and error from what the kernel sent and
// how it ended.
func (s *kernelSession) finish(waitErr error, stderr *kernelStderr) (*record.Run, error) {
	base := s.base
	rec := s.received()
	s.mu.Lock()
	killed := s.killed
	s.mu.Unlock()
	if rec == nil {
		// Nothing recorded yet: a record of the scenario, no cell run.
		rec = base
	}
	// What playbook knows itself is its own, not the kernel's word: the
	// scenario, its cells' code, the parameters, who ran it, where, when.
	rec.Schema, rec.Scenario, rec.Params = base.Schema, base.Scenario, base.Params
	for i := range rec.Cells {
		c, b := &rec.Cells[i], base.Cells[i]
		c.Step, c.File, c.Line, c.Code, c.Timeout = b.Step, b.File, b.Line, b.Code, b.Timeout
	}
	// The kernel read the scenario by its absolute path: errors name it
	// as it was given.
	if abs, err := filepath.Abs(s.sc.DiskPath()); err == nil {
		for _, e := range append([]*record.Error{rec.Error}, cellErrors(rec)...) {
			if e != nil && e.File == abs {
				e.File = s.sc.Path
			}
		}
	}
	env := base.Environment
	env.End, env.Exit, env.MLflowVersion = rec.Environment.End, rec.Environment.Exit, rec.Environment.MLflowVersion
	rec.Environment = env
	exit := "exit status 0"
	if waitErr != nil {
		exit = waitErr.Error()
	}
	rec.Environment.Isolation = s.isolation(exit)

	if s.done && waitErr == nil && killed == "" {
		return rec, errorOfRecord(rec)
	}
	// The kernel died: the cell that was running failed, with what it
	// printed (already in the record) and the kernel's last words.
	why := exit
	if killed != "" {
		why = killed
	}
	if !s.ready {
		why = "it did not start: " + why
	} else if s.refused != "" {
		why = "its sandbox could not be applied: " + s.refused
	}
	msg := "the kernel stopped (" + why + ")"
	if tail := kernelTail(stderr); tail != "" {
		msg += "; its last output: " + tail
	}
	e := &record.Error{Kind: record.ErrKernel, File: s.sc.Path, Message: msg}
	blame := s.running
	if blame == nil && (!s.done || killed != "") && s.lastIndex > 0 {
		// It said the cell ended, then nothing (or something playbook
		// ended it for): the cell is the last one seen, whatever the
		// kernel said of it.
		blame = &runner.Event{Index: s.lastIndex, Step: s.sc.Cells[s.lastIndex-1].Step}
	}
	if blame != nil {
		i := blame.Index - 1
		if i >= 0 && i < len(rec.Cells) {
			c := &rec.Cells[i]
			c.Status = record.StatusFailed
			c.Duration = record.Duration(time.Since(c.Start))
			e.Line, e.Step = c.Line, c.Step
			if killed != "" && strings.Contains(killed, "timed out") {
				e.Kind = record.ErrTimeout
			}
			c.Error = e
		}
	}
	rec.Error = e
	rec.Environment.End = time.Now()
	rec.Environment.Exit.Status = record.OutcomeFailed
	return rec, &runner.Error{Kind: e.Kind, File: e.File, Line: e.Line, Step: e.Step, Err: errors.New(msg)}
}

// isolation says what protected this kernel.
func (s *kernelSession) isolation(exit string) *record.Isolation {
	iso := &record.Isolation{Mode: "kernel process", CleanEnv: true, TimeoutGrace: record.Duration(kernelGrace),
		KernelStart: record.Duration(s.readyIn), Exit: exit, CellTokens: s.px.begin != nil}
	if r := s.sandbox; r != nil {
		iso.Sandboxed, iso.Landlock, iso.LandlockFS, iso.LandlockTCP = true, r.Landlock, r.LandlockFS, r.LandlockTCP
		iso.LandlockABI, iso.LandlockScoped = r.LandlockABI, r.LandlockScoped
		if r.SeccompActive {
			iso.Seccomp = r.Seccomp
			iso.ExecRefused, iso.NoProcesses, iso.PrivilegedRefused, iso.Sockets = r.ExecRefused, r.NoProcesses, r.PrivilegedRefused, r.Sockets
		}
		iso.Rlimits, iso.Capabilities = r.Rlimits, r.Capabilities
		iso.NoNetwork = r.SeccompActive && s.px.serve != nil // no socket created; the proxy's connections handed
	}
	return iso
}

// kernelStderr keeps the start and the end of what the kernel writes to
// stderr: a Go runtime's fatal error is at the start of its trace.
type kernelStderr struct {
	mu   sync.Mutex
	head []byte
	tail tailbuf.Buffer
}

const kernelHead = 4 << 10

func (k *kernelStderr) Write(p []byte) (int, error) {
	k.mu.Lock()
	if room := kernelHead - len(k.head); room > 0 {
		k.head = append(k.head, p[:min(room, len(p))]...)
	}
	k.mu.Unlock()
	return k.tail.Write(p)
}

// kernelTail says what the kernel last said: the first line of a Go
// runtime's fatal error or panic when there is one (the rest is its
// trace), else its last lines, joined.
func kernelTail(k *kernelStderr) string {
	k.mu.Lock()
	head := string(k.head)
	k.mu.Unlock()
	for _, l := range strings.Split(head, "\n") {
		l = strings.TrimSpace(l)
		for _, p := range []string{"fatal error:", "panic:", "runtime: ", "unexpected signal", "SIGSEGV"} {
			if strings.HasPrefix(l, p) {
				return l
			}
		}
	}
	return k.tail.Last(6)
}

// cellErrors returns the errors of rec's cells.
func cellErrors(rec *record.Run) []*record.Error {
	var errs []*record.Error
	for i := range rec.Cells {
		if e := rec.Cells[i].Error; e != nil {
			errs = append(errs, e)
		}
	}
	return errs
}

// errorOfRecord is the error of a run the kernel finished, rebuilt from
// its record (the error values stayed in the kernel).
func errorOfRecord(rec *record.Run) error {
	e := rec.Error
	if e == nil {
		return nil
	}
	var cause error = errors.New(e.Message)
	if rec.Environment.Exit.Status == record.OutcomeRefused {
		cause = refusedError{cause}
	}
	return &runner.Error{Kind: e.Kind, File: e.File, Line: e.Line, Step: e.Step, Err: cause}
}

// refusedError is a gate's refusal told by the kernel.
type refusedError struct{ error }

func (refusedError) GateRefused() bool { return true }
