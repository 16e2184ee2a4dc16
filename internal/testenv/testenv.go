// Package testenv finds the real components tests need (a real MLflow
// server, the project's Python virtualenv, Chromium, the shared Telco data
// set) and skips a test that cannot find one, except under CI=true, where a
// missing component fails the test: CI can never pass by skipping.
//
// A test that needs only an MLflow-compatible server, not MLflow itself,
// gets one from package mlflowtest, which falls back to the embedded server
// and never skips.
package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// missing skips t, or fails it under CI.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RepoRoot returns the repository's root folder (the one holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// RealMLflow returns the tracking URI of the real MLflow server named by
// MLFLOW_TRACKING_URI, or skips (fails under CI) when none is set. Only
// tests that hold the code to MLflow itself (conformance, MLflow's own
// Python client, the MLflow UI) need it; the others use mlflowtest.URI.
func RealMLflow(t testing.TB) string {
	t.Helper()
	uri := os.Getenv("MLFLOW_TRACKING_URI")
	if uri == "" {
		missing(t, "no MLflow server: set MLFLOW_TRACKING_URI (start one with scripts/mlflow-server start)")
	}
	return uri
}

// Python returns the project's virtualenv Python (with scikit-learn and
// fairlearn), or skips (fails under CI) when it is absent.
func Python(t testing.TB) string {
	t.Helper()
	venv := os.Getenv("PLAYBOOK_VENV")
	if venv == "" {
		venv = filepath.Join(RepoRoot(), ".venv")
	}
	py := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(py); err != nil {
		missing(t, "no Python virtualenv at %s: run scripts/mlflow-server install", venv)
	}
	return py
}

// PythonWith returns the project's virtualenv Python when it imports every
// module of modules (nbformat, ...), or skips (fails under CI): see Python.
func PythonWith(t testing.TB, modules ...string) string {
	t.Helper()
	py := Python(t)
	for _, m := range modules {
		cmd := exec.CommandContext(t.Context(), py, "-c", "import "+m)
		if out, err := cmd.CombinedOutput(); err != nil {
			missing(t, "the Python virtualenv %s does not import %s (run scripts/mlflow-server install): %v\n%s", filepath.Dir(filepath.Dir(py)), m, err, out)
		}
	}
	return py
}

// Chromium returns the path of a Chromium binary, or skips (fails under CI).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "no Chromium on PATH: apt-get install -y chromium")
	return ""
}

// TelcoCSV returns the path of the shared real Telco churn data set, or skips
// with a message when it is absent. The file lives beside the project, not in
// it, so its absence is never a CI failure.
func TelcoCSV(t testing.TB) string {
	t.Helper()
	p := filepath.Join(RepoRoot(), "..", "shared", "data", "telco-customer-churn.csv")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("the Telco data set is absent (%s): see ../shared/data/README.md", p)
	}
	return p
}

// EnvSlowTests names the variable that runs the slow tests outside CI.
const EnvSlowTests = "PLAYBOOK_SLOW_TESTS"

// Slow skips a slow test (one that takes a minute or more) unless CI=true
// or PLAYBOOK_SLOW_TESTS=1, so that go test ./... stays quick on a
// developer's machine; -short skips it always.
func Slow(t testing.TB) {
	t.Helper()
	switch {
	case testing.Short():
		t.Skip("-short: a slow test")
	case InCI() || os.Getenv(EnvSlowTests) == "1":
	default:
		t.Skipf("a slow test: set %s=1 to run it (CI=true runs it)", EnvSlowTests)
	}
}

// EnvHeavyTests names the variable that runs the heavy suites: those that
// take many minutes (the kill points of a promotion). .ci/run runs them in
// a lane of their own, after the main one.
const EnvHeavyTests = "PLAYBOOK_HEAVY_TESTS"

// Heavy skips a heavy suite unless PLAYBOOK_HEAVY_TESTS=1; -short skips it
// always. Its name ends in Heavy, so that go test -run 'Heavy$' runs the
// heavy lane.
func Heavy(t testing.TB) {
	t.Helper()
	switch {
	case testing.Short():
		t.Skip("-short: a heavy suite")
	case os.Getenv(EnvHeavyTests) == "1":
	default:
		t.Skipf("a heavy suite: set %s=1 to run it (.ci/run's heavy lane does)", EnvHeavyTests)
	}
}

