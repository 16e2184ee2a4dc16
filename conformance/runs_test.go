package conformance_test

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

const missingRunID = "0123456789abcdef0123456789abcdef"

func TestRuns(t *testing.T) {
	forEachTarget(t, []testCase{
		{"CreateDefaults", func(t *testing.T, s *target) {
			exp := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": unique("runs")})["experiment_id"]
			created := s.ok(t, http.MethodPost, "runs/create", map[string]any{"experiment_id": exp})
			assert.Equal(t, []string{"data", "info", "inputs"}, keys(obj(created, "run")))
			info := obj(created, "run", "info")
			assert.Equal(t, []string{"artifact_uri", "experiment_id", "lifecycle_stage", "run_id", "run_name", "run_uuid", "start_time", "status", "user_id"}, keys(info))
			assert.EqualValues(t, 0, info["start_time"], "start_time defaults to 0")
			assert.Equal(t, "RUNNING", info["status"])
			assert.Equal(t, "", info["user_id"])
			assert.Equal(t, info["run_id"], info["run_uuid"])
			assert.Regexp(t, `^[0-9a-f]{32}$`, info["run_id"])
			assert.Equal(t, fmt.Sprintf("mlflow-artifacts:/%s/%s/artifacts", exp, info["run_id"]), info["artifact_uri"])
			name, _ := info["run_name"].(string)
			assert.Regexp(t, `^[a-z]+-[a-z]+-\d+$`, name, "a random name like MLflow's")
			assert.Equal(t, []any{map[string]any{"key": "mlflow.runName", "value": name}}, obj(created, "run", "data")["tags"])

			got := s.ok(t, http.MethodGet, "runs/get", map[string]any{"run_id": info["run_id"]})
			assert.Equal(t, []string{"data", "info", "inputs", "outputs"}, keys(obj(got, "run")))
		}},
		{"ErrNoExperimentID", func(t *testing.T, s *target) {
			// MLflow 3.18 looks the Default experiment up, then fails to
			// insert a run with experiment_id "": clients always send one.
			r := s.api(t, http.MethodPost, "runs/create", map[string]any{"run_name": "no-experiment"})
			wantError(t, r, http.StatusBadRequest, "BAD_REQUEST", "")
			created := s.ok(t, http.MethodPost, "runs/create", map[string]any{"experiment_id": "0", "run_name": "default"})
			assert.Equal(t, "0", obj(created, "run", "info")["experiment_id"])
		}},
		{"CreateWithClient", func(t *testing.T, s *target) {
			f := s.newRun(t, "client")
			assert.Equal(t, "client", f.run.Info.RunName)
			assert.NotZero(t, f.run.Info.StartTime)
			v, ok := f.run.Tag("mlflow.runName")
			assert.True(t, ok)
			assert.Equal(t, "client", v)
		}},
		{"ErrRunNameConflict", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodPost, "runs/create", map[string]any{"run_name": "a", "tags": []any{map[string]any{"key": "mlflow.runName", "value": "b"}}})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='a', mlflow.runName='b').")
		}},
		{"ErrExperimentNotFound", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodPost, "runs/create", map[string]any{"experiment_id": "987654321"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654321 exists")
		}},
		{"ErrRunNotFound", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodGet, "runs/get", map[string]any{"run_id": missingRunID})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Run with id="+missingRunID+" not found")
			r = s.api(t, http.MethodGet, "runs/get", nil)
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Missing value for required parameter 'run_id'. See the API docs for more information about request parameters.")
		}},
		{"UpdateRun", func(t *testing.T, s *target) {
			f := s.newRun(t, "update")
			got := s.ok(t, http.MethodPost, "runs/update", map[string]any{"run_id": f.run.Info.RunID, "status": "FINISHED", "end_time": 1234})
			info := obj(got, "run_info")
			assert.Equal(t, "FINISHED", info["status"])
			assert.EqualValues(t, 1234, info["end_time"])
			s.ok(t, http.MethodPost, "runs/update", map[string]any{"run_id": f.run.Info.RunID, "run_name": "renamed"})
			run, err := s.c.GetRun(t.Context(), f.run.Info.RunID)
			require.NoError(t, err)
			assert.Equal(t, "renamed", run.Info.RunName)
			name, _ := run.Tag("mlflow.runName")
			assert.Equal(t, "renamed", name)

			r := s.api(t, http.MethodPost, "runs/update", map[string]any{"run_id": missingRunID, "status": "FINISHED"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Run with id="+missingRunID+" not found")
		}},
		{"LogMetricParamTag", func(t *testing.T, s *target) {
			f := s.newRun(t, "log")
			id := f.run.Info.RunID
			s.ok(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": id, "key": "loss", "value": 0.5, "timestamp": 10, "step": 1})
			s.ok(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": id, "key": "loss", "value": 0.25, "timestamp": 20, "step": 2})
			s.ok(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": id, "key": "loss", "value": 0.9, "timestamp": 30, "step": 0})
			s.ok(t, http.MethodPost, "runs/log-parameter", map[string]any{"run_id": id, "key": "l2", "value": "0.1"})
			s.ok(t, http.MethodPost, "runs/log-parameter", map[string]any{"run_id": id, "key": "l2", "value": "0.1"})
			s.ok(t, http.MethodPost, "runs/set-tag", map[string]any{"run_id": id, "key": "team", "value": "churn"})
			s.ok(t, http.MethodPost, "runs/set-tag", map[string]any{"run_uuid": id, "key": "team", "value": "churn-2"})
			run, err := s.c.GetRun(t.Context(), id)
			require.NoError(t, err)
			v, _ := run.Metric("loss")
			assert.Equal(t, 0.25, v, "the latest metric is the highest step")
			p, _ := run.Param("l2")
			assert.Equal(t, "0.1", p)
			tag, _ := run.Tag("team")
			assert.Equal(t, "churn-2", tag)

			hist := s.ok(t, http.MethodGet, "metrics/get-history", map[string]any{"run_id": id, "metric_key": "loss"})
			assert.Len(t, list(hist, "metrics"), 3)

			s.ok(t, http.MethodPost, "runs/delete-tag", map[string]any{"run_id": id, "key": "team"})
			r := s.api(t, http.MethodPost, "runs/delete-tag", map[string]any{"run_id": id, "key": "team"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "No tag with name: team in run with id "+id)
		}},
		{"ErrParamChanged", func(t *testing.T, s *target) {
			f := s.newRun(t, "param")
			id := f.run.Info.RunID
			s.ok(t, http.MethodPost, "runs/log-parameter", map[string]any{"run_id": id, "key": "solver", "value": "lbfgs"})
			r := s.api(t, http.MethodPost, "runs/log-parameter", map[string]any{"run_id": id, "key": "solver", "value": "saga"})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Changing param values is not allowed. Param with key='solver' was already logged with value='lbfgs' for run ID='"+id+"'. Attempted logging new value 'saga'.")
			r = s.api(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": id, "params": []any{map[string]any{"key": "solver", "value": "saga"}}})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Changing param values is not allowed. Params were already logged='[{'key': 'solver', 'old_value': 'lbfgs', 'new_value': 'saga'}]' for run ID='"+id+"'.")
		}},
		{"ErrMetricInvalid", func(t *testing.T, s *target) {
			f := s.newRun(t, "metric")
			id := f.run.Info.RunID
			r := s.api(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": id, "key": "m", "value": 1})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Missing value for required parameter 'timestamp'. See the API docs for more information about request parameters.")
			r = s.api(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": id, "key": "../m", "value": 1, "timestamp": 1})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				`Invalid value "../m" for parameter 'name' supplied: Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '../m'`)
			r = s.api(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": id, "key": "a*b", "value": 1, "timestamp": 1})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				`Invalid value "a*b" for parameter 'name' supplied: Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`)
			r = s.api(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": missingRunID, "key": "m", "value": 1, "timestamp": 1})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "Run with id="+missingRunID+" not found")
		}},
		{"LogBatch", func(t *testing.T, s *target) {
			f := s.newRun(t, "batch")
			id := f.run.Info.RunID
			s.ok(t, http.MethodPost, "runs/log-batch", map[string]any{
				"run_id":  id,
				"metrics": []any{map[string]any{"key": "f1", "value": 0.5, "timestamp": 10, "step": 0}, map[string]any{"key": "f1", "value": 0.7, "timestamp": 11, "step": 1}},
				"params":  []any{map[string]any{"key": "l2", "value": "1"}},
				"tags":    []any{map[string]any{"key": "mlflow.runName", "value": "batch-renamed"}, map[string]any{"key": "t", "value": "v"}},
			})
			run := obj(s.ok(t, http.MethodGet, "runs/get", map[string]any{"run_id": id}), "run")
			assert.Equal(t, []any{map[string]any{"key": "f1", "value": 0.7, "timestamp": float64(11), "step": float64(1)}}, obj(run, "data")["metrics"])
			assert.Equal(t, "batch-renamed", obj(run, "info")["run_name"])
		}},
		{"LogBatchLongValuesTruncated", func(t *testing.T, s *target) {
			f := s.newRun(t, "long")
			require.NoError(t, s.c.LogBatch(t.Context(), f.run.Info.RunID, nil,
				[]mlflow.Param{{Key: "p", Value: strings.Repeat("é", 6001)}}, []mlflow.Tag{{Key: "t", Value: strings.Repeat("x", 8001)}}))
			run, err := s.c.GetRun(t.Context(), f.run.Info.RunID)
			require.NoError(t, err)
			p, _ := run.Param("p")
			assert.Equal(t, strings.Repeat("é", 6000), p, "params are cut to 6000 characters")
			tag, _ := run.Tag("t")
			assert.Len(t, tag, 8000, "tags to 8000")
		}},
		{"ErrLogBatchLimits", func(t *testing.T, s *target) {
			f := s.newRun(t, "limits")
			var params []any
			for i := range 101 {
				params = append(params, map[string]any{"key": fmt.Sprintf("p%d", i), "value": "v"})
			}
			r := s.api(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": f.run.Info.RunID, "params": params})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"A batch logging request can contain at most 100 params. Got 101 params. Please split up params across multiple requests and try again.")
			var metrics []any
			for i := range 1001 {
				metrics = append(metrics, map[string]any{"key": "m", "value": i, "timestamp": 1, "step": i})
			}
			r = s.api(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": f.run.Info.RunID, "metrics": metrics})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics across multiple requests and try again.")
			r = s.api(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": f.run.Info.RunID, "params": []any{
				map[string]any{"key": "d", "value": "1"}, map[string]any{"key": "d", "value": "2"}}})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Duplicate parameter keys have been submitted: ['d']. Please ensure the request contains only one param value per param key.")
			r = s.api(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": f.run.Info.RunID, "metrics": []any{map[string]any{"key": "m", "value": 1}}})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Missing value for required parameter 'metrics[0].timestamp'. See the API docs for more information about request parameters.")
			r = s.api(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": "not a run id"})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", `Invalid value "not a run id" for parameter 'run_id' supplied.`)
		}},
		{"NonFiniteMetrics", func(t *testing.T, s *target) {
			f := s.newRun(t, "nan")
			id := f.run.Info.RunID
			s.ok(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": id, "metrics": []any{
				map[string]any{"key": "nan", "value": "NaN", "timestamp": 1},
				map[string]any{"key": "pinf", "value": "Infinity", "timestamp": 1},
				map[string]any{"key": "ninf", "value": "-Infinity", "timestamp": 1},
			}})
			r := s.api(t, http.MethodGet, "runs/get", map[string]any{"run_id": id})
			assert.Contains(t, string(r.Body), `"value": "NaN"`)
			run, err := s.c.GetRun(t.Context(), id)
			require.NoError(t, err)
			v, _ := run.Metric("nan")
			assert.True(t, math.IsNaN(v))
			v, _ = run.Metric("pinf")
			assert.Equal(t, math.MaxFloat64, v, "+Inf is stored as MaxFloat64")
			v, _ = run.Metric("ninf")
			assert.Equal(t, -math.MaxFloat64, v)
		}},
		{"ErrDeletedRun", func(t *testing.T, s *target) {
			f := s.newRun(t, "deleted")
			id := f.run.Info.RunID
			s.ok(t, http.MethodPost, "runs/delete", map[string]any{"run_id": id})
			r := s.api(t, http.MethodPost, "runs/set-tag", map[string]any{"run_id": id, "key": "k", "value": "v"})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "The run "+id+" must be in the 'active' state. Current state is deleted.")
			run, err := s.c.GetRun(t.Context(), id)
			require.NoError(t, err)
			assert.Equal(t, "deleted", run.Info.LifecycleStage)
			s.ok(t, http.MethodPost, "runs/restore", map[string]any{"run_id": id})
			s.ok(t, http.MethodPost, "runs/set-tag", map[string]any{"run_id": id, "key": "k", "value": "v"})
		}},
	})
}
