package conformance_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The logged models API of MLflow 3 (/api/2.0/mlflow/logged-models...).

// newExperiment creates an experiment and returns its id and artifact
// location.
func (s *target) newExperiment(t testing.TB, prefix string) (string, string) {
	t.Helper()
	id := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": unique(prefix)})["experiment_id"].(string)
	exp := obj(s.ok(t, http.MethodGet, "experiments/get", map[string]any{"experiment_id": id}), "experiment")
	return id, exp["artifact_location"].(string)
}

// createModel creates a logged model from body and returns its info.
func (s *target) createModel(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	return obj(s.ok(t, http.MethodPost, "logged-models", body), "model", "info")
}

// getModel reads a logged model.
func (s *target) getModel(t testing.TB, id string) map[string]any {
	t.Helper()
	return obj(s.ok(t, http.MethodGet, "logged-models/"+id, nil), "model")
}

// searchNames runs a logged model search and returns the names found and
// the next page token.
func (s *target) searchNames(t testing.TB, body map[string]any) ([]string, string) {
	t.Helper()
	out := s.ok(t, http.MethodPost, "logged-models/search", body)
	var names []string
	for _, m := range list(out, "models") {
		names = append(names, obj(m, "info")["name"].(string))
	}
	next, _ := out["next_page_token"].(string)
	return names, next
}

var modelIDPattern = regexp.MustCompile(`^m-[0-9a-f]{32}$`)

func notFoundModel(id string) string { return fmt.Sprintf("Logged model with ID '%s' not found.", id) }

func TestLoggedModels(t *testing.T) {
	forEachTarget(t, []testCase{
		{"CreateGet", loggedModelCreateGet},
		{"ErrCreate", loggedModelErrCreate},
		{"ErrNotFound", loggedModelErrNotFound},
		{"Finalize", loggedModelFinalize},
		{"TagsParams", loggedModelTagsParams},
		{"Delete", loggedModelDelete},
		{"Metrics", loggedModelMetrics},
		{"Artifacts", loggedModelArtifacts},
		{"ModelVersions", loggedModelVersions},
		{"WrongMethod", func(t *testing.T, s *target) {
			for _, c := range []struct{ method, path string }{
				{http.MethodPut, "logged-models/m-x"},
				{http.MethodGet, "logged-models/m-x/params"},
				{http.MethodPost, "logged-models/m-x/tags/k"},
				{http.MethodGet, "logged-models"},
			} {
				r := s.do(t, c.method, "/api/2.0/mlflow/"+c.path, nil, nil)
				assert.Equal(t, http.StatusMethodNotAllowed, r.Status, "%s %s", c.method, c.path)
			}
			r := s.api(t, http.MethodGet, "logged-models/search", nil)
			wantError(t, r, 404, "RESOURCE_DOES_NOT_EXIST", notFoundModel("search"))
		}},
	})
}

func loggedModelCreateGet(t *testing.T, s *target) {
	exp, location := s.newExperiment(t, "lm")
	f := s.newRun(t, "lm-run")
	info := s.createModel(t, map[string]any{
		"experiment_id": exp, "name": "churn", "model_type": "sklearn", "source_run_id": f.run.Info.RunID,
		"params": []any{map[string]any{"key": "C", "value": "0.5"}}, "tags": []any{map[string]any{"key": "team", "value": "churn"}},
	})
	id := info["model_id"].(string)
	assert.Regexp(t, modelIDPattern, id)
	assert.Equal(t, []string{"artifact_uri", "creation_timestamp_ms", "experiment_id", "last_updated_timestamp_ms", "model_id", "model_type", "name", "source_run_id", "status", "tags"}, keys(info))
	assert.Equal(t, location+"/models/"+id+"/artifacts", info["artifact_uri"])
	assert.Equal(t, "LOGGED_MODEL_PENDING", info["status"])
	assert.Equal(t, f.run.Info.RunID, info["source_run_id"])
	got := s.getModel(t, id)
	assert.Equal(t, info, obj(got, "info"))
	assert.Equal(t, []any{map[string]any{"key": "C", "value": "0.5"}}, obj(got, "data")["params"])

	bare := s.createModel(t, map[string]any{"experiment_id": exp})
	assert.NotEmpty(t, bare["name"], "a random name")
	assert.Equal(t, "", bare["model_type"])
	assert.Equal(t, "", bare["source_run_id"])
	assert.Empty(t, keys(obj(s.getModel(t, bare["model_id"].(string)), "data")))
}

