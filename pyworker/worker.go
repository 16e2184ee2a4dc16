// Package pyworker scores MLflow models in Python with MLflow's own pyfunc:
// a worker process (worker.py, embedded) started once and kept for a whole
// run, fed rows as Arrow IPC streams and answering with float64 columns.
// It is how playbook validates and infers with models of any
// python_function flavor (scikit-learn, xgboost, a PythonModel...), while
// metrics, fairness and plots stay in Go.
package pyworker

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/playbook-mlops/playbook/internal/tailbuf"
)

//go:embed worker.py
var workerSource string

// EnvPython names the variable that chooses the worker's interpreter when
// no --python is given.
const EnvPython = "PLAYBOOK_PYTHON"

// ErrNoPython is returned by FindPython when no interpreter that imports
// mlflow can be found.
var ErrNoPython = errors.New("no Python that imports mlflow")

// FindPython returns the interpreter to run the worker with: explicit when
// given, else $PLAYBOOK_PYTHON, else a python3 on PATH; the one chosen must
// import mlflow. The error says what was tried and what to do.
func FindPython(explicit string) (string, error) {
	candidate, from, err := Candidate(explicit)
	if err != nil {
		return "", fmt.Errorf("%w: %v; install Python with mlflow (pip install mlflow) and pass --python or set %s", ErrNoPython, err, EnvPython)
	}
	check := exec.Command(candidate, "-c", "import mlflow, pyarrow")
	check.Env = Environ()
	out, err := check.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%w: %s (from %s) cannot import mlflow and pyarrow (%v: %s); install them (pip install mlflow) or choose another interpreter with --python or %s",
			ErrNoPython, candidate, from, err, lastLine(out), EnvPython)
	}
	return candidate, nil
}

// Candidate returns the interpreter the run would use, unchecked, and
// where it comes from: explicit (--python) when given, else
// $PLAYBOOK_PYTHON, else a python3 on PATH.
func Candidate(explicit string) (path, from string, err error) {
	switch {
	case explicit != "":
		return explicit, "--python", nil
	case os.Getenv(EnvPython) != "":
		return os.Getenv(EnvPython), EnvPython, nil
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		return "", "", errors.New("no python3 on PATH")
	}
	return p, "PATH", nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// keptEnv are the variables of playbook's environment the worker keeps:
// what Python and its packages need to start, nothing that may hold a
// secret (tokens, passwords, cloud credentials stay in playbook).
var keptEnv = []string{"PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ",
	"VIRTUAL_ENV", "CONDA_PREFIX", "PYTHONPATH", "PYTHONHOME", "PYENV_ROOT", "PYENV_VERSION"}

// Environ returns the worker's environment: keptEnv from the current one,
// and MLflow's telemetry off.
func Environ() []string {
	var env []string
	for _, k := range keptEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true")
}

// Info describes the worker's interpreter.
type Info struct {
	Python string `json:"python"`
	MLflow string `json:"mlflow"`
}

// Worker is a running Python worker. Its methods are safe for concurrent
// use; requests are answered one at a time.
type Worker struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	info   Info
	tail   *tailbuf.Buffer // the end of its stderr, for the error when it dies

	remote bool // relayed: no process of its own (Connect)

	mu     sync.Mutex
	closed bool
	dead   error // why it stopped on its own, nil if it did not
}

// Start starts a worker with the interpreter python (see FindPython).
// Its stderr (tracebacks, what models print) goes to stderr when not nil.
// Env, when not nil, is the worker's environment (else the current one).
func Start(python string, stderr io.Writer, env []string) (*Worker, error) {
	cmd := exec.Command(python, "-u", "-c", workerSource)
	cmd.Env = env
	tail := &tailbuf.Buffer{Max: 4 << 10}
	cmd.Stderr = tail
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, tail)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pyworker: starting %s: %w", python, err)
	}
	w := &Worker{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 1<<16), tail: tail}
	var info Info
	if _, err := w.call(map[string]any{"op": "hello"}, nil, &info); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("pyworker: %s: %w", python, err)
	}
	w.info = info
	return w, nil
}

// Connect returns a Worker that talks to a worker playbook runs elsewhere
// over conn: a kernel process's, which its parent starts and relays
// (Relay). Such a worker loads a model by its artifacts' URI only
// (LoadArtifacts): the parent downloads them from the registry itself, so
// that the kernel never has code of its own run outside its sandbox.
func Connect(conn io.ReadWriteCloser) (*Worker, error) {
	w := &Worker{stdin: conn, stdout: bufio.NewReaderSize(conn, 1<<16), tail: &tailbuf.Buffer{Max: 1}, remote: true}
	var info Info
	if _, err := w.call(map[string]any{"op": "hello"}, nil, &info); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("pyworker: the relayed worker: %w", err)
	}
	w.info = info
	return w, nil
}

