package steps_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/server"
	"github.com/playbook-mlops/playbook/steps"
)

// TestIdentify ranks hand-made runs: FINISHED only, every page, ties broken
// by start time then run id, either direction.
func TestIdentify(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	exp := uniqueName("identify")
	e, err := c.GetOrCreateExperiment(ctx, exp)
	require.NoError(t, err)
	base := time.Now().Add(-time.Hour).UnixMilli()
	// name → start offset (s), status, metrics
	type spec struct {
		name    string
		start   int64
		status  mlflow.RunStatus
		metrics map[string]float64
	}
	ids := map[string]string{}
	for _, s := range []spec{
		{"low", 0, mlflow.RunStatusFinished, map[string]float64{"f1": 0.60, "log_loss": 0.50}},
		{"tie-early", 10, mlflow.RunStatusFinished, map[string]float64{"f1": 0.70, "log_loss": 0.40}},
		{"tie-late", 20, mlflow.RunStatusFinished, map[string]float64{"f1": 0.70, "log_loss": 0.45}},
		{"failed", 30, mlflow.RunStatusFailed, map[string]float64{"f1": 0.90, "log_loss": 0.10}},
		{"running", 40, mlflow.RunStatusRunning, map[string]float64{"f1": 0.95, "log_loss": 0.05}},
		{"no-f1", 50, mlflow.RunStatusFinished, map[string]float64{"log_loss": 0.30}},
	} {
		run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: e.ExperimentID, RunName: s.name, StartTime: base + s.start*1000})
		require.NoError(t, err)
		ids[s.name] = run.Info.RunID
		var ms []mlflow.Metric
		for k, v := range s.metrics {
			ms = append(ms, mlflow.Metric{Key: k, Value: v, Timestamp: base})
		}
		require.NoError(t, c.LogBatch(ctx, run.Info.RunID, ms, nil, nil))
		if s.status != mlflow.RunStatusRunning {
			_, err = c.UpdateRun(ctx, run.Info.RunID, s.status, 0)
			require.NoError(t, err)
		}
	}
	empty := uniqueName("identify-empty")
	_, err = c.GetOrCreateExperiment(ctx, empty)
	require.NoError(t, err)

	tests := []struct {
		name       string
		opts       steps.IdentifyOptions
		best       string
		order      []string // the leaderboard's run names
		tied       int
		considered int
		err        []string // substrings of the error; nil when it succeeds
	}{
		{name: "MaxTieGoesToTheLatest", opts: steps.IdentifyOptions{Experiment: exp},
			best: "tie-late", order: []string{"tie-late", "tie-early", "low"}, tied: 2, considered: 3},
		{name: "EveryPage", opts: steps.IdentifyOptions{Experiment: exp, PageSize: 1, Top: 2},
			best: "tie-late", order: []string{"tie-late", "tie-early"}, tied: 2, considered: 3},
		{name: "Min", opts: steps.IdentifyOptions{Experiment: exp, Metric: "log_loss", Direction: "min"},
			best: "no-f1", order: []string{"no-f1", "tie-early", "tie-late", "low"}, tied: 1, considered: 4},
		{name: "ErrUnknownExperiment", opts: steps.IdentifyOptions{Experiment: exp + "-nope"},
			err: []string{`experiment "` + exp + `-nope" not found`}},
		{name: "ErrNoFinishedRun", opts: steps.IdentifyOptions{Experiment: empty},
			err: []string{`experiment "` + empty + `" has no FINISHED run`}},
		{name: "ErrNoRunWithMetric", opts: steps.IdentifyOptions{Experiment: exp, Metric: "auc"},
			err: []string{`no FINISHED run of experiment "` + exp + `" logged the metric "auc"`, "f1, log_loss"}},
		{name: "ErrDirection", opts: steps.IdentifyOptions{Experiment: exp, Direction: "up"},
			err: []string{`direction "up"`}},
		{name: "ErrNoExperiment", opts: steps.IdentifyOptions{}, err: []string{"no experiment name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newScenarioRun(t, c, false)
			var best *steps.BestRun
			err := r.step("identify", func() { best = steps.Identify(r.pb, tt.opts) })
			if tt.err != nil {
				require.Error(t, err)
				for _, s := range tt.err {
					assert.Contains(t, err.Error(), s)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, ids[tt.best], best.RunID)
			assert.Equal(t, tt.best, best.RunName)
			assert.Equal(t, tt.tied, best.Tied)
			assert.Equal(t, tt.considered, best.Considered)
			assert.Equal(t, 4, best.Finished, "FINISHED runs only: not the FAILED nor the RUNNING one")
			assert.Contains(t, best.TieBreak, "start time descending")
			assert.Equal(t, best.ArtifactURI+"/model", best.ModelSource)
			assert.Contains(t, best.RunURL, "/#/experiments/"+e.ExperimentID+"/runs/"+best.RunID)
			var got []string
			for _, row := range best.Leaderboard {
				got = append(got, row.RunName)
			}
			assert.Equal(t, tt.order, got)

			lb := r.rec.Evidence.Leaderboard
			require.NotNil(t, lb, "the leaderboard is kept in the evidence")
			assert.Equal(t, best.Leaderboard, lb.Rows)
			assert.Equal(t, best.TieBreak, lb.TieBreak)
			assert.Len(t, r.outputs("identify", record.OutputTable), 1)
			assert.Len(t, r.outputs("identify", record.OutputPlot), 1)
		})
	}
}

