package steps_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/steps"
)

// sklearnLogged is what scripts/log_sklearn_models.py prints.
type sklearnLogged struct {
	ExperimentID string `json:"experiment_id"`
	Models       []struct {
		RunID   string  `json:"run_id"`
		ModelID string  `json:"model_id"`
		F1      float64 `json:"f1"`
	} `json:"models"`
}

// TestRegisterSklearnLoggedModelsMLflow3: three sklearn models logged the
// MLflow 3 way; identify (over runs, then over logged models), register
// and alias give a version whose source is the logged model's models:/m-...
// (with its model_id), which MLflow's Python client loads through the
// alias; registering again reuses it; a run without a model changes
// nothing.
func TestRegisterSklearnLoggedModelsMLflow3(t *testing.T) {
	registerSklearnLoggedModels(t, testenv.RealMLflow(t))
}

// TestRegisterSklearnLoggedModelsEmbedded is the same on the embedded
// server, MLflow's Python client logging and loading the models.
func TestRegisterSklearnLoggedModelsEmbedded(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	registerSklearnLoggedModels(t, mlflowtest.Embedded(t))
}

func registerSklearnLoggedModels(t *testing.T, uri string) {
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	exp := uniqueName("sk-register")
	var logged sklearnLogged
	testenv.SklearnModels(t, uri, &logged, "--experiment", exp, "--runs", "3")
	require.Len(t, logged.Models, 3)
	// The best by f1; on a tie, the last logged (the most recent run and
	// model), as Identify breaks ties.
	want := 0
	for i, m := range logged.Models {
		if m.F1 >= logged.Models[want].F1 {
			want = i
		}
	}
	best := logged.Models[want]

	for _, over := range []string{steps.OverRuns, steps.OverLoggedModels} {
		t.Run(over, func(t *testing.T) {
			model := uniqueName("SkChurn")
			r := newScenarioRun(t, c, false)
			var (
				run *steps.BestRun
				v   *steps.Version
			)
			r.must("identify", func() { run = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: exp, Over: over}) })
			assert.Equal(t, best.RunID, run.RunID)
			assert.Equal(t, best.F1, run.Value)
			assert.Equal(t, over, run.Over)
			assert.Equal(t, 3, run.Considered)
			if over == steps.OverLoggedModels {
				assert.Equal(t, best.ModelID, run.ModelID)
				assert.Equal(t, "model", run.ModelName)
				assert.Equal(t, "models:/"+best.ModelID, run.ModelSource)
				assert.Contains(t, run.TieBreak, "creation time descending")
				assert.Equal(t, best.ModelID, r.rec.Evidence.Leaderboard.Rows[0].ModelID)
			} else {
				assert.Empty(t, run.ModelID)
			}

			r.must("register", func() { v = steps.Register(r.pb, run, steps.RegisterOptions{Model: model}) })
			assert.Equal(t, "models:/"+best.ModelID, v.Source)
			assert.Equal(t, steps.SourceLoggedModel, v.SourceKind)
			assert.Equal(t, best.ModelID, v.ModelID)
			assert.True(t, v.Created)
			mv, err := c.GetModelVersion(t.Context(), model, v.Version)
			require.NoError(t, err)
			assert.Equal(t, "models:/"+best.ModelID, mv.Source, "MLflow 3.18 links the version to its logged model by its source")
			assert.Equal(t, best.RunID, mv.RunID)
			assert.Equal(t, mlflow.ModelVersionReady, mv.Status)
			calls := r.rec.Evidence.Calls
			require.Len(t, calls, 2)
			assert.Equal(t, best.ModelID, calls[1].Args["model_id"], "the model_id was sent")

			r.must("alias", func() { steps.Alias(r.pb, v, "") })
			var loaded struct {
				ModelID     string `json:"model_id"`
				Predictions []int  `json:"predictions"`
			}
			testenv.SklearnModels(t, uri, &loaded, "--load", "models:/"+model+"@"+steps.DefaultCandidateAlias)
			assert.Equal(t, best.ModelID, loaded.ModelID)
			assert.Len(t, loaded.Predictions, 3)

			// The same run and source again: reused, nothing sent.
			r2 := newScenarioRun(t, c, false)
			var again *steps.Version
			r2.must("register", func() { again = steps.Register(r2.pb, run, steps.RegisterOptions{Model: model}) })
			assert.True(t, again.Reused)
			assert.Equal(t, v.Version, again.Version)
			assert.Equal(t, v.Source, again.Source)
			assert.Empty(t, r2.rec.Evidence.Calls)
			assert.Len(t, readState(t, c, model).Versions, 1)
		})
	}
	t.Run("NoModel", func(t *testing.T) { checkRegisterRefusesWithoutModel(t, c) })

	// Equal values: the most recent logged model first, as MLflow orders them.
	t.Run("Ties", func(t *testing.T) {
		ctx := t.Context()
		e, err := c.GetOrCreateExperiment(ctx, uniqueName("lm-ties"))
		require.NoError(t, err)
		run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: e.ExperimentID, RunName: "ties"})
		require.NoError(t, err)
		var ids []string
		for i, f1 := range []float64{0.7, 0.7, 0.5} {
			m, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{ExperimentID: e.ExperimentID, Name: fmt.Sprintf("tie%d", i), SourceRunID: run.Info.RunID})
			require.NoError(t, err)
			require.NoError(t, c.LogLoggedModelMetrics(ctx, run.Info.RunID, m.Info.ModelID, []mlflow.LoggedModelMetric{{Metric: mlflow.Metric{Key: "f1", Value: f1}}}))
			_, err = c.FinalizeLoggedModel(ctx, m.Info.ModelID, mlflow.LoggedModelReady)
			require.NoError(t, err)
			ids = append(ids, m.Info.ModelID)
			time.Sleep(20 * time.Millisecond) // distinct creation times
		}
		r := newScenarioRun(t, c, false)
		var best *steps.BestRun
		r.must("identify", func() {
			best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: e.Name, Over: steps.OverLoggedModels, PageSize: 1})
		})
		assert.Equal(t, ids[1], best.ModelID, "the most recent of the tied models")
		assert.Equal(t, 2, best.Tied)
		assert.Equal(t, 3, best.Considered)
		assert.Equal(t, run.Info.RunID, best.RunID)
		assert.Equal(t, "ties", best.RunName)
		r.must("identify", func() {
			best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: e.Name, Over: steps.OverLoggedModels, Direction: steps.DirectionMin})
		})
		assert.Equal(t, ids[2], best.ModelID)
	})

	// A logged model without files, READY or still PENDING, is refused too.
	t.Run("EmptyLoggedModel", func(t *testing.T) {
		ctx := t.Context()
		run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: logged.ExperimentID, RunName: "empty-logged-model"})
		require.NoError(t, err)
		for _, tt := range []struct {
			status mlflow.LoggedModelStatus
			want   string
		}{
			{mlflow.LoggedModelReady, "has no MLmodel file: its files (mlflow-artifacts:/"},
			{mlflow.LoggedModelPending, "is LOGGED_MODEL_PENDING, not READY"},
		} {
			t.Run(string(tt.status), func(t *testing.T) {
				name := "m" + strings.ToLower(string(tt.status)[len("LOGGED_MODEL_"):])
				m, err := c.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{ExperimentID: logged.ExperimentID, Name: name, SourceRunID: run.Info.RunID})
				require.NoError(t, err)
				if tt.status == mlflow.LoggedModelReady {
					_, err = c.FinalizeLoggedModel(ctx, m.Info.ModelID, tt.status)
					require.NoError(t, err)
				}
				before := registrySnapshot(t, c)
				r := newScenarioRun(t, c, false)
				best := &steps.BestRun{RunID: run.Info.RunID}
				err = r.step("register", func() {
					steps.Register(r.pb, best, steps.RegisterOptions{Model: uniqueName("EmptyLogged"), Path: name})
				})
				require.Error(t, err)
				assert.Contains(t, err.Error(), "the logged model "+m.Info.ModelID+` ("`+name+`") of run `+run.Info.RunID+` ("empty-logged-model")`)
				assert.Contains(t, err.Error(), tt.want)
				assert.Empty(t, r.rec.Evidence.Calls)
				assert.Equal(t, before, registrySnapshot(t, c), "the registry did not change")
			})
		}
	})
}

