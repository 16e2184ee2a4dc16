package server

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Run statuses (RunStatus in service.proto).
var runStatuses = map[string]bool{"RUNNING": true, "SCHEDULED": true, "FINISHED": true, "FAILED": true, "KILLED": true}

// runNameTag is the tag that mirrors a run's name.
const runNameTag = "mlflow.runName"

type metric struct {
	key       string
	value     float64 // as stored: 0 for NaN, ±MaxFloat64 for ±Inf
	timestamp int64
	step      int64
	isNaN     bool
}

func (m metric) json() metricJSON {
	v := m.value
	if m.isNaN {
		v = math.NaN()
	}
	return metricJSON{Key: m.key, Value: metricValue(v), Timestamp: m.timestamp, Step: m.step}
}

type run struct {
	id           string
	name         string
	experimentID int64
	userID       string
	status       string
	startTime    int64
	endTime      sql.NullInt64
	artifactURI  string
	stage        string
	metrics      []metric
	params       []tagJSON
	tags         []tagJSON
	inputs       runInputsJSON  // read by GetRun and SearchRuns only
	outputs      runOutputsJSON // read by GetRun and SearchRuns only
}

func (r *run) infoJSON() runInfoJSON {
	info := runInfoJSON{
		RunUUID: r.id, ExperimentID: itoa(r.experimentID), RunName: r.name, UserID: r.userID,
		Status: r.status, StartTime: r.startTime, ArtifactURI: r.artifactURI, LifecycleStage: r.stage, RunID: r.id,
	}
	if r.endTime.Valid {
		end := r.endTime.Int64
		info.EndTime = &end
	}
	return info
}

func (r *run) json(outputs bool) runJSON {
	out := runJSON{Info: r.infoJSON()}
	for _, m := range r.metrics {
		out.Data.Metrics = append(out.Data.Metrics, m.json())
	}
	out.Data.Params, out.Data.Tags = r.params, r.tags
	out.Inputs = r.inputs
	if outputs {
		out.Outputs = &r.outputs
	}
	return out
}

func (r *run) metric(key string) (metric, bool) {
	for _, m := range r.metrics {
		if m.key == key {
			return m, true
		}
	}
	return metric{}, false
}

const runColumns = `run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage`

// runKeys limits the metrics, params and tags loadRunsKeys reads: only
// these keys (a search needs those its filter and order name); nil reads
// them all.
type runKeys struct {
	metrics, params, tags []string
}

// loadRuns reads the runs a WHERE clause on runs selects, with their
// latest metrics, params and tags, in three more queries.
func loadRuns(ctx context.Context, q queryer, where string, args ...any) ([]*run, error) {
	return loadRunsKeys(ctx, q, nil, where, args...)
}

// loadRunsKeys is loadRuns reading only the keys in keys (all when nil).
func loadRunsKeys(ctx context.Context, q queryer, keys *runKeys, where string, args ...any) ([]*run, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+runColumns+` FROM runs WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	var runs []*run
	byID := map[string]*run{}
	for rows.Next() {
		var r run
		if err := rows.Scan(&r.id, &r.name, &r.experimentID, &r.userID, &r.status, &r.startTime, &r.endTime, &r.artifactURI, &r.stage); err != nil {
			rows.Close()
			return nil, err
		}
		runs = append(runs, &r)
		byID[r.id] = &r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, nil
	}
	return runs, fillRunChildren(ctx, q, keys, byID, where, args)
}

// fillRunChildren reads the latest metrics, params and tags of the runs
// in byID (selected by where), only the keys in keys (all when nil).
func fillRunChildren(ctx context.Context, q queryer, keys *runKeys, byID map[string]*run, where string, args []any) error {
	// children reads rows of table for the selected runs, keys limited to
	// only when keys is not nil.
	children := func(table, columns string, only []string) (*sql.Rows, error) {
		query := `SELECT run_uuid, ` + columns + ` FROM ` + table + ` WHERE run_uuid IN (SELECT run_uuid FROM runs WHERE ` + where + `)`
		qargs := args
		if keys != nil {
			query += ` AND key IN (` + placeholders(len(only)) + `)`
			qargs = append(slices.Clone(args), anySlice(only)...)
		}
		return q.QueryContext(ctx, query+` ORDER BY run_uuid, key`, qargs...)
	}
	var only runKeys
	if keys != nil {
		only = *keys
	}
	if keys == nil || len(only.metrics) > 0 {
		mrows, err := children("latest_metrics", "key, value, timestamp, step, is_nan", only.metrics)
		if err != nil {
			return err
		}
		for mrows.Next() {
			var id string
			var m metric
			if err := mrows.Scan(&id, &m.key, &m.value, &m.timestamp, &m.step, &m.isNaN); err != nil {
				mrows.Close()
				return err
			}
			if r := byID[id]; r != nil {
				r.metrics = append(r.metrics, m)
			}
		}
		mrows.Close()
		if err := mrows.Err(); err != nil {
			return err
		}
	}
	for _, kv := range []struct {
		table string
		only  []string
		dst   func(*run) *[]tagJSON
	}{
		{"params", only.params, func(r *run) *[]tagJSON { return &r.params }},
		{"tags", only.tags, func(r *run) *[]tagJSON { return &r.tags }},
	} {
		if keys != nil && len(kv.only) == 0 {
			continue
		}
		rows, err := children(kv.table, "key, value", kv.only)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			var t tagJSON
			if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
				rows.Close()
				return err
			}
			if r := byID[id]; r != nil {
				*kv.dst(r) = append(*kv.dst(r), t)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// getRunByID reads a run; a missing one is MLflow's 404.
func getRunByID(ctx context.Context, q queryer, id string) (*run, error) {
	runs, err := loadRuns(ctx, q, `run_uuid = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, errNotFound("Run with id=%s not found", id)
	}
	return runs[0], nil
}

