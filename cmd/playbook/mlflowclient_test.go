package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// TestMlflowClientExample runs examples/mlflowclient-en.md, the exercise
// written call for call with steps.MlflowClient, on the embedded server,
// in both kernel modes: each registry change is in the evidence once,
// under its step, the registry read back through REST is the exercise's
// end state, and --dry-run leaves it as it was.
func TestMlflowClientExample(t *testing.T) {
	for _, kernel := range []string{kernelInProcess, kernelProcess} {
		t.Run("kernel="+kernel, func(t *testing.T) { mlflowClientExample(t, mlflowtest.Embedded(t), "--kernel", kernel) })
	}
}

func TestMlflowClientExampleMLflow(t *testing.T) { mlflowClientExample(t, testenv.RealMLflow(t)) }

// callsOf lists a record's calls as "step METHOD endpoint outcome".
func callsOf(rec *record.Run) []string {
	var l []string
	for _, c := range rec.Evidence.Calls {
		outcome := c.Outcome
		if strings.Contains(outcome, "RESOURCE_ALREADY_EXISTS") || strings.Contains(outcome, "already exists") {
			outcome = "exists"
		}
		l = append(l, fmt.Sprintf("%s %s %s %s", c.Step, c.Method, strings.TrimPrefix(c.Endpoint, "/api/2.0/mlflow/"), outcome))
	}
	return l
}

func mlflowClientExample(t *testing.T, uri string, extra ...string) {
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	stamp := time.Now().UnixNano()
	exp := fmt.Sprintf("mlflowclient-%d", stamp)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("ChurnPredictor-client-%d", stamp)}
	example := filepath.Join(testenv.RepoRoot(), "examples", "mlflowclient-en.md")
	runExample := func(args ...string) *record.Run {
		t.Helper()
		args = append(append([]string{example, "-p", "experiment=" + exp, "-p", "model_name=" + e.model}, extra...), args...)
		code, stderr, rec := e.run(args...)
		require.Equal(t, ExitOK, code, stderr)
		require.NotNil(t, rec)
		return rec
	}

	// 1. The first promotion: version 1 holds both aliases.
	e.train(exp, 2, 3000, 3)
	rec := runExample()
	assert.Equal(t, []string{
		"register POST registered-models/create ok",
		"register POST model-versions/create ok",
		"alias POST model-versions/set-tag ok",
		"alias POST model-versions/set-tag ok",
		"alias POST registered-models/alias ok",
		"validate POST model-versions/set-tag ok",
		"promote POST registered-models/alias ok",
	}, callsOf(rec))
	s := e.state(e.model)
	assert.Equal(t, map[string]string{"production-live": "1", "staging-candidate": "1"}, s.Aliases)
	assert.Equal(t, "passed", s.Versions["1"]["validation_status"])
	assert.Equal(t, "churn exercise, "+exp, s.Versions["1"]["context"])
	labels := map[string]bool{}
	for _, snap := range rec.Evidence.Snapshots {
		assert.Equal(t, e.model, snap.Model)
		labels[snap.Label] = true
	}
	assert.Equal(t, map[string]bool{"before": true, "after": true}, labels)

	// 2. Better runs: version 2 promoted, version 1 archived, the rollback
	// alias set then dropped.
	e.train(exp, 2, 3000, 2)
	rec = runExample()
	assert.Equal(t, []string{
		"register POST registered-models/create exists",
		"register POST model-versions/create ok",
		"alias POST model-versions/set-tag ok",
		"alias POST model-versions/set-tag ok",
		"alias POST registered-models/alias ok",
		"validate POST model-versions/set-tag ok",
		"promote POST model-versions/set-tag ok",
		"promote POST registered-models/alias ok",
		"promote POST registered-models/alias ok",
		"verify DELETE registered-models/alias ok",
	}, callsOf(rec))
	s = e.state(e.model)
	assert.Equal(t, map[string]string{"production-live": "2", "staging-candidate": "2"}, s.Aliases)
	assert.Equal(t, "true", s.Versions["1"]["archived"])
	assert.Equal(t, "passed", s.Versions["2"]["validation_status"])

	// 3. --dry-run: every change recorded as not sent, the registry as it
	// was.
	e.train(exp, 1, 3000, 1)
	rec = runExample("--dry-run")
	assert.NotEmpty(t, rec.Evidence.Calls)
	for _, call := range rec.Evidence.Calls {
		assert.True(t, call.DryRun, call.Endpoint)
		assert.NotEqual(t, "ok", call.Outcome, call.Endpoint)
	}
	assert.Equal(t, s, e.state(e.model), "the registry is unchanged")
}
