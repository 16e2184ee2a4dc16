package server

import (
	"context"
	"encoding/json"
	"strings"
)

// The logged model handlers (MLflow 3's /api/2.0/mlflow/logged-models),
// in the shape of mlflow/server/handlers.py. The model id is in the path;
// finalize and log-params also require it in the body, as MLflow's schema
// does, and then use the path's.

// loggedModelReply is the reply of a call that returns a model.
func loggedModelReply(m *loggedModel, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return struct {
		Model loggedModelJSON `json:"model"`
	}{m.json()}, nil
}

func (s *Server) createLoggedModel(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	var nm newLoggedModel
	nm.experimentID, nm.name = d.required("experiment_id"), d.str("name")
	nm.modelType, nm.sourceRunID = d.str("model_type"), d.str("source_run_id")
	nm.params, nm.tags = d.pairs("params"), d.pairs("tags")
	return d.then(func() (any, error) { return loggedModelReply(s.db.CreateLoggedModel(ctx, nm)) })
}

func (s *Server) getLoggedModel(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	allowDeleted := strings.ToLower(d.str("allow_deleted")) == "true"
	return d.then(func() (any, error) {
		return loggedModelReply(s.db.GetLoggedModel(ctx, req.pathValue("model_id"), allowDeleted))
	})
}

func (s *Server) finalizeLoggedModel(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	status, known := loggedModelStatus(req.body["status"])
	if _, isNum := req.body["status"].(json.Number); isNum && !known && req.body["model_id"] == nil {
		// protobuf refuses the unknown enum number: MLflow then checks
		// the types too, and model_id's is None.
		d.fail(badType("model_id", nil))
	}
	d.required("model_id")
	d.present("status")
	return d.then(func() (any, error) {
		return loggedModelReply(s.db.FinalizeLoggedModel(ctx, req.pathValue("model_id"), status))
	})
}

// loggedModelStatus reads a LoggedModelStatus given by name or number
// (in a string or not) and whether it is one; any other value is
// UNSPECIFIED (0), as MLflow reads it.
func loggedModelStatus(v any) (int64, bool) {
	var text string
	switch x := v.(type) {
	case json.Number:
		text = x.String()
	case string:
		text = x
	}
	for i, name := range loggedModelStatuses {
		if text == name || text == itoa(int64(i)) {
			return int64(i), true
		}
	}
	return 0, false
}

func (s *Server) deleteLoggedModel(ctx context.Context, req *request) (any, error) {
	return emptyReply(s.db.DeleteLoggedModel(ctx, req.pathValue("model_id")))
}

func (s *Server) setLoggedModelTags(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	tags := d.pairs("tags")
	return d.then(func() (any, error) {
		return emptyReply(s.db.SetLoggedModelTags(ctx, req.pathValue("model_id"), tags))
	})
}

func (s *Server) deleteLoggedModelTag(ctx context.Context, req *request) (any, error) {
	return emptyReply(s.db.DeleteLoggedModelTag(ctx, req.pathValue("model_id"), req.pathValue("tag_key")))
}

func (s *Server) logLoggedModelParams(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	d.required("model_id")
	params := d.pairs("params")
	return d.then(func() (any, error) {
		return emptyReply(s.db.LogLoggedModelParams(ctx, req.pathValue("model_id"), params))
	})
}

func (s *Server) searchLoggedModels(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	var a searchLoggedModelsArgs
	a.experimentIDs = d.strs("experiment_ids")
	if !req.has("experiment_ids") {
		d.fail(missing("experiment_ids"))
	}
	a.filter = d.str("filter")
	a.datasets = d.datasets("datasets")
	a.maxResults, _ = d.int64("max_results")
	a.orderBy = d.loggedModelOrder("order_by")
	a.pageToken = d.str("page_token")
	if a.maxResults == 0 {
		a.maxResults = defaultSearchLoggedModelsResults
	}
	return d.then(func() (any, error) {
		models, next, err := s.db.SearchLoggedModels(ctx, a)
		return struct {
			Models        []loggedModelJSON `json:"models,omitempty"`
			NextPageToken string            `json:"next_page_token,omitempty"`
		}{jsonOf(models, (*loggedModel).json), next}, err
	})
}

// datasets reads a search's datasets: {dataset_name, dataset_digest}.
func (d *decoder) datasets(field string) []datasetFilter {
	var out []datasetFilter
	for _, m := range d.objects(field) {
		name, _ := m["dataset_name"].(string)
		digest, _ := m["dataset_digest"].(string)
		out = append(out, datasetFilter{name, digest})
	}
	return out
}

// loggedModelOrder reads a logged model search's order_by: {field_name,
// ascending (true when absent), dataset_name, dataset_digest}.
func (d *decoder) loggedModelOrder(field string) []loggedModelOrder {
	var out []loggedModelOrder
	for _, m := range d.objects(field) {
		ob := loggedModelOrder{ascending: true}
		ob.field, _ = m["field_name"].(string)
		if b, ok := m["ascending"].(bool); ok {
			ob.ascending = b
		}
		ob.dataset.name, _ = m["dataset_name"].(string)
		ob.dataset.digest, _ = m["dataset_digest"].(string)
		out = append(out, ob)
	}
	return out
}

func (s *Server) listLoggedModelArtifacts(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	dir := d.optional("artifact_directory_path")
	if dir != nil && d.err == nil {
		p, e := safeArtifactPath(*dir)
		d.fail(e)
		dir = &p
	}
	return d.then(func() (any, error) {
		m, err := s.db.GetLoggedModel(ctx, req.pathValue("model_id"), false)
		if err != nil {
			return nil, err
		}
		return s.listUnder(m.artifactLocation, dir)
	})
}
