package steps_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/steps"
	"github.com/playbook-mlops/playbook/training"
)

// cellNames are the cells of the runs the tests drive: the promotion
// steps, in scenario order.
var cellNames = []string{"train", "identify", "register", "alias", "validate", "promote", "load", "serve", "infer", "verify", "rollback"}

// scenarioRun is one run of a scenario, driven cell by cell as the runner
// does: its Playbook, its controller and its record.
type scenarioRun struct {
	t   *testing.T
	pb  *steps.Playbook
	ctl *notebook.Controller
	rec *record.Run
	// dir is the scenario's folder, where the run reads data files from.
	dir string
}

func newScenarioRun(t *testing.T, c *mlflow.Client, dryRun bool) *scenarioRun {
	t.Helper()
	// The capture of the MLflow UI as playbook run wires it; PLAYBOOK_CHROMIUM
	// turns it on or off (TestMain).
	capture := &notebook.Capturer{Width: browser.CaptureWidth, Height: browser.CaptureHeight, ModelPage: browser.CaptureModelPage}
	return newCaptureRun(t, c, dryRun, capture)
}

// newCaptureRun is newScenarioRun with the given capturer (nil: none).
func newCaptureRun(t *testing.T, c *mlflow.Client, dryRun bool, capture *notebook.Capturer) *scenarioRun {
	t.Helper()
	// The Python worker as playbook run wires it, with the project's
	// virtualenv (a test that reaches it without one skips).
	python := func() (*pyworker.Worker, error) {
		return pyworker.Start(testenv.Python(t), io.Discard, pyworker.Environ())
	}
	return newRunWith(t, c, dryRun, capture, python)
}

// newRunWith is newCaptureRun with the given way to start the Python
// worker.
func newRunWith(t *testing.T, c *mlflow.Client, dryRun bool, capture *notebook.Capturer, python func() (*pyworker.Worker, error)) *scenarioRun {
	t.Helper()
	return newRunEnvs(t, c, dryRun, capture, python, nil)
}

// newRunEnvs is newRunWith with the environment manager envs (nil:
// --env-manager local).
func newRunEnvs(t *testing.T, c *mlflow.Client, dryRun bool, capture *notebook.Capturer, python func() (*pyworker.Worker, error), envs *pyworker.Envs) *scenarioRun {
	t.Helper()
	rec := &record.Run{Schema: record.Schema, Scenario: record.Scenario{Lang: "en"}, Environment: record.Environment{User: "tester", Host: "test-host"}}
	for _, s := range cellNames {
		rec.Cells = append(rec.Cells, record.Cell{Step: s})
	}
	connect := func() (*mlflow.Client, error) { return c, nil }
	if c == nil {
		connect = nil
	}
	// The interpreter of the scoring servers (steps.Serve): the same one.
	interpreter := func() (string, error) { return testenv.Python(t), nil }
	dir := t.TempDir()
	pb, ctl := notebook.New(notebook.Options{Run: rec, Connect: connect, ScenarioDir: dir, DryRun: dryRun, Capture: capture, Python: python, Interpreter: interpreter,
		ModelEnvs: envs, StartWorker: func(py string) (*pyworker.Worker, error) { return pyworker.Start(py, io.Discard, pyworker.Environ()) }})
	t.Cleanup(ctl.Close)
	return &scenarioRun{t: t, pb: pb, ctl: ctl, rec: rec, dir: dir}
}

// step runs f as the cell name and returns the error f panicked with, as
// the runner would report it.
func (r *scenarioRun) step(name string, f func()) error {
	r.ctl.Begin(r.t.Context(), name)
	defer r.ctl.End()
	return catch(f)
}

// must runs f as the cell name and fails the test when it fails.
func (r *scenarioRun) must(name string, f func()) {
	r.t.Helper()
	require.NoError(r.t, r.step(name, f), "step %s", name)
}

// outputs returns the outputs of cell name of the given kind.
func (r *scenarioRun) outputs(name, kind string) []record.Output {
	var out []record.Output
	for _, o := range r.rec.Cell(name).Outputs {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

// candidate runs identify (on the "weak" experiment), register (as model)
// and alias (the default candidate alias), and returns what they returned.
func (r *scenarioRun) candidate(c *mlflow.Client, model string) (*steps.BestRun, *steps.Version, *steps.Candidate) {
	r.t.Helper()
	var (
		best *steps.BestRun
		v    *steps.Version
		cand *steps.Candidate
	)
	r.must("identify", func() {
		best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: trainedExperiment(r.t, c, "weak")})
	})
	r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: model}) })
	r.must("alias", func() { cand = steps.Alias(r.pb, v, "") })
	return best, v, cand
}

