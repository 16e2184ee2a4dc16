package mlflow_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// afterMilli waits until the clock has passed the millisecond ms, so that
// the next model created is strictly newer: two created in the same
// millisecond have no order (a CI run once drew the tie).
func afterMilli(ms int64) {
	for time.Now().UnixMilli() <= ms {
		time.Sleep(time.Millisecond)
	}
}

// requireAPIError checks err is an *APIError with this status and code.
func requireAPIError(t *testing.T, err error, status int, code string) *mlflow.APIError {
	t.Helper()
	var apiErr *mlflow.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, status, apiErr.StatusCode, "%v", err)
	assert.Equal(t, code, apiErr.Code, "%v", err)
	return apiErr
}

func TestLoggedModelLifecycle(t *testing.T) {
	t.Parallel()
	c, rec := recordingClient(t)
	ctx := t.Context()
	run := newRun(t, c, "lm-lifecycle")

	params := map[string]string{}
	for i := range 120 {
		params[fmt.Sprintf("p%03d", i)] = fmt.Sprint(i)
	}
	m, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{
		ExperimentID: run.Info.ExperimentID,
		Name:         "model",
		ModelType:    "churn-logreg",
		SourceRunID:  run.Info.RunID,
		Params:       params,
		Tags:         map[string]string{"team": "churn", "stage": "dev"},
	})
	require.NoError(t, err)
	id := m.Info.ModelID
	assert.True(t, strings.HasPrefix(id, "m-"), id)
	assert.Equal(t, mlflow.LoggedModelPending, m.Info.Status)
	assert.Equal(t, "model", m.Info.Name)
	assert.Equal(t, "churn-logreg", m.Info.ModelType)
	assert.Equal(t, run.Info.RunID, m.Info.SourceRunID)
	assert.Equal(t, fmt.Sprintf("mlflow-artifacts:/%s/models/%s/artifacts", run.Info.ExperimentID, id), m.Info.ArtifactURI)
	assert.Len(t, m.Data.Params, 120, "params past the first 100 are logged by a second request")
	v, ok := m.Param("p119")
	assert.True(t, ok)
	assert.Equal(t, "119", v)
	tag, _ := m.Tag("team")
	assert.Equal(t, "churn", tag)
	assert.Equal(t, "models:/"+id, m.URI())

	// The model's files, then finalize.
	require.NoError(t, c.UploadArtifact(ctx, m.Info.ArtifactURI, "MLmodel", strings.NewReader("flavors:\n  python_function: {}\n")))
	require.NoError(t, c.UploadArtifact(ctx, m.Info.ArtifactURI, "data/weights.json", strings.NewReader(`{"w": 1}`)))
	before := rec.count()
	_, err = c.FinalizeLoggedModel(ctx, id, "READY")
	require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
	assert.Equal(t, before, rec.count(), "a status MLflow would store as UNSPECIFIED is refused before sending")
	m, err = c.FinalizeLoggedModel(ctx, id, mlflow.LoggedModelReady)
	require.NoError(t, err)
	assert.Equal(t, mlflow.LoggedModelReady, m.Info.Status)
	last := rec.all()[rec.count()-1]
	assert.Equal(t, http.MethodPatch, last.Method)
	assert.JSONEq(t, fmt.Sprintf(`{"model_id": %q, "status": "LOGGED_MODEL_READY"}`, id), string(last.Body))

	// Files, through the artifact proxy.
	files, err := c.ListLoggedModelArtifacts(ctx, id, "")
	require.NoError(t, err)
	assert.ElementsMatch(t, []mlflow.FileInfo{{Path: "MLmodel", FileSize: 31}, {Path: "data", IsDir: true}}, files)
	body, err := c.DownloadLoggedModelArtifact(ctx, id, "data/weights.json")
	require.NoError(t, err)
	b, err := io.ReadAll(body)
	require.NoError(t, body.Close())
	require.NoError(t, err)
	assert.JSONEq(t, `{"w": 1}`, string(b))
	dir := t.TempDir()
	require.NoError(t, c.DownloadLoggedModelArtifacts(ctx, id, "", dir))
	_, err = os.Stat(filepath.Join(dir, "data", "weights.json"))
	require.NoError(t, err)

	// Tags.
	require.NoError(t, c.SetLoggedModelTags(ctx, id, map[string]string{"stage": "review", "with space": "ok"}))
	require.NoError(t, c.DeleteLoggedModelTag(ctx, id, "team"))
	require.NoError(t, c.DeleteLoggedModelTag(ctx, id, "with space"))
	err = c.DeleteLoggedModelTag(ctx, id, "team")
	require.ErrorIs(t, err, mlflow.ErrNotFound, "unlike the registry, a missing tag is an error")
	requireAPIError(t, err, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
	before = rec.count()
	require.ErrorIs(t, c.DeleteLoggedModelTag(ctx, id, "a/b"), mlflow.ErrInvalidParameter)
	assert.Equal(t, before, rec.count())
	m, err = c.GetLoggedModel(ctx, id)
	require.NoError(t, err)
	assert.ElementsMatch(t, []mlflow.Tag{{Key: "stage", Value: "review"}}, userTags(m.Info.Tags))

	// Params are written once.
	require.NoError(t, c.LogLoggedModelParams(ctx, id, []mlflow.Param{{Key: "extra", Value: "1"}}))
	err = c.LogLoggedModelParams(ctx, id, []mlflow.Param{{Key: "extra", Value: "1"}})
	requireAPIError(t, err, http.StatusBadRequest, "BAD_REQUEST")

	// Metrics, through the run, linked to the model and a dataset.
	require.NoError(t, c.LogLoggedModelMetrics(ctx, run.Info.RunID, id, []mlflow.LoggedModelMetric{
		{Metric: mlflow.Metric{Key: "f1", Value: 0.71}, DatasetName: "valid", DatasetDigest: "d1"},
		{Metric: mlflow.Metric{Key: "f1", Value: 0.75, Step: 1}, DatasetName: "valid", DatasetDigest: "d1"},
	}))
	m, err = c.GetLoggedModel(ctx, id)
	require.NoError(t, err)
	f1, ok := m.Metric("f1")
	assert.True(t, ok)
	assert.Equal(t, 0.75, f1, "the highest step")
	require.NotEmpty(t, m.Data.Metrics)
	assert.Equal(t, "valid", m.Data.Metrics[0].DatasetName)
	assert.Equal(t, id, m.Data.Metrics[0].ModelID)
	assert.Equal(t, run.Info.RunID, m.Data.Metrics[0].RunID)

	// Delete: twice is fine, then the model is gone.
	require.NoError(t, c.DeleteLoggedModel(ctx, id))
	require.NoError(t, c.DeleteLoggedModel(ctx, id))
	_, err = c.GetLoggedModel(ctx, id)
	require.ErrorIs(t, err, mlflow.ErrNotFound)
}

