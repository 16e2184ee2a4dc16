package steps

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/pyworker"
)

// pythonModel is a model of a python_function flavor (scikit-learn,
// xgboost, a PythonModel...) scored by MLflow's own pyfunc in the run's
// Python worker.
type pythonModel struct {
	m *pyworker.Model
	// positive is the class that means churn, as the model spells it;
	// positiveErr why there is none (a model of another data set).
	positive    string
	positiveErr error
	// inputs are the Telco columns sent to the model: its signature's,
	// else the 19 feature columns; telcoErr says why its signature does
	// not read Telco customers (it reads another data set).
	inputs   []string
	telcoErr error
	// env is the model's own environment (--env-manager virtualenv or
	// uv), nil when it is scored with the run's interpreter.
	env *pyworker.Env
}

// envSummary says, for a cell's output, which environment a model runs
// in: its manager, Python and MLflow, and whether this run built it.
func envSummary(pb *Playbook, env *pyworker.Env) string {
	how := tr(pb, "reused")
	if !env.Reused {
		how = trf(pb, "built in %s", env.BuildTime.Round(100*time.Millisecond))
	}
	s := fmt.Sprintf("--env-manager %s%s Python %s, mlflow %s, %d %s (%s)", env.Manager, tr(pb, ":"), env.Version, env.MLflow,
		len(env.Requirements), tr(pb, "requirements"), how)
	if len(env.Added) > 0 {
		s += trf(pb, "; added for playbook's worker: %s", strings.Join(env.Added, ", "))
	}
	return s
}

// loadPython loads the model folder dir (flavors listed; downloaded from
// artifactURI) in the run's worker, starting it on first use. A model of another data set than
// Telco's loads too: only scoring customers fails then.
func (r *registry) loadPython(artifactURI, dir string, flavors []string) (*pythonModel, error) {
	w, env, err := notebook.ModelWorker(r.pb, artifactURI, dir)
	if err != nil {
		return nil, stepErrorf("its flavors (%s) are scored with MLflow's pyfunc in Python: %w", strings.Join(flavors, ", "), err)
	}
	var m *pyworker.Model
	if w.Remote() {
		// A kernel process's worker, started by playbook: it loads what
		// playbook downloads itself from the registry, never a folder of
		// the kernel's.
		m, err = w.LoadArtifacts(artifactURI)
	} else {
		m, err = w.Load(dir)
	}
	if err != nil {
		return nil, err
	}
	p := &pythonModel{m: m, inputs: churn.FeatureColumns(), env: env}
	p.positive, p.positiveErr = positiveClass(m.Classes)
	if m.Inputs != nil {
		p.inputs = p.inputs[:0:0]
		for _, in := range m.Inputs {
			if !slices.Contains(churn.FeatureColumns(), in[0]) {
				p.telcoErr = stepErrorf("its signature wants a column %q, which the Telco schema's feature columns (%s) do not have: "+
					"validate it on its own data set (ValidateOptions.Label, PositiveLabel) and infer with steps.InferRows",
					in[0], strings.Join(churn.FeatureColumns(), ", "))
				break
			}
			p.inputs = append(p.inputs, in[0])
		}
	}
	return p, nil
}

// positiveClass returns the class of a classifier that means churn: 1,
// "Yes" or True as the model spells it. Without known classes (a model
// that is not scikit-learn's), it is 1.
func positiveClass(classes []string) (string, error) {
	if len(classes) == 0 {
		return "1", nil
	}
	for _, c := range classes {
		switch c {
		case "1", "1.0", churn.Yes, "True", "true":
			return c, nil
		}
	}
	return "", stepErrorf("its classes are %q: playbook reads churn as 1, %q or True", classes, churn.Yes)
}

// classNamed returns the model's class that label names: the same text,
// or the same number ("1" for a class 1.0). Without known classes it is
// label itself.
func (p *pythonModel) classNamed(label string) (string, error) {
	if len(p.m.Classes) == 0 {
		return label, nil
	}
	for _, c := range p.m.Classes {
		if c == label {
			return c, nil
		}
	}
	if x, err := strconv.ParseFloat(label, 64); err == nil {
		for _, c := range p.m.Classes {
			if y, err := strconv.ParseFloat(c, 64); err == nil && x == y {
				return c, nil
			}
		}
	}
	return "", stepErrorf("the positive label %q is not one of the model's classes %q", label, p.m.Classes)
}

// scores returns each customer's probability of churn, or, for a model
// that gives labels only, its label (1 or 0).
func (p *pythonModel) scores(customers []churn.Customer) ([]float64, error) {
	if p.telcoErr != nil {
		return nil, p.telcoErr
	}
	if p.positiveErr != nil {
		return nil, p.positiveErr
	}
	if len(customers) == 0 {
		return []float64{}, nil
	}
	return p.predict(featureFrame(customers, p.inputs), p.positive)
}

