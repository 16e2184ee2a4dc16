package mlflow

import (
	"context"
	"fmt"
)

// RunInputs are what a run consumed: datasets and logged models.
type RunInputs struct {
	DatasetInputs []DatasetInput `json:"dataset_inputs,omitempty"`
	ModelInputs   []ModelInput   `json:"model_inputs,omitempty"`
}

// RunOutputs are what a run produced: logged models, each at a step.
type RunOutputs struct {
	ModelOutputs []ModelOutput `json:"model_outputs,omitempty"`
}

// DatasetInput is a dataset a run used, with tags such as
// mlflow.data.context (DatasetContextTag) = "training".
type DatasetInput struct {
	Tags    []Tag   `json:"tags,omitempty"`
	Dataset Dataset `json:"dataset"`
}

// DatasetContextTag is the input tag MLflow uses for a dataset's role in a
// run ("training", "validation", ...).
const DatasetContextTag = "mlflow.data.context"

// Dataset describes a dataset. Name and Digest identify it (MLflow keeps
// one dataset per experiment, name and digest) and are required here
// (MLflow itself accepts a dataset with a name only). SourceType (e.g.
// "local", "http", "code") and Source, a JSON document saying where the
// data is, are what MLflow's Python client always sends; Schema and
// Profile are optional JSON documents
// (MLflow's Python client writes {"mlflow_colspec": [...]} and
// {"num_rows": ..., "num_elements": ...}).
type Dataset struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type"`
	Source     string `json:"source"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

// ModelInput names a logged model a run used.
type ModelInput struct {
	ModelID string `json:"model_id"`
}

// ModelOutput names a logged model a run produced, at a step.
type ModelOutput struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

// LogInputs logs datasets and logged models a run used. Logging the same
// dataset or model again is accepted and keeps one. MLflow does not check
// that a model id exists.
//
// MLflow REST API: "Log Inputs" (POST /api/2.0/mlflow/runs/log-inputs).
func (c *Client) LogInputs(ctx context.Context, runID string, datasets []DatasetInput, models []ModelInput) error {
	for i, d := range datasets {
		if d.Dataset.Name == "" || d.Dataset.Digest == "" {
			return fmt.Errorf("%w: dataset %d (%q): name and digest are required", ErrInvalidParameter, i, d.Dataset.Name)
		}
	}
	in := struct {
		RunID    string         `json:"run_id"`
		Datasets []DatasetInput `json:"datasets,omitempty"`
		Models   []ModelInput   `json:"models,omitempty"`
	}{runID, datasets, models}
	return c.post(ctx, "runs/log-inputs", in, nil, retrySafe)
}

// LogOutputs records logged models as outputs of a run, as MLflow's
// log_outputs does (mlflow.<flavor>.log_model records the model it logs at
// step 0). At least one model is required. MLflow does not check that a
// model id exists, and refuses an output it already has (400 BAD_REQUEST
// from its database), so the call is not retried once the server may have
// processed it.
//
// service.proto: "Log Outputs" (POST /api/2.0/mlflow/runs/outputs), not
// documented on rest-api.html.
func (c *Client) LogOutputs(ctx context.Context, runID string, models []ModelOutput) error {
	if len(models) == 0 {
		return fmt.Errorf("%w: LogOutputs needs at least one model", ErrInvalidParameter)
	}
	in := struct {
		RunID  string        `json:"run_id"`
		Models []ModelOutput `json:"models"`
	}{runID, models}
	return c.post(ctx, "runs/outputs", in, nil, retryUnprocessed)
}
