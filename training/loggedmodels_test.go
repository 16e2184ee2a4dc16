package training_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/training"
)

// registered is what scripts/register_run_model.py prints.
type registered struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source"`
	RunID   string `json:"run_id"`
	Status  string `json:"status"`
}

// registerWithPython registers runs:/runID/model as name with MLflow's own
// Python client (mlflow.register_model) against uri.
func registerWithPython(t *testing.T, uri, runID, name string) registered {
	t.Helper()
	py := testenv.Python(t)
	script := filepath.Join(testenv.RepoRoot(), "scripts", "register_run_model.py")
	cmd := exec.CommandContext(t.Context(), py, script, runID, name)
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+uri,
		"MLFLOW_ENABLE_ASYNC_LOGGING=false", "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%s %s %s failed:\n%s", script, runID, name, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out registered
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &out), "stdout:\n%s", stdout.String())
	return out
}

// TestTrainLoggedModelsMLflow: on MLflow 3.18, each training run logs its
// model as a LoggedModel called "model", READY, produced by the run, with
// the run's metrics linked to it and recorded as the run's output; the
// run's own artifacts stay empty; the model's files hold MLmodel; and
// MLflow's Python register_model("runs:/RUN/model") registers models:/m-....
func TestTrainLoggedModelsMLflow(t *testing.T) { trainLoggedModels(t, testenv.RealMLflow(t)) }

// TestTrainLoggedModelsEmbedded is the same on the embedded server.
func TestTrainLoggedModelsEmbedded(t *testing.T) { trainLoggedModels(t, mlflowtest.Embedded(t)) }

func trainLoggedModels(t *testing.T, uri string) {
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	ctx := t.Context()
	res, err := training.Train(ctx, c, training.Options{Experiment: uniqueName("train-logged-models"), Runs: 2, Rows: 800, Seed: 5})
	require.NoError(t, err)
	require.True(t, res.LoggedModels, "MLflow 3.18 has logged models")
	require.Len(t, res.Runs, 2)

	for _, r := range res.Runs {
		found, err := c.FindRunLoggedModels(ctx, r.RunID, training.ModelArtifactPath)
		require.NoError(t, err)
		require.Len(t, found, 1, r.RunName)
		m := found[0]
		assert.Equal(t, r.ModelID, m.Info.ModelID)
		assert.True(t, strings.HasPrefix(m.Info.ModelID, "m-"), m.Info.ModelID)
		assert.Equal(t, mlflow.LoggedModelReady, m.Info.Status)
		assert.Equal(t, r.RunID, m.Info.SourceRunID)
		assert.Equal(t, res.ExperimentID, m.Info.ExperimentID)
		l2, ok := m.Param("l2")
		assert.True(t, ok, "the run's params are the model's")
		assert.Equal(t, strconv.FormatFloat(r.Hyper.L2, 'g', -1, 64), l2)
		src, _ := m.Tag("mlflow.source.name")
		assert.Equal(t, "playbook", src)
		for _, k := range []string{"f1", "roc_auc", "precision", "recall", "accuracy", "log_loss"} {
			v, ok := m.Metric(k)
			require.True(t, ok, "model of %s lacks metric %s", r.RunName, k)
			assert.InDelta(t, r.Metrics[k], v, 1e-12, k)
		}
		for _, x := range m.Data.Metrics {
			assert.Equal(t, m.Info.ModelID, x.ModelID)
			assert.Equal(t, r.RunID, x.RunID)
		}

		run, err := c.GetRun(ctx, r.RunID)
		require.NoError(t, err)
		assert.Equal(t, mlflow.RunStatusFinished, run.Info.Status)
		assert.Equal(t, []mlflow.ModelOutput{{ModelID: m.Info.ModelID, Step: 0}}, run.Outputs.ModelOutputs)
		f1, ok := run.Metric("f1")
		require.True(t, ok, "the metrics are the run's too")
		assert.InDelta(t, r.Metrics["f1"], f1, 1e-12)
		files, err := c.ListArtifacts(ctx, run.Info.ArtifactURI, "")
		require.NoError(t, err)
		assert.Empty(t, files, "MLflow 3 keeps the model's files out of the run's artifacts")

		files, err = c.ListLoggedModelArtifacts(ctx, m.Info.ModelID, "")
		require.NoError(t, err)
		var names []string
		for _, f := range files {
			names = append(names, f.Path)
		}
		assert.Contains(t, names, "MLmodel")
		assert.Contains(t, names, "model.json")
		body, err := c.DownloadLoggedModelArtifact(ctx, m.Info.ModelID, "MLmodel")
		require.NoError(t, err)
		raw, err := io.ReadAll(body)
		require.NoError(t, body.Close())
		require.NoError(t, err)
		var mlm struct {
			ArtifactPath string         `yaml:"artifact_path"`
			ModelID      string         `yaml:"model_id"`
			ModelUUID    string         `yaml:"model_uuid"`
			RunID        string         `yaml:"run_id"`
			Flavors      map[string]any `yaml:"flavors"`
		}
		require.NoError(t, yaml.Unmarshal(raw, &mlm), "%s", raw)
		assert.Equal(t, m.Info.ModelID, mlm.ModelID)
		assert.Equal(t, m.Info.ModelID, mlm.ModelUUID, "as MLflow 3 writes it")
		assert.Equal(t, m.Info.ArtifactURI, mlm.ArtifactPath, "as MLflow 3 writes it")
		assert.Equal(t, r.RunID, mlm.RunID)
		assert.Contains(t, mlm.Flavors, "playbook_churn")

		// runs:/RUN/model resolves to the logged model, as in MLflow.
		resolved, err := c.ResolveArtifactURI(ctx, "runs:/"+r.RunID+"/model")
		require.NoError(t, err)
		assert.Equal(t, m.URI(), resolved.Source())
	}

	// MLflow's own Python client registers the run's model by its runs:/ URI.
	best := res.Runs[0]
	name := uniqueName("TrainLoggedModels")
	got := registerWithPython(t, uri, best.RunID, name)
	assert.Equal(t, "models:/"+best.ModelID, got.Source)
	assert.True(t, strings.HasPrefix(got.Source, "models:/m-"), got.Source)
	assert.Equal(t, best.RunID, got.RunID)
	assert.Equal(t, "1", got.Version)
}

