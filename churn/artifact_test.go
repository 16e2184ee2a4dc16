package churn

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/internal/testenv"
)

// fittedModel trains a small model on generated data.
func fittedModel(t *testing.T) (*Model, *Dataset) {
	t.Helper()
	train, valid := StratifiedSplit(GenerateDataset(3000, 31), 0.3, 2)
	m, err := Fit(train, TrainOptions{L2: 1e-3})
	require.NoError(t, err)
	return m, valid
}

func TestSaveLoadModelRoundTripIsExact(t *testing.T) {
	m, valid := fittedModel(t)
	m.Threshold = 0.37
	dir := filepath.Join(t.TempDir(), "model")
	created := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	meta := ArtifactMeta{RunID: "0123456789abcdef0123456789abcdef", Created: created, InputExample: valid.Customers[:2]}
	require.NoError(t, SaveModel(dir, m, meta))

	got, gotMeta, err := LoadModel(dir)
	require.NoError(t, err)
	assert.Equal(t, m, got)

	want := m.PredictProba(valid)
	have := got.PredictProba(valid)
	for i := range want {
		require.Equal(t, math.Float64bits(want[i]), math.Float64bits(have[i]), "row %d: not bitwise equal", i)
	}
	assert.Equal(t, m.Predict(valid), got.Predict(valid))

	assert.Equal(t, meta.RunID, gotMeta.RunID)
	assert.Equal(t, DefaultArtifactPath, gotMeta.ArtifactPath)
	assert.Regexp(t, `^[0-9a-f]{32}$`, gotMeta.ModelUUID)
	assert.Equal(t, created.Truncate(time.Microsecond), gotMeta.Created)
	assert.Equal(t, []string{Flavor, PyfuncFlavor}, gotMeta.Flavors)
	// The example keeps the 19 feature columns (no ID, no label).
	require.Len(t, gotMeta.InputExample, 2)
	for i, c := range gotMeta.InputExample {
		want := valid.Customers[i]
		want.CustomerID, want.Churn = "", false
		assert.Equal(t, want, c)
	}
}

