package mlflow_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

func TestRegisteredModels(t *testing.T) {
	t.Parallel()
	c, rec := recordingClient(t)
	ctx := t.Context()
	prefix := unique("RM")
	name := prefix + "-churn"

	created, err := c.CreateRegisteredModel(ctx, name, map[string]string{"team": "churn"}, "predicts churn")
	require.NoError(t, err)
	assert.Equal(t, name, created.Name)

	t.Run("Get", func(t *testing.T) {
		m, err := c.GetRegisteredModel(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, name, m.Name)
		assert.Equal(t, "predicts churn", m.Description)
		team, ok := m.Tag("team")
		assert.True(t, ok)
		assert.Equal(t, "churn", team)
		assert.NotZero(t, m.CreationTimestamp)
	})

	t.Run("ErrAlreadyExists", func(t *testing.T) {
		_, err := c.CreateRegisteredModel(ctx, name, nil, "")
		require.ErrorIs(t, err, mlflow.ErrAlreadyExists)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := c.GetRegisteredModel(ctx, prefix+"-missing")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		assert.Contains(t, err.Error(), "mlflow: GET /api/2.0/mlflow/registered-models/get: 404 RESOURCE_DOES_NOT_EXIST: ")
		err = c.SetRegisteredModelTag(ctx, prefix+"-missing", "k", "v")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
	})

	t.Run("Tags", func(t *testing.T) {
		require.NoError(t, c.SetRegisteredModelTag(ctx, name, "validation_status", "pending"))
		require.NoError(t, c.SetRegisteredModelTag(ctx, name, "validation_status", "passed"))
		m, err := c.GetRegisteredModel(ctx, name)
		require.NoError(t, err)
		v, _ := m.Tag("validation_status")
		assert.Equal(t, "passed", v)

		n0 := rec.count()
		require.NoError(t, c.DeleteRegisteredModelTag(ctx, name, "validation_status"))
		del := rec.all()[n0]
		assert.Equal(t, http.MethodDelete, del.Method)
		assert.Equal(t, "application/json", del.Header.Get("Content-Type"), "DELETE sends a JSON body")
		assert.JSONEq(t, fmt.Sprintf(`{"name":%q,"key":"validation_status"}`, name), string(del.Body))
		assert.Empty(t, del.Query)

		m, err = c.GetRegisteredModel(ctx, name)
		require.NoError(t, err)
		_, ok := m.Tag("validation_status")
		assert.False(t, ok)
		require.NoError(t, c.DeleteRegisteredModelTag(ctx, name, "never-set"), "deleting a missing tag succeeds")
	})

	t.Run("Search", func(t *testing.T) {
		for _, suffix := range []string{"-b", "-c"} {
			_, err := c.CreateRegisteredModel(ctx, prefix+suffix, nil, "")
			require.NoError(t, err)
		}
		filter := fmt.Sprintf("name LIKE '%s%%'", prefix)
		page, err := c.SearchRegisteredModels(ctx, filter, 2, []string{"name ASC"}, "")
		require.NoError(t, err)
		require.Len(t, page.RegisteredModels, 2)
		require.NotEmpty(t, page.NextPageToken)
		last, err := c.SearchRegisteredModels(ctx, filter, 2, []string{"name ASC"}, page.NextPageToken)
		require.NoError(t, err)
		require.Len(t, last.RegisteredModels, 1)
		assert.Empty(t, last.NextPageToken)
		names := []string{page.RegisteredModels[0].Name, page.RegisteredModels[1].Name, last.RegisteredModels[0].Name}
		assert.Equal(t, []string{prefix + "-b", prefix + "-c", prefix + "-churn"}, names)

		_, err = c.SearchRegisteredModels(ctx, "name LIKE", 0, nil, "")
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
	})
}

