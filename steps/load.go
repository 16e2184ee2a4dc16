package steps

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/mlflow"
)

// LoadedModel is a model version loaded from the registry, ready to predict.
type LoadedModel struct {
	// URI is the models:/ URI it was loaded by.
	URI     string
	Model   string
	Version string
	// Alias is the URI's alias, "" when it names a version.
	Alias string
	RunID string
	// ArtifactURI is where its files were downloaded from.
	ArtifactURI string
	// Flavors are the flavors its MLmodel file lists.
	Flavors []string
	// Predictor is the model itself when it is playbook's own (the
	// playbook_churn flavor), nil for a model scored in Python.
	Predictor *churn.Model
	// Threshold is the probability at or above which it predicts churn:
	// the Go model's own, 0.5 for a Python model.
	Threshold float64
	// Python says the model is scored by MLflow's pyfunc in the run's
	// Python worker; LabelsOnly that it gives labels, not probabilities
	// (then its "probabilities" are its labels, 1 or 0).
	Python, LabelsOnly bool
	py                 *pythonModel
	// Planned says the version is a dry run's plan: its alias was not
	// moved, and it was loaded from its source.
	Planned bool
}

// PredictProba returns each customer's probability of churn (a
// labels-only model's labels).
func (m *LoadedModel) PredictProba(customers []churn.Customer) []float64 {
	p, err := m.scores(customers)
	if err != nil {
		fail(err)
	}
	return p
}

// Predict returns each customer's predicted label: 1 (churn) or 0.
func (m *LoadedModel) Predict(customers []churn.Customer) []int {
	return churn.Threshold(m.PredictProba(customers), m.Threshold)
}

// scores is PredictProba with its error.
func (m *LoadedModel) scores(customers []churn.Customer) ([]float64, error) {
	switch {
	case m.py != nil:
		p, err := m.py.scores(customers)
		if err != nil {
			return nil, stepErrorf("%s (version %s), scored in Python: %w", m.URI, m.Version, err)
		}
		return p, nil
	case m.Predictor != nil:
		return m.Predictor.PredictProba(&churn.Dataset{Customers: customers}), nil
	}
	return nil, stepErrorf("no model: pass the result of steps.Load")
}

// Load resolves uri, models:/NAME@ALIAS (or models:/NAME/VERSION), to a
// model version and its artifacts, downloads them and builds the model, as
// a service would: the cell names the alias, never a version. A model of a
// flavor this project cannot load fails with an error naming the flavors
// it has.
func Load(pb *Playbook, uri string) *LoadedModel {
	r := openRegistry(pb)
	m, err := r.load(uri)
	if err != nil {
		fail(err)
	}
	kv := []any{
		"URI", m.URI,
		tr(pb, "resolved to"), fmt.Sprintf("%s version %s", m.Model, m.Version),
		"run_id", m.RunID,
		tr(pb, "artifacts"), m.ArtifactURI,
		tr(pb, "flavors"), strings.Join(m.Flavors, ", "),
		tr(pb, "decision threshold"), m.Threshold,
	}
	if m.Python {
		how := tr(pb, "probabilities (predict_proba)")
		if m.LabelsOnly {
			how = tr(pb, "labels only (no predict_proba)")
		}
		kv = append(kv, tr(pb, "scored by"), trf(pb, "MLflow's pyfunc in Python: %s", how))
		if m.py.env != nil {
			kv = append(kv, tr(pb, "environment"), envSummary(pb, m.py.env))
		}
	}
	switch {
	case m.Planned && m.Version == DryRunVersion:
		kv = append(kv, tr(pb, "dry run"), tr(pb, "the version was not created nor the alias moved: the model was loaded from its run's source"))
	case m.Planned:
		kv = append(kv, tr(pb, "dry run"), tr(pb, "the alias was not moved: the version it would point to was loaded"))
	}
	pb.KV(tr(pb, "Loaded model"), kv...)
	return m
}

// load resolves a models:/ URI through the registry (as a dry run's plan
// would leave it), downloads the version's artifacts and loads the model.
func (r *registry) load(uri string) (*LoadedModel, error) {
	m, err := r.resolve(uri)
	if err != nil {
		return nil, err
	}
	return r.loadArtifacts(m, true, nil)
}

