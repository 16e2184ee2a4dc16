package server

import (
	"slices"
	"strconv"
	"strings"
)

// Run attributes a filter may name (RunInfo searchable attributes and
// their aliases), and those order_by may name.
var (
	runNumericAttributes = map[string]bool{"start_time": true, "end_time": true, "created": true, "Created": true}
	runSearchAttributes  = map[string]bool{
		"artifact_uri": true, "end_time": true, "run_id": true, "run_name": true, "start_time": true, "status": true, "user_id": true,
		"created": true, "Created": true, "run name": true, "Run name": true, "Run Name": true,
	}
	runOrderAttributes = map[string]bool{
		"artifact_uri": true, "end_time": true, "run_id": true, "run_name": true, "start_time": true, "status": true, "user_id": true,
		"created": true, "Created": true,
	}
)

const (
	runSearchAttributesText = "{'created', 'run_name', 'run_id', 'Run name', 'start_time', 'Created', 'end_time', 'user_id', 'Run Name', 'status', 'run name', 'artifact_uri'}"
	runOrderAttributesText  = "{'Created', 'artifact_uri', 'created', 'end_time', 'run_id', 'run_name', 'start_time', 'status', 'user_id'}"
	metricComparators       = "{'>=', '<=', '!=', '=', '>', '<'}"
	stringComparators       = "{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}"
	paramComparators        = "{'!=', '=', 'LIKE', 'ILIKE', 'IS NULL', 'IS NOT NULL'}"
)

// translateKeyAlias is SearchUtils.translate_key_alias.
func translateKeyAlias(key string) string {
	switch key {
	case "created", "Created":
		return "start_time"
	case "run name", "Run name", "Run Name":
		return "run_name"
	}
	return key
}

// runClause is one parsed comparison of a run filter.
type runClause struct {
	kind  entityKind
	key   string
	op    string // upper case
	str   string
	num   float64
	list  []string
	isInt bool
}

// parseRunFilter is SearchUtils.parse_search_filter followed by the
// checks _get_sqlalchemy_filter_clauses makes, in MLflow's order: every
// clause's identifier and value first, then the comparators.
func parseRunFilter(filter string) ([]runClause, *apiError) {
	cmps, aerr := parseComparisons(filter, "'")
	if aerr != nil {
		return nil, aerr
	}
	clauses := make([]runClause, 0, len(cmps))
	for _, c := range cmps {
		kind, key, aerr := splitIdentifier(c.left, nil)
		if aerr != nil {
			return nil, aerr
		}
		if kind == kindAttribute && !runSearchAttributes[key] {
			return nil, errInvalid("Invalid attribute key '%s' specified. Valid keys are '%s'", key, runSearchAttributesText)
		}
		if kind == kindDataset {
			return nil, errInvalid("dataset filters are not supported by the embedded server")
		}
		rc := runClause{kind: kind, key: key, op: strings.ToUpper(c.op)}
		if rc.op == "IS NULL" || rc.op == "IS NOT NULL" {
			if kind != kindTag && kind != kindParam {
				return nil, errInvalid("IS NULL / IS NOT NULL is only supported for tags and params, not for '%s' '%s'", kind, key)
			}
			clauses = append(clauses, rc)
			continue
		}
		switch {
		case kind == kindMetric:
			if c.isList || (c.right.kind != tokInt && c.right.kind != tokFloat) {
				return nil, errInvalid("Expected numeric value type for metric. Found %s", valueText(c))
			}
			rc.num, _ = strconv.ParseFloat(c.right.text, 64)
		case kind == kindParam || kind == kindTag:
			if c.isList {
				return nil, errInvalid("Expected a quoted string value for %s (e.g. 'my-value'). Got value %s", kind, valueText(c))
			}
			if rc.str, aerr = stringValue(c, string(kind)); aerr != nil {
				return nil, aerr
			}
		case runNumericAttributes[key]:
			if c.isList || (c.right.kind != tokInt && c.right.kind != tokFloat) {
				return nil, errInvalid("Expected numeric value type for numeric attribute: %s. Found %s", key, valueText(c))
			}
			rc.num, _ = strconv.ParseFloat(c.right.text, 64)
			rc.isInt = c.right.kind == tokInt
		case c.isList:
			if key != "run_id" {
				return nil, errInvalid("Only ['run_id'] attributes support comparison with a list of quoted string values.")
			}
			if rc.list, aerr = listValue(c); aerr != nil {
				return nil, aerr
			}
		default:
			if rc.str, aerr = stringValue(c, "attribute"); aerr != nil {
				return nil, aerr
			}
		}
		clauses = append(clauses, rc)
	}
	return clauses, checkRunComparators(clauses)
}

