package mlflow_test

import (
	"cmp"
	"encoding/json"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
)

// sklearnModels is what scripts/log_sklearn_models.py prints.
type sklearnModels struct {
	ExperimentID string `json:"experiment_id"`
	Models       []struct {
		RunID         string  `json:"run_id"`
		ModelID       string  `json:"model_id"`
		F1            float64 `json:"f1"`
		ROCAUC        float64 `json:"roc_auc"`
		DatasetDigest string  `json:"dataset_digest"`
	} `json:"models"`
	Registered struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Source  string `json:"source"`
		RunID   string `json:"run_id"`
	} `json:"registered"`
}

// runSklearnScript runs scripts/log_sklearn_models.py with args against
// uri and decodes its last line of output into v.
func runSklearnScript(t *testing.T, uri string, v any, args ...string) {
	t.Helper()
	testenv.SklearnModels(t, uri, v, args...)
}

// TestSklearnLoggedModelsInterop: models logged by MLflow's Python client
// the MLflow 3 way (mlflow.sklearn.log_model(pipe, name="model")) are found,
// searched, resolved, registered and downloaded by this client as MLflow
// does, and a version it registers loads in Python.
func TestSklearnLoggedModelsInterop(t *testing.T) {
	t.Parallel()
	sklearnLoggedModelsInterop(t, testenv.RealMLflow(t))
}

// TestSklearnLoggedModelsInteropEmbedded is the same against the embedded
// server: MLflow's Python client on the other side, unchanged.
func TestSklearnLoggedModelsInteropEmbedded(t *testing.T) {
	t.Parallel()
	sklearnLoggedModelsInterop(t, mlflowtest.Embedded(t))
}