func TestModelVersionsAndAliases(t *testing.T) {
	t.Parallel()
	c, rec := recordingClient(t)
	ctx := t.Context()
	run := newRun(t, c, "versions")
	name := unique("ChurnPredictor")
	_, err := c.CreateRegisteredModel(ctx, name, nil, "")
	require.NoError(t, err)
	source := run.Info.ArtifactURI + "/model"

	register := func(t *testing.T, tags map[string]string) *mlflow.ModelVersion {
		t.Helper()
		mv, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{
			Name: name, Source: source, RunID: run.Info.RunID, Tags: tags, Description: "from " + run.Info.RunID,
		})
		require.NoError(t, err)
		ready, err := c.WaitModelVersionReady(ctx, name, mv.Version, 30*time.Second)
		require.NoError(t, err)
		require.Equal(t, mlflow.ModelVersionReady, ready.Status)
		return ready
	}
	v1 := register(t, map[string]string{"validation_status": "pending"})
	v2 := register(t, nil)

	t.Run("CreateModelVersion", func(t *testing.T) {
		assert.Equal(t, "1", v1.Version)
		assert.Equal(t, "2", v2.Version)
		assert.Equal(t, source, v1.Source)
		assert.Equal(t, run.Info.RunID, v1.RunID)
		assert.Equal(t, "from "+run.Info.RunID, v1.Description)
		status, ok := v1.Tag("validation_status")
		assert.True(t, ok)
		assert.Equal(t, "pending", status)
	})

	t.Run("GetModelVersion", func(t *testing.T) {
		mv, err := c.GetModelVersion(ctx, name, "2")
		require.NoError(t, err)
		assert.Equal(t, name, mv.Name)
		assert.Equal(t, "2", mv.Version)
		assert.Equal(t, mlflow.ModelVersionReady, mv.Status)
		assert.NotZero(t, mv.CreationTimestamp)

		m, err := c.GetRegisteredModel(ctx, name)
		require.NoError(t, err)
		require.NotEmpty(t, m.LatestVersions)
		assert.Equal(t, "2", m.LatestVersions[len(m.LatestVersions)-1].Version)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := c.GetModelVersion(ctx, name, "99")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		_, err = c.GetModelVersion(ctx, name+"-missing", "1")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		_, err = c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: name + "-missing", Source: source, RunID: run.Info.RunID})
		require.ErrorIs(t, err, mlflow.ErrNotFound)
	})

	t.Run("ErrInvalidParameterSourceWithoutRun", func(t *testing.T) {
		// MLflow 3.18 wants the run that holds a run-artifact source.
		_, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: name, Source: source})
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
		assert.Contains(t, err.Error(), "run_id")
	})

	t.Run("Tags", func(t *testing.T) {
		require.NoError(t, c.SetModelVersionTag(ctx, name, "1", "validation_status", "passed"))
		require.NoError(t, c.SetModelVersionTag(ctx, name, "1", "archived", "true"))
		require.NoError(t, c.DeleteModelVersionTag(ctx, name, "1", "archived"))
		require.NoError(t, c.DeleteModelVersionTag(ctx, name, "1", "never-set"))
		mv, err := c.GetModelVersion(ctx, name, "1")
		require.NoError(t, err)
		v, _ := mv.Tag("validation_status")
		assert.Equal(t, "passed", v)
		_, ok := mv.Tag("archived")
		assert.False(t, ok)
		err = c.SetModelVersionTag(ctx, name, "99", "k", "v")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
	})

	t.Run("Search", func(t *testing.T) {
		filter := fmt.Sprintf("name = '%s'", name)
		page, err := c.SearchModelVersions(ctx, filter, 1, []string{"version_number DESC"}, "")
		require.NoError(t, err)
		require.Len(t, page.ModelVersions, 1)
		assert.Equal(t, "2", page.ModelVersions[0].Version)
		require.NotEmpty(t, page.NextPageToken)
		next, err := c.SearchModelVersions(ctx, filter, 1, []string{"version_number DESC"}, page.NextPageToken)
		require.NoError(t, err)
		require.Len(t, next.ModelVersions, 1)
		assert.Equal(t, "1", next.ModelVersions[0].Version)

		all, err := c.SearchAllModelVersions(ctx, filter)
		require.NoError(t, err)
		var versions []string
		for _, mv := range all {
			versions = append(versions, mv.Version)
		}
		slices.Sort(versions)
		assert.Equal(t, []string{"1", "2"}, versions)

		byRun, err := c.SearchAllModelVersions(ctx, fmt.Sprintf("run_id = '%s'", run.Info.RunID))
		require.NoError(t, err)
		assert.Len(t, byRun, 2)
	})

	t.Run("DownloadURI", func(t *testing.T) {
		uri, err := c.GetModelVersionDownloadURI(ctx, name, "1")
		require.NoError(t, err)
		assert.Equal(t, source, uri)
	})

	t.Run("Aliases", func(t *testing.T) {
		// staging-candidate -> v1, then moved to v2, as the exercise's promote step.
		require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "staging-candidate", "1"))
		mv, err := c.GetModelVersionByAlias(ctx, name, "staging-candidate")
		require.NoError(t, err)
		assert.Equal(t, "1", mv.Version)
		assert.Contains(t, mv.Aliases, "staging-candidate")

		require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "staging-candidate", "2"))
		require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "production-live", "2"))
		mv, err = c.GetModelVersionByAlias(ctx, name, "staging-candidate")
		require.NoError(t, err)
		assert.Equal(t, "2", mv.Version)
		assert.ElementsMatch(t, []string{"staging-candidate", "production-live"}, mv.Aliases)
		old, err := c.GetModelVersion(ctx, name, "1")
		require.NoError(t, err)
		assert.Empty(t, old.Aliases, "moving an alias removes it from the old version")

		m, err := c.GetRegisteredModel(ctx, name)
		require.NoError(t, err)
		v, ok := m.AliasVersion("production-live")
		assert.True(t, ok)
		assert.Equal(t, "2", v)

		n0 := rec.count()
		require.NoError(t, c.DeleteRegisteredModelAlias(ctx, name, "staging-candidate"))
		del := rec.all()[n0]
		assert.Equal(t, http.MethodDelete, del.Method)
		assert.JSONEq(t, fmt.Sprintf(`{"name":%q,"alias":"staging-candidate"}`, name), string(del.Body))
		require.NoError(t, c.DeleteRegisteredModelAlias(ctx, name, "staging-candidate"), "deleting a missing alias succeeds")

		err = c.SetRegisteredModelAlias(ctx, name, "ghost", "99")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
	})

	t.Run("MissingAliasErrNotFound", func(t *testing.T) {
		_, err := c.GetModelVersionByAlias(ctx, name, "staging-candidate")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter, "the original code is kept")
		var apiErr *mlflow.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		assert.Equal(t, "INVALID_PARAMETER_VALUE", apiErr.Code)
		assert.Contains(t, apiErr.Message, "staging-candidate")

		_, err = c.GetModelVersionByAlias(ctx, name+"-missing", "production-live")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
	})

	t.Run("InvalidAliasRefusedClientSide", func(t *testing.T) {
		n0 := rec.count()
		for _, alias := range []string{"latest", "LATEST", "v1", "V12", "", "bad alias", "a/b", "a.b", strings.Repeat("a", 256)} {
			err := c.SetRegisteredModelAlias(ctx, name, alias, "1")
			assert.ErrorIs(t, err, mlflow.ErrInvalidParameter, "alias %q", alias)
		}
		for _, alias := range []string{"", "a b", "a/b"} {
			_, err := c.GetModelVersionByAlias(ctx, name, alias)
			assert.ErrorIs(t, err, mlflow.ErrInvalidParameter, "alias %q", alias)
			err = c.DeleteRegisteredModelAlias(ctx, name, alias)
			assert.ErrorIs(t, err, mlflow.ErrInvalidParameter, "alias %q", alias)
		}
		assert.Equal(t, n0, rec.count(), "no request for an invalid alias")
	})

	t.Run("ResolveModelURI", func(t *testing.T) {
		mv, err := c.ResolveModelURI(ctx, "models:/"+name+"/1")
		require.NoError(t, err)
		assert.Equal(t, "1", mv.Version)
		mv, err = c.ResolveModelURI(ctx, "models:/"+name+"@production-live")
		require.NoError(t, err)
		assert.Equal(t, "2", mv.Version)

		_, err = c.ResolveModelURI(ctx, "models:/"+name+"@nobody")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		_, err = c.ResolveModelURI(ctx, "models:/"+name+"/42")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		_, err = c.ResolveModelURI(ctx, "models:/"+url.PathEscape(name)+"/Production")
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
	})
}

func TestValidateAlias(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		alias string
		ok    bool
	}{
		{"champion", true},
		{"staging-candidate", true},
		{"production_live2", true},
		{"v1a", true},
		{"version1", true},
		{"café", true}, // Python's \w is Unicode-aware
		{strings.Repeat("a", 255), true},
		{"", false},
		{"latest", false},
		{"Latest", false},
		{"v1", false},
		{"V007", false},
		{"two words", false},
		{"a/b", false},
		{"a.b", false},
		{"a@b", false},
		{"line\n", false},
		{strings.Repeat("a", 256), false},
	} {
		err := mlflow.ValidateAlias(tc.alias)
		if tc.ok {
			assert.NoError(t, err, "alias %q", tc.alias)
		} else {
			assert.ErrorIs(t, err, mlflow.ErrInvalidParameter, "alias %q", tc.alias)
		}
	}
}
