package conformance_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// testCase is one named behaviour, checked on every target.
type testCase struct {
	name string
	run  func(t *testing.T, s *target)
}

// forEachTarget runs cases against each target, the targets in parallel.
func forEachTarget(t *testing.T, cases []testCase) {
	t.Helper()
	for _, name := range targetNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startTarget(t, name)
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, s) })
			}
		})
	}
}

func TestServer(t *testing.T) {
	forEachTarget(t, []testCase{
		{"Health", func(t *testing.T, s *target) {
			require.NoError(t, s.c.Health(t.Context()))
			r := s.do(t, http.MethodGet, "/health", nil, nil)
			assert.Equal(t, "OK", string(r.Body))
			assert.True(t, strings.HasPrefix(r.ContentType, "text/plain"), r.ContentType)
		}},
		{"Version", func(t *testing.T, s *target) {
			v, err := s.c.ServerVersion(t.Context())
			require.NoError(t, err)
			assert.Regexp(t, regexp.MustCompile(`^3\.18\.0(\+|$)`), v)
		}},
		{"ServerInfo", func(t *testing.T, s *target) {
			// MLflow 3 clients read it before moving artifacts.
			r := s.do(t, http.MethodGet, "/api/3.0/mlflow/server-info", nil, nil)
			require.Equal(t, http.StatusOK, r.Status)
			info := r.JSON(t)
			for key, want := range map[string]any{
				"store_type": "SqlStore", "workspaces_enabled": false, "multipart_uploads_enabled": false,
				"multipart_downloads_enabled": false, "artifact_serving_enabled": true, "artifacts_presigned_only": false,
			} {
				assert.Equal(t, want, info[key], key)
			}
		}},
		{"ErrContentTypeMissing", func(t *testing.T, s *target) {
			r := s.do(t, http.MethodPost, "/api/2.0/mlflow/experiments/create", nil, []byte(`{"name":"x"}`))
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing.")
		}},
		{"ErrContentTypeNotJSON", func(t *testing.T, s *target) {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.uri+"/api/2.0/mlflow/experiments/create", strings.NewReader(`{"name":"x"}`))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "text/plain")
			resp, err := s.hc.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		}},
		{"ErrUnknownEndpoint", func(t *testing.T, s *target) {
			// Flask's HTML 404 page, without an MLflow error code, for every
			// prefix and method: mlflow.isMissingEndpoint relies on it.
			for _, path := range []string{"/api/2.0/mlflow/no-such-endpoint", "/api/3.0/mlflow/no-such-endpoint", "/ajax-api/2.0/mlflow/no-such-endpoint", "/api/2.0/mlflow/experiments/create/more", "/no-such-page"} {
				for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
					r := s.do(t, method, path, nil, map[string]any{})
					assert.Equal(t, http.StatusNotFound, r.Status, "%s %s", method, path)
					assert.Equal(t, "text/html; charset=utf-8", r.ContentType, "%s %s", method, path)
					assert.Contains(t, string(r.Body), "<title>404 Not Found</title>", "%s %s", method, path)
					assert.NotContains(t, string(r.Body), "error_code", "%s %s", method, path)
				}
			}
		}},
		{"ErrMethodNotAllowed", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodGet, "experiments/create", nil)
			assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
		}},
	})
}

