package server

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strconv"
	"strings"
)

// Lifecycle stages of experiments and runs.
const (
	stageActive  = "active"
	stageDeleted = "deleted"
)

// artifactRootURI is the default artifact root: the server's own proxy,
// as mlflow server --serve-artifacts gives it.
const artifactRootURI = "mlflow-artifacts:/"

// workspace is the only workspace: MLflow's default one.
const workspace = "default"

type experiment struct {
	id               int64
	name             string
	artifactLocation string
	lifecycleStage   string
	creationTime     int64
	lastUpdateTime   int64
	tags             []tagJSON
}

func (e *experiment) json() experimentJSON {
	return experimentJSON{
		ExperimentID: itoa(e.id), Name: e.name, ArtifactLocation: e.artifactLocation,
		LifecycleStage: e.lifecycleStage, LastUpdateTime: e.lastUpdateTime, CreationTime: e.creationTime,
		Tags: e.tags, Workspace: workspace,
	}
}

// queryer is what reads need: a transaction or a pool.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const experimentColumns = `experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time`

func scanExperiment(sc interface{ Scan(...any) error }) (*experiment, error) {
	var e experiment
	err := sc.Scan(&e.id, &e.name, &e.artifactLocation, &e.lifecycleStage, &e.creationTime, &e.lastUpdateTime)
	return &e, err
}

// loadExperimentTags fills the tags of exps.
func loadExperimentTags(ctx context.Context, q queryer, exps ...*experiment) error {
	if len(exps) == 0 {
		return nil
	}
	byID := map[int64]*experiment{}
	ids := make([]any, len(exps))
	for i, e := range exps {
		byID[e.id] = e
		ids[i] = e.id
	}
	rows, err := q.QueryContext(ctx, `SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN (`+placeholders(len(ids))+`) ORDER BY experiment_id, key`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var t tagJSON
		if err := rows.Scan(&id, &t.Key, &t.Value); err != nil {
			return err
		}
		byID[id].tags = append(byID[id].tags, t)
	}
	return rows.Err()
}

