package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/playbook-mlops/playbook/internal/atomicfile"
	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/internal/regproxy"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
	"github.com/playbook-mlops/playbook/runner"
	"github.com/playbook-mlops/playbook/server"
	"github.com/playbook-mlops/playbook/steps"
)

func init() {
	register(command{name: "run", summary: "run scenarios against an MLflow tracking server", run: runRun})
}

// runOptions holds the flags and arguments of playbook run.
type runOptions struct {
	TrackingURI  string
	DataDir      string
	Params       paramFlags
	ParamFiles   paramFileFlags
	OutDir       string
	Notebook     bool
	Quiet        bool
	Unrestricted bool
	DryRun       bool
	Python       string
	EnvManager   string
	Kernel       string
	Scenarios    []string
	// JSON is --json: a summary on stdout (see writeJSONSummary), nothing
	// else there; JUnit is --junit FILE.
	JSON  bool
	JUnit string
	// results, when set, receives each scenario's result (--json, --junit).
	results *[]scenarioResult
	// Progress is where progress goes (stderr); Terminal says it is one.
	Progress io.Writer
	Terminal bool
	// Step is --step; Presenter, its presenter (standard input a
	// terminal), asks before each cell.
	Step      bool
	Presenter *presenter
	// live, when set, is told of the run as it goes (playbook watch).
	live liveSink
	// be, when set, is the backend to run on (playbook watch's), kept
	// open at the end.
	be *backend
}

// stdin is the standard input --step reads its keys from (a test's
// pseudo-terminal).
var stdin = os.Stdin

// paramFlags collects repeated -p name=value flags.
type paramFlags []string

func (p *paramFlags) String() string { return strings.Join(*p, " ") }

func (p *paramFlags) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want name=value, got %q", v)
	}
	*p = append(*p, v)
	return nil
}

