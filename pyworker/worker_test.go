package pyworker_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/pyworker"
)

// reference is what testdata/save_sklearn_model.py writes beside the model.
type reference struct {
	Charges           []float64 `json:"charges"`
	Tenure            []int64   `json:"tenure"`
	Contract          []string  `json:"contract"`
	Proba             []float64 `json:"proba"`
	PositivePredicted []float64 `json:"positive_predicted"`
}

func (r *reference) frame() *pyworker.Frame {
	return &pyworker.Frame{Columns: []pyworker.Column{
		{Name: "charges", Float: r.Charges},
		{Name: "tenure", Int: r.Tenure},
		{Name: "contract", String: r.Contract},
	}}
}

// sklearnModel saves a scikit-learn pipeline as an MLflow model with the
// project's Python and returns its folder and scikit-learn's own answers.
func sklearnModel(t testing.TB, py string, rows int, args ...string) (string, *reference) {
	t.Helper()
	return sklearnModelIn(t, t.TempDir(), py, rows, args...)
}

// sklearnModelIn is sklearnModel writing into out.
func sklearnModelIn(t testing.TB, out, py string, rows int, args ...string) (string, *reference) {
	t.Helper()
	script := filepath.Join(testenv.RepoRoot(), "pyworker", "testdata", "save_sklearn_model.py")
	cmd := exec.Command(py, append([]string{script, out, strconv.Itoa(rows)}, args...)...)
	cmd.Env = append(os.Environ(), "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	raw, err := os.ReadFile(filepath.Join(out, "rows.json"))
	require.NoError(t, err)
	var ref reference
	require.NoError(t, json.Unmarshal(raw, &ref))
	return filepath.Join(out, "model"), &ref
}

// sharedDir holds the shared model for the whole run (TestMain).
var sharedDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pyworker-test-")
	if err != nil {
		panic(err)
	}
	sharedDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// shared is one scikit-learn model of 500 rows, saved once for the tests
// that only read it (saving one costs seconds of Python).
var shared struct {
	once sync.Once
	dir  string
	ref  *reference
}

func sharedModel(t testing.TB, py string) (string, *reference) {
	t.Helper()
	shared.once.Do(func() { shared.dir, shared.ref = sklearnModelIn(t, sharedDir, py, 500) })
	if shared.ref == nil {
		t.Fatal("the shared model could not be saved (see the first test that asked)")
	}
	// Each test gets its own copy of the rows: some cut them.
	ref := *shared.ref
	ref.Charges = slices.Clone(ref.Charges)
	ref.Tenure = slices.Clone(ref.Tenure)
	ref.Contract = slices.Clone(ref.Contract)
	return shared.dir, &ref
}

func startWorker(t testing.TB, py string) *pyworker.Worker {
	t.Helper()
	w, err := pyworker.Start(py, os.Stderr, nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, w.Close()) })
	return w
}

// TestSklearnModelThroughTheWorker: the worker loads a scikit-learn model
// saved by MLflow and gives scikit-learn's own probabilities (from the
// estimator's predict_proba, although its pyfunc predicts labels) and
// labels, rows sent as Arrow with float, int and string columns.
func TestSklearnModelThroughTheWorker(t *testing.T) {
	t.Parallel() // mostly waiting for Python
	py := testenv.Python(t)
	dir, ref := sharedModel(t, py)
	w := startWorker(t, py)
	assert.Equal(t, "3.18.0", w.Info().MLflow)

	m, err := w.Load(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"python_function", "sklearn"}, m.Flavors)
	assert.True(t, m.Proba)
	assert.Equal(t, []string{"0", "1"}, m.Classes)
	assert.Equal(t, [][2]string{{"charges", "double"}, {"tenure", "long"}, {"contract", "string"}}, m.Inputs)

	proba, err := m.PredictProba(ref.frame(), "1")
	require.NoError(t, err)
	require.Len(t, proba, len(ref.Proba))
	for i := range proba {
		require.InDelta(t, ref.Proba[i], proba[i], 1e-15, "row %d", i)
	}
	labels, err := m.PredictLabels(ref.frame(), "1")
	require.NoError(t, err)
	assert.Equal(t, ref.PositivePredicted, labels)
}

