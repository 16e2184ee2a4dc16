package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
	"github.com/playbook-mlops/playbook/steps"
)

// scenario returns the path of a file of scenarios/.
func scenario(name string) string {
	return filepath.Join(testenv.RepoRoot(), "scenarios", name)
}

// scenarioIn copies the file name of scenarios/ into dir and returns the
// copy's path: a run of the copy reads its data files (validation_data,
// data) inside dir, the copy's folder, and only there.
func scenarioIn(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(scenario(name))
	require.NoError(t, err)
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// TestScenariosCheck: playbook check passes on every scenario in scenarios/.
func TestScenariosCheck(t *testing.T) {
	files, err := filepath.Glob(scenario("*.md"))
	require.NoError(t, err)
	require.Len(t, files, 5, "churn-training, churn-promotion.fr, churn-promotion.en, churn-rollback, breast-cancer-promotion")
	code, stdout, stderr := runCLI(t, append([]string{"check"}, files...)...)
	require.Equal(t, ExitOK, code, stderr)
	for _, f := range files {
		assert.Contains(t, stdout, f+": ok")
	}
}

// e2e drives playbook against a tracking server and reads the registry
// back through the REST API, never through playbook's record.
type e2e struct {
	t     *testing.T
	uri   string
	c     *mlflow.Client
	model string
}

// run runs playbook with args and the tracking URI, writing the record to
// a new folder, and returns the exit code, stderr and the record (nil when
// none was written). It is safe to call from several goroutines.
func (e *e2e) run(args ...string) (int, string, *record.Run) {
	e.t.Helper()
	out := e.t.TempDir()
	args = append([]string{"run", "--tracking-uri", e.uri, "--quiet", "--out", out}, args...)
	var stdout, stderr bytes.Buffer
	code := run(e.t.Context(), args, &stdout, &stderr)
	var rec *record.Run
	if b, err := os.ReadFile(filepath.Join(out, record.EvidenceFile)); err == nil {
		var rerr error
		rec, rerr = record.Read(bytes.NewReader(b))
		assert.NoError(e.t, rerr) // not require: run may be called from a goroutine
	}
	return code, stderr.String(), rec
}

// promote runs the French scenario on e.model with the experiment exp.
func (e *e2e) promote(exp string, extra ...string) (int, string, *record.Run) {
	e.t.Helper()
	args := []string{scenario("churn-promotion.fr.md"), "-p", "experiment=" + exp, "-p", "model_name=" + e.model}
	return e.run(append(args, extra...)...)
}

// train runs the training scenario.
func (e *e2e) train(exp string, runs, rows, seed int) {
	e.t.Helper()
	code, stderr, _ := e.run(scenario("churn-training.md"), "-p", "experiment="+exp,
		"-p", fmt.Sprint("runs=", runs), "-p", fmt.Sprint("rows=", rows), "-p", fmt.Sprint("seed=", seed))
	require.Equal(e.t, ExitOK, code, stderr)
}

// state is a model's aliases and each version's tags, read through REST.
type state struct {
	Aliases  map[string]string
	Versions map[string]map[string]string
}

func (e *e2e) state(model string) state {
	e.t.Helper()
	ctx := e.t.Context()
	s := state{Aliases: map[string]string{}, Versions: map[string]map[string]string{}}
	rm, err := e.c.GetRegisteredModel(ctx, model)
	require.NoError(e.t, err)
	for _, a := range rm.Aliases {
		s.Aliases[a.Alias] = a.Version
	}
	mvs, err := e.c.SearchAllModelVersions(ctx, "name = '"+model+"'")
	require.NoError(e.t, err)
	for _, mv := range mvs {
		tags := map[string]string{}
		for _, tg := range mv.Tags {
			tags[tg.Key] = tg.Value
		}
		s.Versions[mv.Version] = tags
	}
	return s
}

// figures returns the validation figures of a version's tags: its
// steps.TagValidation, parsed.
func figures(t *testing.T, tags map[string]string) map[string]any {
	t.Helper()
	v, ok := tags[steps.TagValidation]
	require.True(t, ok, "no tag %s in %v", steps.TagValidation, tags)
	var f map[string]any
	require.NoError(t, json.Unmarshal([]byte(v), &f), v)
	return f
}

// bestF1 returns the best f1 of the experiment's FINISHED runs, via REST.
func (e *e2e) bestF1(exp string) float64 {
	e.t.Helper()
	x, err := e.c.GetExperimentByName(e.t.Context(), exp)
	require.NoError(e.t, err)
	runs, err := e.c.SearchAllRuns(e.t.Context(), mlflow.SearchRunsRequest{ExperimentIDs: []string{x.ExperimentID}, Filter: "attributes.status = 'FINISHED'"})
	require.NoError(e.t, err)
	best := math.Inf(-1)
	for _, r := range runs {
		if v, ok := r.Metric("f1"); ok {
			best = math.Max(best, v)
		}
	}
	return best
}

// candidateVersion returns the version a run pointed its candidate alias
// at, from the calls it recorded.
func candidateVersion(rec *record.Run) string {
	for _, c := range rec.Evidence.Calls {
		if strings.HasSuffix(c.Endpoint, "/registered-models/alias") && c.Step == "alias" {
			return fmt.Sprint(c.Args["version"])
		}
	}
	return ""
}

// TestPromotionEndToEnd is issue 4's "Done when": the French exercise run
// again and again, the registry checked through its REST API after each
// run. Against the real MLflow server (TestPromotionEndToEndMLflow, which
// CI runs) and against the embedded one, the default backend.
func TestPromotionEndToEnd(t *testing.T) { promotionEndToEnd(t, mlflowtest.Embedded(t)) }

func TestPromotionEndToEndMLflow(t *testing.T) { promotionEndToEnd(t, testenv.RealMLflow(t)) }

func promotionEndToEnd(t *testing.T, uri string) {
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	stamp := time.Now().UnixNano()
	exp := fmt.Sprintf("e2e-churn-%d", stamp)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("ChurnPredictor-e2e-%d", stamp)}

	// 1. Training, then the French scenario: the first promotion, with no
	// old version; version 1 holds both aliases.
	e.train(exp, 2, 5000, 3)
	code, stderr, rec := e.promote(exp)
	require.Equal(t, ExitOK, code, stderr)
	s := e.state(e.model)
	assert.Equal(t, map[string]string{"production-live": "1", "staging-candidate": "1"}, s.Aliases)
	require.Len(t, s.Versions, 1)
	assert.Equal(t, "passed", s.Versions["1"]["validation_status"])
	assert.Equal(t, "none", s.Versions["1"]["previous_version"])
	assert.NotContains(t, s.Versions["1"], "archived")
	checkFrenchSections(t, rec, e.model, "1", "")

	// 2. Better training runs, then the French scenario again: version 2
	// holds both aliases, version 1 carries the archive tag.
	before := e.bestF1(exp)
	e.train(exp, 2, 5000, 2)
	require.Greater(t, e.bestF1(exp), before, "the new runs are better")
	code, stderr, rec = e.promote(exp)
	require.Equal(t, ExitOK, code, stderr)
	s = e.state(e.model)
	assert.Equal(t, map[string]string{"production-live": "2", "staging-candidate": "2"}, s.Aliases)
	require.Len(t, s.Versions, 2)
	assert.Equal(t, "passed", s.Versions["2"]["validation_status"])
	assert.Equal(t, "true", s.Versions["1"]["archived"])
	assert.Equal(t, "2", s.Versions["1"]["superseded_by"])
	assert.Contains(t, s.Versions["1"], "archived_at")
	assert.Equal(t, "1", s.Versions["2"]["previous_version"])
	assert.Equal(t, "1", figures(t, s.Versions["2"])["champion_version"], "validated against version 1")
	checkFrenchSections(t, rec, e.model, "2", "1")

	// 3. Thresholds no model can meet: the new version is tagged failed,
	// production does not move, exit status 3.
	code, stderr, rec = e.promote(exp, "-p", "min_f1=0.99", "-p", "new_version=true")
	assert.Equal(t, ExitGateRefused, code, stderr)
	assert.Regexp(t, `churn-promotion\.fr\.md:\d+: step validate: refus de validate : .* version 3 a échoué à 1 contrôle\(s\) : f1 0\.\d+ < 0\.99`, stderr)
	assert.Equal(t, record.OutcomeRefused, rec.Environment.Exit.Status)
	s = e.state(e.model)
	require.Len(t, s.Versions, 3)
	assert.Equal(t, "failed", s.Versions["3"]["validation_status"])
	assert.Equal(t, "2", s.Aliases["production-live"], "production unchanged")
	assert.Equal(t, record.StatusNotRun, rec.Cell("promote").Status)

	// 4. The rollback scenario: production back on version 1.
	code, stderr, _ = e.run(scenario("churn-rollback.md"), "-p", "model_name="+e.model, "-p", "reason=complaints about version 2")
	require.Equal(t, ExitOK, code, stderr)
	s = e.state(e.model)
	assert.Equal(t, "1", s.Aliases["production-live"])
	assert.Equal(t, "complaints about version 2", s.Versions["1"]["rollback_reason"])
	assert.Equal(t, "2", s.Versions["1"]["rolled_back_from"])
	assert.NotContains(t, s.Versions["1"], "archived", "restored")
	assert.Equal(t, "true", s.Versions["2"]["archived"])
	assert.Equal(t, "1", s.Versions["2"]["superseded_by"])

	// 5. A re-run with no new training run: no new version is created.
	code, stderr, rec = e.promote(exp)
	require.Equal(t, ExitOK, code, stderr)
	s = e.state(e.model)
	assert.Len(t, s.Versions, 3, "no new version")
	for _, call := range rec.Evidence.Calls {
		assert.NotContains(t, call.Endpoint, "model-versions/create")
	}
	assert.Equal(t, s.Aliases["production-live"], s.Aliases["staging-candidate"])

	// 6. --dry-run: nothing in the registry changes, though the run plans
	// a new version and its validation; the new version being production's
	// model registered again, the promotion it plans leaves production
	// unchanged.
	s = e.state(e.model)
	code, stderr, rec = e.promote(exp, "--dry-run", "-p", "new_version=true")
	require.Equal(t, ExitOK, code, stderr)
	assert.Equal(t, s, e.state(e.model), "the registry is unchanged")
	assert.True(t, rec.Environment.DryRun)
	require.NotEmpty(t, rec.Evidence.Calls)
	for _, call := range rec.Evidence.Calls {
		assert.True(t, call.DryRun, "%s %s", call.Method, call.Endpoint)
	}
	require.NotNil(t, rec.Evidence.Promotion)
	assert.Equal(t, "(dry-run)", rec.Evidence.Promotion.Candidate)
	assert.Equal(t, s.Aliases["production-live"], rec.Evidence.Promotion.Version)
	assert.Equal(t, s.Aliases["production-live"], rec.Evidence.Promotion.SameAs)

	// 6b. The same run's model registered again (a new version of the
	// same fitted model): validated, but production does not move, and
	// the French report says "Inchangé" with the reason.
	s = e.state(e.model)
	prod := s.Aliases["production-live"]
	code, stderr, rec = e.promote(exp, "-p", "new_version=true")
	require.Equal(t, ExitOK, code, stderr)
	after := e.state(e.model)
	same := fmt.Sprint(len(s.Versions) + 1)
	require.Len(t, after.Versions, len(s.Versions)+1)
	assert.Equal(t, map[string]string{"production-live": prod, "staging-candidate": same}, after.Aliases, "production stays")
	assert.Equal(t, s.Versions[prod], after.Versions[prod], "production's tags unchanged")
	assert.Equal(t, "passed", after.Versions[same]["validation_status"])
	assert.NotContains(t, after.Versions[same], "promoted_at")
	p := rec.Evidence.Promotion
	require.NotNil(t, p)
	assert.False(t, p.Moved)
	assert.Equal(t, prod, p.SameAs)
	assert.Equal(t, same, p.Candidate)
	require.NotNil(t, p.Comparison)
	assert.True(t, p.Comparison.Same)
	assert.Equal(t, p.Comparison.Production.Digest, p.Comparison.Candidate.Digest)
	for _, call := range rec.Evidence.Calls {
		assert.NotEqual(t, "promote", call.Step, "promote changed nothing: %s %v", call.Endpoint, call.Args)
	}
	var page bytes.Buffer
	require.NoError(t, report.HTML(&page, rec))
	assert.Contains(t, page.String(), "Inchangé")
	assert.Contains(t, page.String(), "version candidate "+same+" : mêmes paramètres ajustés que la version "+prod)

	// 7. Two promotions racing on the same model: one is refused with a
	// message saying why, and nothing is silently lost. Two teams train
	// their own candidates; first with one candidate alias (the race is
	// decided on it, usually at validate), then each with its own (decided
	// on the production alias, at promote).
	e.train(exp+"-team-a", 1, 5000, 3)
	e.train(exp+"-team-b", 1, 5000, 2)
	e.race(exp, e.model+"-race", nil)
	e.race(exp, e.model+"-race2", [][]string{{"-p", "candidate_alias=team-a"}, {"-p", "candidate_alias=team-b"}})
}

