package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadRegistryViewLimits: the list's page reads the first models by
// name (prompts left out), the newest versions of each and those an alias
// names, and the runs of those versions, each up to its limit, and says
// how many it left out.
func TestReadRegistryViewLimits(t *testing.T) {
	st := openTestStore(t)
	ctx := context.Background()
	eid, err := st.CreateExperiment(ctx, "exp", "", nil)
	require.NoError(t, err)
	for _, model := range []string{"b", "a", "c"} {
		_, err := st.CreateRegisteredModel(ctx, model, nil, "")
		require.NoError(t, err)
		for range 3 { // each version from a run of its own
			r, err := st.CreateRun(ctx, newRun{experimentID: itoa(eid)})
			require.NoError(t, err)
			_, err = st.CreateModelVersion(ctx, newModelVersion{name: model, source: r.artifactURI + "/model", runID: r.id})
			require.NoError(t, err)
		}
	}
	require.NoError(t, st.SetAlias(ctx, "a", "old", "1"))
	_, err = st.CreateRegisteredModel(ctx, "0-prompt", []keyValue{{promptTag, "true"}}, "")
	require.NoError(t, err)

	view, err := st.readRegistryView(ctx, nil, uiLimits{models: 2, versions: 1, runs: 2})
	require.NoError(t, err)
	assert.Equal(t, 3, view.totalModels, "the prompt is no model")
	require.Len(t, view.models, 2)
	a, b := view.models[0], view.models[1]
	assert.Equal(t, "a", a.model.name)
	assert.Equal(t, "b", b.model.name)
	var versions []int64
	for _, v := range a.versions {
		versions = append(versions, v.version)
	}
	assert.Equal(t, []int64{3, 1}, versions, "the newest, and the one an alias names")
	assert.Equal(t, 3, a.total)
	require.Len(t, b.versions, 1)
	assert.Equal(t, int64(3), b.versions[0].version)
	require.Len(t, view.runs, 2)
	assert.Equal(t, 1, view.runsCut)
	assert.Equal(t, a.versions[0].runID, view.runs[0].run.id)
	require.Len(t, view.runs[0].versions, 1, "the versions registered from the run")
	assert.NotNil(t, view.runs[0].experiment)

	// A model named: a prompt too; an unknown name is left out.
	view, err = st.readRegistryView(ctx, []string{"0-prompt", "nothing"}, modelLimits)
	require.NoError(t, err)
	require.Len(t, view.models, 1)
	assert.Equal(t, "0-prompt", view.models[0].model.name)
}

// TestRegistryPageSaysWhatIsCut: the list's page says how many models,
// runs and versions it left out.
func TestRegistryPageSaysWhatIsCut(t *testing.T) {
	s, err := Open(context.Background(), Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	ctx := context.Background()
	eid, err := s.db.CreateExperiment(ctx, "exp", "", nil)
	require.NoError(t, err)
	for _, model := range []string{"a", "b"} {
		_, err := s.db.CreateRegisteredModel(ctx, model, nil, "")
		require.NoError(t, err)
		for range 3 {
			r, err := s.db.CreateRun(ctx, newRun{experimentID: itoa(eid)})
			require.NoError(t, err)
			_, err = s.db.CreateModelVersion(ctx, newModelVersion{name: model, source: r.artifactURI + "/model", runID: r.id})
			require.NoError(t, err)
		}
	}
	saved := indexLimits
	indexLimits = uiLimits{models: 1, versions: 2, runs: 1}
	t.Cleanup(func() { indexLimits = saved })
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	assert.Contains(t, body, "1 more of the 2 registered models is not listed here (the first 1 by name are)")
	assert.Contains(t, body, "The page of 1 more run is not on this page")
	assert.Contains(t, body, "1 older version is not shown: the newest 2 (with those an alias names) are.")
	assert.Contains(t, body, `href="/ui/runs/`, "a run with no section links to its own page")
}
