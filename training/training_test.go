package training_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/training"
)

// newClient returns a client of the test server (mlflowtest.URI).
func newClient(t *testing.T) *mlflow.Client { return mlflowtest.Client(t) }

// uniqueName returns a name no other test takes.
func uniqueName(prefix string) string { return mlflowtest.Unique(prefix) }

func TestHyperparameterGrid(t *testing.T) {
	for _, n := range []int{1, 3, 8, 60, 100} {
		g := training.HyperparameterGrid(n, 7)
		require.Len(t, g, n)
		seen := map[training.Hyperparameters]bool{}
		for _, h := range g {
			assert.False(t, seen[h], "duplicate hyperparameters %+v", h)
			seen[h] = true
		}
		assert.Equal(t, g, training.HyperparameterGrid(n, 7), "the grid is deterministic")
	}
}

func TestTrainErrors(t *testing.T) {
	ctx := t.Context()
	for name, tc := range map[string]struct {
		opts training.Options
		want string
	}{
		"ErrNoExperiment": {training.Options{Runs: 1}, "no experiment name"},
		"ErrNoRuns":       {training.Options{Experiment: "x"}, "0 runs"},
		"ErrValidFrac":    {training.Options{Experiment: "x", Runs: 1, ValidFrac: 1.5}, "validation fraction"},
		"ErrMissingData":  {training.Options{Experiment: "x", Runs: 1, Data: "/nonexistent/telco.csv"}, "/nonexistent/telco.csv"},
	} {
		t.Run(name, func(t *testing.T) {
			// A nil tracker: the options are checked before any call.
			_, err := training.Train(ctx, nil, tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestTrainRegisterLoad is issue 2's end-to-end check against a tracking
// server (mlflowtest.URI): create an experiment, train 3 runs, search them by f1, register the
// best, move aliases, set and delete tags, download the artifact, load the
// model, and compare its predictions with the in-memory model's.
func TestTrainRegisterLoad(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	expName := uniqueName("e2e-train")

	res, err := training.Train(ctx, c, training.Options{Experiment: expName, Runs: 3, Rows: 3000, Seed: 3})
	require.NoError(t, err)
	require.Len(t, res.Runs, 3)

	// Every run ended FINISHED with the metrics, params and artifact.
	for _, r := range res.Runs {
		got, err := c.GetRun(ctx, r.RunID)
		require.NoError(t, err)
		assert.Equal(t, mlflow.RunStatusFinished, got.Info.Status, r.RunName)
		for _, k := range []string{"f1", "roc_auc", "precision", "recall", "accuracy", "log_loss"} {
			v, ok := got.Metric(k)
			require.True(t, ok, "run %s lacks metric %s", r.RunName, k)
			assert.InDelta(t, r.Metrics[k], v, 1e-12, k)
		}
		l2, ok := got.Param("l2")
		require.True(t, ok)
		assert.Equal(t, fmt.Sprint(r.Hyper.L2), l2)
	}

	// Search ordered by f1 DESC returns them in that order.
	exp, err := c.GetExperimentByName(ctx, expName)
	require.NoError(t, err)
	found, err := c.SearchAllRuns(ctx, mlflow.SearchRunsRequest{
		ExperimentIDs: []string{exp.ExperimentID}, OrderBy: []string{"metrics.f1 DESC"}, MaxResults: 2,
	})
	require.NoError(t, err)
	want := append([]training.TrainedRun(nil), res.Runs...)
	sort.SliceStable(want, func(i, j int) bool { return want[i].Metrics["f1"] > want[j].Metrics["f1"] })
	require.Len(t, found, 3)
	for i := range want {
		assert.Equal(t, want[i].RunID, found[i].Info.RunID, "rank %d", i+1)
	}
	best := found[0]
	var bestModel *churn.Model
	for _, r := range res.Runs {
		if r.RunID == best.Info.RunID {
			bestModel = r.Model
		}
	}
	require.NotNil(t, bestModel)

	// Register a version from the best run.
	name := uniqueName("ChurnPredictor-e2e")
	_, err = c.CreateRegisteredModel(ctx, name, nil, "issue 2 end-to-end")
	require.NoError(t, err)
	mv, err := c.CreateModelVersion(ctx, registerRequest(t, c, name, best.Info.RunID))
	require.NoError(t, err)
	mv, err = c.WaitModelVersionReady(ctx, name, mv.Version, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, mlflow.ModelVersionReady, mv.Status)

	// A second version, so aliases have somewhere to move.
	mv2, err := c.CreateModelVersion(ctx, registerRequest(t, c, name, found[1].Info.RunID))
	require.NoError(t, err)
	_, err = c.WaitModelVersionReady(ctx, name, mv2.Version, time.Minute)
	require.NoError(t, err)

	// Aliases: set, read, move, delete.
	require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "staging-candidate", mv.Version))
	got, err := c.GetModelVersionByAlias(ctx, name, "staging-candidate")
	require.NoError(t, err)
	assert.Equal(t, mv.Version, got.Version)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "staging-candidate", mv2.Version))
	got, err = c.GetModelVersionByAlias(ctx, name, "staging-candidate")
	require.NoError(t, err)
	assert.Equal(t, mv2.Version, got.Version, "the alias moved")
	require.NoError(t, c.DeleteRegisteredModelAlias(ctx, name, "staging-candidate"))
	_, err = c.GetModelVersionByAlias(ctx, name, "staging-candidate")
	require.Error(t, err)
	assert.True(t, errors.Is(err, mlflow.ErrNotFound), "deleted alias: %v", err)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "production-live", mv.Version))

	// Tags: set and delete, on the model and on the version.
	require.NoError(t, c.SetModelVersionTag(ctx, name, mv.Version, "validation_status", "pending"))
	require.NoError(t, c.SetRegisteredModelTag(ctx, name, "team", "churn"))
	got, err = c.GetModelVersion(ctx, name, mv.Version)
	require.NoError(t, err)
	v, ok := got.Tag("validation_status")
	require.True(t, ok)
	assert.Equal(t, "pending", v)
	require.NoError(t, c.DeleteModelVersionTag(ctx, name, mv.Version, "validation_status"))
	got, err = c.GetModelVersion(ctx, name, mv.Version)
	require.NoError(t, err)
	_, ok = got.Tag("validation_status")
	assert.False(t, ok, "the tag was deleted")
	require.NoError(t, c.DeleteRegisteredModelTag(ctx, name, "team"))

	// Download the artifact through models:/NAME@ALIAS and load the model.
	prod, err := c.ResolveModelURI(ctx, "models:/"+name+"@production-live")
	require.NoError(t, err)
	require.Equal(t, mv.Version, prod.Version)
	uri, err := c.GetModelVersionDownloadURI(ctx, name, prod.Version)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, c.DownloadDir(ctx, uri, "", dir))
	loaded, meta, err := churn.LoadModel(dir)
	require.NoError(t, err)
	assert.Equal(t, best.Info.RunID, meta.RunID)

	// Its predictions equal the in-memory model's exactly.
	customers := churn.GenerateDataset(500, 99)
	wantP := bestModel.PredictProba(customers)
	gotP := loaded.PredictProba(customers)
	require.Equal(t, len(wantP), len(gotP))
	for i := range wantP {
		require.Equal(t, wantP[i], gotP[i], "customer %d", i)
	}
	assert.Equal(t, bestModel.Predict(customers), loaded.Predict(customers))
}

