package notebook

import (
	"errors"
	"fmt"
	"time"

	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"
)

// The evidence is what the steps record of a run: the calls that changed
// the registry, snapshots, metrics, checks, captures. Cells must not be able
// to write it, so the functions that do are package-level functions of
// this package, which is in no symbol table of the cells: a cell cannot
// import it, and yaegi, which calls the methods of a compiled value such
// as pb by reflection whatever the symbol tables say, finds no exported
// method of Playbook that writes evidence. The step functions (package
// steps) call them.

// Update calls f with the run record of pb, holding pb's lock: the way
// step functions keep evidence the other functions do not cover, and read
// what the record says of the scenario and the environment. f must not call
// pb's methods. Once the run has ended, f is not called.
func Update(pb *Playbook, f func(r *record.Run)) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if pb.closed {
		return
	}
	f(pb.run)
}

// Edit calls f with the run record of pb, holding pb's lock, also once
// the run has ended: how the runner changes the record (a cell's start
// and end) while the kernel process reads it to stream it.
func Edit(pb *Playbook, f func(r *record.Run)) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	f(pb.run)
}

// View calls f with the run record of pb, holding pb's lock, also once the
// run has ended: how the kernel process reads the record it streams to
// playbook (f must not change it, nor call pb's methods).
func View(pb *Playbook, f func(r *record.Run)) {
	pb.mu.Lock()
	defer pb.mu.Unlock()
	f(pb.run)
}

// RecordCall keeps a registry call in the evidence of pb, stamping its time
// and step when they are empty.
func RecordCall(pb *Playbook, c record.Call) {
	pb.keep(&c.Time, &c.Step, func(r *record.Run) { r.Evidence.Calls = append(r.Evidence.Calls, c) })
}

// RecordMetric keeps a metric in the evidence of pb, stamping its step.
func RecordMetric(pb *Playbook, m record.Metric) {
	pb.keep(nil, &m.Step, func(r *record.Run) { r.Evidence.Metrics = append(r.Evidence.Metrics, m) })
}

// KeepSnapshot keeps a registry snapshot in the evidence of pb, stamped
// with the current step and, when unset, the time, and shows it under the
// cell.
func KeepSnapshot(pb *Playbook, s record.Snapshot) {
	pb.keep(&s.Time, &s.Step, func(r *record.Run) {
		r.Evidence.Snapshots = append(r.Evidence.Snapshots, s)
		shown := s
		pb.addOutput(record.Output{Kind: record.OutputSnapshot, Title: s.Label, Snapshot: &shown})
	})
}

// keep stamps an empty time (when t is not nil) with now and an empty step
// with the current one, then calls add with the record, holding the lock;
// once the run has ended, it does nothing.
func (p *Playbook) keep(t *time.Time, step *string, add func(r *record.Run)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	if t != nil && t.IsZero() {
		*t = time.Now()
	}
	if *step == "" {
		*step = p.step
	}
	add(p.run)
}

// Display appends o to the current cell's outputs as it is: the way step
// functions show what the display methods do not build (a titled table).
func Display(pb *Playbook, o record.Output) { pb.display(o) }

// CapturerOf returns the Capturer the run of pb was given, or nil.
func CapturerOf(pb *Playbook) *Capturer { return pb.capture }

// ErrNoPythonWorker is PythonOf's error for a run given no Options.Python.
var ErrNoPythonWorker = errors.New("this run has no Python worker")

// PythonOf returns the run's Python worker, starting it on first use (see
// Options.Python); its error is the same at every call.
func PythonOf(pb *Playbook) (*pyworker.Worker, error) {
	pb.pyMu.Lock()
	defer pb.pyMu.Unlock()
	if !pb.pyStarted {
		pb.pyStarted = true
		if pb.python == nil {
			pb.pyErr = ErrNoPythonWorker
		} else {
			pb.py, pb.pyErr = pb.python()
		}
	}
	return pb.py, pb.pyErr
}

// closePython stops the workers PythonOf and ModelWorker started, if any.
func closePython(pb *Playbook) error {
	pb.pyMu.Lock()
	defer pb.pyMu.Unlock()
	pb.pyStarted, pb.pyClosed = true, true // no start after the run
	var errs []error
	for _, w := range pb.envWorkers {
		errs = append(errs, w.Close())
	}
	pb.envWorkers = nil
	if pb.py != nil {
		w := pb.py
		pb.py, pb.pyErr = nil, errors.New("the run has ended")
		errs = append(errs, w.Close())
	}
	return errors.Join(errs...)
}

// EnvManager returns the run's environment manager: pyworker.EnvLocal,
// EnvVirtualenv or EnvUV (see Options.ModelEnvs).
func EnvManager(pb *Playbook) string {
	if pb.parent != nil && pb.parent.EnvManager != "" {
		return pb.parent.EnvManager
	}
	if pb.envs == nil {
		return pyworker.EnvLocal
	}
	return pb.envs.Manager
}

// CheckPython says whether the run can score a python_function model at
// all, before anything changes: its worker starts (--env-manager local),
// or its environment manager can build environments.
func CheckPython(pb *Playbook) error {
	if pb.parent != nil && EnvManager(pb) != pyworker.EnvLocal {
		if pb.parent.CheckEnvs == nil {
			return ErrNoPythonWorker
		}
		return pb.parent.CheckEnvs()
	}
	if pb.envs != nil {
		return pb.envs.Check()
	}
	_, err := PythonOf(pb)
	return err
}

