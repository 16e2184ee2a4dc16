package steps

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/training"
)

// Identify defaults.
const (
	DefaultMetric     = "f1"
	DefaultTop        = 5
	DirectionMax      = "max" // greater is better
	DirectionMin      = "min" // smaller is better
	finishedRunFilter = "attributes.status = 'FINISHED'"
)

// IdentifyOptions selects the best run: see [Identify].
type IdentifyOptions struct {
	// Experiment is the experiment's name.
	Experiment string
	// Metric ranks the runs; "" means DefaultMetric.
	Metric string
	// Direction is DirectionMax (the default: greater is better) or
	// DirectionMin.
	Direction string
	// Top is the number of runs the leaderboard shows; 0 means DefaultTop.
	Top int
	// PageSize is the number of runs per search page; 0 leaves the
	// server's default (1000). Every page is read whatever its size.
	PageSize int
}

// BestRun is the run Identify selected.
type BestRun struct {
	Experiment   string
	ExperimentID string
	RunID        string
	RunName      string
	// Metric and Direction are what the run was ranked by; Value its value.
	Metric    string
	Direction string
	Value     float64
	StartTime time.Time
	// ArtifactURI is the run's artifact root; ModelSource its model's
	// (ArtifactURI + "/model"), the source a model version registers.
	ArtifactURI string
	ModelSource string
	// RunURL is the run's page in the MLflow UI.
	RunURL  string
	Metrics map[string]float64
	Params  map[string]string
	// Finished counts the experiment's FINISHED runs, Considered those
	// that logged the metric, Tied those that share the best value.
	Finished, Considered, Tied int
	// TieBreak says how runs with equal values are ordered.
	TieBreak string
	// Leaderboard is the top runs, best first.
	Leaderboard []record.LeaderboardRow
}

// Identify returns the best FINISHED run of an experiment by a metric,
// reading every page of the search. Runs with equal values are ordered as
// MLflow orders them: the most recent start time first, then the run id in
// ascending order, so the choice is the same on every call. It shows the
// leaderboard of the top runs and keeps it in the evidence.
//
// An unknown experiment, an experiment without a FINISHED run, or without a
// run that logged the metric fails the step with an error naming the
// experiment and the metric.
func Identify(pb *Playbook, opts IdentifyOptions) *BestRun {
	if opts.Experiment == "" {
		failf("identify: no experiment name")
	}
	if opts.Metric == "" {
		opts.Metric = DefaultMetric
	}
	switch strings.ToLower(opts.Direction) {
	case "", DirectionMax:
		opts.Direction = DirectionMax
	case DirectionMin:
		opts.Direction = DirectionMin
	default:
		failf("identify: direction %q: want %q (greater is better) or %q (smaller is better)", opts.Direction, DirectionMax, DirectionMin)
	}
	if opts.Top <= 0 {
		opts.Top = DefaultTop
	}
	r := openRegistry(pb)
	where := r.c.TrackingURI()

	exp, err := r.c.GetExperimentByName(r.ctx, opts.Experiment)
	if errors.Is(err, mlflow.ErrNotFound) {
		failf("experiment %q not found on %s: log training runs first (scenarios/churn-training.md or playbook train)", opts.Experiment, where)
	}
	if err != nil {
		failf("reading experiment %q: %w", opts.Experiment, err)
	}
	runs, err := r.c.SearchAllRuns(r.ctx, mlflow.SearchRunsRequest{
		ExperimentIDs: []string{exp.ExperimentID},
		Filter:        finishedRunFilter,
		RunViewType:   mlflow.ViewActiveOnly,
		MaxResults:    opts.PageSize,
	})
	if err != nil {
		failf("searching the runs of experiment %q: %w", opts.Experiment, err)
	}

	type ranked struct {
		run   mlflow.Run
		value float64
	}
	var cands []ranked
	seen := map[string]bool{}
	for _, run := range runs {
		if run.Info.Status != mlflow.RunStatusFinished || seen[run.Info.RunID] {
			continue
		}
		seen[run.Info.RunID] = true
		if v, ok := run.Metric(opts.Metric); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			cands = append(cands, ranked{run, v})
		}
	}
	finished := len(seen)
	if finished == 0 {
		failf("experiment %q has no FINISHED run on %s: log training runs first", opts.Experiment, where)
	}
	if len(cands) == 0 {
		failf("no FINISHED run of experiment %q logged the metric %q (%d FINISHED runs; metrics they logged: %s)",
			opts.Experiment, opts.Metric, finished, strings.Join(metricNames(runs), ", "))
	}
	better := func(a, b float64) bool {
		if opts.Direction == DirectionMin {
			return a < b
		}
		return a > b
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.value != b.value {
			return better(a.value, b.value)
		}
		if a.run.Info.StartTime != b.run.Info.StartTime {
			return a.run.Info.StartTime > b.run.Info.StartTime
		}
		return a.run.Info.RunID < b.run.Info.RunID
	})

	order := "descending"
	if opts.Direction == DirectionMin {
		order = "ascending"
	}
	best := cands[0]
	res := &BestRun{
		Experiment: opts.Experiment, ExperimentID: exp.ExperimentID,
		RunID: best.run.Info.RunID, RunName: best.run.Info.RunName,
		Metric: opts.Metric, Direction: opts.Direction, Value: best.value,
		StartTime:   time.UnixMilli(best.run.Info.StartTime).UTC(),
		ArtifactURI: best.run.Info.ArtifactURI,
		ModelSource: strings.TrimRight(best.run.Info.ArtifactURI, "/") + "/" + training.ModelArtifactPath,
		RunURL:      RunURL(r.c, exp.ExperimentID, best.run.Info.RunID),
		Metrics:     map[string]float64{}, Params: map[string]string{},
		Finished: finished, Considered: len(cands),
		TieBreak: fmt.Sprintf("%s %s, then start time descending (the most recent run first), then run id ascending, as MLflow's search orders runs",
			opts.Metric, order),
	}
	for _, m := range best.run.Data.Metrics {
		res.Metrics[m.Key] = m.Value
	}
	for _, p := range best.run.Data.Params {
		res.Params[p.Key] = p.Value
	}
	for _, c := range cands {
		if c.value == best.value {
			res.Tied++
		}
	}
	for i, c := range cands[:min(opts.Top, len(cands))] {
		row := record.LeaderboardRow{
			Rank: i + 1, RunID: c.run.Info.RunID, RunName: c.run.Info.RunName, Value: c.value,
			StartTime: time.UnixMilli(c.run.Info.StartTime).UTC(), Metrics: map[string]float64{},
		}
		for _, m := range c.run.Data.Metrics {
			if !math.IsNaN(m.Value) && !math.IsInf(m.Value, 0) {
				row.Metrics[m.Key] = m.Value
			}
		}
		res.Leaderboard = append(res.Leaderboard, row)
	}

	notebook.Update(pb, func(rec *record.Run) {
		rec.Evidence.Leaderboard = &record.Leaderboard{
			Experiment: opts.Experiment, ExperimentID: exp.ExperimentID, Metric: opts.Metric, Direction: opts.Direction,
			TieBreak: res.TieBreak, Finished: finished, Considered: len(cands), Tied: res.Tied,
			Rows: slices.Clone(res.Leaderboard),
		}
	})
	showLeaderboard(pb, res)
	return res
}

