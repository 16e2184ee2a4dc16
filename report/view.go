package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/record"
)

// Verdicts, the class of the report's banner.
const (
	verdictPromoted    = "promoted"
	verdictNotPromoted = "not-promoted"
	verdictFailed      = "failed"
	verdictDone        = "done"
)

// view is what both renderers show, computed once from a run record: the
// HTML and Markdown templates only lay it out.
type view struct {
	L           *labels
	Run         *record.Run
	Title       string
	Description string
	Verdict     verdict
	Summary     []pair
	Board       *board
	Blocks      []block
	Registry    []modelDiff
	Leaderboard *leaderboard
	Validation  *validation
	Verify      []record.Check
	Captures    []capture
	Audit       audit
	// Plots are the plots of every cell, in order, each with its file
	// beside report.md.
	Plots []*plotFile
	// PlotsCell is the id of the cell that drew the validation's plots.
	PlotsCell string
	// Live, when set, makes the page playbook watch's live page.
	Live *Live
	// taken holds the names of the files in the output folder.
	taken map[string]bool
}

type pair struct {
	Key, Value string
	// Code says Value is an identifier (a model, an alias, a URL), shown
	// as code.
	Code bool
	// Class marks a value: "pass", "fail", ...
	Class string
}

type verdict struct {
	Kind     string // one of the verdict* constants
	Headline string
	Detail   string
}

// block is a prose block or a cell, in scenario order.
type block struct {
	Prose string // Markdown, for a prose block
	Cell  *cellView
}

type cellView struct {
	*record.Cell
	ID          string // the HTML id
	StatusLabel string
	Duration    string
	Location    string // file:line
	LineNumbers string // the scenario's line numbers of the code, one a line
	ErrLine     int    // the line of the error in the code, 0 for none
	NotRunNote  string // why the cell did not run
	Outputs     []outputView
}

type outputView struct {
	record.Output
	// Plot is the plot's file (Markdown) and SVG, cleaned.
	Plot *plotFile
}

type plotFile struct {
	Name  string // beside report.md: the PNG's when there is one, else the SVG's
	Title string
	SVG   string // cleaned; "" when the record's could not be embedded
	Err   string // why SVG is empty
	PNG   []byte // re-encoded; nil when the record has none (or not a PNG)
}

// modelDiff is one registered model, before and after the run.
type modelDiff struct {
	Model         string
	Before, After *record.Snapshot
	Aliases       []aliasRow
	Versions      []versionDiff
}

type aliasRow struct {
	Alias, Before, After string
	Change               string // "", "added", "removed", "moved"
}

type versionDiff struct {
	Version        string
	Change         string // "", "added", "removed"
	Aliases        string // after (or before, for a removed version)
	Changed, Same  []tagRow
	ChangedAliases bool
}

type tagRow struct {
	Key, Before, After string
	Change             string // "", "added", "removed", "changed"
}

type leaderboard struct {
	*record.Leaderboard
	Note    string
	Columns []string // the other metrics shown, sorted
}

type validation struct {
	*record.Validation
	Note    string
	Metrics []metricRow
	Checks  []record.Check
}

type metricRow struct {
	Name                       string
	Candidate, Champion, Delta string
	Threshold                  string
	Pass                       string // "pass", "fail", "skipped" or ""
}

type capture struct {
	Title  string
	URL    string
	Time   string
	PNG    []byte
	Name   string // the PNG's file beside report.md
	Width  int
	Height int
	Reason string // why there is no PNG
}

type audit struct {
	Pairs  []pair
	Params []record.Param
	Calls  []callRow
	Files  []record.File
	Error  *record.Error
}

type callRow struct {
	Time, Step, Method, Endpoint, Args, Outcome, Duration string
	DryRun, OK                                            bool
}

