package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The logged model store methods: MLflow's SqlAlchemyStore logged model
// methods, in their order of checks.

// newLoggedModel is what CreateLoggedModel needs.
type newLoggedModel struct {
	experimentID, name, modelType, sourceRunID string
	params, tags                               []keyValue
}

// CreateLoggedModel creates a PENDING model in an active experiment, its
// artifacts under the experiment's, at models/<id>/artifacts.
func (st *store) CreateLoggedModel(ctx context.Context, nm newLoggedModel) (*loggedModel, error) {
	if err := firstError(validateLoggedModelName(nm.name)); err != nil {
		return nil, err
	}
	eid, perr := parseExperimentID(nm.experimentID)
	if err := firstError(perr); err != nil {
		return nil, err
	}
	var m *loggedModel
	err := st.write(ctx, func(tx *sql.Tx) error {
		exp, err := getExperimentByID(ctx, tx, eid)
		if err != nil {
			return err
		}
		if err := exp.checkActive(); err != nil {
			return err
		}
		id := loggedModelID + newRunID()
		if nm.name == "" {
			nm.name = randomRunName()
		}
		location := strings.TrimSuffix(exp.artifactLocation, "/") + "/" + modelsFolder + "/" + id + "/artifacts"
		now := nowMillis()
		if _, err := tx.ExecContext(ctx, `INSERT INTO logged_models (`+loggedModelColumns+`) VALUES (?, ?, ?, ?, ?, ?, 1, 'active', ?, ?)`,
			id, eid, nm.name, location, now, now, nm.modelType, nm.sourceRunID); err != nil {
			return err
		}
		// MLflow quotes the experiment id as the request gave it here.
		if err := insertLoggedModelParams(ctx, tx, id, pyRepr(nm.experimentID), nm.params); err != nil {
			return err
		}
		if err := insertLoggedModelTags(ctx, tx, id, pyRepr(nm.experimentID), nm.tags); err != nil {
			return err
		}
		m, err = getLoggedModel(ctx, tx, id, false)
		return err
	})
	return m, err
}

// GetLoggedModel reads a model; a deleted one only when allowDeleted.
func (st *store) GetLoggedModel(ctx context.Context, id string, allowDeleted bool) (*loggedModel, error) {
	var m *loggedModel
	err := st.read(ctx, func(tx *sql.Tx) (err error) {
		m, err = getLoggedModel(ctx, tx, id, allowDeleted)
		return err
	})
	return m, err
}

// loggedModelWrite runs fn in a write transaction once the model (deleted
// or not, as MLflow's _get_logged_model_record) is known to exist.
func (st *store) loggedModelWrite(ctx context.Context, id string, fn func(tx *sql.Tx, experimentID int64) error) error {
	return st.write(ctx, func(tx *sql.Tx) error {
		exp, err := loggedModelExperiment(ctx, tx, id)
		if err != nil {
			return err
		}
		return fn(tx, exp)
	})
}

// FinalizeLoggedModel sets a model's status (a LoggedModelStatus number).
func (st *store) FinalizeLoggedModel(ctx context.Context, id string, status int64) (*loggedModel, error) {
	var m *loggedModel
	err := st.loggedModelWrite(ctx, id, func(tx *sql.Tx, _ int64) error {
		if _, err := tx.ExecContext(ctx, `UPDATE logged_models SET status = ?, last_updated_timestamp_ms = ? WHERE model_id = ?`, status, nowMillis(), id); err != nil {
			return err
		}
		var err error
		m, err = getLoggedModel(ctx, tx, id, true)
		return err
	})
	return m, err
}

// DeleteLoggedModel marks a model deleted (again, if it is already).
func (st *store) DeleteLoggedModel(ctx context.Context, id string) error {
	return st.loggedModelWrite(ctx, id, func(tx *sql.Tx, _ int64) error {
		_, err := tx.ExecContext(ctx, `UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = ? WHERE model_id = ?`, nowMillis(), id)
		return err
	})
}

// SetLoggedModelTags sets (or replaces) tags; a key given twice keeps its
// last value.
func (st *store) SetLoggedModelTags(ctx context.Context, id string, tags []keyValue) error {
	return st.loggedModelWrite(ctx, id, func(tx *sql.Tx, _ int64) error {
		return upsertLoggedModelTags(ctx, tx, id, tags)
	})
}

func upsertLoggedModelTags(ctx context.Context, tx *sql.Tx, id string, tags []keyValue) error {
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO logged_model_tags (model_id, key, value) VALUES (?, ?, ?)`, id, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

// DeleteLoggedModelTag deletes a tag; one that is not there is
// RESOURCE_DOES_NOT_EXIST.
func (st *store) DeleteLoggedModelTag(ctx context.Context, id, key string) error {
	return st.loggedModelWrite(ctx, id, func(tx *sql.Tx, _ int64) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM logged_model_tags WHERE model_id = ? AND key = ?`, id, key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("No tag with key %s found for model with ID %s.", pyRepr(key), pyRepr(id))
		}
		return nil
	})
}

