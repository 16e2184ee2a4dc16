package server

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// decoder reads a request's fields in the order a handler asks for them,
// as MLflow's _get_request_message checks its schema: field by field, the
// first failure answered. The first error sticks: later reads are no-ops
// that return zero values, and then returns it. A handler reads every
// field, then hands the store call to then.
type decoder struct {
	req *request
	err *apiError
}

// decode starts reading req.
func decode(req *request) *decoder { return &decoder{req: req} }

// fail records e unless an earlier error is already recorded.
func (d *decoder) fail(e *apiError) {
	if d.err == nil && e != nil {
		d.err = e
	}
}

// then calls the store through call once every read has succeeded, and
// returns its reply; else it returns the first error of the reads.
func (d *decoder) then(call func() (any, error)) (any, error) {
	if d.err != nil {
		return nil, d.err
	}
	return call()
}

// str reads an optional string field; "" when absent.
func (d *decoder) str(field string) string { return d.string(field, false) }

// required reads a string field that must be given and not empty.
func (d *decoder) required(field string) string { return d.string(field, true) }

func (d *decoder) string(field string, required bool) string {
	if d.err != nil {
		return ""
	}
	s, e := d.req.str(field, required)
	d.fail(e)
	return s
}

// optional reads an optional string field and whether the call gave it.
func (d *decoder) optional(field string) *string {
	s := d.str(field)
	if d.err != nil || !d.req.has(field) {
		return nil
	}
	return &s
}

// int64 reads an optional integer field and whether it was given.
func (d *decoder) int64(field string) (int64, bool) {
	if d.err != nil {
		return 0, false
	}
	n, given, e := d.req.int64Field(field, false)
	d.fail(e)
	return n, given
}

// bool reads an optional boolean field (a JSON boolean; "true" or
// "false" in a query string); false when absent.
func (d *decoder) bool(field string) bool {
	if d.err != nil || !d.req.has(field) {
		return false
	}
	var v any
	if d.req.query != nil {
		v = d.req.query.Get(field)
		if b, err := strconv.ParseBool(v.(string)); err == nil {
			return b
		}
	} else if b, ok := d.req.body[field].(bool); ok {
		return b
	} else {
		v = d.req.body[field]
	}
	// _assert_bool's message, with two spaces after "supplied:".
	b, _ := json.Marshal(v)
	d.fail(errInvalid("Invalid value %s for parameter '%s' supplied:  Hint: Value was of type '%s'. See the API docs for more information about request parameters.", b, field, pyType(v)))
	return false
}

// strs reads a repeated string field.
func (d *decoder) strs(field string) []string {
	if d.err != nil {
		return nil
	}
	v, e := d.req.strs(field)
	d.fail(e)
	return v
}

// pairs reads a repeated {key, value} field (tags, params).
func (d *decoder) pairs(field string) []keyValue {
	if d.err != nil {
		return nil
	}
	v, e := d.req.pairs(field)
	d.fail(e)
	return v
}

// present refuses a body field that is absent, null or "": MLflow's
// _assert_required on a field that is not a string.
func (d *decoder) present(field string) {
	if v, ok := d.req.body[field]; !ok || v == nil || v == "" {
		d.fail(missing(field))
	}
}

// keysGiven refuses an entry of a repeated {key, value} field without a
// key: field[i].key is required.
func (d *decoder) keysGiven(field string, kvs []keyValue) {
	for i, kv := range kvs {
		if kv.Key == "" {
			d.fail(missing(fmt.Sprintf("%s[%d].key", field, i)))
		}
	}
}

// runID reads run_id, or the older run_uuid; one of them is required.
func (d *decoder) runID() string {
	id := d.str("run_id")
	if id == "" {
		id = d.str("run_uuid")
	}
	if id == "" {
		d.fail(missing("run_id"))
	}
	return id
}

// maxResults reads max_results: def when absent; over limit (when limit
// is not 0) is refused, as the schema's _assert_less_than_or_equal.
func (d *decoder) maxResults(def, limit int64) int64 {
	n, given := d.int64("max_results")
	if !given {
		n = def
	}
	if limit > 0 && n > limit {
		d.fail(errInvalid("Invalid value %d for parameter 'max_results' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters.", n))
	}
	return n
}

// search reads the fields of the registry's and the run search in their
// common order: filter, max_results, order_by, page_token.
func (d *decoder) search(def, limit int64) searchArgs {
	var a searchArgs
	a.filter = d.str("filter")
	a.maxResults = d.maxResults(def, limit)
	a.orderBy = d.strs("order_by")
	a.pageToken = d.str("page_token")
	return a
}

// viewType reads a ViewType field (the enum's name or number) as the
// lifecycle stages it selects; ACTIVE_ONLY when absent.
func (d *decoder) viewType(field string) []string {
	var v string
	if n, ok := d.req.body[field].(json.Number); ok { // the enum's number
		v = n.String()
	} else {
		v = d.str(field)
	}
	if d.err != nil {
		return nil
	}
	switch strings.ToUpper(v) {
	case "", "ACTIVE_ONLY", "1":
		return []string{stageActive}
	case "DELETED_ONLY", "2":
		return []string{stageDeleted}
	case "ALL", "3":
		return []string{stageActive, stageDeleted}
	}
	d.fail(errInvalid("Invalid value %s for parameter '%s' supplied.", pyJSON(v), field))
	return nil
}

// metrics reads log-batch's metrics: a list whose entries each need key,
// value and timestamp.
func (d *decoder) metrics(field string) []requestMetric {
	v, ok := d.req.body[field]
	if d.err != nil || !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		d.fail(badType(field, v))
		return nil
	}
	var out []requestMetric
	for i, item := range list {
		m, _ := item.(map[string]any)
		for _, f := range []string{"key", "value", "timestamp"} {
			if x, ok := m[f]; !ok || x == nil || x == "" {
				d.fail(missing(fmt.Sprintf("%s[%d].%s", field, i, f)))
				return nil
			}
		}
		out = append(out, parseMetric(m))
	}
	return out
}

// searchArgs are the arguments of the four searches, as sent: the store
// parses and checks them in MLflow's order.
type searchArgs struct {
	filter     string
	maxResults int64
	orderBy    []string
	pageToken  string
	stages     []string // lifecycle stages (experiments and runs)
	experiment []string // experiment ids (runs)
}

// int64Ptr reads an optional integer field; nil when absent.
func (d *decoder) int64Ptr(field string) *int64 {
	n, given := d.int64(field)
	if !given || d.err != nil {
		return nil
	}
	return &n
}
