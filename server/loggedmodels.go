package server

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// Logged models (MLflow 3): a model logged in an experiment, with its own
// id (m-<32 hex>), artifact location, tags, params, and the metrics runs
// log against it.

// Logged model statuses (LoggedModelStatus in service.proto), by number.
var loggedModelStatuses = []string{"LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"}

// loggedModelFilterStatuses are the statuses a search filter names
// (mlflow.entities.LoggedModelStatus), by number.
var loggedModelFilterStatuses = []string{"UNSPECIFIED", "PENDING", "READY", "FAILED"}

const (
	modelsFolder  = "models"
	loggedModelID = "m-"
)

type loggedModel struct {
	id               string
	experimentID     int64
	name             string
	artifactLocation string
	creationTime     int64
	lastUpdated      int64
	status           int64
	stage            string
	modelType        string
	sourceRunID      string
	tags             []tagJSON
	params           []tagJSON
	metrics          []loggedModelMetric
}

// loggedModelMetric is one metric point logged against a model.
type loggedModelMetric struct {
	key           string
	value         float64
	timestamp     int64
	step          int64
	runID         string
	datasetName   sql.NullString
	datasetDigest sql.NullString
}

type loggedModelInfoJSON struct {
	ModelID              string    `json:"model_id"`
	ExperimentID         string    `json:"experiment_id"`
	Name                 string    `json:"name"`
	CreationTimestampMs  int64     `json:"creation_timestamp_ms"`
	LastUpdatedTimestamp int64     `json:"last_updated_timestamp_ms"`
	ArtifactURI          string    `json:"artifact_uri"`
	Status               string    `json:"status"`
	ModelType            string    `json:"model_type"`
	SourceRunID          string    `json:"source_run_id"`
	Tags                 []tagJSON `json:"tags,omitempty"`
}

type loggedModelMetricJSON struct {
	Key           string      `json:"key"`
	Value         metricValue `json:"value"`
	Timestamp     int64       `json:"timestamp"`
	Step          int64       `json:"step"`
	DatasetName   string      `json:"dataset_name,omitempty"`
	DatasetDigest string      `json:"dataset_digest,omitempty"`
	ModelID       string      `json:"model_id"`
	RunID         string      `json:"run_id"`
}

type loggedModelJSON struct {
	Info loggedModelInfoJSON `json:"info"`
	Data struct {
		Params  []tagJSON               `json:"params,omitempty"`
		Metrics []loggedModelMetricJSON `json:"metrics,omitempty"`
	} `json:"data"`
}

func (m *loggedModel) json() loggedModelJSON {
	var out loggedModelJSON
	out.Info = loggedModelInfoJSON{
		ModelID: m.id, ExperimentID: itoa(m.experimentID), Name: m.name,
		CreationTimestampMs: m.creationTime, LastUpdatedTimestamp: m.lastUpdated,
		ArtifactURI: m.artifactLocation, Status: loggedModelStatuses[m.status],
		ModelType: m.modelType, SourceRunID: m.sourceRunID, Tags: m.tags,
	}
	out.Data.Params = m.params
	for _, x := range m.metrics {
		out.Data.Metrics = append(out.Data.Metrics, loggedModelMetricJSON{
			Key: x.key, Value: metricValue(x.value), Timestamp: x.timestamp, Step: x.step,
			DatasetName: x.datasetName.String, DatasetDigest: x.datasetDigest.String, ModelID: m.id, RunID: x.runID,
		})
	}
	return out
}

const loggedModelColumns = `model_id, experiment_id, name, artifact_location, creation_timestamp_ms, last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id`

