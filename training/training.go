package training

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/mlflow"
)

// Tracker is what training needs of an MLflow tracking server;
// *mlflow.Client satisfies it.
type Tracker interface {
	GetOrCreateExperiment(ctx context.Context, name string) (*mlflow.Experiment, error)
	CreateRun(ctx context.Context, r mlflow.CreateRunRequest) (*mlflow.Run, error)
	LogBatch(ctx context.Context, runID string, metrics []mlflow.Metric, params []mlflow.Param, tags []mlflow.Tag) error
	UpdateRun(ctx context.Context, runID string, status mlflow.RunStatus, endTime int64) (*mlflow.RunInfo, error)
	UploadDir(ctx context.Context, artifactURI, localDir, relPrefix string) error

	// MLflow 3's logged models (see [Train]).
	LoggedModelsSupported(ctx context.Context, experimentID string) (bool, error)
	CreateLoggedModel(ctx context.Context, r mlflow.CreateLoggedModelRequest) (*mlflow.LoggedModel, error)
	FinalizeLoggedModel(ctx context.Context, modelID string, status mlflow.LoggedModelStatus) (*mlflow.LoggedModel, error)
	LogLoggedModelMetrics(ctx context.Context, runID, modelID string, metrics []mlflow.LoggedModelMetric) error
	LogOutputs(ctx context.Context, runID string, models []mlflow.ModelOutput) error
}

// Training defaults.
const (
	DefaultRows      = 5000
	DefaultValidFrac = 0.25
	// ModelArtifactPath is the folder, within a run's artifacts, that holds
	// the model on a server without logged models, and the name of the
	// logged model on one with them: runs:/RUN/model names it either way.
	ModelArtifactPath = "model"
	// TagFailureReason is the run tag that says why a training run FAILED.
	TagFailureReason = "playbook.failure_reason"
)

// Options configures [Train].
type Options struct {
	Experiment string // experiment name, created when missing
	Runs       int    // number of runs, each with distinct hyperparameters
	// Data is a CSV file in the Telco schema; empty means Rows synthetic
	// customers drawn by churn.Generate with Seed.
	Data string
	// Dataset, when set, is the data to train on, already read (Data then
	// only names it): steps.TrainRuns reads the file from the scenario's
	// folder itself.
	Dataset   *churn.Dataset
	Rows      int     // synthetic rows; 0 means DefaultRows
	Seed      uint64  // seeds the generator, the split and the grid
	ValidFrac float64 // validation fraction; 0 means DefaultValidFrac
	User      string  // mlflow.user tag; empty means $USER
	Source    string  // mlflow.source.name tag, e.g. "playbook train"
	// Progress, when set, is called after each run ends.
	Progress func(TrainedRun)
}

// Hyperparameters of one training run.
type Hyperparameters struct {
	L2            float64 `json:"l2"`
	Threshold     float64 `json:"threshold"`
	MaxIterations int     `json:"max_iterations"`
}

// TrainedRun is the outcome of one training run.
type TrainedRun struct {
	RunID   string `json:"run_id"`
	RunName string `json:"run_name"`
	// ModelID is the run's logged model (m-...) when the models were
	// logged as logged models, empty otherwise.
	ModelID  string             `json:"model_id,omitempty"`
	Hyper    Hyperparameters    `json:"hyperparameters"`
	Metrics  map[string]float64 `json:"metrics"`
	Status   mlflow.RunStatus   `json:"status"`
	Reason   string             `json:"reason,omitempty"` // why it FAILED
	Duration time.Duration      `json:"duration"`
	// Model is the trained model as it is in memory (nil when training
	// failed before fitting).
	Model *churn.Model `json:"-"`
}

// Result is what [Train] did.
type Result struct {
	ExperimentID string `json:"experiment_id"`
	Experiment   string `json:"experiment"`
	// LoggedModels says how the models were logged: as MLflow 3 logged
	// models (true) or as run artifacts under "model/" (false).
	LoggedModels bool         `json:"logged_models"`
	Data         string       `json:"data"`
	TrainRows    int          `json:"train_rows"`
	ValidRows    int          `json:"valid_rows"`
	Runs         []TrainedRun `json:"runs"`
}