func loggedModelErrCreate(t *testing.T, s *target) {
	exp, _ := s.newExperiment(t, "lm-err")
	s.ok(t, http.MethodPost, "experiments/delete", map[string]any{"experiment_id": exp})
	for _, c := range []errCase{
		{map[string]any{}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'experiment_id'. See the API docs for more information about request parameters."},
		{map[string]any{"experiment_id": 1}, 400, "INVALID_PARAMETER_VALUE", "Invalid value 1 for parameter 'experiment_id' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters."},
		{map[string]any{"experiment_id": "x"}, 400, "INVALID_PARAMETER_VALUE", "Invalid experiment ID 'x'. Experiment ID must be a valid integer."},
		{map[string]any{"experiment_id": "987654321"}, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654321 exists"},
		{map[string]any{"experiment_id": "0", "name": "a/b"}, 400, "INVALID_PARAMETER_VALUE", `Invalid model name ('a/b') provided. Model name must be a non-empty string and cannot contain the following characters: ('/', ':', '.', '%', '"', "'")`},
		{map[string]any{"experiment_id": exp}, 400, "INVALID_PARAMETER_VALUE", fmt.Sprintf("The experiment %s must be in the 'active' state. Current state is deleted.", exp)},
		{map[string]any{"experiment_id": "0", "tags": "x"}, 400, "INVALID_PARAMETER_VALUE", `Invalid value "x" for parameter 'tags' supplied:  Hint: Value was of type 'str'. See the API docs for more information about request parameters.`},
	} {
		wantError(t, s.api(t, http.MethodPost, "logged-models", c.in), c.status, c.code, c.msg)
	}
}

func loggedModelErrNotFound(t *testing.T, s *target) {
	id := "m-" + strings.Repeat("0", 32)
	for _, r := range []reply{
		s.api(t, http.MethodGet, "logged-models/"+id, nil),
		s.api(t, http.MethodPatch, "logged-models/"+id, map[string]any{"model_id": id, "status": "LOGGED_MODEL_READY"}),
		s.api(t, http.MethodDelete, "logged-models/"+id, nil),
		s.api(t, http.MethodPatch, "logged-models/"+id+"/tags", map[string]any{"tags": []any{map[string]any{"key": "k", "value": "v"}}}),
		s.api(t, http.MethodDelete, "logged-models/"+id+"/tags/k", nil),
		s.api(t, http.MethodPost, "logged-models/"+id+"/params", map[string]any{"model_id": id, "params": []any{map[string]any{"key": "k", "value": "v"}}}),
		s.api(t, http.MethodGet, "logged-models/"+id+"/artifacts/directories", nil),
	} {
		wantError(t, r, 404, "RESOURCE_DOES_NOT_EXIST", notFoundModel(id))
	}
}

func loggedModelFinalize(t *testing.T, s *target) {
	info := s.createModel(t, map[string]any{"experiment_id": "0"})
	id := info["model_id"].(string)
	finalize := func(body map[string]any) reply { return s.api(t, http.MethodPatch, "logged-models/"+id, body) }
	for _, c := range []struct {
		status any
		want   string
	}{
		{"LOGGED_MODEL_READY", "LOGGED_MODEL_READY"},
		{1, "LOGGED_MODEL_PENDING"},
		{"3", "LOGGED_MODEL_UPLOAD_FAILED"},
		{"BAD", "LOGGED_MODEL_STATUS_UNSPECIFIED"},
		{7, "LOGGED_MODEL_STATUS_UNSPECIFIED"},
	} {
		r := finalize(map[string]any{"model_id": id, "status": c.status})
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
		assert.Equal(t, c.want, obj(r.JSON(t), "model", "info")["status"], "status %v", c.status)
	}
	assert.Equal(t, "LOGGED_MODEL_STATUS_UNSPECIFIED", obj(s.getModel(t, id), "info")["status"])
	missing := "Missing value for required parameter '%s'. See the API docs for more information about request parameters."
	wantError(t, finalize(map[string]any{"status": "LOGGED_MODEL_READY"}), 400, "INVALID_PARAMETER_VALUE", fmt.Sprintf(missing, "model_id"))
	wantError(t, finalize(map[string]any{"model_id": id}), 400, "INVALID_PARAMETER_VALUE", fmt.Sprintf(missing, "status"))
	wantError(t, finalize(map[string]any{"status": 7}), 400, "INVALID_PARAMETER_VALUE",
		"Invalid value null for parameter 'model_id' supplied:  Hint: Value was of type 'NoneType'. See the API docs for more information about request parameters.")
}

func loggedModelTagsParams(t *testing.T, s *target) {
	id := s.createModel(t, map[string]any{"experiment_id": "0", "params": []any{map[string]any{"key": "a", "value": "1"}}})["model_id"].(string)
	s.ok(t, http.MethodPatch, "logged-models/"+id+"/tags", map[string]any{"tags": []any{
		map[string]any{"key": "t", "value": "1"}, map[string]any{"key": "u", "value": "w"}, map[string]any{"key": "t", "value": "2"},
	}})
	s.ok(t, http.MethodPatch, "logged-models/"+id+"/tags", map[string]any{})
	s.ok(t, http.MethodDelete, "logged-models/"+id+"/tags/u", nil)
	assert.Equal(t, []any{map[string]any{"key": "t", "value": "2"}}, obj(s.getModel(t, id), "info")["tags"])
	wantError(t, s.api(t, http.MethodDelete, "logged-models/"+id+"/tags/u", nil), 404, "RESOURCE_DOES_NOT_EXIST",
		fmt.Sprintf("No tag with key 'u' found for model with ID '%s'.", id))
	wantError(t, s.api(t, http.MethodPatch, "logged-models/"+id+"/tags", map[string]any{"tags": "x"}), 400, "INVALID_PARAMETER_VALUE",
		`Invalid value "x" for parameter 'tags' supplied:  Hint: Value was of type 'str'. See the API docs for more information about request parameters.`)

	params := func(kv ...string) map[string]any {
		var ps []any
		for i := 0; i < len(kv); i += 2 {
			ps = append(ps, map[string]any{"key": kv[i], "value": kv[i+1]})
		}
		return map[string]any{"model_id": id, "params": ps}
	}
	s.ok(t, http.MethodPost, "logged-models/"+id+"/params", params("b", "2"))
	s.ok(t, http.MethodPost, "logged-models/"+id+"/params", map[string]any{"model_id": id})
	assert.Equal(t, []any{map[string]any{"key": "a", "value": "1"}, map[string]any{"key": "b", "value": "2"}}, obj(s.getModel(t, id), "data")["params"])
	wantError(t, s.api(t, http.MethodPost, "logged-models/"+id+"/params", params("b", "3")), 400, "BAD_REQUEST",
		"(sqlite3.IntegrityError) UNIQUE constraint failed: logged_model_params.model_id, logged_model_params.param_key\n"+
			"[SQL: INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES (?, ?, ?, ?)]\n"+
			"[parameters: ('"+id+"', 0, 'b', '3')]\n(Background on this error at: https://sqlalche.me/e/21/gkpj)")
	wantError(t, s.api(t, http.MethodPost, "logged-models/"+id+"/params", params("c", "3", "a", "1")), 400, "BAD_REQUEST",
		"(sqlite3.IntegrityError) UNIQUE constraint failed: logged_model_params.model_id, logged_model_params.param_key\n…")
	dup := []any{map[string]any{"key": "k", "value": "1"}, map[string]any{"key": "k", "value": "2"}}
	for field, table := range map[string]string{"params": "logged_model_params", "tags": "logged_model_tags"} {
		r := s.api(t, http.MethodPost, "logged-models", map[string]any{"experiment_id": "0", field: dup})
		what := strings.TrimSuffix(field, "s")
		wantError(t, r, 400, "BAD_REQUEST", fmt.Sprintf("(sqlite3.IntegrityError) UNIQUE constraint failed: %s.model_id, %s.%s_key\n"+
			"[SQL: INSERT INTO %s (model_id, experiment_id, %s_key, %s_value) VALUES (?, ?, ?, ?)]\n[parameters: [('m-…", table, table, what, table, what, what))
		assert.Contains(t, string(r.Body), `, '0', 'k', '1'), (`, "the experiment id as the request gave it")
	}
	wantError(t, s.api(t, http.MethodPost, "logged-models/"+id+"/params", map[string]any{}), 400, "INVALID_PARAMETER_VALUE",
		"Missing value for required parameter 'model_id'. See the API docs for more information about request parameters.")
	assert.Len(t, obj(s.getModel(t, id), "data")["params"], 2, "a failed call logs nothing")
}

func loggedModelDelete(t *testing.T, s *target) {
	exp, _ := s.newExperiment(t, "lm-del")
	id := s.createModel(t, map[string]any{"experiment_id": exp, "name": "gone"})["model_id"].(string)
	s.createModel(t, map[string]any{"experiment_id": exp, "name": "kept"})
	s.ok(t, http.MethodDelete, "logged-models/"+id, nil)
	s.ok(t, http.MethodDelete, "logged-models/"+id, nil)
	wantError(t, s.api(t, http.MethodGet, "logged-models/"+id, nil), 404, "RESOURCE_DOES_NOT_EXIST", notFoundModel(id))
	got := s.ok(t, http.MethodGet, "logged-models/"+id, map[string]any{"allow_deleted": "true"})
	assert.Equal(t, "gone", obj(got, "model", "info")["name"])
	s.ok(t, http.MethodPatch, "logged-models/"+id+"/tags", map[string]any{"tags": []any{map[string]any{"key": "k", "value": "v"}}})
	names, _ := s.searchNames(t, map[string]any{"experiment_ids": []string{exp}})
	assert.Equal(t, []string{"kept"}, names)
}

func loggedModelMetrics(t *testing.T, s *target) {
	f := s.newRun(t, "lm-metrics")
	id := s.createModel(t, map[string]any{"experiment_id": f.exp})["model_id"].(string)
	run := f.run.Info.RunID
	s.ok(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": run, "key": "acc", "value": 0.5, "timestamp": 10, "step": 1,
		"model_id": id, "dataset_name": "test", "dataset_digest": "d1"})
	s.ok(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": run, "metrics": []any{
		map[string]any{"key": "acc", "value": 0.75, "timestamp": 11, "step": 2, "model_id": id},
		map[string]any{"key": "loss", "value": "NaN", "timestamp": 11, "step": 2, "model_id": id},
		map[string]any{"key": "plain", "value": 1, "timestamp": 11, "step": 2},
	}})
	s.ok(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": run, "metrics": []any{
		map[string]any{"key": "acc", "value": 0.75, "timestamp": 11, "step": 2, "model_id": id},
	}})
	metrics := obj(s.getModel(t, id), "data")["metrics"].([]any)
	require.Len(t, metrics, 3, "every point, once: %v", metrics)
	assert.Equal(t, map[string]any{"key": "acc", "value": 0.5, "timestamp": float64(10), "step": float64(1), "dataset_name": "test",
		"dataset_digest": "d1", "model_id": id, "run_id": run}, metrics[0])
	assert.Equal(t, []string{"key", "model_id", "run_id", "step", "timestamp", "value"}, keys(metrics[1]))
	assert.Equal(t, float64(0), metrics[2].(map[string]any)["value"], "NaN is stored as 0")
	r := obj(s.ok(t, http.MethodGet, "runs/get", map[string]any{"run_id": run}), "run", "data")
	assert.Len(t, r["metrics"], 3, "the run has its latest metrics as before")

	fk := "(sqlite3.IntegrityError) FOREIGN KEY constraint failed\n[SQL: INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)]\n" +
		"[parameters: ('m-nope', 'acc', 20, 3, 0.5, " + f.exp + ", '" + run + "', None, 'ds', 'd9')]\n(Background on this error at: https://sqlalche.me/e/21/gkpj)"
	wantError(t, s.api(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": run, "key": "acc", "value": 0.5, "timestamp": 20, "step": 3,
		"model_id": "m-nope", "dataset_name": "ds", "dataset_digest": "d9"}), 400, "BAD_REQUEST", fk)
	wantError(t, s.api(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": run, "metrics": []any{
		map[string]any{"key": "acc", "value": 0.5, "timestamp": 20, "step": 3, "model_id": "m-nope", "dataset_name": "ds", "dataset_digest": "d9"},
	}}), 400, "BAD_REQUEST", fk)
	wantError(t, s.api(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": run, "key": "acc", "value": 0.5, "timestamp": 20, "model_id": 5}),
		400, "INVALID_PARAMETER_VALUE", "Invalid value 5 for parameter 'model_id' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters.")
	wantError(t, s.api(t, http.MethodPost, "runs/log-metric", map[string]any{"run_id": run, "key": "acc", "value": 0.5, "timestamp": 20, "dataset_name": "ds"}),
		400, "INVALID_PARAMETER_VALUE", "Both dataset_name and dataset_digest must be provided if one is provided")
	wantError(t, s.api(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": run, "metrics": []any{
		map[string]any{"key": "acc", "value": 0.5, "timestamp": 20, "dataset_digest": "d9"},
	}}), 400, "INVALID_PARAMETER_VALUE", "Both dataset_name and dataset_digest must be provided if one is provided")
	hist := s.ok(t, http.MethodGet, "metrics/get-history", map[string]any{"run_id": run, "metric_key": "acc"})
	assert.Len(t, hist["metrics"], 3, "log-batch keeps the run's points when the model's fail; log-metric does not")
}