// TestRegisterRefusesWithoutModel: on the embedded server, registering a
// run that has no model at the path changes nothing and says why.
func TestRegisterRefusesWithoutModel(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.Embedded(t)))
	require.NoError(t, err)
	checkRegisterRefusesWithoutModel(t, c)
}

// TestIdentifyLoggedModelsWithoutMLflow3: a server without MLflow 3's
// logged models (MLflow 2, played by EmbeddedWithoutLoggedModels) cannot
// rank them, and says so.
func TestIdentifyLoggedModelsWithoutMLflow3(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.EmbeddedWithoutLoggedModels(t)))
	require.NoError(t, err)
	exp := trainedExperiment(t, c, "weak")
	r := newScenarioRun(t, c, false)
	err = r.step("identify", func() {
		steps.Identify(r.pb, steps.IdentifyOptions{Experiment: exp, Over: steps.OverLoggedModels})
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "has no logged models")
	assert.Contains(t, err.Error(), `rank runs instead (Over: "runs")`)

	err = r.step("identify", func() { steps.Identify(r.pb, steps.IdentifyOptions{Experiment: exp, Over: "models"}) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), `over "models": want "runs" or "logged_models"`)
}

// TestRegisterBadInput: a bad run or path is refused before anything is
// read or sent, with an error that says what is wrong.
func TestRegisterBadInput(t *testing.T) {
	tests := []struct {
		name string
		run  *steps.BestRun
		path string
		want string
		is   error
	}{
		{"ErrNoRunID", &steps.BestRun{}, "", `run id "": not a run id`, nil},
		{"ErrQuotedRunID", &steps.BestRun{RunID: "x' OR '1"}, "", `not a run id`, nil},
		{"ErrEscape", &steps.BestRun{RunID: "abc"}, "model/../../other", `path "model/../../other" of run abc`, mlflow.ErrPathEscape},
		{"ErrAbsolute", &steps.BestRun{RunID: "abc"}, "/etc", `path "/etc" of run abc`, nil},
		{"ErrOtherModel", &steps.BestRun{RunID: "abc", ModelID: "m-1", ModelName: "model"}, "other",
			`run abc was chosen by its logged model m-1, called "model": Path "other" names another model`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newScenarioRun(t, nil, false) // no server: nothing may be read
			err := r.step("register", func() { steps.Register(r.pb, tt.run, steps.RegisterOptions{Path: tt.path}) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotErrorIs(t, err, steps.ErrNoServer, "refused before reaching the registry")
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
		})
	}
}

// TestRegisterRunArtifacts: a model logged as the run's own artifacts
// (playbook's training on a server without logged models) is registered by
// its folder, and reused.
func TestRegisterRunArtifacts(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.EmbeddedWithoutLoggedModels(t)))
	require.NoError(t, err)
	model := uniqueName("RunArtifacts")
	r := newScenarioRun(t, c, false)
	best, v, _ := r.candidate(c, model)
	assert.Equal(t, steps.SourceRunArtifacts, v.SourceKind)
	assert.Equal(t, best.ArtifactURI+"/model", v.Source)
	assert.Empty(t, v.ModelID)
	r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: model}) })
	assert.True(t, v.Reused)
}

