package mlflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// The logged-model endpoints are public in MLflow's service.proto but
// marked PUBLIC_UNDOCUMENTED, so rest-api.html has no section for them:
// the doc comments below give the rpc_doc_title each has in service.proto
// (https://github.com/mlflow/mlflow/blob/master/mlflow/protos/service.proto).

// LoggedModelStatus is the upload status of a logged model, as MLflow
// writes it in JSON.
type LoggedModelStatus string

// Logged model statuses. A model starts PENDING; FinalizeLoggedModel moves
// it to READY or UPLOAD_FAILED.
const (
	LoggedModelStatusUnspecified LoggedModelStatus = "LOGGED_MODEL_STATUS_UNSPECIFIED"
	LoggedModelPending           LoggedModelStatus = "LOGGED_MODEL_PENDING"
	LoggedModelReady             LoggedModelStatus = "LOGGED_MODEL_READY"
	LoggedModelUploadFailed      LoggedModelStatus = "LOGGED_MODEL_UPLOAD_FAILED"
)

// LoggedModel is an MLflow 3 logged model: what mlflow.<flavor>.log_model
// creates, with its own id (m-...), artifacts, params, metrics and tags,
// apart from the run that produced it.
type LoggedModel struct {
	Info LoggedModelInfo `json:"info"`
	Data LoggedModelData `json:"data"`
}

// LoggedModelInfo is a logged model's metadata. Times are Unix
// milliseconds. ArtifactURI is where its files are, e.g.
// mlflow-artifacts:/1/models/m-.../artifacts.
type LoggedModelInfo struct {
	ModelID                string                 `json:"model_id"`
	ExperimentID           string                 `json:"experiment_id"`
	Name                   string                 `json:"name"`
	CreationTimestampMs    int64                  `json:"creation_timestamp_ms"`
	LastUpdatedTimestampMs int64                  `json:"last_updated_timestamp_ms"`
	ArtifactURI            string                 `json:"artifact_uri"`
	Status                 LoggedModelStatus      `json:"status"`
	StatusMessage          string                 `json:"status_message,omitempty"`
	CreatorID              int64                  `json:"creator_id,omitempty"`
	ModelType              string                 `json:"model_type,omitempty"`
	SourceRunID            string                 `json:"source_run_id,omitempty"`
	Tags                   []Tag                  `json:"tags"`
	Registrations          []ModelRegistrationRef `json:"registrations,omitempty"`
}

// ModelRegistrationRef names a model version registered from a logged
// model.
type ModelRegistrationRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// LoggedModelData holds a logged model's params and metrics.
type LoggedModelData struct {
	Params  []Param             `json:"params"`
	Metrics []LoggedModelMetric `json:"metrics"`
}

// LoggedModelMetric is a metric linked to a logged model, optionally
// computed on a dataset (DatasetName, DatasetDigest), logged by RunID.
type LoggedModelMetric struct {
	Metric
	DatasetName   string
	DatasetDigest string
	ModelID       string
	RunID         string
}

type loggedModelMetricExtra struct {
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
	ModelID       string `json:"model_id,omitempty"`
	RunID         string `json:"run_id,omitempty"`
}

// MarshalJSON writes the metric as Metric does, with its model and dataset.
func (m LoggedModelMetric) MarshalJSON() ([]byte, error) {
	base, err := m.Metric.MarshalJSON()
	if err != nil {
		return nil, err
	}
	extra, err := json.Marshal(loggedModelMetricExtra{m.DatasetName, m.DatasetDigest, m.ModelID, m.RunID})
	if err != nil || string(extra) == "{}" {
		return base, err
	}
	return append(append(base[:len(base)-1], ','), extra[1:]...), nil
}

// UnmarshalJSON reads the metric as Metric does, with its model and dataset.
func (m *LoggedModelMetric) UnmarshalJSON(b []byte) error {
	var extra loggedModelMetricExtra
	if err := json.Unmarshal(b, &extra); err != nil {
		return err
	}
	if err := m.Metric.UnmarshalJSON(b); err != nil {
		return err
	}
	m.DatasetName, m.DatasetDigest, m.ModelID, m.RunID = extra.DatasetName, extra.DatasetDigest, extra.ModelID, extra.RunID
	return nil
}

// Tag returns the value of the logged model's tag key.
func (m *LoggedModel) Tag(key string) (string, bool) { return lookupTag(m.Info.Tags, key) }

