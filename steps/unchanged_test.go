package steps_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/steps"
	"github.com/playbook-mlops/playbook/training"
)

// TestPromoteUnchangedSameModel: a candidate whose fitted model is the
// same as production's — the same run's model registered again, or a
// model retrained identically in another run — leaves production where
// it is and the registry untouched by promote; promote says "unchanged"
// with the reason, and keeps both digests in the evidence. A model that
// differs is promoted as before, its comparison kept too.
func TestPromoteUnchangedSameModel(t *testing.T) {
	c := newClient(t)
	weak, strong := trainedExperiment(t, c, "weak"), trainedExperiment(t, c, "strong")
	// The "weak" experiment trained again, identically, in another
	// experiment: other runs, other logged models, the same fitted models.
	again := uniqueName("promo-weak-again")
	_, err := training.Train(t.Context(), c, training.Options{Experiment: again, Runs: 2, Rows: 5000, Seed: 3})
	require.NoError(t, err)
	model := uniqueName("Unchanged")

	// promote registers best (a new version when asked), validates it and
	// promotes it in a run of its own.
	promote := func(exp string, newVersion bool, lang string) (*scenarioRun, *steps.Candidate, *steps.Promotion, registryState, registryState) {
		t.Helper()
		r := newScenarioRun(t, c, false)
		r.rec.Scenario.Lang = lang
		var (
			best *steps.BestRun
			v    *steps.Version
			cand *steps.Candidate
			p    *steps.Promotion
		)
		r.must("identify", func() { best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: exp}) })
		r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: model, NewVersion: newVersion}) })
		r.must("alias", func() { cand = steps.Alias(r.pb, v, "", steps.DefaultProductionAlias) })
		r.must("validate", func() { steps.Validate(r.pb, cand, defaultValidation(0.5)) })
		before := readState(t, c, model)
		r.must("promote", func() { p = steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
		return r, cand, p, before, readState(t, c, model)
	}

	_, _, first, _, _ := promote(weak, false, "en")
	require.True(t, first.Moved)
	assert.Nil(t, first.Comparison, "no production version to compare with")

	for _, tt := range []struct {
		name, exp, lang, reason string
	}{
		{"SameRunRegisteredAgain", weak, "en", "same fitted parameters as version 1"},
		{"RetrainedIdentically", again, "fr", "mêmes paramètres ajustés que la version 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, cand, p, before, after := promote(tt.exp, true, tt.lang)
			assert.NotEqual(t, "1", cand.Version)
			assert.False(t, p.Moved)
			assert.Equal(t, "1", p.Version, "production stays")
			assert.Equal(t, "1", p.SameAs)
			assert.Equal(t, cand.Version, p.Candidate)
			assert.Equal(t, before, after, "promote changed nothing in the registry: aliases and tags")
			assert.Equal(t, "1", after.Aliases[steps.DefaultProductionAlias])
			assert.Equal(t, cand.Version, after.Aliases[steps.DefaultCandidateAlias], "the candidate alias stays on the candidate")
			assert.NotContains(t, after.Versions["1"], steps.TagArchived)
			assert.NotContains(t, after.Versions[cand.Version], steps.TagPromotedAt)

			require.NotNil(t, p.Comparison)
			assert.True(t, p.Comparison.Same)
			assert.Equal(t, cand.Version, p.Comparison.Candidate.Version)
			assert.Equal(t, "1", p.Comparison.Production.Version)
			assert.Equal(t, p.Comparison.Production.Digest, p.Comparison.Candidate.Digest)
			assert.True(t, strings.HasPrefix(p.Comparison.Candidate.Digest, "sha256:"))
			assert.Contains(t, p.Comparison.Candidate.Files, "model.json")
			assert.Contains(t, p.Comparison.Candidate.Files, "MLmodel")
			assert.Equal(t, []string{"input_example.json", "serving_input_example.json"}, p.Comparison.IgnoredFiles)
			assert.Contains(t, p.Comparison.IgnoredFields, "run_id")

			ev := r.rec.Evidence.Promotion
			require.NotNil(t, ev)
			assert.Equal(t, "1", ev.SameAs)
			assert.Equal(t, cand.Version, ev.Candidate)
			assert.False(t, ev.Moved)
			require.NotNil(t, ev.Comparison)
			assert.Equal(t, p.Comparison.Candidate.Digest, ev.Comparison.Candidate.Digest)
			assert.Empty(t, callsOf(r.rec, "promote"), "promote sent no change")
			out := cellText(r.rec, "promote")
			assert.Contains(t, out, tt.reason)

			r.must("verify", func() { steps.Verify(r.pb, p) })
		})
	}

	// A dry run plans the same: a planned version of the same model
	// leaves production unchanged.
	t.Run("DryRun", func(t *testing.T) {
		r := newScenarioRun(t, c, true)
		var (
			best *steps.BestRun
			v    *steps.Version
			cand *steps.Candidate
			p    *steps.Promotion
		)
		before := readState(t, c, model)
		r.must("identify", func() { best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: weak}) })
		r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: model, NewVersion: true}) })
		r.must("alias", func() { cand = steps.Alias(r.pb, v, "", steps.DefaultProductionAlias) })
		r.must("validate", func() { steps.Validate(r.pb, cand, defaultValidation(0.5)) })
		r.must("promote", func() { p = steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
		assert.Equal(t, steps.DryRunVersion, cand.Version)
		assert.False(t, p.Moved)
		assert.Equal(t, "1", p.SameAs)
		assert.Equal(t, steps.DryRunVersion, p.Candidate)
		require.NotNil(t, p.Comparison)
		assert.Empty(t, p.Comparison.Error)
		assert.True(t, p.Comparison.Same)
		r.must("verify", func() { steps.Verify(r.pb, p) })
		assert.Equal(t, before, readState(t, c, model), "a dry run changes nothing")
	})

	// A different model is promoted, its comparison kept.
	r, cand, p, _, after := promote(strong, false, "en")
	assert.True(t, p.Moved)
	assert.Equal(t, cand.Version, p.Version)
	assert.Empty(t, p.SameAs)
	require.NotNil(t, p.Comparison)
	assert.False(t, p.Comparison.Same)
	assert.NotEqual(t, p.Comparison.Candidate.Digest, p.Comparison.Production.Digest)
	assert.Equal(t, cand.Version, after.Aliases[steps.DefaultProductionAlias])
	assert.Equal(t, "true", after.Versions["1"][steps.TagArchived])
	r.must("verify", func() { steps.Verify(r.pb, p) })
}

