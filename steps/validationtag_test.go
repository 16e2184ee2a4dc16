package steps_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/steps"
)

// TestValidationLegacyFlatTags: a version validated by an earlier
// playbook carries the flat tags (validation.at, validation.f1, ...,
// validation.failed_checks) instead of the one JSON tag. Validate still
// reads them (when it keeps production's tags, it says when it was
// validated), and a re-validation replaces them with the JSON tag.
func TestValidationLegacyFlatTags(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	model := uniqueName("Legacy")
	r := newScenarioRun(t, c, false)
	var (
		best *steps.BestRun
		v    *steps.Version
		cand *steps.Candidate
	)
	r.must("identify", func() {
		best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: trainedExperiment(t, c, "weak")})
	})
	r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: model}) })
	r.must("alias", func() { cand = steps.Alias(r.pb, v, "", steps.DefaultProductionAlias) })
	r.must("validate", func() { steps.Validate(r.pb, cand, defaultValidation(0.55)) })
	r.must("promote", func() { steps.Promote(r.pb, cand, steps.PromoteOptions{}) })

	// Version 1 as an earlier playbook left it.
	require.NoError(t, c.DeleteModelVersionTag(ctx, model, "1", steps.TagValidation))
	legacy := map[string]string{
		"validation.at": "2025-06-01T10:00:00Z", "validation.by": "old@host", "validation.f1": "0.6",
		"validation.rows": "2000", "validation.champion_version": "none", "validation.dp_diff.gender": "0.01",
		"validation.failed_checks": "roc_auc 0.7 < 0.75",
	}
	for k, val := range legacy {
		require.NoError(t, c.SetModelVersionTag(ctx, model, "1", k, val))
	}
	r2 := newScenarioRun(t, c, false)
	r2.must("alias", func() { cand = steps.Alias(r2.pb, v, "", steps.DefaultProductionAlias) })
	before := readState(t, c, model).Versions["1"]
	assert.Equal(t, legacy["validation.f1"], before["validation.f1"])
	r2.must("validate", func() { steps.Validate(r2.pb, cand, defaultValidation(0.55)) })
	assert.Contains(t, cellText(r2.rec, "validate"), "validated 2025-06-01T10:00:00Z", "the flat validation.at read")
	assert.Equal(t, before, readState(t, c, model).Versions["1"], "production's tags kept")

	again := defaultValidation(0.55)
	again.Revalidate = true
	r2.must("validate", func() { steps.Validate(r2.pb, cand, again) })
	after := readState(t, c, model).Versions["1"]
	for k := range after {
		assert.False(t, strings.HasPrefix(k, "validation."), "the flat tag %s replaced", k)
	}
	fig := validationFigures(t, after)
	assert.Equal(t, "tester@test-host", fig.By)
	assert.Empty(t, fig.FailedChecks)
	assert.Equal(t, "passed", after[steps.TagValidationStatus])
}