// Param returns the value of the logged model's param key.
func (m *LoggedModel) Param(key string) (string, bool) {
	for _, p := range m.Data.Params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Metric returns the value of the logged model's metric key: the one with
// the highest step, then the latest timestamp, over all datasets.
func (m *LoggedModel) Metric(key string) (float64, bool) {
	var best *LoggedModelMetric
	for i := range m.Data.Metrics {
		x := &m.Data.Metrics[i]
		if x.Key == key && (best == nil || x.Step > best.Step || (x.Step == best.Step && x.Timestamp > best.Timestamp)) {
			best = x
		}
	}
	if best == nil {
		return 0, false
	}
	return best.Value, true
}

// URI returns models:/<model_id>, the URI MLflow registers and loads a
// logged model by.
func (m *LoggedModel) URI() string { return "models:/" + m.Info.ModelID }

// loggedModelEndpoint is logged-models/<id>[/<sub>], the id escaped. An
// empty id is refused: it would name another endpoint.
func loggedModelEndpoint(modelID string, sub ...string) (string, error) {
	if strings.TrimSpace(modelID) == "" {
		return "", fmt.Errorf("%w: logged model id is empty", ErrInvalidParameter)
	}
	return strings.Join(append([]string{"logged-models", url.PathEscape(modelID)}, sub...), "/"), nil
}

// call sends a JSON request with any method to an API endpoint.
func (c *Client) call(ctx context.Context, method, endpoint string, in, v any, policy retryPolicy) error {
	req, err := c.newRequest(ctx, method, apiPrefix+endpoint, in)
	if err != nil {
		return err
	}
	return c.do(req, policy, v)
}

// CreateLoggedModelRequest describes a logged model to create. Only
// ExperimentID is required; MLflow picks a random Name when it is empty.
// SourceRunID links the model to the run that produced it (MLflow does not
// check that the run exists).
type CreateLoggedModelRequest struct {
	ExperimentID string
	Name         string
	ModelType    string
	SourceRunID  string
	Params       map[string]string
	Tags         map[string]string
}

// maxLoggedModelParamsPerRequest is MLflow's batch size for logged-model
// params (MLFLOW_CREATE_LOGGED_MODEL_PARAMS_BATCH_SIZE and
// MLFLOW_LOG_LOGGED_MODEL_PARAMS_BATCH_SIZE).
const maxLoggedModelParamsPerRequest = 100

// CreateLoggedModel creates a logged model, PENDING until
// FinalizeLoggedModel. Its files go under the returned Info.ArtifactURI
// (UploadArtifact, UploadDir). As MLflow's client does, params beyond the
// first 100 are sent by LogLoggedModelParams and the model read again.
//
// service.proto: "Create Logged Model" (POST /api/2.0/mlflow/logged-models).
func (c *Client) CreateLoggedModel(ctx context.Context, r CreateLoggedModelRequest) (*LoggedModel, error) {
	params := paramList(r.Params)
	first, rest := params, []Param(nil)
	if len(params) > maxLoggedModelParamsPerRequest {
		first, rest = params[:maxLoggedModelParamsPerRequest], params[maxLoggedModelParamsPerRequest:]
	}
	in := struct {
		ExperimentID string  `json:"experiment_id"`
		Name         string  `json:"name,omitempty"`
		ModelType    string  `json:"model_type,omitempty"`
		SourceRunID  string  `json:"source_run_id,omitempty"`
		Params       []Param `json:"params,omitempty"`
		Tags         []Tag   `json:"tags,omitempty"`
	}{r.ExperimentID, r.Name, r.ModelType, r.SourceRunID, first, tagList(r.Tags)}
	var out struct {
		Model LoggedModel `json:"model"`
	}
	if err := c.post(ctx, "logged-models", in, &out, retryUnprocessed); err != nil {
		return nil, err
	}
	if len(rest) == 0 {
		return &out.Model, nil
	}
	if err := c.LogLoggedModelParams(ctx, out.Model.Info.ModelID, rest); err != nil {
		return nil, err
	}
	return c.GetLoggedModel(ctx, out.Model.Info.ModelID)
}

// paramList turns a map into params sorted by key.
func paramList(m map[string]string) []Param {
	tags := tagList(m)
	if tags == nil {
		return nil
	}
	params := make([]Param, len(tags))
	for i, t := range tags {
		params[i] = Param(t)
	}
	return params
}

// GetLoggedModel returns the logged model with id modelID. A missing or
// deleted id is an error matching ErrNotFound (MLflow: 404
// RESOURCE_DOES_NOT_EXIST).
//
// service.proto: "Get Logged Model" (GET /api/2.0/mlflow/logged-models/{model_id}).
func (c *Client) GetLoggedModel(ctx context.Context, modelID string) (*LoggedModel, error) {
	endpoint, err := loggedModelEndpoint(modelID)
	if err != nil {
		return nil, err
	}
	var out struct {
		Model LoggedModel `json:"model"`
	}
	if err := c.get(ctx, endpoint, nil, &out); err != nil {
		return nil, err
	}
	return &out.Model, nil
}

// FinalizeLoggedModel sets a logged model's status once its files are
// uploaded: LoggedModelReady, or LoggedModelUploadFailed. Any other status
// is refused before sending: MLflow would store an unknown one as
// LOGGED_MODEL_STATUS_UNSPECIFIED. Finalizing again is accepted.
//
// service.proto: "Finalize Logged Model" (PATCH /api/2.0/mlflow/logged-models/{model_id}).
func (c *Client) FinalizeLoggedModel(ctx context.Context, modelID string, status LoggedModelStatus) (*LoggedModel, error) {
	if status != LoggedModelReady && status != LoggedModelUploadFailed {
		return nil, fmt.Errorf("%w: logged model status %q: expected %s or %s",
			ErrInvalidParameter, status, LoggedModelReady, LoggedModelUploadFailed)
	}
	endpoint, err := loggedModelEndpoint(modelID)
	if err != nil {
		return nil, err
	}
	in := struct {
		ModelID string            `json:"model_id"` // required in the body too
		Status  LoggedModelStatus `json:"status"`
	}{modelID, status}
	var out struct {
		Model LoggedModel `json:"model"`
	}
	if err := c.call(ctx, http.MethodPatch, endpoint, in, &out, retrySafe); err != nil {
		return nil, err
	}
	return &out.Model, nil
}

// DeleteLoggedModel deletes a logged model; deleting it again succeeds.
// Its files stay in the artifact store.
//
// service.proto: "Delete a Logged Model" (DELETE /api/2.0/mlflow/logged-models/{model_id}).
func (c *Client) DeleteLoggedModel(ctx context.Context, modelID string) error {
	endpoint, err := loggedModelEndpoint(modelID)
	if err != nil {
		return err
	}
	return c.del(ctx, endpoint, nil)
}

// SetLoggedModelTags sets (or overwrites) tags of a logged model.
//
// service.proto: "Set Logged Model Tag" (PATCH /api/2.0/mlflow/logged-models/{model_id}/tags).
func (c *Client) SetLoggedModelTags(ctx context.Context, modelID string, tags map[string]string) error {
	endpoint, err := loggedModelEndpoint(modelID, "tags")
	if err != nil {
		return err
	}
	in := struct {
		Tags []Tag `json:"tags"`
	}{tagList(tags)}
	return c.call(ctx, http.MethodPatch, endpoint, in, nil, retrySafe)
}

// DeleteLoggedModelTag deletes a tag of a logged model. Unlike the
// registry's delete-tag calls, a key that is not there is an error matching
// ErrNotFound (MLflow: 404 RESOURCE_DOES_NOT_EXIST), so the call is not
// retried once the server may have processed it. The key travels in the
// URL path, where MLflow's router cannot take a "/": such a key is refused
// before sending.
//
// service.proto: "Delete Logged Model Tag" (DELETE /api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}).
func (c *Client) DeleteLoggedModelTag(ctx context.Context, modelID, key string) error {
	if key == "" || strings.Contains(key, "/") {
		return fmt.Errorf("%w: logged model tag key %q: MLflow cannot delete a key that is empty or holds \"/\"", ErrInvalidParameter, key)
	}
	endpoint, err := loggedModelEndpoint(modelID, "tags", url.PathEscape(key))
	if err != nil {
		return err
	}
	return c.call(ctx, http.MethodDelete, endpoint, nil, nil, retryUnprocessed)
}

// LogLoggedModelParams logs params to a logged model, 100 per request as
// MLflow's client does. A param is written once: logging a key the model
// already has, even with the same value, fails (MLflow: 400 BAD_REQUEST from
// its database), so the call is not retried once the server may have
// processed it.
//
// service.proto: "Log Logged Model Params" (POST /api/2.0/mlflow/logged-models/{model_id}/params).
func (c *Client) LogLoggedModelParams(ctx context.Context, modelID string, params []Param) error {
	endpoint, err := loggedModelEndpoint(modelID, "params")
	if err != nil {
		return err
	}
	for start := 0; start < len(params); start += maxLoggedModelParamsPerRequest {
		in := struct {
			ModelID string  `json:"model_id"` // required in the body too
			Params  []Param `json:"params"`
		}{modelID, params[start:min(start+maxLoggedModelParamsPerRequest, len(params))]}
		if err := c.post(ctx, endpoint, in, nil, retryUnprocessed); err != nil {
			return err
		}
	}
	return nil
}

// LogLoggedModelMetrics logs metrics of a logged model through its run:
// MLflow has no logged-model metrics endpoint, and links a run's metric to
// a model by its ModelID (set to modelID where empty). The metrics also
// become the run's. Up to 1000 metrics a request; logging the same metric
// again is accepted and keeps one, so the call is retried like LogBatch. A
// model id that does not exist is an error (MLflow: 400 BAD_REQUEST from
// its database).
//
// MLflow REST API: "Log Batch" (POST /api/2.0/mlflow/runs/log-batch).
func (c *Client) LogLoggedModelMetrics(ctx context.Context, runID, modelID string, metrics []LoggedModelMetric) error {
	if strings.TrimSpace(modelID) == "" {
		return fmt.Errorf("%w: logged model id is empty", ErrInvalidParameter)
	}
	for start := 0; start < len(metrics); start += maxMetricsPerBatch {
		batch := make([]LoggedModelMetric, 0, min(maxMetricsPerBatch, len(metrics)-start))
		for _, m := range metrics[start:min(start+maxMetricsPerBatch, len(metrics))] {
			if m.ModelID == "" {
				m.ModelID = modelID
			}
			if m.RunID == "" {
				m.RunID = runID
			}
			if m.Timestamp == 0 {
				m.Timestamp = nowMillis()
			}
			batch = append(batch, m)
		}
		in := struct {
			RunID   string              `json:"run_id"`
			Metrics []LoggedModelMetric `json:"metrics"`
		}{runID, batch}
		if err := c.post(ctx, "runs/log-batch", in, nil, retrySafe); err != nil {
			return err
		}
	}
	return nil
}

// LoggedModelOrderBy is one ordering key of SearchLoggedModels: an
// attribute (name, model_id, model_type, status, source_run_id,
// creation_timestamp, last_updated_timestamp) or metrics.<key>,
// params.<key>, tags.<key>. A metric may be restricted to a dataset.
type LoggedModelOrderBy struct {
	FieldName     string `json:"field_name"`
	Ascending     bool   `json:"ascending"`
	DatasetName   string `json:"dataset_name,omitempty"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
}

// ParseLoggedModelOrderBy reads an ordering written as for runs/search,
// e.g. "metrics.f1 DESC", "creation_timestamp ASC" or "name" (ascending).
// MLflow's logged-model search takes structured keys and silently ignores
// a field name it does not know, such as "metrics.f1 DESC" sent whole.
func ParseLoggedModelOrderBy(s string) (LoggedModelOrderBy, error) {
	fields := strings.Fields(s)
	switch {
	case len(fields) == 1:
		return LoggedModelOrderBy{FieldName: fields[0], Ascending: true}, nil
	case len(fields) == 2 && strings.EqualFold(fields[1], "ASC"):
		return LoggedModelOrderBy{FieldName: fields[0], Ascending: true}, nil
	case len(fields) == 2 && strings.EqualFold(fields[1], "DESC"):
		return LoggedModelOrderBy{FieldName: fields[0]}, nil
	}
	return LoggedModelOrderBy{}, fmt.Errorf("%w: order_by %q: expected FIELD, FIELD ASC or FIELD DESC", ErrInvalidParameter, s)
}

// LoggedModelDataset restricts metric filters of SearchLoggedModels to a
// dataset (and a digest of it).
type LoggedModelDataset struct {
	DatasetName   string `json:"dataset_name"`
	DatasetDigest string `json:"dataset_digest,omitempty"`
}

// SearchLoggedModelsRequest selects logged models of ExperimentIDs
// (required). Filter is MLflow's search syntax over attributes (name,
// model_id, model_type, status, source_run_id, creation_timestamp,
// last_updated_timestamp), metrics.<key>, params.<key> and tags.<key>,
// joined by AND, e.g. `source_run_id = 'abc' AND metrics.f1 > 0.5`. A
// status is written without its JSON prefix: `status = 'READY'` (or
// PENDING, FAILED), not LOGGED_MODEL_READY. MaxResults 0 leaves the
// server's default.
type SearchLoggedModelsRequest struct {
	ExperimentIDs []string
	Filter        string
	Datasets      []LoggedModelDataset
	MaxResults    int
	OrderBy       []LoggedModelOrderBy
	PageToken     string
}

// LoggedModelsPage is one page of SearchLoggedModels; NextPageToken is ""
// on the last.
type LoggedModelsPage struct {
	Models        []LoggedModel `json:"models"`
	NextPageToken string        `json:"next_page_token"`
}

// SearchLoggedModels returns one page of logged models. Deleted models are
// never returned. A bad filter is an error matching ErrInvalidParameter
// (MLflow: 400 INVALID_PARAMETER_VALUE).
//
// service.proto: "Search LoggedModels" (POST /api/2.0/mlflow/logged-models/search).
func (c *Client) SearchLoggedModels(ctx context.Context, r SearchLoggedModelsRequest) (*LoggedModelsPage, error) {
	if len(r.ExperimentIDs) == 0 {
		return nil, fmt.Errorf("%w: SearchLoggedModels needs at least one experiment id", ErrInvalidParameter)
	}
	in := struct {
		ExperimentIDs []string             `json:"experiment_ids"`
		Filter        string               `json:"filter,omitempty"`
		Datasets      []LoggedModelDataset `json:"datasets,omitempty"`
		MaxResults    int                  `json:"max_results,omitempty"`
		OrderBy       []LoggedModelOrderBy `json:"order_by,omitempty"`
		PageToken     string               `json:"page_token,omitempty"`
	}{r.ExperimentIDs, r.Filter, r.Datasets, r.MaxResults, r.OrderBy, r.PageToken}
	var out LoggedModelsPage
	if err := c.post(ctx, "logged-models/search", in, &out, retrySafe); err != nil {
		return nil, err
	}
	return &out, nil
}

// SearchAllLoggedModels returns every logged model r selects, walking all
// pages from r.PageToken on.
func (c *Client) SearchAllLoggedModels(ctx context.Context, r SearchLoggedModelsRequest) ([]LoggedModel, error) {
	return allPages(ctx, r.PageToken, func(ctx context.Context, token string) ([]LoggedModel, string, error) {
		r.PageToken = token
		page, err := c.SearchLoggedModels(ctx, r)
		if err != nil {
			return nil, "", err
		}
		return page.Models, page.NextPageToken, nil
	})
}

// ListLoggedModelArtifacts lists the folder relPath ("" for the root) of a
// logged model's files. Paths are relative to the model's artifact root.
// It goes through the artifact proxy, as MLflow's Python client does for a
// models:/<model_id> URI (the model's ArtifactURI is an mlflow-artifacts:/
// URI on a server with --serve-artifacts).
func (c *Client) ListLoggedModelArtifacts(ctx context.Context, modelID, relPath string) ([]FileInfo, error) {
	m, err := c.GetLoggedModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	return c.ListArtifacts(ctx, m.Info.ArtifactURI, relPath)
}

// isMissingEndpoint reports whether err is the answer of a server that does
// not know the endpoint at all: a 404 without an MLflow error code (MLflow
// 2's "Not Found" page, a plain-text "404 page not found", an empty body).
// MLflow's own 404s for missing entities carry RESOURCE_DOES_NOT_EXIST.
func isMissingEndpoint(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == "" && errors.Is(err, ErrNotFound)
}

// LoggedModelsSupported reports whether the server has MLflow 3's logged
// models, by asking the logged-model search for one model of the
// experiment experimentID (which should exist). It answers true when the
// search succeeds and false when the server does not know the endpoint (a
// 404 without an MLflow error code: MLflow 2, the embedded server today,
// other MLflow-compatible servers); any other failure is returned as an
// error, for the caller cannot tell. The server's /version does not tell:
// an MLflow-compatible server may answer 3.x without the endpoints.
func (c *Client) LoggedModelsSupported(ctx context.Context, experimentID string) (bool, error) {
	_, err := c.SearchLoggedModels(ctx, SearchLoggedModelsRequest{ExperimentIDs: []string{experimentID}, MaxResults: 1})
	switch {
	case err == nil:
		return true, nil
	case isMissingEndpoint(err):
		return false, nil
	}
	return false, err
}