// TestPromoteUnchangedSklearnMLflow3: scikit-learn models logged by
// MLflow's own Python client the MLflow 3 way, logged twice identically
// (two runs of the script: other runs, other logged models, the same
// fitted pipelines), against MLflow itself: the second is not promoted
// over the first; another of the first's runs (another regularisation) is.
func TestPromoteUnchangedSklearnMLflow3(t *testing.T) {
	promoteSklearnUnchanged(t, testenv.RealMLflow(t))
}

func promoteSklearnUnchanged(t *testing.T, uri string) {
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	ctx := t.Context()
	var a, b sklearnLogged
	testenv.SklearnModels(t, uri, &a, "--experiment", uniqueName("sk-same-a"), "--runs", "2")
	testenv.SklearnModels(t, uri, &b, "--experiment", uniqueName("sk-same-b"), "--runs", "2")
	require.Len(t, a.Models, 2)
	require.Len(t, b.Models, 2)
	model := uniqueName("SkSame")
	_, err = c.CreateRegisteredModel(ctx, model, nil, "")
	require.NoError(t, err)

	// promote registers a logged model as MLflow 3 does (source
	// models:/m-..., its model_id), makes it the candidate, marks it
	// validated (what is under test is promote) and promotes it.
	promote := func(runID, modelID string) (*scenarioRun, *steps.Candidate, *steps.Promotion, registryState, registryState) {
		t.Helper()
		mv, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: model, Source: "models:/" + modelID, RunID: runID, ModelID: modelID})
		require.NoError(t, err)
		_, err = c.WaitModelVersionReady(ctx, model, mv.Version, 0)
		require.NoError(t, err)
		require.NoError(t, c.SetRegisteredModelAlias(ctx, model, steps.DefaultCandidateAlias, mv.Version))
		require.NoError(t, c.SetModelVersionTag(ctx, model, mv.Version, steps.TagValidationStatus, steps.StatusPassed))
		cand := &steps.Candidate{Model: model, Version: mv.Version, Alias: steps.DefaultCandidateAlias, RunID: runID}
		r := newScenarioRun(t, c, false)
		before := readState(t, c, model)
		var p *steps.Promotion
		r.must("promote", func() { p = steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
		return r, cand, p, before, readState(t, c, model)
	}
	_, _, first, _, _ := promote(a.Models[0].RunID, a.Models[0].ModelID)
	require.True(t, first.Moved)

	// The same pipeline, trained again by another run of the script.
	require.NotEqual(t, a.Models[0].ModelID, b.Models[0].ModelID)
	r, cand, p, before, after := promote(b.Models[0].RunID, b.Models[0].ModelID)
	assert.Equal(t, "2", cand.Version)
	assert.False(t, p.Moved)
	assert.Equal(t, "1", p.SameAs)
	assert.Equal(t, "1", p.Version)
	assert.Equal(t, before, after, "promote changed nothing in MLflow: aliases and tags")
	assert.Equal(t, "1", after.Aliases[steps.DefaultProductionAlias])
	assert.Equal(t, "2", after.Aliases[steps.DefaultCandidateAlias])
	require.NotNil(t, p.Comparison)
	assert.True(t, p.Comparison.Same, "%+v", p.Comparison)
	// scikit-learn's model file: model.skops (a zip archive, digested by
	// its entries) or model.pkl.
	sk := p.Comparison.Candidate.Files["model.skops"] + p.Comparison.Candidate.Files["model.pkl"]
	assert.NotEmpty(t, sk, "%v", p.Comparison.Candidate.Files)
	assert.Empty(t, callsOf(r.rec, "promote"))
	assert.Contains(t, cellText(r.rec, "promote"), "same fitted parameters as version 1")
	r.must("verify", func() { steps.Verify(r.pb, p) })

	// The script's other run: another regularisation, another model,
	// promoted.
	r, cand, p, _, after = promote(a.Models[1].RunID, a.Models[1].ModelID)
	assert.True(t, p.Moved)
	require.NotNil(t, p.Comparison)
	assert.False(t, p.Comparison.Same)
	assert.Equal(t, cand.Version, after.Aliases[steps.DefaultProductionAlias])
	assert.Equal(t, "true", after.Versions["1"][steps.TagArchived])
	r.must("verify", func() { steps.Verify(r.pb, p) })
}

// callsOf returns the registry changes step made.
func callsOf(rec *record.Run, step string) []record.Call {
	var out []record.Call
	for _, c := range rec.Evidence.Calls {
		if c.Step == step {
			out = append(out, c)
		}
	}
	return out
}

// cellText returns what cell name printed and showed, as text.
func cellText(rec *record.Run, name string) string {
	var b strings.Builder
	for _, o := range rec.Cell(name).Outputs {
		b.WriteString(o.Text)
		for _, kv := range o.KV {
			b.WriteString(kv.Key + " " + kv.Value + "\n")
		}
	}
	return b.String()
}

// TestPromoteUnchangedSklearnEmbedded is the same on the embedded server.
func TestPromoteUnchangedSklearnEmbedded(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	promoteSklearnUnchanged(t, mlflowtest.Embedded(t))
}