// newView computes the view of a run record.
func newView(r *record.Run) *view {
	l := labelsFor(r.Scenario.Lang)
	v := &view{L: l, Run: r, Title: r.Scenario.Title, Description: r.Scenario.Description, taken: map[string]bool{
		HTMLFile: true, MarkdownFile: true, NotebookFile: true, record.EvidenceFile: true,
	}}
	for _, f := range r.Evidence.Files {
		v.taken[f.Name] = true
	}
	if v.Title == "" {
		v.Title = r.Scenario.Path
	}
	v.Verdict = newVerdict(l, r)
	v.Blocks = newBlocks(l, r, v)
	v.Registry = newRegistry(r)
	if lb := r.Evidence.Leaderboard; lb != nil {
		v.Leaderboard = newLeaderboard(l, lb)
	}
	if val := r.Evidence.Validation; val != nil {
		v.Validation = newValidation(l, r, val)
	}
	for _, c := range r.Evidence.Checks {
		if c.Kind == record.CheckState {
			v.Verify = append(v.Verify, c)
		}
	}
	v.Captures = newCaptures(l, r, v)
	v.Summary = newSummary(l, r, v)
	v.Audit = newAudit(l, r)
	v.Board = newBoard(l, r, v)
	return v
}

func newVerdict(l *labels, r *record.Run) verdict {
	failedStep := ""
	msg := ""
	if r.Error != nil {
		failedStep, msg = r.Error.Step, r.Error.Message
	}
	if failedStep == "" {
		for _, c := range r.Cells {
			if c.Status == record.StatusFailed {
				failedStep = c.Step
				if c.Error != nil && msg == "" {
					msg = c.Error.Message
				}
				break
			}
		}
	}
	if r.Environment.Exit.Status == record.OutcomeStopped && r.Error == nil {
		next := "—"
		for _, c := range r.Cells {
			if c.Status == record.StatusNotRun {
				next = c.Step
				break
			}
		}
		return verdict{Kind: verdictNotPromoted, Headline: l.VerdictStopped, Detail: fmt.Sprintf(l.StoppedAt, next)}
	}
	refused := r.Environment.Exit.Status == record.OutcomeRefused || (r.Error != nil && r.Error.Kind == record.ErrGate)
	switch {
	case refused:
		return verdict{Kind: verdictNotPromoted, Headline: l.VerdictNotPromoted, Detail: joinDetail(fmt.Sprintf(l.RefusedAt, failedStep), msg)}
	case r.Error != nil || failedStep != "" || r.Environment.Exit.Status == record.OutcomeFailed || r.Environment.Exit.Status == record.OutcomeError:
		step := failedStep
		if step == "" {
			step = "—"
		}
		return verdict{Kind: verdictFailed, Headline: l.VerdictFailed, Detail: joinDetail(fmt.Sprintf(l.FailedAt, step), msg)}
	}
	p := r.Evidence.Promotion
	switch {
	case p != nil && (p.DryRun || r.Environment.DryRun):
		would := fmt.Sprintf(l.WouldHoldDetail, p.Model, p.Version, p.Alias)
		if p.SameAs != "" {
			would += " (" + fmt.Sprintf(l.SameParams, p.Candidate, p.SameAs) + ")"
		}
		return verdict{Kind: verdictNotPromoted, Headline: l.VerdictNotPromoted, Detail: joinDetail(l.DryRunDetail, would)}
	case p != nil:
		head := l.VerdictPromoted
		if p.Kind == record.PromotionRollback {
			head = l.VerdictRolledBack
		}
		if !p.Moved {
			head = l.VerdictUnchanged
		}
		detail := fmt.Sprintf(l.PromotedDetail, p.Model, p.Version, p.Alias)
		switch {
		case p.SameAs != "":
			detail += " (" + fmt.Sprintf(l.SameParams, p.Candidate, p.SameAs) + ")"
		case !p.Moved:
			detail += " (" + l.AlreadyHeld + ")"
		case p.Previous == "":
			detail += " (" + l.FirstProduction + ")"
		default:
			detail += " (" + fmt.Sprintf(l.Previously, p.Previous) + ")"
		}
		if p.Reason != "" {
			detail += ": " + p.Reason
		}
		return verdict{Kind: verdictPromoted, Headline: head, Detail: detail}
	}
	return verdict{Kind: verdictDone, Headline: l.VerdictDone, Detail: l.DoneDetail}
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + " — " + oneLine(strings.TrimSpace(b)) // whole, never cut
}