// placeholders returns "?, ?, ..." for n arguments.
func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// getExperimentByID reads an experiment with its tags; a missing one is
// MLflow's 404.
func getExperimentByID(ctx context.Context, q queryer, id int64) (*experiment, error) {
	e, err := scanExperiment(q.QueryRowContext(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE experiment_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound("No Experiment with id=%d exists", id)
	}
	if err != nil {
		return nil, err
	}
	return e, loadExperimentTags(ctx, q, e)
}

func (s *Server) searchExperiments(ctx context.Context, req *request) (any, error) {
	maxResults, given, aerr := req.int64Field("max_results", false)
	if aerr != nil {
		return nil, aerr
	}
	if !given {
		maxResults = 0
	}
	filter, aerr := req.str("filter", false)
	if aerr != nil {
		return nil, aerr
	}
	orderBy, aerr := req.strs("order_by")
	if aerr != nil {
		return nil, aerr
	}
	token, aerr := req.str("page_token", false)
	if aerr != nil {
		return nil, aerr
	}
	d := decode(req)
	stages := d.viewType("view_type")
	aerr = d.err
	if aerr != nil {
		return nil, aerr
	}
	if maxResults < 1 {
		return nil, errInvalid("Invalid value %d for parameter 'max_results' supplied. It must be a positive integer", maxResults)
	}
	if maxResults > maxSearchResults {
		return nil, errInvalid("Invalid value %d for parameter 'max_results' supplied. It must be at most %d", maxResults, maxSearchResults)
	}
	match, aerr := parseExperimentFilter(filter)
	if aerr != nil {
		return nil, aerr
	}
	less, aerr := experimentOrder(orderBy)
	if aerr != nil {
		return nil, aerr
	}
	offset, aerr := parsePageToken(token)
	if aerr != nil {
		return nil, aerr
	}
	var exps []*experiment
	err := s.db.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE lifecycle_stage IN (`+placeholders(len(stages))+`)`, anySlice(stages)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanExperiment(rows)
			if err != nil {
				return err
			}
			exps = append(exps, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return loadExperimentTags(ctx, tx, exps...)
	})
	if err != nil {
		return nil, err
	}
	var kept []*experiment
	for _, e := range exps {
		if match(e) {
			kept = append(kept, e)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return less(kept[i], kept[j]) })
	page, next := paginate(kept, offset, int(maxResults))
	out := struct {
		Experiments   []experimentJSON `json:"experiments,omitempty"`
		NextPageToken string           `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, e := range page {
		out.Experiments = append(out.Experiments, e.json())
	}
	return out, nil
}

// anySlice converts for query arguments.
func anySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// parseExperimentFilter is SearchExperimentsUtils' filter: attributes
// name, experiment_id, creation_time, last_update_time; tags.
func parseExperimentFilter(filter string) (func(*experiment) bool, *apiError) {
	cmps, aerr := parseComparisons(filter, "'")
	if aerr != nil {
		return nil, aerr
	}
	var preds []func(*experiment) bool
	for _, c := range cmps {
		kind, key, aerr := splitIdentifier(c.left, nil)
		if aerr != nil {
			return nil, aerr
		}
		op := strings.ToUpper(c.op)
		switch kind {
		case kindAttribute:
			switch key {
			case "name":
				v, aerr := stringValue(c, "attribute")
				if aerr != nil {
					return nil, aerr
				}
				if op != "=" && op != "!=" && op != "LIKE" && op != "ILIKE" {
					return nil, errInvalid("Invalid comparator for string attribute: %s", op)
				}
				preds = append(preds, func(e *experiment) bool { return compareStrings(op, e.name, v) })
			case "experiment_id", "creation_time", "last_update_time":
				if c.right.kind != tokInt && c.right.kind != tokString {
					return nil, errInvalid("Invalid value for numeric attribute '%s': %s", key, pyRepr(c.right.text))
				}
				raw, _ := stripQuotes(c.right.text, false)
				n, err := strconv.ParseInt(raw, 10, 64)
				if err != nil {
					return nil, errInvalid("Invalid value for numeric attribute '%s': %s", key, pyRepr(raw))
				}
				get := func(e *experiment) int64 { return e.id }
				switch key {
				case "creation_time":
					get = func(e *experiment) int64 { return e.creationTime }
				case "last_update_time":
					get = func(e *experiment) int64 { return e.lastUpdateTime }
				}
				if !strings.Contains("= != < <= > >=", op) {
					return nil, errInvalid("Invalid comparator for numeric attribute: %s", op)
				}
				preds = append(preds, func(e *experiment) bool { return compareFloats(op, float64(get(e)), float64(n)) })
			default:
				return nil, errInvalid("Invalid attribute key '%s' specified. Valid keys are '%s'", key, "{'name', 'experiment_id', 'creation_time', 'last_update_time'}")
			}
		case kindTag:
			switch op {
			case "IS NULL", "IS NOT NULL":
				want := op == "IS NOT NULL"
				preds = append(preds, func(e *experiment) bool { _, ok := lookup(e.tags, key); return ok == want })
				continue
			case "=", "!=", "LIKE", "ILIKE":
			default:
				return nil, errInvalid("Invalid comparator for tag: %s", op)
			}
			v, aerr := stringValue(c, "tag")
			if aerr != nil {
				return nil, aerr
			}
			preds = append(preds, func(e *experiment) bool {
				tv, ok := lookup(e.tags, key)
				return ok && compareStrings(op, tv, v)
			})
		default:
			return nil, errInvalid("Invalid token type: %s", kind)
		}
	}
	return func(e *experiment) bool {
		for _, p := range preds {
			if !p(e) {
				return false
			}
		}
		return true
	}, nil
}

// lookup returns the value of key in tags.
func lookup(tags []tagJSON, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// experimentOrder is the order_by of experiments/search: creation_time
// DESC then experiment_id ASC by default; experiment_id DESC breaks ties.
func experimentOrder(orderBy []string) (func(a, b *experiment) bool, *apiError) {
	if len(orderBy) == 0 {
		orderBy = []string{"creation_time DESC", "experiment_id ASC"}
	}
	type key struct {
		name string
		asc  bool
	}
	var keys []key
	hasID := false
	for _, ob := range orderBy {
		name, asc, aerr := parseOrderBy(ob)
		if aerr != nil {
			return nil, aerr
		}
		kind, k, aerr := splitIdentifier(name, nil)
		if aerr != nil {
			return nil, aerr
		}
		if kind != kindAttribute {
			return nil, errInvalid("Invalid order_by entity: %s", kind)
		}
		switch k {
		case "name", "experiment_id", "creation_time", "last_update_time":
		default:
			return nil, errInvalid("Invalid attribute key '%s' specified. Valid keys are '%s'", k, "{'name', 'experiment_id', 'creation_time', 'last_update_time'}")
		}
		hasID = hasID || k == "experiment_id"
		keys = append(keys, key{k, asc})
	}
	if !hasID {
		keys = append(keys, key{"experiment_id", false})
	}
	return func(a, b *experiment) bool {
		for _, k := range keys {
			var c int
			switch k.name {
			case "name":
				c = strings.Compare(a.name, b.name)
			case "experiment_id":
				c = cmpInt(a.id, b.id)
			case "creation_time":
				c = cmpInt(a.creationTime, b.creationTime)
			case "last_update_time":
				c = cmpInt(a.lastUpdateTime, b.lastUpdateTime)
			}
			if c != 0 {
				return (c < 0) == k.asc
			}
		}
		return false
	}, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
