package steps

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
)

// Register defaults.
const (
	DefaultModelName = "ChurnPredictor"
	// DefaultReadyTimeout bounds the wait for a new version to be READY.
	DefaultReadyTimeout = 5 * time.Minute
)

// RegisterOptions configures [Register].
type RegisterOptions struct {
	// Model is the registered model's name; "" means DefaultModelName.
	Model string
	// NewVersion registers a new version even when one was already
	// registered from the same run and source.
	NewVersion bool
	// Description is the registered model's description, when Register
	// creates it.
	Description string
	// ReadyTimeout bounds the wait for the version to be READY; 0 means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Version is a registered model version, as Register left it.
type Version struct {
	Model   string
	Version string
	Source  string
	RunID   string
	RunLink string
	Status  string
	// Reused says the version was already registered from the same run and
	// source; Created that Register created it.
	Reused  bool
	Created bool
	// ModelCreated says Register created the registered model.
	ModelCreated bool
	// DryRun says nothing was sent: a new version is numbered DryRunVersion.
	DryRun bool
	// Run is the run the version was registered from.
	Run *BestRun
}

// Register registers the model of run as a version of a registered model,
// created when missing (another client creating it at the same moment is
// fine). When a version was already registered from the same run and the
// same source, it is reused, unless opts.NewVersion; otherwise a new version
// is created with the source, the run id and the run's page in the MLflow
// UI, and Register waits until it is READY.
//
// The first time the run reads the model, Register shows and keeps its
// state: the "before" snapshot (aliases → versions, tags per version).
func Register(pb *Playbook, run *BestRun, opts RegisterOptions) *Version {
	if run == nil {
		failf("register: no run: pass the result of steps.Identify")
	}
	if opts.Model == "" {
		opts.Model = DefaultModelName
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = DefaultReadyTimeout
	}
	if _, err := modelFilter(opts.Model); err != nil {
		fail(err)
	}
	r := openRegistry(pb)
	defer r.showCalls()
	r.before(opts.Model)

	res := &Version{Model: opts.Model, Source: run.ModelSource, RunID: run.RunID, RunLink: run.RunURL, DryRun: pb.DryRun(), Run: run}
	_, err := r.c.GetRegisteredModel(r.ctx, opts.Model)
	switch {
	case errors.Is(err, mlflow.ErrNotFound):
		created, err := r.createModel(opts.Model, opts.Description)
		if err != nil {
			// The server may refuse a create racing another one with an
			// error other than RESOURCE_ALREADY_EXISTS: the model existing
			// now is all that matters.
			if _, gerr := r.c.GetRegisteredModel(r.ctx, opts.Model); gerr != nil {
				failf("creating registered model %q: %w", opts.Model, err)
			}
		}
		res.ModelCreated = created
	case err != nil:
		failf("reading registered model %q: %w", opts.Model, err)
	}

	var existing *mlflow.ModelVersion
	if !opts.NewVersion && !res.ModelCreated {
		existing = findVersion(r, opts.Model, run)
	}
	note := ""
	switch {
	case existing != nil:
		mv := existing
		if mv.Status == mlflow.ModelVersionPendingRegistration {
			if mv, err = r.c.WaitModelVersionReady(r.ctx, opts.Model, mv.Version, opts.ReadyTimeout); err != nil {
				failf("waiting for %s version %s: %w", opts.Model, existing.Version, err)
			}
		}
		res.Version, res.Status, res.Reused, res.RunLink = mv.Version, string(mv.Status), true, mv.RunLink
		note = tr(pb,
			fmt.Sprintf("version %s was already registered from run %s with the same source: reused (new_version=true registers another)", mv.Version, run.RunID),
			fmt.Sprintf("la version %s était déjà enregistrée depuis le run %s avec la même source : réutilisée (new_version=true en enregistre une autre)", mv.Version, run.RunID),
		)
	default:
		mv, err := r.createVersion(mlflow.CreateModelVersionRequest{
			Name: opts.Model, Source: run.ModelSource, RunID: run.RunID, RunLink: run.RunURL,
		})
		if err != nil {
			failf("registering run %s as a version of %q: %w", run.RunID, opts.Model, err)
		}
		if !pb.DryRun() {
			if mv, err = r.c.WaitModelVersionReady(r.ctx, opts.Model, mv.Version, opts.ReadyTimeout); err != nil {
				failf("waiting for the new version of %q to be READY: %w", opts.Model, err)
			}
		}
		res.Version, res.Status, res.Created = mv.Version, string(mv.Status), true
		note = tr(pb, "a new version was created", "une nouvelle version a été créée")
		if pb.DryRun() {
			note = tr(pb, "dry run: a new version would be created", "essai à blanc : une nouvelle version serait créée")
		}
	}

	modelNote := tr(pb, "exists", "existe déjà")
	if res.ModelCreated {
		modelNote = tr(pb, "created", "créé")
	}
	pb.KV(tr(pb, "Registered version", "Version enregistrée"),
		tr(pb, "model", "modèle"), fmt.Sprintf("%s (%s)", opts.Model, modelNote),
		"version", res.Version,
		"status", res.Status,
		"source", res.Source,
		"run_id", res.RunID,
		"run_link", res.RunLink,
		tr(pb, "decision", "décision"), note,
	)
	return res
}

// findVersion returns the newest version of model registered from run with
// its model source, or nil.
func findVersion(r *registry, model string, run *BestRun) *mlflow.ModelVersion {
	if strings.ContainsAny(run.RunID, `'"\`) {
		failf("run id %q: not a run id", run.RunID)
	}
	mvs, err := r.c.SearchAllModelVersions(r.ctx, "run_id = '"+run.RunID+"'")
	if err != nil {
		failf("searching the versions of %q registered from run %s: %w", model, run.RunID, err)
	}
	var best *mlflow.ModelVersion
	for i := range mvs {
		mv := &mvs[i]
		if mv.Name != model || mv.RunID != run.RunID || mv.Source != run.ModelSource || mv.Status == mlflow.ModelVersionFailedRegistration {
			continue
		}
		if best == nil || versionLess(best.Version, mv.Version) {
			best = mv
		}
	}
	return best
}