// HyperparameterGrid returns n distinct hyperparameter sets: the L2 penalty
// and the decision threshold vary together along a fixed grid, so that the
// runs differ in both ranking quality and F1, and the order is the same for
// a given n and seed.
func HyperparameterGrid(n int, seed uint64) []Hyperparameters {
	l2s := []float64{1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-4, 3e-3}
	thresholds := []float64{0.5, 0.35, 0.3, 0.45, 0.6, 0.4, 0.55, 0.25}
	out := make([]Hyperparameters, 0, n)
	seen := map[Hyperparameters]bool{}
	off := int(seed % uint64(len(thresholds)))
	for i := 0; len(out) < n; i++ {
		h := Hyperparameters{
			L2:            l2s[i%len(l2s)],
			Threshold:     thresholds[(i+off)%len(thresholds)],
			MaxIterations: 200,
		}
		if i >= len(l2s)*len(thresholds) {
			// Past the grid, vary the penalty continuously.
			h.L2 = l2s[i%len(l2s)] * (1 + float64(i/len(l2s))/10)
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		out = append(out, h)
	}
	return out
}

// Train logs opts.Runs training runs of the churn model to an experiment:
// each run has its hyperparameters as params, validation metrics (f1,
// roc_auc, precision, recall, accuracy, log_loss, brier), tags, and its
// model, which runs:/RUN/model names. Every run ends FINISHED, or FAILED
// with the reason in the tag playbook.failure_reason; Train goes on after a
// failed run and returns an error naming every failed one.
//
// How the model is logged depends on the server, asked once per Train by
// LoggedModelsSupported (a logged-model search in the experiment):
//
//   - On a server with MLflow 3's logged models (the search answers), as
//     mlflow.<flavor>.log_model(..., name="model") does in MLflow 3.18: a
//     logged model called "model" (source_run_id the run, the run's params,
//     tags mlflow.user, mlflow.source.name and mlflow.source.type), recorded
//     as the run's output at step 0, the run's metrics linked to it, its
//     files uploaded under its artifact location, then finalized READY
//     (UPLOAD_FAILED when a step after its creation, the upload included,
//     fails; the run then ends FAILED). The run's own artifacts stay
//     empty; mlflow.register_model("runs:/RUN/model") registers
//     models:/m-....
//   - On a server without them (the search answers 404 without an MLflow
//     error code: MLflow 2, the embedded server today), as MLflow 2 did:
//     the files as the run's artifacts under "model/".
//
// The server's /version is not the rule: the embedded server answers an
// MLflow 3 version without serving logged models. Any other failure of the
// probe stops Train before it creates a run.
func Train(ctx context.Context, t Tracker, opts Options) (*Result, error) {
	if opts.Experiment == "" {
		return nil, errors.New("train: no experiment name")
	}
	if opts.Runs < 1 {
		return nil, fmt.Errorf("train: %d runs: want at least 1", opts.Runs)
	}
	if opts.Rows == 0 {
		opts.Rows = DefaultRows
	}
	if opts.ValidFrac == 0 {
		opts.ValidFrac = DefaultValidFrac
	}
	if !(opts.ValidFrac > 0 && opts.ValidFrac < 1) {
		return nil, fmt.Errorf("train: validation fraction %v: want a value in (0, 1)", opts.ValidFrac)
	}
	if opts.User == "" {
		opts.User = os.Getenv("USER")
	}
	if opts.Source == "" {
		opts.Source = "playbook"
	}

	data, dataName, err := trainingData(opts)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	train, valid := churn.StratifiedSplit(data, opts.ValidFrac, opts.Seed)
	if train.Len() == 0 || valid.Len() == 0 {
		return nil, fmt.Errorf("train: %s: %d rows are too few to split", dataName, data.Len())
	}

	exp, err := t.GetOrCreateExperiment(ctx, opts.Experiment)
	if err != nil {
		return nil, fmt.Errorf("train: experiment %q: %w", opts.Experiment, err)
	}
	logged, err := t.LoggedModelsSupported(ctx, exp.ExperimentID)
	if err != nil {
		return nil, fmt.Errorf("train: asking whether the server has logged models: %w", err)
	}
	res := &Result{
		ExperimentID: exp.ExperimentID, Experiment: opts.Experiment, LoggedModels: logged, Data: dataName,
		TrainRows: train.Len(), ValidRows: valid.Len(),
	}
	var failed []string
	for i, h := range HyperparameterGrid(opts.Runs, opts.Seed) {
		tr, err := trainOne(ctx, t, exp.ExperimentID, logged, i, h, train, valid, dataName, opts)
		if tr != nil {
			res.Runs = append(res.Runs, *tr)
			if opts.Progress != nil {
				opts.Progress(*tr)
			}
		}
		if err != nil {
			if ctx.Err() != nil || tr == nil {
				return res, fmt.Errorf("train: run %d: %w", i+1, err)
			}
			failed = append(failed, fmt.Sprintf("%s (%s): %v", tr.RunName, tr.RunID, err))
		}
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("train: %d of %d runs failed: %v", len(failed), opts.Runs, failed)
	}
	return res, nil
}

func trainingData(opts Options) (*churn.Dataset, string, error) {
	if opts.Dataset != nil {
		name := "data"
		if opts.Data != "" {
			name = filepath.Base(opts.Data)
		}
		return opts.Dataset, name, nil
	}
	if opts.Data != "" {
		d, _, err := churn.LoadCSVFile(opts.Data, churn.LoadOptions{})
		if err != nil {
			return nil, "", err
		}
		return d, filepath.Base(opts.Data), nil
	}
	if opts.Rows < 10 {
		return nil, "", fmt.Errorf("%d synthetic rows: want at least 10", opts.Rows)
	}
	return churn.GenerateDataset(opts.Rows, opts.Seed), fmt.Sprintf("synthetic(rows=%d, seed=%d)", opts.Rows, opts.Seed), nil
}

// trainOne creates, trains and ends one run. It returns a nil TrainedRun
// only when the run could not be created.
func trainOne(ctx context.Context, t Tracker, expID string, logged bool, i int, h Hyperparameters,
	train, valid *churn.Dataset, dataName string, opts Options) (*TrainedRun, error) {
	start := time.Now()
	name := fmt.Sprintf("churn-logreg-%02d-l2=%g-t=%g", i+1, h.L2, h.Threshold)
	run, err := t.CreateRun(ctx, mlflow.CreateRunRequest{
		ExperimentID: expID,
		RunName:      name,
		Tags: map[string]string{
			"mlflow.runName":     name,
			"mlflow.user":        opts.User,
			"mlflow.source.name": opts.Source,
			"mlflow.source.type": "LOCAL",
			"model_type":         "logistic_regression",
			"model_flavor":       churn.Flavor,
			"dataset":            dataName,
		},
	})
	if err != nil {
		return nil, err
	}
	tr := &TrainedRun{RunID: run.Info.RunID, RunName: name, Hyper: h, Status: mlflow.RunStatusRunning}
	model, metrics, err := fitAndLog(ctx, t, run, logged, h, train, valid, dataName, opts)
	tr.Model, tr.Metrics, tr.ModelID = model, metrics.values, metrics.modelID
	tr.Duration = time.Since(start)

	// End the run even when ctx is cancelled: a run left RUNNING lies.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	tr.Status = mlflow.RunStatusFinished
	if err != nil {
		tr.Status, tr.Reason = mlflow.RunStatusFailed, err.Error()
		reason := tr.Reason
		if len(reason) > 5000 {
			reason = reason[:5000]
		}
		// Best effort: the reason tag must not hide the original error.
		_ = t.LogBatch(endCtx, run.Info.RunID, nil, nil, []mlflow.Tag{{Key: TagFailureReason, Value: reason}})
	}
	if _, uerr := t.UpdateRun(endCtx, run.Info.RunID, tr.Status, time.Now().UnixMilli()); uerr != nil {
		return tr, errors.Join(err, fmt.Errorf("ending run as %s: %w", tr.Status, uerr))
	}
	return tr, err
}

// fitted is what fitAndLog logged besides the model: the metrics' values
// and the logged model's id ("" when the model went to the run's
// artifacts).
type fitted struct {
	values  map[string]float64
	modelID string
}

func fitAndLog(ctx context.Context, t Tracker, run *mlflow.Run, logged bool, h Hyperparameters,
	train, valid *churn.Dataset, dataName string, opts Options) (*churn.Model, fitted, error) {
	var out fitted
	params := []mlflow.Param{
		{Key: "l2", Value: strconv.FormatFloat(h.L2, 'g', -1, 64)},
		{Key: "threshold", Value: strconv.FormatFloat(h.Threshold, 'g', -1, 64)},
		{Key: "max_iterations", Value: strconv.Itoa(h.MaxIterations)},
		{Key: "data", Value: dataName},
		{Key: "train_rows", Value: strconv.Itoa(train.Len())},
		{Key: "valid_rows", Value: strconv.Itoa(valid.Len())},
		{Key: "valid_frac", Value: strconv.FormatFloat(opts.ValidFrac, 'g', -1, 64)},
		{Key: "seed", Value: strconv.FormatUint(opts.Seed, 10)},
	}
	if err := t.LogBatch(ctx, run.Info.RunID, nil, params, nil); err != nil {
		return nil, out, fmt.Errorf("logging params: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, out, err
	}
	model, err := churn.Fit(train, churn.TrainOptions{L2: h.L2, MaxIterations: h.MaxIterations})
	if err != nil {
		return nil, out, fmt.Errorf("fitting: %w", err)
	}
	model.Threshold = h.Threshold
	m, err := model.Evaluate(valid)
	if err != nil {
		return model, out, fmt.Errorf("evaluating: %w", err)
	}
	out.values = m.Map()
	keys := make([]string, 0, len(out.values))
	for k := range out.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	now := time.Now().UnixMilli()
	ms := make([]mlflow.Metric, 0, len(keys))
	for _, k := range keys {
		if math.IsInf(out.values[k], 0) {
			continue
		}
		ms = append(ms, mlflow.Metric{Key: k, Value: out.values[k], Timestamp: now})
	}
	if err := t.LogBatch(ctx, run.Info.RunID, ms, nil, nil); err != nil {
		return model, out, fmt.Errorf("logging metrics: %w", err)
	}

	dir, err := os.MkdirTemp("", "playbook-model-")
	if err != nil {
		return model, out, err
	}
	defer os.RemoveAll(dir)
	modelDir := filepath.Join(dir, ModelArtifactPath)
	meta := churn.ArtifactMeta{
		RunID: run.Info.RunID, ArtifactPath: ModelArtifactPath, InputExample: valid.Customers[:min(3, valid.Len())],
	}
	if !logged {
		if err := churn.SaveModel(modelDir, model, meta); err != nil {
			return model, out, fmt.Errorf("saving the model: %w", err)
		}
		if err := t.UploadDir(ctx, run.Info.ArtifactURI, modelDir, ModelArtifactPath); err != nil {
			return model, out, fmt.Errorf("uploading the model: %w", err)
		}
		return model, out, nil
	}
	out.modelID, err = logModel(ctx, t, run, model, meta, modelDir, params, ms, opts)
	return model, out, err
}

// logModel logs model as an MLflow 3 logged model of run, in the order of
// MLflow 3.18's Model.log: create it (PENDING) with the run's params, record
// it as the run's output, link the run's metrics to it, save and upload its
// files under its artifact location, and finalize it READY, or
// UPLOAD_FAILED when anything after its creation fails. It returns the
// model's id once created, even with an error.
func logModel(ctx context.Context, t Tracker, run *mlflow.Run, model *churn.Model, meta churn.ArtifactMeta,
	modelDir string, params []mlflow.Param, metrics []mlflow.Metric, opts Options) (string, error) {
	ps := make(map[string]string, len(params))
	for _, p := range params {
		ps[p.Key] = p.Value
	}
	lm, err := t.CreateLoggedModel(ctx, mlflow.CreateLoggedModelRequest{
		ExperimentID: run.Info.ExperimentID,
		Name:         ModelArtifactPath,
		SourceRunID:  run.Info.RunID,
		Params:       ps,
		Tags: map[string]string{
			"mlflow.user":        opts.User,
			"mlflow.source.name": opts.Source,
			"mlflow.source.type": "LOCAL",
		},
	})
	if err != nil {
		return "", fmt.Errorf("creating the logged model: %w", err)
	}
	id := lm.Info.ModelID
	err = func() error {
		if err := t.LogOutputs(ctx, run.Info.RunID, []mlflow.ModelOutput{{ModelID: id, Step: 0}}); err != nil {
			return fmt.Errorf("logging the model %s as the run's output: %w", id, err)
		}
		linked := make([]mlflow.LoggedModelMetric, len(metrics))
		for i, m := range metrics {
			linked[i] = mlflow.LoggedModelMetric{Metric: m}
		}
		if err := t.LogLoggedModelMetrics(ctx, run.Info.RunID, id, linked); err != nil {
			return fmt.Errorf("linking the metrics to the model %s: %w", id, err)
		}
		// As MLflow 3 writes it: artifact_path is the artifact location,
		// model_uuid the model's id.
		meta.ModelID, meta.ModelUUID, meta.ArtifactPath = id, id, lm.Info.ArtifactURI
		if err := churn.SaveModel(modelDir, model, meta); err != nil {
			return fmt.Errorf("saving the model: %w", err)
		}
		if err := t.UploadDir(ctx, lm.Info.ArtifactURI, modelDir, ""); err != nil {
			return fmt.Errorf("uploading the model: %w", err)
		}
		return nil
	}()
	status := mlflow.LoggedModelReady
	if err != nil {
		status = mlflow.LoggedModelUploadFailed
	}
	// Finalize even when ctx is cancelled: a model left PENDING lies.
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, ferr := t.FinalizeLoggedModel(endCtx, id, status); ferr != nil {
		return id, errors.Join(err, fmt.Errorf("finalizing the model %s as %s: %w", id, status, ferr))
	}
	return id, err
}