// userTags drops the mlflow.* tags the server or the Python client adds.
func userTags(tags []mlflow.Tag) []mlflow.Tag {
	var out []mlflow.Tag
	for _, t := range tags {
		if !strings.HasPrefix(t.Key, "mlflow.") {
			out = append(out, t)
		}
	}
	return out
}

func TestLoggedModelErrors(t *testing.T) {
	t.Parallel()
	c, rec := recordingClient(t)
	ctx := t.Context()
	run := newRun(t, c, "lm-errors")

	t.Run("GetMissing", func(t *testing.T) {
		_, err := c.GetLoggedModel(ctx, "m-00000000000000000000000000000000")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		apiErr := requireAPIError(t, err, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
		assert.Equal(t, "Logged model with ID 'm-00000000000000000000000000000000' not found.", apiErr.Message)
		assert.Equal(t, "/api/2.0/mlflow/logged-models/m-00000000000000000000000000000000", apiErr.Endpoint)
	})

	t.Run("BadFilter", func(t *testing.T) {
		_, err := c.SearchLoggedModels(ctx, mlflow.SearchLoggedModelsRequest{
			ExperimentIDs: []string{run.Info.ExperimentID}, Filter: "metrics.f1 >> 1",
		})
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
		requireAPIError(t, err, http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
	})

	t.Run("BadOrderBy", func(t *testing.T) {
		_, err := c.SearchLoggedModels(ctx, mlflow.SearchLoggedModelsRequest{
			ExperimentIDs: []string{run.Info.ExperimentID}, OrderBy: []mlflow.LoggedModelOrderBy{{FieldName: "bogus"}},
		})
		apiErr := requireAPIError(t, err, http.StatusBadRequest, "INVALID_PARAMETER_VALUE")
		assert.Equal(t, "Invalid order by field name: bogus", apiErr.Message)
	})

	t.Run("MissingExperiment", func(t *testing.T) {
		_, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{ExperimentID: "987654321"})
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		requireAPIError(t, err, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST")
	})

	t.Run("RefusedBeforeSending", func(t *testing.T) {
		before := rec.count()
		_, err := c.GetLoggedModel(ctx, "")
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
		_, err = c.SearchLoggedModels(ctx, mlflow.SearchLoggedModelsRequest{})
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
		require.ErrorIs(t, c.LogOutputs(ctx, run.Info.RunID, nil), mlflow.ErrInvalidParameter)
		require.ErrorIs(t, c.LogInputs(ctx, run.Info.RunID, []mlflow.DatasetInput{{Dataset: mlflow.Dataset{Name: "no-digest"}}}, nil), mlflow.ErrInvalidParameter)
		assert.Equal(t, before, rec.count())
	})
}

func TestSearchLoggedModels(t *testing.T) {
	t.Parallel()
	c, rec := recordingClient(t)
	ctx := t.Context()
	run := newRun(t, c, "lm-search")
	exp := []string{run.Info.ExperimentID}

	scores := []float64{0.62, 0.81, 0.74}
	ids := make([]string, len(scores))
	for i, f1 := range scores {
		m, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{
			ExperimentID: run.Info.ExperimentID, Name: fmt.Sprintf("cand-%d", i), SourceRunID: run.Info.RunID,
			Params: map[string]string{"C": fmt.Sprint(i)}, Tags: map[string]string{"kind": "candidate"},
		})
		require.NoError(t, err)
		afterMilli(m.Info.CreationTimestampMs) // "newest first" below
		ids[i] = m.Info.ModelID
		require.NoError(t, c.LogLoggedModelMetrics(ctx, run.Info.RunID, ids[i], []mlflow.LoggedModelMetric{{Metric: mlflow.Metric{Key: "f1", Value: f1}}}))
	}
	_, err := c.FinalizeLoggedModel(ctx, ids[2], mlflow.LoggedModelReady)
	require.NoError(t, err)
	failed, err := c.FinalizeLoggedModel(ctx, ids[0], mlflow.LoggedModelUploadFailed)
	require.NoError(t, err)
	assert.Equal(t, mlflow.LoggedModelUploadFailed, failed.Info.Status)

	byF1, err := mlflow.ParseLoggedModelOrderBy("metrics.f1 DESC")
	require.NoError(t, err)
	before := rec.count()
	models, err := c.SearchAllLoggedModels(ctx, mlflow.SearchLoggedModelsRequest{
		ExperimentIDs: exp, Filter: "tags.kind = 'candidate'", OrderBy: []mlflow.LoggedModelOrderBy{byF1}, MaxResults: 2,
	})
	require.NoError(t, err)
	assert.Equal(t, []string{ids[1], ids[2], ids[0]}, modelIDs(models))
	assert.Equal(t, 2, rec.count()-before, "two pages of two")
	assert.JSONEq(t, fmt.Sprintf(`{"experiment_ids": [%q], "filter": "tags.kind = 'candidate'", "max_results": 2,
		"order_by": [{"field_name": "metrics.f1", "ascending": false}]}`, run.Info.ExperimentID), string(rec.all()[before].Body))

	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"metrics.f1 > 0.7", []string{ids[1], ids[2]}},
		{"params.C = '0'", []string{ids[0]}},
		{"name = 'cand-1'", []string{ids[1]}},
		{"status = 'READY'", []string{ids[2]}}, // not LOGGED_MODEL_READY, as in JSON
		{"status = 'FAILED'", []string{ids[0]}},
		{"status = 'PENDING'", []string{ids[1]}},
		{fmt.Sprintf("source_run_id = '%s' AND metrics.f1 < 0.8", run.Info.RunID), []string{ids[2], ids[0]}},
	} {
		models, err := c.SearchAllLoggedModels(ctx, mlflow.SearchLoggedModelsRequest{ExperimentIDs: exp, Filter: tc.filter, OrderBy: []mlflow.LoggedModelOrderBy{byF1}})
		require.NoError(t, err, tc.filter)
		assert.Equal(t, tc.want, modelIDs(models), tc.filter)
	}

	byName, err := mlflow.ParseLoggedModelOrderBy("name")
	require.NoError(t, err)
	models, err = c.SearchAllLoggedModels(ctx, mlflow.SearchLoggedModelsRequest{ExperimentIDs: exp, OrderBy: []mlflow.LoggedModelOrderBy{byName}})
	require.NoError(t, err)
	assert.Equal(t, ids, modelIDs(models))

	found, err := c.FindRunLoggedModels(ctx, run.Info.RunID, "")
	require.NoError(t, err)
	assert.Equal(t, []string{ids[2], ids[1], ids[0]}, modelIDs(found), "newest first")
}

