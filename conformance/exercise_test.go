package conformance_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
)

// exerciseResult is the JSON line scripts/exercise_mlflowclient.py prints.
type exerciseResult struct {
	Model    string            `json:"model"`
	BestRun  string            `json:"best_run"`
	BestF1   float64           `json:"best_f1"`
	Version  string            `json:"version"`
	Previous *string           `json:"previous"`
	Aliases  map[string]string `json:"aliases"`
	Scores   []float64         `json:"scores"`
}

// runExercise runs the exercise with MLflow's own Python client against
// the target and returns what it printed.
func runExercise(t *testing.T, s *target, experiment, model string) exerciseResult {
	t.Helper()
	py := testenv.Python(t)
	script := filepath.Join(testenv.RepoRoot(), "scripts", "exercise_mlflowclient.py")
	cmd := exec.CommandContext(t.Context(), py, script, "--experiment", experiment, "--model", model)
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+s.uri, "MLFLOW_ENABLE_ASYNC_LOGGING=false", "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "the exercise failed against %s:\n%s", s.name, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res exerciseResult
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res), "stdout:\n%s", stdout.String())
	return res
}

// TestExerciseMlflowClient: the exercise written with MLflowClient
// (search_runs, create_registered_model, create_model_version,
// set_registered_model_alias, set_model_version_tag,
// get_model_version_by_alias, delete_registered_model_alias, and the run
// logging calls) runs unchanged against both servers, twice, and leaves
// the same registry on both.
func TestExerciseMlflowClient(t *testing.T) {
	var mu sync.Mutex
	results := map[string][2]exerciseResult{}
	t.Run("targets", func(t *testing.T) {
		for _, name := range targetNames {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				exerciseOn(t, name, func(r [2]exerciseResult) {
					mu.Lock()
					defer mu.Unlock()
					results[name] = r
				})
			})
		}
	})
	if emb, ok := results[embedded]; ok {
		if mlf, ok := results[real]; ok {
			for i := range 2 {
				assert.Equal(t, mlf[i].Scores, emb[i].Scores, "run %d: the same scores on both servers", i+1)
				assert.Equal(t, mlf[i].BestF1, emb[i].BestF1, "run %d", i+1)
			}
		}
	}
}

// exerciseOn runs the exercise twice against the named target, checks the
// registry it leaves, and hands over what the script printed.
func exerciseOn(t *testing.T, name string, done func([2]exerciseResult)) {
	s := startTarget(t, name)
	exp, model := unique("exercise"), unique("ChurnPredictor")
	first := runExercise(t, s, exp, model)
	second := runExercise(t, s, exp, model)
	done([2]exerciseResult{first, second})

	assert.Equal(t, "1", first.Version)
	assert.Nil(t, first.Previous)
	assert.Equal(t, "2", second.Version)
	require.NotNil(t, second.Previous)
	assert.Equal(t, "1", *second.Previous)
	assert.Equal(t, map[string]string{"production-live": "2", "staging-candidate": "2"}, second.Aliases)

	// The registry, read back with the Go client.
	ctx := t.Context()
	m, err := s.c.GetRegisteredModel(ctx, model)
	require.NoError(t, err)
	assert.Equal(t, "churn predictor", m.Description)
	for _, alias := range []string{"production-live", "staging-candidate"} {
		v, ok := m.AliasVersion(alias)
		assert.True(t, ok, alias)
		assert.Equal(t, "2", v, alias)
	}
	_, err = s.c.GetModelVersionByAlias(ctx, model, "previous-production")
	require.ErrorIs(t, err, mlflow.ErrNotFound, "the rollback alias was deleted")
	v2, err := s.c.GetModelVersion(ctx, model, "2")
	require.NoError(t, err)
	status, _ := v2.Tag("validation_status")
	assert.Equal(t, "passed", status)
	assert.Equal(t, second.BestRun, v2.RunID)
	v1, err := s.c.GetModelVersion(ctx, model, "1")
	require.NoError(t, err)
	archived, _ := v1.Tag("archived")
	assert.Equal(t, "true", archived)

	e, err := s.c.GetExperimentByName(ctx, exp)
	require.NoError(t, err)
	runs, err := s.c.SearchAllRuns(ctx, mlflow.SearchRunsRequest{ExperimentIDs: []string{e.ExperimentID}})
	require.NoError(t, err)
	require.Len(t, runs, 6, "three training runs per exercise")
	for _, r := range runs {
		assert.Equal(t, mlflow.RunStatusFinished, r.Info.Status)
		assert.Len(t, r.Data.Params, 5)
		_, ok := r.Metric("f1")
		assert.True(t, ok)
	}
	files, err := s.c.ListArtifacts(ctx, v2.Source, "")
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f.Path))
	}
	assert.ElementsMatch(t, []string{"MLmodel", "weights.json"}, names)
}