// race runs the French scenario twice at once on model, with the
// experiments exp-team-a and exp-team-b, and checks that exactly one
// promotion wins and the other is refused with a message saying why.
func (e *e2e) race(exp, model string, extra [][]string) {
	t := e.t
	t.Helper()
	type result struct {
		code   int
		stderr string
		rec    *record.Run
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, team := range []string{"-team-a", "-team-b"} {
		wg.Go(func() {
			r := &e2e{t: t, uri: e.uri, c: e.c, model: model}
			var args []string
			if extra != nil {
				args = extra[i]
			}
			code, stderr, rec := r.promote(exp+team, args...)
			results[i] = result{code, stderr, rec}
		})
	}
	wg.Wait()
	var won, lost []result
	for _, r := range results {
		if r.code == ExitOK {
			won = append(won, r)
		} else {
			lost = append(lost, r)
		}
	}
	require.Len(t, won, 1, "exactly one promotion wins: %+v", results)
	loser := lost[0]
	t.Logf("race on %s: the loser exited %d: %s", model, loser.code, strings.TrimSpace(loser.stderr))
	assert.Contains(t, []int{ExitGateRefused, ExitStepFailed}, loser.code)
	assert.Regexp(t, regexp.MustCompile(`quelqu'un l'a déplacé entre-temps|quelqu'un d'autre a changé la production entre-temps|une autre promotion l'a déplacé entre-temps|une autre promotion le déplace en ce moment|checks failed`), loser.stderr,
		"the refusal says why")
	s := e.state(model)
	winner := candidateVersion(won[0].rec)
	require.NotEmpty(t, winner)
	assert.Equal(t, winner, s.Aliases["production-live"], "production holds the winner's version")
	assert.Equal(t, "passed", s.Versions[winner]["validation_status"])
	assert.Contains(t, s.Versions[winner], "promoted_at")
	require.Len(t, s.Versions, 2, "both versions are registered: the loser's is still there")
	if v := candidateVersion(loser.rec); v != "" {
		assert.NotEqual(t, winner, v, "two distinct candidates")
		assert.NotEqual(t, v, s.Aliases["production-live"])
	}
}

// checkFrenchSections checks the French scenario's record section by
// section: each of the exercise's seven sections holds its cells, and each
// cell produced what its section asks for.
func checkFrenchSections(t *testing.T, rec *record.Run, model, version, old string) {
	t.Helper()
	require.NotNil(t, rec)
	assert.Equal(t, "fr", rec.Scenario.Lang)
	assert.Equal(t, record.OutcomeOK, rec.Environment.Exit.Status)

	// The sections, in order, and the cells under each.
	want := [][]string{{"identify", "register"}, {"alias"}, {"validate"}, {"promote"}, {"load"}, {"serve", "infer"}, {"verify"}}
	section := 0
	got := make([][]string, 7)
	for _, b := range rec.Scenario.Blocks {
		if b.Kind == record.BlockProse {
			for line := range strings.SplitSeq(b.Markdown, "\n") {
				if strings.HasPrefix(line, "## ") {
					section++
					assert.True(t, strings.HasPrefix(line, fmt.Sprintf("## %d — ", section)), "section %d heading: %q", section, line)
				}
			}
			continue
		}
		require.True(t, section >= 1 && section <= 7, "cell %s outside the seven sections", b.Step)
		got[section-1] = append(got[section-1], b.Step)
	}
	assert.Equal(t, 7, section, "seven sections")
	assert.Equal(t, want, got)

	outputs := func(step, kind string) []record.Output {
		cell := rec.Cell(step)
		require.NotNil(t, cell, step)
		require.Equal(t, record.StatusOK, cell.Status, "cell %s", step)
		var out []record.Output
		for _, o := range cell.Outputs {
			if o.Kind == kind {
				out = append(out, o)
			}
		}
		return out
	}
	kv := func(o record.Output, key string) string {
		for _, p := range o.KV {
			if p.Key == key {
				return p.Value
			}
		}
		t.Errorf("%s: no key %q in %+v", o.Title, key, o.KV)
		return ""
	}
	titled := func(outs []record.Output, title string) record.Output {
		for _, o := range outs {
			if strings.HasPrefix(o.Title, title) {
				return o
			}
		}
		t.Fatalf("no output titled %q in %+v", title, outs)
		return record.Output{}
	}

	// 1. Identify and register the best model.
	lb := titled(outputs("identify", record.OutputTable), "Classement")
	assert.NotEmpty(t, lb.Table.Rows)
	assert.Len(t, outputs("identify", record.OutputPlot), 1)
	require.NotNil(t, rec.Evidence.Leaderboard)
	assert.Equal(t, "f1", rec.Evidence.Leaderboard.Metric)
	best := titled(outputs("identify", record.OutputKV), "Meilleur run")
	assert.Equal(t, rec.Evidence.Leaderboard.Rows[0].RunID, kv(best, "run_id"))
	require.Len(t, outputs("register", record.OutputSnapshot), 1)
	assert.Equal(t, "before", outputs("register", record.OutputSnapshot)[0].Snapshot.Label)
	reg := titled(outputs("register", record.OutputKV), "Version enregistrée")
	assert.Equal(t, version, kv(reg, "version"))
	assert.Equal(t, "READY", kv(reg, "statut"))

	// 2. The candidate alias and its tags.
	cand := titled(outputs("alias", record.OutputKV), "Candidat")
	assert.Equal(t, "staging-candidate", kv(cand, "alias"))
	assert.Equal(t, "pending", kv(cand, "tag validation_status"))

	// 3. Validation: performance, fairness, plots, verdict.
	v := titled(outputs("validate", record.OutputKV), "Validation")
	assert.Equal(t, "validation_status=passed", kv(v, "verdict"))
	checks := titled(outputs("validate", record.OutputTable), "Contrôles de validation")
	assert.Len(t, checks.Table.Rows, 8, "f1 and roc_auc: threshold and champion; fairness: 2 attributes × 2")
	for _, row := range checks.Table.Rows {
		assert.NotEqual(t, "ÉCHEC", row[4], "check %s", row[0])
	}
	titled(outputs("validate", record.OutputTable), "Équité par groupe")
	assert.Len(t, outputs("validate", record.OutputPlot), 5)
	require.NotNil(t, rec.Evidence.Validation)
	assert.True(t, rec.Evidence.Validation.Passed)
	assert.Equal(t, old, rec.Evidence.Validation.Champion)

	// 4. Promotion, and the old version archived.
	p := titled(outputs("promote", record.OutputKV), "Promotion")
	if old == "" {
		assert.Equal(t, "production-live: aucune version → version "+version, kv(p, "production"))
	} else {
		assert.Equal(t, "production-live: version "+old+" → version "+version, kv(p, "production"))
		assert.Contains(t, kv(p, "archivée"), "version "+old)
	}

	// 5. Loaded by the alias alone.
	l := titled(outputs("load", record.OutputKV), "Modèle chargé")
	assert.Equal(t, "models:/"+model+"@production-live", kv(l, "URI"))
	assert.Equal(t, model+" version "+version, kv(l, "résolu en"))

	// 6. Predictions for five customers.
	preds := titled(outputs("infer", record.OutputTable), "Prédictions")
	assert.Len(t, preds.Table.Rows, 5)

	// 7. The end state, checked, and the model's page.
	after := outputs("verify", record.OutputSnapshot)
	require.Len(t, after, 1)
	assert.Equal(t, version, after[0].Snapshot.Aliases["production-live"])
	assert.Equal(t, version, after[0].Snapshot.Aliases["staging-candidate"])
	end := titled(outputs("verify", record.OutputTable), "État final")
	wantChecks := 3
	if old != "" {
		wantChecks = 5
	}
	assert.Len(t, end.Table.Rows, wantChecks)
	for _, row := range end.Table.Rows {
		assert.Equal(t, "réussi", row[2], "check %s", row[0])
	}
	assert.Contains(t, outputs("verify", record.OutputStdout)[0].Text, "/#/models/"+model)
}