// loadLoggedModels reads the models whose ids are given, in that order,
// with their tags, params and metrics.
func loadLoggedModels(ctx context.Context, q queryer, ids []string) ([]*loggedModel, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in := `(` + placeholders(len(ids)) + `)`
	rows, err := q.QueryContext(ctx, `SELECT `+loggedModelColumns+` FROM logged_models WHERE model_id IN `+in, anySlice(ids)...)
	if err != nil {
		return nil, err
	}
	byID := map[string]*loggedModel{}
	for rows.Next() {
		var m loggedModel
		var modelType, sourceRun sql.NullString
		if err := rows.Scan(&m.id, &m.experimentID, &m.name, &m.artifactLocation, &m.creationTime, &m.lastUpdated, &m.status, &m.stage, &modelType, &sourceRun); err != nil {
			rows.Close()
			return nil, err
		}
		m.modelType, m.sourceRunID = modelType.String, sourceRun.String
		byID[m.id] = &m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := loadLoggedModelChildren(ctx, q, in, ids, byID); err != nil {
		return nil, err
	}
	out := make([]*loggedModel, 0, len(ids))
	for _, id := range ids {
		if m := byID[id]; m != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// loadLoggedModelChildren reads the tags, params and metrics of the
// models in byID.
func loadLoggedModelChildren(ctx context.Context, q queryer, in string, ids []string, byID map[string]*loggedModel) error {
	for _, kv := range []struct {
		table string
		dst   func(*loggedModel) *[]tagJSON
	}{
		{"logged_model_tags", func(m *loggedModel) *[]tagJSON { return &m.tags }},
		{"logged_model_params", func(m *loggedModel) *[]tagJSON { return &m.params }},
	} {
		err := scanRows(ctx, q, `SELECT model_id, key, value FROM `+kv.table+` WHERE model_id IN `+in+` ORDER BY model_id, key`, anySlice(ids), func(rows *sql.Rows) error {
			var id string
			var t tagJSON
			if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
				return err
			}
			*kv.dst(byID[id]) = append(*kv.dst(byID[id]), t)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return scanRows(ctx, q, `SELECT model_id, key, value, timestamp, step, run_id, dataset_name, dataset_digest FROM logged_model_metrics
		WHERE model_id IN `+in+` ORDER BY model_id, key, timestamp, step, run_id`, anySlice(ids), func(rows *sql.Rows) error {
		var id string
		var x loggedModelMetric
		if err := rows.Scan(&id, &x.key, &x.value, &x.timestamp, &x.step, &x.runID, &x.datasetName, &x.datasetDigest); err != nil {
			return err
		}
		byID[id].metrics = append(byID[id].metrics, x)
		return nil
	})
}

// scanRows runs query with args and calls fn on each row.
func scanRows(ctx context.Context, q queryer, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// errLoggedModelNotFound is MLflow's _raise_model_not_found.
func errLoggedModelNotFound(id string) *apiError {
	return errNotFound("Logged model with ID '%s' not found.", id)
}

// getLoggedModel reads a model; a deleted one only when allowDeleted.
func getLoggedModel(ctx context.Context, q queryer, id string, allowDeleted bool) (*loggedModel, error) {
	ms, err := loadLoggedModels(ctx, q, []string{id})
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 || !allowDeleted && ms[0].stage == stageDeleted {
		return nil, errLoggedModelNotFound(id)
	}
	return ms[0], nil
}

// loggedModelExperiment reads the experiment of a model, deleted or not
// (MLflow's _get_logged_model_record).
func loggedModelExperiment(ctx context.Context, tx *sql.Tx, id string) (int64, error) {
	var exp int64
	err := tx.QueryRowContext(ctx, `SELECT experiment_id FROM logged_models WHERE model_id = ?`, id).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errLoggedModelNotFound(id)
	}
	return exp, err
}

// validateLoggedModelName is MLflow's _validate_logged_model_name; ""
// means no name (a random one).
func validateLoggedModelName(name string) *apiError {
	if !strings.ContainsAny(name, `/:.%"'`) {
		return nil
	}
	return errInvalid(`Invalid model name (%s) provided. Model name must be a non-empty string and cannot contain the following characters: ('/', ':', '.', '%%', '"', "'")`, pyRepr(name))
}
