package server

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The store's methods, without HTTP: validation in MLflow's order, SQL,
// and MLflow's codes for constraint errors.

// openTestStore opens a store on a fresh data directory.
func openTestStore(t *testing.T) *store {
	t.Helper()
	st, err := openStore(context.Background(), t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.close()) })
	return st
}

// requireAPIError asserts err is MLflow's error with that status, code
// and message.
func requireAPIError(t *testing.T, err error, status int, code, message string) {
	t.Helper()
	var aerr *apiError
	require.ErrorAs(t, err, &aerr)
	assert.Equal(t, status, aerr.Status)
	assert.Equal(t, code, aerr.Code)
	assert.Equal(t, message, aerr.Message)
}

// newTestVersion creates an experiment, a run and a registered model, and
// returns a version to register from the run.
func newTestVersion(t *testing.T, st *store, model string) newModelVersion {
	t.Helper()
	ctx := context.Background()
	eid, err := st.CreateExperiment(ctx, "exp-"+model, "", nil)
	require.NoError(t, err)
	r, err := st.CreateRun(ctx, newRun{experimentID: itoa(eid)})
	require.NoError(t, err)
	if _, err := st.GetRegisteredModel(ctx, model); isNotFound(err) {
		_, err = st.CreateRegisteredModel(ctx, model, nil, "")
		require.NoError(t, err)
	}
	return newModelVersion{name: model, source: r.artifactURI + "/model", runID: r.id}
}

func TestStoreCreateRegisteredModel(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	m, err := st.CreateRegisteredModel(ctx, "churn", []keyValue{{"team", "risk"}}, "a model")
	require.NoError(t, err)
	assert.Equal(t, "churn", m.name)
	assert.Equal(t, "a model", m.description)
	assert.Equal(t, []tagJSON{{"team", "risk"}}, m.tags)

	_, err = st.CreateRegisteredModel(ctx, "churn", nil, "")
	requireAPIError(t, err, http.StatusBadRequest, codeAlreadyExists, "Registered Model (name=churn) already exists.")
	_, err = st.CreateRegisteredModel(ctx, "a/b", nil, "")
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter, "Invalid model name 'a/b'. Names cannot contain '/' or ':'.")
	_, err = st.CreateRegisteredModel(ctx, "ok", []keyValue{{"", "v"}}, "")
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter, `Invalid value "" for parameter 'key' supplied: `+badPathMessage(""))
	_, err = st.GetRegisteredModel(ctx, "missing")
	requireAPIError(t, err, http.StatusNotFound, codeNotFound, "Registered Model with name=missing not found")
}

func TestStoreCreateModelVersion(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	nv := newTestVersion(t, st, "churn")
	nv.tags = []keyValue{{"stage", "candidate"}}
	v1, err := st.CreateModelVersion(ctx, nv)
	require.NoError(t, err)
	assert.Equal(t, int64(1), v1.version)
	assert.Equal(t, []tagJSON{{"stage", "candidate"}}, v1.tags)
	v2, err := st.CreateModelVersion(ctx, nv)
	require.NoError(t, err)
	assert.Equal(t, int64(2), v2.version)

	other := nv
	other.name = "missing"
	_, err = st.CreateModelVersion(ctx, other)
	requireAPIError(t, err, http.StatusNotFound, codeNotFound, "Registered Model with name=missing not found")
	other = nv
	other.runID = ""
	_, err = st.CreateModelVersion(ctx, other)
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter,
		"Invalid model version source: '"+nv.source+"'. The run_id request parameter must identify the resource that contains the source.")
}

func TestStoreSetAlias(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	nv := newTestVersion(t, st, "churn")
	_, err := st.CreateModelVersion(ctx, nv)
	require.NoError(t, err)

	require.NoError(t, st.SetAlias(ctx, "churn", "champion", "1"))
	v, err := st.GetVersionByAlias(ctx, "churn", "champion")
	require.NoError(t, err)
	assert.Equal(t, int64(1), v.version)
	assert.Equal(t, []string{"champion"}, v.aliases)

	for _, tc := range []struct {
		name, model, alias, version string
		status                      int
		code, message               string
	}{
		{"MissingVersion", "churn", "champion", "2", http.StatusNotFound, codeNotFound, "Model Version (name=churn, version=2) not found"},
		{"MissingModel", "other", "champion", "1", http.StatusNotFound, codeNotFound, "Model Version (name=other, version=1) not found"},
		{"Reserved", "churn", "Latest", "1", http.StatusBadRequest, codeInvalidParameter, "'latest' alias name (case insensitive) is reserved."},
		{"VersionAlias", "churn", "v2", "1", http.StatusBadRequest, codeInvalidParameter, "Version alias name 'v2' is reserved."},
		{"BadVersion", "churn", "champion", "one", http.StatusBadRequest, codeInvalidParameter, "Parameter 'version' must be an integer, got 'one'."},
		// MLflow checks the names before it parses the version.
		{"NameBeforeVersion", "a:b", "champion", "one", http.StatusBadRequest, codeInvalidParameter, "Invalid model name 'a:b'. Names cannot contain '/' or ':'."},
		{"AliasBeforeVersion", "churn", "bad alias", "one", http.StatusBadRequest, codeInvalidParameter,
			"Invalid alias name: 'bad alias'. Names may only contain alphanumerics, underscores (_), and dashes (-)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireAPIError(t, st.SetAlias(ctx, tc.model, tc.alias, tc.version), tc.status, tc.code, tc.message)
		})
	}

	require.NoError(t, st.DeleteAlias(ctx, "churn", "champion"))
	_, err = st.GetVersionByAlias(ctx, "churn", "champion")
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter, "Registered model alias champion not found.")
}

