package conformance_test

import (
	"cmp"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// dataset is a log-inputs dataset as MLflow's Python client sends it.
func dataset(name, digest string) map[string]any {
	return map[string]any{"name": name, "digest": digest, "source_type": "local", "source": `{"uri": "/data/` + name + `.csv"}`}
}

// runInputs returns runs/get's inputs of a run.
func (s *target) runInputs(t *testing.T, runID string) map[string]any {
	t.Helper()
	return obj(s.ok(t, http.MethodGet, "runs/get", map[string]any{"run_id": runID}), "run", "inputs")
}

// deletedRun is a run created then deleted.
func (s *target) deletedRun(t *testing.T, prefix string) string {
	t.Helper()
	f := s.newRun(t, prefix)
	s.ok(t, http.MethodPost, "runs/delete", map[string]any{"run_id": f.run.Info.RunID})
	return f.run.Info.RunID
}

// integrityPrefix is the start of MLflow's reply to a row SQLite refuses.
const integrityPrefix = "(sqlite3.IntegrityError) UNIQUE constraint failed: "

func TestRunInputs(t *testing.T) {
	forEachTarget(t, []testCase{
		{"DatasetsAndModels", func(t *testing.T, s *target) {
			f := s.newRun(t, "inputs")
			withSchema := dataset("b", "d1")
			withSchema["schema"], withSchema["profile"] = `{"mlflow_colspec": []}`, `{"num_rows": 2}`
			s.ok(t, http.MethodPost, "runs/log-inputs", map[string]any{"run_id": f.run.Info.RunID, "datasets": []any{
				map[string]any{"dataset": withSchema, "tags": []any{
					map[string]any{"key": "z", "value": "1"},
					map[string]any{"key": mlflow.DatasetContextTag, "value": "training"},
				}},
				map[string]any{"dataset": dataset("a", "d2")},
				map[string]any{"dataset": dataset("a", "d2"), "tags": []any{map[string]any{"key": "ignored", "value": "x"}}},
			}, "models": []any{map[string]any{"model_id": "m-2"}, map[string]any{"model_id": "m-1"}}})
			want := map[string]any{
				"dataset_inputs": []any{
					map[string]any{"tags": []any{
						map[string]any{"key": mlflow.DatasetContextTag, "value": "training"},
						map[string]any{"key": "z", "value": "1"},
					}, "dataset": withSchema},
					map[string]any{"dataset": dataset("a", "d2")},
				},
				"model_inputs": []any{map[string]any{"model_id": "m-1"}, map[string]any{"model_id": "m-2"}},
			}
			assert.Equal(t, want, s.runInputs(t, f.run.Info.RunID), "logged order, first of a (name, digest), tags and models by key")

			// Again, with a new dataset first: kept ones stay as they were.
			s.ok(t, http.MethodPost, "runs/log-inputs", map[string]any{"run_id": f.run.Info.RunID, "datasets": []any{
				map[string]any{"dataset": dataset("c", "d3")},
				map[string]any{"dataset": dataset("a", "d2"), "tags": []any{map[string]any{"key": "late", "value": "x"}}},
			}, "models": []any{map[string]any{"model_id": "m-1"}}})
			got := s.runInputs(t, f.run.Info.RunID)
			assert.Len(t, got["dataset_inputs"], 3)
			assert.Equal(t, map[string]any{"dataset": dataset("c", "d3")}, list(got, "dataset_inputs")[2])
			assert.Equal(t, want["model_inputs"], got["model_inputs"])
		}},
		{"DatasetPerExperiment", func(t *testing.T, s *target) {
			f := s.newRun(t, "per-exp")
			other, err := s.c.CreateRun(t.Context(), mlflow.CreateRunRequest{ExperimentID: f.exp})
			require.NoError(t, err)
			s.ok(t, http.MethodPost, "runs/log-inputs", map[string]any{"run_id": f.run.Info.RunID, "datasets": []any{map[string]any{"dataset": dataset("x", "d")}}})
			changed := dataset("x", "d")
			changed["source"] = "elsewhere"
			s.ok(t, http.MethodPost, "runs/log-inputs", map[string]any{"run_id": other.Info.RunID, "datasets": []any{map[string]any{"dataset": changed}}})
			assert.Equal(t, dataset("x", "d"), obj(list(s.runInputs(t, other.Info.RunID), "dataset_inputs")[0], "dataset"),
				"the experiment's dataset of that name and digest")
		}},
		{"LaxDatasets", func(t *testing.T, s *target) {
			// MLflow checks lengths only: absent fields are empty strings.
			f := s.newRun(t, "lax")
			s.ok(t, http.MethodPost, "runs/log-inputs", map[string]any{"run_id": f.run.Info.RunID, "datasets": []any{
				map[string]any{},
				map[string]any{"dataset": map[string]any{"name": "only-name"}, "tags": []any{map[string]any{"key": "k"}}},
			}, "models": []any{map[string]any{}}})
			assert.Equal(t, map[string]any{
				"dataset_inputs": []any{
					map[string]any{"dataset": map[string]any{"name": "", "digest": "", "source_type": "", "source": ""}},
					map[string]any{"tags": []any{map[string]any{"key": "k", "value": ""}},
						"dataset": map[string]any{"name": "only-name", "digest": "", "source_type": "", "source": ""}},
				},
				"model_inputs": []any{map[string]any{"model_id": ""}},
			}, s.runInputs(t, f.run.Info.RunID))
			s.ok(t, http.MethodPost, "runs/log-inputs", map[string]any{"run_id": f.run.Info.RunID})
		}},
		{"InSearchAndCreate", func(t *testing.T, s *target) {
			f := s.newRun(t, "search-io")
			s.ok(t, http.MethodPost, "runs/log-inputs", map[string]any{"run_id": f.run.Info.RunID,
				"datasets": []any{map[string]any{"dataset": dataset("s", "d")}}, "models": []any{map[string]any{"model_id": "m-in"}}})
			s.ok(t, http.MethodPost, "runs/outputs", map[string]any{"run_id": f.run.Info.RunID, "models": []any{map[string]any{"model_id": "m-out", "step": 2}}})
			runs := list(s.ok(t, http.MethodPost, "runs/search", map[string]any{"experiment_ids": []string{f.exp}}), "runs")
			require.Len(t, runs, 1)
			assert.Equal(t, map[string]any{"dataset_inputs": []any{map[string]any{"dataset": dataset("s", "d")}}}, runs[0]["inputs"], "no model inputs in a search")
			assert.Equal(t, map[string]any{"model_outputs": []any{map[string]any{"model_id": "m-out", "step": float64(2)}}}, runs[0]["outputs"])
			created := s.ok(t, http.MethodPost, "runs/create", map[string]any{"experiment_id": f.exp})
			assert.Equal(t, map[string]any{}, obj(created, "run", "inputs"))
		}},
		{"Errors", func(t *testing.T, s *target) {
			f := s.newRun(t, "inputs-err")
			id := f.run.Info.RunID
			one := func(ds map[string]any, tags ...any) map[string]any {
				return map[string]any{"run_id": id, "datasets": []any{map[string]any{"dataset": ds, "tags": tags}}}
			}
			with := func(k string, v any) map[string]any { d := dataset("n", "d"); d[k] = v; return d }
			hint := " See the API docs for more information about request parameters."
			for name, c := range map[string]errCase{
				"NoRun":        {map[string]any{}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'." + hint},
				"RunNotString": {map[string]any{"run_id": 5}, 400, "INVALID_PARAMETER_VALUE", "Invalid value 5 for parameter 'run_id' supplied:  Hint: Value was of type 'int'." + hint},
				"BadRunID":     {map[string]any{"run_id": "x/y"}, 400, "INVALID_PARAMETER_VALUE", `Invalid value "x/y" for parameter 'run_id' supplied.`},
				"UnknownRun":   {map[string]any{"run_id": missingRunID}, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=" + missingRunID + " not found"},
				"DatasetsNotList": {map[string]any{"run_id": id, "datasets": map[string]any{"a": 1}}, 400, "INVALID_PARAMETER_VALUE",
					`Invalid value {"a":1} for parameter 'datasets' supplied:  Hint: Value was of type 'dict'.` + hint},
				"ModelsNotList": {map[string]any{"run_id": id, "models": "m"}, 400, "INVALID_PARAMETER_VALUE",
					`Invalid value "m" for parameter 'models' supplied:  Hint: Value was of type 'str'.` + hint},
				"LongName":   {one(dataset(strings.Repeat("n", 501), "d")), 400, "INVALID_PARAMETER_VALUE", "'name' exceeds the maximum length of 500 characters"},
				"LongDigest": {one(dataset("n", strings.Repeat("d", 37))), 400, "INVALID_PARAMETER_VALUE", "'digest' exceeds the maximum length of 36 characters"},
				"LongSource": {one(with("source", strings.Repeat("s", 65536))), 400, "INVALID_PARAMETER_VALUE", "'source' exceeds the maximum length of 65535 characters"},
				"LongSchema": {one(with("schema", strings.Repeat("s", 1048576))), 400, "INVALID_PARAMETER_VALUE", "'schema' exceeds the maximum length of 1048575 characters"},
				"LongTagKey": {one(dataset("n", "d"), map[string]any{"key": strings.Repeat("k", 256), "value": "v"}), 400, "INVALID_PARAMETER_VALUE", "'key' exceeds the maximum length of 255 characters"},
				"LongTagVal": {one(dataset("n", "d"), map[string]any{"key": "k", "value": strings.Repeat("v", 501)}), 400, "INVALID_PARAMETER_VALUE", "'value' exceeds the maximum length of 500 characters"},
				"DuplicateTag": {one(dataset("dup", "d"), map[string]any{"key": "k", "value": "1"}, map[string]any{"key": "k", "value": "2"}), 400, "BAD_REQUEST",
					integrityPrefix + "input_tags.input_uuid, input_tags.name\n[SQL: INSERT INTO input_tags (input_uuid, name, value) VALUES (?, ?, ?)]\n[parameters: [('…"},
			} {
				t.Run(name, func(t *testing.T) {
					wantError(t, s.api(t, http.MethodPost, "runs/log-inputs", c.in), c.status, c.code, c.msg)
				})
			}
			assert.Equal(t, map[string]any{}, s.runInputs(t, id), "nothing logged by a refused request")
			deleted := s.deletedRun(t, "inputs-deleted")
			wantError(t, s.api(t, http.MethodPost, "runs/log-inputs", map[string]any{"run_id": deleted}), 400, "INVALID_PARAMETER_VALUE",
				fmt.Sprintf("The run %s must be in the 'active' state. Current state is deleted.", deleted))
		}},
		{"Client", func(t *testing.T, s *target) {
			f := s.newRun(t, "inputs-client")
			in := mlflow.DatasetInput{Tags: []mlflow.Tag{{Key: mlflow.DatasetContextTag, Value: "eval"}}, Dataset: mlflow.Dataset{Name: "churn", Digest: "abc", SourceType: "local", Source: "{}"}}
			require.NoError(t, s.c.LogInputs(t.Context(), f.run.Info.RunID, []mlflow.DatasetInput{in}, []mlflow.ModelInput{{ModelID: "m-x"}}))
			require.NoError(t, s.c.LogOutputs(t.Context(), f.run.Info.RunID, []mlflow.ModelOutput{{ModelID: "m-x", Step: 3}}))
			got := s.runInputs(t, f.run.Info.RunID)
			assert.Equal(t, "churn", obj(list(got, "dataset_inputs")[0], "dataset")["name"])
		}},
	})
}

func TestRunOutputs(t *testing.T) {
	forEachTarget(t, []testCase{
		{"Log", func(t *testing.T, s *target) {
			f := s.newRun(t, "outputs")
			id := f.run.Info.RunID
			s.ok(t, http.MethodPost, "runs/outputs", map[string]any{"run_id": id, "models": []any{
				map[string]any{"model_id": "m-b", "step": 3}, map[string]any{"model_id": "m-a"},
				map[string]any{"model_id": "m-c", "step": "7"},
			}})
			s.ok(t, http.MethodPost, "runs/outputs", map[string]any{"run_id": id, "models": []any{}})
			got := s.ok(t, http.MethodGet, "runs/get", map[string]any{"run_id": id})
			assert.Equal(t, map[string]any{"model_outputs": []any{
				map[string]any{"model_id": "m-a", "step": float64(0)},
				map[string]any{"model_id": "m-b", "step": float64(3)},
				map[string]any{"model_id": "m-c", "step": float64(7)},
			}}, obj(got, "run", "outputs"), "by model id; a step may be a string of digits")
		}},
		{"Errors", func(t *testing.T, s *target) {
			f := s.newRun(t, "outputs-err")
			id := f.run.Info.RunID
			s.ok(t, http.MethodPost, "runs/outputs", map[string]any{"run_id": id, "models": []any{map[string]any{"model_id": "m-a"}}})
			hint := " See the API docs for more information about request parameters."
			insert := "inputs.source_type, inputs.source_id, inputs.destination_type, inputs.destination_id\n[SQL: INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id, step) VALUES (?, ?, ?, ?, ?, ?)]\n[parameters: "
			for name, c := range map[string]errCase{
				"NoRun":      {map[string]any{"models": []any{}}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'." + hint},
				"NoModels":   {map[string]any{"run_id": id}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'models'." + hint},
				"ModelsObj":  {map[string]any{"run_id": id, "models": map[string]any{}}, 400, "INVALID_PARAMETER_VALUE", "Invalid value {} for parameter 'models' supplied:  Hint: Value was of type 'dict'." + hint},
				"UnknownRun": {map[string]any{"run_id": missingRunID, "models": []any{}}, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=" + missingRunID + " not found"},
				"BadRunID":   {map[string]any{"run_id": "x/y", "models": []any{}}, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=x/y not found"},
				"Again": {map[string]any{"run_id": id, "models": []any{map[string]any{"model_id": "m-a", "step": 5}}}, 400, "BAD_REQUEST",
					integrityPrefix + insert + "('…"},
				"Twice": {map[string]any{"run_id": id, "models": []any{map[string]any{"model_id": "m-z"}, map[string]any{"model_id": "m-z"}}}, 400, "BAD_REQUEST",
					integrityPrefix + insert + "[('…"},
			} {
				t.Run(name, func(t *testing.T) {
					wantError(t, s.api(t, http.MethodPost, "runs/outputs", c.in), c.status, c.code, c.msg)
				})
			}
			got := s.ok(t, http.MethodGet, "runs/get", map[string]any{"run_id": id})
			assert.Equal(t, map[string]any{"model_outputs": []any{map[string]any{"model_id": "m-a", "step": float64(0)}}}, obj(got, "run", "outputs"))
			deleted := s.deletedRun(t, "outputs-deleted")
			wantError(t, s.api(t, http.MethodPost, "runs/outputs", map[string]any{"run_id": deleted, "models": []any{}}), 400, "INVALID_PARAMETER_VALUE",
				fmt.Sprintf("The run %s must be in the 'active' state. Current state is deleted.", deleted))
		}},
	})
}

// point is a sampled metric point: step, timestamp, value.
type point struct {
	Step, Timestamp int64
	Value           float64
}

// bulk calls get-history-bulk-interval and returns its points.
func (s *target) bulk(t *testing.T, prefix string, q url.Values) []point {
	t.Helper()
	r := s.do(t, http.MethodGet, prefix+"metrics/get-history-bulk-interval", q, nil)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var out []point
	for _, m := range list(r.JSON(t), "metrics") {
		v, ok := m["value"].(float64)
		if !ok {
			v = math.NaN()
		}
		out = append(out, point{int64(m["step"].(float64)), int64(m["timestamp"].(float64)), v})
	}
	return out
}

func TestMetricHistoryBulkInterval(t *testing.T) {
	const api = "/api/2.0/mlflow/"
	forEachTarget(t, []testCase{
		{"Sampling", func(t *testing.T, s *target) {
			f := s.newRun(t, "bulk")
			id := f.run.Info.RunID
			var ms []mlflow.Metric
			for i := range 50 {
				ms = append(ms, mlflow.Metric{Key: "loss", Value: float64(i) / 2, Timestamp: int64(1000 + i%7), Step: int64(i / 3)})
			}
			ms = append(ms, mlflow.Metric{Key: "loss", Value: math.NaN(), Timestamp: 5, Step: 4})
			require.NoError(t, s.c.LogBatch(t.Context(), id, ms, nil, nil))
			other := s.newRun(t, "bulk-other").run.Info.RunID
			require.NoError(t, s.c.LogBatch(t.Context(), other, ms[:5], nil, nil))

			all := s.bulk(t, api, url.Values{"run_ids": {id}, "metric_key": {"loss"}})
			require.Len(t, all, 51)
			assert.True(t, math.IsNaN(all[12].Value), "ordered by step, timestamp, value: %v", all[12])
			for _, n := range []string{"1", "2", "3", "7", "10", "50", "51", "52"} {
				got := s.bulk(t, api, url.Values{"run_ids": {id}, "metric_key": {"loss"}, "max_results": {n}})
				assert.Equal(t, all[len(all)-1], got[len(got)-1], "the last point is kept")
				assert.NotEmpty(t, got)
			}
			ranged := s.bulk(t, "/ajax-api/2.0/mlflow/", url.Values{"run_ids": {other, id, missingRunID, other}, "metric_key": {"loss"},
				"max_results": {"4"}, "start_step": {"1"}, "end_step": {"9"}})
			assert.Len(t, ranged, 2+4+2, "runs in the order given, each sampled")
			assert.Empty(t, s.bulk(t, api, url.Values{"run_ids": {id}, "metric_key": {"nope"}}))
			assert.Empty(t, s.bulk(t, api, url.Values{"run_ids": {""}, "metric_key": {"loss"}}))
		}},
		{"SamplesAgree", func(t *testing.T, s *target) {
			// Each value names its point; the points MLflow keeps are the
			// first of each of n NTILE buckets over the history ordered by
			// step, timestamp and value, the last replaced by the last point.
			f := s.newRun(t, "bulk-agree")
			var ms []mlflow.Metric
			for i := range 97 {
				ms = append(ms, mlflow.Metric{Key: "m", Value: float64(i), Timestamp: int64(i % 5), Step: int64(i / 2)})
			}
			require.NoError(t, s.c.LogBatch(t.Context(), f.run.Info.RunID, ms, nil, nil))
			sorted := slices.Clone(ms)
			slices.SortFunc(sorted, func(a, b mlflow.Metric) int {
				return cmp.Or(cmp.Compare(a.Step, b.Step), cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.Value, b.Value))
			})
			for _, n := range []int{1, 2, 5, 10, 96, 97, 98} {
				var want []float64
				for b, idx := 0, 0; b < n && idx < len(sorted); b++ {
					want = append(want, sorted[idx].Value)
					idx += len(sorted) / n
					if b < len(sorted)%n {
						idx++
					}
				}
				want[len(want)-1] = sorted[len(sorted)-1].Value
				var got []float64
				for _, p := range s.bulk(t, api, url.Values{"run_ids": {f.run.Info.RunID}, "metric_key": {"m"}, "max_results": {strconv.Itoa(n)}}) {
					got = append(got, p.Value)
				}
				assert.Equal(t, want, got, "max_results=%d", n)
			}
		}},
		{"DeletedRun", func(t *testing.T, s *target) {
			f := s.newRun(t, "bulk-deleted")
			require.NoError(t, s.c.LogBatch(t.Context(), f.run.Info.RunID, []mlflow.Metric{{Key: "m", Value: 1, Timestamp: 1}}, nil, nil))
			s.ok(t, http.MethodPost, "runs/delete", map[string]any{"run_id": f.run.Info.RunID})
			assert.Len(t, s.bulk(t, api, url.Values{"run_ids": {f.run.Info.RunID}, "metric_key": {"m"}}), 1, "deleted runs are not checked")
		}},
		{"Errors", func(t *testing.T, s *target) {
			hint := " See the API docs for more information about request parameters."
			many := make([]string, 101)
			for i := range many {
				many[i] = missingRunID
			}
			r := func(extra map[string]any) map[string]any {
				q := map[string]any{"run_ids": []string{missingRunID}, "metric_key": "m"}
				for k, v := range extra {
					if v == nil {
						delete(q, k)
					} else {
						q[k] = v
					}
				}
				return q
			}
			for name, c := range map[string]errCase{
				"NoRuns":       {r(map[string]any{"run_ids": nil}), 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_ids'." + hint},
				"TooManyRuns":  {r(map[string]any{"run_ids": many}), 400, "INVALID_PARAMETER_VALUE", "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids." + hint},
				"NoKey":        {r(map[string]any{"metric_key": nil}), 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'metric_key'." + hint},
				"EmptyKey":     {r(map[string]any{"metric_key": ""}), 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'metric_key'." + hint},
				"OnlyStart":    {r(map[string]any{"start_step": 1}), 400, "INVALID_PARAMETER_VALUE", "If either start step or end step are specified, both must be specified."},
				"OnlyEnd":      {r(map[string]any{"end_step": 1}), 400, "INVALID_PARAMETER_VALUE", "If either start step or end step are specified, both must be specified."},
				"Reversed":     {r(map[string]any{"start_step": 3, "end_step": 1}), 400, "INVALID_PARAMETER_VALUE", "end_step must be greater than start_step. Found start_step=3 and end_step=1."},
				"BadStart":     {r(map[string]any{"start_step": "abc", "end_step": 1}), 400, "INVALID_PARAMETER_VALUE", `Invalid value "abc" for parameter 'start_step' supplied:  Hint: Value was of type 'str'.` + hint},
				"FracEnd":      {r(map[string]any{"start_step": 1, "end_step": "1.5"}), 400, "INVALID_PARAMETER_VALUE", `Invalid value "1.5" for parameter 'end_step' supplied:  Hint: Value was of type 'str'.` + hint},
				"ZeroResults":  {r(map[string]any{"max_results": 0}), 400, "INVALID_PARAMETER_VALUE", "max_results must be between 1 and 2500." + hint},
				"ManyResults":  {r(map[string]any{"max_results": 2501}), 400, "INVALID_PARAMETER_VALUE", "max_results must be between 1 and 2500." + hint},
				"BadResults":   {r(map[string]any{"max_results": "x"}), 400, "INVALID_PARAMETER_VALUE", `Invalid value "x" for parameter 'max_results' supplied:  Hint: Value was of type 'str'.` + hint},
				"NoQueryAtAll": {map[string]any{}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_ids'." + hint},
			} {
				t.Run(name, func(t *testing.T) {
					wantError(t, s.api(t, http.MethodGet, "metrics/get-history-bulk-interval", c.in), c.status, c.code, c.msg)
				})
			}
		}},
	})
}

func TestListRunArtifacts(t *testing.T) {
	forEachTarget(t, []testCase{
		{"List", func(t *testing.T, s *target) {
			f := s.newRun(t, "list")
			for _, p := range []string{"some/sub/a.txt", "some/sub/deeper/b.txt", "top.txt"} {
				require.NoError(t, s.c.UploadArtifact(t.Context(), f.run.Info.ArtifactURI, p, strings.NewReader("x")))
			}
			id := f.run.Info.RunID
			root := f.run.Info.ArtifactURI
			for _, c := range []struct {
				in    map[string]any
				files []any
			}{
				{map[string]any{"run_id": id}, []any{map[string]any{"path": "some", "is_dir": true}, map[string]any{"path": "top.txt", "is_dir": false, "file_size": float64(1)}}},
				{map[string]any{"run_id": id, "path": ""}, []any{map[string]any{"path": "some", "is_dir": true}, map[string]any{"path": "top.txt", "is_dir": false, "file_size": float64(1)}}},
				{map[string]any{"run_uuid": id, "path": "some"}, []any{map[string]any{"path": "some/sub", "is_dir": true}}},
				{map[string]any{"run_id": id, "path": "some/sub/", "page_token": "x"}, []any{map[string]any{"path": "some/sub/a.txt", "is_dir": false, "file_size": float64(1)}, map[string]any{"path": "some/sub/deeper", "is_dir": true}}},
				{map[string]any{"run_id": id, "path": "top.txt"}, nil},
				{map[string]any{"run_id": id, "path": "nope"}, nil},
			} {
				got := s.ok(t, http.MethodGet, "artifacts/list", c.in)
				want := map[string]any{"root_uri": root}
				if c.files != nil {
					want["files"] = c.files
				}
				assert.Equal(t, want, got, "%v", c.in)
			}
		}},
		{"Errors", func(t *testing.T, s *target) {
			f := s.newRun(t, "list-err")
			for name, c := range map[string]errCase{
				"NoRun":      {map[string]any{}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'run_id'. See the API docs for more information about request parameters."},
				"UnknownRun": {map[string]any{"run_id": missingRunID}, 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=" + missingRunID + " not found"},
				"Parent":     {map[string]any{"run_id": f.run.Info.RunID, "path": "../x"}, 400, "INVALID_PARAMETER_VALUE", "Invalid path"},
				"Absolute":   {map[string]any{"run_id": f.run.Info.RunID, "path": "/etc"}, 400, "INVALID_PARAMETER_VALUE", "Invalid path"},
			} {
				t.Run(name, func(t *testing.T) {
					wantError(t, s.api(t, http.MethodGet, "artifacts/list", c.in), c.status, c.code, c.msg)
				})
			}
		}},
	})
}