// TestPromotionLifecycle drives the eight steps twice on one model (a first
// promotion, then a better model replacing it), then a re-registration and
// a rollback, checking the registry through the REST API after each step.
func TestPromotionLifecycle(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	weak, strong := trainedExperiment(t, c, "weak"), trainedExperiment(t, c, "strong")
	model := uniqueName("Lifecycle")

	// First promotion: no old version.
	r := newScenarioRun(t, c, false)
	var (
		best  *steps.BestRun
		v     *steps.Version
		cand  *steps.Candidate
		val   *steps.ValidationResult
		prom  *steps.Promotion
		m     *steps.LoadedModel
		preds []steps.Prediction
		ver   *steps.Verification
	)
	r.must("identify", func() { best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: weak}) })
	r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: model}) })
	assert.True(t, v.ModelCreated)
	assert.True(t, v.Created)
	assert.Equal(t, "1", v.Version)
	mv, err := c.GetModelVersion(ctx, model, "1")
	require.NoError(t, err)
	// Playbook's training logs MLflow 3 logged models on both servers: the
	// version's source is the run's logged model.
	assert.Equal(t, steps.SourceLoggedModel, v.SourceKind)
	assert.Equal(t, "models:/"+v.ModelID, mv.Source)
	assert.Equal(t, v.Source, mv.Source)
	assert.Equal(t, best.RunID, mv.RunID)
	assert.Empty(t, mv.RunLink, "MLflow's UI cuts run_link over the aliases; it links run_id itself")
	assert.Equal(t, best.RunURL, v.RunLink, "the report still links the run")
	assert.Equal(t, mlflow.ModelVersionReady, mv.Status)
	require.Len(t, r.rec.Evidence.Snapshots, 1)
	assert.Equal(t, "before", r.rec.Evidence.Snapshots[0].Label)
	assert.Empty(t, r.rec.Evidence.Snapshots[0].Versions, "the model did not exist")

	r.must("alias", func() { cand = steps.Alias(r.pb, v, "") })
	st := readState(t, c, model)
	assert.Equal(t, "1", st.Aliases[steps.DefaultCandidateAlias])
	tags := st.Versions["1"]
	assert.Equal(t, "pending", tags["validation_status"])
	assert.Equal(t, best.RunID, tags["source_run_id"])
	assert.Equal(t, "f1", tags["selection_metric"])
	assert.Equal(t, strconv.FormatFloat(best.Value, 'g', 6, 64), tags["selection_metric_value"])
	assert.Equal(t, "tester@test-host", tags["candidate_by"])
	_, err = time.Parse(time.RFC3339, tags["candidate_at"])
	assert.NoError(t, err, "candidate_at is RFC 3339")

	r.must("validate", func() { val = steps.Validate(r.pb, cand, defaultValidation(0.55)) })
	assert.True(t, val.Passed)
	assert.Empty(t, val.Champion)
	tags = readState(t, c, model).Versions["1"]
	assert.Equal(t, "passed", tags["validation_status"])
	fig := validationFigures(t, tags)
	assert.Equal(t, val.Metrics.F1, fig.Metrics["f1"])
	assert.Equal(t, val.Metrics.ROCAUC, fig.Metrics["roc_auc"])
	assert.Equal(t, "none", fig.ChampionVersion)
	assert.Contains(t, fig.Fairness["gender"], "dp_diff")
	assert.Contains(t, fig.Fairness["SeniorCitizen"], "eo_diff")
	assert.Equal(t, "tester@test-host", fig.By)
	_, err = time.Parse(time.RFC3339, fig.At)
	assert.NoError(t, err)
	assert.Empty(t, fig.FailedChecks)
	for k := range tags {
		assert.False(t, strings.HasPrefix(k, "validation."), "no flat validation tag: %s", k)
	}
	assert.LessOrEqual(t, len(tags), 11, "the alias's tags, validation_status and one JSON tag: %v", tags)
	require.NotNil(t, r.rec.Evidence.Validation)
	assert.True(t, r.rec.Evidence.Validation.Passed)
	skipped := 0
	for _, ch := range val.Checks {
		if ch.Skipped {
			skipped++
		}
	}
	assert.Equal(t, 2, skipped, "no champion: the two champion checks are skipped")
	plots := r.outputs("validate", record.OutputPlot)
	require.Len(t, plots, 5, "ROC, precision-recall, confusion matrix, scores by class, fairness")
	for _, p := range plots {
		assert.Less(t, len(p.SVG), 100<<10, "plot %q is small", p.Title)
	}

	r.must("promote", func() { prom = steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
	assert.Equal(t, "1", prom.Version)
	assert.Empty(t, prom.Previous)
	assert.True(t, prom.Moved)
	st = readState(t, c, model)
	assert.Equal(t, "1", st.Aliases[steps.DefaultProductionAlias])
	assert.Equal(t, "none", st.Versions["1"]["previous_version"])
	assert.Equal(t, "tester@test-host", st.Versions["1"]["promoted_by"])

	r.must("load", func() { m = steps.Load(r.pb, "models:/"+model+"@production-live") })
	assert.Equal(t, "1", m.Version)
	assert.Equal(t, best.RunID, m.RunID)
	assert.Contains(t, m.Flavors, churn.Flavor)

	customers := churn.Generate(4, 11)
	r.must("infer", func() { preds = steps.Infer(r.pb, m, steps.InferOptions{Customers: customers}) })
	require.Len(t, preds, 4)
	for i, p := range preds {
		assert.Equal(t, customers[i].CustomerID, p.CustomerID)
		assert.Equal(t, p.Probability >= m.Predictor.Threshold, p.Label == 1)
	}
	require.Len(t, r.outputs("infer", record.OutputTable), 1)

	// The capture itself (real MLflow UI, Chromium) is TestVerifyCapturesMLflowUI's.
	r.must("verify", func() { ver = steps.Verify(r.pb, prom) })
	assert.True(t, ver.Passed)
	assert.Len(t, ver.Checks, 3, "two aliases and the status; no old version to archive")
	require.Len(t, r.rec.Evidence.Captures, 1, "a capture, or why there is none")
	assert.Equal(t, ver.ModelURL, r.rec.Evidence.Captures[0].URL)
	assert.Equal(t, "after", r.rec.Evidence.Snapshots[len(r.rec.Evidence.Snapshots)-1].Label)
	assert.Contains(t, r.outputs("verify", record.OutputStdout)[0].Text, "/#/models/"+model)

	// Second promotion: a better model replaces version 1, which is archived.
	r2 := newScenarioRun(t, c, false)
	r2.must("identify", func() { best = steps.Identify(r2.pb, steps.IdentifyOptions{Experiment: strong}) })
	r2.must("register", func() { v = steps.Register(r2.pb, best, steps.RegisterOptions{Model: model}) })
	assert.Equal(t, "2", v.Version)
	assert.False(t, v.ModelCreated)
	r2.must("alias", func() { cand = steps.Alias(r2.pb, v, "") })
	r2.must("validate", func() { val = steps.Validate(r2.pb, cand, defaultValidation(0.55)) })
	assert.Equal(t, "1", val.Champion, "compared with the production version")
	require.NotNil(t, val.ChampionMetrics)
	assert.Greater(t, val.Metrics.F1, val.ChampionMetrics.F1, "the strong model is better")
	r2.must("promote", func() { prom = steps.Promote(r2.pb, cand, steps.PromoteOptions{}) })
	assert.Equal(t, "1", prom.Previous)
	assert.Equal(t, "1", prom.AtStart)
	st = readState(t, c, model)
	assert.Equal(t, "2", st.Aliases["production-live"])
	assert.Equal(t, "2", st.Aliases["staging-candidate"])
	assert.Equal(t, "true", st.Versions["1"]["archived"])
	assert.Equal(t, "2", st.Versions["1"]["superseded_by"])
	assert.Contains(t, st.Versions["1"], "archived_at")
	assert.Equal(t, "1", st.Versions["2"]["previous_version"])
	r2.must("verify", func() { ver = steps.Verify(r2.pb, prom) })
	require.Len(t, r2.rec.Evidence.Captures, 1)
	assert.Nil(t, r2.rec.Evidence.Captures[0].PNG)
	assert.NotEmpty(t, r2.rec.Evidence.Captures[0].Reason, "the report says why there is no capture")
	assert.Len(t, ver.Checks, 5, "with the archive tags of version 1")
	require.NotNil(t, r2.rec.Evidence.Promotion)
	evp := *r2.rec.Evidence.Promotion
	require.NotNil(t, evp.Comparison, "promote compared the two models")
	assert.False(t, evp.Comparison.Same)
	assert.Equal(t, "2", evp.Comparison.Candidate.Version)
	assert.Equal(t, "1", evp.Comparison.Production.Version)
	assert.NotEqual(t, evp.Comparison.Candidate.Files["model.json"], evp.Comparison.Production.Files["model.json"])
	assert.Equal(t, evp.Comparison.Candidate.Files["MLmodel"], evp.Comparison.Production.Files["MLmodel"], "MLmodel without its run's fields")
	evp.Comparison = nil
	assert.Equal(t, record.Promotion{
		Kind: record.PromotionPromote, Model: model, Alias: "production-live", CandidateAlias: "staging-candidate",
		Version: "2", Previous: "1", AtStart: "1", Moved: true, Time: prom.At, By: "tester@test-host",
	}, evp)

	// The same run again: its version is reused, unless a new one is asked.
	r3 := newScenarioRun(t, c, false)
	r3.must("register", func() { v = steps.Register(r3.pb, best, steps.RegisterOptions{Model: model}) })
	assert.True(t, v.Reused)
	assert.Equal(t, "2", v.Version)
	assert.Empty(t, r3.rec.Evidence.Calls, "nothing registered")
	assert.Len(t, readState(t, c, model).Versions, 2)
	r3.must("register", func() { v = steps.Register(r3.pb, best, steps.RegisterOptions{Model: model, NewVersion: true}) })
	assert.Equal(t, "3", v.Version)
	assert.True(t, v.Created)

	// Rollback: production goes back to version 1, with the reason.
	r4 := newScenarioRun(t, c, false)
	for _, tt := range []struct {
		name string
		opts steps.RollbackOptions
		err  string
	}{
		{"ErrNoReason", steps.RollbackOptions{Model: model}, "no reason given"},
		{"ErrMissingVersion", steps.RollbackOptions{Model: model, To: "99", Reason: "x"}, "version 99 of \"" + model + "\" does not exist"},
		{"ErrSameVersion", steps.RollbackOptions{Model: model, To: "2", Reason: "x"}, "already holds production-live"},
		{"ErrMissingModel", steps.RollbackOptions{Model: model + "-nope", Reason: "x"}, "not found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := r4.step("rollback", func() { steps.Rollback(r4.pb, tt.opts) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.err)
		})
	}
	assert.Equal(t, "2", readState(t, c, model).Aliases["production-live"], "a refused rollback changes nothing")
	r4.must("rollback", func() {
		prom = steps.Rollback(r4.pb, steps.RollbackOptions{Model: model, Reason: "drift on the October cohort"})
	})
	assert.Equal(t, "1", prom.Version)
	assert.Equal(t, "2", prom.Previous)
	st = readState(t, c, model)
	assert.Equal(t, "1", st.Aliases["production-live"])
	assert.Equal(t, "drift on the October cohort", st.Versions["1"]["rollback_reason"])
	assert.Equal(t, "2", st.Versions["1"]["rolled_back_from"])
	assert.NotContains(t, st.Versions["1"], "archived", "the restored version is no longer archived")
	assert.Equal(t, "true", st.Versions["2"]["archived"])
	assert.Equal(t, "1", st.Versions["2"]["superseded_by"])
	r4.must("verify", func() { ver = steps.Verify(r4.pb, prom) })
	assert.True(t, ver.Passed)
}