func TestStoreRuns(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	_, err := st.GetRun(ctx, "nope")
	requireAPIError(t, err, http.StatusNotFound, codeNotFound, "Run with id=nope not found")

	r, err := st.CreateRun(ctx, newRun{experimentID: "0", name: "first"})
	require.NoError(t, err)
	require.NoError(t, st.LogParam(ctx, r.id, "l2", "0.01"))
	require.NoError(t, st.LogParam(ctx, r.id, "l2", "0.01"))
	err = st.LogParam(ctx, r.id, "l2", "0.1")
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter,
		"Changing param values is not allowed. Param with key='l2' was already logged with value='0.01' for run ID='"+r.id+"'. Attempted logging new value '0.1'.")
	err = st.LogBatch(ctx, r.id, nil, []keyValue{{"a", "1"}, {"a", "1"}}, nil)
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter,
		"Duplicate parameter keys have been submitted: ['a']. Please ensure the request contains only one param value per param key.")

	_, err = st.CreateRun(ctx, newRun{experimentID: "0", name: "a", tags: []keyValue{{runNameTag, "b"}}})
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter,
		"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='a', mlflow.runName='b').")

	require.NoError(t, st.DeleteRun(ctx, r.id))
	err = st.SetRunTag(ctx, r.id, "k", "v")
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter, "The run "+r.id+" must be in the 'active' state. Current state is deleted.")
}

func TestStoreSearchModelVersionsByName(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	for _, model := range []string{"churn", "Churn", "fraud"} {
		nv := newTestVersion(t, st, model)
		for range 2 {
			_, err := st.CreateModelVersion(ctx, nv)
			require.NoError(t, err)
		}
	}
	names := func(filter string) []string {
		t.Helper()
		vs, next, err := st.SearchModelVersions(ctx, searchArgs{filter: filter, maxResults: 100, orderBy: []string{"name", "version_number"}})
		require.NoError(t, err)
		assert.Empty(t, next)
		var out []string
		for _, v := range vs {
			out = append(out, v.name+"/"+itoa(v.version))
		}
		return out
	}
	assert.Equal(t, []string{"churn/1", "churn/2"}, names("name = 'churn'"))
	// SQL selects a superset (SQLite's LIKE ignores ASCII case); MLflow's
	// LIKE is case-sensitive, ILIKE is not.
	assert.Equal(t, []string{"churn/1", "churn/2"}, names("name LIKE 'ch%'"))
	assert.Equal(t, []string{"Churn/1", "Churn/2", "churn/1", "churn/2"}, names("name ILIKE 'ch%'"))
	assert.Equal(t, []string{"Churn/2", "churn/2", "fraud/2"}, names("version_number > 1"))
	assert.Equal(t, []string{"Churn/1", "Churn/2", "fraud/1", "fraud/2"}, names("name != 'churn'"))
	assert.Equal(t, []string{"fraud/1", "fraud/2"}, names("name IN ('fraud', 'x')"))

	where, args := registrySQL([]registryClause{{kind: kindAttribute, key: "name", op: "=", str: "churn"}}, versionColumns)
	assert.Equal(t, "1 AND name = ?", where)
	assert.Equal(t, []any{"churn"}, args)

	_, _, err := st.SearchModelVersions(ctx, searchArgs{maxResults: 0})
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter, "Invalid value for max_results. It must be a positive integer, but got 0")
	_, _, err = st.SearchModelVersions(ctx, searchArgs{maxResults: 10, orderBy: []string{"name", "name DESC"}})
	requireAPIError(t, err, http.StatusInternalServerError, codeInternal, "`order_by` contains duplicate fields: ['name', 'name DESC']")
}

func TestParseOrder(t *testing.T) {
	keys, err := parseOrder(nil, experimentOrder)
	require.Nil(t, err)
	assert.Equal(t, []orderKey{{kindAttribute, "creation_time", false}, {kindAttribute, "experiment_id", true}}, keys)
	keys, err = parseOrder([]string{"metrics.f1 DESC", "created"}, runOrder)
	require.Nil(t, err)
	assert.Equal(t, []orderKey{{kindMetric, "f1", false}, {kindAttribute, "start_time", true}, {kindAttribute, "run_id", true}}, keys)
	keys, err = parseOrder([]string{"timestamp DESC"}, modelOrder)
	require.Nil(t, err)
	assert.Equal(t, []orderKey{{kindAttribute, "last_updated_timestamp", false}, {kindAttribute, "name", true}}, keys)
	_, err = parseOrder([]string{"tags.x"}, versionOrder)
	assert.Equal(t, "Invalid entity type 'tags'. Valid entity types are ('attribute', 'tag', 'tags')", err.Message)
	_, err = parseOrder([]string{"run.x"}, versionOrder)
	assert.Equal(t, "Invalid order by key 'x' specified. Valid keys are {'name', 'version_number', 'creation_timestamp', 'last_updated_timestamp'}", err.Message)
}
