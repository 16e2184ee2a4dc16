package conformance_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/training"
)

// pythonEnv is the environment of MLflow's Python client run against uri:
// synchronous logging, no telemetry, and no retries, so that an endpoint
// the server lacks fails at once instead of after minutes of back-off.
func pythonEnv(uri string) []string {
	return append(os.Environ(), "MLFLOW_TRACKING_URI="+uri,
		"MLFLOW_ENABLE_ASYNC_LOGGING=false", "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true",
		"MLFLOW_HTTP_REQUEST_MAX_RETRIES=0", "MLFLOW_HTTP_REQUEST_TIMEOUT=120")
}

// runPython runs scripts/SCRIPT with the project's virtualenv Python
// against the target and decodes the JSON object it prints on its last
// line into v. It returns the script's stderr and its error (a non-zero
// exit); it fails the test only when there is no JSON line to decode.
func runPython(t *testing.T, s *target, v any, script string, args ...string) (stderr string, err error) {
	t.Helper()
	path := filepath.Join(testenv.RepoRoot(), "scripts", script)
	cmd := exec.CommandContext(t.Context(), testenv.Python(t), append([]string{path}, args...)...)
	cmd.Env = pythonEnv(s.uri)
	var stdout, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &errOut
	runErr := cmd.Run()
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), v); err != nil {
		t.Fatalf("%s %v against %s: %v; no JSON on its last line (%v)\nstdout:\n%s\nstderr:\n%s",
			script, args, s.name, runErr, err, stdout.String(), errOut.String())
	}
	return errOut.String(), runErr
}

// pythonClientChecks are the checks of scripts/python_client_suite.py, in
// the order it runs them.
var pythonClientChecks = []string{
	"sklearn_log_model",
	"pyfunc_log_model",
	"log_table",
	"list_artifacts_path",
	"log_input",
	"evaluate_classifier",
	"sklearn_autolog",
	"search_logged_models",
	"register_model_from_run",
	"register_model_from_logged_model",
	"load_model_by_alias",
	"rename_registered_model",
	"delete_model_version",
}

// TestPythonClientSuite: MLflow 3's Python client, unchanged, does what
// its users do (log sklearn and pyfunc models, tables, datasets; evaluate;
// autolog; search logged models; register from runs:/ and models:/m-...;
// load by alias; rename; delete a version) against each server, and each
// check of scripts/python_client_suite.py finds what it logged. A failure
// lists every failing check with its error.
func TestPythonClientSuite(t *testing.T) {
	for _, name := range targetNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startTarget(t, name)
			var summary map[string]string
			stderr, runErr := runPython(t, s, &summary, "python_client_suite.py", "--prefix", unique("pysuite"))
			assert.ElementsMatch(t, pythonClientChecks, slices.Collect(maps.Keys(summary)), "the script's checks")
			var failed []string
			for _, check := range pythonClientChecks {
				if res, ok := summary[check]; !ok {
					failed = append(failed, fmt.Sprintf("  %s: not run", check))
				} else if res != "ok" {
					failed = append(failed, fmt.Sprintf("  %s: %s", check, res))
				}
			}
			if len(failed) > 0 {
				t.Errorf("%d of %d checks of MLflow's Python client fail against %s:\n%s\n"+
					"(for the tracebacks, with -v: PLAYBOOK_PYTHON_STDERR=1; or run scripts/python_client_suite.py --only CHECK against a server)",
					len(failed), len(pythonClientChecks), s.name, strings.Join(failed, "\n"))
				if os.Getenv("PLAYBOOK_PYTHON_STDERR") == "1" {
					t.Logf("stderr of python_client_suite.py against %s:\n%s", s.name, stderr)
				}
			}
			assert.Equal(t, len(failed) > 0, runErr != nil, "the script exits non-zero exactly when a check fails: %v", runErr)
		})
	}
}

// pythonRegistered is what scripts/register_run_model.py prints.
type pythonRegistered struct {
	Name    string  `json:"name"`
	Version string  `json:"version"`
	Source  string  `json:"source"`
	RunID   string  `json:"run_id"`
	Status  string  `json:"status"`
	ModelID *string `json:"model_id"`
}

// TestPythonRegisterTrainedRun: on a run trained by playbook (training.Train,
// as `playbook train` runs it), MLflow's Python
// mlflow.register_model("runs:/RUN/model", NAME) registers the run's
// logged model: the version's source is models:/m-..., the model playbook
// logged, and the logged model's mlflow.modelVersions tag lists the
// version (twice, see below). ModelVersion.model_id is what MLflow 3.18's client makes of the
// reply: None, since its REST replies carry no model_id on model versions.
func TestPythonRegisterTrainedRun(t *testing.T) {
	for _, name := range targetNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startTarget(t, name)
			testenv.Python(t)
			ctx := t.Context()
			res, err := training.Train(ctx, s.c, training.Options{Experiment: unique("py-register-trained"), Runs: 1, Rows: 400, Seed: 3})
			require.NoError(t, err)
			require.Len(t, res.Runs, 1)
			require.True(t, res.LoggedModels, "training on %s logged its model as run artifacts: the server has no logged models", s.name)
			run := res.Runs[0]
			require.True(t, strings.HasPrefix(run.ModelID, "m-"), run.ModelID)

			model := unique("PyRegisterTrained")
			var got pythonRegistered
			stderr, runErr := runPython(t, s, &got, "register_run_model.py", run.RunID, model)
			require.NoError(t, runErr, stderr)
			assert.Equal(t, "models:/"+run.ModelID, got.Source)
			assert.Nil(t, got.ModelID, "MLflow 3.18's replies carry no model_id on model versions")
			assert.Equal(t, run.RunID, got.RunID)
			assert.Equal(t, "1", got.Version)
			assert.Equal(t, "READY", got.Status)

			v, err := s.c.GetModelVersion(ctx, model, "1")
			require.NoError(t, err)
			assert.Equal(t, "models:/"+run.ModelID, v.Source)
			assert.Equal(t, run.RunID, v.RunID)
			lm, err := s.c.GetLoggedModel(ctx, run.ModelID)
			require.NoError(t, err)
			tag, ok := lm.Tag("mlflow.modelVersions")
			require.True(t, ok, "register_model links the version on the logged model")
			// Twice, as MLflow 3.18 writes it: the server links the version
			// when it creates it (version as a JSON number), then the Python
			// client appends it again (version as a string).
			var linked []map[string]any
			require.NoError(t, json.Unmarshal([]byte(tag), &linked), tag)
			assert.Equal(t, []map[string]any{{"name": model, "version": 1.0}, {"name": model, "version": "1"}}, linked, tag)
		})
	}
}