// predict returns each row's probability of the class positive (as the
// model spells it), or, for a model that gives labels only, 1 or 0.
func (p *pythonModel) predict(f *pyworker.Frame, positive string) ([]float64, error) {
	if p.m.Proba {
		return p.m.PredictProba(f, positive)
	}
	return p.m.PredictLabels(f, positive)
}

// featureFrame returns the columns of customers the model reads, typed as
// the model's signature has them (strings, int64, float64).
func featureFrame(customers []churn.Customer, columns []string) *pyworker.Frame {
	names, rows := churn.FeatureFrame(customers)
	f := &pyworker.Frame{}
	for _, want := range columns {
		j := slices.Index(names, want)
		c := pyworker.Column{Name: want}
		switch rows[0][j].(type) {
		case string:
			c.String = make([]string, len(rows))
			for i := range rows {
				c.String[i] = rows[i][j].(string)
			}
		case int:
			c.Int = make([]int64, len(rows))
			for i := range rows {
				c.Int[i] = int64(rows[i][j].(int))
			}
		default:
			c.Float = make([]float64, len(rows))
			for i := range rows {
				c.Float[i] = rows[i][j].(float64)
			}
		}
		f.Columns = append(f.Columns, c)
	}
	return f
}

// checkScorable fails register, before anything is created, for a model
// that playbook could not score later: one with neither playbook's flavor
// nor MLflow's python_function, or a python_function model when the run's
// Python worker cannot start (it is started now, and kept for the run). It
// returns the model's flavors and the named columns of its signature ([name,
// type]; nil without a signature, or one without column names).
func (r *registry) checkScorable(src modelSource) (flavors []string, inputs [][2]string) {
	body, err := r.c.DownloadArtifact(r.ctx, src.artifactURI, mlmodelFile)
	if err != nil {
		failf("register: reading the %s file of %s: %w", mlmodelFile, src.source, err)
	}
	data, err := io.ReadAll(io.LimitReader(body, 1<<20))
	body.Close()
	if err != nil {
		failf("register: reading the %s file of %s: %w", mlmodelFile, src.source, err)
	}
	var mlm struct {
		Flavors   map[string]any `yaml:"flavors"`
		Signature struct {
			Inputs string `yaml:"inputs"`
		} `yaml:"signature"`
	}
	if err := yaml.Unmarshal(data, &mlm); err != nil {
		failf("register: the %s file of %s: %w; nothing was registered", mlmodelFile, src.source, err)
	}
	flavors = slices.Sorted(maps.Keys(mlm.Flavors))
	switch {
	case slices.Contains(flavors, churn.Flavor):
	case slices.Contains(flavors, churn.PyfuncFlavor):
		if err := notebook.CheckPython(r.pb); err != nil {
			failf("register: %s has flavors %s, scored with MLflow's pyfunc in Python: %w; nothing was registered",
				src.source, strings.Join(flavors, ", "), err)
		}
	default:
		failf("register: %s has flavors %q: playbook scores its own %q models, or any model with MLflow's %q flavor; nothing was registered",
			src.source, flavors, churn.Flavor, churn.PyfuncFlavor)
	}
	var cols []struct{ Name, Type string }
	if mlm.Signature.Inputs != "" && json.Unmarshal([]byte(mlm.Signature.Inputs), &cols) == nil {
		for _, c := range cols {
			if c.Name == "" {
				return flavors, nil // a tensor signature: no columns to check
			}
			inputs = append(inputs, [2]string{c.Name, c.Type})
		}
	}
	return flavors, inputs
}

// checkValidationData checks, for register, that the model of flavors and
// signature inputs can be validated on the data opts names: the data
// reads (as steps.CheckData reads it), and has the columns the signature
// wants, typed as it wants them; playbook's own churn model reads Telco
// data only.
func checkValidationData(dir dataDir, opts ValidateOptions, flavors []string, inputs [][2]string) error {
	goModel := slices.Contains(flavors, churn.Flavor)
	if !opts.generic() {
		if _, _, err := validationData(dir, opts); err != nil {
			return err
		}
		for _, in := range inputs {
			if !goModel && !slices.Contains(churn.FeatureColumns(), in[0]) {
				return stepErrorf("its signature reads a column %q, which Telco customers do not have: validate it on its own data set (ValidateOptions.Label, PositiveLabel)", in[0])
			}
		}
		return nil
	}
	g, err := loadGeneric(dir, opts)
	if err != nil {
		return err
	}
	if goModel {
		return stepErrorf("it is playbook's own churn model (flavor %s), which reads the Telco schema only, not %s", churn.Flavor, opts.Data)
	}
	if _, _, err := tableFrame(g.table, inputs, g.label); err != nil {
		return stepErrorf("validation data %s: %w", opts.Data, err)
	}
	return nil
}

// errLabelsOnly is validate's refusal of a metric that needs scores.
var errLabelsOnly error = &phrase{"the model gives labels only (no predict_proba)", "le modèle ne donne que des étiquettes (pas de predict_proba)"}
