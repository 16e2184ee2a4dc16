package steps

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/playbook-mlops/playbook/mlflow"
)

// mlmodelFile is the file that makes a folder an MLflow model.
const mlmodelFile = "MLmodel"

// maxListed bounds the entries an error lists of a folder without a model.
const maxListed = 20

// modelSource is what Register registers a version from.
type modelSource struct {
	source      string // models:/<model_id>, or the run's artifact folder
	kind        string // SourceLoggedModel or SourceRunArtifacts
	modelID     string
	modelName   string // the logged model's name
	artifactURI string // where the files are
	path        string // the path in the run, "" for a logged model chosen by id
}

// resolveSource finds the model of run at p (checked by registerPath) as
// mlflow.register_model
// ("runs:/RUN_ID/PATH") does on MLflow 3 — the run's artifacts at p when
// they hold an MLmodel file, else the run's logged model called p — or the
// logged model Identify chose, and checks that its files hold an MLmodel
// file. It only reads: a run without a model at p fails the step, naming
// the run, the path and what is there, before anything is created.
func (r *registry) resolveSource(run *BestRun, p string) modelSource {
	mr, err := r.c.GetRun(r.ctx, run.RunID)
	if errors.Is(err, mlflow.ErrNotFound) {
		failf("register: run %s not found on %s", run.RunID, r.c.TrackingURI())
	}
	if err != nil {
		failf("register: reading run %s: %w", run.RunID, err)
	}
	who := fmt.Sprintf("run %s (%q)", run.RunID, mr.Info.RunName)
	// The artifact store first: one that cannot be reached, or refuses the
	// credentials, fails the step before anything is created.
	if err := r.c.CheckArtifactStore(r.ctx, mr.Info.ArtifactURI); err != nil {
		if errors.Is(err, mlflow.ErrPermissionDenied) || errors.Is(err, mlflow.ErrUnauthenticated) {
			failf("register: the artifact store of %s refuses playbook's credentials (check %s and %s, or %s); nothing was registered: %w",
				who, mlflow.EnvAWSAccessKeyID, mlflow.EnvAWSSecretKey, mlflow.EnvAWSProfile, err)
		}
		failf("register: the artifact store of %s cannot be read (is it reachable?); nothing was registered: %w", who, err)
	}

	if run.ModelID != "" {
		m, err := r.c.GetLoggedModel(r.ctx, run.ModelID)
		if err != nil {
			failf("register: reading logged model %s of %s: %w", run.ModelID, who, err)
		}
		if m.Info.SourceRunID != run.RunID {
			failf("register: logged model %s was produced by run %q, not by %s", run.ModelID, m.Info.SourceRunID, who)
		}
		return r.checkLoggedModel(who, m, "")
	}

	dir := mr.Info.ArtifactURI
	if p != "" {
		dir = strings.TrimRight(dir, "/") + "/" + p
	}
	files, err := r.c.ListArtifacts(r.ctx, mr.Info.ArtifactURI, p)
	if err != nil {
		failf("register: listing the artifacts of %s at %q (%s): %w", who, p, dir, err)
	}
	if hasMLmodel(files) {
		return modelSource{source: dir, kind: SourceRunArtifacts, artifactURI: dir, path: p}
	}
	var m *mlflow.LoggedModel
	if p != "" {
		res, err := r.c.ResolveArtifactURI(r.ctx, "runs:/"+run.RunID+"/"+p)
		if err != nil {
			failf("register: looking for the logged model %q of %s: %w", p, who, err)
		}
		if res.Model != nil && res.Model.Info.Name == p {
			m = res.Model
		}
	}
	if m == nil {
		failf("register: %s has no model at path %q: its artifacts there (%s) hold %s, with no %s file, and it has no logged model called %q; nothing was registered",
			who, p, dir, listing(files), mlmodelFile, p)
	}
	return r.checkLoggedModel(who, m, p)
}

// registerPath checks Register's input before anything is read: the run
// id, and the path (DefaultModelPath when ""), returned cleaned ("" for a
// run chosen by its logged model).
func registerPath(run *BestRun, p string) string {
	if run.RunID == "" || strings.ContainsAny(run.RunID, `'"\/`) {
		failf("register: run id %q: not a run id", run.RunID)
	}
	if run.ModelID != "" {
		if p != "" && p != run.ModelName {
			failf("register: run %s was chosen by its logged model %s, called %q: Path %q names another model; leave Path empty", run.RunID, run.ModelID, run.ModelName, p)
		}
		return ""
	}
	if p == "" {
		p = DefaultModelPath
	}
	_, clean, err := mlflow.ParseRunsURI("runs:/" + run.RunID + "/" + p)
	if err != nil {
		failf("register: path %q of run %s: %w", p, run.RunID, err)
	}
	return clean
}

// checkLoggedModel checks that a logged model is READY and its files hold
// an MLmodel file.
func (r *registry) checkLoggedModel(who string, m *mlflow.LoggedModel, p string) modelSource {
	src := modelSource{source: m.URI(), kind: SourceLoggedModel, modelID: m.Info.ModelID, modelName: m.Info.Name, artifactURI: m.Info.ArtifactURI, path: p}
	switch m.Info.Status {
	case mlflow.LoggedModelPending, mlflow.LoggedModelUploadFailed:
		failf("register: the logged model %s (%q) of %s is %s, not READY: its upload did not finish; nothing was registered", m.Info.ModelID, m.Info.Name, who, m.Info.Status)
	}
	files, err := r.c.ListArtifacts(r.ctx, m.Info.ArtifactURI, "")
	if err != nil {
		failf("register: listing the files of the logged model %s (%q) of %s at %s: %w", m.Info.ModelID, m.Info.Name, who, m.Info.ArtifactURI, err)
	}
	if !hasMLmodel(files) {
		failf("register: the logged model %s (%q) of %s has no %s file: its files (%s) hold %s; nothing was registered",
			m.Info.ModelID, m.Info.Name, who, mlmodelFile, m.Info.ArtifactURI, listing(files))
	}
	return src
}

// hasMLmodel says whether a folder's listing holds an MLmodel file.
func hasMLmodel(files []mlflow.FileInfo) bool {
	for _, f := range files {
		if !f.IsDir && path.Base(f.Path) == mlmodelFile {
			return true
		}
	}
	return false
}

// listing writes a folder's entries for an error: base names, folders
// with a trailing "/", or "nothing".
func listing(files []mlflow.FileInfo) string {
	if len(files) == 0 {
		return "nothing"
	}
	names := make([]string, 0, min(len(files), maxListed))
	for _, f := range files[:min(len(files), maxListed)] {
		n := path.Base(f.Path)
		if f.IsDir {
			n += "/"
		}
		names = append(names, n)
	}
	s := strings.Join(names, ", ")
	if len(files) > maxListed {
		s += fmt.Sprintf(" and %d more", len(files)-maxListed)
	}
	return s
}
