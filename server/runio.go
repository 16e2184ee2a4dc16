package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Run inputs and outputs: datasets a run used (with input tags such as
// mlflow.data.context), logged models it used and logged models it
// produced, as MLflow's log_inputs and log_outputs store them.

// Limits of mlflow/utils/validation.py on datasets and input tags.
const (
	maxDatasetNameSize    = 500
	maxDatasetDigestSize  = 36
	maxDatasetSourceSize  = 65535
	maxDatasetSchemaSize  = 1048575
	maxDatasetProfileSize = 16777215
	maxInputTagKeySize    = 255
	maxInputTagValueSize  = 500
)

// datasetInput is a dataset input of a log-inputs request.
type datasetInput struct {
	dataset datasetJSON
	tags    []keyValue
}

// objects reads a repeated message field: a JSON array of objects. A
// value of another type is refused as MLflow's _assert_array refuses it.
func (d *decoder) objects(field string) []map[string]any {
	if d.err != nil {
		return nil
	}
	list, raw, e := d.req.list(field)
	if e != nil {
		d.fail(e)
		return nil
	}
	out := make([]map[string]any, 0, len(list))
	for _, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			d.fail(badType(field, raw))
			return nil
		}
		out = append(out, m)
	}
	return out
}

// member reads a string member of a request object: "" when absent, nil
// for an optional member that is absent. MLflow's protobuf parser fails
// on a value of another type; the server refuses it.
func (d *decoder) member(m map[string]any, key, field string) *string {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		d.fail(badType(field, d.req.body[field]))
		return nil
	}
	return &s
}

// memberStr is member with "" for an absent member.
func (d *decoder) memberStr(m map[string]any, key, field string) string {
	if s := d.member(m, key, field); s != nil {
		return *s
	}
	return ""
}

// datasetInputs reads log-inputs' datasets.
func (d *decoder) datasetInputs(field string) []datasetInput {
	var out []datasetInput
	for _, m := range d.objects(field) {
		var in datasetInput
		ds, ok := m["dataset"].(map[string]any)
		if !ok && m["dataset"] != nil {
			d.fail(badType(field, d.req.body[field]))
		}
		in.dataset = datasetJSON{
			Name: d.memberStr(ds, "name", field), Digest: d.memberStr(ds, "digest", field),
			SourceType: d.memberStr(ds, "source_type", field), Source: d.memberStr(ds, "source", field),
			Schema: d.member(ds, "schema", field), Profile: d.member(ds, "profile", field),
		}
		tags, _ := m["tags"].([]any)
		for _, t := range tags {
			tm, ok := t.(map[string]any)
			if !ok {
				d.fail(badType(field, d.req.body[field]))
				continue
			}
			in.tags = append(in.tags, keyValue{d.memberStr(tm, "key", field), d.memberStr(tm, "value", field)})
		}
		out = append(out, in)
	}
	return out
}

// modelInputs reads log-inputs' models: their model ids.
func (d *decoder) modelInputs(field string) []string {
	var out []string
	for _, m := range d.objects(field) {
		out = append(out, d.memberStr(m, "model_id", field))
	}
	return out
}

// modelOutputs reads log-outputs' models. A step that does not parse is
// 0, as MLflow keeps what its parser read before the failure.
func (d *decoder) modelOutputs(field string) []modelOutputJSON {
	var out []modelOutputJSON
	for _, m := range d.objects(field) {
		step, _ := intOf(m["step"])
		out = append(out, modelOutputJSON{ModelID: d.memberStr(m, "model_id", field), Step: step})
	}
	return out
}

// validateDatasetInput is _validate_dataset and _validate_input_tags for
// one dataset input (lengths in characters, as Python's len).
func validateDatasetInput(in datasetInput) *apiError {
	ds := in.dataset
	for _, l := range []struct {
		what  string
		value *string
		limit int
	}{
		{"name", &ds.Name, maxDatasetNameSize},
		{"digest", &ds.Digest, maxDatasetDigestSize},
		{"source", &ds.Source, maxDatasetSourceSize},
		{"schema", ds.Schema, maxDatasetSchemaSize},
		{"profile", ds.Profile, maxDatasetProfileSize},
	} {
		if l.value != nil && utf8.RuneCountInString(*l.value) > l.limit {
			return exceedsLength(l.what, l.limit)
		}
	}
	for _, t := range in.tags {
		if utf8.RuneCountInString(t.Key) > maxInputTagKeySize {
			return exceedsLength("key", maxInputTagKeySize)
		}
		if utf8.RuneCountInString(t.Value) > maxInputTagValueSize {
			return exceedsLength("value", maxInputTagValueSize)
		}
	}
	return nil
}

// dedupDatasets keeps the first dataset input of each (name, digest).
func dedupDatasets(ins []datasetInput) []datasetInput {
	seen := map[[2]string]bool{}
	var out []datasetInput
	for _, in := range ins {
		k := [2]string{in.dataset.Name, in.dataset.Digest}
		if !seen[k] {
			seen[k] = true
			out = append(out, in)
		}
	}
	return out
}

// uniqueError is the reply MLflow's SQL store gives when SQLite refuses
// a row it inserts for a UNIQUE constraint on columns: integrityError with
// the rows formatted as Python tuples.
func uniqueError(columns, insert string, rows [][]any) *apiError {
	tuples := make([]string, len(rows))
	for i, row := range rows {
		parts := make([]string, len(row))
		for j, v := range row {
			switch x := v.(type) {
			case string:
				parts[j] = pyRepr(x)
			default:
				parts[j] = fmt.Sprint(x)
			}
		}
		if len(parts) == 1 {
			parts[0] += "," // Python's 1-tuple
		}
		tuples[i] = "(" + strings.Join(parts, ", ") + ")"
	}
	return integrityError("UNIQUE constraint failed: "+columns, insert, tuples)
}

