package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/steps"
)

// writeCSV writes customers as a Telco-schema CSV file in dir.
func writeCSV(t *testing.T, dir, name string, d *churn.Dataset) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, churn.WriteCSV(&b, d))
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b.Bytes(), 0o644))
	return p
}

// sklearnTelco runs scripts/log_sklearn_telco_models.py against uri and
// decodes its last line into v.
func sklearnTelco(t *testing.T, uri string, v any, args ...string) {
	t.Helper()
	testenv.Script(t, "log_sklearn_telco_models.py", uri, v, args...)
}

// TestFrenchScenarioOnSklearnModels: three scikit-learn churn models
// trained in Python on Telco data and logged the MLflow 3 way, then the
// French scenario on their experiment with --python: it exits 0; the
// registered version's source is the best run's logged model; validate's
// metrics and fairness differences are scikit-learn's and fairlearn's on
// the same rows within 1e-9; infer's probabilities are those of the model
// loaded by the production alias in Python; served (serve=on), infer
// gives scikit-learn's labels. Here with the cells in playbook's process
// (--kernel in-process).
func TestFrenchScenarioOnSklearnModels(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	frenchOnSklearn(t, mlflowtest.Embedded(t), "--kernel", kernelInProcess)
}

// TestFrenchScenarioOnSklearnModelsMLflow is the same against MLflow 3.18,
// with the cells in a kernel process (the default): the kernel scores the
// scikit-learn model through the Python worker playbook starts and relays
// for it (which downloads the model itself), and through the scoring
// server playbook starts for it. (The embedded server in a kernel process
// was a third run of the same, some 75 s of CI: each of the two halves
// is covered, the embedded server and the kernel, by one of these two.)
func TestFrenchScenarioOnSklearnModelsMLflow(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	frenchOnSklearn(t, testenv.RealMLflow(t), "--kernel", kernelProcess)
}

func frenchOnSklearn(t *testing.T, uri string, kernel ...string) {
	py := testenv.Python(t)
	dir := t.TempDir()
	train := writeCSV(t, dir, "train.csv", churn.GenerateDataset(3000, 11))
	valid := writeCSV(t, dir, "valid.csv", churn.GenerateDataset(2000, 12))
	exp := mlflowtest.Unique("students-sklearn")
	var logged struct {
		BestRunID string             `json:"best_run_id"`
		Reference map[string]float64 `json:"reference"`
	}
	sklearnTelco(t, uri, &logged, "--experiment", exp, "--train", train, "--valid", valid)

	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("ChurnSklearn-%d", time.Now().UnixNano())}
	// The scenario's copy reads valid.csv beside it, in dir.
	promote := func(extra ...string) (int, string, *record.Run) {
		args := append([]string{scenarioIn(t, dir, "churn-promotion.fr.md"), "-p", "experiment=" + exp, "-p", "model_name=" + e.model,
			"-p", "validation_data=valid.csv"}, kernel...)
		return e.run(append(args, extra...)...)
	}
	code, stderr, rec := promote("--python", py, "-p", "serve=off",
		"-p", "min_f1=0.5") // labels at 0.5, as scikit-learn predicts: a lower F1 than playbook's tuned thresholds
	require.Equal(t, ExitOK, code, stderr)
	require.NotNil(t, rec.Evidence.Validation)

	mv, err := c.GetModelVersion(t.Context(), e.model, "1")
	require.NoError(t, err)
	assert.Equal(t, logged.BestRunID, mv.RunID)
	assert.True(t, strings.HasPrefix(mv.Source, "models:/m-"), mv.Source)

	ref := logged.Reference
	for _, k := range []string{"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"} {
		assert.InDelta(t, ref[k], rec.Evidence.Validation.Candidate[k], 1e-9, k)
	}
	require.Len(t, rec.Evidence.Validation.Fairness, 2)
	for _, f := range rec.Evidence.Validation.Fairness {
		assert.InDelta(t, ref["dp_diff."+f.Attribute], f.DemographicParityDifference, 1e-9, f.Attribute)
		assert.InDelta(t, ref["eo_diff."+f.Attribute], f.EqualizedOddsDifference, 1e-9, f.Attribute)
	}

	// infer scored churn.Generate(examples, DefaultExampleSeed): the same
	// customers through Python, by the alias alone.
	examples := &churn.Dataset{Customers: churn.Generate(5, steps.DefaultExampleSeed)}
	var scored struct {
		Proba []float64 `json:"proba"`
	}
	sklearnTelco(t, uri, &scored, "--score", "models:/"+e.model+"@production-live", writeCSV(t, dir, "examples.csv", examples))
	table := inferTable(t, rec)
	require.Len(t, table.Rows, len(scored.Proba))
	for i, row := range table.Rows {
		assert.Equal(t, fmt.Sprintf("%.3f", scored.Proba[i]), row[5], "customer %d", i)
	}

	if slices.Contains(kernel, kernelProcess) {
		require.NotNil(t, rec.Environment.Isolation)
	}

	// Served (serve=on, the same version): `mlflow models serve` gives
	// scikit-learn's predict, the labels (predict_proba > 0.5).
	code, stderr, rec = promote("--python", py, "-p", "serve=on", "-p", "min_f1=0.5")
	require.Equal(t, ExitOK, code, stderr)
	require.Len(t, rec.Evidence.Served, 1)
	assert.Equal(t, "1", rec.Evidence.Served[0].Version)
	assert.Equal(t, "terminated", rec.Evidence.Served[0].StopOutcome)
	assert.Equal(t, "models:/"+e.model+"@production-live", rec.Evidence.Served[0].Source)
	assert.Equal(t, e.model, rec.Evidence.Served[0].Model)
	assert.Equal(t, "serve", rec.Evidence.Served[0].Step)
	assert.Contains(t, tableTitle(t, rec), ", étiquettes)")
	table = inferTable(t, rec)
	require.Len(t, table.Rows, len(scored.Proba))
	for i, row := range table.Rows {
		label := 0
		if scored.Proba[i] > 0.5 {
			label = 1
		}
		assert.Equal(t, fmt.Sprintf("%d.000", label), row[5], "customer %d", i)
		assert.True(t, strings.HasPrefix(row[6], fmt.Sprint(label)), "customer %d: %s", i, row[6])
	}
}