// TestValidateFails: thresholds no model meets tag the version failed and
// refuse; promote then refuses too, reading the status back.
func TestValidateFails(t *testing.T) {
	c := newClient(t)
	model := uniqueName("ValidateFails")
	r := newScenarioRun(t, c, false)
	var (
		best *steps.BestRun
		v    *steps.Version
		cand *steps.Candidate
	)
	r.must("identify", func() {
		best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: trainedExperiment(t, c, "weak")})
	})
	r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: model}) })
	r.must("alias", func() { cand = steps.Alias(r.pb, v, "") })

	err := r.step("validate", func() { steps.Validate(r.pb, cand, defaultValidation(0.99)) })
	g := gate(t, err)
	assert.Equal(t, "validate", g.Gate)
	assert.Contains(t, g.Reason, "f1 0.5660 < 0.99")
	tags := readState(t, c, model).Versions["1"]
	assert.Equal(t, "failed", tags["validation_status"], "tagged before refusing")
	fig := validationFigures(t, tags)
	require.Len(t, fig.FailedChecks, 1)
	assert.Contains(t, fig.FailedChecks[0], "f1")
	require.NotNil(t, r.rec.Evidence.Validation)
	assert.False(t, r.rec.Evidence.Validation.Passed)
	assert.NotEmpty(t, r.outputs("validate", record.OutputPlot), "the plots are kept on failure too")

	err = r.step("promote", func() { steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
	g = gate(t, err)
	assert.Contains(t, g.Reason, "validation_status=failed (read back from the registry)")
	assert.NotContains(t, readState(t, c, model).Aliases, "production-live")

	// A later validation that passes, on data from a CSV file, clears the
	// failed checks.
	csv := "validation.csv" // in the scenario's folder
	f, err := os.Create(filepath.Join(r.dir, csv))
	require.NoError(t, err)
	require.NoError(t, churn.WriteCSV(f, churn.GenerateDataset(1500, 99)))
	require.NoError(t, f.Close())
	opts := defaultValidation(0.5)
	opts.Data = csv
	var val *steps.ValidationResult
	r.must("validate", func() { val = steps.Validate(r.pb, cand, opts) })
	assert.Equal(t, 1500, val.Rows)
	tags = readState(t, c, model).Versions["1"]
	assert.Equal(t, "passed", tags["validation_status"])
	fig = validationFigures(t, tags)
	assert.Equal(t, csv, fig.Data)
	assert.Equal(t, 1500, fig.Rows)
	assert.Empty(t, fig.FailedChecks, "the failed checks cleared")
}

// TestPromoteRefusesWhenProductionMoved: someone promotes between the start
// of the scenario and its promote step.
func TestPromoteRefusesWhenProductionMoved(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	model := uniqueName("Moved")
	r := newScenarioRun(t, c, false)
	best, _, cand := r.candidate(c, model)
	var prom *steps.Promotion
	require.NoError(t, c.SetModelVersionTag(ctx, model, "1", "validation_status", "passed"))

	// Another team registers and promotes version 2 meanwhile.
	other, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: model, Source: best.ModelSource, RunID: best.RunID})
	require.NoError(t, err)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, "production-live", other.Version))

	err = r.step("promote", func() { steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
	g := gate(t, err)
	assert.Contains(t, g.Reason, "production-live of "+model+" moved from no version (when this scenario started) to version 2 since")
	assert.Contains(t, g.Reason, "force=true")
	assert.Equal(t, "2", readState(t, c, model).Aliases["production-live"], "refused: nothing changed")

	r.must("promote", func() { prom = steps.Promote(r.pb, cand, steps.PromoteOptions{Force: true}) })
	assert.True(t, prom.Forced)
	assert.Equal(t, "2", prom.Previous)
	st := readState(t, c, model)
	assert.Equal(t, "1", st.Aliases["production-live"])
	assert.Equal(t, "true", st.Versions["2"]["archived"], "the version forced out is archived, not lost")

	// The candidate alias moved away: promote refuses too.
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, "staging-candidate", "2"))
	err = r.step("promote", func() { steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
	assert.Contains(t, gate(t, err).Reason, "models:/"+model+"@staging-candidate points to version 2, not to version 1")

	// Verify lists every check the end state fails, and fails the step
	// (not a refusal: exit 1).
	require.NoError(t, c.DeleteModelVersionTag(ctx, model, "1", "validation_status"))
	err = r.step("verify", func() { steps.Verify(r.pb, prom) })
	require.Error(t, err)
	var g2 *steps.GateError
	assert.False(t, errors.As(err, &g2), "a failed verification is not a gate refusal")
	assert.Equal(t, "verify: 2 of 5 checks failed:\n"+
		"- staging-candidate → version 1: points to version 2\n"+
		"- version 1: validation_status=passed: no tag validation_status", err.Error())
	checks := r.rec.Evidence.Checks
	require.Len(t, checks, 5)
	assert.True(t, checks[0].Pass, "production-live → version 1")
	assert.False(t, checks[1].Pass)
}

// TestDryRunChangesNothing runs every step with --dry-run against a model
// in production: the registry is the same after, every change is recorded
// as not sent, and the steps see the planned state.
func TestDryRunChangesNothing(t *testing.T) {
	c := newClient(t)
	model := uniqueName("DryRun")
	live := newScenarioRun(t, c, false)
	var (
		best *steps.BestRun
		v    *steps.Version
		cand *steps.Candidate
		prom *steps.Promotion
		m    *steps.LoadedModel
	)
	live.must("identify", func() {
		best = steps.Identify(live.pb, steps.IdentifyOptions{Experiment: trainedExperiment(t, c, "weak")})
	})
	live.must("register", func() { v = steps.Register(live.pb, best, steps.RegisterOptions{Model: model}) })
	live.must("alias", func() { cand = steps.Alias(live.pb, v, "") })
	live.must("validate", func() { steps.Validate(live.pb, cand, defaultValidation(0.5)) })
	live.must("promote", func() { steps.Promote(live.pb, cand, steps.PromoteOptions{}) })
	before := readState(t, c, model)

	r := newScenarioRun(t, c, true)
	r.must("identify", func() {
		best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: trainedExperiment(t, c, "strong")})
	})
	r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: model}) })
	assert.Equal(t, steps.DryRunVersion, v.Version)
	r.must("alias", func() { cand = steps.Alias(r.pb, v, "") })
	r.must("validate", func() { steps.Validate(r.pb, cand, defaultValidation(0.5)) })
	r.must("promote", func() { prom = steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
	assert.True(t, prom.DryRun)
	r.must("load", func() { m = steps.Load(r.pb, "models:/"+model+"@production-live") })
	assert.Equal(t, steps.DryRunVersion, m.Version, "load sees the planned alias")
	assert.True(t, m.Planned)
	r.must("verify", func() { steps.Verify(r.pb, prom) })

	assert.Equal(t, before, readState(t, c, model), "the registry did not change")
	require.NotEmpty(t, r.rec.Evidence.Calls)
	endpoints := map[string]bool{}
	for _, call := range r.rec.Evidence.Calls {
		assert.True(t, call.DryRun, "%s %s", call.Method, call.Endpoint)
		assert.Equal(t, steps.OutcomeNotSent, call.Outcome)
		endpoints[call.Endpoint] = true
	}
	for _, e := range []string{"model-versions/create", "registered-models/alias", "model-versions/set-tag"} {
		assert.True(t, endpoints["/api/2.0/mlflow/"+e], "the dry run recorded %s", e)
	}
	// The calls are shown once, in the report's audit (marked dry run
	// there), not as a table under each step.
	for _, tb := range r.outputs("promote", record.OutputTable) {
		assert.NotContains(t, tb.Title, "Registry changes")
	}

	// A dry run on a model that does not exist yet creates nothing.
	fresh := uniqueName("DryRunFresh")
	r = newScenarioRun(t, c, true)
	r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: fresh}) })
	assert.True(t, v.ModelCreated)
	r.must("alias", func() { cand = steps.Alias(r.pb, v, "") })
	r.must("validate", func() { steps.Validate(r.pb, cand, defaultValidation(0.5)) })
	r.must("promote", func() { prom = steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
	r.must("load", func() { m = steps.Load(r.pb, "models:/"+fresh+"@production-live") })
	r.must("verify", func() { steps.Verify(r.pb, prom) })
	_, err := c.GetRegisteredModel(t.Context(), fresh)
	assert.ErrorIs(t, err, mlflow.ErrNotFound, "the model was not created")
}

// TestLoadErrors: what Load says when it cannot load.
func TestLoadErrors(t *testing.T) {
	c := newClient(t)
	ctx := t.Context()
	model := uniqueName("LoadErrors")
	_, err := c.CreateRegisteredModel(ctx, model, nil, "")
	require.NoError(t, err)

	// A version whose MLmodel has neither playbook's flavor nor pyfunc,
	// and one whose pyfunc flavor does not load.
	exp, err := c.GetOrCreateExperiment(ctx, uniqueName("load-flavor"))
	require.NoError(t, err)
	run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID})
	require.NoError(t, err)
	for alias, mlmodel := range map[string]string{
		"keras": "flavors:\n  keras:\n    data: data\n  onnx:\n    data: model.onnx\n",
		"sk":    "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n  sklearn:\n    pickled_model: model.pkl\n",
	} {
		require.NoError(t, c.UploadArtifact(ctx, run.Info.ArtifactURI, alias+"/MLmodel", bytes.NewReader([]byte(mlmodel))))
		mv, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: model, Source: run.Info.ArtifactURI + "/" + alias, RunID: run.Info.RunID})
		require.NoError(t, err)
		_, err = c.WaitModelVersionReady(ctx, model, mv.Version, time.Minute)
		require.NoError(t, err)
		require.NoError(t, c.SetRegisteredModelAlias(ctx, model, alias, mv.Version))
	}

	tests := []struct {
		name string
		uri  string
		want []string
		is   error
	}{
		{"ErrMissingModel", "models:/" + model + "-nope@production-live", []string{`registered model "` + model + `-nope" not found`}, mlflow.ErrNotFound},
		{"ErrMissingAlias", "models:/" + model + "@production-live", []string{`model "` + model + `" has no alias "production-live"`}, mlflow.ErrNotFound},
		{"ErrMissingVersion", "models:/" + model + "/42", []string{`model "` + model + `" has no version 42`}, mlflow.ErrNotFound},
		{"ErrStage", "models:/" + model + "/Production", []string{"stages", "deprecated"}, mlflow.ErrInvalidParameter},
		{"ErrFlavor", "models:/" + model + "@keras", []string{"has flavor keras, onnx", `its own "playbook_churn" models, or any model with MLflow's "python_function" flavor`}, nil},
		{"ErrPyfuncLoad", "models:/" + model + "@sk", []string{"models:/" + model + "@sk (version ", "in Python: KeyError: 'model_path'"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newScenarioRun(t, c, false)
			err := r.step("load", func() { steps.Load(r.pb, tt.uri) })
			require.Error(t, err)
			for _, s := range tt.want {
				assert.Contains(t, err.Error(), s)
			}
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			if tt.name == "ErrFlavor" {
				var fe *churn.FlavorError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, []string{"keras", "onnx"}, fe.Flavors)
			}
		})
	}
}