func newBlocks(l *labels, r *record.Run, v *view) []block {
	var out []block
	shown := map[string]bool{}
	addCell := func(c *record.Cell) {
		shown[c.Step] = true
		out = append(out, block{Cell: newCellView(l, c, len(shown), v, r)})
	}
	for _, b := range r.Scenario.Blocks {
		switch b.Kind {
		case record.BlockProse:
			out = append(out, block{Prose: b.Markdown})
		case record.BlockCell:
			if c := r.Cell(b.Step); c != nil && !shown[c.Step] {
				addCell(c)
			}
		}
	}
	// Cells the blocks do not place (a record without blocks) come last,
	// in their order.
	for i := range r.Cells {
		if !shown[r.Cells[i].Step] {
			addCell(&r.Cells[i])
		}
	}
	return out
}

func newCellView(l *labels, c *record.Cell, n int, v *view, r *record.Run) *cellView {
	cv := &cellView{Cell: c, ID: fmt.Sprintf("cell-%d-%s", n, slug(c.Step)), StatusLabel: statusLabel(l, c.Status)}
	if c.Status != record.StatusNotRun {
		cv.Duration = fmtDuration(time.Duration(c.Duration))
	} else {
		cv.NotRunNote = l.NotRunNote
		if r.Environment.Exit.Status == record.OutcomeStopped {
			cv.NotRunNote = l.NotRunStopped
		}
	}
	file := c.File
	if file == "" {
		file = r.Scenario.Path
	}
	cv.Location = fmt.Sprintf("%s:%d", file, c.Line)
	code := strings.TrimRight(c.Code, "\n")
	lines := strings.Count(code, "\n") + 1
	nums := make([]string, lines)
	for i := range nums {
		nums[i] = fmt.Sprint(c.Line + i)
	}
	cv.LineNumbers = strings.Join(nums, "\n")
	if c.Error != nil && c.Error.Line >= c.Line && c.Error.Line < c.Line+lines {
		cv.ErrLine = c.Error.Line
	}
	for k, o := range c.Outputs {
		ov := outputView{Output: o}
		if o.Kind == record.OutputPlot {
			pf := &plotFile{Title: o.Title}
			// A PNG named for what it shows (plot-validate-courbe-roc.png),
			// ready to upload with report.md; else the SVG, as before.
			if pf.PNG = cleanPNG(o.PNG); pf.PNG != nil {
				name := slug(foldAccents(o.Title))
				if name == "" {
					name = fmt.Sprint(k + 1)
				}
				pf.Name = v.fileName("plot-"+slug(c.Step)+"-"+name, ".png")
			} else {
				pf.Name = v.fileName(fmt.Sprintf("plot-%s-%d", slug(c.Step), k+1), ".svg")
			}
			svg, err := cleanSVG(o.SVG)
			if err != nil {
				pf.Err = err.Error()
			} else {
				pf.SVG = svg
			}
			v.Plots = append(v.Plots, pf)
			ov.Plot = pf
			if c.Step == "validate" && v.PlotsCell == "" {
				v.PlotsCell = cv.ID
			}
		}
		cv.Outputs = append(cv.Outputs, ov)
	}
	return cv
}

// newRegistry pairs, for each model, its first snapshot ("before") with its
// last ("after"), and marks what changed.
func newRegistry(r *record.Run) []modelDiff {
	byModel := map[string][]*record.Snapshot{}
	var order []string
	for i := range r.Evidence.Snapshots {
		s := &r.Evidence.Snapshots[i]
		if _, ok := byModel[s.Model]; !ok {
			order = append(order, s.Model)
		}
		byModel[s.Model] = append(byModel[s.Model], s)
	}
	var out []modelDiff
	for _, m := range order {
		snaps := byModel[m]
		before := snaps[0]
		for _, s := range snaps {
			if s.Label == "before" {
				before = s
				break
			}
		}
		var after *record.Snapshot
		for i := len(snaps) - 1; i >= 0; i-- {
			if snaps[i] != before && (snaps[i].Label == "after" || after == nil) {
				after = snaps[i]
				if snaps[i].Label == "after" {
					break
				}
			}
		}
		out = append(out, diffSnapshots(m, before, after))
	}
	return out
}

