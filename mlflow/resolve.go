package mlflow

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// ResolvedURI says where the files a runs:/ or models:/ URI names are.
type ResolvedURI struct {
	// ArtifactURI is the folder (or file) holding them, e.g.
	// mlflow-artifacts:/1/models/m-.../artifacts: the artifactURI argument
	// of ListArtifacts, DownloadArtifact and DownloadDir.
	ArtifactURI string
	// RunID is the run the URI named, or the run behind the model or
	// version it named; "" when unknown.
	RunID string
	// Model is the logged model whose files these are (MLflow 3), nil when
	// they are a run's own artifacts.
	Model *LoggedModel
	// Version is the registered model version a models:/NAME/VERSION or
	// models:/NAME@ALIAS URI named, nil otherwise.
	Version *ModelVersion
}

// Source is what CreateModelVersion registers these files by, as MLflow's
// register_model does: models:/<model_id> for a logged model (with
// ModelID), the artifact URI otherwise.
func (r *ResolvedURI) Source() string {
	if r.Model != nil {
		return r.Model.URI()
	}
	return r.ArtifactURI
}

// ModelID is the logged model's id, "" when the files are not a logged
// model's.
func (r *ResolvedURI) ModelID() string {
	if r.Model != nil {
		return r.Model.Info.ModelID
	}
	return ""
}

// ParseRunsURI splits runs:/RUN_ID[/PATH] as MLflow's RunsArtifactRepository
// does; artifactPath is "" when the URI names the run's artifact root. A
// path that would leave the run's artifacts is an error matching
// ErrPathEscape; other malformed URIs match ErrInvalidParameter.
func ParseRunsURI(s string) (runID, artifactPath string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", fmt.Errorf("%w: runs URI %q: %s: expected runs:/RUN_ID/PATH", ErrInvalidParameter, s, why)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(scheme, "runs") {
		return bad("not a runs:/ URI")
	}
	if strings.ContainsAny(rest, "?#") {
		return bad("query strings and fragments are not part of a runs:/ URI")
	}
	if strings.HasPrefix(rest, "//") {
		return bad("hosts in runs:// URIs are not supported")
	}
	if !strings.HasPrefix(rest, "/") || len(rest) == 1 {
		return bad("no run id")
	}
	runID, artifactPath, _ = strings.Cut(rest[1:], "/")
	if runID == "" {
		return bad("no run id")
	}
	segs, err := splitRelPath(artifactPath)
	if err != nil {
		return "", "", fmt.Errorf("runs URI %q: %w", s, err)
	}
	return runID, strings.Join(segs, "/"), nil
}

// ResolveArtifactURI says where the files of a runs:/ or models:/ URI are,
// as MLflow 3.18 resolves them:
//
//   - models:/<model_id>: the logged model's artifact location.
//   - models:/NAME/VERSION, models:/NAME@ALIAS: the version's logged model's
//     artifact location when it was registered from one (source
//     models:/<model_id>), else its download URI.
//   - runs:/RUN_ID/NAME[/PATH]: when the run produced a logged model
//     called NAME (its source_run_id is the run), that model's artifact
//     location (+ PATH), as mlflow.register_model and
//     RunsArtifactRepository do; otherwise the run's artifact URI + the
//     path, where MLflow 2 logged models. Several such models (a model
//     logged again under the same name): the one the run's outputs record
//     at the highest step, then the newest. A server without logged models
//     (MLflow 2) gives the run's artifacts.
func (c *Client) ResolveArtifactURI(ctx context.Context, uri string) (*ResolvedURI, error) {
	scheme, _, _ := strings.Cut(uri, ":")
	if strings.EqualFold(scheme, "runs") {
		return c.resolveRunsURI(ctx, uri)
	}
	u, err := ParseModelURI(uri)
	if err != nil {
		return nil, err
	}
	if u.ModelID != "" {
		m, err := c.GetLoggedModel(ctx, u.ModelID)
		if err != nil {
			return nil, err
		}
		return &ResolvedURI{ArtifactURI: m.Info.ArtifactURI, RunID: m.Info.SourceRunID, Model: m}, nil
	}
	mv, err := c.ResolveModelURI(ctx, uri)
	if err != nil {
		return nil, err
	}
	res := &ResolvedURI{RunID: mv.RunID, Version: mv}
	if src, err := ParseModelURI(mv.Source); err == nil && src.ModelID != "" {
		m, err := c.GetLoggedModel(ctx, src.ModelID)
		if err != nil {
			return nil, err
		}
		res.Model, res.ArtifactURI = m, m.Info.ArtifactURI
		return res, nil
	}
	if res.ArtifactURI, err = c.GetModelVersionDownloadURI(ctx, mv.Name, mv.Version); err != nil {
		return nil, err
	}
	return res, nil
}