// TestValidateBadOptions: options are checked before anything is read or
// sent, with errors that say what is wrong.
func TestValidateBadOptions(t *testing.T) {
	cand := &steps.Candidate{Model: "M", Version: "1", Alias: "staging-candidate"}
	th := func(m steps.MetricThreshold) map[string]steps.MetricThreshold {
		return map[string]steps.MetricThreshold{"f1": m}
	}
	badCSV := "bad.csv" // written in each run's scenario folder
	tests := []struct {
		name string
		opts steps.ValidateOptions
		want string
		is   error
	}{
		{"ErrUnknownMetric", steps.ValidateOptions{Thresholds: map[string]steps.MetricThreshold{"auc": {Threshold: steps.Float(0.5), GreaterIsBetter: true}}}, "for auc: unknown metric", steps.ErrThreshold},
		{"ErrEmptyThreshold", steps.ValidateOptions{Thresholds: th(steps.MetricThreshold{GreaterIsBetter: true})}, "no threshold", steps.ErrThreshold},
		{"ErrDirection", steps.ValidateOptions{Thresholds: th(steps.MetricThreshold{Threshold: steps.Float(0.5)})}, "f1 is better when greater: set GreaterIsBetter: true", steps.ErrThreshold},
		{"ErrLogLossDirection", steps.ValidateOptions{Thresholds: map[string]steps.MetricThreshold{"log_loss": {Threshold: steps.Float(0.5), GreaterIsBetter: true}}}, "log_loss is better when smaller", steps.ErrThreshold},
		{"ErrAbsoluteChange", steps.ValidateOptions{Thresholds: th(steps.MetricThreshold{MinAbsoluteChange: steps.Float(0), GreaterIsBetter: true})}, "min_absolute_change 0: must be a positive number", steps.ErrThreshold},
		{"ErrRelativeChange", steps.ValidateOptions{Thresholds: th(steps.MetricThreshold{MinRelativeChange: steps.Float(1.5), GreaterIsBetter: true})}, "min_relative_change 1.5: must be between 0 and 1", steps.ErrThreshold},
		{"ErrFairness", steps.ValidateOptions{MaxDemographicParity: -0.1}, "must not be negative", nil},
		{"ErrMissingCSV", steps.ValidateOptions{Data: "missing.csv"}, `validation data "missing.csv" in the scenario's folder`, os.ErrNotExist},
		{"ErrBadCSV", steps.ValidateOptions{Data: badCSV}, "validation data " + badCSV, nil},
		{"ErrRows", steps.ValidateOptions{Rows: 5}, "5 rows: want at least 10", nil},
		{"ErrSeed", steps.ValidateOptions{Seed: -1}, "seed -1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newScenarioRun(t, nil, false) // no server: nothing may be read
			require.NoError(t, os.WriteFile(filepath.Join(r.dir, badCSV), []byte("customerID,gender\nx,y\n"), 0o644))
			err := r.step("validate", func() { steps.Validate(r.pb, cand, tt.opts) })
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotErrorIs(t, err, steps.ErrNoServer, "refused before reaching the registry")
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
		})
	}
}