func diffSnapshots(model string, before, after *record.Snapshot) modelDiff {
	d := modelDiff{Model: model, Before: before, After: after}
	if after == nil {
		// One snapshot: show it, nothing to compare.
		for _, a := range sortedKeys(before.Aliases) {
			d.Aliases = append(d.Aliases, aliasRow{Alias: a, Before: before.Aliases[a]})
		}
		for _, vs := range sortedVersions(before.Versions) {
			vd := versionDiff{Version: vs.Version, Aliases: strings.Join(vs.Aliases, ", ")}
			for _, k := range sortedKeys(vs.Tags) {
				vd.Same = append(vd.Same, tagRow{Key: k, Before: vs.Tags[k]})
			}
			d.Versions = append(d.Versions, vd)
		}
		return d
	}
	for _, a := range sortedKeys(union(before.Aliases, after.Aliases)) {
		b, inB := before.Aliases[a]
		n, inA := after.Aliases[a]
		row := aliasRow{Alias: a, Before: b, After: n}
		switch {
		case !inB:
			row.Change = "added"
		case !inA:
			row.Change = "removed"
		case b != n:
			row.Change = "moved"
		}
		d.Aliases = append(d.Aliases, row)
	}
	bv := map[string]record.VersionSnapshot{}
	for _, vs := range before.Versions {
		bv[vs.Version] = vs
	}
	av := map[string]record.VersionSnapshot{}
	for _, vs := range after.Versions {
		av[vs.Version] = vs
	}
	var versions []string
	for _, vs := range sortedVersions(append(slices.Clone(before.Versions), after.Versions...)) {
		if len(versions) == 0 || versions[len(versions)-1] != vs.Version {
			versions = append(versions, vs.Version)
		}
	}
	for _, ver := range versions {
		b, inB := bv[ver]
		a, inA := av[ver]
		vd := versionDiff{Version: ver, Aliases: strings.Join(a.Aliases, ", ")}
		switch {
		case !inB:
			vd.Change = "added"
		case !inA:
			vd.Change = "removed"
			vd.Aliases = strings.Join(b.Aliases, ", ")
		}
		vd.ChangedAliases = inA && inB && strings.Join(sortedCopy(a.Aliases), ",") != strings.Join(sortedCopy(b.Aliases), ",")
		for _, k := range sortedKeys(union(b.Tags, a.Tags)) {
			bt, okB := b.Tags[k]
			at, okA := a.Tags[k]
			row := tagRow{Key: k, Before: bt, After: at}
			switch {
			case !okB:
				row.Change = "added"
			case !okA:
				row.Change = "removed"
			case bt != at:
				row.Change = "changed"
			}
			if row.Change == "" {
				vd.Same = append(vd.Same, row)
			} else {
				vd.Changed = append(vd.Changed, row)
			}
		}
		d.Versions = append(d.Versions, vd)
	}
	return d
}

