package mlflow

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"
)

// RunStatus is the status of a run.
type RunStatus string

// Run statuses.
const (
	RunStatusRunning   RunStatus = "RUNNING"
	RunStatusScheduled RunStatus = "SCHEDULED"
	RunStatusFinished  RunStatus = "FINISHED"
	RunStatusFailed    RunStatus = "FAILED"
	RunStatusKilled    RunStatus = "KILLED"
)

// terminal reports whether s ends a run.
func (s RunStatus) terminal() bool {
	return s == RunStatusFinished || s == RunStatusFailed || s == RunStatusKilled
}

// ViewType selects runs by lifecycle stage in SearchRuns.
type ViewType string

// View types.
const (
	ViewActiveOnly  ViewType = "ACTIVE_ONLY"
	ViewDeletedOnly ViewType = "DELETED_ONLY"
	ViewAll         ViewType = "ALL"
)

// Run is an MLflow run: its metadata and its latest metrics, params and
// tags; on MLflow 3, also its inputs (datasets, logged models) and outputs
// (logged models).
type Run struct {
	Info    RunInfo    `json:"info"`
	Data    RunData    `json:"data"`
	Inputs  RunInputs  `json:"inputs"`
	Outputs RunOutputs `json:"outputs"`
}

// RunInfo is a run's metadata. Times are Unix milliseconds.
type RunInfo struct {
	RunID          string    `json:"run_id"`
	RunName        string    `json:"run_name"`
	ExperimentID   string    `json:"experiment_id"`
	UserID         string    `json:"user_id,omitempty"`
	Status         RunStatus `json:"status"`
	StartTime      int64     `json:"start_time"`
	EndTime        int64     `json:"end_time"`
	ArtifactURI    string    `json:"artifact_uri"`
	LifecycleStage string    `json:"lifecycle_stage"`
}

// RunData holds a run's latest metrics, its params and its tags.
type RunData struct {
	Metrics []Metric `json:"metrics"`
	Params  []Param  `json:"params"`
	Tags    []Tag    `json:"tags"`
}

// Metric is one metric value. Timestamp is in Unix milliseconds. Value may
// be NaN or ±Inf; note that MLflow's SQL store keeps ±Inf as ±MaxFloat64.
type Metric struct {
	Key       string
	Value     float64
	Timestamp int64
	Step      int64
}

type metricJSON struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	Timestamp int64JSON       `json:"timestamp"`
	Step      int64JSON       `json:"step"`
}

// MarshalJSON writes NaN and ±Inf as "NaN", "Infinity", "-Infinity".
func (m Metric) MarshalJSON() ([]byte, error) {
	return json.Marshal(metricJSON{Key: m.Key, Value: float64Token(m.Value), Timestamp: int64JSON(m.Timestamp), Step: int64JSON(m.Step)})
}

// UnmarshalJSON reads a value given as a number or as one of the strings
// "NaN", "Infinity", "-Infinity".
func (m *Metric) UnmarshalJSON(b []byte) error {
	var w metricJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	v, err := float64JSON(w.Value)
	if err != nil {
		return fmt.Errorf("metric %q: %w", w.Key, err)
	}
	*m = Metric{Key: w.Key, Value: v, Timestamp: int64(w.Timestamp), Step: int64(w.Step)}
	return nil
}

// Param is a run parameter.
type Param struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Tag is a key-value tag of an experiment, run, registered model or version.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Metric returns the run's latest value of metric key.
func (r *Run) Metric(key string) (float64, bool) {
	for _, m := range r.Data.Metrics {
		if m.Key == key {
			return m.Value, true
		}
	}
	return 0, false
}

// Param returns the value of param key.
func (r *Run) Param(key string) (string, bool) {
	for _, p := range r.Data.Params {
		if p.Key == key {
			return p.Value, true
		}
	}
	return "", false
}

// Tag returns the value of tag key.
func (r *Run) Tag(key string) (string, bool) { return lookupTag(r.Data.Tags, key) }