// parseInterleaved parses flags that may come before or after the
// positional arguments (playbook run a.md -p x=1), and returns those.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil // after --, all are arguments
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o runOptions
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: playbook run [flags] SCENARIO...")
		fmt.Fprintln(stderr, "\nRuns each scenario's Go cells in order against one MLflow tracking server.")
		fmt.Fprintln(stderr, "With --out, writes the report to DIR: index.html, report.md (plots beside it), ticket.md (the short one, for a change ticket) and evidence.json")
		fmt.Fprintln(stderr, "(to DIR/NAME/ for several scenarios); with --ipynb, the run as a Jupyter notebook too, notebook.ipynb.")
		fmt.Fprintln(stderr, "Exit status: 0 done, 1 a step failed, 2 usage or scenario error, 3 a gate refused, 130 interrupted (143 on SIGTERM).")
		fmt.Fprintln(stderr, "\nflags:")
		printDefaults(fs)
	}
	runFlags(fs, &o)
	fs.BoolVar(&o.JSON, "json", false, "print a JSON summary of the run on stdout, and nothing else there (the schema is in README.md, \"Command line\")")
	fs.StringVar(&o.JUnit, "junit", "", "write a JUnit XML report to `FILE`: a testsuite per scenario, a testcase per cell (for CI systems)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if err := checkRunOptions(&o); err != nil {
		return err
	}
	if len(pos) == 0 {
		fs.Usage()
		return errUsage(errors.New("no scenario given"))
	}
	if o.JUnit != "" {
		if err := checkWritableDir(filepath.Dir(o.JUnit)); err != nil {
			return errUsage(fmt.Errorf("--junit: %w", err))
		}
	}
	if err := o.attach(pos, stderr); err != nil {
		return err
	}
	var results []scenarioResult
	o.results = &results
	err = runScenarios(ctx, o, stdout)
	code := exitCode(interrupted(ctx, err))
	if o.JUnit != "" && len(results) > 0 {
		if jerr := writeJUnit(o.JUnit, results); jerr != nil {
			fmt.Fprintf(stderr, "playbook run: --junit %s: %v\n", o.JUnit, jerr)
			if err == nil {
				err = jerr
			}
		}
	}
	if o.JSON {
		if jerr := writeJSONSummary(stdout, o.Scenarios, results, code, err); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// runFlags declares the flags of playbook run (and watch) on fs.
func runFlags(fs *flag.FlagSet, o *runOptions) {
	fs.StringVar(&o.TrackingURI, "tracking-uri", "", "MLflow tracking server (default $MLFLOW_TRACKING_URI, else an embedded one)")
	fs.StringVar(&o.DataDir, "data-dir", server.DefaultDataDir, "data `directory` of the embedded tracking server, used when no tracking URI is given")
	fs.Var(&o.Params, "p", "set a scenario parameter: `name=value` (repeatable; wins over -f)")
	fs.Var(&o.ParamFiles, "f", "read scenario parameters from a YAML `file`, a mapping of name to value, as if each were a -p (repeatable: a later file wins)")
	fs.StringVar(&o.OutDir, "out", "", "write the report (index.html, report.md, evidence.json) and the files cells write to `DIR`")
	fs.BoolVar(&o.Notebook, "ipynb", false, "with --out, also write the run as a Jupyter notebook, "+report.NotebookFile+", beside the report (as playbook export does)")
	fs.BoolVar(&o.Quiet, "quiet", false, "print only errors: no progress, no summary lines (--json's summary still goes to stdout)")
	fs.BoolVar(&o.Unrestricted, "unrestricted", false, "let cells import the whole standard library (os, os/exec, net, ...)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "ask steps to read the registry but not change it")
	fs.StringVar(&o.Python, "python", "", "Python `interpreter` (with mlflow) that scores models of a python_function flavor (default $"+pyworker.EnvPython+", else python3 on PATH)")
	fs.StringVar(&o.EnvManager, "env-manager", pyworker.EnvLocal, "`manager` of python_function models' environments, as `mlflow models serve` has it: local (the interpreter of --python), virtualenv or uv (each model's own, built from its python_env.yaml and kept in $"+envDirVar+", default "+defaultEnvDirHelp+")")
	fs.BoolVar(&o.Step, "step", false, "presenter mode: before each cell, show its section and code on the terminal and wait: Enter runs it, q stops (the cells after are not run, the report is written); needs a terminal on standard input")
	fs.StringVar(&o.Kernel, "kernel", kernelProcess, "where cells run: process (the default: a sandboxed kernel process of their own; playbook starts the programs it needs) or in-process (playbook's own process, the language-level fence only: for scenarios you trust)")
}

// attach gives o its scenarios and its terminal: progress on stderr and,
// with --step, the presenter on standard input (refused when that is not
// a terminal).
func (o *runOptions) attach(scenarios []string, stderr io.Writer) (err error) {
	o.Scenarios = scenarios
	o.Progress, o.Terminal = stderr, isTerminal(stderr)
	if o.Step {
		o.Presenter, err = newPresenter(stdin, stderr)
	}
	return err
}

// checkRunOptions checks the flags runFlags set.
func checkRunOptions(o *runOptions) (err error) {
	if o.Notebook && o.OutDir == "" {
		return errUsage(errors.New("--ipynb needs --out DIR: the notebook goes beside the report (playbook export writes one from a run record)"))
	}
	if o.Kernel != kernelInProcess && o.Kernel != kernelProcess {
		return errUsage(fmt.Errorf("--kernel %q: want %s or %s", o.Kernel, kernelInProcess, kernelProcess))
	}
	if o.EnvManager, err = pyworker.ParseEnvManager(o.EnvManager); err != nil {
		return errUsage(fmt.Errorf("--env-manager: %w", err))
	}
	return checkMLflowConfig(o.TrackingURI, true)
}

// parseScenarios parses every scenario (a file, or one embedded in
// playbook by its name: see scenarioReader), reporting all their errors at
// once. done removes what it wrote out for the embedded ones: call it when
// the scenarios have run.
func parseScenarios(paths []string) (scs []*runner.Scenario, done func(), err error) {
	r := &scenarioReader{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	var errs []error
	for _, p := range paths {
		sc, err := r.parse(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		scs = append(scs, sc)
	}
	if len(errs) > 0 {
		return nil, nil, errUsage(errors.Join(errs...))
	}
	return scs, r.close, nil
}

// runScenarios runs the scenarios in sequence, sharing one MLflow client,
// and stops at the first that fails.
func runScenarios(ctx context.Context, o runOptions, stdout io.Writer) (err error) {
	scs, done, err := parseScenarios(o.Scenarios)
	if err != nil {
		return err
	}
	defer done()
	fromFiles, err := readParamFiles(o.ParamFiles)
	if err != nil {
		return errUsage(err)
	}
	if err := checkFileParams(scs, fromFiles); err != nil {
		return errUsage(err)
	}
	params := append(fileOverrides(fromFiles), o.Params...)
	overrides, err := runner.SplitOverrides(scs, params)
	if err != nil {
		return errUsage(err)
	}
	if err := precheck(scs, overrides, o.Unrestricted); err != nil {
		return err
	}
	// An output folder that cannot be written is found now, not after the
	// scenario has changed the registry.
	// (Each scenario's folder is inside it, made when the scenario runs.)
	if err := checkWritableDir(o.OutDir); err != nil {
		return errUsage(fmt.Errorf("--out: %w", err))
	}
	// So is a file system too full to take the report.
	if err := checkRoom(o.OutDir); err != nil {
		return errUsage(fmt.Errorf("--out %s: %w", o.OutDir, err))
	}
	dirs := outDirs(o.OutDir, o.Scenarios)
	// Each scenario's folder inside --out: a symbolic link found there
	// (to a folder elsewhere) is refused, never followed, before anything
	// runs; the folder is made when its scenario runs.
	for _, d := range dirs {
		if d == "" || d == o.OutDir {
			continue
		}
		if fi, err := os.Lstat(d); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return errUsage(fmt.Errorf("--out %s: %s is a symbolic link: %w", o.OutDir, filepath.Base(d), atomicfile.ErrOutside))
		}
	}
	// The files an earlier run wrote to --out are moved aside, so that
	// the folder holds this run's only; removed at the end, kept when a
	// report could not be written.
	out, err := prepareOut(o.OutDir, o.Progress, report.Options{Notebook: o.Notebook})
	if err != nil {
		return errUsage(fmt.Errorf("--out %s: moving the files of the run before aside: %w", o.OutDir, err))
	}
	defer func() { err = out.finish(err) }()
	be := o.be
	if be == nil {
		notices := o.Progress
		if o.Quiet {
			notices = io.Discard
		}
		be = newBackend(o.TrackingURI, o.DataDir, notices, o.Terminal)
		be.inMemory = o.Kernel == kernelProcess
		if !o.Quiet {
			be.retried = retryNotice(o.Progress, o.Terminal)
		}
		defer be.Close()
	}
	uri := be.recordedURI()
	connect := sync.OnceValues(func() (*mlflow.Client, error) { return be.client(ctx) })
	// The interpreter of --python, looked for once: the worker and the
	// scoring servers of steps.Serve run it.
	python := sync.OnceValues(func() (string, error) { return pyworker.FindPython(o.Python) })
	envs := modelEnvs(o)
	actor := sync.OnceValue(func() *record.Actor {
		if be.embedded() {
			return nil
		}
		return mlflowActor(ctx, connect)
	})

	var calls []record.Call // the kernels' registry calls, scenario after scenario
	var made []madeCall     // the registry calls of the scenarios run, for a report that fails
	for i, sc := range scs {
		if len(scs) > 1 && !o.Quiet {
			fmt.Fprintf(o.Progress, "%s\n", sc.Path)
		}
		var p *progress
		if !o.Quiet {
			p = newProgress(o.Progress, o.Terminal)
		}
		opts := runner.Options{
			Params: overrides[i], Connect: connect, TrackingURI: uri, OutDir: dirs[i],
			DryRun: o.DryRun, Unrestricted: o.Unrestricted, Version: Version(),
			Capture: chromiumCapture, Python: pythonWorker(python, o.Progress), Interpreter: python,
			Actor: actor(),
		}
		if envs != nil {
			opts.ModelEnvs = envs
			opts.StartWorker = func(py string) (*pyworker.Worker, error) { return pyworker.Start(py, o.Progress, pyworker.Environ()) }
		}
		if p != nil {
			opts.Progress = p.event
			opts.CellDone = p.cellDone(nil) // what the cell printed, shown as it arrives (stream.go)
		}
		if o.Presenter != nil {
			opts.Gate = o.Presenter.gate(sc)
		}
		if o.live != nil {
			o.live.begin(i, sc, opts)
			opts.Progress = o.live.progress(opts.Progress)
			opts.CellDone = p.cellDone(o.live.cell)
		}
		if dirs[i] != "" && dirs[i] != o.OutDir {
			if err := atomicfile.MkdirAll(o.OutDir, filepath.Base(dirs[i])); err != nil {
				return fmt.Errorf("--out %s: %w", o.OutDir, err)
			}
		}
		start := time.Now()
		var rec *record.Run
		if o.Kernel == kernelProcess {
			var output func(int, record.Cell)
			if p != nil {
				output = func(i int, c record.Cell) { p.cellOutput(i, c, false) }
			}
			rec, err = runInKernel(ctx, sc, opts, connect, be.embedded(), be.retried, output, &calls)
		} else {
			stop := make(chan struct{})
			if p != nil {
				opts.Live = p.pollCells(stop)
			}
			rec, err = runner.Run(ctx, sc, opts)
			close(stop)
		}
		p.stop()
		if err != nil && runner.IsScenarioError(err) {
			err = errUsage(err)
		}
		if rec == nil && dirs[i] != "" {
			out.keepAside() // no report of this scenario replaces the earlier one
		}
		if rec == nil && o.results != nil && err != nil {
			*o.results = append(*o.results, scenarioResult{path: sc.Path, err: interrupted(ctx, err), elapsed: time.Since(start)})
		}
		if rec != nil {
			rec.Environment.Exit.Code = exitCode(interrupted(ctx, err))
			for _, c := range rec.Evidence.Calls {
				made = append(made, madeCall{Scenario: sc.Path, Call: c})
			}
			if dirs[i] != "" {
				if written, werr := out.writeReport(dirs[i], rec); werr != nil {
					out.keepAside()
					return reportFailure(dirs[i], werr, err, rec, written, made, out.asideDir())
				}
			}
			if o.results != nil {
				*o.results = append(*o.results, scenarioResult{path: sc.Path, rec: rec, dir: dirs[i], elapsed: time.Since(start)})
			}
			if !o.Quiet && !o.JSON {
				fmt.Fprintf(stdout, "%s: %s, %s\n", sc.Path, rec.Environment.Exit.Status, summary(rec, time.Since(start)))
			}
			if dirs[i] != "" && !o.Quiet && !o.JSON {
				fmt.Fprintf(stdout, "%s: report in %s\n", sc.Path, filepath.Join(dirs[i], report.HTMLFile))
				fmt.Fprintf(stdout, "%s: run record in %s\n", sc.Path, filepath.Join(dirs[i], record.EvidenceFile))
				if o.Notebook {
					fmt.Fprintf(stdout, "%s: notebook in %s\n", sc.Path, filepath.Join(dirs[i], report.NotebookFile))
				}
			}
		}
		if o.live != nil {
			o.live.end(i, rec, err)
		}
		if err != nil || (rec != nil && rec.Environment.Exit.Status == record.OutcomeStopped) {
			for _, skipped := range scs[i+1:] {
				if !o.Quiet && !o.JSON {
					fmt.Fprintf(stdout, "%s: not run\n", skipped.Path)
				}
			}
			return err
		}
	}
	return nil
}

// identityTimeout bounds the time the tracking server has to say who
// playbook's credentials are.
const identityTimeout = 15 * time.Second

// mlflowActor returns the MLflow user the tracking server knows the
// client's credentials as (mlflow.Client.Identity), nil when they name no
// one or the server could not say: the record and the tags then name the
// operating system's user alone. The scenario's first call meets the
// error again, where it is reported.
func mlflowActor(ctx context.Context, connect func() (*mlflow.Client, error)) *record.Actor {
	c, err := connect()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, identityTimeout)
	defer cancel()
	id, err := c.Identity(ctx)
	if err != nil || id == nil {
		return nil
	}
	return &record.Actor{Name: id.Name, Via: id.Via, Verified: id.Verified, Note: id.Note}
}

// precheck compiles every cell of every scenario and checks every
// parameter, as playbook check does, before anything connects to MLflow:
// all the errors found are returned together (a usage error), and nothing
// runs.
func precheck(scs []*runner.Scenario, overrides [][]string, unrestricted bool) error {
	var errs []error
	for i, sc := range scs {
		if _, err := runner.ResolveParams(sc.Params, overrides[i]); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sc.Path, err))
			continue
		}
		if err := runner.Check(sc, runner.Options{Params: overrides[i], Unrestricted: unrestricted}); err != nil {
			errs = append(errs, explainEmbedded(sc, err))
		}
	}
	if len(errs) > 0 {
		return errUsage(errors.Join(errs...))
	}
	return nil
}