func modelIDs(models []mlflow.LoggedModel) []string {
	ids := make([]string, len(models))
	for i, m := range models {
		ids[i] = m.Info.ModelID
	}
	return ids
}

// TestRunInputsOutputs is held to MLflow: the embedded server does not
// serve runs/log-inputs and runs/outputs yet.
func TestRunInputsOutputs(t *testing.T) {
	t.Parallel()
	c := serverClient(t)
	ctx := t.Context()
	run := newRun(t, c, "lm-io")
	m, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{ExperimentID: run.Info.ExperimentID, Name: "model", SourceRunID: run.Info.RunID})
	require.NoError(t, err)
	id := m.Info.ModelID

	ds := mlflow.DatasetInput{
		Tags: []mlflow.Tag{{Key: mlflow.DatasetContextTag, Value: "training"}},
		Dataset: mlflow.Dataset{Name: "telco", Digest: "4f2a91c0", SourceType: "local", Source: `{"uri": "file:///data/telco.csv"}`,
			Schema: `{"mlflow_colspec": [{"type": "long", "name": "tenure", "required": true}]}`, Profile: `{"num_rows": 7043}`},
	}
	require.NoError(t, c.LogInputs(ctx, run.Info.RunID, []mlflow.DatasetInput{ds}, []mlflow.ModelInput{{ModelID: id}}))
	require.NoError(t, c.LogInputs(ctx, run.Info.RunID, []mlflow.DatasetInput{ds}, nil), "logging a dataset again is accepted")
	require.NoError(t, c.LogOutputs(ctx, run.Info.RunID, []mlflow.ModelOutput{{ModelID: id, Step: 3}}))
	err = c.LogOutputs(ctx, run.Info.RunID, []mlflow.ModelOutput{{ModelID: id, Step: 3}})
	requireAPIError(t, err, http.StatusBadRequest, "BAD_REQUEST")

	got, err := c.GetRun(ctx, run.Info.RunID)
	require.NoError(t, err)
	assert.Equal(t, []mlflow.DatasetInput{ds}, got.Inputs.DatasetInputs)
	assert.Equal(t, []mlflow.ModelInput{{ModelID: id}}, got.Inputs.ModelInputs)
	assert.Equal(t, []mlflow.ModelOutput{{ModelID: id, Step: 3}}, got.Outputs.ModelOutputs)
}

