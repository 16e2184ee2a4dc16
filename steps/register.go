package steps

import (
	"errors"
	"fmt"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
)

// Register defaults.
const (
	DefaultModelName = "ChurnPredictor"
	// DefaultReadyTimeout bounds the wait for a new version to be READY.
	DefaultReadyTimeout = 5 * time.Minute
	// DefaultModelPath is where a run's model is: the name of its MLflow 3
	// logged model, or the folder of its artifacts (MLflow 2, playbook's
	// training), as in runs:/RUN_ID/model.
	DefaultModelPath = "model"
)

// Kinds of source a version is registered from (Version.SourceKind).
const (
	// SourceLoggedModel: an MLflow 3 logged model, registered by
	// models:/<model_id> with its model_id.
	SourceLoggedModel = "logged_model"
	// SourceRunArtifacts: a folder of the run's own artifacts (MLflow 2,
	// playbook's training), registered by its artifact URI.
	SourceRunArtifacts = "run_artifacts"
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
	// Path is where the run's model is, as in runs:/RUN_ID/PATH: the name
	// of the run's logged model (MLflow 3) or a folder of the run's
	// artifacts; "" means DefaultModelPath. It must be "" or the logged
	// model's name when the run was chosen by its logged model (Identify
	// over OverLoggedModels).
	Path string
	// Validation, when set, are the options the version will be validated
	// with: before it creates anything, Register checks that their data
	// reads (as steps.CheckData) and has the columns the model's signature
	// reads, typed as the signature has them, so that bad data fails before
	// the registry changes rather than at validate.
	Validation *ValidateOptions
}

// Version is a registered model version, as Register left it.
type Version struct {
	Model   string
	Version string
	Source  string
	// SourceKind is SourceLoggedModel or SourceRunArtifacts; ModelID the
	// logged model's id ("" for run artifacts); ArtifactURI where the
	// source's files are (the logged model's artifact location, or the
	// run's artifact folder).
	SourceKind  string
	ModelID     string
	ArtifactURI string
	RunID       string
	RunLink     string
	Status      string
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

// Register registers the model of run as a version of a registered model.
// The source is found as MLflow 3's mlflow.register_model("runs:/RUN_ID/PATH")
// finds it (opts.Path, DefaultModelPath by default): the run's artifacts at
// the path when they hold an MLmodel file, else the run's logged model of
// that name, registered by models:/<model_id> with its model_id; when
// Identify ranked logged models, the logged model it chose. Before anything
// is created, Register checks that the source holds an MLmodel file, and
// otherwise fails with an error naming the run, the path and what is
// there, the registry unchanged.
//
// The registered model is created when missing (another client creating it
// at the same moment is fine). When a version was already registered from
// the same run and the same source, it is reused, unless opts.NewVersion;
// otherwise a new version is created with the source, the run id, the
// logged model's id and the run's page in the MLflow UI, and Register
// waits until it is READY. It shows the kind of source used.
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
	path := registerPath(run, opts.Path)
	r := openRegistry(pb)
	r.before(opts.Model)
	// Checked before anything is created: a run without a model at the
	// path fails here, the registry unchanged.
	src := r.resolveSource(run, path)
	flavors, inputs := r.checkScorable(src)
	if opts.Validation != nil {
		if err := checkValidationData(dataIn(pb), *opts.Validation, flavors, inputs); err != nil {
			failf("register: %s cannot be validated as asked: %w; nothing was registered", src.source, err)
		}
	}

	res := &Version{
		Model: opts.Model, Source: src.source, SourceKind: src.kind, ModelID: src.modelID, ArtifactURI: src.artifactURI,
		RunID: run.RunID, RunLink: run.RunURL, DryRun: pb.DryRun(), Run: run,
	}
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
		existing = findVersion(r, opts.Model, run.RunID, src.source)
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
		res.Version, res.Status, res.Reused = mv.Version, string(mv.Status), true
		if mv.RunLink != "" {
			res.RunLink = mv.RunLink
		}
		note = trf(pb, "version %s was already registered from run %s with the same source: reused (new_version=true registers another)", mv.Version, run.RunID)
	default:
		mv, err := r.createVersion(mlflow.CreateModelVersionRequest{
			// No run_link: MLflow's UI shows it cut to 37 characters, over
			// the alias chips; with run_id alone it links the run itself.
			Name: opts.Model, Source: src.source, RunID: run.RunID, ModelID: src.modelID,
		}, src.artifactURI)
		if err != nil {
			failf("registering run %s as a version of %q: %w", run.RunID, opts.Model, err)
		}
		if !pb.DryRun() {
			if mv, err = r.c.WaitModelVersionReady(r.ctx, opts.Model, mv.Version, opts.ReadyTimeout); err != nil {
				failf("waiting for the new version of %q to be READY: %w", opts.Model, err)
			}
		}
		res.Version, res.Status, res.Created = mv.Version, string(mv.Status), true
		note = tr(pb, "a new version was created")
		if pb.DryRun() {
			note = tr(pb, "dry run: a new version would be created")
		}
	}

	modelNote := tr(pb, "exists")
	if res.ModelCreated {
		modelNote = tr(pb, "created")
	}
	pb.KV(tr(pb, "Registered version"),
		tr(pb, "model"), fmt.Sprintf("%s (%s)", opts.Model, modelNote),
		"version", res.Version,
		tr(pb, "status"), res.Status,
		"source", res.Source,
		tr(pb, "source kind"), sourceKindText(pb, src),
		"run_id", res.RunID,
		"run_link", res.RunLink,
		tr(pb, "decision"), note,
	)
	return res
}

// sourceKindText says what kind of source a version is registered from.
func sourceKindText(pb *Playbook, src modelSource) string {
	if src.kind == SourceLoggedModel {
		return trf(pb, "%s: the run's logged model %s, called %s (MLflow 3)", src.kind, src.modelID, quoted(pb, src.modelName))
	}
	return trf(pb, "%s: the run's artifacts, folder %s", src.kind, quoted(pb, src.path))
}

// findVersion returns the newest version of model registered from run
// runID with source, or nil.
func findVersion(r *registry, model, runID, source string) *mlflow.ModelVersion {
	mvs, err := r.c.SearchAllModelVersions(r.ctx, "run_id = '"+runID+"'")
	if err != nil {
		failf("searching the versions of %q registered from run %s: %w", model, runID, err)
	}
	var best *mlflow.ModelVersion
	for i := range mvs {
		mv := &mvs[i]
		if mv.Name != model || mv.RunID != runID || mv.Source != source || mv.Status == mlflow.ModelVersionFailedRegistration {
			continue
		}
		if best == nil || versionLess(best.Version, mv.Version) {
			best = mv
		}
	}
	return best
}
