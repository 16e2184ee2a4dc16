package steps

import (
	"errors"
	"fmt"
	"maps"
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
	DefaultMetric = "f1"
	DefaultTop    = 5
	// DefaultRunPageSize is the page size of identify's run search when
	// IdentifyOptions.PageSize is 0: ten times MLflow's default of 1,000
	// (MLflow takes up to 50,000). Every page is read whatever its size, so
	// the ranking is the same; over 100,000 runs the embedded server, which
	// filters and sorts the whole experiment for each page, answers in a
	// sixth of the time, and MLflow in about the same (docs/PERFORMANCE.md).
	DefaultRunPageSize = 10_000
	DirectionMax       = "max" // greater is better
	DirectionMin       = "min" // smaller is better
	finishedRunFilter  = "attributes.status = 'FINISHED'"
	readyModelFilter   = "status = 'READY'"
)

// What Identify ranks (IdentifyOptions.Over).
const (
	// OverRuns ranks the experiment's FINISHED runs by their metric.
	OverRuns = "runs"
	// OverLoggedModels ranks the experiment's READY MLflow 3 logged models
	// (search_logged_models) by their metric.
	OverLoggedModels = "logged_models"
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
	// PageSize is the number of runs (or logged models) per search page;
	// 0 means DefaultRunPageSize for runs and leaves the server's default
	// for logged models. Every page is read whatever its size.
	PageSize int
	// Over is what is ranked: OverRuns ("" means it) or OverLoggedModels.
	Over string
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
	// Over is what was ranked: OverRuns or OverLoggedModels.
	Over string
	// ModelID and ModelName are the logged model ranked (OverLoggedModels):
	// Register registers it. "" when runs were ranked.
	ModelID   string
	ModelName string
	// ArtifactURI is the run's artifact root. ModelSource is the logged
	// model's models:/<model_id> when logged models were ranked, else the
	// run's artifact folder "model" (where MLflow 2 and playbook's training
	// log a model); Register resolves the source it registers at its path
	// as mlflow.register_model does (Version.Source, Version.SourceKind).
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

// Identify returns the best FINISHED run of an experiment by a metric, or,
// with Over: OverLoggedModels, the best READY logged model (MLflow 3) and
// the run that produced it, reading every page of the search. Runs with
// equal values are ordered as MLflow orders them: the most recent start
// time first, then the run id in ascending order; logged models as MLflow's
// search_logged_models does: the most recent creation time first, then the
// model id in ascending order; so the choice is the same on every call. It
// shows the leaderboard of the top runs (or models) and keeps it in the
// evidence.
//
// An unknown experiment, an experiment without a FINISHED run (READY
// logged model), or without one that logged the metric fails the step with
// an error naming the experiment and the metric.
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
	switch opts.Over {
	case "", OverRuns:
		opts.Over = OverRuns
	case OverLoggedModels:
	default:
		failf("identify: over %q: want %q or %q", opts.Over, OverRuns, OverLoggedModels)
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
	var cands []rankedEntry
	var finished int
	if opts.Over == OverLoggedModels {
		cands, finished = loggedModelCandidates(r, exp.ExperimentID, opts)
	} else {
		cands, finished = runCandidates(r, exp.ExperimentID, opts)
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
		if a.time != b.time {
			return a.time > b.time
		}
		return a.id < b.id
	})

	order := tr(pb, "descending")
	if opts.Direction == DirectionMin {
		order = tr(pb, "ascending")
	}
	if opts.Over == OverLoggedModels {
		fillRuns(r, cands[:min(opts.Top, len(cands))])
	}
	best := cands[0]
	res := &BestRun{
		Experiment: opts.Experiment, ExperimentID: exp.ExperimentID,
		RunID: best.run.Info.RunID, RunName: best.run.Info.RunName,
		Metric: opts.Metric, Direction: opts.Direction, Value: best.value, Over: opts.Over,
		StartTime:   time.UnixMilli(best.run.Info.StartTime).UTC(),
		ArtifactURI: best.run.Info.ArtifactURI,
		ModelSource: strings.TrimRight(best.run.Info.ArtifactURI, "/") + "/" + training.ModelArtifactPath,
		RunURL:      RunURL(r.c, exp.ExperimentID, best.run.Info.RunID),
		Metrics:     best.metrics, Params: best.params,
		Finished: finished, Considered: len(cands),
		TieBreak: fmt.Sprintf(tr(pb, "%s %s, then start time descending (the most recent run first), then run id ascending, as MLflow's search orders runs"),
			opts.Metric, order),
	}
	if best.model != nil {
		res.ModelID, res.ModelName, res.ModelSource = best.model.Info.ModelID, best.model.Info.Name, best.model.URI()
		res.TieBreak = fmt.Sprintf(tr(pb, "%s %s, then creation time descending (the most recent model first), then model id ascending, as MLflow's search_logged_models orders logged models"),
			opts.Metric, order)
	}
	for _, c := range cands {
		if c.value == best.value {
			res.Tied++
		}
	}
	for i, c := range cands[:min(opts.Top, len(cands))] {
		row := record.LeaderboardRow{
			Rank: i + 1, RunID: c.run.Info.RunID, RunName: c.run.Info.RunName, Value: c.value,
			StartTime: time.UnixMilli(c.time).UTC(), Metrics: map[string]float64{},
		}
		if c.model != nil {
			row.ModelID = c.model.Info.ModelID
		}
		for k, v := range c.metrics {
			if finite(v) {
				row.Metrics[k] = v
			}
		}
		res.Leaderboard = append(res.Leaderboard, row)
	}

	notebook.Update(pb, func(rec *record.Run) {
		rec.Evidence.Leaderboard = &record.Leaderboard{
			Experiment: opts.Experiment, ExperimentID: exp.ExperimentID, Metric: opts.Metric, Direction: opts.Direction,
			Over: opts.Over, TieBreak: res.TieBreak, Finished: finished, Considered: len(cands), Tied: res.Tied,
			Rows: slices.Clone(res.Leaderboard),
		}
	})
	showLeaderboard(pb, res)
	return res
}

