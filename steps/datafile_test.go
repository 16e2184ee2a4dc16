package steps_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/steps"
)

// secretMarker is in the files outside the scenario's folder, and in the
// environment (/proc/self/environ): it must show nowhere in the evidence.
const secretMarker = "PLAYBOOK-SECRET-MARKER-7f3a9c"

// TestDataOutsideScenarioDirRefused: every step that reads a data file a
// scenario names (check-data, validate, register's check, infer, train)
// refuses one outside the scenario's folder: an absolute path,
// /proc/self/environ, a path up with "..", a symbolic link leading out (a
// file or a folder). The error names the path, the folder and why; the
// registry is as it was (no tag, alias, version, experiment or run); and
// nothing of the refused file is in the evidence.
func TestDataOutsideScenarioDirRefused(t *testing.T) {
	t.Setenv("PLAYBOOK_TEST_SECRET", secretMarker)
	c := newClient(t)
	r := newScenarioRun(t, c, false)
	model := uniqueName("Confined")
	best, _, cand := r.candidate(c, model)
	var m *steps.LoadedModel
	r.must("load", func() { m = steps.Load(r.pb, cand.URI()) })

	// The secret, outside the scenario's folder, as a CSV file whose
	// header names the marker (a parse error would quote it).
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.csv")
	require.NoError(t, os.WriteFile(secret, []byte(secretMarker+",label\n"+secretMarker+",1\n"), 0o644))
	require.NoError(t, os.Symlink(secret, filepath.Join(r.dir, "link.csv")))
	require.NoError(t, os.Symlink(outside, filepath.Join(r.dir, "elsewhere")))
	up, err := filepath.Rel(r.dir, secret)
	require.NoError(t, err)
	require.Contains(t, up, "..")

	paths := []struct{ name, path, why string }{
		{"Absolute", secret, "a relative path"},
		{"ProcEnviron", "/proc/self/environ", "a relative path"},
		{"DotDot", up, `a relative path that does not go up with ".."`},
		{"SymlinkFile", "link.csv", "it leads out of the folder through a symbolic link"},
		{"SymlinkFolder", "elsewhere/secret.csv", "it leads out of the folder through a symbolic link"},
	}
	steps_ := []struct {
		step, what string
		run        func(data string)
	}{
		{"validate", "validation data", func(data string) { steps.CheckData(r.pb, steps.ValidateOptions{Data: data}) }},
		{"validate", "validation data", func(data string) {
			steps.CheckData(r.pb, steps.ValidateOptions{Data: data, Label: "label", PositiveLabel: "1"})
		}},
		{"validate", "validation data", func(data string) {
			opts := defaultValidation(0.5)
			opts.Data = data
			steps.Validate(r.pb, cand, opts)
		}},
		{"validate", "validation data", func(data string) {
			steps.Validate(r.pb, cand, steps.ValidateOptions{Data: data, Label: "label", PositiveLabel: "1"})
		}},
		{"register", "validation data", func(data string) {
			steps.Register(r.pb, best, steps.RegisterOptions{Model: model, Validation: &steps.ValidateOptions{Data: data}})
		}},
		{"infer", "infer: data", func(data string) {
			steps.InferRows(r.pb, m, steps.InferRowsOptions{Data: data, PositiveLabel: "1"})
		}},
	}
	before := readState(t, c, model)
	require.Equal(t, "staging-candidate", func() string {
		for a := range before.Aliases {
			return a
		}
		return ""
	}())
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			want := fmt.Sprintf("%q: outside the scenario's folder %s: data files must be inside it (%s)", p.path, r.dir, p.why)
			for i, s := range steps_ {
				err := r.step(s.step, func() { s.run(p.path) })
				require.Error(t, err, "case %d", i)
				assert.ErrorIs(t, err, steps.ErrOutsideScenarioDir, "case %d", i)
				assert.Contains(t, err.Error(), s.what+" "+want, "case %d", i)
				assert.NotContains(t, err.Error(), secretMarker)
			}
			// Train reads its data before it creates the experiment.
			exp := uniqueName("confined-train")
			err := r.step("train", func() { steps.TrainRuns(r.pb, steps.TrainOptions{Experiment: exp, Runs: 1, Data: p.path}) })
			require.Error(t, err)
			assert.ErrorIs(t, err, steps.ErrOutsideScenarioDir)
			assert.Contains(t, err.Error(), "train: data "+want)
			_, err = c.GetExperimentByName(t.Context(), exp)
			assert.True(t, errors.Is(err, mlflow.ErrNotFound), "no experiment created: %v", err)

			assert.Equal(t, before, readState(t, c, model), "the registry is as it was")
			evidence, err := json.Marshal(r.rec)
			require.NoError(t, err)
			assert.NotContains(t, string(evidence), secretMarker)
		})
	}
}

// TestDataInsideScenarioDir: a relative path, in a subfolder, or through a
// symbolic link that stays inside the folder, reads the file; one that is
// missing says where it was looked for.
func TestDataInsideScenarioDir(t *testing.T) {
	r := newScenarioRun(t, nil, false)
	require.NoError(t, os.Mkdir(filepath.Join(r.dir, "data"), 0o755))
	f, err := os.Create(filepath.Join(r.dir, "data", "telco.csv"))
	require.NoError(t, err)
	require.NoError(t, churn.WriteCSV(f, churn.GenerateDataset(120, 5)))
	require.NoError(t, f.Close())
	require.NoError(t, os.Symlink(filepath.Join("data", "telco.csv"), filepath.Join(r.dir, "inside.csv")))
	for _, name := range []string{"data/telco.csv", "inside.csv", "data/../inside.csv"} {
		var dc *steps.DataCheck
		r.must("validate", func() { dc = steps.CheckData(r.pb, steps.ValidateOptions{Data: name}) })
		assert.Equal(t, 120, dc.Rows, name)
		assert.Equal(t, name, dc.Data)
	}
	err = r.step("validate", func() { steps.CheckData(r.pb, steps.ValidateOptions{Data: "nope.csv"}) })
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.ErrorContains(t, err, fmt.Sprintf(`validation data "nope.csv" in the scenario's folder %s: `, r.dir))
	require.NoError(t, os.Mkdir(filepath.Join(r.dir, "folder.csv"), 0o755))
	err = r.step("validate", func() { steps.CheckData(r.pb, steps.ValidateOptions{Data: "folder.csv"}) })
	assert.ErrorContains(t, err, "not a regular file")
}