func TestExperiments(t *testing.T) {
	forEachTarget(t, []testCase{
		{"CreateGet", func(t *testing.T, s *target) {
			name := unique("exp")
			id, err := s.c.CreateExperiment(t.Context(), name, map[string]string{"team": "churn"})
			require.NoError(t, err)
			got := s.ok(t, http.MethodGet, "experiments/get", map[string]any{"experiment_id": id})
			e := obj(got, "experiment")
			assert.Equal(t, []string{"artifact_location", "creation_time", "experiment_id", "last_update_time", "lifecycle_stage", "name", "tags", "workspace"}, keys(e))
			assert.Equal(t, name, e["name"])
			assert.Equal(t, "mlflow-artifacts:/"+id, e["artifact_location"])
			assert.Equal(t, "active", e["lifecycle_stage"])
			assert.Equal(t, "default", e["workspace"])
			assert.Equal(t, e["creation_time"], e["last_update_time"])
			assert.Equal(t, []any{map[string]any{"key": "team", "value": "churn"}}, e["tags"])

			byName, err := s.c.GetExperimentByName(t.Context(), name)
			require.NoError(t, err)
			assert.Equal(t, id, byName.ExperimentID)
		}},
		{"CreateWithoutTags", func(t *testing.T, s *target) {
			id := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": unique("exp")})["experiment_id"]
			e := obj(s.ok(t, http.MethodGet, "experiments/get", map[string]any{"experiment_id": id}), "experiment")
			assert.NotContains(t, e, "tags", "no tags: the field is left out")
		}},
		{"DefaultExperiment", func(t *testing.T, s *target) {
			e := obj(s.ok(t, http.MethodGet, "experiments/get", map[string]any{"experiment_id": "0"}), "experiment")
			assert.Equal(t, "Default", e["name"])
			assert.Equal(t, "mlflow-artifacts:/0", e["artifact_location"])
		}},
		{"ErrAlreadyExists", func(t *testing.T, s *target) {
			name := unique("exp")
			s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": name})
			r := s.api(t, http.MethodPost, "experiments/create", map[string]any{"name": name})
			wantError(t, r, http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS", fmt.Sprintf("Experiment(name=%s) already exists.…", name))
		}},
		{"ErrNameMissing", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodPost, "experiments/create", map[string]any{})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Missing value for required parameter 'name'. See the API docs for more information about request parameters.")
		}},
		{"ErrNameBlank", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodPost, "experiments/create", map[string]any{"name": "   "})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid experiment name: '   '")
		}},
		{"ErrNotFoundByID", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodGet, "experiments/get", map[string]any{"experiment_id": "987654321"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654321 exists")
			_, err := s.c.GetExperiment(t.Context(), "987654321")
			require.ErrorIs(t, err, mlflow.ErrNotFound)
		}},
		{"ErrInvalidID", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodGet, "experiments/get", map[string]any{"experiment_id": "abc"})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid experiment ID 'abc'. Experiment ID must be a valid integer.")
		}},
		{"ErrNotFoundByName", func(t *testing.T, s *target) {
			name := unique("missing")
			r := s.api(t, http.MethodGet, "experiments/get-by-name", map[string]any{"experiment_name": name})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Could not find experiment with name '%s'", name))
		}},
		{"ErrExperimentNameMissing", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodGet, "experiments/get-by-name", nil)
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Missing value for required parameter 'experiment_name'. See the API docs for more information about request parameters.")
		}},
		{"Update", func(t *testing.T, s *target) {
			name := unique("exp")
			id := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": name})["experiment_id"]
			before := obj(s.ok(t, http.MethodGet, "experiments/get", map[string]any{"experiment_id": id}), "experiment")
			assert.Empty(t, s.ok(t, http.MethodPost, "experiments/update", map[string]any{"experiment_id": id, "new_name": name + "-new"}))
			assert.Empty(t, s.ok(t, http.MethodPost, "experiments/update", map[string]any{"experiment_id": id, "new_name": name + "-new"}), "its own name is no conflict")
			e := obj(s.ok(t, http.MethodGet, "experiments/get", map[string]any{"experiment_id": id}), "experiment")
			assert.Equal(t, name+"-new", e["name"])
			assert.Equal(t, before["artifact_location"], e["artifact_location"])
			assert.GreaterOrEqual(t, e["last_update_time"], before["last_update_time"])
			got, err := s.c.GetExperimentByName(t.Context(), name+"-new")
			require.NoError(t, err)
			assert.Equal(t, id, got.ExperimentID)
			_, err = s.c.GetExperimentByName(t.Context(), name)
			require.ErrorIs(t, err, mlflow.ErrNotFound)
		}},
		{"ErrUpdate", func(t *testing.T, s *target) {
			name, taken, deleted := unique("exp"), unique("exp"), unique("exp")
			id := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": name})["experiment_id"]
			s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": taken})
			gone := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": deleted})["experiment_id"]
			s.ok(t, http.MethodPost, "experiments/delete", map[string]any{"experiment_id": gone})
			const conflict = "(sqlite3.IntegrityError) UNIQUE constraint failed: experiments.workspace, experiments.name…"
			for _, tc := range []errCase{
				{map[string]any{"experiment_id": id, "new_name": taken}, 400, "BAD_REQUEST", conflict},
				{map[string]any{"experiment_id": id, "new_name": deleted}, 400, "BAD_REQUEST", conflict},
				{map[string]any{"experiment_id": gone, "new_name": name + "-free"}, 500, "INVALID_STATE", "Cannot rename a non-active experiment."},
				{map[string]any{"experiment_id": "987654321", "new_name": "x"}, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654321 exists"},
				{map[string]any{"experiment_id": "abc", "new_name": "x"}, 400, "INVALID_PARAMETER_VALUE", "Invalid experiment ID 'abc'. Experiment ID must be a valid integer."},
				{map[string]any{"experiment_id": "abc", "new_name": "   "}, 400, "INVALID_PARAMETER_VALUE", "Invalid experiment name: '   '"},
				{map[string]any{"experiment_id": id, "new_name": ""}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'new_name'. See the API docs for more information about request parameters."},
				{map[string]any{"new_name": "x"}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'experiment_id'. See the API docs for more information about request parameters."},
			} {
				wantError(t, s.api(t, http.MethodPost, "experiments/update", tc.in), tc.status, tc.code, tc.msg)
			}
		}},
		{"Tags", func(t *testing.T, s *target) {
			name := unique("exp")
			id := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": name})["experiment_id"]
			for _, kv := range [][2]string{{"b", "2"}, {"a", "1"}, {"a", "3"}} {
				assert.Empty(t, s.ok(t, http.MethodPost, "experiments/set-experiment-tag", map[string]any{"experiment_id": id, "key": kv[0], "value": kv[1]}))
			}
			s.ok(t, http.MethodPost, "experiments/set-experiment-tag", map[string]any{"experiment_id": id, "key": "e"})
			// MLflow lists tags in insertion order, the embedded server by
			// key: compare them as sets.
			tags := func() []any {
				return obj(s.ok(t, http.MethodGet, "experiments/get", map[string]any{"experiment_id": id}), "experiment")["tags"].([]any)
			}
			tag := func(k, v string) any { return map[string]any{"key": k, "value": v} }
			assert.ElementsMatch(t, []any{tag("a", "3"), tag("b", "2"), tag("e", "")}, tags())
			assert.Empty(t, s.ok(t, http.MethodPost, "experiments/delete-experiment-tag", map[string]any{"experiment_id": id, "key": "b"}))
			assert.ElementsMatch(t, []any{tag("a", "3"), tag("e", "")}, tags())
			found := list(s.ok(t, http.MethodPost, "experiments/search", map[string]any{"filter": fmt.Sprintf("name = '%s'", name), "max_results": 10}), "experiments")
			require.Len(t, found, 1)
			assert.ElementsMatch(t, []any{tag("a", "3"), tag("e", "")}, found[0]["tags"])
		}},
		{"ErrTags", func(t *testing.T, s *target) {
			id := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": unique("exp")})["experiment_id"]
			gone := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": unique("exp")})["experiment_id"]
			s.ok(t, http.MethodPost, "experiments/delete", map[string]any{"experiment_id": gone})
			notActive := fmt.Sprintf("The experiment %s must be in the 'active' state. Current state is deleted.", gone)
			missing := func(field string) string {
				return "Missing value for required parameter '" + field + "'. See the API docs for more information about request parameters."
			}
			for _, tc := range []struct {
				endpoint string
				in       map[string]any
				status   int
				code     string
				msg      string
			}{
				{"set-experiment-tag", map[string]any{"experiment_id": gone, "key": "k", "value": "v"}, 400, "INVALID_PARAMETER_VALUE", notActive},
				{"delete-experiment-tag", map[string]any{"experiment_id": gone, "key": "k"}, 400, "INVALID_PARAMETER_VALUE", notActive},
				{"delete-experiment-tag", map[string]any{"experiment_id": id, "key": "nope"}, 404, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("No tag with name: nope in experiment with id %s", id)},
				{"set-experiment-tag", map[string]any{"experiment_id": "987654321", "key": "k", "value": "v"}, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654321 exists"},
				{"delete-experiment-tag", map[string]any{"experiment_id": "987654321", "key": "k"}, 404, "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654321 exists"},
				{"set-experiment-tag", map[string]any{"experiment_id": "abc", "key": "a/../b", "value": "v"}, 400, "INVALID_PARAMETER_VALUE",
					`Invalid value "a/../b" for parameter 'key' supplied: Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to 'b'`},
				{"set-experiment-tag", map[string]any{"experiment_id": "abc", "key": "k", "value": "v"}, 400, "INVALID_PARAMETER_VALUE", "Invalid experiment ID 'abc'. Experiment ID must be a valid integer."},
				{"delete-experiment-tag", map[string]any{"experiment_id": "abc", "key": "k"}, 400, "INVALID_PARAMETER_VALUE", "Invalid experiment ID 'abc'. Experiment ID must be a valid integer."},
				{"set-experiment-tag", map[string]any{"experiment_id": id, "value": "v"}, 400, "INVALID_PARAMETER_VALUE", missing("key")},
				{"delete-experiment-tag", map[string]any{"experiment_id": id}, 400, "INVALID_PARAMETER_VALUE", missing("key")},
				{"set-experiment-tag", map[string]any{"key": "k"}, 400, "INVALID_PARAMETER_VALUE", missing("experiment_id")},
			} {
				wantError(t, s.api(t, http.MethodPost, "experiments/"+tc.endpoint, tc.in), tc.status, tc.code, tc.msg)
			}
		}},
		{"GetByNameReturnsDeleted", func(t *testing.T, s *target) {
			name := unique("deleted")
			id := s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": name})["experiment_id"]
			s.ok(t, http.MethodPost, "experiments/delete", map[string]any{"experiment_id": id})
			e, err := s.c.GetExperimentByName(t.Context(), name)
			require.NoError(t, err)
			assert.Equal(t, "deleted", e.LifecycleStage)
			_, err = s.c.GetOrCreateExperiment(t.Context(), name)
			require.ErrorIs(t, err, mlflow.ErrAlreadyExists, "a deleted experiment's name is taken")
			s.ok(t, http.MethodPost, "experiments/restore", map[string]any{"experiment_id": id})
			e, err = s.c.GetExperimentByName(t.Context(), name)
			require.NoError(t, err)
			assert.Equal(t, "active", e.LifecycleStage)
		}},
		{"Search", func(t *testing.T, s *target) {
			prefix := unique("search-exp")
			var ids []string
			for i := range 3 {
				ids = append(ids, s.ok(t, http.MethodPost, "experiments/create", map[string]any{"name": fmt.Sprintf("%s-%d", prefix, i)})["experiment_id"].(string))
			}
			in := map[string]any{"filter": fmt.Sprintf("name LIKE '%s-%%'", prefix), "max_results": 2, "order_by": []string{"name DESC"}}
			page := s.ok(t, http.MethodPost, "experiments/search", in)
			got := list(page, "experiments")
			require.Len(t, got, 2)
			assert.Equal(t, ids[2], got[0]["experiment_id"])
			assert.Equal(t, ids[1], got[1]["experiment_id"])
			require.NotEmpty(t, page["next_page_token"])
			in["page_token"] = page["next_page_token"]
			last := s.ok(t, http.MethodPost, "experiments/search", in)
			require.Len(t, list(last, "experiments"), 1)
			assert.Equal(t, ids[0], list(last, "experiments")[0]["experiment_id"])
			assert.NotContains(t, last, "next_page_token")

			byGet := s.ok(t, http.MethodGet, "experiments/search", map[string]any{"filter": fmt.Sprintf("name = '%s-1'", prefix), "max_results": 10})
			require.Len(t, list(byGet, "experiments"), 1)
			assert.Equal(t, ids[1], list(byGet, "experiments")[0]["experiment_id"])
		}},
		{"SearchErrMaxResults", func(t *testing.T, s *target) {
			r := s.api(t, http.MethodPost, "experiments/search", map[string]any{})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer")
		}},
	})
}