// SklearnModels runs scripts/log_sklearn_models.py (see its flags): see
// Script.
func SklearnModels(t testing.TB, uri string, v any, args ...string) {
	t.Helper()
	Script(t, "log_sklearn_models.py", uri, v, args...)
}

// Script runs the script name of scripts/ with the project's virtualenv
// Python against the tracking server uri, and decodes the JSON object it
// prints on its last line into v. It skips (fails under CI) without the
// virtualenv.
func Script(t testing.TB, name, uri string, v any, args ...string) {
	t.Helper()
	py := Python(t)
	script := filepath.Join(RepoRoot(), "scripts", name)
	cmd := exec.CommandContext(t.Context(), py, append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+uri,
		"MLFLOW_ENABLE_ASYNC_LOGGING=false", "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("%s %v: decoding its last line: %v\nstdout:\n%s", script, args, err, stdout.String())
	}
}

// S3Store is a running S3-compatible store (scripts/s3-server): MLflow's
// variables for it, as `scripts/s3-server start` prints them.
type S3Store struct {
	Endpoint        string // MLFLOW_S3_ENDPOINT_URL
	AccessKeyID     string // AWS_ACCESS_KEY_ID
	SecretAccessKey string // AWS_SECRET_ACCESS_KEY
	Region          string // AWS_DEFAULT_REGION
	Bucket          string // PLAYBOOK_S3_BUCKET
}

// Env returns the store's variables as KEY=VALUE.
func (s S3Store) Env() []string {
	return []string{"MLFLOW_S3_ENDPOINT_URL=" + s.Endpoint, "AWS_ACCESS_KEY_ID=" + s.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretAccessKey, "AWS_DEFAULT_REGION=" + s.Region, "PLAYBOOK_S3_BUCKET=" + s.Bucket}
}

// Getenv looks the store's variables up, then os.Getenv's for the others
// but the AWS and MLFLOW_S3 ones, which it hides.
func (s S3Store) Getenv(k string) string {
	for _, kv := range s.Env() {
		if key, v, _ := strings.Cut(kv, "="); key == k {
			return v
		}
	}
	if strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "MLFLOW_S3_") {
		return ""
	}
	return os.Getenv(k)
}

// S3 starts a store of its own for t with scripts/s3-server (versitygw, its
// state in a temporary folder, stopped when t ends), or skips (fails under
// CI) when versitygw is not built: `scripts/s3-server build` builds it into
// ~/.cache/playbook/versitygw-bin, as .ci/run does; under CI the script
// builds it when absent.
func S3(t testing.TB) S3Store {
	t.Helper()
	script := filepath.Join(RepoRoot(), "scripts", "s3-server")
	gw := os.Getenv("PLAYBOOK_VERSITYGW")
	if gw == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gw = filepath.Join(home, ".cache", "playbook", "versitygw-bin", "versitygw")
		}
	}
	if _, err := os.Stat(gw); err != nil && !InCI() {
		missing(t, "no versitygw at %s: run scripts/s3-server build (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)", gw)
	}
	state := t.TempDir()
	env := append(os.Environ(), "PLAYBOOK_S3_STATE="+state)
	cmd := exec.Command(script, "start")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		missing(t, "scripts/s3-server start: %v\n%s", err, stderr.Bytes())
	}
	t.Cleanup(func() {
		stop := exec.Command(script, "stop")
		stop.Env = env
		if out, err := stop.CombinedOutput(); err != nil {
			t.Errorf("scripts/s3-server stop: %v\n%s", err, out)
		}
	})
	var s S3Store
	for line := range strings.SplitSeq(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		switch k {
		case "MLFLOW_S3_ENDPOINT_URL":
			s.Endpoint = v
		case "AWS_ACCESS_KEY_ID":
			s.AccessKeyID = v
		case "AWS_SECRET_ACCESS_KEY":
			s.SecretAccessKey = v
		case "AWS_DEFAULT_REGION":
			s.Region = v
		case "PLAYBOOK_S3_BUCKET":
			s.Bucket = v
		}
	}
	if s.Endpoint == "" || s.SecretAccessKey == "" || s.Bucket == "" {
		t.Fatalf("scripts/s3-server start printed no store")
	}
	return s
}
