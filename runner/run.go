package runner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"
)

// Options configure a run or a check.
type Options struct {
	// Params are -p overrides, each "name=value".
	Params []string
	// Connect returns the MLflow client on first use; nil means no
	// tracking server. Several runs may share one client.
	Connect func() (*mlflow.Client, error)
	// TrackingURI is recorded in the environment, credentials removed.
	TrackingURI string
	// OutDir is the folder pb.WriteFile writes to; "" refuses writes.
	OutDir string
	// DryRun is handed to steps through pb.DryRun.
	DryRun bool
	// Capture, when set, screenshots the MLflow UI for the verify step's
	// evidence; nil records that the run has no browser to do it with.
	Capture *Capturer
	// Python, when set, starts the Python worker that scores models of a
	// python_function flavor, on first use; the run stops it at its end.
	Python func() (*pyworker.Worker, error)
	// Interpreter, when set, finds the Python interpreter of the other
	// Python processes steps start (steps.Serve's scoring server), on
	// first use.
	Interpreter func() (string, error)
	// ModelEnvs and StartWorker, when set, score and serve each
	// python_function model in its own environment (--env-manager
	// virtualenv or uv; see notebook.Options).
	ModelEnvs   *pyworker.Envs
	StartWorker func(python string) (*pyworker.Worker, error)
	// Parent, in a kernel process, is what the kernel asks playbook for
	// instead of starting programs (see notebook.Parent).
	Parent *notebook.Parent
	// Unrestricted lets cells import the whole standard library.
	Unrestricted bool
	// Version is playbook's version, recorded in the environment.
	Version string
	// User and Host, when set, are who runs and where, for the record
	// (else the current user and host): a kernel process cannot read them.
	User, Host string
	// Actor, when set, is the MLflow user the tracking server knows the
	// run's credentials as (recorded beside User, and named in the tags
	// the steps write).
	Actor *record.Actor
	// Progress, when set, is told when each cell starts and ends.
	Progress func(Event)
	// CellGoroutine, when set, is called first in each goroutine that
	// runs a cell's code (the goroutines that code starts are its
	// descendants), before that code runs: the kernel process tells by
	// it which cell a registry call comes from.
	CellGoroutine func()
	// Live, when set, is given at the start of the run a function that
	// reads the run record as it is, under its lock (f must not change
	// it): the kernel process streams the record with it, so that a
	// kernel that dies loses nothing it had recorded.
	Live func(view func(f func(*record.Run)))
	// Gate, when set, is asked before each cell starts (index from 1)
	// whether it runs: false stops the run there, the cells from it on
	// not run, and the run's outcome is record.OutcomeStopped with no
	// error (playbook run --step: the presenter's q).
	Gate func(ctx context.Context, index int) bool
	// CellDone, when set, is given a copy of each cell's record as the
	// cell ends, before Progress is told (playbook watch's live page).
	CellDone func(index int, c record.Cell)
}

// Capturer screenshots pages of the MLflow UI for the verify step's
// evidence (notebook's type, so that the command line needs only runner).
type Capturer = notebook.Capturer

// Event reports a cell's progress. Status is "running" when the cell
// starts, then one of record's Status* values.
type Event struct {
	Index, Total int // Index counts from 1
	Step         string
	Status       string
	Elapsed      time.Duration
}

// StatusRunning is Event.Status while a cell runs.
const StatusRunning = "running"

// GateRefused is implemented by errors that mean a gate refused (validation
// failed, promotion refused). A cell failing with such an error (anywhere in
// its chain) ends the run as refused.
type GateRefused interface{ GateRefused() bool }

