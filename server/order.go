package server

import (
	"slices"
	"sort"
	"strings"
)

// One order_by parser and one comparator table for the four searches
// (experiments, runs, registered models, model versions).

// orderKey is one parsed order_by item: what it names and its direction.
type orderKey struct {
	kind entityKind
	key  string
	asc  bool
}

// orderSpec says what a search's order_by accepts and how it breaks ties.
type orderSpec struct {
	// defaults is the order_by when none is given.
	defaults []string
	// ident splits an order_by identifier into its kind and its canonical
	// key, or refuses it with MLflow's message.
	ident func(name string) (entityKind, string, *apiError)
	// dedupe refuses an order naming a key twice (a 500, as in MLflow).
	dedupe bool
	// tiebreak are appended, each unless the order names it already.
	tiebreak []orderKey
}

// parseOrder parses a search's order_by as its spec says, in MLflow's
// order of checks: item by item, the syntax then the identifier.
func parseOrder(orderBy []string, spec orderSpec) ([]orderKey, *apiError) {
	if len(orderBy) == 0 {
		orderBy = spec.defaults
	}
	type id struct {
		kind entityKind
		key  string
	}
	var keys []orderKey
	seen := map[id]bool{}
	for _, ob := range orderBy {
		name, asc, e := parseOrderBy(ob)
		if e != nil {
			return nil, e
		}
		kind, key, e := spec.ident(name)
		if e != nil {
			return nil, e
		}
		if spec.dedupe && seen[id{kind, key}] {
			return nil, errInternal("`order_by` contains duplicate fields: %s", pyList(orderBy))
		}
		seen[id{kind, key}] = true
		keys = append(keys, orderKey{kind, key, asc})
	}
	for _, t := range spec.tiebreak {
		if !seen[id{t.kind, t.key}] {
			keys = append(keys, t)
		}
	}
	return keys, nil
}

func textValue(s string) sortValue { return sortValue{str: s, text: true} }
func numValue(n int64) sortValue   { return sortValue{num: float64(n)} }

// compare orders a and b for a key: -1, 0 or 1, direction applied.
func (a sortValue) compare(b sortValue, asc bool) int {
	if a.rank != b.rank {
		if a.rank < b.rank {
			return -1
		}
		return 1
	}
	if a.rank != 0 {
		return 0
	}
	var c int
	if a.text {
		c = strings.Compare(a.str, b.str)
	} else if a.num < b.num {
		c = -1
	} else if a.num > b.num {
		c = 1
	}
	if !asc {
		c = -c
	}
	return c
}

// sortByKeys sorts items stably by keys; field resolves a key to the
// value it reads of an item (see the comparator table below).
func sortByKeys[T any](items []T, keys []orderKey, field func(orderKey) func(T) sortValue) {
	get := make([]func(T) sortValue, len(keys))
	for i, k := range keys {
		get[i] = field(k)
	}
	sort.SliceStable(items, func(i, j int) bool {
		for n, k := range keys {
			if c := get[n](items[i]).compare(get[n](items[j]), k.asc); c != 0 {
				return c < 0
			}
		}
		return false
	})
}

// The comparator table: for each search, the value each order key reads.
var (
	experimentFields = map[string]func(*experiment) sortValue{
		"name":             func(e *experiment) sortValue { return textValue(e.name) },
		"experiment_id":    func(e *experiment) sortValue { return numValue(e.id) },
		"creation_time":    func(e *experiment) sortValue { return numValue(e.creationTime) },
		"last_update_time": func(e *experiment) sortValue { return numValue(e.lastUpdateTime) },
	}
	modelFields = map[string]func(*registeredModel) sortValue{
		"name":                   func(m *registeredModel) sortValue { return textValue(m.name) },
		"last_updated_timestamp": func(m *registeredModel) sortValue { return numValue(m.lastUpdated) },
	}
	versionFields = map[string]func(*modelVersion) sortValue{
		"name":                   func(v *modelVersion) sortValue { return textValue(v.name) },
		"version_number":         func(v *modelVersion) sortValue { return numValue(v.version) },
		"creation_timestamp":     func(v *modelVersion) sortValue { return numValue(v.creationTime) },
		"last_updated_timestamp": func(v *modelVersion) sortValue { return numValue(v.lastUpdated) },
	}
	runAttributeFields = map[string]func(*run) sortValue{
		"start_time": func(r *run) sortValue { return numValue(r.startTime) },
		"end_time": func(r *run) sortValue {
			if !r.endTime.Valid {
				return sortValue{rank: 1}
			}
			return numValue(r.endTime.Int64)
		},
		"run_id":       func(r *run) sortValue { return textValue(r.id) },
		"run_name":     func(r *run) sortValue { return textValue(r.name) },
		"status":       func(r *run) sortValue { return textValue(r.status) },
		"user_id":      func(r *run) sortValue { return textValue(r.userID) },
		"artifact_uri": func(r *run) sortValue { return textValue(r.artifactURI) },
	}
)