func loggedModelArtifacts(t *testing.T, s *target) {
	info := s.createModel(t, map[string]any{"experiment_id": "0"})
	id, root := info["model_id"].(string), info["artifact_uri"].(string)
	proxied := "/api/2.0/mlflow-artifacts/artifacts/" + strings.TrimPrefix(root, "mlflow-artifacts:/")
	for p, body := range map[string]string{"MLmodel": "flavors: {}\n", "sub/model.pkl": "pickle"} {
		r := s.do(t, http.MethodPut, proxied+"/"+p, nil, []byte(body))
		require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	}
	list := func(dir string) map[string]any {
		in := map[string]any{}
		if dir != "" {
			in["artifact_directory_path"] = dir
		}
		return s.ok(t, http.MethodGet, "logged-models/"+id+"/artifacts/directories", in)
	}
	size := func(n int) float64 { return float64(n) }
	assert.Equal(t, map[string]any{"root_uri": root, "files": []any{
		map[string]any{"path": "MLmodel", "is_dir": false, "file_size": size(len("flavors: {}\n"))},
		map[string]any{"path": "sub", "is_dir": true},
	}}, list(""))
	assert.Equal(t, map[string]any{"root_uri": root, "files": []any{
		map[string]any{"path": "sub/model.pkl", "is_dir": false, "file_size": size(len("pickle"))},
	}}, list("sub"))
	assert.Equal(t, map[string]any{"root_uri": root}, list("none"))
	wantError(t, s.api(t, http.MethodGet, "logged-models/m-nope/artifacts/directories", map[string]any{"artifact_directory_path": "../x"}),
		400, "INVALID_PARAMETER_VALUE", "Invalid path")
}

