package steps

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// rollbackFixture registers n versions of a new model, points production
// at version prod and sets the given tags (version → key → value).
func rollbackFixture(t *testing.T, c *mlflow.Client, n int, prod string, tags map[string]map[string]string) string {
	t.Helper()
	model := fmt.Sprintf("Rollback-%d", time.Now().UnixNano())
	versionsFixture(t, c, model, n)
	ctx := t.Context()
	if prod != "" {
		require.NoError(t, c.SetRegisteredModelAlias(ctx, model, DefaultProductionAlias, prod))
	}
	for v, kv := range tags {
		for k, val := range kv {
			require.NoError(t, c.SetModelVersionTag(ctx, model, v, k, val))
		}
	}
	return model
}

// TestRollbackTargetFromArchiveTags: when production's version has no
// previous_version tag (set by hand, or by an older playbook), rollback
// goes back to the newest version archived as superseded by it, and warns
// when that version was not validated.
func TestRollbackTargetFromArchiveTags(t *testing.T) {
	c := clientOf(t, mlflowtest.URI(t))
	superseded := map[string]string{TagArchived: "true", TagSupersededBy: "4"}
	model := rollbackFixture(t, c, 4, "4", map[string]map[string]string{
		"1": superseded,
		"2": superseded,
		"3": {TagArchived: "true", TagSupersededBy: "2"}, // newer, but superseded by another
		"4": {TagPreviousVersion: "none"},
	})
	pb, rec := testPlaybook(t, c, "rollback")
	var p *Promotion
	require.NoError(t, catchErr(func() { p = Rollback(pb, RollbackOptions{Model: model, Reason: "latency"}) }))
	assert.Equal(t, "2", p.Version, "the newest version superseded by 4")
	assert.Equal(t, "4", p.Previous)
	assert.True(t, p.Moved)

	mv, err := c.GetModelVersionByAlias(t.Context(), model, DefaultProductionAlias)
	require.NoError(t, err)
	assert.Equal(t, "2", mv.Version)
	v2, err := c.GetModelVersion(t.Context(), model, "2")
	require.NoError(t, err)
	_, archived := v2.Tag(TagArchived)
	assert.False(t, archived, "the restored version loses its archive tags")
	from, _ := v2.Tag(TagRolledBackFrom)
	assert.Equal(t, "4", from)
	v4, err := c.GetModelVersion(t.Context(), model, "4")
	require.NoError(t, err)
	by, _ := v4.Tag(TagSupersededBy)
	assert.Equal(t, "2", by)

	var stdout strings.Builder
	for _, o := range rec.Cell("rollback").Outputs {
		if o.Kind == record.OutputStdout {
			stdout.WriteString(o.Text)
		}
	}
	assert.Contains(t, stdout.String(), "warning: version 2 has validation_status=; rolling back to it anyway, as asked")
}

// TestRollbackNothingToGoBackTo: rollback fails, changing nothing, when
// production's version superseded no version it can find, or when no
// version holds production.
func TestRollbackNothingToGoBackTo(t *testing.T) {
	c := clientOf(t, mlflowtest.URI(t))
	for name, tc := range map[string]struct {
		prod string
		tags map[string]map[string]string
		want string
	}{
		"NoArchivedVersion": {"2", map[string]map[string]string{
			"1": {TagArchived: "true", TagSupersededBy: "3"},
			"2": {TagPreviousVersion: "none"},
		}, `version 2 of "%s" superseded no archived version (no previous_version tag, no version tagged archived=true and superseded_by=2): name the version to roll back to`},
		"NoProduction": {"", nil, `no version of "%s" holds production-live: there is nothing to roll back`},
	} {
		t.Run(name, func(t *testing.T) {
			model := rollbackFixture(t, c, 3, tc.prod, tc.tags)
			pb, rec := testPlaybook(t, c, "rollback")
			err := catchErr(func() { Rollback(pb, RollbackOptions{Model: model, Reason: "latency"}) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf(tc.want, model))
			assert.Empty(t, rec.Evidence.Calls, "nothing changed")
			assert.Nil(t, rec.Evidence.Promotion)
		})
	}
}