// attributeField resolves an attribute key in a table.
func attributeField[T any](table map[string]func(T) sortValue) func(orderKey) func(T) sortValue {
	return func(k orderKey) func(T) sortValue { return table[k.key] }
}

// runField resolves a run order key: a metric (missing last, NaN before
// missing), a param or tag (missing last), or an attribute.
func runField(k orderKey) func(*run) sortValue {
	switch k.kind {
	case kindMetric:
		return func(r *run) sortValue {
			m, ok := r.metric(k.key)
			switch {
			case !ok:
				return sortValue{rank: 2}
			case m.isNaN:
				return sortValue{rank: 1}
			}
			return sortValue{num: m.value}
		}
	case kindParam, kindTag:
		return func(r *run) sortValue {
			list := r.params
			if k.kind == kindTag {
				list = r.tags
			}
			if v, ok := lookup(list, k.key); ok {
				return textValue(v)
			}
			return sortValue{rank: 1, text: true}
		}
	}
	if f, ok := runAttributeFields[k.key]; ok {
		return f
	}
	return func(*run) sortValue { return sortValue{rank: 1} }
}

// The order_by of each search.
var (
	experimentOrder = orderSpec{
		defaults: []string{"creation_time DESC", "experiment_id ASC"},
		ident: func(name string) (entityKind, string, *apiError) {
			kind, key, e := splitIdentifier(name, nil)
			switch {
			case e != nil:
				return "", "", e
			case kind != kindAttribute:
				return "", "", errInvalid("Invalid order_by entity: %s", kind)
			case experimentFields[key] == nil:
				return "", "", errInvalid("Invalid attribute key '%s' specified. Valid keys are '%s'", key, "{'name', 'experiment_id', 'creation_time', 'last_update_time'}")
			}
			return kind, key, nil
		},
		tiebreak: []orderKey{{kindAttribute, "experiment_id", false}},
	}
	runOrder = orderSpec{
		ident: func(name string) (entityKind, string, *apiError) {
			kind, key, e := splitIdentifier(strings.TrimSpace(name), nil)
			switch {
			case e != nil:
				return "", "", e
			case kind == kindAttribute && !runOrderAttributes[key]:
				return "", "", errInvalid("Invalid attribute key '%s' specified. Valid keys are '%s'", key, runOrderAttributesText)
			case kind == kindDataset:
				return "", "", errInvalid("Invalid identifier type '%s'", kind)
			}
			return kind, translateKeyAlias(key), nil
		},
		dedupe:   true,
		tiebreak: []orderKey{{kindAttribute, "start_time", false}, {kindAttribute, "run_id", true}},
	}
	modelOrder = orderSpec{
		ident: func(name string) (entityKind, string, *apiError) {
			switch name = strings.TrimSpace(name); name {
			case "name":
				return kindAttribute, name, nil
			case "timestamp", "last_updated_timestamp":
				return kindAttribute, "last_updated_timestamp", nil
			}
			return "", "", errInvalid("Invalid order by key '%s' specified. Valid keys are '{'name', 'timestamp'}'", name)
		},
		dedupe:   true,
		tiebreak: []orderKey{{kindAttribute, "name", true}},
	}
	versionOrder = orderSpec{
		defaults: []string{"last_updated_timestamp DESC", "name ASC", "version_number DESC"},
		ident: func(name string) (entityKind, string, *apiError) {
			kind, key, e := splitIdentifier(strings.TrimSpace(name), map[string]entityKind{"attribute": kindAttribute, "attributes": kindAttribute, "attr": kindAttribute, "run": kindAttribute})
			if e != nil {
				return "", "", e
			}
			if kind != kindAttribute || !slices.Contains(versionOrderAttrs, key) {
				return "", "", errInvalid("Invalid order by key '%s' specified. Valid keys are %s", key, pySet(versionOrderAttrs))
			}
			return kind, key, nil
		},
		dedupe:   true,
		tiebreak: []orderKey{{kindAttribute, "name", true}, {kindAttribute, "version_number", false}},
	}
)

// positiveResults is the max_results check of the experiment and run
// searches.
func positiveResults(n, limit int64) *apiError {
	if n < 1 {
		return errInvalid("Invalid value %d for parameter 'max_results' supplied. It must be a positive integer", n)
	}
	if n > limit {
		return errInvalid("Invalid value %d for parameter 'max_results' supplied. It must be at most %d", n, limit)
	}
	return nil
}