// summary says how many cells ran, in how long.
func summary(rec *record.Run, d time.Duration) string {
	ran := 0
	for _, c := range rec.Cells {
		if c.Status != record.StatusNotRun {
			ran++
		}
	}
	return fmt.Sprintf("%d of %d cells run in %s", ran, len(rec.Cells), fmtDuration(d))
}

// outDirs returns each scenario's output folder: dir itself for one
// scenario, dir/NAME for several (NAME the file name without extension,
// made unique).
func outDirs(dir string, paths []string) []string {
	out := make([]string, len(paths))
	if dir == "" {
		return out
	}
	if len(paths) == 1 {
		out[0] = dir
		return out
	}
	used := map[string]int{}
	for i, p := range paths {
		name := scenarioName(p)
		used[name]++
		if n := used[name]; n > 1 {
			name = fmt.Sprintf("%s-%d", name, n)
		}
		out[i] = filepath.Join(dir, name)
	}
	return out
}

// progress shows cells as they run: on a terminal, the current step and its
// elapsed time updated in place; otherwise one line per finished step.
type progress struct {
	w        io.Writer
	terminal bool

	mu      sync.Mutex
	cells   map[int]*cellStream // what was shown of each cell's output (stream.go)
	current runner.Event
	start   time.Time
	done    chan struct{}
	wg      sync.WaitGroup
}