// LogLoggedModelParams adds params to a model. A key it has already, with
// any value, fails as MLflow's insert does: a UNIQUE constraint error.
func (st *store) LogLoggedModelParams(ctx context.Context, id string, params []keyValue) error {
	return st.loggedModelWrite(ctx, id, func(tx *sql.Tx, exp int64) error {
		return insertLoggedModelParams(ctx, tx, id, itoa(exp), params)
	})
}

// insertLoggedModelParams adds params; exp is the experiment id as MLflow
// quotes it in its message.
func insertLoggedModelParams(ctx context.Context, tx *sql.Tx, id, exp string, params []keyValue) error {
	seen := map[string]bool{}
	for _, p := range params {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM logged_model_params WHERE model_id = ? AND key = ?`, id, p.Key).Scan(&one)
		if err == nil || seen[p.Key] {
			return loggedModelKeyTaken("logged_model_params", "param", id, exp, params)
		}
		seen[p.Key] = true
		if _, err := tx.ExecContext(ctx, `INSERT INTO logged_model_params (model_id, key, value) VALUES (?, ?, ?)`, id, p.Key, p.Value); err != nil {
			return err
		}
	}
	return nil
}

// insertLoggedModelTags adds the tags of a new model: a key given twice
// fails as MLflow's insert does.
func insertLoggedModelTags(ctx context.Context, tx *sql.Tx, id, exp string, tags []keyValue) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if seen[t.Key] {
			return loggedModelKeyTaken("logged_model_tags", "tag", id, exp, tags)
		}
		seen[t.Key] = true
	}
	return upsertLoggedModelTags(ctx, tx, id, tags)
}

// loggedModelKeyTaken is MLflow's reply to a param or tag key a model
// has already (or is given twice): the UNIQUE constraint of table, with
// the rows of the insert.
func loggedModelKeyTaken(table, what, id, exp string, kvs []keyValue) *apiError {
	rows := make([]string, len(kvs))
	for i, kv := range kvs {
		rows[i] = fmt.Sprintf("(%s, %s, %s, %s)", pyRepr(id), exp, pyRepr(kv.Key), pyRepr(kv.Value))
	}
	return integrityError(fmt.Sprintf("UNIQUE constraint failed: %s.model_id, %s.%s_key", table, table, what),
		fmt.Sprintf("INSERT INTO %s (model_id, experiment_id, %s_key, %s_value) VALUES (?, ?, ?, ?)", table, what, what), rows)
}

// integrityError is the 400 BAD_REQUEST MLflow answers when SQLAlchemy
// reports a constraint SQLite refused: its message quotes the statement
// and its parameters (one row as a tuple, many as a list of tuples).
func integrityError(what, statement string, rows []string) *apiError {
	params := strings.Join(rows, ", ")
	if len(rows) != 1 {
		params = "[" + params + "]"
	}
	return &apiError{Status: http.StatusBadRequest, Code: "BAD_REQUEST",
		Message: fmt.Sprintf("(sqlite3.IntegrityError) %s\n[SQL: %s]\n[parameters: %s]\n(Background on this error at: https://sqlalche.me/e/21/gkpj)", what, statement, params)}
}

// insertModelMetrics is MLflow's _log_model_metrics: the points that name
// a logged model are kept, every one, as that model's metrics. A point
// logged again is ignored; a model that does not exist fails the
// insert's foreign key, as in MLflow.
func insertModelMetrics(ctx context.Context, tx *sql.Tx, runID string, exp int64, ms []requestMetric) error {
	var linked []requestMetric
	for _, m := range ms {
		if m.modelID != "" {
			linked = append(linked, m)
		}
	}
	for _, m := range linked {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM logged_models WHERE model_id = ?`, m.modelID).Scan(&one); err != nil {
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			return modelMetricsFKError(runID, exp, linked)
		}
		v, _ := sanitize(m.value)
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO logged_model_metrics (model_id, key, timestamp, step, run_id, value, experiment_id, dataset_name, dataset_digest)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.modelID, m.key, m.timestamp, m.step, runID, v, exp, nullable(m.datasetName), nullable(m.datasetDigest)); err != nil {
			return err
		}
	}
	return nil
}

// modelMetricsFKError is MLflow's reply to metrics naming a logged model
// that does not exist.
func modelMetricsFKError(runID string, exp int64, ms []requestMetric) *apiError {
	opt := func(s string) string {
		if s == "" {
			return "None"
		}
		return pyRepr(s)
	}
	rows := make([]string, len(ms))
	for i, m := range ms {
		v, _ := sanitize(m.value)
		rows[i] = fmt.Sprintf("(%s, %s, %d, %d, %s, %d, %s, None, %s, %s)", pyRepr(m.modelID), pyRepr(m.key), m.timestamp, m.step,
			pyFloat(v), exp, pyRepr(runID), opt(m.datasetName), opt(m.datasetDigest))
	}
	return integrityError("FOREIGN KEY constraint failed",
		"INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
}

// nullable is s, or NULL when it is empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
