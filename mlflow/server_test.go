package mlflow_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServer(t *testing.T) {
	t.Parallel()
	c := serverClient(t)

	t.Run("Health", func(t *testing.T) {
		require.NoError(t, c.Health(t.Context()))
	})

	t.Run("ServerVersion", func(t *testing.T) {
		v, err := c.ServerVersion(t.Context())
		require.NoError(t, err)
		assert.Regexp(t, regexp.MustCompile(`^[23]\.\d+\.\d+`), v)
		t.Logf("MLflow %s at %s", v, c.TrackingURI())
	})
}