func newProgress(w io.Writer, terminal bool) *progress {
	p := &progress{w: w, terminal: terminal, done: make(chan struct{})}
	if terminal {
		p.wg.Add(1)
		go p.tick()
	}
	return p
}

func (p *progress) event(ev runner.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Status == runner.StatusRunning {
		p.current, p.start = ev, time.Now()
		if p.terminal {
			p.draw()
		}
		return
	}
	p.current = runner.Event{}
	if p.terminal {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, "[%d/%d] %s %s %s\n", ev.Index, ev.Total, ev.Step, ev.Status, fmtDuration(ev.Elapsed))
}

// draw rewrites the terminal line; p.mu must be held.
func (p *progress) draw() {
	if p.current.Step == "" {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K[%d/%d] %s %s", p.current.Index, p.current.Total, p.current.Step, fmtDuration(time.Since(p.start)))
}

func (p *progress) tick() {
	defer p.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
		}
	}
}

// stop ends the ticker; a nil progress is fine.
func (p *progress) stop() {
	if p == nil {
		return
	}
	close(p.done)
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.terminal && p.current.Step != "" {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// fmtDuration rounds d for people: 850ms, 1.2s, 3m4s.
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// checkWritableDir creates dir if needed and checks a file can be created
// in it; "" (no --out) is fine.
func checkWritableDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".playbook-write-check-*")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// pythonWorker returns the function that starts a run's Python worker
// with the interpreter python finds (pyworker.FindPython on --python), in
// an environment without playbook's secrets; the worker's own messages go
// to stderr.
func pythonWorker(python func() (string, error), stderr io.Writer) func() (*pyworker.Worker, error) {
	return func() (*pyworker.Worker, error) {
		py, err := python()
		if err != nil {
			return nil, err
		}
		return pyworker.Start(py, stderr, pyworker.Environ())
	}
}

// runInKernel runs sc in a kernel process (--kernel process). Its MLflow
// client talks only to a registry proxy of this process (internal/regproxy),
// which forwards to the tracking server with the credentials, records
// every call that changes the registry, refuses them all in a dry run, and
// snapshots every registered model a call touched: the evidence's calls
// and snapshots are the proxy's.
//
// calls holds the registry calls of the scenarios run before in this
// playbook run; this one's are added to it. retried, when set, is told of
// the retries of the kernel's client; output, of each running cell's
// record as the kernel streams it (what it printed so far).
func runInKernel(ctx context.Context, sc *runner.Scenario, opts runner.Options, connect func() (*mlflow.Client, error), lazy bool, retried func(mlflow.Retry), output func(int, record.Cell), calls *[]record.Call) (*record.Run, error) {
	// A named server is connected to now: what goes wrong is said by
	// playbook, before any cell runs. The embedded one (lazy) is started
	// when the kernel first needs it, as in process: a scenario that
	// never calls MLflow starts none.
	var c *mlflow.Client
	if !lazy {
		var err error
		if c, err = connect(); err != nil {
			return nil, err
		}
	}
	client := func() (*mlflow.Client, error) {
		if c != nil {
			return c, nil
		}
		return connect()
	}
	// Each call is the cell's whose code made it (by the token playbook
	// gives the cell at its start and revokes at its end), not that of
	// the cell running when it arrives.
	px, err := regproxy.Start(regproxy.Options{Target: c, Connect: client, DryRun: opts.DryRun, CellTokens: true})
	if err != nil {
		return nil, fmt.Errorf("the registry proxy: %w", err)
	}
	defer px.Close()
	svc := newKernelServices(ctx, px, opts, client, px.Step)
	svc.earlier = *calls
	defer svc.close()
	defer func() { *calls = append(*calls, px.Calls()...) }()
	if opts.Capture != nil && opts.Capture.ModelPage != nil {
		serveCapture(px, opts.Capture, client)
	}
	display := ""
	if c != nil {
		display = mlflow.RedactURL(c.TrackingURI())
	}
	rec, err := kernelRun(ctx, sc, opts, kernelProxy{
		url: kernelProxyURL, prefix: px.Prefix(), display: display,
		serve: px.Serve, begin: px.BeginCell, end: px.EndCell, retried: retried, output: output,
	})
	svc.stop() // the scoring servers, before the evidence is read
	if rec != nil {
		keepProxyEvidence(ctx, rec, px)
		svc.keepEvidence(rec)
	}
	return rec, err
}

// kernelProxyURL is the tracking URI of the kernel's client: a name
// only, since every connection it makes is one playbook hands it.
const kernelProxyURL = "http://playbook-proxy"

// uploadedUnder returns the endpoint of a call of calls that uploaded a
// file under the artifact URI uri (mlflow-artifacts:/PATH,
// mlflow-artifacts://HOST/PATH, or http(s)://HOST/.../api/2.0/mlflow-artifacts/artifacts/PATH),
// "" when none did: a model whose files the kernel wrote is not loaded
// outside its sandbox. Both paths are compared as MLflow and playbook's
// client resolve them (percent-decoded until they stop changing, "//"
// and "." collapsed), not as written: .../RUN//artifacts/model names the
// files uploaded under .../RUN/artifacts/model.
func uploadedUnder(calls []record.Call, uri string) string {
	const api = "/api/2.0/mlflow-artifacts/artifacts"
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	var p string
	switch strings.ToLower(u.Scheme) {
	case "mlflow-artifacts":
		p = cmp.Or(u.Opaque, u.EscapedPath())
	case "http", "https":
		_, after, ok := strings.Cut(u.EscapedPath(), api)
		if !ok {
			return ""
		}
		p = after
	case "s3", "file":
		return relayedUnder(calls, u)
	default:
		return ""
	}
	p = artifactsPath(p)
	for _, c := range calls {
		if c.Method != http.MethodPut {
			continue
		}
		if up, ok := strings.CutPrefix(c.Endpoint, api); ok {
			if up = artifactsPath(up); p == "/" || up == p || strings.HasPrefix(up, p+"/") {
				return c.Method + " " + c.Endpoint
			}
		}
	}
	return ""
}

// relayedUnder is uploadedUnder for an s3:// or file:// artifact URI u:
// the uploads playbook made for the kernel (mlflow.RelayPath+"/put").
func relayedUnder(calls []record.Call, u *url.URL) string {
	where := func(v *url.URL, rel string) string {
		return strings.ToLower(v.Scheme) + "://" + strings.ToLower(v.Host) + artifactsPath(v.EscapedPath()+"/"+rel)
	}
	p := where(u, "")
	for _, c := range calls {
		if c.Method != http.MethodPut || c.Endpoint != mlflow.RelayPath+"/put" {
			continue
		}
		root, _ := c.Args["artifact_uri"].(string)
		rel, _ := c.Args["path"].(string)
		v, err := url.Parse(root)
		if err != nil {
			continue
		}
		if up := where(v, rel); up == p || strings.HasPrefix(up, strings.TrimSuffix(p, "/")+"/") {
			return c.Method + " " + root + "/" + rel
		}
	}
	return ""
}

// artifactsPath is p percent-decoded until it stops changing, cleaned,
// rooted.
func artifactsPath(p string) string {
	for {
		d, err := url.PathUnescape(p)
		if err != nil || d == p {
			break
		}
		p = d
	}
	return path.Clean("/" + p)
}

// serveCapture takes, for the kernel, screenshots of a model's page in
// the MLflow UI (POST /rpc/capture) with capture: only of the tracking
// server's own page of a registered model, or of one of its versions
// (capturable), so that the kernel cannot make playbook's browser fetch
// another address.
func serveCapture(px *regproxy.Proxy, capture *runner.Capturer, client func() (*mlflow.Client, error)) {
	px.HandleInCell("POST /rpc/capture", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		c, err := client()
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		var req captureRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			http.Error(rw, "a capture request: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !capturable(c, req.Model, req.URL) {
			http.Error(rw, fmt.Sprintf("playbook captures only the tracking server's page of the model (%s) and of its versions (%s), not %s",
				steps.ModelURL(c, req.Model), steps.ModelVersionURL(c, req.Model, "N"), req.URL), http.StatusForbidden)
			return
		}
		png, err := capture.ModelPage(r.Context(), req.URL, req.Model, req.Want)
		if err != nil {
			http.Error(rw, err.Error(), http.StatusBadGateway)
			return
		}
		rw.Header().Set("Content-Type", "image/png")
		_, _ = rw.Write(png)
	}))
}

