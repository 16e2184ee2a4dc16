package steps

import (
	"fmt"

	"github.com/playbook-mlops/playbook/record"
)

// TrainRuns logs training runs as [Train] does, against the run's tracking
// server and under the current cell's context, and shows one row per run.
// A failed run fails the step. Under --dry-run, it logs nothing and says
// so: training runs are not registry changes, but a dry run changes
// nothing.
func TrainRuns(pb *Playbook, opts TrainOptions) *TrainResult {
	if pb.DryRun() {
		pb.Printf("%s\n", pb.tr(
			fmt.Sprintf("dry run: no training run logged (would log %d runs to experiment %q)", opts.Runs, opts.Experiment),
			fmt.Sprintf("essai à blanc : aucun run d'entraînement enregistré (%d runs seraient enregistrés dans l'expérience %q)", opts.Runs, opts.Experiment)))
		return &TrainResult{Experiment: opts.Experiment}
	}
	c, err := pb.Client()
	if err != nil {
		fail(err)
	}
	if opts.Source == "" {
		opts.Source = "playbook scenario"
	}
	if opts.User == "" {
		var u string
		pb.update(func(r *record.Run) { u = r.Environment.User })
		opts.User = u
	}
	res, err := Train(pb.Context(), c, opts)
	if res != nil {
		t := &record.Table{Columns: []string{"run", "run_id", "l2", pb.tr("threshold", "seuil"), "f1", "roc_auc", "status"}, Rows: [][]string{}}
		for _, r := range res.Runs {
			t.Rows = append(t.Rows, []string{r.RunName, r.RunID, fmt.Sprint(r.Hyper.L2), fmt.Sprint(r.Hyper.Threshold),
				fmt.Sprintf("%.4f", r.Metrics["f1"]), fmt.Sprintf("%.4f", r.Metrics["roc_auc"]), string(r.Status)})
		}
		pb.display(record.Output{Kind: record.OutputTable, Title: pb.tr(
			fmt.Sprintf("Training runs in experiment %q (%s: %d rows to train, %d to validate)", res.Experiment, res.Data, res.TrainRows, res.ValidRows),
			fmt.Sprintf("Runs d'entraînement dans l'expérience %q (%s : %d lignes d'entraînement, %d de validation)", res.Experiment, res.Data, res.TrainRows, res.ValidRows),
		), Table: t})
	}
	if err != nil {
		fail(err)
	}
	return res
}