// registrySnapshot is every registered model of c and its versions:
// name → version → source.
func registrySnapshot(t *testing.T, c *mlflow.Client) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	token := ""
	for {
		page, err := c.SearchRegisteredModels(t.Context(), "", 1000, nil, token)
		require.NoError(t, err)
		for _, rm := range page.RegisteredModels {
			out[rm.Name] = map[string]string{}
		}
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	mvs, err := c.SearchAllModelVersions(t.Context(), "")
	require.NoError(t, err)
	for _, mv := range mvs {
		if out[mv.Name] == nil {
			out[mv.Name] = map[string]string{}
		}
		out[mv.Name][mv.Version] = mv.Source
	}
	return out
}

func checkRegisterRefusesWithoutModel(t *testing.T, c *mlflow.Client) {
	ctx := t.Context()
	exp, err := c.GetOrCreateExperiment(ctx, uniqueName("no-model"))
	require.NoError(t, err)
	empty, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: "empty-run"})
	require.NoError(t, err)
	other, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: "pickle-only"})
	require.NoError(t, err)
	require.NoError(t, c.UploadArtifact(ctx, other.Info.ArtifactURI, "model/model.pkl", strings.NewReader("not a model")))
	require.NoError(t, c.UploadArtifact(ctx, other.Info.ArtifactURI, "model/data/x.txt", strings.NewReader("x")))
	// An existing model, and one that does not exist yet.
	existing := uniqueName("NoModelExisting")
	_, err = c.CreateRegisteredModel(ctx, existing, nil, "")
	require.NoError(t, err)
	fresh := uniqueName("NoModelFresh")

	tests := []struct {
		name string
		run  *mlflow.Run
		path string
		want []string
	}{
		{"Nothing", empty, "", []string{"run " + empty.Info.RunID + ` ("empty-run")`, `no model at path "model"`, "hold nothing", "no MLmodel file", `no logged model called "model"`}},
		{"NoMLmodel", other, "", []string{"run " + other.Info.RunID + ` ("pickle-only")`, `no model at path "model"`, "hold data/, model.pkl"}},
		{"OtherPath", other, "model/data", []string{`no model at path "model/data"`, "hold x.txt"}},
		{"Escape", other, "../x", []string{`path "../x"`}},
	}
	for _, tt := range tests {
		for kind, model := range map[string]string{"ExistingModel": existing, "NewModel": fresh} {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				before := registrySnapshot(t, c)
				r := newScenarioRun(t, c, false)
				run := &steps.BestRun{RunID: tt.run.Info.RunID, RunName: tt.run.Info.RunName, ArtifactURI: tt.run.Info.ArtifactURI}
				err := r.step("register", func() { steps.Register(r.pb, run, steps.RegisterOptions{Model: model, Path: tt.path}) })
				require.Error(t, err)
				for _, s := range tt.want {
					assert.Contains(t, err.Error(), s)
				}
				assert.Empty(t, r.rec.Evidence.Calls, "nothing was sent")
				assert.Equal(t, before, registrySnapshot(t, c), "the registry did not change")
			})
		}
	}
}