// Remote reports whether w is relayed (Connect): it loads models with
// LoadArtifacts, not Load.
func (w *Worker) Remote() bool { return w.remote }

// LoadArtifacts asks a relayed worker to load the model whose artifacts
// are at uri (what the registry's get-download-uri says of a version);
// the relay downloads them itself.
func (w *Worker) LoadArtifacts(uri string) (*Model, error) {
	m := &Model{w: w}
	if _, err := w.call(map[string]any{"op": "load_artifacts", "uri": uri}, nil, m); err != nil {
		return nil, fmt.Errorf("loading %s in Python: %w", uri, err)
	}
	return m, nil
}

// relayedOps are the requests a relay passes on: a remote worker may not
// name a folder to load (load), nor stop the worker (close).
var relayedOps = map[string]bool{"hello": true, "predict": true, "load_artifacts": true}

// Relay serves a remote worker's requests on conn (see Connect) with w,
// one at a time, until conn is closed or sends close: each goes to w
// unchanged, but load_artifacts, which fetch turns into a folder of this
// process w then loads. Other requests are answered with an error and not
// passed on.
func Relay(conn io.ReadWriter, w *Worker, fetch func(uri string) (dir string, err error)) error {
	in := bufio.NewReaderSize(conn, 1<<16)
	for {
		header, payload, err := readFrame(in)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var req map[string]any
		if err := json.Unmarshal(header, &req); err != nil {
			return fmt.Errorf("pyworker relay: a request: %w", err)
		}
		op, _ := req["op"].(string)
		if op == "close" {
			return nil
		}
		delete(req, "payload")
		if !relayedOps[op] {
			if err := writeFrame(conn, map[string]any{"error": fmt.Sprintf("request %q is not relayed", op)}, nil); err != nil {
				return err
			}
			continue
		}
		if op == "load_artifacts" {
			uri, _ := req["uri"].(string)
			dir, err := fetch(uri)
			if err != nil {
				if err := writeFrame(conn, map[string]any{"error": err.Error()}, nil); err != nil {
					return err
				}
				continue
			}
			req = map[string]any{"op": "load", "path": dir}
		}
		rh, rp, err := w.callRaw(req, payload)
		if err != nil {
			return err // the worker died: the remote side sees the connection end
		}
		var reply map[string]any
		if err := json.Unmarshal(rh, &reply); err != nil {
			return err
		}
		delete(reply, "payload")
		if err := writeFrame(conn, reply, rp); err != nil {
			return err
		}
	}
}

// callRaw sends one request and returns the answer's header and payload
// as they are, errors included in the header.
func (w *Worker) callRaw(req map[string]any, payload []byte) ([]byte, []byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.dead != nil {
		return nil, nil, w.dead
	}
	if w.closed {
		return nil, nil, errors.New("pyworker: the worker is closed")
	}
	if err := writeFrame(w.stdin, req, payload); err != nil {
		return nil, nil, w.died(err)
	}
	header, body, err := readFrame(w.stdout)
	if err != nil {
		return nil, nil, w.died(err)
	}
	return header, body, nil
}

// Info returns the worker's Python and MLflow versions.
func (w *Worker) Info() Info { return w.info }

// Close asks the worker to stop and waits for it.
func (w *Worker) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	_ = writeFrame(w.stdin, map[string]any{"op": "close"}, nil)
	_ = w.stdin.Close()
	if w.cmd == nil {
		return nil
	}
	return w.cmd.Wait()
}

// reply is the common part of the worker's answers.
type reply struct {
	Error   string `json:"error"`
	Payload int    `json:"payload"`
}

// call sends one request and decodes the answer's header into v,
// returning its payload.
func (w *Worker) call(req map[string]any, payload []byte, v any) ([]byte, error) {
	header, body, err := w.callRaw(req, payload)
	if err != nil {
		return nil, err
	}
	var r reply
	if err := json.Unmarshal(header, &r); err != nil {
		return nil, fmt.Errorf("the worker's answer: %w", err)
	}
	if r.Error != "" {
		return nil, errors.New(r.Error)
	}
	if v != nil {
		if err := json.Unmarshal(header, v); err != nil {
			return nil, fmt.Errorf("the worker's answer: %w", err)
		}
	}
	return body, nil
}