func loggedModelVersions(t *testing.T, s *target) {
	f := s.newRun(t, "lm-reg")
	info := s.createModel(t, map[string]any{"experiment_id": f.exp, "source_run_id": f.run.Info.RunID})
	id, root := info["model_id"].(string), info["artifact_uri"].(string)
	name := unique("lm-reg")
	s.ok(t, http.MethodPost, "registered-models/create", map[string]any{"name": name})
	create := func(body map[string]any) reply {
		body["name"] = name
		return s.api(t, http.MethodPost, "model-versions/create", body)
	}
	r := create(map[string]any{"source": "models:/" + id, "model_id": id})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	mv := obj(r.JSON(t), "model_version")
	assert.NotContains(t, keys(mv), "model_id", "MLflow 3.18 does not return model_id")
	assert.Equal(t, f.run.Info.RunID, mv["run_id"], "the model's source run")
	assert.Equal(t, "models:/"+id, mv["source"])
	r = create(map[string]any{"source": root + "/sub", "model_id": id, "run_id": f.run.Info.RunID})
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	for v, want := range map[string]string{"1": root, "2": root + "/sub"} {
		uri := s.ok(t, http.MethodGet, "model-versions/get-download-uri", map[string]any{"name": name, "version": v})
		assert.Equal(t, want, uri["artifact_uri"], "version %s", v)
	}
	tags := obj(s.getModel(t, id), "info")["tags"]
	assert.Equal(t, []any{map[string]any{"key": "mlflow.modelVersions",
		"value": fmt.Sprintf(`[{"name": "%s", "version": 1}, {"name": "%s", "version": 2}]`, name, name)}}, tags)

	bad := func(source string) string {
		return fmt.Sprintf("Invalid model version source: '%s'. The model_id request parameter must identify the resource that contains the source.", source)
	}
	other := "m-" + strings.Repeat("1", 32)
	for _, c := range []errCase{
		{map[string]any{"source": "models:/" + id}, 400, "INVALID_PARAMETER_VALUE", bad("models:/" + id)},
		{map[string]any{"source": "models:/" + id, "model_id": other}, 400, "INVALID_PARAMETER_VALUE", bad("models:/" + id)},
		{map[string]any{"source": "runs:/" + f.run.Info.RunID + "/model", "model_id": id}, 400, "INVALID_PARAMETER_VALUE", bad("runs:/" + f.run.Info.RunID + "/model")},
		{map[string]any{"source": root + "-other", "model_id": id}, 400, "INVALID_PARAMETER_VALUE", bad(root + "-other")},
		{map[string]any{"source": "mlflow-artifacts:/0/models/" + other + "/artifacts", "model_id": other}, 400, "INVALID_PARAMETER_VALUE", bad("mlflow-artifacts:/0/models/" + other + "/artifacts")},
		{map[string]any{"source": "models:/" + other, "model_id": other}, 500, "INTERNAL_ERROR",
			fmt.Sprintf("Unable to fetch model from model URI source artifact location 'models:/%s'.Error: %s", other, notFoundModel(other))},
		{map[string]any{"source": "models:/" + id, "model_id": 5}, 400, "INVALID_PARAMETER_VALUE",
			"Invalid value 5 for parameter 'model_id' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters."},
	} {
		wantError(t, create(c.in), c.status, c.code, c.msg)
	}
}

