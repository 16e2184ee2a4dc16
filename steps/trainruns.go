package steps

import (
	"fmt"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/training"
)

// TrainOptions configures [TrainRuns]: what a scenario chooses of a
// training (the command line's playbook train takes the same as flags).
type TrainOptions struct {
	Experiment string // experiment name, created when missing
	Runs       int    // number of runs, each with distinct hyperparameters
	// Data is a CSV file in the Telco schema, a path relative to the
	// scenario's folder (inside it: see ValidateOptions.Data); empty means
	// Rows synthetic customers drawn by churn.Generate with Seed.
	Data      string
	Rows      int     // synthetic rows; 0 means 5000
	Seed      uint64  // seeds the generator, the split and the grid
	ValidFrac float64 // validation fraction; 0 means 0.25
}

// TrainResult is what [TrainRuns] did: one entry per run, with its
// hyperparameters, metrics and model.
type TrainResult = training.Result

// TrainRuns logs opts.Runs training runs of the churn model to an
// experiment, against the run's tracking server and under the current
// cell's context: each run has its hyperparameters as params, validation
// metrics, tags, and its model, which runs:/RUN/model names (see
// training.Train: a logged model on MLflow 3, run artifacts under "model/"
// otherwise). It shows one row per run. A failed run fails the step. Under --dry-run, it logs nothing and
// says so: training runs are not registry changes, but a dry run changes
// nothing.
func TrainRuns(pb *Playbook, opts TrainOptions) *TrainResult {
	if pb.DryRun() {
		pb.Printf("%s\n", trf(pb, "dry run: no training run logged (would log %d runs to experiment %q)", opts.Runs, opts.Experiment))
		return &TrainResult{Experiment: opts.Experiment}
	}
	c, err := pb.Client()
	if err != nil {
		fail(err)
	}
	// The data file, read from the scenario's folder only (training.Train
	// would open the path as given).
	var data *churn.Dataset
	if opts.Data != "" {
		if data, err = dataIn(pb).telco(word("train: data"), opts.Data); err != nil {
			fail(err)
		}
	}
	var user string
	notebook.Update(pb, func(r *record.Run) { user = r.Environment.User })
	res, err := training.Train(pb.Context(), c, training.Options{
		Experiment: opts.Experiment, Runs: opts.Runs, Data: opts.Data, Dataset: data, Rows: opts.Rows, Seed: opts.Seed, ValidFrac: opts.ValidFrac,
		User: user, Source: "playbook scenario",
	})
	if res != nil {
		t := &record.Table{Columns: []string{"run", "run_id", "l2", tr(pb, "threshold"), "f1", "roc_auc", "status"}, Rows: [][]string{}}
		for _, r := range res.Runs {
			t.Rows = append(t.Rows, []string{r.RunName, r.RunID, fmt.Sprint(r.Hyper.L2), fmt.Sprint(r.Hyper.Threshold),
				fmt.Sprintf("%.4f", r.Metrics["f1"]), fmt.Sprintf("%.4f", r.Metrics["roc_auc"]), string(r.Status)})
		}
		notebook.Display(pb, record.Output{Kind: record.OutputTable, Title: trf(pb, "Training runs in experiment %q (%s: %d rows to train, %d to validate)", res.Experiment, res.Data, res.TrainRows, res.ValidRows), Table: t})
	}
	if err != nil {
		fail(err)
	}
	return res
}