// rankedEntry is a run, or a logged model and its run, with its value.
type rankedEntry struct {
	run   mlflow.Run
	model *mlflow.LoggedModel // nil when runs are ranked
	value float64
	time  int64  // the run's start time, or the model's creation time (ms)
	id    string // the run id, or the model id
	// metrics and params are the run's, or the logged model's.
	metrics map[string]float64
	params  map[string]string
}

// runCandidates returns the FINISHED runs of the experiment that logged
// the metric, and how many FINISHED runs there are.
func runCandidates(r *registry, expID string, opts IdentifyOptions) ([]rankedEntry, int) {
	pageSize := opts.PageSize
	if pageSize == 0 {
		pageSize = DefaultRunPageSize
	}
	runs, err := r.c.SearchAllRuns(r.ctx, mlflow.SearchRunsRequest{
		ExperimentIDs: []string{expID},
		Filter:        finishedRunFilter,
		RunViewType:   mlflow.ViewActiveOnly,
		MaxResults:    pageSize,
	})
	if err != nil {
		failf("searching the runs of experiment %q: %w", opts.Experiment, err)
	}
	var cands []rankedEntry
	seen := map[string]bool{}
	for _, run := range runs {
		if run.Info.Status != mlflow.RunStatusFinished || seen[run.Info.RunID] {
			continue
		}
		seen[run.Info.RunID] = true
		if v, ok := run.Metric(opts.Metric); ok && finite(v) {
			metrics := map[string]float64{}
			for _, m := range run.Data.Metrics {
				metrics[m.Key] = m.Value
			}
			cands = append(cands, rankedEntry{run: run, value: v, time: run.Info.StartTime, id: run.Info.RunID, metrics: metrics, params: paramMap(run.Data.Params)})
		}
	}
	if len(seen) == 0 {
		failf("experiment %q has no FINISHED run on %s: log training runs first", opts.Experiment, r.c.TrackingURI())
	}
	if len(cands) == 0 {
		failf("no FINISHED run of experiment %q logged the metric %q (%d FINISHED runs; metrics they logged: %s)",
			opts.Experiment, opts.Metric, len(seen), strings.Join(metricNames(runs), ", "))
	}
	return cands, len(seen)
}

