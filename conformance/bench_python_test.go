package conformance_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/playbook-mlops/playbook/internal/testenv"
)

// benchLogRegister is what scripts/bench_log_register.py prints on its
// last line.
type benchLogRegister struct {
	Iterations int `json:"iterations"`
	Servers    map[string]struct {
		Error         string   `json:"error"`
		LogModel      *opTimes `json:"log_model"`
		RegisterModel *opTimes `json:"register_model"`
	} `json:"servers"`
}

// opTimes are one operation's figures, in milliseconds.
type opTimes struct {
	Median float64 `json:"median_ms"`
	P90    float64 `json:"p90_ms"`
}

// BenchmarkPythonLogRegister: mlflow.sklearn.log_model then
// mlflow.register_model("runs:/RUN/model") from MLflow's own Python
// client, against the embedded server and the real MLflow server in turn,
// interleaved in one process (scripts/bench_log_register.py, with
// PLAYBOOK_BENCH_ITERATIONS iterations, 20 by default, per b.Loop
// iteration: run it with -benchtime 1x). It reports the median and p90 of
// each operation on each server in ms; a server that fails an operation
// (the embedded one before it serves logged models) is logged as pending.
func BenchmarkPythonLogRegister(b *testing.B) {
	py := testenv.Python(b)
	emb, mlf := startTarget(b, embedded), startTarget(b, real)
	n := 20
	if v := os.Getenv("PLAYBOOK_BENCH_ITERATIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("PLAYBOOK_BENCH_ITERATIONS=%q: %v", v, err)
		}
	}
	script := filepath.Join(testenv.RepoRoot(), "scripts", "bench_log_register.py")
	var res benchLogRegister
	for b.Loop() {
		cmd := exec.CommandContext(b.Context(), py, script, "-n", strconv.Itoa(n),
			embedded+"="+emb.uri, real+"="+mlf.uri)
		cmd.Env = pythonEnv("")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v\n%s", script, err, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			b.Fatalf("%s: its last line: %v\nstdout:\n%s", script, err, stdout.String())
		}
	}
	for _, name := range []string{embedded, real} {
		s := res.Servers[name]
		if s.Error != "" || s.LogModel == nil || s.RegisterModel == nil {
			b.Logf("%s: pending: %s", name, s.Error)
			continue
		}
		b.ReportMetric(s.LogModel.Median, "ms-log_model-median-"+name)
		b.ReportMetric(s.LogModel.P90, "ms-log_model-p90-"+name)
		b.ReportMetric(s.RegisterModel.Median, "ms-register-median-"+name)
		b.ReportMetric(s.RegisterModel.P90, "ms-register-p90-"+name)
	}
}