// metricNames lists the metric keys runs logged, sorted.
func metricNames(runs []mlflow.Run) []string {
	set := map[string]bool{}
	for _, r := range runs {
		for _, m := range r.Data.Metrics {
			set[m.Key] = true
		}
	}
	if len(set) == 0 {
		return []string{"none"}
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func showLeaderboard(pb *Playbook, res *BestRun) {
	t := &record.Table{Columns: []string{"#", "run", "run_id", res.Metric, "roc_auc", tr(pb, "started", "début")}, Rows: [][]string{}}
	if res.Metric == "roc_auc" {
		t.Columns[4] = "f1"
	}
	other := t.Columns[4]
	for _, row := range res.Leaderboard {
		o := ""
		if v, ok := row.Metrics[other]; ok {
			o = fmt.Sprintf("%.4f", v)
		}
		t.Rows = append(t.Rows, []string{
			fmt.Sprint(row.Rank), row.RunName, row.RunID, fmt.Sprintf("%.4f", row.Value), o, stamp(row.StartTime),
		})
	}
	notebook.Display(pb, record.Output{Kind: record.OutputTable, Title: tr(pb,
		fmt.Sprintf("Leaderboard: the top %d of %d FINISHED runs by %s (%s)", len(res.Leaderboard), res.Considered, res.Metric, res.Direction),
		fmt.Sprintf("Classement : les %d meilleurs des %d runs FINISHED selon %s (%s)", len(res.Leaderboard), res.Considered, res.Metric, res.Direction),
	), Table: t})
	pb.Plot(tr(pb, "Leaderboard", "Classement"), leaderboardPlot(res))
	ordreFR := "décroissant"
	if res.Direction == DirectionMin {
		ordreFR = "croissant"
	}
	tie := tr(pb,
		fmt.Sprintf("%d run(s) share the best value; ties broken by %s", res.Tied, res.TieBreak),
		fmt.Sprintf("%d run(s) partagent la meilleure valeur ; départage : %s %s, puis la date de début décroissante (le run le plus récent d'abord), puis l'identifiant du run croissant, comme MLflow trie ses résultats",
			res.Tied, res.Metric, ordreFR),
	)
	pb.KV(tr(pb, "Best run", "Meilleur run"),
		tr(pb, "experiment", "expérience"), res.Experiment,
		"run", res.RunName,
		"run_id", res.RunID,
		res.Metric, res.Value,
		tr(pb, "model source", "source du modèle"), res.ModelSource,
		tr(pb, "MLflow UI", "interface MLflow"), res.RunURL,
		tr(pb, "ties", "égalités"), tie,
	)
}
