package notebook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"sync"

	"github.com/playbook-mlops/playbook/internal/atomicfile"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"
)

// ErrNoServer is Client's error when the run has no tracking server.
var ErrNoServer = errors.New("no tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI")

// ErrNoOutDir is WriteFile's error when the run has no output folder.
var ErrNoOutDir = errors.New("no output folder: run with --out DIR")

// ErrOutsideOutDir is WriteFile's error for a name that would leave the
// run's output folder (absolute, "..", or through a symbolic link).
var ErrOutsideOutDir = errors.New("the path leaves the run's output folder")

// ErrFileTooLarge is WriteFile's error for a file over MaxFileSize, or one
// that would take the run's cell files over MaxRunFilesSize.
var ErrFileTooLarge = errors.New("over the size limit of the files cells write")

// The limits of what cells write with WriteFile: each file at most
// MaxFileSize bytes, all the files of one run at most MaxRunFilesSize.
const (
	MaxFileSize     = 16 << 20
	MaxRunFilesSize = 64 << 20
)

// maxStream caps what one cell may print (stdout and stderr together), so a
// runaway loop cannot make the run record many megabytes.
const maxStream = 1 << 20

// Options configure a Playbook.
type Options struct {
	// Run is the record the Playbook fills. Its Cells must already list
	// the scenario's cells (the runner does it).
	Run *record.Run
	// Connect returns the MLflow client, once, on first use; nil means the
	// run has no tracking server. Several runs may share one client.
	Connect func() (*mlflow.Client, error)
	// OutDir is the run's output folder; WriteFile refuses to write when
	// it is empty.
	OutDir string
	// ScenarioDir is the folder of the scenario's file: steps read the
	// data files a scenario names inside it, and only there. Empty means
	// the run has none, and steps read no data file.
	ScenarioDir string
	// DryRun asks steps to read the registry but not change it.
	DryRun bool
	// Capture, when set, screenshots pages of the MLflow UI for the
	// evidence (the verify step's capture); cmd/playbook gives one backed
	// by headless Chromium. Nil means the run has none.
	Capture *Capturer
	// Python starts the run's Python worker, once, on first use, for
	// models of a python_function flavor; nil means the run has none.
	// Controller.Close stops the worker it started.
	Python func() (*pyworker.Worker, error)
	// Interpreter returns the Python interpreter (with mlflow) of the
	// Python processes a step starts beside the worker (the scoring server
	// of `mlflow models serve`), found once, on first use; nil means the
	// run has none.
	Interpreter func() (string, error)
	// ModelEnvs, when set, builds each python_function model's own
	// environment from its python_env.yaml (--env-manager virtualenv or
	// uv): the worker that scores the model and the scoring server that
	// serves it run there, started by StartWorker and with the
	// environment's interpreter. Nil scores and serves every model with
	// Python and Interpreter (--env-manager local).
	ModelEnvs *pyworker.Envs
	// StartWorker starts a worker with the interpreter python (an
	// environment's); needed with ModelEnvs. Controller.Close stops the
	// workers it started.
	StartWorker func(python string) (*pyworker.Worker, error)
	// Parent, in a kernel process, is what the kernel asks playbook for
	// instead of starting programs: ModelEnvs and StartWorker are then
	// unused.
	Parent *Parent
}

// A Capturer screenshots pages of the MLflow UI.
type Capturer struct {
	// Width and Height are the screenshots' size, in pixels: their width,
	// and the height of their first screen (a whole page is taller).
	Width, Height int
	// ModelPage returns a PNG screenshot of a registered model's page, or
	// of one of its versions' (ModelURL + "/versions/N"), at url, taken
	// once the page shows the model's name and each of want (its aliases,
	// a tag's name); its error says why there is none.
	ModelPage func(ctx context.Context, url, model string, want []string) ([]byte, error)
}