func TestResolveArtifactURI(t *testing.T) {
	t.Parallel()
	c := serverClient(t)
	ctx := t.Context()
	run := newRun(t, c, "lm-resolve")
	require.NoError(t, c.UploadArtifact(ctx, run.Info.ArtifactURI, "plots/roc.svg", strings.NewReader("<svg/>")))

	// Two models called "model" from the run: without outputs, the newest
	// (TestResolveArtifactURIOutputs: with outputs).
	older, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{ExperimentID: run.Info.ExperimentID, Name: "model", SourceRunID: run.Info.RunID})
	require.NoError(t, err)
	afterMilli(older.Info.CreationTimestampMs)
	newer, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{ExperimentID: run.Info.ExperimentID, Name: "model", SourceRunID: run.Info.RunID})
	require.NoError(t, err)

	res, err := c.ResolveArtifactURI(ctx, "runs:/"+run.Info.RunID+"/model")
	require.NoError(t, err)
	require.NotNil(t, res.Model)
	assert.Equal(t, newer.Info.ModelID, res.ModelID(), "without outputs, the newest")

	res, err = c.ResolveArtifactURI(ctx, "runs:/"+run.Info.RunID+"/model/MLmodel")
	require.NoError(t, err)
	assert.Equal(t, newer.Info.ArtifactURI+"/MLmodel", res.ArtifactURI)
	assert.Equal(t, "models:/"+newer.Info.ModelID, res.Source())
	assert.Equal(t, run.Info.RunID, res.RunID)

	// Not a model's name: the run's own artifacts.
	res, err = c.ResolveArtifactURI(ctx, "runs:/"+run.Info.RunID+"/plots/roc.svg")
	require.NoError(t, err)
	assert.Nil(t, res.Model)
	assert.Equal(t, run.Info.ArtifactURI+"/plots/roc.svg", res.ArtifactURI)
	assert.Equal(t, res.ArtifactURI, res.Source())
	res, err = c.ResolveArtifactURI(ctx, "runs:/"+run.Info.RunID)
	require.NoError(t, err)
	assert.Equal(t, run.Info.ArtifactURI, res.ArtifactURI)
	res, err = c.ResolveArtifactURI(ctx, "runs:/"+run.Info.RunID+"/model.pkl")
	require.NoError(t, err)
	assert.Nil(t, res.Model, "no logged model can be called model.pkl")
	assert.Equal(t, run.Info.ArtifactURI+"/model.pkl", res.ArtifactURI)
	_, err = c.FindRunLoggedModels(ctx, run.Info.RunID, "it's")
	require.ErrorIs(t, err, mlflow.ErrInvalidParameter)

	// models:/<model_id>.
	res, err = c.ResolveArtifactURI(ctx, newer.URI())
	require.NoError(t, err)
	assert.Equal(t, newer.Info.ArtifactURI, res.ArtifactURI)
	assert.Equal(t, run.Info.RunID, res.RunID)
	_, err = c.ResolveArtifactURI(ctx, "models:/m-00000000000000000000000000000000")
	require.ErrorIs(t, err, mlflow.ErrNotFound)
	_, err = c.ResolveModelURI(ctx, newer.URI())
	require.ErrorIs(t, err, mlflow.ErrInvalidParameter, "a logged model is not a version")

	// A missing run, and bad URIs.
	_, err = c.ResolveArtifactURI(ctx, "runs:/00000000000000000000000000000000/model")
	require.ErrorIs(t, err, mlflow.ErrNotFound)
	_, err = c.ResolveArtifactURI(ctx, "runs:/"+run.Info.RunID+"/../x")
	require.ErrorIs(t, err, mlflow.ErrPathEscape)
	_, err = c.ResolveArtifactURI(ctx, "s3://bucket/model")
	require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
}

