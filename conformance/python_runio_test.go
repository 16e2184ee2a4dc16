package conformance_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
)

// runIOScript logs a dataset input with MLflow's Python client and, given
// "artifacts", artifacts in folders and a table, then prints what the
// client reads back, as JSON.
const runIOScript = `
import json, os, sys, tempfile
import mlflow, pandas as pd
from mlflow import MlflowClient
mlflow.set_experiment(sys.argv[1])
out = {}
with mlflow.start_run() as r:
    ds = mlflow.data.from_pandas(pd.DataFrame({"a": [1.0, 2.0]}), source="/data/train.csv", name="train")
    mlflow.log_input(ds, context="training")
    if "artifacts" in sys.argv:
        d = tempfile.mkdtemp()
        os.makedirs(d + "/sub/deeper")
        open(d + "/sub/a.txt", "w").write("a")
        open(d + "/sub/deeper/b.txt", "w").write("bb")
        mlflow.log_artifacts(d, "some")
        mlflow.log_table({"x": [1, 2]}, "tables/t.json")
c = MlflowClient()
run = c.get_run(r.info.run_id)
out["inputs"] = [[i.dataset.name, i.dataset.digest, i.dataset.source_type, [[t.key, t.value] for t in i.tags]] for i in run.inputs.dataset_inputs]
if "artifacts" in sys.argv:
    out["lists"] = {p: [[f.path, f.is_dir, f.file_size] for f in c.list_artifacts(r.info.run_id, p)] for p in ["some", "some/sub", "some/sub/deeper", "tables"]}
    out["logged"] = run.data.tags.get("mlflow.loggedArtifacts")
    out["table"] = mlflow.load_table("tables/t.json", run_ids=[r.info.run_id]).to_dict(orient="list")
print(json.dumps(out))
`

// servesLoggedModelSearch reports whether the target serves
// logged-models/search, which MlflowClient.list_artifacts(run_id, path)
// calls to list the run's logged models under path.
func (s *target) servesLoggedModelSearch(t *testing.T) bool {
	r := s.api(t, http.MethodPost, "logged-models/search", map[string]any{"experiment_ids": []string{"0"}})
	return r.Status != http.StatusNotFound
}

func TestPythonClientRunIO(t *testing.T) {
	py := testenv.Python(t)
	forEachTarget(t, []testCase{
		{"LogInputListArtifactsLogTable", func(t *testing.T, s *target) {
			args := []string{"-c", runIOScript, unique("py-runio")}
			artifacts := s.servesLoggedModelSearch(t)
			if artifacts {
				args = append(args, "artifacts")
			} else {
				t.Log("list_artifacts(run_id, path) and log_table need logged-models/search, not served: checking log_input only")
			}
			cmd := exec.CommandContext(t.Context(), py, args...)
			cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+s.uri, "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			require.NoError(t, cmd.Run(), stderr.String())
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &got), stdout.String())
			require.Len(t, got["inputs"], 1)
			in := got["inputs"].([]any)[0].([]any)
			assert.Equal(t, "train", in[0])
			assert.Equal(t, "local", in[2])
			assert.Equal(t, []any{[]any{"mlflow.data.context", "training"}}, in[3])
			if !artifacts {
				return
			}
			lists := got["lists"].(map[string]any)
			tables := lists["tables"].([]any)
			require.Len(t, tables, 1)
			assert.Equal(t, []any{"tables/t.json", false}, tables[0].([]any)[:2])
			delete(lists, "tables")
			assert.Equal(t, map[string]any{
				"some":            []any{[]any{"some/sub", true, nil}},
				"some/sub":        []any{[]any{"some/sub/a.txt", false, 1.0}, []any{"some/sub/deeper", true, nil}},
				"some/sub/deeper": []any{[]any{"some/sub/deeper/b.txt", false, 2.0}},
			}, lists)
			assert.Equal(t, `[{"path": "tables/t.json", "type": "table"}]`, got["logged"])
			assert.Equal(t, map[string]any{"x": []any{1.0, 2.0}}, got["table"])
		}},
	})
}
