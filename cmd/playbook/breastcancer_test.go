package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/steps"
)

// breastCancer runs scripts/log_breast_cancer_models.py against uri and
// decodes its last line into v.
func breastCancer(t *testing.T, uri string, v any, args ...string) {
	t.Helper()
	testenv.Script(t, "log_breast_cancer_models.py", uri, v, args...)
}

// TestBreastCancerScenario: three non-linear scikit-learn classifiers
// trained in Python on the breast cancer data set and logged the MLflow 3
// way, then scenarios/breast-cancer-promotion.md on their experiment: it
// exits 0; the version registered is the best run's logged model;
// validate's metrics and fairness differences by clinic are scikit-learn's
// and fairlearn's on the same CSV within 1e-9; the report names the data
// set's own columns (label, positive label, sensitive feature, the columns
// sent to the model, which leave the clinic out); infer's probabilities are
// those of the model loaded by the production alias in Python. A label
// column the file does not have fails the first cell, before the registry
// changes; a signature column it does not have fails register before it
// creates anything (and, in a scenario that does not give register the
// validation options, validate before it tags anything).
func TestBreastCancerScenario(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	breastCancerScenario(t, mlflowtest.Embedded(t))
}

// TestBreastCancerScenarioMLflow is the same against MLflow 3.18.
func TestBreastCancerScenarioMLflow(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	breastCancerScenario(t, testenv.RealMLflow(t))
}