// activeRun reads a run's stage and refuses a deleted one, as MLflow's
// _check_run_is_active.
func activeRun(ctx context.Context, tx *sql.Tx, id string) (experimentID int64, err error) {
	var stage string
	err = tx.QueryRowContext(ctx, `SELECT experiment_id, lifecycle_stage FROM runs WHERE run_uuid = ?`, id).Scan(&experimentID, &stage)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errNotFound("Run with id=%s not found", id)
	}
	if err != nil {
		return 0, err
	}
	if stage != stageActive {
		return 0, errInvalid("The run %s must be in the 'active' state. Current state is %s.", id, stage)
	}
	return experimentID, nil
}

// newRunID is a random 32-hex-digit id, as uuid4().hex.
func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// renameRun sets a run's name and its mlflow.runName tag.
func renameRun(ctx context.Context, tx *sql.Tx, id, name string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET name = ? WHERE run_uuid = ?`, name, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO tags (run_uuid, key, value) VALUES (?, ?, ?)`, id, runNameTag, name)
	return err
}

// requestMetric is a metric as a request gives it, before validation.
type requestMetric struct {
	key          string
	hasKey       bool
	value        float64
	valueRaw     any
	timestamp    int64
	timestampRaw any
	step         int64
	// modelID, datasetName and datasetDigest link the point to a logged
	// model (MLflow 3); "" when not given.
	modelID, datasetName, datasetDigest string
}

// parseMetric reads one metric object (of log-metric or log-batch).
func parseMetric(m map[string]any) requestMetric {
	var rm requestMetric
	rm.key, rm.hasKey = m["key"].(string)
	rm.valueRaw = m["value"]
	rm.value, _ = floatOf(m["value"])
	rm.timestampRaw = m["timestamp"]
	rm.timestamp, _ = intOf(m["timestamp"])
	rm.step, _ = intOf(m["step"])
	rm.modelID, _ = m["model_id"].(string)
	rm.datasetName, _ = m["dataset_name"].(string)
	rm.datasetDigest, _ = m["dataset_digest"].(string)
	return rm
}

// floatOf reads a JSON double: a number or "NaN", "Infinity", "-Infinity"
// (or any number in a string, as protobuf's JSON parser accepts).
func floatOf(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		return f, err == nil || errors.Is(err, strconv.ErrRange)
	case string:
		switch x {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// intOf reads a JSON int64: a number or a string of digits.
func intOf(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) {
			return 0, false
		}
		return int64(f), true
	}
	return n, true
}

// validateMetric is _validate_metric; path is "" for log-metric and
// "metrics[i]" in a batch.
func validateMetric(m requestMetric, path string) *apiError {
	where := joinPath(path, "name")
	if !m.hasKey {
		return invalidValue(where, "", "Metric name cannot be None. A key name must be provided.")
	}
	if err := validateKeyName(m.key, where); err != nil {
		return err
	}
	if m.valueRaw == nil {
		return missing(joinPath(path, "value"))
	}
	if _, ok := floatOf(m.valueRaw); !ok {
		return errInvalid("Invalid value %s for parameter '%s' supplied: (timestamp=%d). Please specify value as a valid double (64-bit floating point)",
			jsonText(m.valueRaw), joinPath(path, "value"), m.timestamp)
	}
	if _, ok := intOf(m.timestampRaw); !ok || m.timestamp < 0 {
		return errInvalid("Invalid value %s for parameter '%s' supplied: metric '%s' (value=%s). Timestamp must be a nonnegative long (64-bit integer) ",
			jsonText(m.timestampRaw), joinPath(path, "timestamp"), m.key, pyFloat(m.value))
	}
	if len([]rune(m.key)) > maxEntityKeyLength {
		return exceedsLength("Metric name", maxEntityKeyLength)
	}
	return nil
}