// TestNoServer: a step without a tracking server says so.
func TestNoServer(t *testing.T) {
	r := newScenarioRun(t, nil, false)
	err := r.step("identify", func() { steps.Identify(r.pb, steps.IdentifyOptions{Experiment: "x"}) })
	assert.ErrorIs(t, err, steps.ErrNoServer)
}

// TestTrainRuns logs runs through a cell's Playbook, and nothing in a dry run.
func TestTrainRuns(t *testing.T) {
	c := newClient(t)
	exp := uniqueName("trainruns")
	r := newScenarioRun(t, c, true)
	var res *steps.TrainResult
	r.must("train", func() { res = steps.TrainRuns(r.pb, steps.TrainOptions{Experiment: exp, Runs: 1, Rows: 500}) })
	assert.Empty(t, res.Runs)
	_, err := c.GetExperimentByName(t.Context(), exp)
	assert.ErrorIs(t, err, mlflow.ErrNotFound, "a dry run creates nothing")

	r = newScenarioRun(t, c, false)
	r.must("train", func() { res = steps.TrainRuns(r.pb, steps.TrainOptions{Experiment: exp, Runs: 2, Rows: 500, Seed: 1}) })
	require.Len(t, res.Runs, 2)
	tables := r.outputs("train", record.OutputTable)
	require.Len(t, tables, 1)
	assert.Len(t, tables[0].Table.Rows, 2)
	got, err := c.GetRun(t.Context(), res.Runs[0].RunID)
	require.NoError(t, err)
	user, _ := got.Tag("mlflow.user")
	assert.Equal(t, "tester", user, "the run's user is the scenario's")
	assert.True(t, strings.HasPrefix(res.Runs[0].RunName, "churn-logreg-"))
}