// Playbook is the handle cells and step functions reach the run through:
// cells see it as pb. It carries the current cell's context (with its
// timeout), the MLflow client, the run record to keep evidence in, the
// current cell's outputs, and the run's output folder.
//
// Its methods are safe for concurrent use. Once the run has ended, what is
// written to it is dropped.
type Playbook struct {
	mu     sync.Mutex
	run    *record.Run
	ctx    context.Context
	cell   *record.Cell
	step   string
	stream int // bytes the current cell printed
	closed bool

	connect   func() (*mlflow.Client, error)
	clientMu  sync.Mutex
	client    *mlflow.Client
	clientErr error
	connected bool

	outDir      string
	scenarioDir string
	written     int64 // bytes WriteFile wrote
	dryRun      bool
	capture     *Capturer

	python    func() (*pyworker.Worker, error)
	pyMu      sync.Mutex
	py        *pyworker.Worker
	pyErr     error
	pyStarted bool
	pyClosed  bool // the run has ended: no worker starts

	interpreter func() (string, error)
	interpOnce  sync.Once
	interp      string
	interpErr   error

	envs        *pyworker.Envs
	startWorker func(python string) (*pyworker.Worker, error)
	parent      *Parent
	envWorkers  map[string]*pyworker.Worker // by interpreter, under pyMu
	envsKept    map[string]bool             // environments in the evidence, by key, under pyMu

	closeMu sync.Mutex
	onClose []func()
	closing bool
}

// New returns a Playbook for one run and its Controller.
func New(opts Options) (*Playbook, *Controller) {
	pb := &Playbook{run: opts.Run, connect: opts.Connect, outDir: opts.OutDir, scenarioDir: opts.ScenarioDir, dryRun: opts.DryRun, capture: opts.Capture,
		python: opts.Python, interpreter: opts.Interpreter, envs: opts.ModelEnvs, startWorker: opts.StartWorker, parent: opts.Parent, ctx: context.Background()}
	if pb.run == nil {
		pb.run = &record.Run{Schema: record.Schema}
	}
	return pb, &Controller{pb: pb}
}

// Context returns the current cell's context: it is cancelled when the cell
// times out or the run is interrupted. Step functions pass it to every call
// that may block.
func (p *Playbook) Context() context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ctx
}

// Step returns the name of the current cell's step.
func (p *Playbook) Step() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.step
}

// Client returns the run's MLflow client, or ErrNoServer when the run has
// no tracking server.
func (p *Playbook) Client() (*mlflow.Client, error) {
	p.clientMu.Lock()
	defer p.clientMu.Unlock()
	if !p.connected {
		p.connected = true
		if p.connect == nil {
			p.clientErr = ErrNoServer
		} else {
			p.client, p.clientErr = p.connect()
			if p.client == nil && p.clientErr == nil {
				p.clientErr = ErrNoServer
			}
			if p.client != nil {
				p.clientErr = p.probe()
				if p.clientErr != nil {
					p.client = nil
				}
			}
		}
	}
	return p.client, p.clientErr
}

// OutDir returns the run's output folder, or "" when there is none.
func (p *Playbook) OutDir() string { return p.outDir }

// ScenarioDir returns the folder of the scenario's file, the only folder
// steps read the data files a scenario names from, or "" when the run has
// none.
func (p *Playbook) ScenarioDir() string { return p.scenarioDir }

// DryRun reports whether steps must leave the registry unchanged.
func (p *Playbook) DryRun() bool { return p.dryRun }