// TestResolveArtifactURIOutputs: of two models of a run with the same
// name, the one its outputs name at the highest step wins. Held to MLflow:
// the embedded server does not serve runs/outputs yet.
func TestResolveArtifactURIOutputs(t *testing.T) {
	t.Parallel()
	c := serverClient(t)
	ctx := t.Context()
	run := newRun(t, c, "lm-resolve-outputs")
	older, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{ExperimentID: run.Info.ExperimentID, Name: "model", SourceRunID: run.Info.RunID})
	require.NoError(t, err)
	afterMilli(older.Info.CreationTimestampMs)
	newer, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{ExperimentID: run.Info.ExperimentID, Name: "model", SourceRunID: run.Info.RunID})
	require.NoError(t, err)
	require.NoError(t, c.LogOutputs(ctx, run.Info.RunID, []mlflow.ModelOutput{{ModelID: older.Info.ModelID, Step: 5}, {ModelID: newer.Info.ModelID, Step: 1}}))
	res, err := c.ResolveArtifactURI(ctx, "runs:/"+run.Info.RunID+"/model/MLmodel")
	require.NoError(t, err)
	assert.Equal(t, older.Info.ModelID, res.ModelID(), "the highest step")
	assert.Equal(t, older.Info.ArtifactURI+"/MLmodel", res.ArtifactURI)
	assert.Equal(t, "models:/"+older.Info.ModelID, res.Source())
	assert.Equal(t, run.Info.RunID, res.RunID)
}