func TestSearchLoggedModels(t *testing.T) {
	forEachTarget(t, []testCase{
		{"FilterOrderPage", searchLoggedModelsFilterOrder},
		{"Errors", searchLoggedModelsErrors},
	})
}

// searchFixture creates an experiment with models a1 (READY, acc 0.5 on
// dataset ds, then 0.9 at a later step), b2 (acc 0.7) and c3 (no metric).
func (s *target) searchFixture(t testing.TB) string {
	t.Helper()
	f := s.newRun(t, "lm-search")
	ids := map[string]string{}
	for i, n := range []string{"a1", "b2", "c3"} {
		ids[n] = s.createModel(t, map[string]any{"experiment_id": f.exp, "name": n,
			"params": []any{map[string]any{"key": "p", "value": fmt.Sprint(i)}}, "tags": []any{map[string]any{"key": "t", "value": n}}})["model_id"].(string)
	}
	s.ok(t, http.MethodPatch, "logged-models/"+ids["a1"], map[string]any{"model_id": ids["a1"], "status": "LOGGED_MODEL_READY"})
	s.ok(t, http.MethodPost, "runs/log-batch", map[string]any{"run_id": f.run.Info.RunID, "metrics": []any{
		map[string]any{"key": "acc", "value": 0.5, "timestamp": 1, "step": 1, "model_id": ids["a1"], "dataset_name": "ds", "dataset_digest": "d1"},
		map[string]any{"key": "acc", "value": 0.9, "timestamp": 1, "step": 2, "model_id": ids["a1"]},
		map[string]any{"key": "acc", "value": 0.7, "timestamp": 1, "step": 1, "model_id": ids["b2"], "dataset_name": "ds", "dataset_digest": "d2"},
	}})
	return f.exp
}