// TestStringLabels: a classifier trained on "Yes"/"No" gives the
// probability of the positive label named, and refuses an unknown one.
func TestStringLabels(t *testing.T) {
	t.Parallel() // mostly waiting for Python
	py := testenv.Python(t)
	dir, ref := sklearnModel(t, py, 300, "--labels", "yes-no")
	w := startWorker(t, py)
	m, err := w.Load(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"No", "Yes"}, m.Classes)
	proba, err := m.PredictProba(ref.frame(), "Yes")
	require.NoError(t, err)
	assert.InDeltaSlice(t, ref.Proba, proba, 1e-15)
	labels, err := m.PredictLabels(ref.frame(), "Yes")
	require.NoError(t, err)
	assert.Equal(t, ref.PositivePredicted, labels)

	_, err = m.PredictProba(ref.frame(), "churn")
	require.ErrorContains(t, err, `positive label 'churn' is not one of the model's classes ['No', 'Yes']`)
	// The worker goes on after an error.
	_, err = m.PredictProba(ref.frame(), "Yes")
	require.NoError(t, err)
}

// TestWorkerErrors: a folder that is not a model, missing columns, and a
// frame with ragged columns are errors that say what, and the worker
// survives them.
func TestWorkerErrors(t *testing.T) {
	t.Parallel() // mostly waiting for Python
	py := testenv.Python(t)
	dir, ref := sharedModel(t, py)
	w := startWorker(t, py)

	_, err := w.Load(t.TempDir())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "loading ")
	assert.Contains(t, err.Error(), "MLmodel")

	m, err := w.Load(dir)
	require.NoError(t, err)
	f := ref.frame()
	f.Columns = f.Columns[:2]
	_, err = m.PredictProba(f, "1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "contract")

	ragged := ref.frame()
	ragged.Columns[1].Int = ragged.Columns[1].Int[:10]
	_, err = m.PredictProba(ragged, "1")
	require.ErrorContains(t, err, `column "tenure" has 10 rows, column "charges" 500`)

	proba, err := m.PredictProba(ref.frame(), "1")
	require.NoError(t, err)
	assert.Len(t, proba, len(ref.Proba))
}

// TestFindPython: an interpreter that cannot import mlflow is refused with
// what was tried and what to do.
func TestFindPython(t *testing.T) {
	py := testenv.Python(t)
	got, err := pyworker.FindPython(py)
	require.NoError(t, err)
	assert.Equal(t, py, got)

	t.Setenv(pyworker.EnvPython, "")
	_, err = pyworker.FindPython("/bin/false")
	require.ErrorIs(t, err, pyworker.ErrNoPython)
	assert.Contains(t, err.Error(), "/bin/false (from --python) cannot import mlflow")

	t.Setenv("PATH", t.TempDir())
	_, err = pyworker.FindPython("")
	require.ErrorIs(t, err, pyworker.ErrNoPython)
	assert.True(t, strings.Contains(err.Error(), "no python3 on PATH"), err.Error())
}

// TestWorkerDies: a model whose code kills the worker makes that call
// fail with the worker's exit status and what it last printed, and every
// later call fail at once.
func TestWorkerDies(t *testing.T) {
	t.Parallel() // mostly waiting for Python
	py := testenv.Python(t)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "code"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "MLmodel"), []byte(
		"flavors:\n  python_function:\n    loader_module: crashing\n    code: code\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "code", "crashing.py"), []byte(`
import os, sys
class M:
    def predict(self, df, params=None):
        print("the model gives up on", len(df), "rows", file=sys.stderr, flush=True)
        os._exit(7)
def _load_pyfunc(path, model_config=None):
    return M()
`), 0o644))
	w, err := pyworker.Start(py, nil, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = w.Close() })
	m, err := w.Load(dir)
	require.NoError(t, err)
	assert.False(t, m.Proba)
	f := &pyworker.Frame{Columns: []pyworker.Column{{Name: "x", Float: []float64{1, 2, 3}}}}
	_, err = m.PredictLabels(f, "1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the Python worker stopped (exit status 7): ")
	assert.Contains(t, err.Error(), "the model gives up on 3 rows")
	_, again := m.PredictLabels(f, "1")
	assert.Equal(t, err, again, "later calls fail with the same reason, at once")
}
