package conformance_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

func TestRegisteredModels(t *testing.T) {
	forEachTarget(t, []testCase{
		{"CreateGet", func(t *testing.T, s *target) {
			name := unique("Churn")
			created := s.ok(t, http.MethodPost, "registered-models/create", map[string]any{
				"name": name, "description": "predicts churn", "tags": []any{map[string]any{"key": "team", "value": "churn"}},
			})
			rm := obj(created, "registered_model")
			assert.Equal(t, []string{"creation_timestamp", "description", "last_updated_timestamp", "name", "tags"}, keys(rm))
			bare := obj(s.ok(t, http.MethodPost, "registered-models/create", map[string]any{"name": name + "-bare"}), "registered_model")
			assert.Equal(t, []string{"creation_timestamp", "last_updated_timestamp", "name"}, keys(bare), "empty description and tags are left out")

			m, err := s.c.GetRegisteredModel(t.Context(), name)
			require.NoError(t, err)
			assert.Equal(t, "predicts churn", m.Description)
			team, _ := m.Tag("team")
			assert.Equal(t, "churn", team)
			assert.Empty(t, m.LatestVersions)
		}},
		{"ErrAlreadyExists", func(t *testing.T, s *target) {
			name := unique("Churn")
			s.ok(t, http.MethodPost, "registered-models/create", map[string]any{"name": name})
			r := s.api(t, http.MethodPost, "registered-models/create", map[string]any{"name": name})
			wantError(t, r, http.StatusBadRequest, "RESOURCE_ALREADY_EXISTS", fmt.Sprintf("Registered Model (name=%s) already exists.", name))
		}},
		{"ErrInvalidName", func(t *testing.T, s *target) {
			for _, tc := range []struct{ name, msg string }{
				{"a/b", "Invalid model name 'a/b'. Names cannot contain '/' or ':'."},
				{"a:b", "Invalid model name 'a:b'. Names cannot contain '/' or ':'."},
				{"", "Missing value for required parameter 'name'. See the API docs for more information about request parameters."},
			} {
				r := s.api(t, http.MethodPost, "registered-models/create", map[string]any{"name": tc.name})
				wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", tc.msg)
			}
		}},
		{"ErrNotFound", func(t *testing.T, s *target) {
			name := unique("missing")
			r := s.api(t, http.MethodGet, "registered-models/get", map[string]any{"name": name})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Registered Model with name=%s not found", name))
			r = s.api(t, http.MethodPost, "registered-models/set-tag", map[string]any{"name": name, "key": "k", "value": "v"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Registered Model with name=%s not found", name))
			r = s.api(t, http.MethodDelete, "registered-models/delete-tag", map[string]any{"name": name, "key": "k"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Registered Model with name=%s not found", name))
		}},
		{"Tags", func(t *testing.T, s *target) {
			name := unique("Churn")
			_, err := s.c.CreateRegisteredModel(t.Context(), name, nil, "")
			require.NoError(t, err)
			require.NoError(t, s.c.SetRegisteredModelTag(t.Context(), name, "status", "pending"))
			require.NoError(t, s.c.SetRegisteredModelTag(t.Context(), name, "status", "passed"))
			m, err := s.c.GetRegisteredModel(t.Context(), name)
			require.NoError(t, err)
			v, _ := m.Tag("status")
			assert.Equal(t, "passed", v)
			require.NoError(t, s.c.DeleteRegisteredModelTag(t.Context(), name, "status"))
			require.NoError(t, s.c.DeleteRegisteredModelTag(t.Context(), name, "never-set"), "deleting a missing tag succeeds")
			m, err = s.c.GetRegisteredModel(t.Context(), name)
			require.NoError(t, err)
			assert.Empty(t, m.Tags)
		}},
		{"UpdateDelete", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "upd", 1)
			got := s.ok(t, http.MethodPatch, "registered-models/update", map[string]any{"name": name, "description": "new"})
			assert.Equal(t, "new", obj(got, "registered_model")["description"])
			s.ok(t, http.MethodDelete, "registered-models/delete", map[string]any{"name": name})
			_, err := s.c.GetRegisteredModel(t.Context(), name)
			require.ErrorIs(t, err, mlflow.ErrNotFound)
			_, err = s.c.GetModelVersion(t.Context(), name, "1")
			require.ErrorIs(t, err, mlflow.ErrNotFound, "its versions go with it")
		}},
		{"Rename", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "ren", 1)
			s.ok(t, http.MethodPost, "registered-models/set-tag", map[string]any{"name": name, "key": "team", "value": "churn"})
			s.ok(t, http.MethodPost, "model-versions/set-tag", map[string]any{"name": name, "version": "1", "key": "vk", "value": "vv"})
			s.ok(t, http.MethodPost, "registered-models/alias", map[string]any{"name": name, "alias": "champion", "version": "1"})
			before := obj(s.ok(t, http.MethodGet, "registered-models/get", map[string]any{"name": name}), "registered_model")
			same := obj(s.ok(t, http.MethodPost, "registered-models/rename", map[string]any{"name": name, "new_name": name}), "registered_model")
			assert.Equal(t, name, same["name"], "renaming to the same name succeeds")
			newName := name + "-new"
			got := obj(s.ok(t, http.MethodPost, "registered-models/rename", map[string]any{"name": name, "new_name": newName}), "registered_model")
			assert.Equal(t, []string{"aliases", "creation_timestamp", "last_updated_timestamp", "latest_versions", "name", "tags"}, keys(got))
			assert.Equal(t, newName, got["name"])
			assert.Equal(t, before["creation_timestamp"], got["creation_timestamp"])
			assert.Equal(t, []any{map[string]any{"alias": "champion", "version": "1"}}, got["aliases"])
			assert.Equal(t, []any{map[string]any{"key": "team", "value": "churn"}}, got["tags"])
			latest := list(got, "latest_versions")
			require.Len(t, latest, 1)
			assert.Equal(t, newName, latest[0]["name"])
			assert.Equal(t, got["last_updated_timestamp"], latest[0]["last_updated_timestamp"], "the versions' update time is the rename's")
			mv := obj(s.ok(t, http.MethodGet, "registered-models/alias", map[string]any{"name": newName, "alias": "champion"}), "model_version")
			assert.Equal(t, []any{map[string]any{"key": "vk", "value": "vv"}}, mv["tags"])
			_, err := s.c.GetRegisteredModel(t.Context(), name)
			require.ErrorIs(t, err, mlflow.ErrNotFound, "the old name is gone")
		}},
		{"ErrRename", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "ren", 0)
			taken, _ := s.newModel(t, "ren", 0)
			missing := unique("missing")
			for _, tc := range []struct {
				name, newName string
				status        int
				code, msg     string
			}{
				{name, taken, 400, "RESOURCE_ALREADY_EXISTS", fmt.Sprintf("Registered Model (name=%s) already exists. Error: …", taken)},
				{missing, unique("free"), 404, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Registered Model with name=%s not found", missing)},
				{missing, "a/b", 400, "INVALID_PARAMETER_VALUE", "Invalid model name 'a/b'. Names cannot contain '/' or ':'."},
				{"a:b", unique("free"), 400, "INVALID_PARAMETER_VALUE", "Invalid model name 'a:b'. Names cannot contain '/' or ':'."},
				{name, "", 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'new_name'. See the API docs for more information about request parameters."},
				{"", "", 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'. See the API docs for more information about request parameters."},
			} {
				r := s.api(t, http.MethodPost, "registered-models/rename", map[string]any{"name": tc.name, "new_name": tc.newName})
				wantError(t, r, tc.status, tc.code, tc.msg)
			}
			r := s.api(t, http.MethodGet, "registered-models/rename", map[string]any{"name": name, "new_name": "x"})
			assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
		}},
		{"Search", func(t *testing.T, s *target) {
			prefix := unique("Search")
			for _, suffix := range []string{"-c", "-a", "-b"} {
				s.ok(t, http.MethodPost, "registered-models/create", map[string]any{"name": prefix + suffix, "tags": []any{map[string]any{"key": "s", "value": suffix}}})
			}
			filter := fmt.Sprintf("name LIKE '%s%%'", prefix)
			page, err := s.c.SearchRegisteredModels(t.Context(), filter, 2, []string{"name DESC"}, "")
			require.NoError(t, err)
			require.Len(t, page.RegisteredModels, 2)
			assert.Equal(t, prefix+"-c", page.RegisteredModels[0].Name)
			assert.Equal(t, prefix+"-b", page.RegisteredModels[1].Name)
			require.NotEmpty(t, page.NextPageToken)
			last, err := s.c.SearchRegisteredModels(t.Context(), filter, 2, []string{"name DESC"}, page.NextPageToken)
			require.NoError(t, err)
			require.Len(t, last.RegisteredModels, 1)
			assert.Equal(t, prefix+"-a", last.RegisteredModels[0].Name)
			assert.Empty(t, last.NextPageToken)

			byTag, err := s.c.SearchRegisteredModels(t.Context(), filter+" AND tags.s = '-b'", 0, nil, "")
			require.NoError(t, err)
			require.Len(t, byTag.RegisteredModels, 1)
			assert.Equal(t, prefix+"-b", byTag.RegisteredModels[0].Name)

			in, err := s.c.SearchRegisteredModels(t.Context(), fmt.Sprintf("name IN ('%s-a', '%s-c')", prefix, prefix), 0, nil, "")
			require.NoError(t, err)
			require.Len(t, in.RegisteredModels, 2)
			assert.Equal(t, prefix+"-a", in.RegisteredModels[0].Name, "name ASC by default")

			for _, tc := range []struct{ filter, msg string }{
				{"name LIKE", ""},
				{"name = 'x' OR name = 'y'", "Invalid clause(s) in filter string: OR"},
				{"description = 'x'", "Invalid attribute key 'description' specified. Valid keys are '{'name'}'"},
				{"foo.bar = 'x'", "Invalid entity type 'foo'. Valid entity types are ('attribute', 'tag', 'tags')"},
				{"name > 'x'", "Invalid comparator for attribute: >"},
			} {
				r := s.api(t, http.MethodGet, "registered-models/search", map[string]any{"filter": tc.filter})
				wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", tc.msg)
			}
			r := s.api(t, http.MethodGet, "registered-models/search", map[string]any{"order_by": []string{"bogus ASC"}})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid order by key 'bogus' specified…")
		}},
	})
}

func TestModelVersions(t *testing.T) {
	forEachTarget(t, []testCase{
		{"CreateGet", func(t *testing.T, s *target) {
			f := s.newRun(t, "mv")
			name := unique("Churn")
			_, err := s.c.CreateRegisteredModel(t.Context(), name, nil, "")
			require.NoError(t, err)
			created := s.ok(t, http.MethodPost, "model-versions/create", map[string]any{
				"name": name, "source": f.source, "run_id": f.run.Info.RunID, "tags": []any{map[string]any{"key": "validation_status", "value": "pending"}},
			})
			mv := obj(created, "model_version")
			assert.Equal(t, []string{"creation_timestamp", "current_stage", "description", "last_updated_timestamp", "name", "run_id", "run_link", "source", "status", "tags", "version"}, keys(mv))
			assert.Equal(t, "1", mv["version"])
			assert.Equal(t, "READY", mv["status"])
			assert.Equal(t, "None", mv["current_stage"])
			assert.Equal(t, "", mv["description"])
			assert.Equal(t, f.source, mv["source"])

			v2, err := s.c.CreateModelVersion(t.Context(), mlflow.CreateModelVersionRequest{Name: name, Source: f.source, RunID: f.run.Info.RunID, Description: "second"})
			require.NoError(t, err)
			assert.Equal(t, "2", v2.Version)
			assert.Equal(t, "second", v2.Description)
			ready, err := s.c.WaitModelVersionReady(t.Context(), name, "2", 0)
			require.NoError(t, err)
			assert.Equal(t, mlflow.ModelVersionReady, ready.Status)

			m := obj(s.ok(t, http.MethodGet, "registered-models/get", map[string]any{"name": name}), "registered_model")
			latest := list(m, "latest_versions")
			require.Len(t, latest, 1, "one latest version per stage")
			assert.Equal(t, "2", latest[0]["version"])
			assert.Equal(t, m["last_updated_timestamp"], latest[0]["creation_timestamp"], "a new version updates its model")

			uri, err := s.c.GetModelVersionDownloadURI(t.Context(), name, "1")
			require.NoError(t, err)
			assert.Equal(t, f.source, uri)
		}},
		{"UpdateAndLatest", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "upd-mv", 2)
			require.NoError(t, s.c.SetRegisteredModelAlias(t.Context(), name, "champion", "2"))
			mv := obj(s.ok(t, http.MethodPatch, "model-versions/update", map[string]any{"name": name, "version": "1", "description": "first"}), "model_version")
			assert.Equal(t, "first", mv["description"])
			assert.GreaterOrEqual(t, mv["last_updated_timestamp"], mv["creation_timestamp"])
			latest := list(s.ok(t, http.MethodPost, "registered-models/get-latest-versions", map[string]any{"name": name, "stages": []string{"None"}}), "model_versions")
			require.Len(t, latest, 1)
			assert.Equal(t, "2", latest[0]["version"])
			assert.Equal(t, []any{"champion"}, latest[0]["aliases"])
			none := s.ok(t, http.MethodPost, "registered-models/get-latest-versions", map[string]any{"name": name, "stages": []string{"Production"}})
			assert.Empty(t, none)
		}},
		{"ErrSource", func(t *testing.T, s *target) {
			name, f := s.newModel(t, "src", 0)
			other := s.newRun(t, "other")
			for _, tc := range []struct {
				name   string
				in     map[string]any
				status int
				code   string
				msg    string
			}{
				{"NoRunID", map[string]any{"name": name, "source": f.source}, 400, "INVALID_PARAMETER_VALUE",
					fmt.Sprintf("Invalid model version source: '%s'. The run_id request parameter must identify the resource that contains the source.", f.source)},
				{"OtherRun", map[string]any{"name": name, "source": other.source, "run_id": f.run.Info.RunID}, 400, "INVALID_PARAMETER_VALUE",
					fmt.Sprintf("Invalid model version source: '%s'. The run_id request parameter must identify the resource that contains the source.", other.source)},
				{"MissingRun", map[string]any{"name": name, "source": f.source, "run_id": missingRunID}, 400, "INVALID_PARAMETER_VALUE",
					fmt.Sprintf("Invalid model version source: '%s'. The run_id request parameter must identify the resource that contains the source.", f.source)},
				{"DotDot", map[string]any{"name": name, "source": f.run.Info.ArtifactURI + "/../../x", "run_id": f.run.Info.RunID}, 400, "INVALID_PARAMETER_VALUE",
					fmt.Sprintf("Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.", f.run.Info.ArtifactURI+"/../../x")},
				{"EncodedDotDot", map[string]any{"name": name, "source": f.run.Info.ArtifactURI + "/%2E%2E/%2e%2e/x", "run_id": f.run.Info.RunID}, 400, "INVALID_PARAMETER_VALUE",
					"Invalid model version source: '" + f.run.Info.ArtifactURI + "/%2E%2E/%2e%2e/x'. If supplying…"},
				{"LocalPath", map[string]any{"name": name, "source": "/tmp/model"}, 400, "INVALID_PARAMETER_VALUE",
					"Invalid model version source: '/tmp/model'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id."},
				{"RunsURIOtherRun", map[string]any{"name": name, "source": "runs:/" + other.run.Info.RunID + "/model", "run_id": f.run.Info.RunID}, 400, "INVALID_PARAMETER_VALUE",
					"Invalid model version source: 'runs:/" + other.run.Info.RunID + "/model'. The run_id request parameter must identify the resource that contains the source."},
				{"SourceMissing", map[string]any{"name": name, "run_id": f.run.Info.RunID}, 400, "INVALID_PARAMETER_VALUE",
					"Missing value for required parameter 'source'. See the API docs for more information about request parameters."},
				{"ModelMissing", map[string]any{"name": name + "-missing", "source": f.source, "run_id": f.run.Info.RunID}, 404, "RESOURCE_DOES_NOT_EXIST",
					fmt.Sprintf("Registered Model with name=%s-missing not found", name)},
			} {
				t.Run(tc.name, func(t *testing.T) {
					wantError(t, s.api(t, http.MethodPost, "model-versions/create", tc.in), tc.status, tc.code, tc.msg)
				})
			}
			r := s.api(t, http.MethodPost, "model-versions/create", map[string]any{"name": name, "source": "runs:/" + f.run.Info.RunID + "/model", "run_id": f.run.Info.RunID})
			require.Equal(t, http.StatusOK, r.Status, "a runs:/ source of the same run: %s", r.Body)
		}},
		{"Delete", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "del", 3)
			s.ok(t, http.MethodPost, "model-versions/set-tag", map[string]any{"name": name, "version": "3", "key": "vk", "value": "vv"})
			s.ok(t, http.MethodPost, "registered-models/alias", map[string]any{"name": name, "alias": "champion", "version": "3"})
			s.ok(t, http.MethodPost, "registered-models/alias", map[string]any{"name": name, "alias": "first", "version": "1"})
			before := obj(s.ok(t, http.MethodGet, "registered-models/get", map[string]any{"name": name}), "registered_model")
			assert.Empty(t, s.ok(t, http.MethodDelete, "model-versions/delete", map[string]any{"name": name, "version": "3"}))

			missing := fmt.Sprintf("Model Version (name=%s, version=3) not found", name)
			wantError(t, s.api(t, http.MethodDelete, "model-versions/delete", map[string]any{"name": name, "version": "3"}), 404, "RESOURCE_DOES_NOT_EXIST", missing)
			wantError(t, s.api(t, http.MethodGet, "model-versions/get", map[string]any{"name": name, "version": "3"}), 404, "RESOURCE_DOES_NOT_EXIST", missing)
			wantError(t, s.api(t, http.MethodPost, "model-versions/set-tag", map[string]any{"name": name, "version": "3", "key": "k", "value": "v"}), 404, "RESOURCE_DOES_NOT_EXIST", missing)
			wantError(t, s.api(t, http.MethodPatch, "model-versions/update", map[string]any{"name": name, "version": "3", "description": "d"}), 404, "RESOURCE_DOES_NOT_EXIST", missing)
			wantError(t, s.api(t, http.MethodPost, "registered-models/alias", map[string]any{"name": name, "alias": "x", "version": "3"}), 404, "RESOURCE_DOES_NOT_EXIST", missing)
			wantError(t, s.api(t, http.MethodGet, "registered-models/alias", map[string]any{"name": name, "alias": "champion"}), 400, "INVALID_PARAMETER_VALUE", "Registered model alias champion not found.")
			latest := obj(s.ok(t, http.MethodGet, "registered-models/alias", map[string]any{"name": name, "alias": "latest"}), "model_version")
			assert.Equal(t, "2", latest["version"], "alias latest skips the deleted version")

			m := obj(s.ok(t, http.MethodGet, "registered-models/get", map[string]any{"name": name}), "registered_model")
			assert.Equal(t, []any{map[string]any{"alias": "first", "version": "1"}}, m["aliases"], "only the deleted version's aliases go")
			assert.Equal(t, "2", list(m, "latest_versions")[0]["version"])
			assert.Greater(t, m["last_updated_timestamp"], before["last_updated_timestamp"])
			found := list(s.ok(t, http.MethodGet, "model-versions/search", map[string]any{"filter": fmt.Sprintf("name = '%s'", name)}), "model_versions")
			var versions []any
			for _, v := range found {
				versions = append(versions, v["version"])
			}
			assert.ElementsMatch(t, []any{"1", "2"}, versions)

			next := obj(s.ok(t, http.MethodPost, "model-versions/create", map[string]any{"name": name, "source": "s3://bucket/model"}), "model_version")
			assert.Equal(t, "4", next["version"], "a deleted version's number is not given again")
			assert.Nil(t, next["tags"], "nor its tags")
		}},
		{"ErrDelete", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "del", 1)
			missing := unique("missing")
			for _, tc := range []errCase{
				{map[string]any{"name": missing, "version": "1"}, 404, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Model Version (name=%s, version=1) not found", missing)},
				{map[string]any{"name": name, "version": "9"}, 404, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Model Version (name=%s, version=9) not found", name)},
				{map[string]any{"name": "a/b", "version": "x"}, 400, "INVALID_PARAMETER_VALUE", "Parameter 'version' must be an integer, got 'x'."},
				{map[string]any{"name": "a/b", "version": "1"}, 400, "INVALID_PARAMETER_VALUE", "Invalid model name 'a/b'. Names cannot contain '/' or ':'."},
				{map[string]any{"name": name}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'version'. See the API docs for more information about request parameters."},
				{map[string]any{"version": "1"}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'name'. See the API docs for more information about request parameters."},
			} {
				wantError(t, s.api(t, http.MethodDelete, "model-versions/delete", tc.in), tc.status, tc.code, tc.msg)
			}
			r := s.api(t, http.MethodPost, "model-versions/delete", map[string]any{"name": name, "version": "1"})
			assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
		}},
		{"TransitionStage", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "stage", 3)
			transition := func(version, stage string, archive bool) map[string]any {
				return obj(s.ok(t, http.MethodPost, "model-versions/transition-stage", map[string]any{
					"name": name, "version": version, "stage": stage, "archive_existing_versions": archive}), "model_version")
			}
			s.ok(t, http.MethodPost, "registered-models/alias", map[string]any{"name": name, "alias": "champion", "version": "1"})
			mv := transition("1", "production", false)
			assert.Equal(t, "Production", mv["current_stage"], "the stage is spelt as MLflow spells it")
			assert.Equal(t, []any{"champion"}, mv["aliases"])
			transition("2", "Production", false)
			assert.Equal(t, "Production", obj(s.ok(t, http.MethodGet, "model-versions/get", map[string]any{"name": name, "version": "1"}), "model_version")["current_stage"])
			transition("3", "Production", true)
			stages := map[string]any{}
			for _, v := range []string{"1", "2", "3"} {
				stages[v] = obj(s.ok(t, http.MethodGet, "model-versions/get", map[string]any{"name": name, "version": v}), "model_version")["current_stage"]
			}
			assert.Equal(t, map[string]any{"1": "Archived", "2": "Archived", "3": "Production"}, stages, "archive_existing_versions archives the others in the stage")
			latest := list(s.ok(t, http.MethodPost, "registered-models/get-latest-versions", map[string]any{"name": name, "stages": []string{"Production"}}), "model_versions")
			require.Len(t, latest, 1)
			assert.Equal(t, "3", latest[0]["version"])
			all := list(s.ok(t, http.MethodPost, "registered-models/get-latest-versions", map[string]any{"name": name}), "model_versions")
			byStage := map[any]any{}
			for _, v := range all {
				byStage[v["current_stage"]] = v["version"]
			}
			assert.Equal(t, map[any]any{"Archived": "2", "Production": "3"}, byStage, "without stages: the latest of each stage")
			m := obj(s.ok(t, http.MethodGet, "registered-models/get", map[string]any{"name": name}), "registered_model")
			byStage = map[any]any{}
			for _, v := range list(m, "latest_versions") {
				byStage[v["current_stage"]] = v["version"]
			}
			assert.Equal(t, map[any]any{"Archived": "2", "Production": "3"}, byStage)
			transition("3", "Staging", false)
			assert.Equal(t, "Staging", obj(s.ok(t, http.MethodGet, "model-versions/get", map[string]any{"name": name, "version": "3"}), "model_version")["current_stage"])
		}},
		{"ErrTransitionStage", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "stage", 1)
			missing := unique("missing")
			for _, tc := range []errCase{
				{map[string]any{"name": "a/b", "version": "1", "stage": "x"}, 400, "INVALID_PARAMETER_VALUE", "Invalid Model Version stage: x. Value must be one of None, Staging, Production, Archived."},
				{map[string]any{"name": name, "version": "1", "stage": "none", "archive_existing_versions": true}, 500, "INTERNAL_ERROR",
					"Model version transition cannot archive existing model versions because 'none' is not an Active stage. Valid stages are ['Staging', 'Production']"},
				{map[string]any{"name": name, "version": "1", "stage": "Production", "archive_existing_versions": "yes"}, 400, "INVALID_PARAMETER_VALUE",
					`Invalid value "yes" for parameter 'archive_existing_versions' supplied:  Hint: Value was of type 'str'. See the API docs for more information about request parameters.`},
				{map[string]any{"name": "a/b", "version": "x", "stage": "Production"}, 400, "INVALID_PARAMETER_VALUE", "Invalid model name 'a/b'. Names cannot contain '/' or ':'."},
				{map[string]any{"name": name, "version": "x", "stage": "Production"}, 400, "INVALID_PARAMETER_VALUE", "Parameter 'version' must be an integer, got 'x'."},
				{map[string]any{"name": missing, "version": "1", "stage": "Production"}, 404, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Model Version (name=%s, version=1) not found", missing)},
				{map[string]any{"name": name, "version": "9", "stage": "Production"}, 404, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Model Version (name=%s, version=9) not found", name)},
				{map[string]any{"name": name, "version": "1"}, 400, "INVALID_PARAMETER_VALUE", "Missing value for required parameter 'stage'. See the API docs for more information about request parameters."},
			} {
				wantError(t, s.api(t, http.MethodPost, "model-versions/transition-stage", tc.in), tc.status, tc.code, tc.msg)
			}
		}},
		{"ErrNotFound", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "nf", 1)
			r := s.api(t, http.MethodGet, "model-versions/get", map[string]any{"name": name, "version": "9"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Model Version (name=%s, version=9) not found", name))
			r = s.api(t, http.MethodGet, "model-versions/get", map[string]any{"name": name, "version": "x"})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Parameter 'version' must be an integer, got 'x'.")
			r = s.api(t, http.MethodPost, "model-versions/set-tag", map[string]any{"name": name, "version": "9", "key": "k", "value": "v"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Model Version (name=%s, version=9) not found", name))
			r = s.api(t, http.MethodGet, "model-versions/get-download-uri", map[string]any{"name": name, "version": "9"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Model Version (name=%s, version=9) not found", name))
			r = s.api(t, http.MethodGet, "model-versions/get", map[string]any{"name": name})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Missing value for required parameter 'version'. See the API docs for more information about request parameters.")
		}},
		{"Tags", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "tags", 1)
			ctx := t.Context()
			require.NoError(t, s.c.SetModelVersionTag(ctx, name, "1", "validation_status", "passed"))
			require.NoError(t, s.c.SetModelVersionTag(ctx, name, "1", "archived", "true"))
			require.NoError(t, s.c.DeleteModelVersionTag(ctx, name, "1", "archived"))
			require.NoError(t, s.c.DeleteModelVersionTag(ctx, name, "1", "never-set"), "deleting a missing tag succeeds")
			mv, err := s.c.GetModelVersion(ctx, name, "1")
			require.NoError(t, err)
			assert.Equal(t, []mlflow.Tag{{Key: "validation_status", Value: "passed"}}, mv.Tags)
			r := s.api(t, http.MethodPost, "model-versions/set-tag", map[string]any{"name": name, "version": "1", "key": "../k", "value": "v"})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", `Invalid value "../k" for parameter 'key' supplied: Names may be treated as files…`)
		}},
		{"Search", func(t *testing.T, s *target) {
			name, f := s.newModel(t, "search", 3)
			other, _ := s.newModel(t, "search-other", 1)
			require.NoError(t, s.c.SetModelVersionTag(t.Context(), name, "2", "stage", "candidate"))
			filter := fmt.Sprintf("name = '%s'", name)
			page, err := s.c.SearchModelVersions(t.Context(), filter, 2, []string{"version_number DESC"}, "")
			require.NoError(t, err)
			require.Len(t, page.ModelVersions, 2)
			assert.Equal(t, "3", page.ModelVersions[0].Version)
			assert.Equal(t, "2", page.ModelVersions[1].Version)
			require.NotEmpty(t, page.NextPageToken)
			next, err := s.c.SearchModelVersions(t.Context(), filter, 2, []string{"version_number DESC"}, page.NextPageToken)
			require.NoError(t, err)
			require.Len(t, next.ModelVersions, 1)
			assert.Equal(t, "1", next.ModelVersions[0].Version)

			for _, tc := range []struct {
				filter string
				want   []string
			}{
				{fmt.Sprintf("run_id = '%s'", f.run.Info.RunID), []string{"3", "2", "1"}},
				{fmt.Sprintf("name = '%s' AND version_number >= 2", name), []string{"3", "2"}},
				{fmt.Sprintf("name = '%s' AND tags.stage = 'candidate'", name), []string{"2"}},
				{fmt.Sprintf("name IN ('%s', '%s') AND version_number = 1", name, other), []string{"1", "1"}},
				{fmt.Sprintf("source_path = '%s' AND name = '%s'", f.source, name), []string{"3", "2", "1"}},
			} {
				got, err := s.c.SearchAllModelVersions(t.Context(), tc.filter)
				require.NoError(t, err, tc.filter)
				var versions []string
				for _, mv := range got {
					versions = append(versions, mv.Version)
					assert.Empty(t, mv.Aliases, "searches leave aliases out")
				}
				assert.Equal(t, tc.want, versions, tc.filter)
			}
			for _, tc := range []struct{ filter, msg string }{
				{"bogus = 'x'", "Invalid attribute key 'bogus' specified. Valid keys are '…"},
				{"name = 'x' OR name = 'y'", "Invalid clause(s) in filter string: OR"},
				{"run_id = 1", "Only the '…"},
				{"version_number = 'x'", "Invalid value for numeric attribute 'version_number': 'x'"},
			} {
				r := s.api(t, http.MethodGet, "model-versions/search", map[string]any{"filter": tc.filter})
				wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", tc.msg)
			}
		}},
	})
}