// TestRegisterPythonModelWithoutPython: with no Python on PATH and no
// PLAYBOOK_PYTHON, register refuses a scikit-learn model (a
// python_function flavor, scored in Python) before anything is sent, with
// an error that names its flavors and what to install or set.
func TestRegisterPythonModelWithoutPython(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	uri := mlflowtest.Embedded(t)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	exp := uniqueName("sk-no-python")
	var logged sklearnLogged
	testenv.SklearnModels(t, uri, &logged, "--experiment", exp, "--runs", "1")
	require.Len(t, logged.Models, 1)

	t.Setenv("PATH", t.TempDir())
	t.Setenv(pyworker.EnvPython, "")
	// As playbook run starts the worker with no --python.
	python := func() (*pyworker.Worker, error) {
		py, err := pyworker.FindPython("")
		if err != nil {
			return nil, err
		}
		return pyworker.Start(py, io.Discard, pyworker.Environ())
	}
	model := uniqueName("SkNoPython")
	before := registrySnapshot(t, c)
	r := newRunWith(t, c, false, nil, python)
	var run *steps.BestRun
	r.must("identify", func() { run = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: exp}) })
	err = r.step("register", func() { steps.Register(r.pb, run, steps.RegisterOptions{Model: model}) })
	require.Error(t, err)
	for _, want := range []string{"register: models:/" + logged.Models[0].ModelID, "has flavors python_function, sklearn",
		"no Python that imports mlflow: no python3 on PATH", "pass --python or set PLAYBOOK_PYTHON", "nothing was registered"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.ErrorIs(t, err, pyworker.ErrNoPython)
	assert.Empty(t, r.rec.Evidence.Calls, "nothing was sent")
	assert.Equal(t, before, registrySnapshot(t, c), "the registry did not change")

	// --env-manager uv with no uv: the same refusal, saying so.
	r = newRunEnvs(t, c, false, nil, python, &pyworker.Envs{Manager: pyworker.EnvUV, Root: t.TempDir()})
	r.must("identify", func() { run = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: exp}) })
	err = r.step("register", func() { steps.Register(r.pb, run, steps.RegisterOptions{Model: model}) })
	require.Error(t, err)
	for _, want := range []string{"has flavors python_function, sklearn", "--env-manager uv: no uv on PATH", "nothing was registered"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Empty(t, r.rec.Evidence.Calls, "nothing was sent")
	assert.Equal(t, before, registrySnapshot(t, c), "the registry did not change")
}