func union(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

func sortedVersions(vs []record.VersionSnapshot) []record.VersionSnapshot {
	out := slices.Clone(vs)
	sort.SliceStable(out, func(i, j int) bool { return versionLess(out[i].Version, out[j].Version) })
	return out
}

func newLeaderboard(l *labels, lb *record.Leaderboard) *leaderboard {
	v := &leaderboard{Leaderboard: lb,
		Note: fmt.Sprintf(l.LeaderboardNote, lb.Experiment, lb.Metric, lb.Direction, lb.Finished, lb.Considered, lb.Tied)}
	set := map[string]bool{}
	for _, row := range lb.Rows {
		for k := range row.Metrics {
			if k != lb.Metric {
				set[k] = true
			}
		}
	}
	v.Columns = sortedKeys(set)
	return v
}

func newValidation(l *labels, r *record.Run, val *record.Validation) *validation {
	v := &validation{Validation: val,
		Note: fmt.Sprintf(l.ValidationNote, val.Model, val.Version, val.Alias, val.Data, val.Rows)}
	limits := map[string][]record.Check{}
	for _, c := range r.Evidence.Checks {
		if c.Kind == record.CheckState {
			continue
		}
		v.Checks = append(v.Checks, c)
		if c.Kind == record.CheckThreshold && c.Metric != "" {
			limits[c.Metric] = append(limits[c.Metric], c)
		}
	}
	for _, k := range sortedKeys(val.Candidate) {
		row := metricRow{Name: k, Candidate: fmtNum(val.Candidate[k])}
		if cv, ok := val.ChampionMetrics[k]; ok {
			row.Champion = fmtNum(cv)
			row.Delta = fmtDelta(val.Candidate[k] - cv)
			if !math.IsNaN(val.Candidate[k]-cv) && val.Candidate[k]-cv > 0 {
				row.Delta = "+" + row.Delta
			}
		}
		for _, c := range limits[k] {
			if row.Threshold != "" {
				row.Threshold += "; "
			}
			row.Threshold += c.Name
			// The row says the worst of its checks: a failure, else a
			// pass, else skipped (no champion to compare with).
			switch o := checkOutcome(c); {
			case row.Pass == "fail":
			case o == "fail", o == "pass", row.Pass == "":
				row.Pass = o
			}
		}
		v.Metrics = append(v.Metrics, row)
	}
	return v
}

func newCaptures(l *labels, r *record.Run, v *view) []capture {
	var out []capture
	for i, c := range r.Evidence.Captures {
		cp := capture{Title: c.Title, URL: redactURL(c.URL), Time: fmtTime(c.Time), Width: c.Width, Height: c.Height, Reason: c.Reason}
		if cp.Title == "" {
			cp.Title = fmt.Sprintf(l.CaptureOf, cp.URL)
		}
		if len(c.PNG) > 0 {
			cp.PNG = c.PNG
			cp.Name = v.fileName(fmt.Sprintf("capture-%s-%d", slug(c.Step), i+1), ".png")
		} else if cp.Reason == "" {
			cp.Reason = l.WhyNone
		}
		out = append(out, cp)
	}
	if len(out) > 0 {
		return out
	}
	// No capture in the record: say why there is none.
	why := l.WhyNone
	verify := r.Cell("verify")
	switch {
	case embedded(r):
		why = l.WhyNoServer
	case r.Environment.DryRun:
		why = l.WhyDryRun + "; " + l.WhyNone
	case verify == nil || verify.Status == record.StatusNotRun:
		why = l.WhyNotRun
	}
	return []capture{{Title: l.NoCapture, Reason: why}}
}

func newSummary(l *labels, r *record.Run, v *view) []pair {
	var out []pair
	model, version := "", ""
	if p := r.Evidence.Promotion; p != nil {
		model, version = p.Model, p.Version
	} else if val := r.Evidence.Validation; val != nil {
		model, version = val.Model, val.Version
	} else if len(v.Registry) > 0 {
		model = v.Registry[0].Model
	}
	if model != "" {
		out = append(out, pair{Key: l.Model, Value: model, Code: true})
	}
	// The change's paperwork, as the scenario's parameters ticket,
	// approver and reason give it.
	for _, f := range []struct{ param, label string }{{"ticket", l.Ticket}, {"approver", l.Approver}, {"reason", l.Reason}} {
		for _, p := range r.Params {
			if s, ok := p.Value.(string); ok && p.Name == f.param && strings.TrimSpace(s) != "" {
				out = append(out, pair{Key: f.label, Value: s})
			}
		}
	}
	out = append(out, actorPairs(l, r)...)
	if val := r.Evidence.Validation; val != nil {
		out = append(out, pair{Key: l.Candidate, Value: "version " + val.Version + " (" + val.Alias + ")", Code: true})
		if val.Champion != "" {
			out = append(out, pair{Key: l.Champion, Value: "version " + val.Champion + " (" + val.ChampionAlias + ")", Code: true})
		}
	} else if version != "" {
		out = append(out, pair{Key: l.Version, Value: version, Code: true})
	}
	if p := r.Evidence.Promotion; p != nil {
		from := p.AtStart
		if from == "" {
			from = l.None
		}
		out = append(out, pair{Key: l.ProductionAlias, Value: fmt.Sprintf("%s: %s → %s", p.Alias, from, p.Version), Code: true})
	}
	if val := r.Evidence.Validation; val != nil {
		n, pass := 0, 0
		for _, c := range v.Validation.Checks {
			n++
			if c.Pass {
				pass++
			}
		}
		word, class := l.Passed, "pass"
		if !val.Passed {
			word, class = l.FailedWord, "fail"
		}
		out = append(out, pair{Key: l.Validation, Value: word + " — " + fmt.Sprintf(l.ChecksPassed, pass, n), Class: class})
	}
	if len(v.Verify) > 0 {
		pass := 0
		for _, c := range v.Verify {
			if c.Pass {
				pass++
			}
		}
		class := "pass"
		if pass < len(v.Verify) {
			class = "fail"
		}
		out = append(out, pair{Key: l.Verification, Value: fmt.Sprintf(l.ChecksPassed, pass, len(v.Verify)), Class: class})
	}
	ok, failed, notRun := 0, 0, 0
	for _, c := range r.Cells {
		switch c.Status {
		case record.StatusOK:
			ok++
		case record.StatusFailed:
			failed++
		default:
			notRun++
		}
	}
	out = append(out, pair{Key: l.Cells, Value: fmt.Sprintf(l.CellsCount, ok, failed, notRun)})
	exit := r.Environment.Exit
	class := "pass"
	if exit.Status != record.OutcomeOK {
		class = "fail"
	}
	out = append(out, pair{Key: l.ExitStatus, Value: fmt.Sprintf("%s (%d)", l.exitWord(exit.Status), exit.Code), Class: class})
	out = append(out, pair{Key: l.Date, Value: fmtTime(r.Environment.Start)})
	if !r.Environment.End.IsZero() {
		out = append(out, pair{Key: l.Duration, Value: fmtDuration(r.Environment.End.Sub(r.Environment.Start))})
	}
	out = append(out, pair{Key: l.Server, Value: serverText(l, r), Code: !embedded(r)})
	return out
}

// embeddedPrefix starts the tracking URI the runner records for playbook's
// embedded registry: "embedded:" and its data folder.
const embeddedPrefix = "embedded:"

// embedded reports whether the run used playbook's embedded registry (or no
// tracking server), not an MLflow server.
func embedded(r *record.Run) bool {
	u := r.Environment.TrackingURI
	return u == "" || strings.HasPrefix(u, embeddedPrefix)
}

func serverText(l *labels, r *record.Run) string {
	u := r.Environment.TrackingURI
	switch {
	case u == "":
		return l.EmbeddedRegistry
	case strings.HasPrefix(u, embeddedPrefix):
		return l.EmbeddedRegistry + " (" + strings.TrimPrefix(u, embeddedPrefix) + ")"
	}
	return redactURL(u)
}

func newAudit(l *labels, r *record.Run) audit {
	e := r.Environment
	yes := func(b bool) string {
		if b {
			return l.Yes
		}
		return l.No
	}
	mlflowVersion := e.MLflowVersion
	if mlflowVersion == "" {
		mlflowVersion = l.Unknown
		if embedded(r) {
			mlflowVersion = "—"
		}
	}
	a := audit{Params: r.Params, Files: r.Evidence.Files, Error: r.Error}
	a.Pairs = []pair{
		{Key: l.User, Value: e.User},
	}
	if actor := actorPairs(l, r); actor != nil {
		a.Pairs = append(a.Pairs, actor[0])
	}
	a.Pairs = append(a.Pairs, []pair{
		{Key: l.Host, Value: e.Host},
		{Key: l.StartTime, Value: fmtTime(e.Start)},
		{Key: l.End, Value: fmtTime(e.End)},
		{Key: l.PlaybookVersion, Value: e.PlaybookVersion, Code: true},
		{Key: l.GoVersion, Value: e.GoVersion, Code: true},
		{Key: l.Server, Value: serverText(l, r), Code: !embedded(r)},
		{Key: l.MLflowVersion, Value: mlflowVersion, Code: e.MLflowVersion != ""},
		{Key: l.ScenarioFile, Value: r.Scenario.Path, Code: true},
		{Key: l.SHA256, Value: r.Scenario.SHA256, Code: true},
		{Key: l.DryRun, Value: yes(e.DryRun)},
		{Key: l.Unrestricted, Value: yes(e.Unrestricted)},
		{Key: l.ExitStatus, Value: fmt.Sprintf("%s (%d)", l.exitWord(e.Exit.Status), e.Exit.Code)},
	}...)
	if iso := e.Isolation; iso != nil {
		a.Pairs = append(a.Pairs, isolationPairs(l, iso)...)
	}
	for _, c := range r.Evidence.Calls {
		a.Calls = append(a.Calls, callRow{
			Time: fmtClock(c.Time), Step: c.Step, Method: c.Method, Endpoint: c.Endpoint, Args: fmtArgs(c.Args),
			Outcome: redactText(c.Outcome), Duration: fmtDuration(time.Duration(c.Duration)), DryRun: c.DryRun, OK: c.Outcome == "ok",
		})
	}
	return a
}

// isolationPairs says how the cells were isolated and which protections
// were active (record.Isolation).
func isolationPairs(l *labels, iso *record.Isolation) []pair {
	ps := []pair{
		{Key: l.Isolation, Value: fmt.Sprintf(l.KernelProcess, fmtDuration(time.Duration(iso.KernelStart)), exitText(l, iso.Exit))},
		{Key: l.Timeouts, Value: fmt.Sprintf(l.TimeoutsEnforced, time.Duration(iso.TimeoutGrace))},
	}
	if iso.CleanEnv {
		ps = append(ps, pair{Key: l.CellEnv, Value: l.NoCredentials})
	}
	if iso.NoNetwork {
		ps = append(ps, pair{Key: l.Network, Value: l.NoNetwork})
	}
	if iso.CellTokens {
		ps = append(ps, pair{Key: l.RegistryCalls, Value: l.CellTokens})
	}
	or := func(v string) (string, bool) {
		if v == "" || !iso.Sandboxed {
			return l.NotApplied, false
		}
		return v, true
	}
	v, c := or(iso.Landlock)
	if iso.Sandboxed && iso.LandlockABI > 0 {
		v, c = landlockText(l, iso), false
	} else if why, ok := strings.CutPrefix(v, "unavailable: "); ok {
		v, c = l.Unavailable+l.Colon+why, false
	}
	ps = append(ps, pair{Key: "Landlock", Value: v, Code: c})
	v, c = or(iso.Seccomp)
	if iso.Sandboxed && iso.Sockets != "" {
		v, c = seccompText(l, iso), false
	} else if why, ok := strings.CutPrefix(v, "unavailable: "); ok {
		v, c = l.Unavailable+l.Colon+why, false
	}
	ps = append(ps, pair{Key: "seccomp", Value: v, Code: c})
	v, c = or(strings.Join(iso.Rlimits, ", "))
	ps = append(ps, pair{Key: l.Limits, Value: v, Code: c})
	for _, p := range iso.Problems {
		ps = append(ps, pair{Key: l.Error, Value: p, Code: true})
	}
	return ps
}

// landlockText words the Landlock rules iso says were enforced in the
// report's language (the evidence's Landlock text is English).
func landlockText(l *labels, iso *record.Isolation) string {
	on := []string{}
	if iso.LandlockFS {
		on = append(on, l.LandlockFiles)
	}
	if iso.LandlockTCP {
		on = append(on, l.LandlockTCP)
	}
	s := fmt.Sprintf(l.LandlockRules, iso.LandlockABI, strings.Join(on, ", "))
	if iso.LandlockScoped {
		s += l.Semicolon + l.LandlockScoped
	}
	return s
}

// seccompText words the seccomp filter iso describes in the report's
// language.
func seccompText(l *labels, iso *record.Isolation) string {
	var parts []string
	if iso.ExecRefused {
		parts = append(parts, l.ExecRefused)
	}
	if iso.PrivilegedRefused > 0 {
		parts = append(parts, fmt.Sprintf(l.PrivilegedRefused, iso.PrivilegedRefused))
	}
	if iso.NoProcesses {
		parts = append(parts, l.NoProcesses)
	}
	switch iso.Sockets {
	case "none":
		parts = append(parts, l.SocketsNone)
	case "tcp":
		parts = append(parts, l.SocketsTCP)
	case "unix+tcp":
		parts = append(parts, l.SocketsUnixTCP)
	}
	return strings.Join(parts, l.Semicolon)
}

// exitText says how a process ended ("exit status 1", "signal: killed",
// as Go's os/exec says it) in the report's language.
func exitText(l *labels, exit string) string {
	if n, ok := strings.CutPrefix(exit, "exit status "); ok {
		return l.ExitCodeWord + " " + n
	}
	if sig, ok := strings.CutPrefix(exit, "signal: "); ok {
		return "signal" + l.Colon + sig
	}
	return exit
}

// fileName returns base+ext, or base-2+ext, ..., a name no file of the
// output folder has: a report never overwrites what a cell wrote.
func (v *view) fileName(base, ext string) string {
	name := base + ext
	for n := 2; v.taken[name]; n++ {
		name = fmt.Sprintf("%s-%d%s", base, n, ext)
	}
	v.taken[name] = true
	return name
}