// Run runs the cells of sc in order in a new interpreter and returns the run
// record. The first failing cell stops the run: its error (an *Error naming
// the file and the line) is returned, and the cells after it are recorded as
// not run. A bad -p override is a *ParamError and no record.
func Run(ctx context.Context, sc *Scenario, opts Options) (*record.Run, error) {
	params, err := resolveParams(sc.Params, opts.Params, true)
	if err != nil {
		return nil, err
	}
	if err := ValidateParams(sc, params); err != nil {
		return nil, err
	}
	rec := newRecord(sc, params, opts)
	pb, ctl := notebook.New(notebook.Options{Run: rec, Connect: opts.Connect, OutDir: opts.OutDir, ScenarioDir: scenarioDir(sc), DryRun: opts.DryRun, Capture: opts.Capture,
		Python: opts.Python, Interpreter: opts.Interpreter, ModelEnvs: opts.ModelEnvs, StartWorker: opts.StartWorker, Parent: opts.Parent})
	defer ctl.Close()
	if opts.Live != nil {
		opts.Live(func(f func(*record.Run)) { notebook.View(pb, f) })
	}
	k, err := newKernel(sc.Path, pb, ctl, params, opts.Unrestricted)
	if err != nil {
		return nil, err
	}
	k.lang = sc.Lang
	defer k.close()
	k.enter = opts.CellGoroutine

	var failure error
	stopped := false
	for i, c := range sc.Cells {
		if failure != nil {
			break
		}
		// A gate that says no because the run was interrupted lets the
		// cell fail as interrupted (runCell), not stop the run.
		if opts.Gate != nil && !opts.Gate(ctx, i+1) && ctx.Err() == nil {
			stopped = true
			break
		}
		cr := &rec.Cells[i]
		progress(opts, Event{Index: i + 1, Total: len(sc.Cells), Step: c.Step, Status: StatusRunning})
		// The record is changed under pb's lock: the kernel process reads
		// it meanwhile, to stream it (Options.Live).
		start := time.Now()
		notebook.Edit(pb, func(*record.Run) { cr.Start = start })
		err := runCell(ctx, k, ctl, c)
		notebook.Edit(pb, func(*record.Run) {
			cr.Duration = record.Duration(time.Since(start))
			cr.Status = record.StatusOK
			if err != nil {
				cr.Status = record.StatusFailed
				var e *Error
				if errors.As(err, &e) {
					cr.Error = e.Record()
				} else {
					cr.Error = &record.Error{Kind: record.ErrStep, File: sc.Path, Line: c.Line, Step: c.Step, Message: err.Error()}
				}
				rec.Error = cr.Error
			}
		})
		if err != nil {
			failure = err
		}
		if opts.CellDone != nil {
			var done record.Cell
			notebook.View(pb, func(r *record.Run) { done = CopyCell(r.Cells[i]) })
			opts.CellDone(i+1, done)
		}
		progress(opts, Event{Index: i + 1, Total: len(sc.Cells), Step: c.Step, Status: cr.Status, Elapsed: time.Since(start)})
	}
	ctl.Close()
	notebook.Edit(pb, func(*record.Run) {
		rec.Environment.End = time.Now()
		rec.Environment.Exit.Status = Outcome(failure)
		if stopped {
			rec.Environment.Exit.Status = record.OutcomeStopped
		}
	})
	return rec, failure
}

// CopyCell returns a copy of c that shares nothing c's cell can still
// change (its outputs are appended to while goroutines it started run).
func CopyCell(c record.Cell) record.Cell {
	c.Outputs = slices.Clone(c.Outputs)
	if c.Error != nil {
		e := *c.Error
		c.Error = &e
	}
	return c
}

// scenarioDir is the folder of sc's file, absolute, the folder its cells
// read data files from (pb.ScenarioDir); "" when it cannot be known.
func scenarioDir(sc *Scenario) string {
	dir, err := filepath.Abs(filepath.Dir(sc.DiskPath()))
	if err != nil {
		return ""
	}
	return dir
}

// Outcome returns the record's Exit.Status for a run that ended with err.
func Outcome(err error) string {
	var g GateRefused
	switch {
	case err == nil:
		return record.OutcomeOK
	case errors.As(err, &g) && g.GateRefused():
		return record.OutcomeRefused
	case IsScenarioError(err):
		return record.OutcomeError
	}
	return record.OutcomeFailed
}

// runCell compiles then runs one cell under its timeout: the time it
// takes to compile counts against it.
func runCell(ctx context.Context, k *kernel, ctl *notebook.Controller, c Cell) error {
	if err := ctx.Err(); err != nil {
		return &Error{Kind: record.ErrCancelled, File: k.file, Line: c.Line, Step: c.Step, Err: fmt.Errorf("interrupted: %w", err)}
	}
	cctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	p, err := k.compileWithin(cctx, c)
	if err != nil {
		return err
	}
	ctl.Begin(cctx, c.Step)
	defer ctl.End()
	return k.run(cctx, c, p)
}

func progress(opts Options, ev Event) {
	if opts.Progress != nil {
		opts.Progress(ev)
	}
}