// TestAliasRefusesProductionAlias: a candidate alias equal to the production
// alias would put an unvalidated version in production; it is refused
// before any call.
func TestAliasRefusesProductionAlias(t *testing.T) {
	rec := &record.Run{Schema: record.Schema, Cells: []record.Cell{{Step: "alias"}}}
	pb, ctl := notebook.New(notebook.Options{Run: rec})
	ctl.Begin(t.Context(), "alias")
	t.Cleanup(ctl.Close)
	err := catch(func() {
		steps.Alias(pb, &steps.Version{Model: "M", Version: "2"}, "production-live", "production-live")
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `the candidate alias "production-live" is also the production alias`)
	assert.Empty(t, rec.Evidence.Calls)
}

// TestVerifyCapture: verify asks the run's capturer for the model's page,
// aliases to wait for sorted, and keeps the PNG; without a capturer, or
// when the capture fails, the evidence says why there is none.
func TestVerifyCapture(t *testing.T) {
	// A server that answers /version as MLflow does, so that the page is
	// the MLflow UI's (TestVerifyCapturesEmbeddedPage has the embedded
	// server's registry page).
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.EmbeddedWith(t, server.Config{Version: "3.18.0"})))
	require.NoError(t, err)
	ctx := t.Context()
	model := uniqueName("Capture")
	r := newScenarioRun(t, c, false)
	_, v, cand := r.candidate(c, model)
	var prom *steps.Promotion
	require.NoError(t, c.SetModelVersionTag(ctx, model, v.Version, steps.TagValidationStatus, steps.StatusPassed))
	r.must("promote", func() { prom = steps.Promote(r.pb, cand, steps.PromoteOptions{}) })

	var asked []string
	png := []byte("\x89PNG fake")
	tests := []struct {
		name    string
		capture *notebook.Capturer
		reason  string // "" when a PNG is kept
	}{
		{name: "OK", capture: &notebook.Capturer{Width: 10, Height: 20, ModelPage: func(_ context.Context, url, model string, aliases []string) ([]byte, error) {
			asked = append([]string{url, model}, aliases...)
			return png, nil
		}}},
		{name: "NoCapturer", reason: "this run has no browser to capture the MLflow UI with"},
		{name: "Fails", capture: &notebook.Capturer{Width: 10, Height: 20, ModelPage: func(context.Context, string, string, []string) ([]byte, error) {
			return nil, errors.New("browser: no Chromium")
		}}, reason: "no capture of the MLflow UI: browser: no Chromium"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newCaptureRun(t, c, false, tt.capture)
			var ver *steps.Verification
			r.must("verify", func() { ver = steps.Verify(r.pb, prom) })
			require.Len(t, r.rec.Evidence.Captures, 1)
			got := r.rec.Evidence.Captures[0]
			assert.Equal(t, ver.ModelURL, got.URL)
			assert.Equal(t, tt.reason, got.Reason)
			if tt.reason != "" {
				assert.Nil(t, got.PNG)
				return
			}
			assert.Equal(t, png, got.PNG)
			assert.Equal(t, []int{10, 20}, []int{got.Width, got.Height})
			assert.Equal(t, []string{ver.ModelURL, model, "production-live", "staging-candidate"}, asked)
		})
	}
}