func breastCancerScenario(t *testing.T, uri string) {
	py := testenv.Python(t)
	// The scenario's copy and its data, beside it in its folder.
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.csv")
	sc := scenarioIn(t, dir, "breast-cancer-promotion.md")
	exp := mlflowtest.Unique("breast-cancer")
	var logged struct {
		BestRunID string             `json:"best_run_id"`
		Rows      int                `json:"rows"`
		Reference map[string]float64 `json:"reference"`
	}
	breastCancer(t, uri, &logged, "--experiment", exp, "--valid-out", valid)

	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("BreastCancer-%d", time.Now().UnixNano())}
	args := []string{sc, "--python", py,
		"-p", "experiment=" + exp, "-p", "model_name=" + e.model, "-p", "validation_data=valid.csv"}

	// A wrong label column: the first cell fails, nothing is registered.
	code, stderr, rec := e.run(append(args, "-p", "label=target")...)
	require.Equal(t, ExitStepFailed, code, stderr)
	assert.Contains(t, stderr, `valid.csv:1: column "target": no such column`)
	require.NotNil(t, rec)
	assert.Equal(t, record.StatusFailed, rec.Cell("check-data").Status)
	_, err = c.GetRegisteredModel(t.Context(), e.model)
	assert.True(t, errors.Is(err, mlflow.ErrNotFound), "the model was not created: %v", err)

	// A column of the models' signature missing from the file: the data
	// check passes (it knows no model), register fails before it creates
	// anything.
	short := dropColumn(t, valid, "worst area")
	missing := `the model's signature reads column "worst area" (double), which the file does not have: ` + short + `:1: column "worst area": no such column`
	code, stderr, _ = e.run(sc, "--python", py,
		"-p", "experiment="+exp, "-p", "model_name="+e.model, "-p", "validation_data="+short)
	require.Equal(t, ExitStepFailed, code, stderr)
	assert.Contains(t, stderr, missing)
	assert.Contains(t, stderr, "nothing was registered")
	_, err = c.GetRegisteredModel(t.Context(), e.model)
	assert.True(t, errors.Is(err, mlflow.ErrNotFound), "the model was not created: %v", err)

	// Without the check at register, validate fails before it tags the
	// candidate, which stays pending.
	body, err := os.ReadFile(scenario("breast-cancer-promotion.md"))
	require.NoError(t, err)
	unchecked := strings.Replace(string(body), ", Validation: &data}", "}", 1)
	require.NotEqual(t, string(body), unchecked)
	noCheck := filepath.Join(dir, "no-register-check.md")
	require.NoError(t, os.WriteFile(noCheck, []byte(unchecked), 0o644))
	other := e.model + "-short"
	code, stderr, _ = e.run(noCheck, "--python", py,
		"-p", "experiment="+exp, "-p", "model_name="+other, "-p", "validation_data="+short)
	require.Equal(t, ExitStepFailed, code, stderr)
	assert.Contains(t, stderr, missing)
	tags := e.state(other).Versions["1"]
	assert.Equal(t, "pending", tags["validation_status"])
	for k := range tags {
		assert.False(t, strings.HasPrefix(k, "validation.") || k == steps.TagValidation, "validate tagged %s", k)
	}

	code, stderr, rec = e.run(args...)
	require.Equal(t, ExitOK, code, stderr)
	v := rec.Evidence.Validation
	require.NotNil(t, v)
	assert.Equal(t, logged.Rows, v.Rows)

	mv, err := c.GetModelVersion(t.Context(), e.model, "1")
	require.NoError(t, err)
	assert.Equal(t, logged.BestRunID, mv.RunID)
	assert.True(t, strings.HasPrefix(mv.Source, "models:/m-"), mv.Source)
	tags = e.state(e.model).Versions["1"]
	fig := figures(t, tags)
	assert.Equal(t, "diagnosis", fig["label"])
	assert.Equal(t, "malignant", fig["positive_label"])

	ref := logged.Reference
	for _, k := range []string{"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"} {
		assert.InDelta(t, ref[k], v.Candidate[k], 1e-9, k)
	}
	require.Len(t, v.Fairness, 1)
	assert.Equal(t, "clinic", v.Fairness[0].Attribute)
	assert.InDelta(t, ref["dp_diff.clinic"], v.Fairness[0].DemographicParityDifference, 1e-9)
	assert.InDelta(t, ref["eo_diff.clinic"], v.Fairness[0].EqualizedOddsDifference, 1e-9)

	// The report shows the data set's own columns.
	kv := map[string]string{}
	var sent *record.Table
	for _, o := range rec.Cell("validate").Outputs {
		switch {
		case o.Kind == record.OutputKV && o.Title == "Validation":
			for _, p := range o.KV {
				kv[p.Key] = p.Value
			}
		case o.Kind == record.OutputTable && o.Title == "Columns sent to the model":
			sent = o.Table
		}
	}
	assert.Equal(t, "diagnosis", kv["label"])
	assert.Equal(t, "malignant", kv["positive label"])
	assert.Equal(t, "clinic", kv["sensitive features"])
	assert.Equal(t, "30", kv["columns sent to the model"])
	require.NotNil(t, sent)
	require.Len(t, sent.Rows, 30)
	assert.Equal(t, []string{"mean radius", "double"}, sent.Rows[0])
	for _, r := range sent.Rows {
		assert.NotContains(t, []string{"diagnosis", "clinic"}, r[0])
	}

	// infer scored the first rows of the CSV: the same rows through
	// Python, by the alias alone.
	var scored struct {
		Proba []float64 `json:"proba"`
	}
	breastCancer(t, uri, &scored, "--score", "models:/"+e.model+"@production-live", valid, "5")
	table := inferTable(t, rec)
	assert.Equal(t, []string{"line", "mean radius", "mean texture", "worst area", "diagnosis", "probability of malignant", "prediction"}, table.Columns)
	require.Len(t, table.Rows, len(scored.Proba))
	for i, row := range table.Rows {
		assert.Equal(t, fmt.Sprintf("%.3f", scored.Proba[i]), row[5], "row %d", i)
	}
}

// dropColumn writes a copy of the CSV file path without column, and
// returns its path.
func dropColumn(t *testing.T, path, column string) string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	j := slices.Index(recs[0], column)
	require.GreaterOrEqual(t, j, 0, column)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	for _, r := range recs {
		require.NoError(t, w.Write(slices.Delete(r, j, j+1)))
	}
	w.Flush()
	out := "short.csv" // beside path, in the scenario's folder
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), out), b.Bytes(), 0o644))
	return out
}
