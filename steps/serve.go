package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"

	"github.com/playbook-mlops/playbook/internal/scoring"
)

// Serve defaults and modes.
const (
	// DefaultServeTimeout is how long Serve waits for the scoring server
	// to answer /ping.
	DefaultServeTimeout = 2 * time.Minute
	// ServeAuto, ServeOn and ServeOff are ServeWanted's modes: serve when
	// a Python with mlflow is found; always (a missing Python fails);
	// never.
	ServeAuto = "auto"
	ServeOn   = "on"
	ServeOff  = "off"
)

// ServeOptions configure [Serve].
type ServeOptions struct {
	// ReadyTimeout bounds the wait for /ping; 0 means DefaultServeTimeout.
	ReadyTimeout time.Duration
}

// Scorer is what [Infer] scores with: a *LoadedModel (steps.Load, in
// process) or a *ServedModel (steps.Serve, over REST).
type Scorer interface {
	// PredictProba returns each customer's probability of churn (a
	// labels-only model's labels).
	PredictProba(customers []churn.Customer) []float64
	// Predict returns each customer's predicted label: 1 (churn) or 0.
	Predict(customers []churn.Customer) []int
}

// ServedModel is a model version served by MLflow's scoring server
// (`mlflow models serve`) in its own process, for the rest of the run.
type ServedModel struct {
	// URI is the models:/ URI it serves.
	URI     string
	Model   string
	Version string
	// Alias is the URI's alias, "" when it names a version.
	Alias string
	RunID string
	// Flavors are the flavors its MLmodel file lists.
	Flavors []string
	// Probabilities says the server gives probabilities: playbook's own
	// models, asked with params {"predict_method": "predict_proba"}. Other
	// models (scikit-learn...) give their predict's labels, unless they
	// answer [P(0), P(1)] pairs (a scikit-learn model logged with
	// pyfunc_predict_fn="predict_proba").
	Probabilities bool
	// Threshold is the probability at or above which it predicts churn:
	// the model's own for playbook's models, else 0.5.
	Threshold float64
	// URL is where the server listens (loopback), Port its port.
	URL  string
	Port int
	// PID is the server's process, the leader of its own process group.
	PID int
	// ReadyIn is the time from the start to the first /ping answered.
	ReadyIn time.Duration
	// Planned says the version is a dry run's plan: the server serves its
	// source, not the alias, which was not moved.
	Planned bool

	// invoke posts a request to /invocations: to the server, or through
	// playbook from a kernel process.
	invoke func(ctx context.Context, body []byte) (int, []byte, error)
	ctx    func() context.Context // the current cell's context
}

// ServeWanted says whether the scenario serves its model, by mode (a
// scenario parameter): ServeOn, ServeOff, or ServeAuto (serve when the
// run's Python interpreter is found: see --python). It shows the decision
// and, when it is no, why: the model is then scored in process.
func ServeWanted(pb *Playbook, mode string) bool {
	title := tr(pb, "Serving")
	inProcess := tr(pb, "the model is scored in process (steps.Load)")
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case ServeOff, "false", "no":
		pb.KV(title, tr(pb, "decision"), trf(pb, "not served: serve=%s", mode),
			tr(pb, "why"), inProcess)
		return false
	case ServeOn, "true", "yes":
		return true
	case ServeAuto, "":
		py, err := notebook.InterpreterOf(pb)
		if mgr := notebook.EnvManager(pb); mgr != pyworker.EnvLocal {
			// The model's own environment is built when serving.
			py, err = "--env-manager "+mgr, notebook.CheckPython(pb)
		}
		if err != nil {
			pb.KV(title, tr(pb, "decision"), tr(pb, "not served (serve=auto)"),
				tr(pb, "why"), whyNoPython(pb, err),
				tr(pb, "instead"), inProcess)
			return false
		}
		pb.KV(title, tr(pb, "decision"), tr(pb, "served (serve=auto)"), "Python", py)
		return true
	}
	failf("serve: mode %q: want %s, %s or %s", mode, ServeAuto, ServeOn, ServeOff)
	return false
}

// whyNoPython says why the run has no Python to serve with (err,
// InterpreterOf's): in English, its words; in French, the catalogue's.
func whyNoPython(pb *Playbook, err error) string {
	if !french(lang(pb)) {
		return trf(pb, "no Python with mlflow to run mlflow models serve: %s", err.Error())
	}
	if notebook.EnvManager(pb) == pyworker.EnvUV {
		return tr(pb, "no uv to build the model's environment (--env-manager uv): install it (pip install uv)")
	}
	return tr(pb, "no Python with mlflow and pyarrow to run mlflow models serve (no --python, no $PLAYBOOK_PYTHON, no python3 on PATH that imports them)")
}