// WriteFile writes data to name, a slash-separated path inside the run's
// output folder, creating folders as needed, and records the file in the
// evidence. Absolute names, "..", and paths through a symbolic link (a
// subfolder that is a link) are refused with ErrOutsideOutDir. The file
// is written atomically (a temporary file renamed over name): a symbolic
// link already at name is replaced, not written through. A file over
// MaxFileSize, or one that would take what the run's cells wrote over
// MaxRunFilesSize, is refused with ErrFileTooLarge.
func (p *Playbook) WriteFile(name string, data []byte) error {
	if p.outDir == "" {
		return fmt.Errorf("pb.WriteFile %q: %w", name, ErrNoOutDir)
	}
	local := filepath.FromSlash(name)
	if name == "" || !filepath.IsLocal(local) {
		return fmt.Errorf("pb.WriteFile %q: %w", name, ErrOutsideOutDir)
	}
	size := int64(len(data))
	if size > MaxFileSize {
		return fmt.Errorf("pb.WriteFile %q: %d bytes: %w: a cell may write at most %s per file", name, size, ErrFileTooLarge, mib(MaxFileSize))
	}
	p.mu.Lock()
	if p.written+size > MaxRunFilesSize {
		written := p.written
		p.mu.Unlock()
		return fmt.Errorf("pb.WriteFile %q: %d bytes after the %d already written: %w: the cells of a run may write at most %s in all", name, size, written, ErrFileTooLarge, mib(MaxRunFilesSize))
	}
	p.written += size // reserved; given back if the write fails
	p.mu.Unlock()
	if err := atomicfile.WriteFile(p.outDir, name, data, 0o644); err != nil {
		p.mu.Lock()
		p.written -= size
		p.mu.Unlock()
		if errors.Is(err, atomicfile.ErrOutside) {
			return fmt.Errorf("pb.WriteFile %q: %w (%w)", name, ErrOutsideOutDir, err)
		}
		return fmt.Errorf("pb.WriteFile %q: %w", name, err)
	}
	sum := sha256.Sum256(data)
	Update(p, func(r *record.Run) {
		r.Evidence.Files = append(r.Evidence.Files, record.File{
			Step: p.step, Name: path.Clean(filepath.ToSlash(local)), Size: size, SHA256: hex.EncodeToString(sum[:]),
		})
	})
	return nil
}

// mib writes a limit in MiB.
func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }

// Stdout returns a writer to the current cell's printed output: what step
// functions print there shows under the cell, like what the cell prints.
func (p *Playbook) Stdout() io.Writer { return stream{p, record.OutputStdout} }

// Printf prints to the current cell's output.
func (p *Playbook) Printf(format string, a ...any) {
	fmt.Fprintf(p.Stdout(), format, a...)
}

// addOutput appends o to the current cell's outputs; p.mu must be held.
func (p *Playbook) addOutput(o record.Output) {
	if p.closed || p.cell == nil {
		return
	}
	p.cell.Outputs = append(p.cell.Outputs, o)
}

// stream is the writer of a cell's stdout or stderr.
type stream struct {
	p    *Playbook
	kind string
}

func (s stream) Write(b []byte) (int, error) {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.cell == nil {
		return len(b), nil
	}
	outs := p.cell.Outputs
	var last *record.Output
	if n := len(outs); n > 0 && outs[n-1].Kind == s.kind {
		last = &outs[n-1]
	} else {
		p.cell.Outputs = append(outs, record.Output{Kind: s.kind})
		last = &p.cell.Outputs[len(p.cell.Outputs)-1]
	}
	text := b
	if room := maxStream - p.stream; len(text) > room {
		text = text[:max(room, 0)]
	}
	p.stream += len(text)
	last.Text += string(text)
	if len(text) < len(b) && !last.Truncated {
		last.Truncated = true
		last.Text += "\n… output truncated: a cell may print at most 1 MiB\n"
	}
	return len(b), nil
}

// probe asks the new client's server for its version, which the audit
// block names. A server that cannot be reached fails the connection at once,
// rather than each later call waiting out its own retries again; one that
// answers /version with 404 is not an MLflow tracking server. Any other
// refusal leaves the version unknown.
func (p *Playbook) probe() error {
	v, err := p.client.ServerVersion(p.Context())
	var apiErr *mlflow.APIError
	switch {
	case err == nil:
		Update(p, func(r *record.Run) { r.Environment.MLflowVersion = v })
	case errors.As(err, &apiErr) && apiErr.StatusCode == 0:
		return err
	case errors.As(err, &apiErr) && apiErr.StatusCode == 404:
		return fmt.Errorf("%s does not look like an MLflow tracking server: it answers GET /version with 404", p.client.TrackingURI())
	}
	return nil
}