func (c *Client) resolveRunsURI(ctx context.Context, uri string) (*ResolvedURI, error) {
	runID, artifactPath, err := ParseRunsURI(uri)
	if err != nil {
		return nil, err
	}
	run, err := c.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	res := &ResolvedURI{ArtifactURI: joinArtifactURI(run.Info.ArtifactURI, artifactPath), RunID: runID}
	if artifactPath == "" {
		return res, nil
	}
	name, rest, _ := strings.Cut(artifactPath, "/")
	if strings.ContainsAny(name, loggedModelNameForbidden) {
		return res, nil // no logged model can have this name, e.g. "model.pkl"
	}
	m, err := c.runLoggedModel(ctx, run, name)
	if err != nil || m == nil {
		return res, err
	}
	res.Model, res.ArtifactURI = m, joinArtifactURI(m.Info.ArtifactURI, rest)
	return res, nil
}

// FindRunLoggedModels returns the logged models a run produced (their
// source_run_id is the run), newest first; with name, only those called
// name. A name MLflow would refuse for a logged model (one holding any of
// / : . % " ') is an error matching ErrInvalidParameter.
func (c *Client) FindRunLoggedModels(ctx context.Context, runID, name string) ([]LoggedModel, error) {
	if strings.ContainsAny(name, loggedModelNameForbidden) {
		return nil, fmt.Errorf("%w: logged model name %q: MLflow refuses the characters %s", ErrInvalidParameter, name, loggedModelNameForbidden)
	}
	run, err := c.GetRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	return c.runLoggedModels(ctx, run, name)
}

func (c *Client) runLoggedModels(ctx context.Context, run *Run, name string) ([]LoggedModel, error) {
	filter := "source_run_id = " + quoteFilterValue(run.Info.RunID)
	if name != "" {
		filter += " AND name = " + quoteFilterValue(name)
	}
	models, err := c.SearchAllLoggedModels(ctx, SearchLoggedModelsRequest{
		ExperimentIDs: []string{run.Info.ExperimentID},
		Filter:        filter,
		OrderBy:       []LoggedModelOrderBy{{FieldName: "creation_timestamp"}},
	})
	if err != nil {
		return nil, err
	}
	// The server filtered; keep only exact matches all the same.
	kept := models[:0]
	for _, m := range models {
		if m.Info.SourceRunID == run.Info.RunID && (name == "" || m.Info.Name == name) {
			kept = append(kept, m)
		}
	}
	return kept, nil
}

// runLoggedModel picks the logged model called name that run produced, nil
// when there is none or the server has no logged models.
func (c *Client) runLoggedModel(ctx context.Context, run *Run, name string) (*LoggedModel, error) {
	models, err := c.runLoggedModels(ctx, run, name)
	if isMissingEndpoint(err) {
		return nil, nil // no logged-models endpoint: an MLflow 2 server
	}
	if err != nil || len(models) == 0 {
		return nil, err
	}
	steps := map[string]int64{}
	for _, o := range run.Outputs.ModelOutputs {
		if s, ok := steps[o.ModelID]; !ok || o.Step > s {
			steps[o.ModelID] = o.Step
		}
	}
	best := 0 // models are newest first: a later one wins only by step
	for i := range models {
		s, ok := steps[models[i].Info.ModelID]
		bs, bok := steps[models[best].Info.ModelID]
		if ok && (!bok || s > bs) {
			best = i
		}
	}
	return &models[best], nil
}

// loggedModelNameForbidden are the characters MLflow refuses in a logged
// model's name (_validate_logged_model_name).
const loggedModelNameForbidden = `/:.%"'`

// quoteFilterValue quotes s as a string of MLflow's search filter syntax,
// which has no escapes. The callers pass only run ids from the server and
// names without quotes.
func quoteFilterValue(s string) string { return "'" + s + "'" }

// joinArtifactURI appends a relative path to an artifact URI.
func joinArtifactURI(base, rel string) string {
	if rel == "" {
		return base
	}
	return strings.TrimSuffix(base, "/") + "/" + rel
}

// DownloadLoggedModelArtifact opens the file relPath of a logged model
// (e.g. "MLmodel"). The caller must close the reader. Like MLflow's Python
// client for models:/<model_id>, it reads the model's artifact location
// through the tracking server's artifact proxy.
func (c *Client) DownloadLoggedModelArtifact(ctx context.Context, modelID, relPath string) (io.ReadCloser, error) {
	m, err := c.GetLoggedModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	return c.DownloadArtifact(ctx, m.Info.ArtifactURI, relPath)
}

// DownloadLoggedModelArtifacts downloads the folder (or file) relPath ("" for
// all) of a logged model's files into localDir, as DownloadDir does.
func (c *Client) DownloadLoggedModelArtifacts(ctx context.Context, modelID, relPath, localDir string) error {
	m, err := c.GetLoggedModel(ctx, modelID)
	if err != nil {
		return err
	}
	return c.DownloadDir(ctx, m.Info.ArtifactURI, relPath, localDir)
}
