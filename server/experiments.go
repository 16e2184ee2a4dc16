package server

import (
	"context"
	"database/sql"
	"errors"
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
