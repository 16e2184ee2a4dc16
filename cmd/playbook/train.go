package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/playbook-mlops/playbook/server"
	"github.com/playbook-mlops/playbook/training"
)

func init() {
	register(command{name: "train", summary: "log churn training runs to an MLflow experiment", run: runTrain})
}

// trainOptions holds the flags of playbook train.
type trainOptions struct {
	TrackingURI string
	DataDir     string
	training.Options
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o trainOptions
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: playbook train [flags]")
		fmt.Fprintln(stderr, "\nLogs training runs of the churn model, each with distinct hyperparameters,")
		fmt.Fprintln(stderr, "its validation metrics and its model, which runs:/RUN/model names: an MLflow 3")
		fmt.Fprintln(stderr, "logged model called \"model\" on a server with logged models, the run's")
		fmt.Fprintln(stderr, "artifacts under model/ on one without (MLflow 2, the embedded server).")
		fmt.Fprintln(stderr, "\nflags:")
		printDefaults(fs)
	}
	fs.StringVar(&o.TrackingURI, "tracking-uri", "", "MLflow tracking server (default $MLFLOW_TRACKING_URI, else an embedded one)")
	fs.StringVar(&o.DataDir, "data-dir", server.DefaultDataDir, "data `directory` of the embedded tracking server, used when no tracking URI is given")
	fs.StringVar(&o.Experiment, "experiment", "churn-training", "experiment `name`, created when missing")
	fs.IntVar(&o.Runs, "runs", 3, "number of runs")
	fs.StringVar(&o.Data, "data", "", "Telco churn CSV `file` (default: synthetic customers)")
	fs.IntVar(&o.Rows, "rows", training.DefaultRows, "synthetic customers to generate when no --data")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the generator, the split and the hyperparameter grid")
	fs.Float64Var(&o.ValidFrac, "valid-frac", training.DefaultValidFrac, "fraction held out for validation")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if err := o.validate(); err != nil {
		return errUsage(err)
	}
	if err := checkMLflowConfig(o.TrackingURI, true); err != nil {
		return err
	}
	return train(ctx, o, stdout, stderr)
}

// validate checks the flags before anything starts.
func (o *trainOptions) validate() error {
	switch {
	case o.Runs < 1:
		return fmt.Errorf("--runs %d: want at least 1", o.Runs)
	case o.Data == "" && o.Rows < 10:
		return fmt.Errorf("--rows %d: want at least 10", o.Rows)
	case !(o.ValidFrac > 0 && o.ValidFrac < 1):
		return fmt.Errorf("--valid-frac %v: want a value in (0, 1)", o.ValidFrac)
	}
	if o.Data != "" {
		if _, err := os.Stat(o.Data); err != nil {
			return fmt.Errorf("--data: %w", err)
		}
	}
	return nil
}

func train(ctx context.Context, o trainOptions, stdout, stderr io.Writer) error {
	be := newBackend(o.TrackingURI, o.DataDir, stderr, false)
	defer be.Close()
	client, err := be.client(ctx)
	if err != nil {
		return err
	}
	o.Source = "playbook train"
	o.Progress = func(r training.TrainedRun) {
		fmt.Fprintf(stderr, "run %s %s %s f1=%.4f roc_auc=%.4f (%s)\n", r.RunName, r.RunID, r.Status,
			r.Metrics["f1"], r.Metrics["roc_auc"], r.Duration.Round(1e6))
	}
	res, err := training.Train(ctx, client, o.Options)
	if res != nil {
		if werr := writeTrainTable(stdout, res, isTerminal(stdout)); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}

// writeTrainTable writes one line per run: aligned columns on a terminal,
// tab-separated values otherwise.
func writeTrainTable(w io.Writer, res *training.Result, aligned bool) error {
	out := w
	var tw *tabwriter.Writer
	if aligned {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		out = tw
	}
	fmt.Fprintf(out, "run_id\trun_name\tl2\tthreshold\tf1\troc_auc\tstatus\n")
	for _, r := range res.Runs {
		fmt.Fprintf(out, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RunID, r.RunName,
			strconv.FormatFloat(r.Hyper.L2, 'g', -1, 64), strconv.FormatFloat(r.Hyper.Threshold, 'g', -1, 64),
			formatMetric(r.Metrics, "f1"), formatMetric(r.Metrics, "roc_auc"), r.Status)
	}
	if tw != nil {
		return tw.Flush()
	}
	return nil
}

func formatMetric(m map[string]float64, k string) string {
	v, ok := m[k]
	if !ok {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}