// inferTable returns the table the infer cell displayed.
func inferTable(t *testing.T, rec *record.Run) *record.Table {
	cell := rec.Cell("infer")
	require.NotNil(t, cell)
	for _, o := range cell.Outputs {
		if o.Kind == record.OutputTable {
			return o.Table
		}
	}
	t.Fatal("infer displayed no table")
	return nil
}

// TestFrenchScenarioInModelEnvironment: the students' scikit-learn models,
// logged with mlflow-skinny in their requirements, promoted by the French
// scenario with --env-manager uv and serving on: the model's own
// environment is built once (its Python, its requirements, pyarrow added
// for the worker) and kept in the evidence; validate scores in it
// (scikit-learn's metrics within 1e-9); `mlflow models serve` runs from
// it; the next run reuses it, and so does one with --kernel process,
// for which playbook does all that. A run with --env-manager virtualenv and a
// broken PATH is not tried: the pyworker tests cover the virtualenv
// manager.
func TestFrenchScenarioInModelEnvironment(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	uri := mlflowtest.Embedded(t)
	py := testenv.Python(t)
	envDir := t.TempDir()
	t.Setenv(envDirVar, envDir)
	dir := t.TempDir()
	train := writeCSV(t, dir, "train.csv", churn.GenerateDataset(3000, 11))
	valid := writeCSV(t, dir, "valid.csv", churn.GenerateDataset(2000, 12))
	exp := mlflowtest.Unique("students-skinny")
	var logged struct {
		BestRunID string             `json:"best_run_id"`
		Reference map[string]float64 `json:"reference"`
	}
	sklearnTelco(t, uri, &logged, "--experiment", exp, "--train", train, "--valid", valid, "--runs", "2", "--requirements", "skinny")

	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("ChurnSkinny-%d", time.Now().UnixNano())}
	// The scenario's copy reads valid.csv beside it, in dir.
	args := []string{scenarioIn(t, dir, "churn-promotion.fr.md"), "-p", "experiment=" + exp, "-p", "model_name=" + e.model,
		"--python", py, "--env-manager", "uv", "-p", "validation_data=valid.csv", "-p", "serve=on", "-p", "min_f1=0.5"}
	code, stderr, rec := e.run(args...)
	require.Equal(t, ExitOK, code, stderr)
	for _, k := range []string{"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"} {
		assert.InDelta(t, logged.Reference[k], rec.Evidence.Validation.Candidate[k], 1e-9, k)
	}
	require.Len(t, rec.Evidence.Environments, 1, "one environment for the one model")
	env := rec.Evidence.Environments[0]
	assert.Equal(t, "uv", env.Manager)
	assert.False(t, env.Reused)
	assert.Positive(t, time.Duration(env.BuildTime))
	assert.Contains(t, env.Requirements, "mlflow-skinny<4,>=3")
	assert.Equal(t, []string{"pyarrow"}, env.Added)
	assert.True(t, strings.HasPrefix(env.MLflow, "3."), env.MLflow)
	require.Len(t, rec.Evidence.Served, 1)
	assert.Equal(t, filepath.Join(envDir, "uv-"+env.Key, "bin", "python"), rec.Evidence.Served[0].Command[0],
		"mlflow models serve runs from the model's environment")
	assert.Equal(t, "terminated", rec.Evidence.Served[0].StopOutcome)
	found := false
	for _, o := range rec.Cell("serve").Outputs {
		for _, p := range o.KV {
			if p.Key == "environnement" {
				found = true
				assert.Contains(t, p.Value, "--env-manager uv : Python 3.11.7, mlflow "+env.MLflow)
			}
		}
	}
	assert.True(t, found, "the serve cell shows the environment")

	code, stderr, rec = e.run(args...)
	require.Equal(t, ExitOK, code, stderr)
	require.Len(t, rec.Evidence.Environments, 1)
	assert.True(t, rec.Evidence.Environments[0].Reused)
	assert.Equal(t, env.Key, rec.Evidence.Environments[0].Key)

	// With --kernel process, playbook finds the model's environment for
	// the kernel, scores and serves from it, and keeps it in the evidence.
	code, stderr, rec = e.run(append(args, "--kernel", kernelProcess)...)
	require.Equal(t, ExitOK, code, stderr)
	require.NotNil(t, rec.Environment.Isolation)
	for _, k := range []string{"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"} {
		assert.InDelta(t, logged.Reference[k], rec.Evidence.Validation.Candidate[k], 1e-9, k)
	}
	require.Len(t, rec.Evidence.Environments, 1)
	assert.True(t, rec.Evidence.Environments[0].Reused)
	assert.Equal(t, env.Key, rec.Evidence.Environments[0].Key)
	assert.Equal(t, "validate", rec.Evidence.Environments[0].Step, "the first step that scored in it")
	require.Len(t, rec.Evidence.Served, 1)
	assert.Equal(t, filepath.Join(envDir, "uv-"+env.Key, "bin", "python"), rec.Evidence.Served[0].Command[0])
	assert.Equal(t, "terminated", rec.Evidence.Served[0].StopOutcome)
}
