package server

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The logged model search: MLflow's search_logged_models, whose filter
// grammar (mlflow/utils/search_logged_model_utils.py) and order_by differ
// from the other searches'. The store runs it in SQL, as MLflow does, so
// that SQLite's semantics (case-insensitive LIKE, NULLs) are MLflow's.

const defaultSearchLoggedModelsResults = 100

// loggedModelColumnsByName are the columns of SqlLoggedModel a filter or
// an order_by can name, and loggedModelAliases the other names of some.
var (
	loggedModelColumnsByName = []string{"model_id", "experiment_id", "name", "artifact_location", "creation_timestamp_ms",
		"last_updated_timestamp_ms", "status", "lifecycle_stage", "model_type", "source_run_id", "status_message"}
	loggedModelAliases = map[string]string{
		"creation_time": "creation_timestamp_ms", "creation_timestamp": "creation_timestamp_ms", "last_updated_timestamp": "last_updated_timestamp_ms",
	}
	numericOps = []string{"<", "<=", ">", ">=", "=", "!="}
	stringOps  = []string{"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
)

// datasetFilter is one entry of a search's datasets, or the dataset of an
// order_by; an empty digest is null.
type datasetFilter struct {
	name, digest string
}

// loggedModelOrder is one order_by entry of a logged model search.
type loggedModelOrder struct {
	field     string
	ascending bool
	dataset   datasetFilter
}

// searchLoggedModelsArgs are the arguments of a logged model search.
type searchLoggedModelsArgs struct {
	experimentIDs []string
	filter        string
	datasets      []datasetFilter
	maxResults    int64
	orderBy       []loggedModelOrder
	pageToken     string
}

// lmClause is one parsed comparison of a logged model filter.
type lmClause struct {
	kind  string // attributes, metrics, params, tags
	key   string
	op    string
	num   float64
	str   string
	list  []string
	isNum bool
}

func (c lmClause) entity() string { return c.kind + "." + c.key }

// parseLoggedModelFilter is parse_filter_string: comparisons of three
// tokens joined by AND, each operator checked against its entity's type.
func parseLoggedModelFilter(filter string) ([]lmClause, *apiError) {
	if filter == "" {
		return nil, nil
	}
	st := parseFilter(filter)
	bad := false
	for _, c := range st.comparisons {
		bad = bad || c.right.text == "" && !c.isList || strings.Contains(c.op, " ") && c.op != "NOT IN"
	}
	if len(st.invalid) > 0 || bad {
		return nil, errInvalid("Invalid filter string: %s. Expected a list of comparisons separated by 'AND' (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01').", pyRepr(filter))
	}
	out := make([]lmClause, 0, len(st.comparisons))
	for _, c := range st.comparisons {
		cl, e := parseLMComparison(c)
		if e != nil {
			return nil, e
		}
		out = append(out, cl)
	}
	return out, nil
}

// parseLMComparison reads one comparison: its entity (Entity.from_str),
// its operator and its value.
func parseLMComparison(c comparison) (lmClause, *apiError) {
	cl := lmClause{kind: "attributes", op: strings.ToUpper(c.op)}
	if prefix, key, ok := strings.Cut(c.left, "."); ok && prefix != "" && strings.Trim(prefix, "abcdefghijklmnopqrstuvwxyz") == "" && key != "" {
		switch prefix {
		case "attributes", "metrics", "params", "tags":
		default:
			return cl, errInvalid("Invalid entity type: %s. Expected one of ['attributes', 'metrics', 'params', 'tags'].", pyRepr(prefix))
		}
		cl.kind, cl.key = prefix, strings.Trim(key, "`")
	} else {
		cl.key = c.left
		if a, ok := loggedModelAliases[c.left]; ok {
			cl.key = a
		}
		cl.key = strings.Trim(cl.key, "`")
	}
	cl.isNum = cl.kind == "metrics" || cl.kind == "attributes" && (cl.key == "creation_timestamp_ms" || cl.key == "last_updated_timestamp_ms")
	ops, opsText := stringOps, "('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN')"
	if cl.isNum {
		ops, opsText = numericOps, "('<', '<=', '>', '>=', '=', '!=')"
	}
	if !slices.Contains(ops, cl.op) {
		return cl, errInvalid("Invalid comparison operator for %s: %s. Expected one of %s.", cl.entity(), pyRepr(cl.op), opsText)
	}
	switch {
	case cl.isNum:
		f, err := strconv.ParseFloat(strings.TrimSpace(c.right.text), 64)
		if err != nil {
			return cl, errInternal("could not convert string to float: %s", pyRepr(c.right.text))
		}
		cl.num = f
	case c.isList:
		for _, t := range c.list {
			v, _ := stripQuotes(t.text, false)
			cl.list = append(cl.list, v)
		}
	default:
		cl.str = strings.Trim(c.right.text, "'")
	}
	return cl, nil
}

// value is the clause's value as Python shows it in messages.
func (c lmClause) valueRepr() string {
	if c.list == nil {
		return pyRepr(c.str)
	}
	if len(c.list) == 1 {
		return "(" + pyRepr(c.list[0]) + ",)"
	}
	return "(" + strings.TrimSuffix(strings.TrimPrefix(pyList(c.list), "["), "]") + ")"
}

// lmQuery builds the search's SQL: WHERE conditions and their arguments.
type lmQuery struct {
	where    []string
	args     []any
	joins    []string
	joinArgs []any
	order    []string
	expIDs   []int64
	expArgs  []any
}

// cond adds a comparison of column with the clause's value.
func (q *lmQuery) cond(column string, c lmClause, value any) string {
	switch c.op {
	case "ILIKE":
		q.args = append(q.args, value)
		return "lower(" + column + ") LIKE lower(?)"
	case "LIKE":
		// MLflow's SQLite connections set case_sensitive_like: GLOB is
		// SQLite's case-sensitive LIKE.
		pattern, _ := value.(string)
		q.args = append(q.args, likeToGlob(pattern))
		return column + " GLOB ?"
	case "IN", "NOT IN":
		vals, _ := value.([]any)
		q.args = append(q.args, vals...)
		return column + " " + c.op + " (" + placeholders(len(vals)) + ")"
	}
	q.args = append(q.args, value)
	return column + " " + c.op + " ?"
}

// latestMetric is the subquery of the latest value (highest step, then
// timestamp, then value) of a metric per model of the searched
// experiments, among the points on the datasets given.
func (q *lmQuery) latestMetric(key string, datasets []datasetFilter, extra datasetFilter) (string, []any) {
	where := []string{"key = ?", "model_id IN (SELECT model_id FROM logged_models WHERE experiment_id IN (" + placeholders(len(q.expIDs)) + "))"}
	args := append([]any{key}, q.expArgs...)
	if ds, dargs := datasetsSQL(datasets); ds != "" {
		where, args = append(where, ds), append(args, dargs...)
	}
	if extra.name != "" {
		where, args = append(where, "dataset_name = ?"), append(args, extra.name)
	}
	if extra.digest != "" {
		where, args = append(where, "dataset_digest = ?"), append(args, extra.digest)
	}
	return `(SELECT model_id, value FROM (SELECT model_id, value, row_number() OVER (PARTITION BY model_id ORDER BY step DESC, timestamp DESC, value DESC) AS rn
		FROM logged_model_metrics WHERE ` + strings.Join(where, " AND ") + `) WHERE rn = 1)`, args
}

// datasetsSQL is _get_logged_model_metric_datasets_filter: any of the
// datasets (a digest not given matches a null one, as MLflow's
// dataset_digest == None does).
func datasetsSQL(datasets []datasetFilter) (string, []any) {
	if len(datasets) == 0 {
		return "", nil
	}
	var parts []string
	var args []any
	for _, d := range datasets {
		if d.digest == "" {
			parts, args = append(parts, "(dataset_name = ? AND dataset_digest IS NULL)"), append(args, d.name)
		} else {
			parts, args = append(parts, "(dataset_name = ? AND dataset_digest = ?)"), append(args, d.name, d.digest)
		}
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// filters adds the WHERE conditions of the filter and the datasets, in
// MLflow's order of checks.
func (q *lmQuery) filters(clauses []lmClause, datasets []datasetFilter) *apiError {
	hasMetric := false
	for _, c := range clauses {
		var value any = c.str
		switch {
		case c.isNum:
			value = c.num
		case c.list != nil:
			value = anySlice(c.list)
		}
		switch c.kind {
		case "attributes":
			e := q.attribute(c, value)
			if e != nil {
				return e
			}
		case "metrics":
			hasMetric = true
			sub, args := q.latestMetric(c.key, datasets, datasetFilter{})
			q.args = append(q.args, args...)
			q.where = append(q.where, "m.model_id IN (SELECT model_id FROM "+sub+" WHERE "+q.cond("value", c, value)+")")
		case "params", "tags":
			table := "logged_model_" + c.kind
			q.args = append(q.args, c.key)
			q.where = append(q.where, "m.model_id IN (SELECT model_id FROM "+table+" WHERE key = ? AND "+q.cond("value", c, value)+")")
		}
	}
	if ds, args := datasetsSQL(datasets); ds != "" && !hasMetric {
		q.args = append(q.args, args...)
		q.where = append(q.where, "m.model_id IN (SELECT model_id FROM logged_model_metrics WHERE "+ds+")")
	}
	return nil
}

// attribute adds a comparison with a column of logged_models; status is
// compared by number, as MLflow stores it.
func (q *lmQuery) attribute(c lmClause, value any) *apiError {
	if c.key == "status" {
		if !slices.Contains([]string{"=", "!=", "IN", "NOT IN"}, c.op) {
			return errInvalid("Invalid comparison operator for status: %s", c.op)
		}
		names := c.list
		if names == nil {
			names = []string{c.str}
		}
		var nums []any
		for _, n := range names {
			i := slices.Index(loggedModelFilterStatuses, n)
			if i < 0 {
				return errInvalid("Unknown model status in filter: %s", c.valueRepr())
			}
			nums = append(nums, int64(i))
		}
		value = nums[0]
		if c.list != nil {
			value = nums
		}
	}
	if !slices.Contains(loggedModelColumnsByName, c.key) {
		return errInternal("type object 'SqlLoggedModel' has no attribute '%s'", c.key)
	}
	q.where = append(q.where, q.cond("m."+c.key, c, value))
	return nil
}

// orderBy adds the ORDER BY of the search: each entry, nulls last, then
// creation time (newest first) and model id unless named.
func (q *lmQuery) orderBy(order []loggedModelOrder, datasets []datasetFilter) *apiError {
	hasCreation, hasID := false, false
	for i, ob := range order {
		entity, key, dotted := strings.Cut(ob.field, ".")
		dir := " ASC"
		if !ob.ascending {
			dir = " DESC"
		}
		if !dotted {
			name := ob.field
			if a, ok := loggedModelAliases[name]; ok {
				name = a
			}
			if !slices.Contains(loggedModelColumnsByName, name) {
				return &apiError{Status: http.StatusBadRequest, Code: codeInvalidParameter, Class: "ATTRIBUTE_NOT_FOUND", Message: "Invalid order by field name: " + ob.field}
			}
			hasCreation = hasCreation || name == "creation_timestamp_ms"
			hasID = hasID || name == "model_id"
			q.order = append(q.order, "(m."+name+" IS NULL) ASC", "m."+name+dir)
			continue
		}
		if entity != "metrics" {
			return errInvalid("Invalid order by field name: %s. Only metrics are supported.", ob.field)
		}
		sub, args := q.latestMetric(key, datasets, ob.dataset)
		alias := fmt.Sprintf("o%d", i)
		q.joins = append(q.joins, "LEFT JOIN "+sub+" AS "+alias+" ON "+alias+".model_id = m.model_id")
		q.joinArgs = append(q.joinArgs, args...)
		q.order = append(q.order, "("+alias+".value IS NULL) ASC", alias+".value"+dir)
	}
	if !hasCreation {
		q.order = append(q.order, "m.creation_timestamp_ms DESC")
	}
	if !hasID {
		q.order = append(q.order, "m.model_id ASC")
	}
	return nil
}

// SearchLoggedModels searches the active models of experiments, checked
// in MLflow's order: the datasets, the page token, the filter, the
// experiment ids, the filter's attributes and the order_by.
func (st *store) SearchLoggedModels(ctx context.Context, a searchLoggedModelsArgs) ([]*loggedModel, string, error) {
	q, offset, err := planLoggedModelSearch(a)
	if err != nil {
		return nil, "", err
	}
	var page []*loggedModel
	var next string
	err = st.read(ctx, func(tx *sql.Tx) error {
		query := `SELECT m.model_id FROM logged_models m ` + strings.Join(q.joins, " ") + ` WHERE ` + strings.Join(q.where, " AND ") +
			` ORDER BY ` + strings.Join(q.order, ", ") + ` LIMIT ? OFFSET ?`
		var ids []string
		args := append(append(slices.Clone(q.joinArgs), q.args...), a.maxResults+1, offset)
		err := scanRows(ctx, tx, query, args, func(rows *sql.Rows) error {
			var id string
			ids = append(ids, id)
			return rows.Scan(&ids[len(ids)-1])
		})
		if err != nil {
			return err
		}
		if int64(len(ids)) > a.maxResults {
			next = lmPageToken(a, offset+a.maxResults)
		}
		ids = pySliceTo(ids, a.maxResults)
		page, err = loadLoggedModels(ctx, tx, ids)
		return err
	})
	return page, next, err
}

// planLoggedModelSearch checks a search and builds its query.
func planLoggedModelSearch(a searchLoggedModelsArgs) (*lmQuery, int64, error) {
	for _, d := range a.datasets {
		if d.name == "" {
			return nil, 0, errInvalid("`dataset_name` in the `datasets` clause must be specified.")
		}
	}
	offset, e := parseLMPageToken(a)
	if e != nil {
		return nil, 0, e
	}
	clauses, e := parseLoggedModelFilter(a.filter)
	if e != nil {
		return nil, 0, e
	}
	q := &lmQuery{}
	for _, id := range a.experimentIDs {
		n, e := parseExperimentID(id)
		if e != nil {
			return nil, 0, e
		}
		q.expIDs, q.expArgs = append(q.expIDs, n), append(q.expArgs, n)
	}
	if e := q.filters(clauses, a.datasets); e != nil {
		return nil, 0, e
	}
	q.where = append(q.where, "m.lifecycle_stage != 'deleted'", "m.experiment_id IN ("+placeholders(len(q.expIDs))+")")
	q.args = append(q.args, q.expArgs...)
	if e := q.orderBy(a.orderBy, a.datasets); e != nil {
		return nil, 0, e
	}
	return q, offset, nil
}

// lmToken is SearchLoggedModelsPaginationToken, as json.dumps writes it.
type lmToken struct {
	ExperimentIDs []string         `json:"experiment_ids"`
	FilterString  *string          `json:"filter_string"`
	OrderBy       []lmTokenOrderBy `json:"order_by"`
	Offset        int64            `json:"offset"`
}

type lmTokenOrderBy struct {
	FieldName     string  `json:"field_name"`
	Ascending     bool    `json:"ascending"`
	DatasetName   *string `json:"dataset_name"`
	DatasetDigest *string `json:"dataset_digest"`
}

// tokenOf is the token of a's search at offset, before encoding.
func tokenOf(a searchLoggedModelsArgs, offset int64) lmToken {
	t := lmToken{ExperimentIDs: a.experimentIDs, Offset: offset}
	if t.ExperimentIDs == nil {
		t.ExperimentIDs = []string{}
	}
	if a.filter != "" {
		t.FilterString = &a.filter
	}
	nonEmpty := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	for _, ob := range a.orderBy {
		t.OrderBy = append(t.OrderBy, lmTokenOrderBy{ob.field, ob.ascending, nonEmpty(ob.dataset.name), nonEmpty(ob.dataset.digest)})
	}
	return t
}

// lmPageToken encodes the token of the page at offset.
func lmPageToken(a searchLoggedModelsArgs, offset int64) string {
	b, _ := json.Marshal(tokenOf(a, offset))
	// json.dumps' separators: ", " and ": ".
	return base64.StdEncoding.EncodeToString([]byte(pyJSONSeparators(string(b))))
}

// parseLMPageToken decodes a's page token and checks it was made for the
// same search (SearchLoggedModelsPaginationToken.validate).
func parseLMPageToken(a searchLoggedModelsArgs) (int64, *apiError) {
	if a.pageToken == "" {
		return 0, nil
	}
	raw, err := base64.StdEncoding.DecodeString(a.pageToken)
	if err != nil {
		return 0, errInternal("Invalid page token: %s. %v", a.pageToken, err)
	}
	var got lmToken
	if err := json.Unmarshal(raw, &got); err != nil {
		return 0, errInvalid("Invalid page token: %s. %v", a.pageToken, err)
	}
	want := tokenOf(a, got.Offset)
	if !slices.Equal(got.ExperimentIDs, want.ExperimentIDs) {
		return 0, errInvalid("Experiment IDs in the page token do not match the requested experiment IDs. Expected: %s. Found: %s", pyList(want.ExperimentIDs), pyList(got.ExperimentIDs))
	}
	if got.FilterString != nil && *got.FilterString == "" {
		got.FilterString = nil
	}
	if pyStrOrNone(got.FilterString) != pyStrOrNone(want.FilterString) || (got.FilterString == nil) != (want.FilterString == nil) {
		return 0, errInvalid("Filter string in the page token does not match the requested filter string. Expected: %s. Found: %s", pyStrOrNone(want.FilterString), pyStrOrNone(got.FilterString))
	}
	if orderByRepr(got.OrderBy) != orderByRepr(want.OrderBy) {
		return 0, errInvalid("Order by in the page token does not match the requested order by. Expected: %s. Found: %s", orderByRepr(want.OrderBy), orderByRepr(got.OrderBy))
	}
	return max(got.Offset, 0), nil
}

// pyStrOrNone is str() of an optional string.
func pyStrOrNone(s *string) string {
	if s == nil {
		return "None"
	}
	return *s
}

// orderByRepr is repr() of a token's order_by: a list of dicts, or None.
func orderByRepr(obs []lmTokenOrderBy) string {
	if len(obs) == 0 {
		return "None"
	}
	opt := func(s *string) string {
		if s == nil {
			return "None"
		}
		return pyRepr(*s)
	}
	parts := make([]string, len(obs))
	for i, ob := range obs {
		asc := "False"
		if ob.Ascending {
			asc = "True"
		}
		parts[i] = fmt.Sprintf("{'field_name': %s, 'ascending': %s, 'dataset_name': %s, 'dataset_digest': %s}", pyRepr(ob.FieldName), asc, opt(ob.DatasetName), opt(ob.DatasetDigest))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// pySliceTo is Python's xs[:n], n negative counting from the end.
func pySliceTo[T any](xs []T, n int64) []T {
	if n < 0 {
		n += int64(len(xs))
	}
	return xs[:max(0, min(n, int64(len(xs))))]
}

// pyJSONSeparators turns compact JSON into json.dumps' default layout:
// ", " between items and ": " after keys.
func pyJSONSeparators(compact string) string {
	var b strings.Builder
	inString, escaped := false, false
	for _, r := range compact {
		b.WriteRune(r)
		switch {
		case escaped:
			escaped = false
		case inString && r == '\\':
			escaped = true
		case r == '"':
			inString = !inString
		case !inString && (r == ',' || r == ':'):
			b.WriteRune(' ')
		}
	}
	return b.String()
}

// likeToGlob turns a LIKE pattern into the GLOB pattern that matches the
// same strings, case-sensitively.
func likeToGlob(pattern string) string {
	var b strings.Builder
	for _, r := range pattern {
		switch r {
		case '%':
			b.WriteByte('*')
		case '_':
			b.WriteByte('?')
		case '*', '?', '[':
			b.WriteString("[" + string(r) + "]")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