func searchLoggedModelsFilterOrder(t *testing.T, s *target) {
	exp := s.searchFixture(t)
	search := func(body map[string]any) []string {
		body["experiment_ids"] = []string{exp}
		names, _ := s.searchNames(t, body)
		return names
	}
	byName := []any{map[string]any{"field_name": "name"}}
	for _, c := range []struct {
		body map[string]any
		want []string
	}{
		{map[string]any{"order_by": byName}, []string{"a1", "b2", "c3"}},
		{map[string]any{"order_by": []any{map[string]any{"field_name": "name", "ascending": false}}}, []string{"c3", "b2", "a1"}},
		{map[string]any{"order_by": []any{map[string]any{"field_name": "metrics.acc", "ascending": false}, byName[0]}}, []string{"a1", "b2", "c3"}},
		{map[string]any{"order_by": []any{map[string]any{"field_name": "metrics.acc"}, byName[0]}}, []string{"b2", "a1", "c3"}},
		{map[string]any{"order_by": []any{map[string]any{"field_name": "metrics.acc", "dataset_name": "ds"}, byName[0]}}, []string{"a1", "b2", "c3"}},
		{map[string]any{"filter": "name = 'a1'"}, []string{"a1"}},
		{map[string]any{"filter": "name LIKE 'A%'"}, nil},
		{map[string]any{"filter": "name LIKE 'a_'", "order_by": byName}, []string{"a1"}},
		{map[string]any{"filter": "name ILIKE 'A%'"}, []string{"a1"}},
		{map[string]any{"filter": "name ILIKE '%2'"}, []string{"b2"}},
		{map[string]any{"filter": "name IN ('a1', 'c3')", "order_by": byName}, []string{"a1", "c3"}},
		{map[string]any{"filter": "name NOT IN ('a1')", "order_by": byName}, []string{"b2", "c3"}},
		{map[string]any{"filter": "tags.t != 'b2' AND params.p = '2'"}, []string{"c3"}},
		{map[string]any{"filter": "metrics.acc > 0.6", "order_by": byName}, []string{"a1", "b2"}},
		{map[string]any{"filter": "metrics.acc < 0.8"}, []string{"b2"}},
		{map[string]any{"filter": "status = 'READY'"}, []string{"a1"}},
		{map[string]any{"filter": "status IN ('PENDING')", "order_by": byName}, []string{"b2", "c3"}},
		{map[string]any{"filter": "creation_timestamp > 0 AND attributes.name = 'c3'"}, []string{"c3"}},
		{map[string]any{"datasets": []any{map[string]any{"dataset_name": "ds", "dataset_digest": "d1"}}}, []string{"a1"}},
		{map[string]any{"datasets": []any{map[string]any{"dataset_name": "ds"}}}, nil},
		{map[string]any{"datasets": []any{map[string]any{"dataset_name": "ds", "dataset_digest": "d2"}}}, []string{"b2"}},
		{map[string]any{"filter": "metrics.acc >= 0.5", "datasets": []any{map[string]any{"dataset_name": "ds", "dataset_digest": "d1"}}}, []string{"a1"}},
	} {
		assert.Equal(t, c.want, search(c.body), "%v", c.body)
	}

	page := map[string]any{"experiment_ids": []string{exp}, "max_results": 2, "order_by": byName}
	names, next := s.searchNames(t, page)
	assert.Equal(t, []string{"a1", "b2"}, names)
	raw, err := base64.StdEncoding.DecodeString(next)
	require.NoError(t, err)
	assert.Equal(t, `{"experiment_ids": ["`+exp+`"], "filter_string": null, "order_by": [{"field_name": "name", "ascending": true, "dataset_name": null, "dataset_digest": null}], "offset": 2}`, string(raw))
	page["page_token"] = next
	names, next = s.searchNames(t, page)
	assert.Equal(t, []string{"c3"}, names)
	assert.Empty(t, next)
	names, _ = s.searchNames(t, map[string]any{"experiment_ids": []string{"987654321"}})
	assert.Empty(t, names)
}