// capturable reports whether url is the tracking server's page (c's) of
// the registered model model, or of one of its versions: ModelURL, or
// ModelVersionURL with a version number (digits only), spelled exactly as
// they spell them.
func capturable(c *mlflow.Client, model, url string) bool {
	if model == "" {
		return false
	}
	page := steps.ModelURL(c, model)
	if url == page {
		return true
	}
	v, ok := strings.CutPrefix(url, page+"/versions/")
	return ok && v != "" && len(v) <= 19 && strings.Trim(v, "0123456789") == "" && url == steps.ModelVersionURL(c, model, v)
}

// keepProxyEvidence puts the proxy's record in the evidence: the calls
// that reached the registry (or, in a dry run, were refused there), and
// beside them the calls the kernel says it planned and did not send (a
// dry run's); the before and after snapshots of every model they touched.
// What the kernel recorded of those is its cells' output, not evidence.
func keepProxyEvidence(ctx context.Context, rec *record.Run, px *regproxy.Proxy) {
	calls := px.Calls()
	if rec.Environment.DryRun {
		for _, c := range rec.Evidence.Calls {
			if c.DryRun && c.Outcome != "ok" {
				calls = append(calls, c)
			}
		}
	}
	slices.SortStableFunc(calls, func(a, b record.Call) int { return a.Time.Compare(b.Time) })
	rec.Evidence.Calls = calls
	snaps, err := px.Snapshots(ctx)
	if err != nil {
		addProblem(rec, "registry snapshots: "+err.Error())
	}
	if snaps == nil {
		snaps = []record.Snapshot{}
	}
	rec.Evidence.Snapshots = snaps
}

// envDirVar names the variable of the folder where model environments
// are kept (--env-manager virtualenv or uv).
const envDirVar = "PLAYBOOK_ENV_DIR"

const defaultEnvDirHelp = "~/.cache/playbook/envs"

// modelEnvs returns what builds the models' environments for
// --env-manager virtualenv or uv, nil for local. The interpreter that
// builds them is --python's, $PLAYBOOK_PYTHON, else a python3 on PATH; it
// needs no mlflow of its own.
func modelEnvs(o runOptions) *pyworker.Envs {
	if o.EnvManager == pyworker.EnvLocal {
		return nil
	}
	base := func() (string, error) {
		p, _, err := pyworker.Candidate(o.Python)
		return p, err
	}
	return &pyworker.Envs{Manager: o.EnvManager, Root: os.Getenv(envDirVar), Base: base, Log: o.Progress}
}

// chromiumCapture screenshots the MLflow UI for the verify step with
// headless Chromium ($PLAYBOOK_CHROMIUM names it, or turns it off).
var chromiumCapture = &runner.Capturer{
	Width: browser.CaptureWidth, Height: browser.CaptureHeight, ModelPage: browser.CaptureModelPage,
}