// loggedModelCandidates returns the READY logged models of the experiment,
// produced by a run, that logged the metric, and how many READY logged
// models produced by a run there are. Their runs are filled by fillRuns.
func loggedModelCandidates(r *registry, expID string, opts IdentifyOptions) ([]rankedEntry, int) {
	orderBy := mlflow.LoggedModelOrderBy{FieldName: "metrics." + opts.Metric, Ascending: opts.Direction == DirectionMin}
	models, err := r.c.SearchAllLoggedModels(r.ctx, mlflow.SearchLoggedModelsRequest{
		ExperimentIDs: []string{expID},
		Filter:        readyModelFilter,
		OrderBy:       []mlflow.LoggedModelOrderBy{orderBy},
		MaxResults:    opts.PageSize,
	})
	var apiErr *mlflow.APIError
	if errors.As(err, &apiErr) && apiErr.Code == "" && errors.Is(err, mlflow.ErrNotFound) {
		failf("identify: %s has no logged models (MLflow 3's search_logged_models): rank runs instead (Over: %q)", r.c.TrackingURI(), OverRuns)
	}
	if err != nil {
		failf("searching the logged models of experiment %q: %w", opts.Experiment, err)
	}
	var cands []rankedEntry
	seen := map[string]bool{}
	names := map[string]bool{}
	for i := range models {
		m := &models[i]
		if m.Info.Status != mlflow.LoggedModelReady || m.Info.SourceRunID == "" || seen[m.Info.ModelID] {
			continue
		}
		seen[m.Info.ModelID] = true
		for _, x := range m.Data.Metrics {
			names[x.Key] = true
		}
		if v, ok := m.Metric(opts.Metric); ok && finite(v) {
			metrics := map[string]float64{}
			for _, x := range m.Data.Metrics {
				metrics[x.Key], _ = m.Metric(x.Key) // its latest value
			}
			cands = append(cands, rankedEntry{model: m, value: v, time: m.Info.CreationTimestampMs, id: m.Info.ModelID, metrics: metrics, params: paramMap(m.Data.Params)})
		}
	}
	if len(seen) == 0 {
		failf("experiment %q has no READY logged model produced by a run on %s: log models first (mlflow.<flavor>.log_model)", opts.Experiment, r.c.TrackingURI())
	}
	if len(cands) == 0 {
		logged := slices.Sorted(maps.Keys(names))
		if len(logged) == 0 {
			logged = []string{"none"}
		}
		failf("no READY logged model of experiment %q logged the metric %q (%d READY logged models; metrics they logged: %s)",
			opts.Experiment, opts.Metric, len(seen), strings.Join(logged, ", "))
	}
	return cands, len(seen)
}

// finite says v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// paramMap turns params into a map.
func paramMap(params []mlflow.Param) map[string]string {
	out := map[string]string{}
	for _, p := range params {
		out[p.Key] = p.Value
	}
	return out
}

// fillRuns reads the run of each logged model of cands.
func fillRuns(r *registry, cands []rankedEntry) {
	for i := range cands {
		run, err := r.c.GetRun(r.ctx, cands[i].model.Info.SourceRunID)
		if err != nil {
			failf("reading run %s, which produced the logged model %s: %w", cands[i].model.Info.SourceRunID, cands[i].model.Info.ModelID, err)
		}
		cands[i].run = *run
	}
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
	models := res.Over == OverLoggedModels
	t := &record.Table{Columns: []string{"#", "run", "run_id", res.Metric, "roc_auc", tr(pb, "started")}, Rows: [][]string{}}
	if models {
		t.Columns = []string{"#", "run", "run_id", "model_id", res.Metric, "roc_auc", tr(pb, "created")}
	}
	other := len(t.Columns) - 2
	if res.Metric == "roc_auc" {
		t.Columns[other] = "f1"
	}
	for _, row := range res.Leaderboard {
		o := ""
		if v, ok := row.Metrics[t.Columns[other]]; ok {
			o = fmt.Sprintf("%.4f", v)
		}
		cells := []string{fmt.Sprint(row.Rank), row.RunName, row.RunID}
		if models {
			cells = append(cells, row.ModelID)
		}
		t.Rows = append(t.Rows, append(cells, fmt.Sprintf("%.4f", row.Value), o, stamp(row.StartTime)))
	}
	title := trf(pb, "Leaderboard: the top %d of %d FINISHED runs by %s (%s)", len(res.Leaderboard), res.Considered, res.Metric, res.Direction)
	if models {
		title = trf(pb, "Leaderboard: the top %d of %d READY logged models by %s (%s)", len(res.Leaderboard), res.Considered, res.Metric, res.Direction)
	}
	notebook.Display(pb, record.Output{Kind: record.OutputTable, Title: title, Table: t})
	pb.Plot(tr(pb, "Leaderboard"), leaderboardPlot(res))
	// TieBreak is in the scenario's language (Identify).
	tie := trf(pb, "%d run(s) share the best value; ties broken by %s", res.Tied, res.TieBreak)
	kv := []any{
		tr(pb, "experiment"), res.Experiment,
		"run", res.RunName,
		"run_id", res.RunID,
	}
	title = tr(pb, "Best run")
	if models {
		tie = trf(pb, "%d logged model(s) share the best value; ties broken by %s", res.Tied, res.TieBreak)
		title = tr(pb, "Best logged model")
		kv = append(kv, "model_id", res.ModelID, tr(pb, "logged model"), res.ModelName)
	}
	kv = append(kv,
		res.Metric, res.Value,
		tr(pb, "model source"), res.ModelSource,
		tr(pb, "MLflow UI"), res.RunURL,
		tr(pb, "ties"), tie,
	)
	pb.KV(title, kv...)
}