// sanitize is MLflow's sanitize_metric_value: NaN stored as 0 with a flag,
// ±Inf as ±MaxFloat64.
func sanitize(v float64) (float64, bool) {
	switch {
	case math.IsNaN(v):
		return 0, true
	case math.IsInf(v, 1):
		return math.MaxFloat64, false
	case math.IsInf(v, -1):
		return -math.MaxFloat64, false
	}
	return v, false
}

// insertMetrics adds metrics to a run's history (identical points once)
// and moves its latest values forward: a point replaces the latest when
// its (step, timestamp, value) is greater, as MLflow's SQL store does.
func insertMetrics(ctx context.Context, tx *sql.Tx, runID string, ms []requestMetric) error {
	if len(ms) == 0 {
		return nil
	}
	hist, err := tx.PrepareContext(ctx, `INSERT OR IGNORE INTO metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer hist.Close()
	latest := map[string]metric{}
	for _, m := range ms {
		v, isNaN := sanitize(m.value)
		if _, err := hist.ExecContext(ctx, runID, m.key, v, m.timestamp, m.step, isNaN); err != nil {
			return err
		}
		cur, ok := latest[m.key]
		if !ok {
			var prev metric
			err := tx.QueryRowContext(ctx, `SELECT value, timestamp, step, is_nan FROM latest_metrics WHERE run_uuid = ? AND key = ?`, runID, m.key).
				Scan(&prev.value, &prev.timestamp, &prev.step, &prev.isNaN)
			switch {
			case err == nil:
				prev.key = m.key
				cur, ok = prev, true
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		next := metric{key: m.key, value: v, timestamp: m.timestamp, step: m.step, isNaN: isNaN}
		if !ok || newer(next, cur) {
			latest[m.key] = next
		} else {
			latest[m.key] = cur
		}
	}
	up, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer up.Close()
	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m := latest[k]
		if _, err := up.ExecContext(ctx, runID, m.key, m.value, m.timestamp, m.step, m.isNaN); err != nil {
			return err
		}
	}
	return nil
}

// newer reports whether a is strictly more recent than b.
func newer(a, b metric) bool {
	if a.step != b.step {
		return a.step > b.step
	}
	if a.timestamp != b.timestamp {
		return a.timestamp > b.timestamp
	}
	return a.value > b.value
}

// insertParams adds params; a key logged before with another value is
// refused, the same value accepted again.
func insertParams(ctx context.Context, tx *sql.Tx, runID string, params []keyValue) error {
	if len(params) == 0 {
		return nil
	}
	existing := map[string]string{}
	rows, err := tx.QueryContext(ctx, `SELECT key, value FROM params WHERE run_uuid = ?`, runID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		existing[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var conflicts []string
	for _, p := range params {
		if old, ok := existing[p.Key]; ok && old != p.Value {
			conflicts = append(conflicts, fmt.Sprintf("{'key': %s, 'old_value': %s, 'new_value': %s}", pyRepr(p.Key), pyRepr(old), pyRepr(p.Value)))
		}
	}
	if len(conflicts) > 0 {
		return errInvalid("Changing param values is not allowed. Params were already logged='[%s]' for run ID='%s'.", strings.Join(conflicts, ", "), runID)
	}
	for _, p := range params {
		if _, ok := existing[p.Key]; ok {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO params (run_uuid, key, value) VALUES (?, ?, ?)`, runID, p.Key, p.Value); err != nil {
			return err
		}
	}
	return nil
}

// setTags upserts run tags; mlflow.runName renames the run.
func setTags(ctx context.Context, tx *sql.Tx, runID string, tags []keyValue) error {
	for _, t := range tags {
		if t.Key == runNameTag {
			if err := renameRun(ctx, tx, runID, t.Value); err != nil {
				return err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO tags (run_uuid, key, value) VALUES (?, ?, ?)`, runID, t.Key, t.Value); err != nil {
			return err
		}
	}
	return nil
}

// batchLimits is _validate_batch_log_limits.
func batchLimits(nMetrics, nParams, nTags int) *apiError {
	for _, l := range []struct {
		what   string
		limit  int
		length int
	}{
		{"metrics", maxMetricsPerBatch, nMetrics},
		{"params", maxParamsTagsPerBatch, nParams},
		{"tags", maxParamsTagsPerBatch, nTags},
		{"metrics, params, and tags", maxEntitiesPerBatch, nMetrics + nParams + nTags},
	} {
		if l.length > l.limit {
			return errInvalid("A batch logging request can contain at most %d %s. Got %d %s. Please split up %s across multiple requests and try again.",
				l.limit, l.what, l.length, l.what, l.what)
		}
	}
	return nil
}
