package mlflow

import (
	"context"
	"errors"
	"fmt"
	"net/url"
)

// Experiment is an MLflow experiment. Times are Unix milliseconds.
type Experiment struct {
	ExperimentID     string `json:"experiment_id"`
	Name             string `json:"name"`
	ArtifactLocation string `json:"artifact_location"`
	LifecycleStage   string `json:"lifecycle_stage"`
	CreationTime     int64  `json:"creation_time"`
	LastUpdateTime   int64  `json:"last_update_time"`
	Tags             []Tag  `json:"tags"`
}

// Tag returns the value of the experiment's tag key.
func (e *Experiment) Tag(key string) (string, bool) { return lookupTag(e.Tags, key) }

// GetExperimentByName returns the experiment called name. MLflow returns a
// deleted experiment too (LifecycleStage "deleted") when no active one has
// the name.
//
// MLflow REST API: "Get Experiment By Name" (GET /api/2.0/mlflow/experiments/get-by-name).
func (c *Client) GetExperimentByName(ctx context.Context, name string) (*Experiment, error) {
	var out struct {
		Experiment Experiment `json:"experiment"`
	}
	if err := c.get(ctx, "experiments/get-by-name", url.Values{"experiment_name": {name}}, &out); err != nil {
		return nil, err
	}
	return &out.Experiment, nil
}

// GetExperiment returns the experiment with id.
//
// MLflow REST API: "Get Experiment" (GET /api/2.0/mlflow/experiments/get).
func (c *Client) GetExperiment(ctx context.Context, id string) (*Experiment, error) {
	var out struct {
		Experiment Experiment `json:"experiment"`
	}
	if err := c.get(ctx, "experiments/get", url.Values{"experiment_id": {id}}, &out); err != nil {
		return nil, err
	}
	return &out.Experiment, nil
}

// CreateExperiment creates an experiment and returns its id. An existing
// name is an error matching ErrAlreadyExists.
//
// MLflow REST API: "Create Experiment" (POST /api/2.0/mlflow/experiments/create).
func (c *Client) CreateExperiment(ctx context.Context, name string, tags map[string]string) (string, error) {
	in := struct {
		Name string `json:"name"`
		Tags []Tag  `json:"tags,omitempty"`
	}{name, tagList(tags)}
	var out struct {
		ExperimentID string `json:"experiment_id"`
	}
	if err := c.post(ctx, "experiments/create", in, &out, retryUnprocessed); err != nil {
		return "", err
	}
	return out.ExperimentID, nil
}

// GetOrCreateExperiment returns the active experiment called name, creating
// it if needed. Concurrent callers racing to create it all get the one that
// won: a create answered RESOURCE_ALREADY_EXISTS reads the name again. A
// deleted experiment with that name is an error: restore it or pick another
// name.
func (c *Client) GetOrCreateExperiment(ctx context.Context, name string) (*Experiment, error) {
	exp, err := c.GetExperimentByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		var id string
		id, err = c.CreateExperiment(ctx, name, nil)
		switch {
		case err == nil:
			exp, err = c.GetExperiment(ctx, id)
		case errors.Is(err, ErrAlreadyExists):
			exp, err = c.GetExperimentByName(ctx, name)
		}
	}
	if err != nil {
		return nil, err
	}
	if exp.LifecycleStage == "deleted" {
		return nil, fmt.Errorf("mlflow: experiment %q (id %s) is deleted: restore it or choose another name: %w",
			name, exp.ExperimentID, ErrAlreadyExists)
	}
	return exp, nil
}
