package mlflow_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/mlflow"
)

// TestLoggedModelsSupportedEmbedded: the embedded server answers the
// logged-model search, which it does not serve, as MLflow answers any
// unknown path (Flask's HTML 404, no error code), so the probe says no
// rather than failing.
func TestLoggedModelsSupportedEmbedded(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.Embedded(t)))
	require.NoError(t, err)
	ok, err := c.LoggedModelsSupported(t.Context(), "0")
	require.NoError(t, err)
	assert.False(t, ok)
}
