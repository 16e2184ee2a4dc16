package mlflow_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

func TestExperiments(t *testing.T) {
	t.Parallel()
	c := serverClient(t)
	ctx := t.Context()
	name := unique("exp")

	id, err := c.CreateExperiment(ctx, name, map[string]string{"team": "churn"})
	require.NoError(t, err)
	require.NotEmpty(t, id)

	t.Run("OK", func(t *testing.T) {
		byID, err := c.GetExperiment(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, name, byID.Name)
		assert.Equal(t, "active", byID.LifecycleStage)
		team, ok := byID.Tag("team")
		assert.True(t, ok)
		assert.Equal(t, "churn", team)
		assert.NotZero(t, byID.CreationTime)

		byName, err := c.GetExperimentByName(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, id, byName.ExperimentID)
	})

	t.Run("ErrAlreadyExists", func(t *testing.T) {
		_, err := c.CreateExperiment(ctx, name, nil)
		require.ErrorIs(t, err, mlflow.ErrAlreadyExists)
		var apiErr *mlflow.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusBadRequest, apiErr.StatusCode)
		assert.Equal(t, "RESOURCE_ALREADY_EXISTS", apiErr.Code)
		assert.Equal(t, "/api/2.0/mlflow/experiments/create", apiErr.Endpoint)
		assert.NotErrorIs(t, err, mlflow.ErrNotFound)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := c.GetExperimentByName(ctx, unique("missing"))
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		var apiErr *mlflow.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusNotFound, apiErr.StatusCode)
		assert.Equal(t, "RESOURCE_DOES_NOT_EXIST", apiErr.Code)
		assert.Contains(t, err.Error(), "mlflow: GET /api/2.0/mlflow/experiments/get-by-name: 404 RESOURCE_DOES_NOT_EXIST: ")

		_, err = c.GetExperiment(ctx, "987654321")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
	})
}

func TestGetOrCreateExperiment(t *testing.T) {
	t.Parallel()
	c := serverClient(t)
	ctx := t.Context()

	t.Run("Race", func(t *testing.T) {
		name := unique("race")
		const racers = 8
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			ids   = make([]string, racers)
			errs  = make([]error, racers)
		)
		for i := range racers {
			wg.Go(func() {
				<-start
				exp, err := c.GetOrCreateExperiment(ctx, name)
				errs[i] = err
				if err == nil {
					ids[i] = exp.ExperimentID
				}
			})
		}
		close(start)
		wg.Wait()
		require.NoError(t, errors.Join(errs...))
		for _, id := range ids {
			assert.Equal(t, ids[0], id, "every racer must get the same experiment")
		}
		again, err := c.GetOrCreateExperiment(ctx, name)
		require.NoError(t, err)
		assert.Equal(t, ids[0], again.ExperimentID)
	})

	t.Run("ErrNotFoundIsNotSwallowed", func(t *testing.T) {
		// An unreachable server must fail, not "create".
		bad, err := mlflow.New(mlflow.Config{TrackingURI: "http://127.0.0.1:1", Timeout: 1e9})
		require.NoError(t, err)
		_, err = bad.GetOrCreateExperiment(ctx, "x")
		require.ErrorIs(t, err, mlflow.ErrUnavailable)
	})
}
