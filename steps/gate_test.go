package steps_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/steps"
)

func TestRefuse(t *testing.T) {
	err := error(steps.Refuse("validate", "f1 %.2f < %.2f", 0.5, 0.55))
	assert.Equal(t, "validate refused: f1 0.50 < 0.55", err.Error())
	var g interface{ GateRefused() bool }
	require.ErrorAs(t, err, &g)
	assert.True(t, g.GateRefused())
}
