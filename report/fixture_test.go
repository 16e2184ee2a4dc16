package report

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/playbook-mlops/playbook/record"
)

// XSS is the value the tests set on a model version, and elsewhere: it
// must show as text, inert, in every report.
const XSS = `<script>alert(1)</script><img src=x onerror=alert(2)>`

// fixtureStart is when every fixture run starts: goldens need fixed times.
var fixtureStart = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return fixtureStart.Add(d) }

func fptr(f float64) *float64 { return &f }
func bptr(b bool) *bool       { return &b }

// FixtureRun returns a run record built for the tests, fixed to the byte,
// named by the outcome it shows:
//
//   - "promoted.en": an English promotion that went through, every output
//     kind, a champion, a leaderboard, a validation, the end-state checks,
//     a capture of the MLflow UI, and the XSS string as a tag value;
//   - "refused.fr": a French promotion whose validation refused the
//     candidate: the cells after it not run, no capture;
//   - "failed.en": a run without a tracking server whose register step
//     failed.
func FixtureRun(name string) *record.Run {
	switch name {
	case "promoted.en":
		return promotedRun()
	case "refused.fr":
		return refusedRun()
	case "failed.en":
		return failedRun()
	}
	panic("no fixture " + name)
}

// FixtureNames are the fixtures with golden files.
var FixtureNames = []string{"promoted.en", "refused.fr", "failed.en"}

// curveSVG draws an SVG plot as gonum/plot does: a white background, a
// title, and one curve of n points.
func curveSVG(title string, n int) string {
	var d strings.Builder
	for i := range n {
		x := float64(i) / float64(max(n-1, 1))
		y := math.Sqrt(x)
		if i == 0 {
			d.WriteString("M")
		} else {
			d.WriteString("L")
		}
		fmt.Fprintf(&d, "%.5g,%.5g", 40+300*x, 30+180*y)
	}
	return `<svg width="360pt" height="234pt" viewBox="0 0 360 234"
	xmlns="http://www.w3.org/2000/svg"
	xmlns:xlink="http://www.w3.org/1999/xlink">
<g transform="scale(1, -1) translate(0, -234)">
<path d="M0,0L360,0L360,234L0,234Z" style="fill:#FFFFFF" />
<text x="150" y="-224.61" transform="scale(1, -1)"
	style="font-family:Liberation Serif;font-size:12px">` + title + `</text>
<path d="` + d.String() + `" style="fill:none;stroke:#F15A60;stroke-width:1.5" />
</g>
</svg>
`
}

