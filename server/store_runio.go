package server

import (
	"context"
	"database/sql"
	"errors"
	"math"
)

// The store methods of run inputs and outputs and of sampled metric
// histories: MLflow's SqlAlchemyStore log_inputs, log_outputs and
// get_metric_history_bulk_interval.

// LogInputs logs datasets (deduplicated by name and digest, kept once per
// experiment) and logged models (opaque ids: MLflow does not check that
// they exist) as inputs of an active run. Inputs the run has already are
// kept as they are.
func (st *store) LogInputs(ctx context.Context, runID string, datasets []datasetInput, models []string) error {
	if !validRunID(runID) {
		return invalidValue("run_id", runID, "")
	}
	for _, in := range datasets {
		if err := firstError(validateDatasetInput(in)); err != nil {
			return err
		}
	}
	return st.write(ctx, func(tx *sql.Tx) error {
		experimentID, err := activeRun(ctx, tx, runID)
		if err != nil {
			return err
		}
		if err := insertDatasetInputs(ctx, tx, experimentID, runID, datasets); err != nil {
			return err
		}
		for _, id := range models {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO run_model_inputs (run_uuid, model_id) VALUES (?, ?)`, runID, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// LogOutputs records logged models (opaque ids, not checked) as outputs
// of an active run, each at a step. A model the run already has as an
// output, or one given twice, is SQLite's refusal (the step is not part
// of the key), as in MLflow; nothing is recorded then.
func (st *store) LogOutputs(ctx context.Context, runID string, models []modelOutputJSON) error {
	return st.activeWrite(ctx, runID, func(tx *sql.Tx) error {
		seen := map[string]bool{}
		dup := false
		rows := make([][]any, len(models))
		for i, m := range models {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM run_model_outputs WHERE run_uuid = ? AND model_id = ?`, runID, m.ModelID).Scan(&one)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			dup = dup || err == nil || seen[m.ModelID]
			seen[m.ModelID] = true
			rows[i] = []any{newRunID(), "RUN_OUTPUT", runID, "MODEL_OUTPUT", m.ModelID, m.Step}
		}
		if dup {
			return uniqueError("inputs.source_type, inputs.source_id, inputs.destination_type, inputs.destination_id",
				"INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, ?, ?, ?, ?, ?)", rows)
		}
		for _, m := range models {
			if _, err := tx.ExecContext(ctx, `INSERT INTO run_model_outputs (run_uuid, model_id, step) VALUES (?, ?, ?)`, runID, m.ModelID, m.Step); err != nil {
				return err
			}
		}
		return nil
	})
}

// bulkInterval is a get-history-bulk-interval request: maxResults points
// at most per run, within [start, end] when both are given.
type bulkInterval struct {
	runIDs     []string
	key        string
	maxResults int64
	start, end *int64
}

// GetMetricHistoryBulkInterval samples a metric's history in each run (in
// the order given; runs are not checked, an unknown one has no points):
// the points ordered by step, timestamp and value are cut into maxResults
// buckets (SQL's NTILE), the first point of each kept, and the last point
// of the history replaces the last one kept, as MLflow's SQL store does.
func (st *store) GetMetricHistoryBulkInterval(ctx context.Context, a bulkInterval) ([]metricWithRunJSON, error) {
	if (a.start == nil) != (a.end == nil) {
		return nil, errInvalid("If either start step or end step are specified, both must be specified.")
	}
	if a.start != nil && *a.start > *a.end {
		return nil, errInvalid("end_step must be greater than start_step. Found start_step=%d and end_step=%d.", *a.start, *a.end)
	}
	var out []metricWithRunJSON
	err := st.read(ctx, func(tx *sql.Tx) error {
		for _, id := range a.runIDs {
			points, err := sampleHistory(ctx, tx, id, a)
			if err != nil {
				return err
			}
			out = append(out, points...)
		}
		return nil
	})
	return out, err
}

// sampleHistory samples one run's history of a.key.
func sampleHistory(ctx context.Context, tx *sql.Tx, runID string, a bulkInterval) ([]metricWithRunJSON, error) {
	where := ` FROM metrics WHERE run_uuid = ? AND key = ?`
	args := []any{runID, a.key}
	if a.start != nil {
		where += ` AND step >= ? AND step <= ?`
		args = append(args, *a.start, *a.end)
	}
	var total int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*)`+where, args...).Scan(&total); err != nil {
		return nil, err
	}
	keep := sampleIndices(total, a.maxResults)
	var out []metricWithRunJSON
	var i int64
	err := eachRow(ctx, tx, `SELECT value, timestamp, step, is_nan`+where+` ORDER BY step, timestamp, value, is_nan`, args, func(rows *sql.Rows) error {
		defer func() { i++ }()
		if !keep[i] {
			return nil
		}
		m := metricWithRunJSON{Key: a.key, RunID: runID}
		var v float64
		var isNaN bool
		if err := rows.Scan(&v, &m.Timestamp, &m.Step, &isNaN); err != nil {
			return err
		}
		if isNaN {
			v = math.NaN()
		}
		m.Value = metricValue(v)
		out = append(out, m)
		return nil
	})
	return out, err
}

// sampleIndices is which of total ordered points MLflow keeps for n:
// every point when there are at most n, else the first point of each of
// n NTILE buckets (the first total%n one point larger), the last of them
// replaced by the last point.
func sampleIndices(total, n int64) map[int64]bool {
	keep := map[int64]bool{}
	if total <= n {
		for i := range total {
			keep[i] = true
		}
		return keep
	}
	size, larger := total/n, total%n
	var idx, last int64
	for b := range n {
		keep[idx] = true
		last = idx
		idx += size
		if b < larger {
			idx++
		}
	}
	delete(keep, last)
	keep[total-1] = true
	return keep
}