// ModelWorker returns the worker that scores the model folder dir: the
// run's (PythonOf), or with an environment manager one running in the
// model's own environment, built on first use and kept in the evidence
// (env, nil without a manager). One worker per environment serves the
// whole run.
func ModelWorker(pb *Playbook, artifactURI, dir string) (*pyworker.Worker, *pyworker.Env, error) {
	if pb.parent != nil && EnvManager(pb) != pyworker.EnvLocal {
		return parentWorker(pb, artifactURI)
	}
	if pb.envs == nil {
		w, err := PythonOf(pb)
		return w, nil, err
	}
	env, err := modelEnv(pb, dir)
	if err != nil {
		return nil, nil, err
	}
	pb.pyMu.Lock()
	defer pb.pyMu.Unlock()
	if pb.pyClosed {
		return nil, nil, errors.New("the run has ended")
	}
	if w, ok := pb.envWorkers[env.Python]; ok {
		return w, env, nil
	}
	if pb.startWorker == nil {
		return nil, nil, ErrNoPythonWorker
	}
	w, err := pb.startWorker(env.Python)
	if err != nil {
		return nil, nil, fmt.Errorf("starting the worker in the model's environment %s: %w", env.Dir, err)
	}
	if pb.envWorkers == nil {
		pb.envWorkers = map[string]*pyworker.Worker{}
	}
	pb.envWorkers[env.Python] = w
	return w, env, nil
}

// parentWorker returns, in a kernel process, the worker playbook runs in
// the own environment of the model at artifactURI: one connection per
// environment, kept for the run.
func parentWorker(pb *Playbook, artifactURI string) (*pyworker.Worker, *pyworker.Env, error) {
	if pb.parent.Worker == nil {
		return nil, nil, ErrNoPythonWorker
	}
	pb.pyMu.Lock()
	closed := pb.pyClosed
	pb.pyMu.Unlock()
	if closed {
		return nil, nil, errors.New("the run has ended")
	}
	w, env, err := pb.parent.Worker(pb.Context(), artifactURI)
	if err != nil {
		return nil, nil, err
	}
	pb.pyMu.Lock()
	defer pb.pyMu.Unlock()
	if old, ok := pb.envWorkers[env.Python]; ok {
		_ = w.Close() // the same environment's: one connection is enough
		return old, env, nil
	}
	if pb.envWorkers == nil {
		pb.envWorkers = map[string]*pyworker.Worker{}
	}
	pb.envWorkers[env.Python] = w
	return w, env, nil
}

// ModelEnvRecord is the evidence of env, a model's environment a step
// of the run (step) built or found.
func ModelEnvRecord(step string, env pyworker.Env) record.ModelEnv {
	return record.ModelEnv{
		Step: step, Time: time.Now(), Manager: env.Manager, Key: env.Key, Python: env.Version, MLflow: env.MLflow,
		Requirements: env.Requirements, Added: env.Added, Reused: env.Reused, BuildTime: record.Duration(env.BuildTime),
	}
}

// ModelInterpreter returns the interpreter a Python process serving the
// model folder dir runs with: the run's (InterpreterOf), or with an
// environment manager the model's own environment's (env, nil without a
// manager), built on first use and kept in the evidence.
func ModelInterpreter(pb *Playbook, dir string) (string, *pyworker.Env, error) {
	if pb.envs == nil {
		py, err := InterpreterOf(pb)
		return py, nil, err
	}
	env, err := modelEnv(pb, dir)
	if err != nil {
		return "", nil, err
	}
	return env.Python, env, nil
}

// modelEnv builds or finds the environment of the model folder dir and
// keeps it in the evidence, once per run and environment.
func modelEnv(pb *Playbook, dir string) (*pyworker.Env, error) {
	env, err := pb.envs.For(pb.Context(), dir)
	if err != nil {
		return nil, err
	}
	pb.pyMu.Lock()
	kept := pb.envsKept[env.Key]
	if pb.envsKept == nil {
		pb.envsKept = map[string]bool{}
	}
	pb.envsKept[env.Key] = true
	pb.pyMu.Unlock()
	if !kept {
		e := ModelEnvRecord(pb.Step(), env)
		Update(pb, func(rec *record.Run) { rec.Evidence.Environments = append(rec.Evidence.Environments, e) })
	}
	return &env, nil
}

// ErrNoInterpreter is InterpreterOf's error for a run given no
// Options.Interpreter.
var ErrNoInterpreter = errors.New("this run has no Python interpreter")

// InterpreterOf returns the run's Python interpreter (see
// Options.Interpreter), found on first use; its error is the same at every
// call.
func InterpreterOf(pb *Playbook) (string, error) {
	pb.interpOnce.Do(func() {
		if pb.interpreter == nil {
			pb.interpErr = ErrNoInterpreter
			return
		}
		pb.interp, pb.interpErr = pb.interpreter()
	})
	return pb.interp, pb.interpErr
}

// OnClose registers f to run when the run ends (Controller.Close), after
// the last cell, whether it passed or failed: how a step stops what it
// started for the rest of the run (a scoring server's process). The
// functions run in reverse order of registration, before the record is
// closed, so they may still keep evidence (Update). Registered once the run
// is closing or closed, f runs at once.
func OnClose(pb *Playbook, f func()) {
	pb.closeMu.Lock()
	if !pb.closing {
		pb.onClose = append(pb.onClose, f)
		pb.closeMu.Unlock()
		return
	}
	pb.closeMu.Unlock()
	f()
}

// runOnClose runs, once, the functions OnClose registered, last first.
func runOnClose(pb *Playbook) {
	pb.closeMu.Lock()
	pb.closing = true
	fs := pb.onClose
	pb.onClose = nil
	pb.closeMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}