// checkRunComparators translates key aliases and refuses the comparators
// each kind of identifier does not take, as _get_sqlalchemy_filter_clauses.
func checkRunComparators(clauses []runClause) *apiError {
	for i, c := range clauses {
		c.key = translateKeyAlias(c.key)
		clauses[i] = c
		switch {
		case c.kind == kindMetric && !slices.Contains([]string{">", ">=", "!=", "=", "<", "<="}, c.op):
			return errInvalid("Invalid comparator '%s' not one of '%s", c.op, metricComparators)
		case (c.kind == kindParam || c.kind == kindTag) && !slices.Contains([]string{"!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}, c.op):
			if c.kind == kindParam {
				return errInvalid("Invalid comparator '%s' not one of '%s'", c.op, paramComparators)
			}
			return errInvalid("Invalid comparator '%s' not one of '%s", c.op, paramComparators)
		case c.kind == kindAttribute && (c.key == "start_time" || c.key == "end_time"):
			if !slices.Contains([]string{">", ">=", "!=", "=", "<", "<="}, c.op) {
				return errInvalid("Invalid comparator '%s' not one of '%s", c.op, stringComparators)
			}
		case c.kind == kindAttribute:
			if !slices.Contains([]string{"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"}, c.op) {
				return errInvalid("Invalid comparator '%s' not one of '%s'", c.op, stringComparators)
			}
		}
	}
	return nil
}

// matches applies a clause to a run as MLflow's SQL does: a metric, param
// or tag clause needs the key to be there (except IS NULL); a NaN metric
// satisfies only "!=".
func (c runClause) matches(r *run) bool {
	switch c.kind {
	case kindMetric:
		m, ok := r.metric(c.key)
		if !ok {
			return false
		}
		if m.isNaN {
			return c.op == "!="
		}
		return compareFloats(c.op, m.value, c.num)
	case kindParam, kindTag:
		list := r.params
		if c.kind == kindTag {
			list = r.tags
		}
		v, ok := lookup(list, c.key)
		switch c.op {
		case "IS NULL":
			return !ok
		case "IS NOT NULL":
			return ok
		}
		return ok && compareStrings(c.op, v, c.str)
	}
	switch c.key {
	case "start_time":
		return compareFloats(c.op, float64(r.startTime), c.num)
	case "end_time":
		return r.endTime.Valid && compareFloats(c.op, float64(r.endTime.Int64), c.num)
	case "run_name":
		v, ok := lookup(r.tags, runNameTag)
		return ok && compareStrings(c.op, v, c.str)
	}
	var v string
	switch c.key {
	case "run_id":
		v = r.id
	case "status":
		v = r.status
	case "user_id":
		v = r.userID
	case "artifact_uri":
		v = r.artifactURI
	}
	return matchIn(c.op, c.list, c.str, v)
}

// sortValue is a run's value for an order_by key: rank 0 when present, 1
// for a NaN metric, 2 (metrics) or 1 (others) when absent, as MLflow's
// CASE column, which sorts ascending whatever the direction.
type sortValue struct {
	rank int
	num  float64
	str  string
	text bool
}

// searchKeys are the metrics, params and tags a search's filter and order
// name.
func searchKeys(clauses []runClause, order []orderKey) *runKeys {
	var k runKeys
	add := func(kind entityKind, key string) {
		switch kind {
		case kindMetric:
			k.metrics = append(k.metrics, key)
		case kindParam:
			k.params = append(k.params, key)
		case kindTag:
			k.tags = append(k.tags, key)
		case kindAttribute:
			if key == "run_name" {
				k.tags = append(k.tags, runNameTag)
			}
		}
	}
	for _, c := range clauses {
		add(c.kind, c.key)
	}
	for _, o := range order {
		add(o.kind, o.key)
	}
	return &k
}

// filterRuns keeps the runs every clause matches.
func filterRuns(runs []*run, clauses []runClause) []*run {
	kept := runs[:0]
	for _, r := range runs {
		ok := true
		for _, c := range clauses {
			if !c.matches(r) {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, r)
		}
	}
	return kept
}
