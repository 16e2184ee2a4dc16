package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"strings"
)

// Model versions of logged models: a version created with model_id, from
// the source models:/<model_id> or from under the model's artifact
// location, as MLflow 3.18's _validate_source_model and the registry
// store's create_model_version do.

// modelVersionsTag is the logged model tag that lists the versions
// registered from it (mlflow.utils.mlflow_tags.MLFLOW_MODEL_VERSIONS).
const modelVersionsTag = "mlflow.modelVersions"

// loggedModelSource is the model id of a models:/<model_id> source, or "".
func loggedModelSource(source string) string {
	u, err := url.Parse(source)
	if err != nil || u.Scheme != "models" || u.Host != "" {
		return ""
	}
	id := strings.TrimPrefix(u.Path, "/")
	if !strings.HasPrefix(id, loggedModelID) || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// validateModelSource is _validate_source_model: the source must be the
// model's URI or lie under its artifact location.
func validateModelSource(ctx context.Context, q queryer, source, modelID string) error {
	if s := schemeOf(source); s == "" || s == "file" {
		return errInvalid("Invalid model version source: '%s'. To use a local path as a model version source, the model_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the model_id.", source)
	}
	if e := relativeSource(source); e != nil {
		return e
	}
	switch schemeOf(source) {
	case "models":
		if id := loggedModelSource(source); id != "" && id == modelID {
			return nil
		}
		return errSource(source, "model_id")
	case "runs":
		return errSource(source, "model_id")
	}
	m, err := getLoggedModel(ctx, q, modelID, false)
	if isNotFound(err) {
		return errSource(source, "model_id")
	}
	if err != nil {
		return err
	}
	if withinRoot(source, m.artifactLocation) {
		return nil
	}
	return errSource(source, "model_id")
}

// resolveModelLineage sets the storage location of a models:/<model_id>
// source (the model's artifact location) and, when no run_id is given,
// the run_id of the model's source run.
func resolveModelLineage(ctx context.Context, q queryer, nv *newModelVersion) error {
	if id := loggedModelSource(nv.source); id != "" {
		m, err := getLoggedModel(ctx, q, id, false)
		if err != nil {
			msg := err.Error()
			if ae, ok := err.(*apiError); ok {
				msg = ae.Message
			}
			return errInternal("Unable to fetch model from model URI source artifact location '%s'.Error: %s", nv.source, msg)
		}
		nv.storageLocation = m.artifactLocation
		if nv.runID == "" {
			nv.runID = m.sourceRunID
		}
	}
	if nv.runID == "" && nv.modelID != "" {
		m, err := getLoggedModel(ctx, q, nv.modelID, false)
		if err != nil {
			return err
		}
		nv.runID = m.sourceRunID
	}
	return nil
}

// tagModelVersions adds a version to its logged model's
// mlflow.modelVersions tag (set_model_versions_tags).
func tagModelVersions(ctx context.Context, tx *sql.Tx, modelID, name string, version int64) error {
	m, err := getLoggedModel(ctx, tx, modelID, false)
	if err != nil {
		return err
	}
	type entry struct {
		Name    string `json:"name"`
		Version int64  `json:"version"`
	}
	var list []entry
	if old, ok := lookup(m.tags, modelVersionsTag); ok {
		_ = json.Unmarshal([]byte(old), &list)
	}
	this := entry{name, version}
	found := false
	for _, e := range list {
		found = found || e == this
	}
	if !found {
		list = append(list, this)
	}
	b, _ := json.Marshal(list)
	return upsertLoggedModelTags(ctx, tx, modelID, []keyValue{{modelVersionsTag, pyJSONSeparators(string(b))}})
}
