package server

import (
	"context"
	"database/sql"
	"slices"
	"strconv"
	"strings"
)

// The four searches' store methods. Each parses its arguments in MLflow's
// order (max_results, filter, order_by, page_token, as each store does),
// selects in SQL what SQL can select, applies the rest of the filter in
// Go where MLflow's semantics need it, sorts with the comparator table
// (order.go) and returns one page and the next page's token.

// SearchExperiments searches the experiments of the lifecycle stages
// a.stages.
func (st *store) SearchExperiments(ctx context.Context, a searchArgs) ([]*experiment, string, error) {
	if err := firstError(positiveResults(a.maxResults, maxSearchResults)); err != nil {
		return nil, "", err
	}
	match, e := parseExperimentFilter(a.filter)
	if e != nil {
		return nil, "", e
	}
	keys, offset, e := orderAndOffset(a, experimentOrder)
	if e != nil {
		return nil, "", e
	}
	var exps []*experiment
	err := st.read(ctx, func(tx *sql.Tx) (err error) {
		exps, err = loadExperiments(ctx, tx, `lifecycle_stage IN (`+placeholders(len(a.stages))+`)`, anySlice(a.stages)...)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	kept := slices.DeleteFunc(exps, func(e *experiment) bool { return !match(e) })
	sortByKeys(kept, keys, attributeField(experimentFields))
	page, next := paginate(kept, offset, int(a.maxResults))
	return page, next, nil
}

// orderAndOffset parses a search's order_by, then its page token.
func orderAndOffset(a searchArgs, spec orderSpec) ([]orderKey, int, *apiError) {
	keys, e := parseOrder(a.orderBy, spec)
	if e != nil {
		return nil, 0, e
	}
	offset, e := parsePageToken(a.pageToken)
	return keys, offset, e
}

// loadExperiments reads the experiments a WHERE clause selects, with
// their tags.
func loadExperiments(ctx context.Context, q queryer, where string, args ...any) ([]*experiment, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var exps []*experiment
	for rows.Next() {
		e, err := scanExperiment(rows)
		if err != nil {
			return nil, err
		}
		exps = append(exps, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return exps, loadExperimentTags(ctx, q, exps...)
}

// SearchRuns searches the runs of the experiments a.experiment in the
// lifecycle stages a.stages.
func (st *store) SearchRuns(ctx context.Context, a searchArgs) ([]*run, string, error) {
	if err := firstError(positiveResults(a.maxResults, maxSearchResults)); err != nil {
		return nil, "", err
	}
	clauses, e := parseRunFilter(a.filter)
	if e != nil {
		return nil, "", e
	}
	keys, offset, e := orderAndOffset(a, runOrder)
	if e != nil {
		return nil, "", e
	}
	ids := make([]any, 0, len(a.experiment))
	for _, s := range a.experiment {
		id, e := parseExperimentID(s)
		if e != nil {
			return nil, "", e
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return nil, "", nil
	}
	var page []*run
	var next string
	err := st.read(ctx, func(tx *sql.Tx) error {
		// Filter and sort on the keys the search names, then read the
		// page's runs whole, all in one snapshot.
		runs, err := loadRunsKeys(ctx, tx, searchKeys(clauses, keys),
			`experiment_id IN (`+placeholders(len(ids))+`) AND lifecycle_stage IN (`+placeholders(len(a.stages))+`)`, append(ids, anySlice(a.stages)...)...)
		if err != nil {
			return err
		}
		runs = filterRuns(runs, clauses)
		sortByKeys(runs, keys, runField)
		page, next = paginate(runs, offset, int(a.maxResults))
		if err := loadWhole(ctx, tx, page); err != nil {
			return err
		}
		return loadRunIO(ctx, tx, page, false)
	})
	return page, next, err
}

// loadWhole replaces each run of page by the run read whole.
func loadWhole(ctx context.Context, tx *sql.Tx, page []*run) error {
	byID := map[string]*run{}
	// In chunks: SQLite bounds the parameters of one statement.
	for chunk := range slices.Chunk(page, 500) {
		ids := make([]any, len(chunk))
		for i, r := range chunk {
			ids[i] = r.id
		}
		full, err := loadRuns(ctx, tx, `run_uuid IN (`+placeholders(len(ids))+`)`, ids...)
		if err != nil {
			return err
		}
		for _, r := range full {
			byID[r.id] = r
		}
	}
	for i, r := range page {
		page[i] = byID[r.id]
	}
	return nil
}

// SearchRegisteredModels searches the registered models; prompts only
// when the filter asks for them.
func (st *store) SearchRegisteredModels(ctx context.Context, a searchArgs) ([]*registeredModel, string, error) {
	clauses, e := parseRegistryFilter(a.filter, []string{"name"}, []string{"name"}, nil)
	if e != nil {
		return nil, "", e
	}
	keys, e := parseOrder(a.orderBy, modelOrder)
	if e != nil {
		return nil, "", e
	}
	if err := firstError(checkModelComparators(clauses)); err != nil {
		return nil, "", err
	}
	offset, e := parsePageToken(a.pageToken)
	if e != nil {
		return nil, "", e
	}
	var models []*registeredModel
	where, args := registrySQL(clauses, map[string]string{"name": "name"})
	err := st.read(ctx, func(tx *sql.Tx) (err error) {
		models, err = loadModels(ctx, tx, where, args...)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	prompts := wantsPrompts(clauses)
	kept := slices.DeleteFunc(models, func(m *registeredModel) bool {
		return isPrompt(m.tags) != prompts || !matchModel(m, clauses)
	})
	sortByKeys(kept, keys, attributeField(modelFields))
	page, next := paginate(kept, offset, int(max(a.maxResults, 0)))
	return page, next, nil
}

// matchModel applies every clause to a registered model.
func matchModel(m *registeredModel, clauses []registryClause) bool {
	for _, c := range clauses {
		if c.kind == kindTag && !c.matchTags(m.tags) || c.kind != kindTag && !c.matchString(m.name) {
			return false
		}
	}
	return true
}

// checkModelComparators refuses the comparators the registered model
// search does not take.
func checkModelComparators(clauses []registryClause) *apiError {
	for _, c := range clauses {
		valid := []string{"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
		what := "attribute"
		if c.kind == kindTag {
			valid, what = valid[:4], "tag"
		}
		if !slices.Contains(valid, c.op) {
			return errInvalid("Invalid comparator for %s: %s", what, c.op)
		}
	}
	return nil
}

// versionSearchAttrs are SearchModelVersionUtils' filter attributes.
var (
	versionSearchAttrs  = []string{"name", "version_number", "run_id", "source_path"}
	versionListKeys     = []string{"name", "run_id"}
	versionNumericAttrs = []string{"version_number", "creation_timestamp", "last_updated_timestamp"}
	versionOrderAttrs   = []string{"name", "version_number", "creation_timestamp", "last_updated_timestamp"}
	// versionColumns are the filter attributes SQL selects on.
	versionColumns = map[string]string{"name": "name", "run_id": "run_id", "source_path": "source", "version_number": "version"}
)

// SearchModelVersions searches the model versions of the registered
// models that are not prompts (prompts only when the filter asks).
func (st *store) SearchModelVersions(ctx context.Context, a searchArgs) ([]*modelVersion, string, error) {
	if a.maxResults < 1 {
		return nil, "", errInvalid("Invalid value for max_results. It must be a positive integer, but got %d", a.maxResults)
	}
	clauses, e := parseRegistryFilter(a.filter, versionSearchAttrs, versionListKeys, versionNumericAttrs)
	if e != nil {
		return nil, "", e
	}
	if err := firstError(checkVersionComparators(clauses)); err != nil {
		return nil, "", err
	}
	keys, offset, e := orderAndOffset(a, versionOrder)
	if e != nil {
		return nil, "", e
	}
	var versions []*modelVersion
	var promptModels map[string]bool
	where, args := registrySQL(clauses, versionColumns)
	err := st.read(ctx, func(tx *sql.Tx) (err error) {
		if versions, err = loadVersions(ctx, tx, where, args...); err != nil {
			return err
		}
		promptModels, err = loadPromptModels(ctx, tx)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	prompts := wantsPrompts(clauses)
	kept := slices.DeleteFunc(versions, func(v *modelVersion) bool {
		return promptModels[v.name] != prompts || !matchVersion(v, clauses)
	})
	sortByKeys(kept, keys, attributeField(versionFields))
	page, next := paginate(kept, offset, int(a.maxResults))
	return page, next, nil
}

// checkVersionComparators refuses the comparators the model version
// search does not take, and parses the numeric values.
func checkVersionComparators(clauses []registryClause) *apiError {
	for i, c := range clauses {
		switch {
		case c.kind == kindTag:
			if !slices.Contains([]string{"=", "!=", "LIKE", "ILIKE"}, c.op) {
				return errInvalid("Invalid comparator for tag: %s", c.op)
			}
		case slices.Contains(versionNumericAttrs, c.key):
			if !slices.Contains([]string{"=", "!=", "<", "<=", ">", ">="}, c.op) {
				return errInvalid("Invalid comparator for attribute %s: %s", c.key, c.op)
			}
			if c.list != nil {
				return errInvalid("Invalid value for numeric attribute '%s': %s", c.key, pyList(c.list))
			}
			n, err := strconv.ParseInt(c.str, 10, 64)
			if err != nil {
				return errInvalid("Invalid value for numeric attribute '%s': %s", c.key, pyRepr(c.str))
			}
			clauses[i].num = n
		default:
			if !slices.Contains([]string{"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"}, c.op) ||
				(c.op == "IN" || c.op == "NOT IN") && !slices.Contains(versionListKeys, c.key) {
				return errInvalid("Invalid comparator for attribute: %s", c.op)
			}
		}
	}
	return nil
}

// matchVersion applies every clause to a version, as MLflow's SQL does.
func matchVersion(v *modelVersion, clauses []registryClause) bool {
	for _, c := range clauses {
		ok := true
		switch {
		case c.kind == kindTag:
			ok = c.matchTags(v.tags)
		case c.key == "version_number":
			ok = compareFloats(c.op, float64(v.version), float64(c.num))
		case c.key == "name":
			ok = c.matchString(v.name)
		case c.key == "run_id":
			ok = c.matchString(v.runID)
		case c.key == "source_path":
			ok = c.matchString(v.source)
		}
		if !ok {
			return false
		}
	}
	return true
}

// loadPromptModels reads the names of the registered models that are
// prompts.
func loadPromptModels(ctx context.Context, q queryer) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM registered_model_tags WHERE key = ? AND value = 'true'`, promptTag)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

// registrySQL is the WHERE clause of the attribute comparisons SQL can
// select on (columns maps an attribute to its column). It selects a
// superset of MLflow's matches: SQLite's LIKE ignores ASCII case where
// MLflow's LIKE does not, so the caller applies every clause again in Go.
func registrySQL(clauses []registryClause, columns map[string]string) (string, []any) {
	where := []string{"1"}
	var args []any
	for _, c := range clauses {
		col, ok := columns[c.key]
		if c.kind != kindAttribute || !ok {
			continue
		}
		switch {
		case col == "version" && slices.Contains([]string{"=", "!=", "<", "<=", ">", ">="}, c.op):
			where, args = append(where, col+" "+c.op+" ?"), append(args, c.num)
		case col == "version":
		case c.op == "=" || c.op == "!=":
			where, args = append(where, col+" "+c.op+" ?"), append(args, c.str)
		case c.op == "LIKE" || c.op == "ILIKE":
			where, args = append(where, col+" LIKE ?"), append(args, c.str)
		case c.op == "IN" || c.op == "NOT IN":
			where, args = append(where, col+" "+c.op+" ("+placeholders(len(c.list))+")"), append(args, anySlice(c.list)...)
		}
	}
	return strings.Join(where, " AND "), args
}