func TestParseRunsURI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, run, path string
		wantErr       error
	}{
		{in: "runs:/abc/model", run: "abc", path: "model"},
		{in: "runs:/abc/model/MLmodel", run: "abc", path: "model/MLmodel"},
		{in: "runs:/abc", run: "abc"},
		{in: "runs:/abc/", run: "abc"},
		{in: "runs:/abc/./model//x", run: "abc", path: "model/x"},
		{in: "RUNS:/abc/model", run: "abc", path: "model"},
		{in: "runs:/abc/../other", wantErr: mlflow.ErrPathEscape},
		{in: "runs:/abc/%2e%2e/other", wantErr: mlflow.ErrPathEscape},
		{in: "runs:/", wantErr: mlflow.ErrInvalidParameter},
		{in: "runs://host/abc/model", wantErr: mlflow.ErrInvalidParameter},
		{in: "runs:abc/model", wantErr: mlflow.ErrInvalidParameter},
		{in: "runs:/abc/model?x=1", wantErr: mlflow.ErrInvalidParameter},
		{in: "models:/m-1", wantErr: mlflow.ErrInvalidParameter},
	} {
		t.Run(tc.in, func(t *testing.T) {
			run, path, err := mlflow.ParseRunsURI(tc.in)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.run, run)
			assert.Equal(t, tc.path, path)
		})
	}
}

func TestParseLoggedModelOrderBy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]mlflow.LoggedModelOrderBy{
		"metrics.f1 DESC":        {FieldName: "metrics.f1"},
		"metrics.f1 desc":        {FieldName: "metrics.f1"},
		"creation_timestamp ASC": {FieldName: "creation_timestamp", Ascending: true},
		"  name ":                {FieldName: "name", Ascending: true},
	} {
		got, err := mlflow.ParseLoggedModelOrderBy(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "metrics.f1 DOWN", "a b c"} {
		_, err := mlflow.ParseLoggedModelOrderBy(in)
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter, in)
	}
}