// insertDatasetInputs links a run to its datasets (creating those its
// experiment does not have yet), with their input tags. A dataset the run
// already has is kept as it is, tags included. Two tags with one key on
// a new input are SQLite's refusal, as in MLflow.
func insertDatasetInputs(ctx context.Context, tx *sql.Tx, experimentID int64, runID string, ins []datasetInput) error {
	var tagRows [][]any
	var tagIDs []int64
	seen := map[string]bool{}
	dup := false
	for _, in := range dedupDatasets(ins) {
		id, err := datasetID(ctx, tx, experimentID, in.dataset)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO run_datasets (run_uuid, dataset_id) VALUES (?, ?)`, runID, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue // the run has it already
		}
		inputUUID := newRunID()
		for _, t := range in.tags {
			k := fmt.Sprintf("%d\x00%s", id, t.Key)
			dup = dup || seen[k]
			seen[k] = true
			tagRows = append(tagRows, []any{inputUUID, t.Key, t.Value})
			tagIDs = append(tagIDs, id)
		}
	}
	if dup {
		return uniqueError("input_tags.input_uuid, input_tags.name", "INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?)", tagRows)
	}
	for i, row := range tagRows {
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_dataset_tags (run_uuid, dataset_id, key, value) VALUES (?, ?, ?, ?)`, runID, tagIDs[i], row[1], row[2]); err != nil {
			return err
		}
	}
	return nil
}

// datasetID returns the id of the experiment's dataset of that name and
// digest, inserting the dataset when it has none.
func datasetID(ctx context.Context, tx *sql.Tx, experimentID int64, ds datasetJSON) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT dataset_id FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?`, experimentID, ds.Name, ds.Digest).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		experimentID, ds.Name, ds.Digest, ds.SourceType, ds.Source, ds.Schema, ds.Profile)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// eachRow runs a query and calls scan for each row.
func eachRow(ctx context.Context, q queryer, query string, args []any, scan func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// loadRunIO reads the inputs and outputs of runs: dataset inputs in the
// order they were logged, input tags and models by key, as MLflow's
// queries return them. models says whether to read model inputs too
// (runs/get does, runs/search does not).
func loadRunIO(ctx context.Context, q queryer, runs []*run, models bool) error {
	for chunk := range slices.Chunk(runs, 500) {
		byID := map[string]*run{}
		ids := make([]any, len(chunk))
		for i, r := range chunk {
			byID[r.id], ids[i] = r, r.id
		}
		if err := loadDatasetInputs(ctx, q, byID, ids); err != nil {
			return err
		}
		in := `WHERE run_uuid IN (` + placeholders(len(ids)) + `) ORDER BY run_uuid, model_id`
		if models {
			err := eachRow(ctx, q, `SELECT run_uuid, model_id FROM run_model_inputs `+in, ids, func(rows *sql.Rows) error {
				var id string
				var m modelInputJSON
				if err := rows.Scan(&id, &m.ModelID); err != nil {
					return err
				}
				byID[id].inputs.ModelInputs = append(byID[id].inputs.ModelInputs, m)
				return nil
			})
			if err != nil {
				return err
			}
		}
		err := eachRow(ctx, q, `SELECT run_uuid, model_id, step FROM run_model_outputs `+in, ids, func(rows *sql.Rows) error {
			var id string
			var m modelOutputJSON
			if err := rows.Scan(&id, &m.ModelID, &m.Step); err != nil {
				return err
			}
			byID[id].outputs.ModelOutputs = append(byID[id].outputs.ModelOutputs, m)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// loadDatasetInputs reads the dataset inputs, with their tags, of the
// runs in byID (whose ids are ids).
func loadDatasetInputs(ctx context.Context, q queryer, byID map[string]*run, ids []any) error {
	type key struct {
		run     string
		dataset int64
	}
	index := map[key]int{}
	err := eachRow(ctx, q, `SELECT rd.run_uuid, rd.dataset_id, d.name, d.digest, d.source_type, d.source, d.schema, d.profile
		FROM run_datasets rd JOIN datasets d ON d.dataset_id = rd.dataset_id
		WHERE rd.run_uuid IN (`+placeholders(len(ids))+`) ORDER BY rd.rowid`, ids, func(rows *sql.Rows) error {
		var k key
		var ds datasetJSON
		var schema, profile sql.NullString
		if err := rows.Scan(&k.run, &k.dataset, &ds.Name, &ds.Digest, &ds.SourceType, &ds.Source, &schema, &profile); err != nil {
			return err
		}
		if schema.Valid {
			ds.Schema = &schema.String
		}
		if profile.Valid {
			ds.Profile = &profile.String
		}
		r := byID[k.run]
		index[k] = len(r.inputs.DatasetInputs)
		r.inputs.DatasetInputs = append(r.inputs.DatasetInputs, datasetInputJSON{Dataset: ds})
		return nil
	})
	if err != nil {
		return err
	}
	return eachRow(ctx, q, `SELECT run_uuid, dataset_id, key, value FROM run_dataset_tags
		WHERE run_uuid IN (`+placeholders(len(ids))+`) ORDER BY run_uuid, dataset_id, key`, ids, func(rows *sql.Rows) error {
		var k key
		var t tagJSON
		if err := rows.Scan(&k.run, &k.dataset, &t.Key, &t.Value); err != nil {
			return err
		}
		in := &byID[k.run].inputs.DatasetInputs[index[k]]
		in.Tags = append(in.Tags, t)
		return nil
	})
}