// died returns the error of a call the worker did not answer: it has
// stopped (its exit status and the last lines it wrote to stderr say why)
// and later calls fail at once. w.mu is held.
func (w *Worker) died(err error) error {
	w.closed = true
	_ = w.stdin.Close()
	if w.cmd != nil {
		if werr := w.cmd.Wait(); werr != nil {
			err = werr
		}
	}
	msg := fmt.Sprintf("the Python worker stopped (%v)", err)
	if last := w.tail.Last(5); last != "" {
		msg += ": " + last
	}
	w.dead = errors.New(msg)
	return w.dead
}

// maxFrame bounds a header or payload read from the worker.
const maxFrame = 1 << 31

func writeFrame(w io.Writer, header map[string]any, payload []byte) error {
	if len(payload) > 0 {
		header["payload"] = len(payload)
	}
	h, err := json.Marshal(header)
	if err != nil {
		return err
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(h)))
	if _, err := w.Write(append(n[:], h...)); err != nil {
		return err
	}
	if len(payload) > 0 {
		_, err = w.Write(payload)
	}
	return err
}

func readFrame(r *bufio.Reader) (header, payload []byte, err error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, nil, err
	}
	header = make([]byte, binary.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, nil, err
	}
	var p struct {
		Payload int64 `json:"payload"`
	}
	if err := json.Unmarshal(header, &p); err != nil {
		return nil, nil, err
	}
	if p.Payload < 0 || p.Payload > maxFrame {
		return nil, nil, fmt.Errorf("payload of %d bytes", p.Payload)
	}
	if p.Payload > 0 {
		payload = make([]byte, p.Payload)
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, nil, err
		}
	}
	return header, payload, nil
}

// Model is a model loaded in the worker.
type Model struct {
	w *Worker
	// ID is the model's number in the worker.
	ID string `json:"model"`
	// Flavors are the flavors of its MLmodel file, sorted.
	Flavors []string `json:"flavors"`
	// Proba says the model gives probabilities (PredictProba works).
	Proba bool `json:"proba"`
	// Classes are a classifier's classes as strings, when known.
	Classes []string `json:"classes"`
	// Inputs are the named input columns of its signature ([name, type]),
	// nil without one.
	Inputs [][2]string `json:"inputs"`

	last atomic.Int64 // ns inside the model's predict, last call
}

// LastPredictTime returns the time the last PredictProba or PredictLabels
// spent inside the model's own predict in Python: the rest of the call is
// the transport's overhead.
func (m *Model) LastPredictTime() time.Duration { return time.Duration(m.last.Load()) }

// Load loads the MLflow model folder dir with mlflow.pyfunc.load_model
// (and mlflow.sklearn.load_model for the sklearn flavor).
func (w *Worker) Load(dir string) (*Model, error) {
	m := &Model{w: w}
	if _, err := w.call(map[string]any{"op": "load", "path": dir}, nil, m); err != nil {
		return nil, fmt.Errorf("loading %s in Python: %w", dir, err)
	}
	return m, nil
}

// PredictProba returns each row's probability of the class positive.
func (m *Model) PredictProba(f *Frame, positive string) ([]float64, error) {
	return m.predict(f, "proba", positive)
}

// PredictLabels returns 1 for each row predicted positive, else 0.
func (m *Model) PredictLabels(f *Frame, positive string) ([]float64, error) {
	return m.predict(f, "labels", positive)
}

func (m *Model) predict(f *Frame, method, positive string) ([]float64, error) {
	var buf bytes.Buffer
	if err := f.WriteArrow(&buf); err != nil {
		return nil, err
	}
	var r struct {
		Rows    int     `json:"rows"`
		Kind    string  `json:"kind"`
		Seconds float64 `json:"seconds"`
	}
	body, err := m.w.call(map[string]any{"op": "predict", "model": m.ID, "method": method, "positive": positive}, buf.Bytes(), &r)
	if err != nil {
		return nil, err
	}
	if len(body) != 8*r.Rows || r.Rows != f.Rows() {
		return nil, fmt.Errorf("the worker answered %d values (%d bytes) for %d rows", r.Rows, len(body), f.Rows())
	}
	m.last.Store(int64(r.Seconds * 1e9))
	out := make([]float64, r.Rows)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(body[8*i:]))
	}
	return out, nil
}