func TestSaveModelWritesAnMLflowModel(t *testing.T) {
	m, _ := fittedModel(t)
	dir := t.TempDir()
	require.NoError(t, SaveModel(dir, m, ArtifactMeta{RunID: "r1", ModelUUID: "u1", ArtifactPath: "churn-model"}))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"MLmodel", "model.json", "input_example.json", "serving_input_example.json",
		"code", "python_env.yaml", "conda.yaml", "requirements.txt"}, names)
	loader, err := os.ReadFile(filepath.Join(dir, "code", "playbook_churn_pyfunc.py"))
	require.NoError(t, err)
	assert.Contains(t, string(loader), "def _load_pyfunc(")

	raw, err := os.ReadFile(filepath.Join(dir, "MLmodel"))
	require.NoError(t, err)
	var mlm map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &mlm))
	assert.Equal(t, "churn-model", mlm["artifact_path"])
	assert.Equal(t, "r1", mlm["run_id"])
	assert.Equal(t, "u1", mlm["model_uuid"])
	assert.Equal(t, map[string]any{
		"playbook_churn": map[string]any{
			"model_file": "model.json", "format_version": 1, "model_type": "logistic_regression",
		},
		"python_function": map[string]any{
			"loader_module": "playbook_churn_pyfunc", "code": "code", "data": "model.json",
			"env":            map[string]any{"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
			"python_version": "3.11",
		},
	}, mlm["flavors"])
	assert.Regexp(t, regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$`), mlm["utc_time_created"])
	assert.Equal(t, map[string]any{
		"artifact_path": "input_example.json", "pandas_orient": "split",
		"serving_input_path": "serving_input_example.json", "type": "dataframe",
	}, mlm["saved_input_example_info"])

	sig := mlm["signature"].(map[string]any)
	var inputs []struct {
		Type     string `json:"type"`
		Name     string `json:"name"`
		Required bool   `json:"required"`
	}
	require.NoError(t, json.Unmarshal([]byte(sig["inputs"].(string)), &inputs))
	require.Len(t, inputs, 19)
	types := make(map[string]string)
	for i, in := range inputs {
		assert.Equal(t, FeatureColumns()[i], in.Name)
		assert.True(t, in.Required)
		types[in.Name] = in.Type
	}
	assert.Equal(t, "string", types["gender"])
	assert.Equal(t, "long", types["SeniorCitizen"])
	assert.Equal(t, "long", types["tenure"])
	assert.Equal(t, "double", types["TotalCharges"])
	assert.Equal(t, "string", types["PaymentMethod"])
	assert.True(t, strings.HasPrefix(sig["inputs"].(string), `[{"type": "string", "name": "gender", "required": true}, `))
	assert.JSONEq(t, `[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]`, sig["outputs"].(string))
	assert.JSONEq(t, `[{"name": "predict_method", "default": "predict", "shape": null, "type": "string"}]`, sig["params"].(string))

	var example struct {
		Columns []string `json:"columns"`
		Data    [][]any  `json:"data"`
	}
	raw, err = os.ReadFile(filepath.Join(dir, "input_example.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &example))
	assert.Equal(t, FeatureColumns(), example.Columns)
	assert.Len(t, example.Data, 3, "default example: Generate(3, 0)")

	var serving map[string]json.RawMessage
	raw, err = os.ReadFile(filepath.Join(dir, "serving_input_example.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &serving))
	assert.Contains(t, serving, "dataframe_split")
}

func TestFormatMLflowTime(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"Micro", time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), "2024-01-02 03:04:05.123456"},
		{"WholeSecond", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02 03:04:05"},
		{"ToUTC", time.Date(2024, 1, 2, 4, 4, 5, 1000, paris), "2024-01-02 03:04:05.000001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, formatMLflowTime(tt.t))
		})
	}
}

// mlmodelFS returns a model folder in memory from a saved model, with
// MLmodel and model.json replaced when given.
func mlmodelFS(t *testing.T, mlmodel, modelJSON string) fstest.MapFS {
	t.Helper()
	m, _ := fittedModel(t)
	dir := t.TempDir()
	require.NoError(t, SaveModel(dir, m, ArtifactMeta{}))
	fsys := fstest.MapFS{}
	for _, name := range []string{MLmodelFile, ModelFile, InputExampleFile, ServingExampleFile} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		fsys[name] = &fstest.MapFile{Data: data}
	}
	if mlmodel != "" {
		fsys[MLmodelFile] = &fstest.MapFile{Data: []byte(mlmodel)}
	}
	if modelJSON != "" {
		fsys[ModelFile] = &fstest.MapFile{Data: []byte(modelJSON)}
	}
	return fsys
}

// An MLmodel file written by mlflow.sklearn.log_model (MLflow 3.x).
const sklearnMLmodel = `artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.7
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.9.1
mlflow_version: 3.18.0
model_uuid: 30454b95accc44f3aa9fd39445ba187a
run_id: abc
utc_time_created: '2026-11-25 23:52:08.570931'
`

func TestLoadModelRefusesWhatItCannotRead(t *testing.T) {
	m, _ := fittedModel(t)
	goodJSON, err := json.Marshal(modelFile{FormatVersion: 1, Flavor: Flavor, Model: m})
	require.NoError(t, err)
	withModel := func(change func(*Model)) string {
		var mf modelFile
		require.NoError(t, json.Unmarshal(goodJSON, &mf))
		change(mf.Model)
		b, err := json.Marshal(mf)
		require.NoError(t, err)
		return string(b)
	}
	tests := []struct {
		name      string
		mlmodel   string
		modelJSON string
		want      string
	}{
		{
			name:    "ForeignFlavors",
			mlmodel: sklearnMLmodel,
			want:    `MLmodel has flavors [python_function sklearn]; playbook can load only "playbook_churn"`,
		},
		{
			name:    "NoFlavors",
			mlmodel: "artifact_path: model\nflavors: {}\n",
			want:    `MLmodel has flavors []; playbook can load only "playbook_churn"`,
		},
		{
			name:    "OtherModelFile",
			mlmodel: "flavors:\n  playbook_churn:\n    model_file: ../../etc/passwd\n    format_version: 1\n",
			want:    `MLmodel: flavor playbook_churn: model_file "../../etc/passwd": playbook reads only "model.json"`,
		},
		{
			name:    "NewerFlavorVersion",
			mlmodel: "flavors:\n  playbook_churn:\n    model_file: model.json\n    format_version: 2\n",
			want:    "MLmodel: flavor playbook_churn: format_version 2: playbook reads only version 1",
		},
		{
			name:    "BadYAML",
			mlmodel: "flavors: [unclosed\n",
			want:    "MLmodel: yaml:",
		},
		{
			name:      "NewerModelJSON",
			modelJSON: strings.Replace(string(goodJSON), `"format_version":1`, `"format_version":2`, 1),
			want:      "model.json: format_version 2: playbook reads only version 1",
		},
		{
			name:      "UnknownField",
			modelJSON: strings.Replace(string(goodJSON), `"threshold"`, `"treshold"`, 1),
			want:      `model.json: json: unknown field "treshold"`,
		},
		{
			name:      "CoefficientCount",
			modelJSON: withModel(func(m *Model) { m.Logistic.Coef = m.Logistic.Coef[1:] }),
			want:      "model.json: the encoder makes 45 features but the model has 44 coefficients",
		},
		{
			name:      "Threshold",
			modelJSON: withModel(func(m *Model) { m.Threshold = 1.5 }),
			want:      "model.json: threshold 1.5 is not in [0, 1]",
		},
		{
			name:      "Encoder",
			modelJSON: withModel(func(m *Model) { m.Encoder.Numeric[0].Std = -1 }),
			want:      `model.json: encoder: column "tenure": bad mean`,
		},
		{
			name:      "NoModel",
			modelJSON: `{"format_version": 1, "flavor": "playbook_churn"}`,
			want:      "model.json: churn: model is not fitted",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, meta, err := LoadModelFS(mlmodelFS(t, tt.mlmodel, tt.modelJSON))
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Nil(t, meta)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	t.Run("FlavorErrorType", func(t *testing.T) {
		_, _, err := LoadModelFS(mlmodelFS(t, sklearnMLmodel, ""))
		var fe *FlavorError
		require.True(t, errors.As(err, &fe))
		assert.Equal(t, []string{"python_function", "sklearn"}, fe.Flavors)
	})
	t.Run("MissingMLmodel", func(t *testing.T) {
		_, _, err := LoadModel(t.TempDir())
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("MissingFolder", func(t *testing.T) {
		_, _, err := LoadModel(filepath.Join(t.TempDir(), "nope"))
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("SaveRefusesAnUnfittedModel", func(t *testing.T) {
		err := SaveModel(t.TempDir(), &Model{}, ArtifactMeta{})
		assert.ErrorIs(t, err, ErrNotFitted)
	})
}

func TestSaveModelStaysInsideItsFolder(t *testing.T) {
	m, _ := fittedModel(t)
	base := t.TempDir()
	dir := filepath.Join(base, "model")
	outside := filepath.Join(base, "outside.json")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	// A symbolic link planted where model.json goes, pointing out.
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, ModelFile)))
	err := SaveModel(dir, m, ArtifactMeta{})
	require.Error(t, err)
	assert.NoFileExists(t, outside)
}

// TestSavedModelLoadsInMLflow reads a saved model with MLflow's own Model
// class: MLmodel parses, the signature is a valid schema, the input example
// loads.
func TestSavedModelLoadsInMLflow(t *testing.T) {
	t.Parallel() // mostly waiting for Python
	py := testenv.Python(t)
	m, valid := fittedModel(t)
	dir := t.TempDir()
	require.NoError(t, SaveModel(dir, m, ArtifactMeta{RunID: "abc", InputExample: valid.Customers[:4]}))
	const script = `
import json, sys
from mlflow.models import Model
m = Model.load(sys.argv[1])
ex = m.load_input_example(sys.argv[1])
print(json.dumps({
    "flavors": sorted(m.flavors),
    "run_id": m.run_id,
    "inputs": m.signature.inputs.input_names(),
    "types": [t.name for t in m.signature.inputs.input_types()],
    "outputs": [t.to_dict() for t in m.signature.outputs.inputs],
    "params": m.signature.params.to_dict(),
    "example_shape": list(ex.shape),
    "example_columns": list(ex.columns),
}))
`
	cmd := exec.CommandContext(t.Context(), py, "-c", script, dir)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		t.Logf("stderr: %s", ee.Stderr)
	}
	require.NoError(t, err)
	var got struct {
		Flavors        []string         `json:"flavors"`
		RunID          string           `json:"run_id"`
		Inputs         []string         `json:"inputs"`
		Types          []string         `json:"types"`
		Outputs        []map[string]any `json:"outputs"`
		Params         []map[string]any `json:"params"`
		ExampleShape   []int            `json:"example_shape"`
		ExampleColumns []string         `json:"example_columns"`
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)
	assert.Equal(t, []string{Flavor, PyfuncFlavor}, got.Flavors)
	assert.Equal(t, "abc", got.RunID)
	assert.Equal(t, FeatureColumns(), got.Inputs)
	assert.Equal(t, []map[string]any{{"type": "tensor", "tensor-spec": map[string]any{"dtype": "int64", "shape": []any{-1.0}}}}, got.Outputs)
	assert.Equal(t, []map[string]any{{"name": "predict_method", "type": "string", "default": "predict", "shape": nil}}, got.Params)
	assert.Equal(t, []int{4, 19}, got.ExampleShape)
	assert.Equal(t, FeatureColumns(), got.ExampleColumns)
	require.Len(t, got.Types, 19)
	for i, name := range got.Inputs {
		want := "string"
		switch name {
		case "SeniorCitizen", "tenure":
			want = "long"
		case "MonthlyCharges", "TotalCharges":
			want = "double"
		}
		assert.Equal(t, want, got.Types[i], name)
	}
}

// pyfuncScript loads a model folder with MLflow's mlflow.pyfunc.load_model
// and scores the rows of a split-format JSON file both ways.
const pyfuncScript = `
import json, sys
import mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
with open(sys.argv[2]) as f:
    rows = json.load(f)
df = pd.DataFrame(rows["data"], columns=rows["columns"])
labels = model.predict(df)
proba = model.predict(df, params={"predict_method": "predict_proba"})
try:
    model.predict(df, params={"predict_method": "decision_function"})
    bad = ""
except Exception as e:
    bad = str(e)
print(json.dumps({"labels": [int(v) for v in labels], "proba": [float(v) for v in proba], "bad_method": bad}))
`

// TestSavedModelScoresInPyfunc loads a saved model with MLflow's own
// mlflow.pyfunc (the python_function flavor's loader module, numpy only) and
// compares its labels and probabilities with the Go model's.
func TestSavedModelScoresInPyfunc(t *testing.T) {
	t.Parallel() // mostly waiting for Python
	py := testenv.Python(t)
	m, valid := fittedModel(t)
	m.Threshold = 0.37
	dir := filepath.Join(t.TempDir(), "model")
	require.NoError(t, SaveModel(dir, m, ArtifactMeta{}))
	rows, err := json.Marshal(exampleSplit(valid.Customers))
	require.NoError(t, err)
	input := filepath.Join(t.TempDir(), "rows.json")
	require.NoError(t, os.WriteFile(input, rows, 0o644))

	cmd := exec.CommandContext(t.Context(), py, "-c", pyfuncScript, dir, input)
	cmd.Env = append(os.Environ(), "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "stderr: %s", stderr.String())
	var got struct {
		Labels    []int     `json:"labels"`
		Proba     []float64 `json:"proba"`
		BadMethod string    `json:"bad_method"`
	}
	require.NoError(t, json.Unmarshal(out, &got), "%s", out)

	want := m.PredictProba(valid)
	require.Len(t, got.Proba, len(want))
	for i := range want {
		require.InDelta(t, want[i], got.Proba[i], 1e-12, "row %d", i)
	}
	assert.Equal(t, m.Predict(valid), got.Labels, "labels at the model's threshold")
	assert.Contains(t, got.BadMethod, "predict_method 'decision_function': want one of predict, predict_proba")
}
