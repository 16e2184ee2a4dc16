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
	"net/http"
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
	if outputs {
		out.Outputs = &empty{}
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
			return nil, err
		}
		for mrows.Next() {
			var id string
			var m metric
			if err := mrows.Scan(&id, &m.key, &m.value, &m.timestamp, &m.step, &m.isNaN); err != nil {
				mrows.Close()
				return nil, err
			}
			if r := byID[id]; r != nil {
				r.metrics = append(r.metrics, m)
			}
		}
		mrows.Close()
		if err := mrows.Err(); err != nil {
			return nil, err
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
			return nil, err
		}
		for rows.Next() {
			var id string
			var t tagJSON
			if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
				rows.Close()
				return nil, err
			}
			if r := byID[id]; r != nil {
				*kv.dst(r) = append(*kv.dst(r), t)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return runs, nil
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

// runIDArg reads run_id, or the older run_uuid.
func runIDArg(req *request) (string, *apiError) {
	id, aerr := req.str("run_id", false)
	if aerr != nil {
		return "", aerr
	}
	if id == "" {
		if id, aerr = req.str("run_uuid", false); aerr != nil {
			return "", aerr
		}
	}
	if id == "" {
		return "", missing("run_id")
	}
	return id, nil
}

// newRunID is a random 32-hex-digit id, as uuid4().hex.
func newRunID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

func (s *Server) createRun(ctx context.Context, req *request) (any, error) {
	expID, aerr := req.str("experiment_id", false)
	if aerr != nil {
		return nil, aerr
	}
	startTime, _, aerr := req.int64Field("start_time", false)
	if aerr != nil {
		return nil, aerr
	}
	runName, aerr := req.str("run_name", false)
	if aerr != nil {
		return nil, aerr
	}
	userID, aerr := req.str("user_id", false)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := req.pairs("tags")
	if aerr != nil {
		return nil, aerr
	}
	// Without an experiment_id, MLflow checks the run against the Default
	// experiment, then fails to insert it (experiment_id ""): a 400
	// BAD_REQUEST.
	noExperiment := expID == ""
	if noExperiment {
		expID = "0"
	}
	eid, aerr := parseExperimentID(expID)
	if aerr != nil {
		return nil, aerr
	}
	var r *run
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		exp, err := getExperimentByID(ctx, tx, eid)
		if err != nil {
			return err
		}
		if exp.lifecycleStage != stageActive {
			return errInvalid("The experiment %d must be in the 'active' state. Current state is %s.", exp.id, exp.lifecycleStage)
		}
		tagName := ""
		for _, t := range tags {
			if t.Key == runNameTag {
				tagName = t.Value
			}
		}
		if runName != "" && tagName != "" && runName != tagName {
			return errInvalid("Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='%s', mlflow.runName='%s').", runName, tagName)
		}
		name := runName
		if name == "" {
			name = tagName
		}
		if name == "" {
			name = randomRunName()
		}
		if tagName == "" {
			tags = append(tags, keyValue{runNameTag, name})
		}
		if noExperiment {
			return &apiError{Status: http.StatusBadRequest, Code: "BAD_REQUEST", Message: "FOREIGN KEY constraint failed: runs/create needs an experiment_id"}
		}
		id := newRunID()
		uri := strings.TrimSuffix(exp.artifactLocation, "/") + "/" + id + "/artifacts"
		if _, err := tx.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, 'RUNNING', ?, NULL, ?, 'active')`,
			id, name, eid, userID, startTime, uri); err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO tags (run_uuid, key, value) VALUES (?, ?, ?)`, id, t.Key, t.Value); err != nil {
				return err
			}
		}
		r, err = getRunByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return struct {
		Run runJSON `json:"run"`
	}{r.json(false)}, nil
}