// catch runs f and returns the error it panicked with.
func catch(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			e, ok := v.(error)
			if !ok {
				e = fmt.Errorf("panic with a non-error: %v", v)
			}
			err = e
		}
	}()
	f()
	return nil
}

// gate returns err's *GateError, failing the test when it is not one.
func gate(t *testing.T, err error) *steps.GateError {
	t.Helper()
	var g *steps.GateError
	require.True(t, errors.As(err, &g), "want a gate refusal, got %v", err)
	return g
}

// Training data the tests on one server share: experiment "weak" holds a
// run that passes the default thresholds; experiment "strong" one that
// beats it on the validation data (f1 0.594 against 0.566, roc_auc 0.828
// against 0.827). Each test's embedded server gets its own.
var trained struct {
	mu   sync.Mutex
	exps map[string]string // tracking URI + " " + which → experiment
}

func trainedExperiment(t *testing.T, c *mlflow.Client, which string) string {
	t.Helper()
	trained.mu.Lock()
	defer trained.mu.Unlock()
	key := c.TrackingURI() + " " + which
	if e, ok := trained.exps[key]; ok {
		return e
	}
	opts := map[string]training.Options{
		"weak":   {Runs: 2, Rows: 5000, Seed: 3},
		"strong": {Runs: 2, Rows: 5000, Seed: 2},
	}[which]
	opts.Experiment = uniqueName("promo-" + which)
	_, err := training.Train(t.Context(), c, opts)
	require.NoError(t, err)
	if trained.exps == nil {
		trained.exps = map[string]string{}
	}
	trained.exps[key] = opts.Experiment
	return opts.Experiment
}

// defaultValidation is the French scenario's validation, by default.
func defaultValidation(minF1 float64) steps.ValidateOptions {
	return steps.ValidateOptions{
		Rows: 2000, Seed: 2024,
		Thresholds: map[string]steps.MetricThreshold{
			"f1":      {Threshold: steps.Float(minF1), MinRelativeChange: steps.Float(0), GreaterIsBetter: true},
			"roc_auc": {Threshold: steps.Float(0.75), MinRelativeChange: steps.Float(0), GreaterIsBetter: true},
		},
		MaxDemographicParity: 0.2, MaxEqualizedOdds: 0.25,
	}
}

// registryState is a model's state read through the REST API: alias →
// version, and version → tags.
type registryState struct {
	Aliases  map[string]string
	Versions map[string]map[string]string
}

func readState(t *testing.T, c *mlflow.Client, model string) registryState {
	t.Helper()
	s := registryState{Aliases: map[string]string{}, Versions: map[string]map[string]string{}}
	rm, err := c.GetRegisteredModel(t.Context(), model)
	if errors.Is(err, mlflow.ErrNotFound) {
		return s
	}
	require.NoError(t, err)
	for _, a := range rm.Aliases {
		s.Aliases[a.Alias] = a.Version
	}
	mvs, err := c.SearchAllModelVersions(t.Context(), "name = '"+model+"'")
	require.NoError(t, err)
	for _, mv := range mvs {
		tags := map[string]string{}
		for _, tg := range mv.Tags {
			tags[tg.Key] = tg.Value
		}
		s.Versions[mv.Version] = tags
	}
	return s
}

// newClient returns a client of the test server (mlflowtest.URI).
func newClient(t *testing.T) *mlflow.Client { return mlflowtest.Client(t) }

// uniqueName returns a name no other test takes.
func uniqueName(prefix string) string { return mlflowtest.Unique(prefix) }

// figures are a version's validation figures, its steps.TagValidation.
type figures struct {
	At              string                        `json:"at"`
	By              string                        `json:"by"`
	Data            string                        `json:"data"`
	Rows            int                           `json:"rows"`
	ChampionVersion string                        `json:"champion_version"`
	Label           string                        `json:"label"`
	PositiveLabel   string                        `json:"positive_label"`
	Metrics         map[string]float64            `json:"metrics"`
	Fairness        map[string]map[string]float64 `json:"fairness"`
	FailedChecks    []string                      `json:"failed_checks"`
}

// validationFigures reads the figures of a version's tags, failing the
// test when it has none.
func validationFigures(t *testing.T, tags map[string]string) figures {
	t.Helper()
	v, ok := tags[steps.TagValidation]
	require.True(t, ok, "no tag %s in %v", steps.TagValidation, tags)
	var f figures
	require.NoError(t, json.Unmarshal([]byte(v), &f), v)
	return f
}
