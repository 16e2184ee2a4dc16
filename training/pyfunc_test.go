package training_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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

// pythonEnv is the environment of MLflow's Python tools against uri.
func pythonEnv(uri string) []string {
	return append(os.Environ(), "MLFLOW_TRACKING_URI="+uri,
		"MLFLOW_ENABLE_ASYNC_LOGGING=false", "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true")
}

// frame is a data set in MLflow's pandas split form, with its labels.
type frame struct {
	Columns []string `json:"columns"`
	Data    [][]any  `json:"data"`
	Targets []int    `json:"targets"`
}

func frameOf(d *churn.Dataset) frame {
	cols, rows := churn.FeatureFrame(d.Customers)
	f := frame{Columns: cols, Data: rows}
	for _, y := range d.Labels() {
		f.Targets = append(f.Targets, int(y))
	}
	return f
}

// TestPromotedModelLoadsInPyfunc trains a model with playbook on the whole
// Telco data set, registers it and points production-live at it, then
// loads it by that alias alone with MLflow's own Python tools, as a
// service would: mlflow.pyfunc.load_model gives the Go model's
// probabilities within 1e-12 on all 7,043 rows and its labels at its
// threshold, mlflow.models.evaluate(model_type="classifier") runs on it,
// and `mlflow models serve` answers /invocations with the same numbers.
func TestPromotedModelLoadsInPyfunc(t *testing.T) {
	testenv.Slow(t)
	promotedModelInPyfunc(t, mlflowtest.Embedded(t))
}

// TestPromotedModelLoadsInPyfuncMLflow is the same against MLflow 3.18.
func TestPromotedModelLoadsInPyfuncMLflow(t *testing.T) {
	testenv.Slow(t)
	promotedModelInPyfunc(t, testenv.RealMLflow(t))
}

func promotedModelInPyfunc(t *testing.T, uri string) {
	py := testenv.Python(t)
	data := testenv.TelcoCSV(t)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	ctx := t.Context()

	res, err := training.Train(ctx, c, training.Options{Experiment: uniqueName("pyfunc-interop"), Runs: 1, Data: data, Seed: 3})
	require.NoError(t, err)
	run := res.Runs[0]
	name := uniqueName("PyfuncInterop")
	mv := registerWithPython(t, uri, run.RunID, name)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, name, "production-live", mv.Version))
	modelURI := "models:/" + name + "@production-live"

	all, _, err := churn.LoadCSVFile(data, churn.LoadOptions{})
	require.NoError(t, err)
	require.Equal(t, 7043, all.Len())
	rows := frameOf(all)
	raw, err := json.Marshal(rows)
	require.NoError(t, err)
	rowsFile := filepath.Join(t.TempDir(), "rows.json")
	require.NoError(t, os.WriteFile(rowsFile, raw, 0o644))

	script := filepath.Join(testenv.RepoRoot(), "scripts", "score_with_pyfunc.py")
	cmd := exec.CommandContext(ctx, py, script, modelURI, rowsFile)
	cmd.Env = pythonEnv(uri)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "%s failed:\n%s", script, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var got struct {
		Flavors         []string           `json:"flavors"`
		Labels          []int              `json:"labels"`
		Proba           []float64          `json:"proba"`
		EvaluateMetrics map[string]float64 `json:"evaluate_metrics"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &got), "stdout:\n%s", stdout.String())

	assert.Equal(t, []string{churn.Flavor, churn.PyfuncFlavor}, got.Flavors)
	want := run.Model.PredictProba(all)
	require.Len(t, got.Proba, len(want))
	worst := 0.0
	for i := range want {
		worst = max(worst, abs(want[i]-got.Proba[i]))
	}
	assert.LessOrEqual(t, worst, 1e-12, "largest difference between pyfunc's and Go's probabilities")
	t.Logf("largest |pyfunc - Go| over %d rows: %.3g", len(want), worst)
	assert.Equal(t, run.Model.Predict(all), got.Labels, "labels at the model's threshold")

	m, err := churn.Evaluate(all.Labels(), want, run.Model.Threshold)
	require.NoError(t, err)
	assert.InDelta(t, m.F1, got.EvaluateMetrics["f1_score"], 1e-9, "evaluate's f1 on the labels pyfunc gives: %v", got.EvaluateMetrics)
	assert.InDelta(t, m.Accuracy, got.EvaluateMetrics["accuracy_score"], 1e-9)

	serveAndScore(t, uri, modelURI, rows, want)
}

// serveAndScore starts `mlflow models serve` on modelURI (the local
// environment, loopback, a free port), waits for /ping, and checks that
// /invocations gives want as probabilities for the first 200 rows.
func serveAndScore(t *testing.T, uri, modelURI string, rows frame, want []float64) {
	mlflowBin := filepath.Join(filepath.Dir(testenv.Python(t)), "mlflow")
	port := freePort(t)
	cmd := exec.Command(mlflowBin, "models", "serve", "-m", modelURI, "--env-manager", "local",
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "--workers", "1")
	// The scoring server runs uvicorn from the virtualenv's bin folder.
	cmd.Env = append(pythonEnv(uri), "PATH="+filepath.Dir(mlflowBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		<-exited
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(base + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("mlflow models serve exited (%v):\n%s", err, logs.String())
		case <-time.After(250 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "mlflow models serve did not answer /ping:\n%s", logs.String())
	}
	n := min(200, len(rows.Data))
	body, err := json.Marshal(map[string]any{
		"dataframe_split": map[string]any{"columns": rows.Columns, "data": rows.Data[:n]},
		"params":          map[string]any{"predict_method": "predict_proba"},
	})
	require.NoError(t, err)
	resp, err := http.Post(base+"/invocations", "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Predictions []float64 `json:"predictions"`
	}
	require.Equal(t, http.StatusOK, resp.StatusCode, "logs:\n%s", logs.String())
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Len(t, out.Predictions, n)
	for i := range n {
		assert.InDelta(t, want[i], out.Predictions[i], 1e-12, "row %d", i)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