// Serve starts MLflow's scoring server on uri, models:/NAME@ALIAS (or
// models:/NAME/VERSION), as a service would: `python -m mlflow models serve
// -m URI --env-manager local -h 127.0.0.1 -p PORT` with the run's Python
// interpreter (its folder first on PATH), in an environment with the
// tracking URI only, without credentials (so the model must be readable
// without them). It waits for /ping (opts.ReadyTimeout), records what it
// started in the evidence, and returns the served model, which Infer
// scores through /invocations. The server runs until the run ends, when it
// is stopped (its whole process group), whether the run passed or failed.
func Serve(pb *Playbook, uri string, opts ServeOptions) *ServedModel {
	if opts.ReadyTimeout < 0 {
		failf("serve %s: ready timeout %s: want a positive duration", uri, opts.ReadyTimeout)
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = DefaultServeTimeout
	}
	r := openRegistry(pb)
	m, err := r.resolve(uri)
	if err != nil {
		failf("serve: %w", err)
	}
	// A kernel process asks playbook for the server: playbook starts it
	// from the files it downloads itself, stops it at the end of the run
	// and keeps its evidence, and the kernel scores through playbook.
	kernel := notebook.InKernel(pb)
	var py string // the interpreter, for the command shown
	var env *pyworker.Env
	var pyErr error
	if m, err = r.loadArtifacts(m, false, func(dir string) {
		if !kernel {
			// Found while the model's artifacts are at hand: with an
			// environment manager, its python_env.yaml says what to build.
			py, env, pyErr = notebook.ModelInterpreter(pb, dir)
		}
	}); err != nil {
		failf("serve: %w", err)
	}
	if pyErr != nil {
		failf("serve %s (version %s): `mlflow models serve` needs a Python with mlflow: %w", m.URI, m.Version, pyErr)
	}
	s := &ServedModel{
		URI: m.URI, Model: m.Model, Version: m.Version, Alias: m.Alias, RunID: m.RunID, Flavors: m.Flavors,
		Probabilities: m.Predictor != nil, Threshold: m.Threshold, Planned: m.Planned, ctx: pb.Context,
	}
	source := m.URI
	if m.Planned {
		source = m.ArtifactURI // the alias was not moved: serve what it would point to
	}
	var served record.Served
	var stop func() string
	if kernel {
		ps, err := notebook.StartServer(pb, notebook.ServeRequest{
			URI: m.URI, Source: source, Model: m.Model, Version: m.Version, ArtifactURI: m.ArtifactURI, ReadyTimeout: opts.ReadyTimeout,
		})
		if err != nil {
			failf("serve %s (version %s): %w", m.URI, m.Version, err)
		}
		s.URL, s.Port, s.PID, s.ReadyIn, s.invoke = ps.URL, ps.Port, ps.PID, ps.ReadyIn, ps.Invoke
		if len(ps.Command) > 0 {
			py = ps.Command[0]
		}
		env = ps.Env
		served = record.Served{Time: ps.Started, Command: ps.Command}
	} else {
		proc, err := scoring.Start(pb.Context(), py, source, mlflow.RedactURL(r.c.TrackingURI()), opts.ReadyTimeout)
		if err != nil {
			failf("serve %s (version %s): %w", m.URI, m.Version, err)
		}
		s.URL, s.Port, s.PID, s.ReadyIn, s.invoke = proc.URL, proc.Port, proc.PID(), proc.ReadyIn, proc.Invoke
		served = record.Served{Time: proc.Started, Command: proc.Args()}
		stop = proc.Stop
	}
	served.Step, served.URI, served.Model, served.Version, served.Source = pb.Step(), s.URI, s.Model, s.Version, source
	served.URL, served.Port, served.PID, served.ReadyIn = s.URL, s.Port, s.PID, record.Duration(s.ReadyIn)
	index := -1
	notebook.Update(pb, func(rec *record.Run) {
		index = len(rec.Evidence.Served)
		rec.Evidence.Served = append(rec.Evidence.Served, served)
	})
	if stop != nil {
		notebook.OnClose(pb, func() {
			outcome := stop()
			notebook.Update(pb, func(rec *record.Run) {
				if index >= 0 && index < len(rec.Evidence.Served) {
					rec.Evidence.Served[index].Stopped, rec.Evidence.Served[index].StopOutcome = time.Now(), outcome
				}
			})
		})
	}

	how := tr(pb, "labels (predict), as MLflow serves a scikit-learn model")
	if s.Probabilities {
		how = tr(pb, `probabilities (params {"predict_method": "predict_proba"})`)
	}
	kv := []any{
		"URI", s.URI,
		tr(pb, "resolved to"), fmt.Sprintf("%s version %s", s.Model, s.Version),
		tr(pb, "served"), source,
		tr(pb, "command"), strings.Join(append([]string{filepath.Base(py)}, served.Command[1:]...), " "),
		tr(pb, "address"), s.URL + "/invocations",
		tr(pb, "ready in"), s.ReadyIn.Round(time.Millisecond).String(),
		tr(pb, "flavors"), strings.Join(s.Flavors, ", "),
	}
	if env != nil {
		kv = append(kv, tr(pb, "environment"), envSummary(pb, env))
	}
	kv = append(kv,
		tr(pb, "scores"), how,
		tr(pb, "stopped"), tr(pb, "at the end of the scenario"),
	)
	if s.Planned {
		kv = append(kv, tr(pb, "dry run"), tr(pb, "the alias was not moved: the server serves the source of the version it would point to"))
	}
	pb.KV(tr(pb, "Served model"), kv...)
	return s
}