// capturePNG is a small screenshot: stripes, so that it is not blank.
func capturePNG() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 10))
	for y := range 10 {
		for x := range 16 {
			c := color.RGBA{R: 255, G: 255, B: 255, A: 255}
			if (x/4)%2 == 0 {
				c = color.RGBA{R: 30, G: 110, B: 200, A: 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

const promotedProse = `# Promotion of the churn model

Several churn models were trained as MLflow runs. This scenario picks the
best, registers it, validates it and promotes it **by alias**.

- run it with ` + "`playbook run scenarios/churn-promotion.en.md`" + `;
- see [the MLflow docs](https://mlflow.org/docs/latest/model-registry.html).

| step | does |
| --- | --- |
| identify | ranks the runs |
| promote | moves ` + "`production-live`" + ` |

` + "```sh\nplaybook run scenarios/churn-promotion.en.md --out report/\n```" + `
`

func scenarioBlocks(prose string, steps ...string) []record.Block {
	blocks := []record.Block{{Kind: record.BlockProse, Line: 12, Markdown: prose}}
	for i, s := range steps {
		blocks = append(blocks,
			record.Block{Kind: record.BlockProse, Line: 30 + 20*i, Markdown: fmt.Sprintf("## %d — %s\n\nThe %s step.\n", i+1, s, s)},
			record.Block{Kind: record.BlockCell, Line: 36 + 20*i, Step: s})
	}
	return blocks
}

func cell(step string, i int, code string, status string, start, dur time.Duration, outs ...record.Output) record.Cell {
	c := record.Cell{Step: step, File: "scenarios/churn-promotion.en.md", Line: 37 + 20*i, Code: code,
		Timeout: record.Duration(5 * time.Minute), Outputs: outs, Status: status}
	if status != record.StatusNotRun {
		c.Start, c.Duration = at(start), record.Duration(dur)
	}
	if outs == nil {
		c.Outputs = []record.Output{}
	}
	return c
}

func beforeSnapshot() record.Snapshot {
	return record.Snapshot{Label: "before", Step: "register", Time: at(2 * time.Second), Model: "ChurnPredictor",
		Aliases: map[string]string{"production-live": "1", "staging-candidate": "1"},
		Versions: []record.VersionSnapshot{{Version: "1",
			Tags:    map[string]string{"validation_status": "passed", "source_run_name": "churn-logreg-02", "note": "first"},
			Aliases: []string{"production-live", "staging-candidate"}}}}
}

func afterSnapshot() record.Snapshot {
	return record.Snapshot{Label: "after", Step: "verify", Time: at(40 * time.Second), Model: "ChurnPredictor",
		Aliases: map[string]string{"production-live": "2", "staging-candidate": "2"},
		Versions: []record.VersionSnapshot{
			{Version: "1", Tags: map[string]string{"validation_status": "passed", "source_run_name": "churn-logreg-02",
				"archived": "true", "superseded_by": "2"}, Aliases: []string{}},
			{Version: "2", Tags: map[string]string{"validation_status": "passed", "source_run_name": "churn-logreg-01",
				"note": XSS}, Aliases: []string{"production-live", "staging-candidate"}},
		}}
}

func leaderboardEvidence() *record.Leaderboard {
	return &record.Leaderboard{Experiment: "churn-training", ExperimentID: "7", Metric: "f1", Direction: "max",
		TieBreak: "f1 descending, then start time descending, then run id ascending", Finished: 3, Considered: 3, Tied: 1,
		Rows: []record.LeaderboardRow{
			{Rank: 1, RunID: "a1b2c3", RunName: "churn-logreg-01", Value: 0.6110, StartTime: at(-time.Hour), Metrics: map[string]float64{"f1": 0.611, "roc_auc": 0.8142}},
			{Rank: 2, RunID: "d4e5f6", RunName: "churn-logreg-02", Value: 0.6085, StartTime: at(-2 * time.Hour), Metrics: map[string]float64{"f1": 0.6085, "roc_auc": 0.8139}},
			{Rank: 3, RunID: "a7b8c9", RunName: "churn-logreg-03", Value: 0.5611, StartTime: at(-3 * time.Hour), Metrics: map[string]float64{"f1": 0.5611}},
		}}
}

func validateChecks(pass bool) []record.Check {
	f1 := 0.5987
	if !pass {
		f1 = 0.41
	}
	return []record.Check{
		{Step: "validate", Kind: record.CheckThreshold, Name: "f1 >= 0.55", Metric: "f1", Value: fptr(f1), Champion: fptr(0.5901), Limit: fptr(0.55), Pass: pass,
			Detail: fmt.Sprintf("f1 %.4f %s 0.55", f1, map[bool]string{true: ">=", false: "<"}[pass])},
		{Step: "validate", Kind: record.CheckChampion, Name: "f1 >= champion + 0", Metric: "f1", Value: fptr(f1), Champion: fptr(0.5901), Limit: fptr(0.5901), Pass: pass,
			Detail: "compared with version 1"},
		{Step: "validate", Kind: record.CheckThreshold, Name: "roc_auc >= 0.75", Metric: "roc_auc", Value: fptr(0.8287), Champion: fptr(0.8201), Limit: fptr(0.75), Pass: true,
			Detail: "roc_auc 0.8287 >= 0.75"},
		{Step: "validate", Kind: record.CheckFairness, Name: "demographic parity difference (gender) <= 0.2", Metric: "dp_diff.gender", Value: fptr(0.0114), Limit: fptr(0.2), Pass: true,
			Detail: "demographic parity difference by gender 0.0114 <= 0.2"},
	}
}

func validationEvidence(pass bool) *record.Validation {
	f1 := 0.5987
	if !pass {
		f1 = 0.41
	}
	v := &record.Validation{Model: "ChurnPredictor", Version: "2", Alias: "staging-candidate", Champion: "1", ChampionAlias: "production-live",
		Data: "synthetic(rows=2000, seed=2024)", Rows: 2000,
		Candidate:       map[string]float64{"f1": f1, "roc_auc": 0.8287, "precision": 0.5175},
		ChampionMetrics: map[string]float64{"f1": 0.5901, "roc_auc": 0.8201, "precision": 0.5312},
		Fairness: []record.FairnessReport{{Attribute: "gender", DemographicParityDifference: 0.0114, EqualizedOddsDifference: 0.0257,
			Groups: []record.GroupRates{{Group: "Female", Count: 932, SelectionRate: 0.3369, TPR: 0.7203, FPR: 0.2069}, {Group: "Male", Count: 1068, SelectionRate: 0.3483, TPR: 0.7008, FPR: 0.2326}}}},
		Passed: pass,
	}
	if !pass {
		v.Failed = []string{"f1 0.4100 < 0.55", "f1 0.4100 < 0.5901 (champion v1 0.5901)"}
	}
	return v
}

func params() []record.Param {
	return []record.Param{
		{Name: "model_name", GoName: "ModelName", Type: record.TypeString, Value: "ChurnPredictor", Source: record.SourceDefault, Description: "the registered model"},
		{Name: "min_f1", GoName: "MinF1", Type: record.TypeNumber, Value: 0.55, Source: record.SourceFlag},
		{Name: "examples", GoName: "Examples", Type: record.TypeInteger, Value: 5, Source: record.SourceDefault},
		{Name: "force", GoName: "Force", Type: record.TypeBool, Value: false, Source: record.SourceDefault},
		{Name: "attributes", GoName: "Attributes", Type: record.TypeList, Value: []any{"gender", "SeniorCitizen"}, Source: record.SourceDefault},
	}
}

func promotedRun() *record.Run {
	steps := []string{"identify", "register", "alias", "validate", "promote", "load", "infer", "verify"}
	before, after := beforeSnapshot(), afterSnapshot()
	lb := leaderboardEvidence()
	r := &record.Run{
		Schema: record.Schema,
		Scenario: record.Scenario{Path: "scenarios/churn-promotion.en.md", Title: "Promotion of the churn model", Lang: "en",
			Description: "Identify, register, validate and promote the best churn model, by alias.",
			SHA256:      strings.Repeat("ab", 32), Blocks: scenarioBlocks(promotedProse, steps...)},
		Params: params(),
		Cells: []record.Cell{
			cell("identify", 0, "best := steps.Identify(pb, steps.IdentifyOptions{\n\tExperiment: params.Experiment, // the training runs\n\tMetric:     \"f1\",\n})\n", record.StatusOK, time.Second, 108*time.Millisecond,
				record.Output{Kind: record.OutputTable, Title: "Leaderboard: the top 3 of 3 FINISHED runs by f1 (max)", Table: &record.Table{
					Columns: []string{"#", "run", "run_id", "f1"}, Rows: [][]string{{"1", "churn-logreg-01", "a1b2c3", "0.6110"}, {"2", "churn-logreg-02", "d4e5f6", "0.6085"}, {"3", "churn-logreg-03", "a7b8c9", "0.5611"}}}},
				record.Output{Kind: record.OutputPlot, Title: "Leaderboard", SVG: curveSVG("f1", 3)},
				record.Output{Kind: record.OutputKV, Title: "Best run", KV: []record.KV{{Key: "run", Value: "churn-logreg-01"}, {Key: "f1", Value: "0.611"}}}),
			cell("register", 1, "version := steps.Register(pb, best, steps.RegisterOptions{Model: params.ModelName})\n", record.StatusOK, 2*time.Second, 338*time.Millisecond,
				record.Output{Kind: record.OutputSnapshot, Title: "before", Snapshot: &before},
				record.Output{Kind: record.OutputKV, Title: "Registered version", KV: []record.KV{{Key: "model", Value: "ChurnPredictor"}, {Key: "version", Value: "2"}}},
				record.Output{Kind: record.OutputStdout, Text: "registered ChurnPredictor version 2 from run a1b2c3\n"}),
			cell("alias", 2, "candidate := steps.Alias(pb, version, params.CandidateAlias)\n", record.StatusOK, 3*time.Second, 632*time.Millisecond,
				record.Output{Kind: record.OutputKV, Title: "Candidate", KV: []record.KV{{Key: "URI", Value: "models:/ChurnPredictor@staging-candidate"}, {Key: "tag note", Value: XSS}}}),
			cell("validate", 3, "validation := steps.Validate(pb, candidate, steps.ValidateOptions{\n\tThresholds: map[string]steps.MetricThreshold{\"f1\": {Threshold: steps.Float(0.55)}},\n})\n", record.StatusOK, 4*time.Second, 2350*time.Millisecond,
				record.Output{Kind: record.OutputTable, Title: "Validation checks", Table: &record.Table{Columns: []string{"check", "result"}, Rows: [][]string{{"f1 >= 0.55", "pass"}, {"roc_auc >= 0.75", "pass"}}}},
				record.Output{Kind: record.OutputPlot, Title: "ROC curve", SVG: curveSVG("ROC curve", 600)},
				record.Output{Kind: record.OutputPlot, Title: "Fairness by group", SVG: `<svg xmlns="http://www.w3.org/2000/svg" width="100" height="60" onload="alert(4)"><script>alert(5)</script><rect width="100" height="60" style="fill:#eee"/><text x="5" y="30">gender=` + "&lt;b&gt;" + `</text><image href="http://example.com/x.png" width="10" height="10"/></svg>`},
				record.Output{Kind: record.OutputPlot, Title: "Broken plot", SVG: "<html><body>not svg</body></html>"}),
			cell("promote", 4, "promotion := steps.Promote(pb, candidate, steps.PromoteOptions{Alias: params.ProductionAlias})\n", record.StatusOK, 7*time.Second, 834*time.Millisecond,
				record.Output{Kind: record.OutputStderr, Text: "warning: production changed hands 2 times this week\n"},
				record.Output{Kind: record.OutputValue, Type: "*steps.Promotion", Text: "&{Model:ChurnPredictor Version:2}", KV: []record.KV{{Key: "Model", Value: "ChurnPredictor"}, {Key: "Version", Value: "2"}}}),
			cell("load", 5, "model := steps.Load(pb, \"models:/\"+params.ModelName+\"@\"+params.ProductionAlias)\nmodel.Version\n", record.StatusOK, 8*time.Second, 433*time.Millisecond,
				record.Output{Kind: record.OutputValue, Type: "string", Text: `"2"`},
				record.Output{Kind: record.OutputValue, Type: "[]string", Text: "[gender SeniorCitizen]", Table: &record.Table{Columns: []string{"value"}, Rows: [][]string{{"gender"}, {"SeniorCitizen"}}}}),
			cell("infer", 6, "predictions := steps.Infer(pb, model, steps.InferOptions{Count: params.Examples})\n", record.StatusOK, 9*time.Second, 399*time.Microsecond,
				record.Output{Kind: record.OutputTable, Title: "Predictions", Truncated: true, Table: &record.Table{Columns: []string{"customerID", "probability", "prediction"},
					Rows: [][]string{{"2981-LPJLL", "0.058", "0 (stays)"}, {"4360-GLLVZ", "0.423", "1 (churns) | maybe"}}}}),
			cell("verify", 7, "verification := steps.Verify(pb, promotion)\n", record.StatusOK, 39*time.Second, 119*time.Millisecond,
				record.Output{Kind: record.OutputSnapshot, Title: "after", Snapshot: &after},
				record.Output{Kind: record.OutputMarkdown, Text: "**Aliases, before → after:**\n\n- `production-live`: version 1 → version 2\n- `staging-candidate`: version 1 → version 2"},
				record.Output{Kind: record.OutputStdout, Text: "The model's page in the MLflow UI (Models): https://mlflow.example.com/#/models/ChurnPredictor\n"},
				record.Output{Kind: "hologram", Text: "an output kind from a later playbook"}),
		},
		Environment: record.Environment{User: "ada", Host: "lab-01", PlaybookVersion: "v0.3.0", GoVersion: "go1.26.8",
			TrackingURI: "https://mlflow.example.com", MLflowVersion: "3.18.0", Start: fixtureStart, End: at(42 * time.Second),
			Exit: record.Exit{Status: record.OutcomeOK, Code: 0}},
		Evidence: record.Evidence{
			Calls: []record.Call{
				{Time: at(2500 * time.Millisecond), Step: "register", Method: "POST", Endpoint: "/api/2.0/mlflow/model-versions/create",
					Args: map[string]any{"name": "ChurnPredictor", "run_id": "a1b2c3", "source": "mlflow-artifacts:/7/a1b2c3/artifacts/model"}, Outcome: "ok", Duration: record.Duration(80 * time.Millisecond)},
				{Time: at(3100 * time.Millisecond), Step: "alias", Method: "POST", Endpoint: "/api/2.0/mlflow/registered-models/alias",
					Args: map[string]any{"name": "ChurnPredictor", "alias": "staging-candidate", "version": "2"}, Outcome: "ok", Duration: record.Duration(20 * time.Millisecond)},
				{Time: at(3200 * time.Millisecond), Step: "alias", Method: "POST", Endpoint: "/api/2.0/mlflow/model-versions/set-tag",
					Args: map[string]any{"name": "ChurnPredictor", "version": "2", "key": "note", "value": XSS}, Outcome: "ok", Duration: record.Duration(15 * time.Millisecond)},
				{Time: at(7100 * time.Millisecond), Step: "promote", Method: "POST", Endpoint: "/api/2.0/mlflow/model-versions/set-tag",
					Args: map[string]any{"name": "ChurnPredictor", "version": "1", "key": "archived", "value": "true"}, Outcome: "RESOURCE_DOES_NOT_EXIST: retried", Duration: record.Duration(30 * time.Millisecond)},
				{Time: at(7300 * time.Millisecond), Step: "promote", Method: "POST", Endpoint: "/api/2.0/mlflow/registered-models/alias",
					Args: map[string]any{"name": "ChurnPredictor", "alias": "production-live", "version": "2"}, Outcome: "ok", Duration: record.Duration(25 * time.Millisecond)},
			},
			Snapshots: []record.Snapshot{before, after},
			Metrics: []record.Metric{
				{Step: "validate", Name: "f1", Value: 0.5987, Threshold: fptr(0.55), Pass: bptr(true)},
				{Step: "validate", Name: "roc_auc", Value: 0.8287, Threshold: fptr(0.75), Pass: bptr(true)},
			},
			Files:       []record.File{{Step: "identify", Name: "plot-identify-2.svg", Size: 1234, SHA256: strings.Repeat("cd", 32)}},
			Leaderboard: lb,
			Validation:  validationEvidence(true),
			Checks: append(validateChecks(true),
				record.Check{Step: "verify", Kind: record.CheckState, Name: "production-live → version 2", Pass: true, Detail: "points to version 2"},
				record.Check{Step: "verify", Kind: record.CheckState, Name: "version 2: validation_status=passed", Pass: true, Detail: "validation_status=passed"},
				record.Check{Step: "verify", Kind: record.CheckState, Name: "version 1: archived=true", Pass: true, Detail: "archived=true"}),
			Promotion: &record.Promotion{Kind: record.PromotionPromote, Model: "ChurnPredictor", Alias: "production-live", CandidateAlias: "staging-candidate",
				Version: "2", Previous: "1", AtStart: "1", Moved: true, Time: at(7300 * time.Millisecond), By: "ada@lab-01"},
			Captures: []record.Capture{{Step: "verify", Title: "ChurnPredictor in the MLflow UI", URL: "https://mlflow.example.com/#/models/ChurnPredictor",
				Time: at(41 * time.Second), PNG: capturePNG(), Width: 16, Height: 10}},
		},
	}
	return r
}

func refusedRun() *record.Run {
	r := promotedRun()
	r.Scenario.Path = "scenarios/churn-promotion.fr.md"
	r.Scenario.Title = "Cas d'usage industriel — promotion d'un modèle de churn"
	r.Scenario.Lang = "fr"
	r.Scenario.Description = "Identifier, enregistrer, valider et promouvoir le meilleur modèle."
	r.Scenario.Blocks[0].Markdown = "# Promotion du modèle de churn\n\nLe modèle est chargé **par l'alias** `models:/ChurnPredictor@staging-candidate`.\n"
	for i := range r.Cells {
		c := &r.Cells[i]
		c.File = r.Scenario.Path
		if i > 3 {
			c.Status, c.Outputs, c.Start, c.Duration = record.StatusNotRun, []record.Output{}, time.Time{}, 0
		}
	}
	gate := &record.Error{Kind: record.ErrGate, File: r.Scenario.Path, Line: 98, Step: "validate",
		Message: "validate refused: ChurnPredictor version 2 failed 2 check(s): f1 0.4100 < 0.55; f1 0.4100 < 0.5901 (champion v1 0.5901)\n(tagged validation_status=failed)"}
	v := &r.Cells[3]
	v.Status, v.Error = record.StatusFailed, gate
	v.Outputs = v.Outputs[:2]
	r.Error = gate
	r.Environment.End = at(9 * time.Second)
	r.Environment.Exit = record.Exit{Status: record.OutcomeRefused, Code: 3}
	r.Evidence.Snapshots = r.Evidence.Snapshots[:1]
	r.Evidence.Calls = r.Evidence.Calls[:3]
	r.Evidence.Validation = validationEvidence(false)
	r.Evidence.Checks = validateChecks(false)
	r.Evidence.Promotion = nil
	r.Evidence.Captures = nil
	r.Evidence.Files = nil
	return r
}

func failedRun() *record.Run {
	r := promotedRun()
	r.Scenario.Blocks = nil // a record without blocks: cells in order
	r.Environment.TrackingURI, r.Environment.MLflowVersion = "embedded:/home/ada/.playbook", ""
	for i := range r.Cells {
		c := &r.Cells[i]
		if i > 1 {
			c.Status, c.Outputs, c.Start, c.Duration = record.StatusNotRun, []record.Output{}, time.Time{}, 0
		}
	}
	fail := &record.Error{Kind: record.ErrStep, File: r.Scenario.Path, Line: 57, Step: "register",
		Message: "register: mlflow: POST /api/2.0/mlflow/model-versions/create: 403 PERMISSION_DENIED: user ada cannot register"}
	c := &r.Cells[1]
	c.Status, c.Error, c.Outputs = record.StatusFailed, fail, c.Outputs[:1]
	r.Error = fail
	r.Environment.End = at(3 * time.Second)
	r.Environment.Exit = record.Exit{Status: record.OutcomeFailed, Code: 1}
	r.Evidence = record.Evidence{Calls: []record.Call{}, Snapshots: []record.Snapshot{beforeSnapshot()}, Metrics: []record.Metric{}, Files: []record.File{},
		Leaderboard: leaderboardEvidence()}
	return r
}

// FrenchRun returns the record of a real run of scenarios/churn-promotion.fr.md
// against MLflow 3.18.0 (testdata/churn-promotion.fr.json: the second run,
// so a champion is compared and archived), with the MLflow UI's page of the
// model as the verify step captures it (testdata/mlflow-model-page.png).
func FrenchRun(t testing.TB) *record.Run {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "churn-promotion.fr.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := record.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(filepath.Join("testdata", "mlflow-model-page.png"))
	if err != nil {
		t.Fatal(err)
	}
	model := ""
	if r.Evidence.Promotion != nil {
		model = r.Evidence.Promotion.Model
	}
	r.Evidence.Captures = append(r.Evidence.Captures, record.Capture{Step: "verify", Title: model + " — MLflow UI",
		URL: r.Environment.TrackingURI + "/#/models/" + model, Time: r.Environment.End, PNG: png, Width: 1440, Height: 900})
	return r
}
