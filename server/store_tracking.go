package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The tracking store methods: MLflow's SqlAlchemyStore of
// mlflow/store/tracking, each validating its arguments in MLflow's order,
// then running its SQL in one transaction.

// CreateExperiment creates an experiment with tags and returns its id.
// artifact_location is refused: artifacts live in the data directory.
func (st *store) CreateExperiment(ctx context.Context, name, location string, tags []keyValue) (int64, error) {
	if err := firstError(validateExperimentName(name)); err != nil {
		return 0, err
	}
	if location != "" {
		return 0, errInvalid("artifact_location is not supported by the embedded server: artifacts live in its data directory")
	}
	for _, t := range tags {
		if err := firstError(validateExperimentTag(t)); err != nil {
			return 0, err
		}
	}
	var id int64
	err := st.write(ctx, func(tx *sql.Tx) error {
		var exists int
		switch err := tx.QueryRowContext(ctx, `SELECT 1 FROM experiments WHERE name = ?`, name).Scan(&exists); {
		case err == nil:
			return errExists("Experiment(name=%s) already exists.", name)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var err error
		id, err = insertExperiment(ctx, tx, name, tags)
		return err
	})
	return id, err
}

// insertExperiment inserts an experiment, its artifact location named
// after its id, and its tags.
func insertExperiment(ctx context.Context, tx *sql.Tx, name string, tags []keyValue) (int64, error) {
	now := nowMillis()
	res, err := tx.ExecContext(ctx, `INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, '', 'active', ?, ?)`, name, now, now)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?`, artifactRootURI+itoa(id), id); err != nil {
		return 0, err
	}
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)`, id, t.Key, t.Value); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// GetExperiment reads an experiment by id (a string, as MLflow's).
func (st *store) GetExperiment(ctx context.Context, id string) (*experiment, error) {
	n, perr := parseExperimentID(id)
	if err := firstError(perr); err != nil {
		return nil, err
	}
	var e *experiment
	err := st.read(ctx, func(tx *sql.Tx) (err error) {
		e, err = getExperimentByID(ctx, tx, n)
		return err
	})
	return e, err
}

// GetExperimentByName reads an experiment by name.
func (st *store) GetExperimentByName(ctx context.Context, name string) (*experiment, error) {
	var e *experiment
	err := st.read(ctx, func(tx *sql.Tx) error {
		var err error
		e, err = scanExperiment(tx.QueryRowContext(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return errNotFound("Could not find experiment with name '%s'", name)
		}
		if err != nil {
			return err
		}
		return loadExperimentTags(ctx, tx, e)
	})
	return e, err
}

// RenameExperiment renames an active experiment, checked in MLflow's
// order: the new name, the id, the experiment's stage (INVALID_STATE, a
// 500), then the name taken by another experiment, active or deleted (a
// 400 BAD_REQUEST that starts as the SQLite error MLflow quotes).
func (st *store) RenameExperiment(ctx context.Context, rawID, newName string) error {
	if err := firstError(validateExperimentName(newName)); err != nil {
		return err
	}
	return st.experimentWrite(ctx, rawID, func(tx *sql.Tx, id int64, e *experiment) error {
		if e.lifecycleStage != stageActive {
			return &apiError{Status: http.StatusInternalServerError, Code: "INVALID_STATE", Message: "Cannot rename a non-active experiment."}
		}
		var other int64
		switch err := tx.QueryRowContext(ctx, `SELECT experiment_id FROM experiments WHERE name = ?`, newName).Scan(&other); {
		case err == nil && other != id:
			return &apiError{Status: http.StatusBadRequest, Code: "BAD_REQUEST", Message: "(sqlite3.IntegrityError) UNIQUE constraint failed: experiments.workspace, experiments.name"}
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE experiments SET name = ?, last_update_time = ? WHERE experiment_id = ?`, newName, nowMillis(), id)
		return err
	})
}

// checkActive refuses an experiment that is not active, as MLflow's
// _check_experiment_is_active.
func (e *experiment) checkActive() error {
	if e.lifecycleStage != stageActive {
		return errInvalid("The experiment %d must be in the 'active' state. Current state is %s.", e.id, e.lifecycleStage)
	}
	return nil
}

// SetExperimentTag sets (or replaces) a tag of an active experiment; the
// tag is validated before the id is parsed, as MLflow does.
func (st *store) SetExperimentTag(ctx context.Context, rawID, key, value string) error {
	if err := firstError(validateExperimentTag(keyValue{key, value})); err != nil {
		return err
	}
	return st.experimentWrite(ctx, rawID, func(tx *sql.Tx, id int64, e *experiment) error {
		if err := e.checkActive(); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?, ?, ?)`, id, key, value)
		return err
	})
}

// DeleteExperimentTag deletes a tag of an active experiment; a tag that
// is not there is RESOURCE_DOES_NOT_EXIST (naming the id as given).
func (st *store) DeleteExperimentTag(ctx context.Context, rawID, key string) error {
	return st.experimentWrite(ctx, rawID, func(tx *sql.Tx, id int64, e *experiment) error {
		if err := e.checkActive(); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM experiment_tags WHERE experiment_id = ? AND key = ?`, id, key)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return errNotFound("No tag with name: %s in experiment with id %s", key, rawID)
		}
		return nil
	})
}

// experimentWrite parses rawID, then runs fn in a write transaction with
// the experiment, once it is known to exist.
func (st *store) experimentWrite(ctx context.Context, rawID string, fn func(tx *sql.Tx, id int64, e *experiment) error) error {
	id, perr := parseExperimentID(rawID)
	if err := firstError(perr); err != nil {
		return err
	}
	return st.write(ctx, func(tx *sql.Tx) error {
		e, err := getExperimentByID(ctx, tx, id)
		if err != nil {
			return err
		}
		return fn(tx, id, e)
	})
}

// DeleteExperiment marks an experiment and its active runs deleted.
func (st *store) DeleteExperiment(ctx context.Context, id string) error {
	return st.setExperimentStage(ctx, id, stageActive, stageDeleted)
}

// RestoreExperiment brings a deleted experiment and its runs back.
func (st *store) RestoreExperiment(ctx context.Context, id string) error {
	return st.setExperimentStage(ctx, id, stageDeleted, stageActive)
}

// setExperimentStage moves an experiment, and its runs, from one
// lifecycle stage to the other.
func (st *store) setExperimentStage(ctx context.Context, rawID, from, to string) error {
	return st.experimentWrite(ctx, rawID, func(tx *sql.Tx, id int64, e *experiment) error {
		if e.lifecycleStage != from {
			if to == stageDeleted {
				return errNotFound("No Experiment with id=%d exists", id)
			}
			return errInvalid("Cannot restore an active experiment.")
		}
		if id == 0 && to == stageDeleted {
			return errInvalid("Cannot delete the default experiment '0'. This is an internally reserved experiment.")
		}
		now := nowMillis()
		if _, err := tx.ExecContext(ctx, `UPDATE experiments SET lifecycle_stage = ?, last_update_time = ? WHERE experiment_id = ?`, to, now, id); err != nil {
			return err
		}
		var deleted any
		if to == stageDeleted {
			deleted = now
		}
		_, err := tx.ExecContext(ctx, `UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE experiment_id = ? AND lifecycle_stage = ?`, to, deleted, id, from)
		return err
	})
}

// newRun is what CreateRun needs.
type newRun struct {
	experimentID, name, userID string
	startTime                  int64
	tags                       []keyValue
}

// CreateRun creates a run in an active experiment. Without an
// experiment_id, MLflow checks the run against the Default experiment,
// then fails to insert it (experiment_id ""): a 400 BAD_REQUEST.
func (st *store) CreateRun(ctx context.Context, nr newRun) (*run, error) {
	noExperiment := nr.experimentID == ""
	if noExperiment {
		nr.experimentID = "0"
	}
	eid, perr := parseExperimentID(nr.experimentID)
	if err := firstError(perr); err != nil {
		return nil, err
	}
	var r *run
	err := st.write(ctx, func(tx *sql.Tx) error {
		exp, err := getExperimentByID(ctx, tx, eid)
		if err != nil {
			return err
		}
		if err := exp.checkActive(); err != nil {
			return err
		}
		if err := nameRun(&nr); err != nil {
			return err
		}
		if noExperiment {
			return &apiError{Status: http.StatusBadRequest, Code: "BAD_REQUEST", Message: "FOREIGN KEY constraint failed: runs/create needs an experiment_id"}
		}
		id := newRunID()
		uri := strings.TrimSuffix(exp.artifactLocation, "/") + "/" + id + "/artifacts"
		if _, err := tx.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, ?, 'active')`,
			id, nr.name, eid, nr.userID, nr.startTime, uri); err != nil {
			return err
		}
		for _, t := range nr.tags {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO tags (run_uuid, key, value) VALUES (?, ?, ?)`, id, t.Key, t.Value); err != nil {
				return err
			}
		}
		r, err = getRunByID(ctx, tx, id)
		return err
	})
	return r, err
}

// nameRun settles a new run's name: run_name, else its mlflow.runName
// tag, else a random one; the tag is added when missing. The two must
// agree when both are given.
func nameRun(nr *newRun) error {
	tagName := ""
	for _, t := range nr.tags {
		if t.Key == runNameTag {
			tagName = t.Value
		}
	}
	if nr.name != "" && tagName != "" && nr.name != tagName {
		return errInvalid("Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='%s', mlflow.runName='%s').", nr.name, tagName)
	}
	if nr.name == "" {
		nr.name = tagName
	}
	if nr.name == "" {
		nr.name = randomRunName()
	}
	if tagName == "" {
		nr.tags = append(nr.tags, keyValue{runNameTag, nr.name})
	}
	return nil
}

// GetRun reads a run with its latest metrics, params and tags, its
// inputs and its outputs.
func (st *store) GetRun(ctx context.Context, id string) (*run, error) {
	var r *run
	err := st.read(ctx, func(tx *sql.Tx) (err error) {
		if r, err = getRunByID(ctx, tx, id); err != nil {
			return err
		}
		return loadRunIO(ctx, tx, []*run{r}, true)
	})
	return r, err
}

// UpdateRun sets an active run's status (one MLflow cannot parse is
// ignored, as MLflow does), end time (when not nil) and name (when not
// empty).
func (st *store) UpdateRun(ctx context.Context, id, status string, endTime *int64, name string) (*run, error) {
	var r *run
	err := st.write(ctx, func(tx *sql.Tx) error {
		if _, err := activeRun(ctx, tx, id); err != nil {
			return err
		}
		if runStatuses[status] {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ? WHERE run_uuid = ?`, status, id); err != nil {
				return err
			}
		}
		if endTime != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET end_time = ? WHERE run_uuid = ?`, *endTime, id); err != nil {
				return err
			}
		}
		if name != "" {
			if err := renameRun(ctx, tx, id, name); err != nil {
				return err
			}
		}
		var err error
		r, err = getRunByID(ctx, tx, id)
		return err
	})
	return r, err
}

// DeleteRun marks a run deleted.
func (st *store) DeleteRun(ctx context.Context, id string) error {
	return st.setRunStage(ctx, id, stageDeleted)
}

// RestoreRun brings a deleted run back.
func (st *store) RestoreRun(ctx context.Context, id string) error {
	return st.setRunStage(ctx, id, stageActive)
}

func (st *store) setRunStage(ctx context.Context, id, to string) error {
	return st.write(ctx, func(tx *sql.Tx) error {
		var deleted any
		if to == stageDeleted {
			deleted = nowMillis()
		}
		res, err := tx.ExecContext(ctx, `UPDATE runs SET lifecycle_stage = ?, deleted_time = ? WHERE run_uuid = ?`, to, deleted, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("Run with id=%s not found", id)
		}
		return nil
	})
}

// activeWrite runs fn in a write transaction once the run is known to be
// active.
func (st *store) activeWrite(ctx context.Context, runID string, fn func(tx *sql.Tx) error) error {
	return st.write(ctx, func(tx *sql.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// LogBatch logs metrics, params and tags to an active run (and the
// metrics that name a logged model to it too), after
// MLflow's _validate_batch_log_data.
func (st *store) LogBatch(ctx context.Context, runID string, metrics []requestMetric, params, tags []keyValue) error {
	if err := firstError(validateBatch(runID, metrics, params, tags)); err != nil {
		return err
	}
	var exp int64
	err := st.write(ctx, func(tx *sql.Tx) error {
		var err error
		if exp, err = activeRun(ctx, tx, runID); err != nil {
			return err
		}
		if err := insertParams(ctx, tx, runID, params); err != nil {
			return err
		}
		if err := insertMetrics(ctx, tx, runID, metrics); err != nil {
			return err
		}
		return setTags(ctx, tx, runID, tags)
	})
	if err != nil {
		return err
	}
	// MLflow logs the model metrics in a session of their own, after the
	// run's: a model that does not exist fails the call, the run's part
	// kept.
	return st.write(ctx, func(tx *sql.Tx) error { return insertModelMetrics(ctx, tx, runID, exp, metrics) })
}

// validateBatch checks a batch in MLflow's order: the run id, each
// metric, param and tag (values truncated in place), the batch limits,
// then duplicate param keys.
func validateBatch(runID string, metrics []requestMetric, params, tags []keyValue) *apiError {
	if !validRunID(runID) {
		return invalidValue("run_id", runID, "")
	}
	for i, m := range metrics {
		if e := validateMetric(m, fmt.Sprintf("metrics[%d]", i)); e != nil {
			return e
		}
	}
	var e *apiError
	for i := range params {
		if params[i], e = validateParam(params[i], fmt.Sprintf("params[%d]", i)); e != nil {
			return e
		}
	}
	for i := range tags {
		if tags[i], e = validateRunTag(tags[i], fmt.Sprintf("tags[%d]", i)); e != nil {
			return e
		}
	}
	if e := batchLimits(len(metrics), len(params), len(tags)); e != nil {
		return e
	}
	seen := map[string]bool{}
	var dupes []string
	for _, p := range params {
		if seen[p.Key] {
			dupes = append(dupes, p.Key)
		}
		seen[p.Key] = true
	}
	if len(dupes) > 0 {
		return errInvalid("Duplicate parameter keys have been submitted: %s. Please ensure the request contains only one param value per param key.", pyList(dupes))
	}
	return nil
}

// LogMetric logs one metric point to an active run, and to the logged
// model it names, if any.
func (st *store) LogMetric(ctx context.Context, runID string, m requestMetric) error {
	if err := firstError(validateMetric(m, "")); err != nil {
		return err
	}
	return st.write(ctx, func(tx *sql.Tx) error {
		exp, err := activeRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		if err := insertModelMetrics(ctx, tx, runID, exp, []requestMetric{m}); err != nil {
			return err
		}
		return insertMetrics(ctx, tx, runID, []requestMetric{m})
	})
}

// LogParam logs a param to an active run; the same value again is no
// error, another one is.
func (st *store) LogParam(ctx context.Context, runID, key, value string) error {
	p, perr := validateParam(keyValue{key, value}, "")
	if err := firstError(perr); err != nil {
		return err
	}
	return st.activeWrite(ctx, runID, func(tx *sql.Tx) error {
		var old string
		switch err := tx.QueryRowContext(ctx, `SELECT value FROM params WHERE run_uuid = ? AND key = ?`, runID, p.Key).Scan(&old); {
		case err == nil:
			if old != p.Value {
				return errInvalid("Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for run ID='%s'. Attempted logging new value '%s'.",
					p.Key, old, runID, p.Value)
			}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)`, runID, p.Key, p.Value)
		return err
	})
}