// TestTrainLoggedModelUploadFailedMLflow: on MLflow 3.18, a model whose
// upload fails is finalized UPLOAD_FAILED, and its run ends FAILED.
func TestTrainLoggedModelUploadFailed(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.URI(t)))
	require.NoError(t, err)
	ctx := t.Context()
	res, err := training.Train(ctx, failingUpload{c}, training.Options{Experiment: uniqueName("train-upload-failed"), Runs: 1, Rows: 500, Seed: 2})
	require.Error(t, err)
	require.Len(t, res.Runs, 1)
	r := res.Runs[0]
	assert.Equal(t, mlflow.RunStatusFailed, r.Status)
	require.NotEmpty(t, r.ModelID)
	m, err := c.GetLoggedModel(ctx, r.ModelID)
	require.NoError(t, err)
	assert.Equal(t, mlflow.LoggedModelUploadFailed, m.Info.Status)
	assert.Equal(t, r.RunID, m.Info.SourceRunID)
}

// TestTrainRunArtifactsEmbedded: on a server without logged models
// (EmbeddedWithoutLoggedModels answers 404 on their endpoints), training logs each
// model as run artifacts under model/, as MLflow 2 did.
func TestTrainRunArtifactsEmbedded(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.EmbeddedWithoutLoggedModels(t)))
	require.NoError(t, err)
	ctx := t.Context()
	res, err := training.Train(ctx, c, training.Options{Experiment: uniqueName("train-run-artifacts"), Runs: 2, Rows: 500, Seed: 4})
	require.NoError(t, err)
	assert.False(t, res.LoggedModels)
	for _, r := range res.Runs {
		assert.Empty(t, r.ModelID)
		run, err := c.GetRun(ctx, r.RunID)
		require.NoError(t, err)
		assert.Empty(t, run.Outputs.ModelOutputs)
		files, err := c.ListArtifacts(ctx, run.Info.ArtifactURI, training.ModelArtifactPath)
		require.NoError(t, err)
		var names []string
		for _, f := range files {
			names = append(names, f.Path)
		}
		assert.Contains(t, names, training.ModelArtifactPath+"/MLmodel")
		resolved, err := c.ResolveArtifactURI(ctx, "runs:/"+r.RunID+"/model")
		require.NoError(t, err)
		assert.Nil(t, resolved.Model)
		assert.Equal(t, run.Info.ArtifactURI+"/model", resolved.Source())
	}
}

// TestTrainRunArtifactsRegisterPythonEmbedded: on a server without logged
// models (EmbeddedWithoutLoggedModels), MLflow's own Python
// register_model("runs:/RUN/model") finds the model in the run's artifacts
// and registers their URI, as on MLflow 2.
func TestTrainRunArtifactsRegisterPythonEmbedded(t *testing.T) {
	testenv.Python(t)
	uri := mlflowtest.EmbeddedWithoutLoggedModels(t)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	res, err := training.Train(t.Context(), c, training.Options{Experiment: uniqueName("train-run-artifacts-py"), Runs: 1, Rows: 300, Seed: 6})
	require.NoError(t, err)
	run, err := c.GetRun(t.Context(), res.Runs[0].RunID)
	require.NoError(t, err)
	got := registerWithPython(t, uri, run.Info.RunID, "EmbeddedRunArtifacts")
	assert.Equal(t, run.Info.ArtifactURI+"/model", got.Source)
	assert.Equal(t, run.Info.RunID, got.RunID)
	assert.Equal(t, "READY", got.Status)
}
