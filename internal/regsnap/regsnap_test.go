package regsnap_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/regsnap"
	"github.com/playbook-mlops/playbook/record"
)

func TestNormalize(t *testing.T) {
	s := record.Snapshot{
		Aliases: map[string]string{"champion": "10", "b": "2", "a": "2"},
		Versions: []record.VersionSnapshot{
			{Version: "(dry-run)"}, {Version: "10", Aliases: []string{"stale"}}, {Version: "2"},
		},
	}
	regsnap.Normalize(&s)
	assert.Equal(t, []record.VersionSnapshot{
		{Version: "2", Aliases: []string{"a", "b"}},
		{Version: "10", Aliases: []string{"champion"}},
		{Version: "(dry-run)", Aliases: []string{}},
	}, s.Versions)
}

func TestTakeMissingModel(t *testing.T) {
	s, err := regsnap.Take(t.Context(), mlflowtest.Client(t), mlflowtest.Unique("Missing"), "before")
	require.NoError(t, err)
	assert.Equal(t, "before", s.Label)
	assert.Empty(t, s.Aliases)
	assert.Empty(t, s.Versions)
}