func sklearnLoggedModelsInterop(t *testing.T, uri string) {
	c := clientOf(t, uri)
	ctx := t.Context()
	name := unique("SklearnInterop")
	var logged sklearnModels
	runSklearnScript(t, uri, &logged, "--experiment", unique("lm-interop"), "--runs", "3", "--register", name)
	require.Len(t, logged.Models, 3)

	// Each run produced one logged model called "model", with its files
	// and metrics, and left its own artifacts empty.
	for _, lm := range logged.Models {
		found, err := c.FindRunLoggedModels(ctx, lm.RunID, "model")
		require.NoError(t, err)
		require.Len(t, found, 1)
		m := found[0]
		assert.Equal(t, lm.ModelID, m.Info.ModelID)
		assert.Equal(t, mlflow.LoggedModelReady, m.Info.Status)
		f1, ok := m.Metric("f1")
		assert.True(t, ok)
		assert.Equal(t, lm.F1, f1)
		auc, _ := m.Metric("roc_auc")
		assert.Equal(t, lm.ROCAUC, auc)
		assert.Equal(t, "churn-validation", m.Data.Metrics[0].DatasetName)
		assert.Equal(t, lm.DatasetDigest, m.Data.Metrics[0].DatasetDigest)

		run, err := c.GetRun(ctx, lm.RunID)
		require.NoError(t, err)
		assert.Equal(t, []mlflow.ModelOutput{{ModelID: lm.ModelID, Step: 0}}, run.Outputs.ModelOutputs)
		require.Len(t, run.Inputs.DatasetInputs, 1)
		assert.Equal(t, lm.DatasetDigest, run.Inputs.DatasetInputs[0].Dataset.Digest)
		assert.Equal(t, []mlflow.Tag{{Key: mlflow.DatasetContextTag, Value: "validation"}}, run.Inputs.DatasetInputs[0].Tags)
		files, err := c.ListArtifacts(ctx, run.Info.ArtifactURI, "")
		require.NoError(t, err)
		assert.Empty(t, files, "MLflow 3 keeps the model's files out of the run's artifacts")
	}

	// Search ordered by f1, best first, a page at a time.
	byF1, err := mlflow.ParseLoggedModelOrderBy("metrics.f1 DESC")
	require.NoError(t, err)
	models, err := c.SearchAllLoggedModels(ctx, mlflow.SearchLoggedModelsRequest{
		ExperimentIDs: []string{logged.ExperimentID}, Filter: "name = 'model'", OrderBy: []mlflow.LoggedModelOrderBy{byF1}, MaxResults: 2,
	})
	require.NoError(t, err)
	require.Len(t, models, 3)
	var f1s []float64
	for _, m := range models {
		f1, _ := m.Metric("f1")
		f1s = append(f1s, f1)
	}
	assert.True(t, slices.IsSortedFunc(f1s, func(a, b float64) int { return cmp.Compare(b, a) }), "f1 descending: %v", f1s)
	best := models[0]

	// runs:/RUN/model resolves to models:/m-..., as mlflow.register_model did.
	res, err := c.ResolveArtifactURI(ctx, "runs:/"+best.Info.SourceRunID+"/model")
	require.NoError(t, err)
	assert.Equal(t, best.URI(), res.Source())
	assert.Equal(t, best.Info.ArtifactURI, res.ArtifactURI)
	assert.Equal(t, logged.Registered.Source, res.Source(), "the source Python's register_model chose")
	assert.Equal(t, logged.Registered.RunID, res.RunID)

	// Register it from Go, as a second version.
	mv, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{
		Name: name, Source: res.Source(), RunID: res.RunID, ModelID: res.ModelID(),
	})
	require.NoError(t, err)
	mv, err = c.WaitModelVersionReady(ctx, name, mv.Version, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "2", mv.Version)
	assert.Equal(t, best.URI(), mv.Source)
	// MLflow 3.18's registry does not return model_id; it records the link
	// in the logged model's mlflow.modelVersions tag instead.
	t.Logf("model_id in the version's JSON: %q", mv.ModelID)
	m, err := c.GetLoggedModel(ctx, best.Info.ModelID)
	require.NoError(t, err)
	links, ok := m.Tag("mlflow.modelVersions")
	require.True(t, ok)
	var versions []struct {
		Name    string `json:"name"`
		Version any    `json:"version"` // a number from the server, a string from Python
	}
	require.NoError(t, json.Unmarshal([]byte(links), &versions))
	assert.Contains(t, versions, struct {
		Name    string `json:"name"`
		Version any    `json:"version"`
	}{name, float64(2)})

	dl, err := c.GetModelVersionDownloadURI(ctx, name, mv.Version)
	require.NoError(t, err)
	assert.Equal(t, best.Info.ArtifactURI, dl, "the registry resolves models:/m-... sources")
	res, err = c.ResolveArtifactURI(ctx, "models:/"+name+"/"+mv.Version)
	require.NoError(t, err)
	assert.Equal(t, best.Info.ModelID, res.ModelID())
	assert.Equal(t, best.Info.ArtifactURI, res.ArtifactURI)

	// The MLmodel file, through the artifact proxy: a python_function model.
	body, err := c.DownloadLoggedModelArtifact(ctx, best.Info.ModelID, "MLmodel")
	require.NoError(t, err)
	raw, err := io.ReadAll(body)
	require.NoError(t, body.Close())
	require.NoError(t, err)
	var mlmodel struct {
		ModelID string                    `yaml:"model_id"`
		RunID   string                    `yaml:"run_id"`
		Flavors map[string]map[string]any `yaml:"flavors"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &mlmodel), "%s", raw)
	require.Contains(t, mlmodel.Flavors, "python_function", "%s", raw)
	assert.Equal(t, "mlflow.sklearn", mlmodel.Flavors["python_function"]["loader_module"])
	assert.Contains(t, mlmodel.Flavors, "sklearn")
	assert.Equal(t, best.Info.ModelID, mlmodel.ModelID)
	assert.Equal(t, best.Info.SourceRunID, mlmodel.RunID)

	// The version registered from Go loads in Python.
	var loaded struct {
		Flavor      string `json:"flavor"`
		ModelID     string `json:"model_id"`
		Predictions []int  `json:"predictions"`
	}
	runSklearnScript(t, uri, &loaded, "--load", "models:/"+name+"/"+mv.Version)
	assert.Equal(t, "mlflow.sklearn", loaded.Flavor)
	assert.Equal(t, best.Info.ModelID, loaded.ModelID)
	assert.Len(t, loaded.Predictions, 3)
}