// registerRequest is the version mlflow.register_model("runs:/RUN/model",
// name) creates: from the run's logged model "model" (source
// models:/m-...) on MLflow 3, from the run's model/ artifacts elsewhere.
func registerRequest(t *testing.T, c *mlflow.Client, name, runID string) mlflow.CreateModelVersionRequest {
	t.Helper()
	res, err := c.ResolveArtifactURI(t.Context(), "runs:/"+runID+"/"+training.ModelArtifactPath)
	require.NoError(t, err)
	return mlflow.CreateModelVersionRequest{Name: name, Source: res.Source(), RunID: runID, ModelID: res.ModelID()}
}

// TestTrainFailedRun: a run whose artifact upload fails ends FAILED with the
// reason as a tag, and Train says which run failed.
func TestTrainFailedRun(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	res, err := training.Train(ctx, failingUpload{c}, training.Options{Experiment: uniqueName("e2e-train-fail"), Runs: 2, Rows: 500, Seed: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "2 of 2 runs failed")
	require.Len(t, res.Runs, 2)
	for _, r := range res.Runs {
		got, err := c.GetRun(ctx, r.RunID)
		require.NoError(t, err)
		assert.Equal(t, mlflow.RunStatusFailed, got.Info.Status)
		reason, ok := got.Tag(training.TagFailureReason)
		require.True(t, ok)
		assert.Contains(t, reason, "uploading the model: disk on fire")
	}
}

type failingUpload struct{ *mlflow.Client }

func (failingUpload) UploadDir(context.Context, string, string, string) error {
	return errors.New("disk on fire")
}

// TestTrainTelco trains on the real Telco file when it is there.
func TestTrainTelco(t *testing.T) {
	path := testenv.TelcoCSV(t)
	c := newClient(t)
	res, err := training.Train(t.Context(), c, training.Options{Experiment: uniqueName("e2e-telco"), Runs: 1, Data: path})
	require.NoError(t, err)
	assert.Equal(t, 7043, res.TrainRows+res.ValidRows)
	assert.GreaterOrEqual(t, res.Runs[0].Metrics["roc_auc"], 0.83)
}