// Check parses and compiles every cell of sc, in order, in one interpreter,
// without running any: it needs no tracking server and changes nothing. It
// returns every error it finds (Errors), each naming the file and line.
//
// Cells compile against the names earlier cells declare, with the types the
// compiler infers (best := steps.Identify(...) has Identify's result type),
// so type errors across cells are found. An error that only shows when the
// code runs (a failing step, a panic, a nil map) is not. A name left
// undefined because its cell failed to compile is not reported again.
//
// Each cell must compile within its timeout: a cell that does not is
// reported (a timeout, on its first line), and the cells after it are not
// checked, since the interpreter is still busy with it.
func Check(sc *Scenario, opts Options) error {
	params, err := resolveParams(sc.Params, opts.Params, false)
	if err != nil {
		return err
	}
	rec := newRecord(sc, params, opts)
	pb, ctl := notebook.New(notebook.Options{Run: rec})
	ctl.Close()
	k, err := newKernel(sc.Path, pb, nil, params, opts.Unrestricted)
	if err != nil {
		return err
	}
	errs := validateParams(sc.Path, scenarioDir(sc), sc.Params, params)
	for _, c := range sc.Cells {
		ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
		_, err := k.compileWithin(ctx, c)
		cancel()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = &Error{Kind: record.ErrCompile, File: sc.Path, Line: c.Line, Step: c.Step, Err: err}
			}
			if k.cascade(e) {
				continue
			}
			errs = append(errs, e)
			if k.abandoned {
				break
			}
		}
	}
	return errs.err()
}

// cascade reports whether e only follows from an earlier cell's failure:
// an undefined name that cell would have declared.
func (k *kernel) cascade(e *Error) bool {
	name, ok := strings.CutPrefix(e.Err.Error(), "undefined: ")
	if !ok {
		return false
	}
	_, failed := k.failed[name]
	_, declared := k.declared[name]
	return failed && !declared
}

// resolveParams resolves overrides; check (requireAll false) lets required
// parameters default to their zero value.
func resolveParams(specs []ParamSpec, overrides []string, requireAll bool) ([]record.Param, error) {
	if !requireAll {
		specs = append([]ParamSpec(nil), specs...)
		for i := range specs {
			if specs[i].Required {
				specs[i].Required = false
				v, _ := parseValue(specs[i].Type, "")
				specs[i].Default = v
			}
		}
	}
	return ResolveParams(specs, overrides)
}

// newRecord starts the record of a run of sc.
// NewRecord returns the record of sc before any cell has run, with the
// parameters opts gives (their defaults when an override is bad): the
// record of a kernel process that died before it sent one.
func NewRecord(sc *Scenario, opts Options) *record.Run {
	params, err := resolveParams(sc.Params, opts.Params, true)
	if err != nil {
		params, _ = resolveParams(sc.Params, nil, true)
	}
	return newRecord(sc, params, opts)
}

func newRecord(sc *Scenario, params []record.Param, opts Options) *record.Run {
	rec := &record.Run{
		Schema: record.Schema,
		Scenario: record.Scenario{
			Path: sc.Path, Title: sc.Title, Lang: sc.Lang, Description: sc.Description, SHA256: sc.SHA256,
			Blocks: append([]record.Block{}, sc.Blocks...),
		},
		Params: make([]record.Param, len(params)),
		Cells:  make([]record.Cell, len(sc.Cells)),
		Environment: record.Environment{
			User: cmp.Or(opts.User, userName()), Actor: opts.Actor, Host: cmp.Or(opts.Host, hostName()), PlaybookVersion: opts.Version, GoVersion: runtime.Version(),
			TrackingURI: redact(opts.TrackingURI), DryRun: opts.DryRun, Unrestricted: opts.Unrestricted,
			Start: time.Now(),
		},
		Evidence: record.Evidence{Calls: []record.Call{}, Snapshots: []record.Snapshot{}, Metrics: []record.Metric{}, Files: []record.File{}},
	}
	for i, p := range params {
		p.Value = recordValue(p.Value)
		rec.Params[i] = p
	}
	for i, c := range sc.Cells {
		rec.Cells[i] = record.Cell{
			Step: c.Step, File: sc.Path, Line: c.Line, Code: c.Code, Timeout: record.Duration(c.Timeout),
			Outputs: []record.Output{}, Status: record.StatusNotRun,
		}
	}
	return rec
}

func redact(uri string) string {
	if uri == "" {
		return ""
	}
	return mlflow.RedactURL(uri)
}

func userName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func hostName() string {
	h, _ := os.Hostname()
	return h
}
