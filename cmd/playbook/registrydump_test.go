package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// registryDump reads, through MLflow's REST API, every registered model,
// every model version (tags, aliases, status, source), the first 40
// experiments and all their runs (active and deleted), as indented JSON:
// two dumps are equal when the registry and the tracking store hold the
// same things. Tests compare the dump before and after a refused run.
func registryDump(t testing.TB, c *mlflow.Client) string {
	t.Helper()
	ctx := t.Context()
	var dump struct {
		Models      []mlflow.RegisteredModel
		Versions    []mlflow.ModelVersion
		Experiments []*mlflow.Experiment
		Runs        []mlflow.Run
	}
	token := ""
	for {
		page, err := c.SearchRegisteredModels(ctx, "", 1000, nil, token)
		require.NoError(t, err)
		dump.Models = append(dump.Models, page.RegisteredModels...)
		if token = page.NextPageToken; token == "" {
			break
		}
	}
	vs, err := c.SearchAllModelVersions(ctx, "")
	require.NoError(t, err)
	dump.Versions = vs
	var ids []string
	for id := 0; id < 40; id++ {
		x, err := c.GetExperiment(ctx, fmt.Sprint(id))
		if err != nil {
			continue
		}
		dump.Experiments = append(dump.Experiments, x)
		ids = append(ids, x.ExperimentID)
	}
	if len(ids) > 0 {
		runs, err := c.SearchAllRuns(ctx, mlflow.SearchRunsRequest{ExperimentIDs: ids, RunViewType: mlflow.ViewAll})
		require.NoError(t, err)
		dump.Runs = runs
	}
	b, err := json.MarshalIndent(dump, "", " ")
	require.NoError(t, err)
	return string(b)
}