func lookupTag(tags []Tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// tagList turns a map into tags sorted by key, for stable requests.
func tagList(m map[string]string) []Tag {
	if len(m) == 0 {
		return nil
	}
	tags := make([]Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		tags = append(tags, Tag{Key: k, Value: m[k]})
	}
	return tags
}

// nowMillis is the current time in Unix milliseconds.
func nowMillis() int64 { return time.Now().UnixMilli() }

// CreateRunRequest describes a run to create.
type CreateRunRequest struct {
	ExperimentID string
	RunName      string
	StartTime    int64 // Unix milliseconds; 0 means now
	Tags         map[string]string
}

// CreateRun creates a run.
//
// MLflow REST API: "Create Run" (POST /api/2.0/mlflow/runs/create).
func (c *Client) CreateRun(ctx context.Context, r CreateRunRequest) (*Run, error) {
	in := struct {
		ExperimentID string `json:"experiment_id"`
		RunName      string `json:"run_name,omitempty"`
		StartTime    int64  `json:"start_time"`
		Tags         []Tag  `json:"tags,omitempty"`
	}{r.ExperimentID, r.RunName, r.StartTime, tagList(r.Tags)}
	if in.StartTime == 0 {
		in.StartTime = nowMillis()
	}
	var out struct {
		Run Run `json:"run"`
	}
	if err := c.post(ctx, "runs/create", in, &out, retryUnprocessed); err != nil {
		return nil, err
	}
	return &out.Run, nil
}

// GetRun returns a run with its latest metrics, params and tags.
//
// MLflow REST API: "Get Run" (GET /api/2.0/mlflow/runs/get).
func (c *Client) GetRun(ctx context.Context, runID string) (*Run, error) {
	var out struct {
		Run Run `json:"run"`
	}
	if err := c.get(ctx, "runs/get", url.Values{"run_id": {runID}}, &out); err != nil {
		return nil, err
	}
	return &out.Run, nil
}

// UpdateRun sets a run's status and end time (Unix milliseconds). An
// endTime of 0 is sent as now when status ends the run (FINISHED, FAILED,
// KILLED), as MLflow's set_terminated does, and not sent otherwise.
//
// MLflow REST API: "Update Run" (POST /api/2.0/mlflow/runs/update).
func (c *Client) UpdateRun(ctx context.Context, runID string, status RunStatus, endTime int64) (*RunInfo, error) {
	if endTime == 0 && status.terminal() {
		endTime = nowMillis()
	}
	in := struct {
		RunID   string    `json:"run_id"`
		Status  RunStatus `json:"status,omitempty"`
		EndTime int64     `json:"end_time,omitempty"`
	}{runID, status, endTime}
	var out struct {
		RunInfo RunInfo `json:"run_info"`
	}
	if err := c.post(ctx, "runs/update", in, &out, retrySafe); err != nil {
		return nil, err
	}
	return &out.RunInfo, nil
}

// Limits of one runs/log-batch request (mlflow/utils/validation.py).
const (
	maxMetricsPerBatch    = 1000
	maxParamsTagsPerBatch = 100
	maxEntitiesPerBatch   = 1000
	maxBatchBytes         = 1_000_000
)

type logBatchRequest struct {
	RunID   string   `json:"run_id"`
	Metrics []Metric `json:"metrics,omitempty"`
	Params  []Param  `json:"params,omitempty"`
	Tags    []Tag    `json:"tags,omitempty"`
}

func (b *logBatchRequest) entities() int { return len(b.Metrics) + len(b.Params) + len(b.Tags) }

// LogBatch logs metrics, params and tags to a run, in as many requests as
// MLflow's limits require: at most 1000 metrics, 100 params, 100 tags and
// 1000 entities in all per request, and bodies under 1 MB. Requests go in
// order, params first; the first error stops the rest. It is retried like
// the other idempotent writes (see retrySafe): a resent batch carries the
// same values, which MLflow accepts again.
//
// MLflow REST API: "Log Batch" (POST /api/2.0/mlflow/runs/log-batch).
func (c *Client) LogBatch(ctx context.Context, runID string, metrics []Metric, params []Param, tags []Tag) error {
	batches, err := splitBatch(runID, metrics, params, tags)
	if err != nil {
		return err
	}
	for _, b := range batches {
		if err := c.post(ctx, "runs/log-batch", b, nil, retrySafe); err != nil {
			return err
		}
	}
	return nil
}

// splitBatch packs entities greedily into requests within MLflow's limits.
// An entity too large for a request on its own is sent alone (the server
// will say why it refuses it).
func splitBatch(runID string, metrics []Metric, params []Param, tags []Tag) ([]logBatchRequest, error) {
	envelope := len(`{"run_id":"","metrics":[],"params":[],"tags":[]}`) + len(runID) + 16
	var (
		out  []logBatchRequest
		cur  = logBatchRequest{RunID: runID}
		size = envelope
	)
	// add appends one entity of encoded size n, starting a new request when
	// the kind's count (already in cur), the total or the bytes overflow.
	add := func(n, count, limit int, appendTo func()) {
		if cur.entities() > 0 && (count >= limit || cur.entities() >= maxEntitiesPerBatch || size+n+1 > maxBatchBytes) {
			out = append(out, cur)
			cur, size = logBatchRequest{RunID: runID}, envelope
		}
		appendTo()
		size += n + 1
	}
	for _, p := range params {
		b, err := json.Marshal(p)
		if err != nil {
			return nil, err
		}
		add(len(b), len(cur.Params), maxParamsTagsPerBatch, func() { cur.Params = append(cur.Params, p) })
	}
	for _, t := range tags {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		add(len(b), len(cur.Tags), maxParamsTagsPerBatch, func() { cur.Tags = append(cur.Tags, t) })
	}
	for _, m := range metrics {
		b, err := m.MarshalJSON()
		if err != nil {
			return nil, err
		}
		add(len(b), len(cur.Metrics), maxMetricsPerBatch, func() { cur.Metrics = append(cur.Metrics, m) })
	}
	if cur.entities() > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// SearchRunsRequest selects runs. Filter conditions are joined by AND only,
// e.g. `metrics.f1 > 0.5 AND params.model = "lr"`; OrderBy items look like
// `metrics.f1 DESC`. MaxResults 0 leaves the server's default (1000).
type SearchRunsRequest struct {
	ExperimentIDs []string
	Filter        string
	RunViewType   ViewType
	MaxResults    int
	OrderBy       []string
	PageToken     string
}

// SearchRunsPage is one page of SearchRuns; NextPageToken is "" on the last.
type SearchRunsPage struct {
	Runs          []Run  `json:"runs"`
	NextPageToken string `json:"next_page_token"`
}

// SearchRuns returns one page of runs.
//
// MLflow REST API: "Search Runs" (POST /api/2.0/mlflow/runs/search).
func (c *Client) SearchRuns(ctx context.Context, r SearchRunsRequest) (*SearchRunsPage, error) {
	in := struct {
		ExperimentIDs []string `json:"experiment_ids"`
		Filter        string   `json:"filter,omitempty"`
		RunViewType   ViewType `json:"run_view_type,omitempty"`
		MaxResults    int      `json:"max_results,omitempty"`
		OrderBy       []string `json:"order_by,omitempty"`
		PageToken     string   `json:"page_token,omitempty"`
	}{r.ExperimentIDs, r.Filter, r.RunViewType, r.MaxResults, r.OrderBy, r.PageToken}
	var out SearchRunsPage
	if err := c.post(ctx, "runs/search", in, &out, retrySafe); err != nil {
		return nil, err
	}
	return &out, nil
}

// SearchAllRuns returns every run r selects, walking all pages from
// r.PageToken on.
func (c *Client) SearchAllRuns(ctx context.Context, r SearchRunsRequest) ([]Run, error) {
	return allPages(ctx, r.PageToken, func(ctx context.Context, token string) ([]Run, string, error) {
		r.PageToken = token
		page, err := c.SearchRuns(ctx, r)
		if err != nil {
			return nil, "", err
		}
		return page.Runs, page.NextPageToken, nil
	})
}