// resolve resolves a models:/ URI through the registry (as a dry run's plan
// would leave it) to a version and where its artifacts are; the model is
// not loaded.
func (r *registry) resolve(uri string) (*LoadedModel, error) {
	u, err := mlflow.ParseModelURI(uri)
	if err != nil {
		return nil, err
	}
	m := &LoadedModel{URI: u.String(), Model: u.Name, Alias: u.Alias, Version: u.Version}
	if u.Alias != "" {
		v, ok, err := r.aliasVersion(u.Name, u.Alias)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, r.missing(u)
		}
		m.Version = v
	}
	if _, ok := r.plannedAlias(u.Name, u.Alias); ok && u.Alias != "" {
		m.Planned = true
	}
	if src, planned := r.plannedSource(u.Name, m.Version); planned {
		m.ArtifactURI, m.Planned = src, true
	} else {
		mv, err := r.c.GetModelVersion(r.ctx, u.Name, m.Version)
		if errors.Is(err, mlflow.ErrNotFound) {
			return nil, r.missing(u)
		}
		if err != nil {
			return nil, stepErrorf("%s: reading version %s: %w", m.URI, m.Version, err)
		}
		m.RunID = mv.RunID
		if m.ArtifactURI, err = r.c.GetModelVersionDownloadURI(r.ctx, u.Name, m.Version); err != nil {
			return nil, stepErrorf("%s (version %s): locating its artifacts: %w", m.URI, m.Version, err)
		}
	}
	return m, nil
}

// loadArtifacts downloads the artifacts of the resolved m and builds its
// model: playbook's own in Go, a python_function model in the run's Python
// worker when python is true (else only its flavors are read). inDir, when
// not nil, is called with the folder of the artifacts once the model is
// read, before the folder is removed.
func (r *registry) loadArtifacts(m *LoadedModel, python bool, inDir func(dir string)) (*LoadedModel, error) {
	dir, err := os.MkdirTemp("", "playbook-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := r.c.DownloadDir(r.ctx, m.ArtifactURI, "", dir); err != nil {
		return nil, stepErrorf("%s (version %s): downloading %s: %w", m.URI, m.Version, m.ArtifactURI, err)
	}
	m, err = r.readModel(m, dir, python)
	if err == nil && inDir != nil {
		inDir(dir)
	}
	return m, err
}

// readModel builds the model of m from its artifacts in dir (see
// loadArtifacts).
func (r *registry) readModel(m *LoadedModel, dir string, python bool) (*LoadedModel, error) {
	model, meta, err := churn.LoadModel(dir)
	var fe *churn.FlavorError
	switch {
	case errors.As(err, &fe) && slices.Contains(fe.Flavors, churn.PyfuncFlavor) && !python:
		m.Flavors, m.Threshold = fe.Flavors, churn.DefaultThreshold
		return m, nil
	case errors.As(err, &fe) && slices.Contains(fe.Flavors, churn.PyfuncFlavor):
		py, err := r.loadPython(m.ArtifactURI, dir, fe.Flavors)
		if err != nil {
			return nil, stepErrorf("%s (version %s): %w", m.URI, m.Version, err)
		}
		m.py, m.Python, m.LabelsOnly, m.Flavors, m.Threshold = py, true, !py.m.Proba, fe.Flavors, churn.DefaultThreshold
		return m, nil
	case errors.As(err, &fe):
		return nil, stepErrorf("%s (version %s) has flavor %s: playbook loads its own %q models, or any model with MLflow's %q flavor: %w",
			m.URI, m.Version, strings.Join(fe.Flavors, ", "), churn.Flavor, churn.PyfuncFlavor, fe)
	case errors.Is(err, os.ErrNotExist):
		return nil, stepErrorf("%s (version %s): %s holds no MLmodel file: is it a model's folder? %w", m.URI, m.Version, m.ArtifactURI, err)
	case err != nil:
		return nil, stepErrorf("%s (version %s): %w", m.URI, m.Version, err)
	}
	m.Predictor, m.Flavors, m.Threshold = model, meta.Flavors, model.Threshold
	if m.RunID == "" {
		m.RunID = meta.RunID
	}
	return m, nil
}

// missing says what of u does not exist: the model, its alias, or its
// version.
func (r *registry) missing(u mlflow.ModelURI) error {
	_, err := r.c.GetRegisteredModel(r.ctx, u.Name)
	if errors.Is(err, mlflow.ErrNotFound) {
		return stepErrorf("%s: registered model %q not found on %s: %w", u, u.Name, r.c.TrackingURI(), mlflow.ErrNotFound)
	}
	if u.Alias != "" {
		return stepErrorf("%s: model %q has no alias %q: %w", u, u.Name, u.Alias, mlflow.ErrNotFound)
	}
	return stepErrorf("%s: model %q has no version %s: %w", u, u.Name, u.Version, mlflow.ErrNotFound)
}
