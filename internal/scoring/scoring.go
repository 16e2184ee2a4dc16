// Package scoring starts and stops MLflow's scoring server, `mlflow models
// serve`, for a run: steps.Serve in playbook's own process, and playbook
// for a kernel process, which starts no program itself.
package scoring

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/pyworker"

	"github.com/playbook-mlops/playbook/internal/tailbuf"
)

// Process is a running `mlflow models serve`.
type Process struct {
	cmd *exec.Cmd
	// URL is where it listens (http://127.0.0.1:PORT), Port its port.
	URL  string
	Port int
	// Started is when it was started, ReadyIn the time to its first /ping.
	Started time.Time
	ReadyIn time.Duration
	logs    *tailbuf.Buffer
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed

	once    sync.Once
	outcome string
}

// Start starts the scoring server of source with python and waits
// until it answers /ping: within timeout, or until ctx ends, or until it
// exits (its last lines of output then say why).
func Start(ctx context.Context, python, source, trackingURI string, timeout time.Duration) (*Process, error) {
	port, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	cmd := exec.Command(python, "-m", "mlflow", "models", "serve", "-m", source,
		"--env-manager", "local", "-h", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Env = Environ(python, trackingURI)
	cmd.Dir = os.TempDir()
	logs := &tailbuf.Buffer{Max: 64 << 10}
	cmd.Stdout, cmd.Stderr = logs, logs
	ownProcessGroup(cmd)
	p := &Process{cmd: cmd, URL: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, logs: logs, exited: make(chan struct{})}
	p.Started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting `%s -m mlflow models serve`: %w", python, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, timeout); err != nil {
		p.Stop()
		return nil, err
	}
	p.ReadyIn = time.Since(p.Started)
	return p, nil
}

// Environ is the scoring server's environment: pyworker.Environ's
// (no secrets), python's folder first on PATH (uvicorn is run from there),
// and the tracking URI, credentials removed.
func Environ(python, trackingURI string) []string {
	var env []string
	path := filepath.Dir(python)
	for _, kv := range pyworker.Environ() {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path += string(os.PathListSeparator) + v
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH="+path, mlflow.EnvTrackingURI+"="+trackingURI)
}

// pingInterval is how often waitReady asks /ping.
const pingInterval = 100 * time.Millisecond

func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pingInterval)
	defer tick.Stop()
	for {
		resp, err := client.Get(p.URL + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("`mlflow models serve` exited before answering /ping (%v); its last lines:\n%s", p.waitErr, LastLines(p.logs, 20))
		case <-deadline.C:
			return fmt.Errorf("`mlflow models serve` did not answer %s/ping within %s; its last lines:\n%s", p.URL, timeout, LastLines(p.logs, 20))
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s/ping: %w; its last lines:\n%s", p.URL, ctx.Err(), LastLines(p.logs, 20))
		case <-tick.C:
		}
	}
}

// stopGrace is how long stop waits after SIGTERM before SIGKILL.
const stopGrace = 10 * time.Second

// Stop ends the server's process group, SIGTERM then, after stopGrace,
// SIGKILL, and waits for the process; it says how it ended. It is safe to
// call more than once.
func (p *Process) Stop() string {
	p.once.Do(func() {
		select {
		case <-p.exited:
			p.outcome = fmt.Sprintf("exited before the end of the run (%v)", p.waitErr)
			killGroup(p.cmd) // what it may have left in its group
			return
		default:
		}
		terminateGroup(p.cmd)
		select {
		case <-p.exited:
			p.outcome = "terminated"
		case <-time.After(stopGrace):
			p.outcome = "killed"
		}
		killGroup(p.cmd)
		<-p.exited
	})
	return p.outcome
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// LastLines returns the last n lines written to b.
func LastLines(b *tailbuf.Buffer, n int) string {
	lines := b.Lines()
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// PID returns the server's process id, the leader of its process group.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Args returns the server's command line.
func (p *Process) Args() []string { return p.cmd.Args }

// MaxAnswer bounds the answer of /invocations Invoke reads.
const MaxAnswer = 64 << 20

// Invoke posts body, a JSON request (MLflow's dataframe_split), to the
// server's /invocations and returns the answer's status and body.
func (p *Process) Invoke(ctx context.Context, body []byte) (int, []byte, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL+"/invocations", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, data, nil
}
