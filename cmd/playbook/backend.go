package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/server"
)

// errNoTrackingURI is returned when a command needs an MLflow server and
// none is named.
var errNoTrackingURI = errors.New("no tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI")

// newClient returns an MLflow client configured from MLflow's environment
// variables, the tracking URI taken from flagURI when it is not empty.
func newClient(flagURI string, opts ...mlflow.Option) (*mlflow.Client, error) {
	cfg, err := mlflow.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, errUsage(err)
	}
	if flagURI != "" && flagURI != cfg.TrackingURI {
		cfg.TrackingURI, cfg.TrackingURIFrom = flagURI, "--tracking-uri"
	}
	if cfg.TrackingURI == "" {
		return nil, errUsage(errNoTrackingURI)
	}
	c, err := mlflow.New(cfg, append([]mlflow.Option{mlflow.WithUserAgent("playbook/" + userAgentVersion())}, opts...)...)
	if err != nil {
		return nil, errUsage(err)
	}
	return c, nil
}

// checkMLflowConfig checks MLflow's configuration before anything runs:
// the MLFLOW_* variables (always when env is set, as the embedded server's
// client reads them too) and, when a tracking URI is named (flagURI or
// $MLFLOW_TRACKING_URI), the client they and it make. What is wrong is a
// usage error, exit 2: MLFLOW_TRACKING_INSECURE_TLS=maybe is not blamed on
// the first step that calls MLflow.
func checkMLflowConfig(flagURI string, env bool) error {
	named := flagURI != "" || strings.TrimSpace(os.Getenv(mlflow.EnvTrackingURI)) != ""
	if named {
		_, err := newClient(flagURI)
		return err
	}
	if env {
		if _, err := mlflow.ConfigFromEnv(os.Getenv); err != nil {
			return errUsage(err)
		}
	}
	return nil
}

// backend is the tracking server of one command: the one named by
// --tracking-uri or MLFLOW_TRACKING_URI, else an embedded server on a data
// directory, started on first use (a scenario that never calls MLflow
// creates no data directory) and announced on stderr.
type backend struct {
	flagURI  string // the named server; "" for an embedded one
	dataDir  string
	stderr   io.Writer
	terminal bool // stderr is a terminal: clear the progress line first
	// inMemory: playbook's own client of the embedded server calls its
	// handler in process (server.Server.Transport), not over loopback TCP.
	// Set for a kernel's runs, where that client is the registry proxy's,
	// which forwards every call of the kernel: in process, cells' calls
	// go over TCP as they always did.
	inMemory bool
	// retried, when set, is told of each retry of playbook's own client
	// (see retryNotice).
	retried func(mlflow.Retry)
	// addr, when set, is where the embedded server listens (else a free
	// port of 127.0.0.1): playbook watch keeps its address from run to
	// run, so that the links of its page keep working. A busy addr falls
	// back to a free port.
	addr string
	// quiet: the embedded server is not announced (watch says it once).
	quiet bool

	mu          sync.Mutex
	srv         *server.Server
	embeddedURI string // the embedded server's URI once started
}

func newBackend(flagURI, dataDir string, stderr io.Writer, terminal bool) *backend {
	if flagURI == "" {
		flagURI = os.Getenv(mlflow.EnvTrackingURI)
	}
	if dataDir == "" {
		dataDir = server.DefaultDataDir
	}
	return &backend{flagURI: flagURI, dataDir: dataDir, stderr: stderr, terminal: terminal}
}

// embedded reports whether the backend is an embedded server.
func (b *backend) embedded() bool { return b.flagURI == "" }

// recordedURI is what a run record says about the server: its URI, or
// "embedded:" and the data directory.
func (b *backend) recordedURI() string {
	if !b.embedded() {
		return b.flagURI
	}
	abs, err := filepath.Abs(b.dataDir)
	if err != nil {
		abs = b.dataDir
	}
	return "embedded:" + filepath.ToSlash(abs)
}

// client returns a client of the backend, starting the embedded server
// the first time.
func (b *backend) client(ctx context.Context) (*mlflow.Client, error) {
	var opts []mlflow.Option
	if b.retried != nil {
		opts = append(opts, mlflow.WithLogger(slog.New(mlflow.RetryHandler(b.retried))))
	}
	if !b.embedded() {
		return newClient(b.flagURI, opts...)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		srv, err := server.Open(ctx, server.Config{DataDir: b.dataDir})
		if err != nil {
			return nil, fmt.Errorf("embedded tracking server: %w", err)
		}
		uri, err := "", errors.New("no address")
		if b.addr != "" {
			uri, err = srv.Start(b.addr)
		}
		if err != nil {
			uri, err = srv.Start("127.0.0.1:0")
		}
		if err != nil {
			srv.Close()
			return nil, fmt.Errorf("embedded tracking server: %w", err)
		}
		b.srv = srv
		b.embeddedURI = uri
		if !b.quiet {
			if b.terminal {
				fmt.Fprint(b.stderr, "\r\033[K")
			}
			fmt.Fprintf(b.stderr, "playbook: no tracking URI given: using the embedded tracking server at %s, data in %s\n", uri, srv.DataDir())
		}
	}
	if b.inMemory {
		return newClient(b.embeddedURI, append(opts, mlflow.WithHTTPClient(&http.Client{Transport: b.srv.Transport()}))...)
	}
	return newClient(b.embeddedURI, opts...)
}

// retryNotice returns what prints, on w, a progress line for each retry
// of an MLflow client: "retrying GET /api/2.0/mlflow/..., attempt 3 of 7,
// next in 8 s" (mlflow.Retry's String: a path without its query, no host,
// no credentials). On a terminal the line of the running cell is cleared
// first; its ticker draws it again below.
func retryNotice(w io.Writer, terminal bool) func(mlflow.Retry) {
	var mu sync.Mutex
	return func(r mlflow.Retry) {
		line := r.String() + "\n"
		if terminal {
			line = "\r\033[K" + line
		}
		mu.Lock()
		defer mu.Unlock()
		_, _ = io.WriteString(w, line)
	}
}

// Close stops the embedded server, if one was started.
func (b *backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return nil
	}
	err := b.srv.Close()
	b.srv = nil
	return err
}

// isTerminal reports whether f is a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
