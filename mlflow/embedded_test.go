package mlflow_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/mlflow"
)

// TestLoggedModelsSupportedEmbedded: the embedded server serves MLflow 3's
// logged-model search, so the probe says yes.
func TestLoggedModelsSupportedEmbedded(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.Embedded(t)))
	require.NoError(t, err)
	ok, err := c.LoggedModelsSupported(t.Context(), "0")
	require.NoError(t, err)
	assert.True(t, ok)
}
