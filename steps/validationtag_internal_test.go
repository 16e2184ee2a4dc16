package steps

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestValidationTagLimit: the JSON tag stays within MLflow's 100,000
// characters: failed checks that do not fit are left out and counted,
// figures that do not fit are an error, never cut; non-finite figures are
// strings.
func TestValidationTagLimit(t *testing.T) {
	tag := validationTag{At: "2026-01-01T00:00:00Z", By: "u@h", Data: "d", Rows: 10, ChampionVersion: "none",
		Metrics: map[string]tagFloat{"f1": 0.5, "log_loss": tagFloat(math.Inf(1)), "brier": tagFloat(math.NaN())}}
	v, cut, err := tag.encode()
	require.NoError(t, err)
	assert.Zero(t, cut)
	assert.Contains(t, v, `"log_loss":"+Inf"`)
	assert.Contains(t, v, `"brier":"NaN"`)
	assert.Contains(t, v, `"f1":0.5`)

	for i := range 2000 {
		tag.FailedChecks = append(tag.FailedChecks, fmt.Sprintf("check %d: %s", i, strings.Repeat("x", 100)))
	}
	v, cut, err = tag.encode()
	require.NoError(t, err)
	assert.Positive(t, cut)
	assert.LessOrEqual(t, len(v), maxRegistryTagValue)
	var back struct {
		FailedChecks []string `json:"failed_checks"`
		LeftOut      int      `json:"failed_checks_left_out"`
	}
	require.NoError(t, json.Unmarshal([]byte(v), &back))
	assert.Equal(t, cut, back.LeftOut)
	assert.Equal(t, 2000, len(back.FailedChecks)+back.LeftOut)
	assert.Equal(t, tag.FailedChecks[0], back.FailedChecks[0], "the first checks kept")

	tag.FailedChecks = nil
	tag.Fairness = map[string]fairnessFigures{}
	for i := range 5000 {
		tag.Fairness[fmt.Sprintf("feature_%d", i)] = fairnessFigures{DPDiff: 0.123456789, EODiff: 0.987654321}
	}
	_, _, err = tag.encode()
	assert.ErrorContains(t, err, "over MLflow's 100000 for the tag playbook.validation")
}

func TestValidatedAt(t *testing.T) {
	assert.Equal(t, "2026-02-02T00:00:00Z", validatedAt(map[string]string{TagValidation: `{"at":"2026-02-02T00:00:00Z"}`, "validation.at": "old"}))
	assert.Equal(t, "2025-06-01T10:00:00Z", validatedAt(map[string]string{"validation.at": "2025-06-01T10:00:00Z"}), "the flat tag of earlier versions")
	assert.Empty(t, validatedAt(map[string]string{}))
}

// TestValidationTagNotHTMLEscaped: the tag holds "<" and "&" as they are,
// as MLflow's UI shows tags verbatim.
func TestValidationTagNotHTMLEscaped(t *testing.T) {
	tag := validationTag{At: "2026-01-01T00:00:00Z", By: "u@h", Data: "churn & co.csv", Rows: 10, ChampionVersion: "none",
		Metrics: map[string]tagFloat{"f1": 0.5}, FailedChecks: []string{"f1 0.5 < 0.99"}}
	v, cut, err := tag.encode()
	require.NoError(t, err)
	assert.Zero(t, cut)
	assert.Contains(t, v, `"f1 0.5 < 0.99"`)
	assert.Contains(t, v, `churn & co.csv`)
	assert.NotContains(t, v, `\u003c`)
	assert.False(t, strings.HasSuffix(v, "\n"))
	var back validationTag
	require.NoError(t, json.Unmarshal([]byte(v), &back))
	assert.Equal(t, tag.FailedChecks, back.FailedChecks)
}

// TestLegacyValidationTag: only the flat tags earlier versions wrote are
// replaced on re-validation, not a team's own validation.* tags.
func TestLegacyValidationTag(t *testing.T) {
	for k, want := range map[string]bool{
		"validation.f1": true, "validation.roc_auc": true, "validation.at": true, "validation.by": true,
		"validation.champion_version": true, "validation.failed_checks": true, "validation.dp_diff.gender": true,
		"validation.eo_diff.SeniorCitizen": true, "validation.positive_label": true,
		"validation.owner": false, "validation.dp_diff.": false, "validation.ticket": false,
		"validation_status": false, "playbook.validation": false, "f1": false,
	} {
		assert.Equal(t, want, legacyValidationTag(k), k)
	}
}
