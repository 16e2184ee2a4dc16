package steps_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/steps"
)

// Tests of the steps that need no Python: they run on a machine with only
// Go, against the embedded server.

// TestIdentifyOverLoggedModelsGoOnly: playbook's training logs MLflow 3
// logged models on the embedded server too; identify ranks them, and
// register registers the one chosen by its models:/m-... URI.
func TestIdentifyOverLoggedModelsGoOnly(t *testing.T) {
	c := newClient(t)
	exp := trainedExperiment(t, c, "weak")
	r := newScenarioRun(t, c, false)
	var byRun, byModel *steps.BestRun
	r.must("identify", func() { byRun = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: exp}) })
	r.must("identify", func() {
		byModel = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: exp, Over: steps.OverLoggedModels})
	})
	assert.Equal(t, steps.OverLoggedModels, byModel.Over)
	assert.Equal(t, byRun.RunID, byModel.RunID, "each run has one model with the run's metrics")
	assert.Equal(t, byRun.Value, byModel.Value)
	assert.True(t, strings.HasPrefix(byModel.ModelID, "m-"), byModel.ModelID)
	assert.Equal(t, "model", byModel.ModelName)
	assert.Equal(t, 2, byModel.Considered)

	model := uniqueName("ByLoggedModel")
	var v *steps.Version
	r.must("register", func() { v = steps.Register(r.pb, byModel, steps.RegisterOptions{Model: model}) })
	assert.Equal(t, steps.SourceLoggedModel, v.SourceKind)
	assert.Equal(t, "models:/"+byModel.ModelID, v.Source)
	assert.Equal(t, byModel.ModelID, v.ModelID)
	r.must("register", func() { v = steps.Register(r.pb, byModel, steps.RegisterOptions{Model: model}) })
	assert.True(t, v.Reused, "the same logged model gives the same version")

	err := r.step("register", func() {
		steps.Register(r.pb, byModel, steps.RegisterOptions{Model: model, Path: "other"})
	})
	require.ErrorContains(t, err, `was chosen by its logged model `+byModel.ModelID+`, called "model": Path "other" names another model`)
}

// TestLoadedGoModelPredicts: a loaded playbook model's PredictProba and
// Predict are the Go model's, at its threshold.
func TestLoadedGoModelPredicts(t *testing.T) {
	c := newClient(t)
	r := newScenarioRun(t, c, false)
	_, v, cand := r.candidate(c, uniqueName("GoPredicts"))
	var m *steps.LoadedModel
	r.must("load", func() { m = steps.Load(r.pb, cand.URI()) })
	assert.Equal(t, v.Version, m.Version)
	assert.False(t, m.Python)
	assert.Equal(t, m.Predictor.Threshold, m.Threshold)
	customers := churn.Generate(50, 3)
	d := &churn.Dataset{Customers: customers}
	assert.Equal(t, m.Predictor.PredictProba(d), m.PredictProba(customers))
	assert.Equal(t, m.Predictor.Predict(d), m.Predict(customers))
}

// writeFile writes a data file in the run's scenario folder and returns
// its name there, as a scenario names it.
func (r *scenarioRun) writeFile(name, content string) string {
	r.t.Helper()
	require.NoError(r.t, os.WriteFile(filepath.Join(r.dir, name), []byte(content), 0o644))
	return name
}