// PredictProba returns each customer's probability of churn, asked of the
// scoring server (a labels-only model's labels, 1 or 0).
func (s *ServedModel) PredictProba(customers []churn.Customer) []float64 {
	ctx := context.Background()
	if s != nil && s.ctx != nil {
		ctx = s.ctx()
	}
	p, _, err := s.scores(ctx, customers)
	if err != nil {
		fail(err)
	}
	return p
}

// Predict returns each customer's predicted label: 1 (churn) or 0.
func (s *ServedModel) Predict(customers []churn.Customer) []int {
	return churn.Threshold(s.PredictProba(customers), s.Threshold)
}

// invocationTimeout bounds one /invocations request.
const invocationTimeout = time.Minute

// scores posts customers to /invocations in MLflow's dataframe_split
// form (the feature columns of churn.FeatureFrame) and returns each one's
// probability of churn, or its label (labels true).
func (s *ServedModel) scores(ctx context.Context, customers []churn.Customer) (p []float64, labels bool, err error) {
	if s == nil || s.invoke == nil {
		return nil, false, stepErrorf("no served model: pass the result of steps.Serve")
	}
	if len(customers) == 0 {
		return []float64{}, !s.Probabilities, nil
	}
	columns, rows := churn.FeatureFrame(customers)
	req := map[string]any{"dataframe_split": map[string]any{"columns": columns, "data": rows}}
	if s.Probabilities {
		req["params"] = map[string]any{"predict_method": "predict_proba"}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, invocationTimeout)
	defer cancel()
	where := s.URL + "/invocations"
	status, data, err := s.invoke(ctx, body)
	if err != nil {
		return nil, false, stepErrorf("%s (version %s), served at %s: %w", s.URI, s.Version, where, err)
	}
	if status != http.StatusOK {
		return nil, false, stepErrorf("%s (version %s), served at %s: %d %s: %s", s.URI, s.Version, where, status, http.StatusText(status), strings.TrimSpace(string(data)))
	}
	var out struct {
		Predictions []json.RawMessage `json:"predictions"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, false, stepErrorf("%s (version %s), served at %s: its answer: %w", s.URI, s.Version, where, err)
	}
	if len(out.Predictions) != len(customers) {
		return nil, false, stepErrorf("%s (version %s), served at %s: %d predictions for %d customers", s.URI, s.Version, where, len(out.Predictions), len(customers))
	}
	p = make([]float64, len(customers))
	labels = !s.Probabilities
	for i, raw := range out.Predictions {
		v, isLabel, err := s.prediction(raw)
		if err != nil {
			return nil, false, stepErrorf("%s (version %s), served at %s: prediction %d: %w", s.URI, s.Version, where, i+1, err)
		}
		if i == 0 {
			labels = isLabel
		}
		p[i] = v
	}
	return p, labels, nil
}

// prediction reads one element of the server's predictions: a probability
// (playbook's models), a [P(0), P(1)] pair, or a label (1, "Yes", true...).
func (s *ServedModel) prediction(raw json.RawMessage) (v float64, label bool, err error) {
	var x any
	if err := json.Unmarshal(raw, &x); err != nil {
		return 0, false, err
	}
	switch x := x.(type) {
	case float64:
		if s.Probabilities {
			return x, false, nil
		}
		return b2f(x == 1), true, nil
	case string:
		switch x {
		case "1", "1.0", churn.Yes, "True", "true":
			return 1, true, nil
		}
		return 0, true, nil
	case bool:
		return b2f(x), true, nil
	case []any:
		if len(x) == 2 {
			if p, ok := x[1].(float64); ok {
				return p, false, nil
			}
		}
	}
	return 0, false, stepErrorf("%s: want a probability, a label or a [P(0), P(1)] pair", raw)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