func searchLoggedModelsErrors(t *testing.T, s *target) {
	exp := s.searchFixture(t)
	token := func(body string) string { return base64.StdEncoding.EncodeToString([]byte(body)) }
	hint := "Invalid value [1] for parameter 'experiment_ids' supplied:  Hint: Value was of type 'list'. See the API docs for more information about request parameters."
	andOnly := "Expected a list of comparisons separated by 'AND' (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01')."
	for _, c := range []errCase{
		{map[string]any{}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'experiment_ids'. See the API docs for more information about request parameters."},
		{map[string]any{"experiment_ids": []any{1}}, 400, "INVALID_PARAMETER_VALUE", hint},
		{map[string]any{"experiment_ids": []string{"x"}}, 400, "INVALID_PARAMETER_VALUE", "Invalid experiment ID 'x'. Experiment ID must be a valid integer."},
		{map[string]any{"filter": "name = 'a' OR name = 'b'"}, 400, "INVALID_PARAMETER_VALUE", `Invalid filter string: "name = 'a' OR name = 'b'". ` + andOnly},
		{map[string]any{"filter": "name"}, 400, "INVALID_PARAMETER_VALUE", "Invalid filter string: 'name'. " + andOnly},
		{map[string]any{"filter": "name > 'a'"}, 400, "INVALID_PARAMETER_VALUE", "Invalid comparison operator for attributes.name: '>'. Expected one of ('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN')."},
		{map[string]any{"filter": "creation_time LIKE 0"}, 400, "INVALID_PARAMETER_VALUE", "Invalid comparison operator for attributes.creation_timestamp_ms: 'LIKE'. Expected one of ('<', '<=', '>', '>=', '=', '!=')."},
		{map[string]any{"filter": "metrics.acc ILIKE 'x'"}, 400, "INVALID_PARAMETER_VALUE", "Invalid comparison operator for metrics.acc: 'ILIKE'. Expected one of ('<', '<=', '>', '>=', '=', '!=')."},
		{map[string]any{"filter": "bar.x = 'a'"}, 400, "INVALID_PARAMETER_VALUE", "Invalid entity type: 'bar'. Expected one of ['attributes', 'metrics', 'params', 'tags']."},
		{map[string]any{"filter": "foo = 'a'"}, 500, "INTERNAL_ERROR", "type object 'SqlLoggedModel' has no attribute 'foo'"},
		{map[string]any{"filter": "metrics.acc > abc"}, 500, "INTERNAL_ERROR", "could not convert string to float: 'abc'"},
		{map[string]any{"filter": "status = 'LOGGED_MODEL_READY'"}, 400, "INVALID_PARAMETER_VALUE", "Unknown model status in filter: 'LOGGED_MODEL_READY'"},
		{map[string]any{"filter": "status IN ('READY', 'X')"}, 400, "INVALID_PARAMETER_VALUE", "Unknown model status in filter: ('READY', 'X')"},
		{map[string]any{"filter": "status LIKE 'READY'"}, 400, "INVALID_PARAMETER_VALUE", "Invalid comparison operator for status: LIKE"},
		{map[string]any{"order_by": []any{map[string]any{"field_name": "bogus"}}}, 400, "INVALID_PARAMETER_VALUE", "Invalid order by field name: bogus"},
		{map[string]any{"order_by": []any{map[string]any{}}}, 400, "INVALID_PARAMETER_VALUE", "Invalid order by field name: "},
		{map[string]any{"order_by": []any{map[string]any{"field_name": "params.p"}}}, 400, "INVALID_PARAMETER_VALUE", "Invalid order by field name: params.p. Only metrics are supported."},
		{map[string]any{"datasets": []any{map[string]any{"dataset_digest": "d1"}}}, 400, "INVALID_PARAMETER_VALUE", "`dataset_name` in the `datasets` clause must be specified."},
		{map[string]any{"page_token": token(`{"experiment_ids": ["x"], "filter_string": null, "order_by": null, "offset": 2}`)}, 400, "INVALID_PARAMETER_VALUE",
			"Experiment IDs in the page token do not match the requested experiment IDs. Expected: ['" + exp + "']. Found: ['x']"},
		{map[string]any{"page_token": token(`{"experiment_ids": ["` + exp + `"], "filter_string": "name = 'a1'", "order_by": null, "offset": 2}`)}, 400, "INVALID_PARAMETER_VALUE",
			"Filter string in the page token does not match the requested filter string. Expected: None. Found: name = 'a1'"},
		{map[string]any{"order_by": []any{map[string]any{"field_name": "name"}}, "page_token": token(`{"experiment_ids": ["` + exp + `"], "filter_string": null, "order_by": null, "offset": 2}`)},
			400, "INVALID_PARAMETER_VALUE",
			"Order by in the page token does not match the requested order by. Expected: [{'field_name': 'name', 'ascending': True, 'dataset_name': None, 'dataset_digest': None}]. Found: None"},
	} {
		if _, ok := c.in["experiment_ids"]; !ok && len(c.in) > 0 {
			c.in["experiment_ids"] = []string{exp}
		}
		wantError(t, s.api(t, http.MethodPost, "logged-models/search", c.in), c.status, c.code, c.msg)
	}
}