// TestCheckDataGoOnly: CheckData reads a CSV of any columns, or Telco
// data, touches no registry, shows what it read, and refuses bad options
// with a message that says what and where.
func TestCheckDataGoOnly(t *testing.T) {
	r := newScenarioRun(t, nil, false)
	csv := r.writeFile("patients.csv", "age,clinic,diagnosis\n61,north,malignant\n45,south,benign\n52,north,malignant\n")
	var dc *steps.DataCheck
	r.must("validate", func() {
		dc = steps.CheckData(r.pb, steps.ValidateOptions{Data: csv, Label: "diagnosis", PositiveLabel: "malignant", SensitiveFeatures: []string{"clinic"}})
	})
	assert.Equal(t, 3, dc.Rows)
	assert.Equal(t, 2, dc.Positives)
	assert.Equal(t, []string{"age", "clinic", "diagnosis"}, dc.Columns)
	assert.Equal(t, []string{"clinic"}, dc.SensitiveFeatures)
	tables := r.outputs("validate", record.OutputTable)
	require.Len(t, tables, 1)
	assert.Equal(t, [][]string{{"age", ""}, {"clinic", "sensitive feature"}, {"diagnosis", "label"}}, tables[0].Table.Rows)

	r.must("validate", func() { dc = steps.CheckData(r.pb, steps.ValidateOptions{Rows: 300, Seed: 4}) })
	assert.Equal(t, 300, dc.Rows)
	assert.Equal(t, "Churn", dc.Label)
	assert.Equal(t, []string{churn.AttrGender, churn.AttrSeniorCitizen}, dc.SensitiveFeatures)

	for _, tc := range []struct {
		name string
		opts steps.ValidateOptions
		want string
	}{
		{"NoLabelColumn", steps.ValidateOptions{Data: csv, Label: "target", PositiveLabel: "1"}, `"target"`},
		{"NoPositiveRow", steps.ValidateOptions{Data: csv, Label: "diagnosis", PositiveLabel: "cyst"}, `"cyst"`},
		{"NoSensitiveColumn", steps.ValidateOptions{Data: csv, Label: "diagnosis", PositiveLabel: "malignant", SensitiveFeatures: []string{"sex"}}, `"sex"`},
		{"NoFile", steps.ValidateOptions{Data: "none.csv", Label: "diagnosis", PositiveLabel: "malignant"}, "none.csv"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.step("validate", func() { steps.CheckData(r.pb, tc.opts) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestGoModelRefusesGenericData: playbook's own model reads the Telco
// schema only; validating it or inferring with it on rows of another data
// set fails with a message that says so.
func TestGoModelRefusesGenericData(t *testing.T) {
	c := newClient(t)
	r := newScenarioRun(t, c, false)
	_, _, cand := r.candidate(c, uniqueName("GoGeneric"))
	csv := r.writeFile("other.csv", "x,y,label\n1,2,1\n3,4,0\n")
	var m *steps.LoadedModel
	r.must("load", func() { m = steps.Load(r.pb, cand.URI()) })
	err := r.step("infer", func() { steps.InferRows(r.pb, m, steps.InferRowsOptions{Data: csv, PositiveLabel: "1"}) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Telco schema only")
	for _, tc := range []struct {
		opts steps.InferRowsOptions
		want string
	}{
		{steps.InferRowsOptions{PositiveLabel: "1"}, "no data: set Data to a CSV file"},
		{steps.InferRowsOptions{Data: csv}, "set PositiveLabel"},
		{steps.InferRowsOptions{Data: csv, PositiveLabel: "1", Rows: -1}, "-1 rows: want a positive number"},
		{steps.InferRowsOptions{Data: csv, PositiveLabel: "1", Label: "target"}, "label column"},
	} {
		err := r.step("infer", func() { steps.InferRows(r.pb, m, tc.opts) })
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	err = r.step("validate", func() {
		steps.Validate(r.pb, cand, steps.ValidateOptions{Data: csv, Label: "label", PositiveLabel: "1"})
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Telco schema only")
}

// TestStepsRefuseWithoutTheirInput: validate and register without their
// input, validate on a candidate whose alias went, serve with a bad
// timeout or a missing alias: each fails with a message that says what,
// and sends nothing.
func TestStepsRefuseWithoutTheirInput(t *testing.T) {
	c := newClient(t)
	r := newScenarioRun(t, c, false)
	model := uniqueName("Refusals")
	_, _, cand := r.candidate(c, model)
	calls := len(r.rec.Evidence.Calls)

	err := r.step("validate", func() { steps.Validate(r.pb, nil, steps.ValidateOptions{}) })
	require.ErrorContains(t, err, "validate: no candidate: pass the result of steps.Alias")
	err = r.step("register", func() { steps.Register(r.pb, nil, steps.RegisterOptions{}) })
	require.ErrorContains(t, err, "register: no run: pass the result of steps.Identify")
	err = r.step("infer", func() { steps.Serve(r.pb, cand.URI(), steps.ServeOptions{ReadyTimeout: -1}) })
	require.ErrorContains(t, err, "ready timeout -1ns: want a positive duration")
	err = r.step("infer", func() { steps.Serve(r.pb, "models:/"+model+"@nowhere", steps.ServeOptions{}) })
	require.ErrorContains(t, err, `model "`+model+`" has no alias "nowhere"`)

	require.NoError(t, c.DeleteRegisteredModelAlias(t.Context(), model, cand.Alias))
	err = r.step("validate", func() { steps.Validate(r.pb, cand, steps.ValidateOptions{}) })
	require.ErrorContains(t, err, `model "`+model+`" has no alias "`+cand.Alias+`": run steps.Alias first`)
	assert.Len(t, r.rec.Evidence.Calls, calls, "nothing was sent")
}

// TestRegisterRefusesUnscorableFlavor: a run whose MLmodel has neither
// playbook's flavor nor python_function is refused before anything is
// created, with its flavors named; so is an MLmodel that does not parse.
func TestRegisterRefusesUnscorableFlavor(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	exp, err := c.GetOrCreateExperiment(ctx, uniqueName("unscorable"))
	require.NoError(t, err)
	for name, mlmodel := range map[string]string{
		"Keras":   "flavors:\n  keras:\n    data: data\n",
		"NotYAML": "flavors: [unclosed\n",
	} {
		t.Run(name, func(t *testing.T) {
			run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: name})
			require.NoError(t, err)
			require.NoError(t, c.UploadArtifact(ctx, run.Info.ArtifactURI, "model/MLmodel", strings.NewReader(mlmodel)))
			before := registrySnapshot(t, c)
			r := newScenarioRun(t, c, false)
			best := &steps.BestRun{RunID: run.Info.RunID, RunName: name, ArtifactURI: run.Info.ArtifactURI}
			err = r.step("register", func() { steps.Register(r.pb, best, steps.RegisterOptions{Model: uniqueName("Unscorable")}) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), "nothing was registered")
			if name == "Keras" {
				assert.Contains(t, err.Error(), `has flavors ["keras"]: playbook scores its own "playbook_churn" models, or any model with MLflow's "python_function" flavor`)
			}
			assert.Empty(t, r.rec.Evidence.Calls)
			assert.Equal(t, before, registrySnapshot(t, c))
		})
	}
}

// TestInferInputs: infer's defaults (DefaultExamples customers generated
// with DefaultExampleSeed) and its refusals of a missing model, bad counts
// and an invalid customer.
func TestInferInputs(t *testing.T) {
	c := newClient(t)
	r := newScenarioRun(t, c, false)
	_, _, cand := r.candidate(c, uniqueName("InferInputs"))
	var m *steps.LoadedModel
	r.must("load", func() { m = steps.Load(r.pb, cand.URI()) })
	var preds []steps.Prediction
	r.must("infer", func() { preds = steps.Infer(r.pb, m, steps.InferOptions{}) })
	require.Len(t, preds, steps.DefaultExamples)
	want := churn.Generate(steps.DefaultExamples, steps.DefaultExampleSeed)
	for i, p := range preds {
		assert.Equal(t, want[i].CustomerID, p.CustomerID)
		assert.Equal(t, m.PredictProba(want[i : i+1])[0], p.Probability)
	}
	bad := want[0]
	bad.Contract = "Weekly"
	for _, tc := range []struct {
		model steps.Scorer
		opts  steps.InferOptions
		want  string
	}{
		{(*steps.LoadedModel)(nil), steps.InferOptions{}, "infer: no model: pass the result of steps.Load or steps.Serve"},
		{(*steps.ServedModel)(nil), steps.InferOptions{}, "infer: no model: pass the result of steps.Load or steps.Serve"},
		{m, steps.InferOptions{Count: -2}, "infer: count -2 and seed 7: want positive numbers"},
		{m, steps.InferOptions{Customers: []churn.Customer{bad}}, `infer: customer 1 (` + `"` + bad.CustomerID + `"): `},
	} {
		err := r.step("infer", func() { steps.Infer(r.pb, tc.model, tc.opts) })
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	for _, mode := range []string{"off", "false", "no"} {
		var served bool
		r.must("infer", func() { served = steps.ServeWanted(r.pb, mode) })
		assert.False(t, served, mode)
	}
}

// TestServeExitsBeforeReady: an interpreter that is not a Python with
// mlflow (here /bin/sh) makes the scoring server exit before /ping; Serve
// fails with what it printed, and nothing is left running or recorded.
func TestServeExitsBeforeReady(t *testing.T) {
	c := newClient(t)
	r := newScenarioRun(t, c, false)
	model := uniqueName("ServeExits")
	r.candidate(c, model)
	pb, ctl := notebook.New(notebook.Options{Run: r.rec, Connect: func() (*mlflow.Client, error) { return c, nil },
		Interpreter: func() (string, error) { return "/bin/sh", nil }})
	t.Cleanup(ctl.Close)
	r.pb, r.ctl = pb, ctl
	err := r.step("infer", func() { steps.Serve(pb, "models:/"+model+"@staging-candidate", steps.ServeOptions{}) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "`mlflow models serve` exited before answering /ping (exit status 2); its last lines:")
	assert.Contains(t, err.Error(), "mlflow")
	assert.Empty(t, r.rec.Evidence.Served)
}