// TestProductionNotDemoted: a re-run whose best run is already in
// production neither sets it back to pending (alias) nor rewrites its
// validation (validate) unless asked; a re-validation that fails says
// production is now on a failed version.
func TestProductionNotDemoted(t *testing.T) {
	c := newClient(t)
	weak := trainedExperiment(t, c, "weak")
	model := uniqueName("NotDemoted")
	r := newScenarioRun(t, c, false)
	var (
		best *steps.BestRun
		v    *steps.Version
		cand *steps.Candidate
	)
	r.must("identify", func() { best = steps.Identify(r.pb, steps.IdentifyOptions{Experiment: weak}) })
	r.must("register", func() { v = steps.Register(r.pb, best, steps.RegisterOptions{Model: model}) })
	r.must("alias", func() { cand = steps.Alias(r.pb, v, "", steps.DefaultProductionAlias) })
	r.must("validate", func() { steps.Validate(r.pb, cand, defaultValidation(0.55)) })
	r.must("promote", func() { steps.Promote(r.pb, cand, steps.PromoteOptions{}) })
	kept := readState(t, c, model).Versions["1"]
	require.Equal(t, "passed", kept["validation_status"])

	r2 := newScenarioRun(t, c, false)
	r2.must("register", func() { v = steps.Register(r2.pb, best, steps.RegisterOptions{Model: model}) })
	require.True(t, v.Reused)
	r2.must("alias", func() { cand = steps.Alias(r2.pb, v, "", steps.DefaultProductionAlias) })
	assert.Equal(t, "passed", readState(t, c, model).Versions["1"]["validation_status"], "alias keeps production's status")
	r2.must("validate", func() { steps.Validate(r2.pb, cand, defaultValidation(0.55)) })
	err := r2.step("validate", func() { steps.Validate(r2.pb, cand, defaultValidation(0.99)) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "which holds production-live, fails 1 check(s) now")
	after := readState(t, c, model).Versions["1"]
	for _, k := range []string{"validation_status", steps.TagValidation} {
		assert.Equal(t, kept[k], after[k], "tag %s kept", k)
	}
	assert.Empty(t, validationFigures(t, after).FailedChecks)

	again := defaultValidation(0.99)
	again.Revalidate = true
	err = r2.step("validate", func() { steps.Validate(r2.pb, cand, again) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "production-live is now on a version that failed validation")
	assert.Equal(t, "failed", readState(t, c, model).Versions["1"]["validation_status"], "re-validated as asked")
}