func (s *Server) getRun(ctx context.Context, req *request) (any, error) {
	id, aerr := runIDArg(req)
	if aerr != nil {
		return nil, aerr
	}
	var r *run
	err := s.db.read(ctx, func(tx *sql.Tx) (err error) {
		r, err = getRunByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return struct {
		Run runJSON `json:"run"`
	}{r.json(true)}, nil
}

func (s *Server) updateRun(ctx context.Context, req *request) (any, error) {
	id, aerr := runIDArg(req)
	if aerr != nil {
		return nil, aerr
	}
	endTime, hasEnd, aerr := req.int64Field("end_time", false)
	if aerr != nil {
		return nil, aerr
	}
	status, aerr := req.str("status", false)
	if aerr != nil {
		return nil, aerr
	}
	runName, aerr := req.str("run_name", false)
	if aerr != nil {
		return nil, aerr
	}
	var r *run
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if _, err := activeRun(ctx, tx, id); err != nil {
			return err
		}
		if runStatuses[status] { // MLflow ignores a status it cannot parse
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET status = ? WHERE run_uuid = ?`, status, id); err != nil {
				return err
			}
		}
		if hasEnd {
			if _, err := tx.ExecContext(ctx, `UPDATE runs SET end_time = ? WHERE run_uuid = ?`, endTime, id); err != nil {
				return err
			}
		}
		if runName != "" {
			if err := renameRun(ctx, tx, id, runName); err != nil {
				return err
			}
		}
		var err error
		r, err = getRunByID(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return struct {
		RunInfo runInfoJSON `json:"run_info"`
	}{r.infoJSON()}, nil
}

// renameRun sets a run's name and its mlflow.runName tag.
func renameRun(ctx context.Context, tx *sql.Tx, id, name string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET name = ? WHERE run_uuid = ?`, name, id); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO tags (run_uuid, key, value) VALUES (?, ?, ?)`, id, runNameTag, name)
	return err
}

func (s *Server) deleteRun(ctx context.Context, req *request) (any, error) {
	return s.setRunStage(ctx, req, stageDeleted)
}

func (s *Server) restoreRun(ctx context.Context, req *request) (any, error) {
	return s.setRunStage(ctx, req, stageActive)
}

func (s *Server) setRunStage(ctx context.Context, req *request, to string) (any, error) {
	id, aerr := req.str("run_id", true)
	if aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
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

// requestMetric is a metric as a request gives it, before validation.
type requestMetric struct {
	key          string
	hasKey       bool
	value        float64
	valueRaw     any
	timestamp    int64
	timestampRaw any
	step         int64
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

func (s *Server) logBatch(ctx context.Context, req *request) (any, error) {
	runID, aerr := req.str("run_id", true)
	if aerr != nil {
		return nil, aerr
	}
	var metrics []requestMetric
	if v, ok := req.body["metrics"]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, badType("metrics", v)
		}
		for i, item := range list {
			m, _ := item.(map[string]any)
			for _, f := range []string{"key", "value", "timestamp"} {
				if x, ok := m[f]; !ok || x == nil || x == "" {
					return nil, missing(fmt.Sprintf("metrics[%d].%s", i, f))
				}
			}
			metrics = append(metrics, parseMetric(m))
		}
	}
	params, aerr := req.pairs("params")
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := req.pairs("tags")
	if aerr != nil {
		return nil, aerr
	}
	for i, p := range params {
		if p.Key == "" {
			return nil, missing(fmt.Sprintf("params[%d].key", i))
		}
	}
	for i, t := range tags {
		if t.Key == "" {
			return nil, missing(fmt.Sprintf("tags[%d].key", i))
		}
	}
	if !runIDRegexp.MatchString(runID) {
		return nil, invalidValue("run_id", runID, "")
	}
	for i, m := range metrics {
		if aerr := validateMetric(m, fmt.Sprintf("metrics[%d]", i)); aerr != nil {
			return nil, aerr
		}
	}
	for i := range params {
		if params[i], aerr = validateParam(params[i], fmt.Sprintf("params[%d]", i)); aerr != nil {
			return nil, aerr
		}
	}
	for i := range tags {
		if tags[i], aerr = validateRunTag(tags[i], fmt.Sprintf("tags[%d]", i)); aerr != nil {
			return nil, aerr
		}
	}
	if aerr := batchLimits(len(metrics), len(params), len(tags)); aerr != nil {
		return nil, aerr
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
		return nil, errInvalid("Duplicate parameter keys have been submitted: %s. Please ensure the request contains only one param value per param key.", pyList(dupes))
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
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

func (s *Server) logMetric(ctx context.Context, req *request) (any, error) {
	runID, aerr := runIDArg(req)
	if aerr != nil {
		return nil, aerr
	}
	if _, aerr := req.str("key", true); aerr != nil {
		return nil, aerr
	}
	for _, f := range []string{"value", "timestamp"} {
		if v, ok := req.body[f]; !ok || v == nil || v == "" {
			return nil, missing(f)
		}
	}
	m := parseMetric(req.body)
	if aerr := validateMetric(m, ""); aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		return insertMetrics(ctx, tx, runID, []requestMetric{m})
	})
}

func (s *Server) logParam(ctx context.Context, req *request) (any, error) {
	runID, aerr := runIDArg(req)
	if aerr != nil {
		return nil, aerr
	}
	key, aerr := req.str("key", true)
	if aerr != nil {
		return nil, aerr
	}
	value, aerr := req.str("value", false)
	if aerr != nil {
		return nil, aerr
	}
	p, aerr := validateParam(keyValue{key, value}, "")
	if aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
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

func (s *Server) setRunTag(ctx context.Context, req *request) (any, error) {
	runID, aerr := runIDArg(req)
	if aerr != nil {
		return nil, aerr
	}
	key, aerr := req.str("key", true)
	if aerr != nil {
		return nil, aerr
	}
	value, aerr := req.str("value", false)
	if aerr != nil {
		return nil, aerr
	}
	t, aerr := validateRunTag(keyValue{key, value}, "")
	if aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
		return setTags(ctx, tx, runID, []keyValue{t})
	})
}

func (s *Server) deleteRunTag(ctx context.Context, req *request) (any, error) {
	runID, aerr := req.str("run_id", true)
	if aerr != nil {
		return nil, aerr
	}
	key, aerr := req.str("key", true)
	if aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if _, err := activeRun(ctx, tx, runID); err != nil {
			return err
		}
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

func (s *Server) getMetricHistory(ctx context.Context, req *request) (any, error) {
	runID, aerr := runIDArg(req)
	if aerr != nil {
		return nil, aerr
	}
	key, aerr := req.str("metric_key", true)
	if aerr != nil {
		return nil, aerr
	}
	var out struct {
		Metrics []metricJSON `json:"metrics,omitempty"`
	}
	err := s.db.read(ctx, func(tx *sql.Tx) error {
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
			out.Metrics = append(out.Metrics, m.json())
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