// SetRunTag sets (or replaces) a tag of an active run; mlflow.runName
// renames it.
func (st *store) SetRunTag(ctx context.Context, runID, key, value string) error {
	t, terr := validateRunTag(keyValue{key, value}, "")
	if err := firstError(terr); err != nil {
		return err
	}
	return st.activeWrite(ctx, runID, func(tx *sql.Tx) error {
		return setTags(ctx, tx, runID, []keyValue{t})
	})
}

// DeleteRunTag deletes a tag of an active run; a tag that is not there
// is RESOURCE_DOES_NOT_EXIST.
func (st *store) DeleteRunTag(ctx context.Context, runID, key string) error {
	return st.activeWrite(ctx, runID, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM tags WHERE run_uuid = ? AND key = ?`, runID, key)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNotFound("No tag with name: %s in run with id %s", key, runID)
		}
		return nil
	})
}

// GetMetricHistory reads every point of a run's metric, oldest first.
func (st *store) GetMetricHistory(ctx context.Context, runID, key string) ([]metric, error) {
	var out []metric
	err := st.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = ? AND key = ? ORDER BY timestamp, step, value`, runID, key)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m := metric{key: key}
			if err := rows.Scan(&m.value, &m.timestamp, &m.step, &m.isNaN); err != nil {
				return err
			}
			out = append(out, m)
		}
		return rows.Err()
	})
	return out, err
}