func TestLoggedModelMetricJSON(t *testing.T) {
	t.Parallel()
	in := `{"key": "f1", "value": "NaN", "timestamp": 17, "step": 2, "dataset_name": "valid", "dataset_digest": "d1", "model_id": "m-1", "run_id": "r1"}`
	var m mlflow.LoggedModelMetric
	require.NoError(t, json.Unmarshal([]byte(in), &m))
	assert.Equal(t, "f1", m.Key)
	assert.Equal(t, int64(2), m.Step)
	assert.Equal(t, "valid", m.DatasetName)
	assert.Equal(t, "m-1", m.ModelID)
	out, err := json.Marshal(m)
	require.NoError(t, err)
	assert.JSONEq(t, in, string(out))

	plain, err := json.Marshal(mlflow.LoggedModelMetric{Metric: mlflow.Metric{Key: "f1", Value: 0.5}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"key": "f1", "value": 0.5, "timestamp": 0, "step": 0}`, string(plain))
	require.Error(t, json.Unmarshal([]byte(`{"key": "f1", "value": "x"}`), &m))
}

// TestResolveRunsURIWithoutLoggedModels: a server without logged-model
// endpoints (MLflow 2, which answers an HTML 404) resolves runs:/ URIs to
// the run's artifacts. A real MLflow 3.18 server cannot show this.
func TestResolveRunsURIWithoutLoggedModels(t *testing.T) {
	t.Parallel()
	uri := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case basePath + "/api/2.0/mlflow/runs/get":
			_, _ = io.WriteString(w, `{"run": {"info": {"run_id": "r1", "experiment_id": "1", "artifact_uri": "mlflow-artifacts:/1/r1/artifacts"}}}`)
		default:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, "<!doctype html><title>404 Not Found</title>")
		}
	})
	c, _ := fakeClient(t, uri, nil)
	res, err := c.ResolveArtifactURI(t.Context(), "runs:/r1/model")
	require.NoError(t, err)
	assert.Nil(t, res.Model)
	assert.Equal(t, "mlflow-artifacts:/1/r1/artifacts/model", res.ArtifactURI)
	assert.Equal(t, res.ArtifactURI, res.Source())

	_, err = c.FindRunLoggedModels(t.Context(), "r1", "model")
	require.ErrorIs(t, err, mlflow.ErrNotFound, "asked directly, the missing endpoint is an error")
}

// TestLoggedModelsSupported: the logged-model search answering says yes; a
// 404 without an MLflow error code (an unknown endpoint: MLflow 2, the
// embedded server, servers such as Azure ML's) says no; any other failure,
// a 404 that names a missing entity included, is an error.
func TestLoggedModelsSupported(t *testing.T) {
	for name, tc := range map[string]struct {
		status  int
		ctype   string
		body    string
		want    bool
		wantErr bool
	}{
		"MLflow3":          {http.StatusOK, "application/json", `{}`, true, false},
		"MLflow2HTML":      {http.StatusNotFound, "text/html", "<!doctype html><title>404 Not Found</title><h1>Not Found</h1>", false, false},
		"PlainText":        {http.StatusNotFound, "text/plain", "404 page not found\n", false, false},
		"EmptyBody":        {http.StatusNotFound, "", "", false, false},
		"ErrMissingEntity": {http.StatusNotFound, "application/json", `{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no experiment"}`, false, true},
		"ErrForbidden":     {http.StatusForbidden, "application/json", `{"error_code":"PERMISSION_DENIED","message":"no"}`, false, true},
	} {
		t.Run(name, func(t *testing.T) {
			uri := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, basePath+"/api/2.0/mlflow/logged-models/search", r.URL.Path)
				assert.Equal(t, http.MethodPost, r.Method)
				var in struct {
					ExperimentIDs []string `json:"experiment_ids"`
					MaxResults    int      `json:"max_results"`
				}
				assert.NoError(t, json.NewDecoder(r.Body).Decode(&in))
				assert.Equal(t, []string{"7"}, in.ExperimentIDs)
				assert.Equal(t, 1, in.MaxResults)
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			c, err := mlflow.New(mlflow.DefaultConfig(uri))
			require.NoError(t, err)
			got, err := c.LoggedModelsSupported(t.Context(), "7")
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