func TestAliases(t *testing.T) {
	forEachTarget(t, []testCase{
		{"SetMoveGetDelete", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "alias", 2)
			ctx := t.Context()
			require.NoError(t, s.c.SetRegisteredModelAlias(ctx, name, "staging-candidate", "1"))
			mv, err := s.c.GetModelVersionByAlias(ctx, name, "staging-candidate")
			require.NoError(t, err)
			assert.Equal(t, "1", mv.Version)
			assert.Equal(t, []string{"staging-candidate"}, mv.Aliases)

			require.NoError(t, s.c.SetRegisteredModelAlias(ctx, name, "staging-candidate", "2"), "setting is an upsert: it moves")
			require.NoError(t, s.c.SetRegisteredModelAlias(ctx, name, "production-live", "2"))
			mv, err = s.c.GetModelVersionByAlias(ctx, name, "production-live")
			require.NoError(t, err)
			assert.Equal(t, "2", mv.Version)
			assert.ElementsMatch(t, []string{"staging-candidate", "production-live"}, mv.Aliases)
			old, err := s.c.GetModelVersion(ctx, name, "1")
			require.NoError(t, err)
			assert.Empty(t, old.Aliases)

			m := obj(s.ok(t, http.MethodGet, "registered-models/get", map[string]any{"name": name}), "registered_model")
			assert.ElementsMatch(t, []any{
				map[string]any{"alias": "production-live", "version": "2"},
				map[string]any{"alias": "staging-candidate", "version": "2"},
			}, m["aliases"])

			require.NoError(t, s.c.DeleteRegisteredModelAlias(ctx, name, "staging-candidate"))
			require.NoError(t, s.c.DeleteRegisteredModelAlias(ctx, name, "staging-candidate"), "deleting a missing alias succeeds")
			_, err = s.c.GetModelVersionByAlias(ctx, name, "staging-candidate")
			require.ErrorIs(t, err, mlflow.ErrNotFound)
			mv, err = s.c.ResolveModelURI(ctx, "models:/"+name+"@production-live")
			require.NoError(t, err)
			assert.Equal(t, "2", mv.Version)
		}},
		{"ErrMissingAliasIs400", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "missing-alias", 1)
			r := s.api(t, http.MethodGet, "registered-models/alias", map[string]any{"name": name, "alias": "nobody"})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Registered model alias nobody not found.")
			r = s.api(t, http.MethodGet, "registered-models/alias", map[string]any{"name": name + "-missing", "alias": "nobody"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Registered Model with name=%s-missing not found", name))
			r = s.api(t, http.MethodDelete, "registered-models/alias", map[string]any{"name": name + "-missing", "alias": "nobody"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Registered Model with name=%s-missing not found", name))
			r = s.api(t, http.MethodPost, "registered-models/alias", map[string]any{"name": name, "alias": "ghost", "version": "99"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Model Version (name=%s, version=99) not found", name))
			r = s.api(t, http.MethodGet, "registered-models/alias", map[string]any{"name": name})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE",
				"Missing value for required parameter 'alias'. See the API docs for more information about request parameters.")
		}},
		{"LatestResolvesToHighestVersion", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "latest", 3)
			for _, alias := range []string{"latest", "LATEST"} {
				r := s.ok(t, http.MethodGet, "registered-models/alias", map[string]any{"name": name, "alias": alias})
				assert.Equal(t, "3", obj(r, "model_version")["version"], alias)
			}
			empty := unique("empty")
			s.ok(t, http.MethodPost, "registered-models/create", map[string]any{"name": empty})
			r := s.api(t, http.MethodGet, "registered-models/alias", map[string]any{"name": empty, "alias": "latest"})
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", fmt.Sprintf("Latest version not found for model %s.", empty))
		}},
		{"ErrAliasNames", func(t *testing.T, s *target) {
			name, _ := s.newModel(t, "names", 1)
			for _, tc := range []struct{ alias, msg string }{
				{"latest", "'latest' alias name (case insensitive) is reserved."},
				{"Latest", "'latest' alias name (case insensitive) is reserved."},
				{"v1", "Version alias name 'v1' is reserved."},
				{"V12", "Version alias name 'V12' is reserved."},
				{"a b", "Invalid alias name: 'a b'. Names may only contain alphanumerics, underscores (_), and dashes (-)."},
				{"a.b", "Invalid alias name: 'a.b'. Names may only contain alphanumerics, underscores (_), and dashes (-)."},
				{"a/b", "Invalid alias name: 'a/b'. Names may only contain alphanumerics, underscores (_), and dashes (-)."},
				{strings.Repeat("a", 256), "'Registered model alias name' exceeds the maximum length of 255 characters"},
			} {
				r := s.api(t, http.MethodPost, "registered-models/alias", map[string]any{"name": name, "alias": tc.alias, "version": "1"})
				wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", tc.msg)
			}
			for _, alias := range []string{strings.Repeat("a", 255), "v1a", "version1", "café", "under_score-dash"} {
				r := s.api(t, http.MethodPost, "registered-models/alias", map[string]any{"name": name, "alias": alias, "version": "1"})
				assert.Equal(t, http.StatusOK, r.Status, "alias %q: %s", alias, r.Body)
			}
			r := s.api(t, http.MethodGet, "registered-models/alias", map[string]any{"name": name, "alias": "a b"})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid alias name: 'a b'. Names may only contain alphanumerics, underscores (_), and dashes (-).")
			r = s.api(t, http.MethodPost, "registered-models/alias", map[string]any{"name": name, "alias": "ok", "version": "x"})
			wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Parameter 'version' must be an integer, got 'x'.")
		}},
	})
}
