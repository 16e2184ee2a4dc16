package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/playbook-mlops/playbook/record"
)

// File is a file of the Markdown report that goes beside report.md: a plot
// (SVG) or a screenshot (PNG), which report.md links to by Name.
type File struct {
	Name string
	Data []byte
}

// Markdown writes the run record as Markdown, for ticket systems and
// repositories, and returns the files report.md links to (its plots and
// screenshots as PNG, named for what they show, ready to upload with it;
// a plot of an older record, with no PNG, as SVG), to be written beside it. Every string of the
// record is escaped, or shown as code, so that Markdown renderers show it
// as text; the scenario's prose is kept as written but for its raw HTML,
// which is made text.
func Markdown(w io.Writer, r *record.Run) ([]File, error) {
	v := newView(r)
	m := &mdWriter{l: v.L}
	m.report(v)
	if _, err := io.WriteString(w, m.b.String()); err != nil {
		return nil, fmt.Errorf("report: markdown: %w", err)
	}
	var files []File
	for _, p := range v.Plots {
		switch {
		case p.PNG != nil:
			files = append(files, File{Name: p.Name, Data: p.PNG})
		case p.SVG != "":
			files = append(files, File{Name: p.Name, Data: []byte(p.SVG)})
		}
	}
	for _, c := range v.Captures {
		if c.Name != "" {
			files = append(files, File{Name: c.Name, Data: c.PNG})
		}
	}
	return files, nil
}

type mdWriter struct {
	b strings.Builder
	l *labels
	// short leaves out the tags a run did not change (ticket.md).
	short bool
}

func (m *mdWriter) line(s string) {
	m.b.WriteString(s)
	m.b.WriteByte('\n')
}

func (m *mdWriter) report(v *view) {
	l := v.L
	m.header(v, v.Summary)

	m.line("## " + mdText(l.Scenario))
	m.line("")
	for _, b := range v.Blocks {
		if b.Cell == nil {
			if prose := strings.TrimSpace(neutralMarkdown(demoteHeadings(b.Prose))); prose != "" {
				m.line(prose)
				m.line("")
			}
			continue
		}
		m.cell(b.Cell)
	}
	m.registry(v)
	m.leaderboard(v)
	m.validation(v)
	m.verification(v)
	m.audit(v)
}

// header writes the report's title, the scenario's file and description,
// the verdict and the summary pairs: the top of report.md, and the title
// cell of the notebook.
func (m *mdWriter) header(v *view, summary []pair) {
	l := v.L
	m.line("# " + mdText(v.Title))
	m.line("")
	m.line("*" + mdText(l.Generated) + "* " + mdCode(v.Run.Scenario.Path, false))
	m.line("")
	if v.Description != "" {
		m.line(mdText(v.Description))
		m.line("")
	}
	mark := map[string]string{verdictPromoted: "✅", verdictNotPromoted: "⚠️", verdictFailed: "❌", verdictDone: "ℹ️"}[v.Verdict.Kind]
	m.line("> " + mark + " **" + mdText(strings.ToUpper(v.Verdict.Headline)) + "** — " + mdText(v.Verdict.Detail))
	m.line("")
	m.board(v)
	m.pairs(l.Summary, summary)
}

// board writes the report's first screen as the HTML report has it: the
// change, who made it and when, how to undo it, and (in report.md; the
// ticket has the validation's checks below) the checks that decided it.
func (m *mdWriter) board(v *view) {
	b, l := v.Board, v.L
	if b == nil {
		return
	}
	if b.Model != "" && b.To != "" {
		m.line("**" + mdText(l.TheChange) + "**" + mdText(l.Colon) + mdCode(b.Model, false) + aliasCode(b.Alias) + " " + mdText(b.From) + " → **version " + mdText(b.To) + "**")
		m.line("")
	}
	// Who and when: a table whose header row is the first pair.
	who := b.Who
	if b.Rollback == "" {
		who = append(who[:len(who):len(who)], pair{Key: l.RollbackLabel, Value: b.RollbackNote})
	}
	if len(who) > 0 {
		rows := [][]cellText{}
		for _, p := range who[1:] {
			rows = append(rows, []cellText{text(p.Key), text(p.Value)})
		}
		m.table([]string{who[0].Key, who[0].Value}, rows)
	}
	if b.Rollback != "" {
		m.line("**" + mdText(l.RollbackLabel) + "**")
		m.line("")
		m.fenced("sh", b.Rollback)
	}
	if len(b.Checks) > 0 && !m.short {
		rows := [][]cellText{}
		for _, c := range b.Checks {
			limit := ""
			if c.Limit != "" && c.Limit != "—" {
				limit = l.Limit + " " + c.Limit
			}
			word := text(c.Word)
			if c.Class == "fail" {
				word = raw("**" + string(word) + "**")
			}
			rows = append(rows, []cellText{code(c.Name), text(c.Value), text(limit), word})
		}
		m.table([]string{l.Decided, "", "", ""}, rows)
	}
}

// aliasCode is " `@alias`", or "" for no alias.
func aliasCode(alias string) string {
	if alias == "" {
		return ""
	}
	return " " + mdCode("@"+alias, false)
}

func (m *mdWriter) cell(c *cellView) {
	l := m.l
	head := "#### " + mdText(l.Step) + " " + mdCode(c.Step, false) + " — " + mdText(c.StatusLabel)
	if c.Duration != "" {
		head += " — " + mdText(c.Duration)
	}
	m.line(head + " — " + mdCode(c.Location, false))
	m.line("")
	m.fenced("go", strings.TrimRight(c.Code, "\n"))
	if c.Status == record.StatusNotRun {
		m.line("*" + mdText(c.NotRunNote) + "*")
		m.line("")
	}
	if e := c.Error; e != nil {
		m.line(fmt.Sprintf("**%s (%s) %s**", mdText(l.Error), mdText(e.Kind), mdCode(fmt.Sprintf("%s:%d", e.File, e.Line), false)))
		m.line("")
		m.fenced("text", e.Message)
	}
	for _, o := range c.Outputs {
		m.output(o)
	}
}

func (m *mdWriter) output(o outputView) {
	l := m.l
	switch o.Kind {
	case record.OutputStdout, record.OutputStderr:
		if o.Kind == record.OutputStderr {
			m.line("*stderr*")
			m.line("")
		}
		m.fenced("text", strings.TrimRight(o.Text, "\n"))
	case record.OutputValue:
		m.line("*" + mdText(o.Type) + "*")
		m.line("")
		switch {
		case len(o.KV) > 0:
			m.kv(o.KV)
		case o.Table != nil:
			m.plainTable(o.Table.Columns, o.Table.Rows)
		default:
			m.fenced("text", o.Text)
		}
	case record.OutputTable:
		m.caption(o.Title)
		if o.Table != nil {
			m.plainTable(o.Table.Columns, o.Table.Rows)
		}
	case record.OutputKV:
		m.caption(o.Title)
		m.kv(o.KV)
	case record.OutputPlot:
		if o.Plot != nil && (o.Plot.PNG != nil || o.Plot.SVG != "") {
			m.line("![" + mdText(o.Title) + "](" + o.Plot.Name + ")")
		} else if o.Plot != nil {
			m.line("*" + mdText(o.Title) + "*: " + mdText(o.Plot.Err))
		}
		m.line("")
	case record.OutputSnapshot:
		if s := o.Snapshot; s != nil {
			title := mdText(l.Model) + " " + mdCode(s.Model, false)
			if s.Label != "" {
				title += " — " + mdText(snapLabel(l, s.Label))
			}
			m.line("**" + title + "**")
			m.line("")
			rows := [][]cellText{}
			for _, a := range sortedKeys(s.Aliases) {
				rows = append(rows, []cellText{code(a), text("version " + s.Aliases[a])})
			}
			m.table([]string{l.Alias, l.Version}, rows)
			rows = [][]cellText{}
			for _, vs := range sortedVersions(s.Versions) {
				rows = append(rows, []cellText{text("version " + vs.Version), code(strings.Join(vs.Aliases, ", ")), text(fmt.Sprint(len(vs.Tags)))})
			}
			m.table([]string{l.Version, l.Aliases, l.Tags}, rows)
		}
	case record.OutputMarkdown:
		if s := strings.TrimSpace(neutralMarkdown(o.Text)); s != "" {
			m.line(s)
			m.line("")
		}
	default:
		m.fenced("text", o.Text)
	}
	if o.Truncated {
		m.line("*" + mdText(l.Truncated) + "*")
		m.line("")
	}
}

func (m *mdWriter) registry(v *view) {
	l := m.l
	m.line("## " + mdText(l.Registry))
	m.line("")
	m.line(mdText(l.RegistryNote))
	m.line("")
	if len(v.Registry) == 0 {
		m.line("*" + mdText(l.NoSnapshot) + "*")
		m.line("")
	}
	for _, d := range v.Registry {
		m.line("### " + mdText(l.Model) + " " + mdCode(d.Model, false))
		m.line("")
		stamp := mdText(l.Before) + l.Colon + mdText(snapStamp(d.Before))
		if d.After != nil {
			stamp += " — " + mdText(l.After) + l.Colon + mdText(snapStamp(d.After))
		}
		m.line("*" + stamp + "*")
		m.line("")
		if d.After == nil {
			m.line("*" + mdText(l.OnlyBefore) + "*")
			m.line("")
		}
		ver := func(s string) string {
			if s == "" {
				return "—"
			}
			return "version " + s
		}
		m.caption(l.Aliases)
		if d.After != nil {
			rows := [][]cellText{}
			for _, a := range d.Aliases {
				rows = append(rows, []cellText{code(a.Alias), text(ver(a.Before)), text(ver(a.After)), strong(a.Change != "", changeWord(l, a.Change))})
			}
			m.table([]string{l.Alias, l.Before, l.After, l.Change}, rows)
		} else {
			rows := [][]cellText{}
			for _, a := range d.Aliases {
				rows = append(rows, []cellText{code(a.Alias), text(ver(a.Before))})
			}
			m.table([]string{l.Alias, l.Before}, rows)
		}
		for _, vd := range d.Versions {
			head := "#### version " + mdText(vd.Version)
			switch vd.Change {
			case "added":
				head += " — **" + mdText(l.NewVersion) + "**"
			case "removed":
				head += " — **" + mdText(l.RemovedVersion) + "**"
			}
			if vd.Aliases != "" {
				head += " — " + mdText(l.Aliases) + l.Colon + mdCode(vd.Aliases, false)
			}
			m.line(head)
			m.line("")
			if d.After != nil {
				rows := [][]cellText{}
				for _, t := range vd.Changed {
					rows = append(rows, []cellText{code(t.Key), code(t.Before), code(t.After), strong(true, changeWord(l, t.Change))})
				}
				for _, t := range vd.Same {
					if m.short {
						break
					}
					rows = append(rows, []cellText{code(t.Key), code(t.Before), code(t.After), text(changeWord(l, ""))})
				}
				m.table([]string{l.Tag, l.Before, l.After, l.Change}, rows)
			} else {
				rows := [][]cellText{}
				for _, t := range vd.Same {
					rows = append(rows, []cellText{code(t.Key), code(t.Before)})
				}
				m.table([]string{l.Tag, l.Before}, rows)
			}
		}
	}
}

func (m *mdWriter) leaderboard(v *view) {
	lb := v.Leaderboard
	if lb == nil {
		return
	}
	l := m.l
	m.line("## " + mdText(l.Leaderboard))
	m.line("")
	m.line(mdText(lb.Note))
	m.line("")
	m.line(mdText(l.TieBreak) + l.Colon + mdText(lb.TieBreak))
	m.line("")
	cols := append([]string{l.Rank, l.Run, l.RunID, lb.Metric}, lb.Columns...)
	cols = append(cols, l.Start)
	rows := [][]cellText{}
	for i, r := range lb.Rows {
		name := text(r.RunName)
		if i == 0 {
			name += cellText(" **(" + mdText(l.Selected) + ")**")
		}
		row := []cellText{text(fmt.Sprint(r.Rank)), name, code(r.RunID), text(fmtNum(r.Value))}
		for _, c := range lb.Columns {
			if x, ok := r.Metrics[c]; ok {
				row = append(row, text(fmtNum(x)))
			} else {
				row = append(row, "")
			}
		}
		rows = append(rows, append(row, text(fmtTime(r.StartTime))))
	}
	m.table(cols, rows)
}

func (m *mdWriter) validation(v *view) {
	val := v.Validation
	if val == nil {
		return
	}
	l := m.l
	word := l.Passed
	if !val.Passed {
		word = l.FailedWord
	}
	m.line("## " + mdText(l.Validation) + l.Colon + mdText(word))
	m.line("")
	note := mdText(val.Note)
	if val.Champion != "" {
		note += " " + mdText(l.Champion) + ": " + mdCode("version "+val.Champion, false) + " (" + mdText(val.ChampionAlias) + ")."
	}
	m.line(note)
	m.line("")
	m.caption(l.Metrics)
	cols := []string{l.Metric, l.Candidate + " v" + val.Version}
	if val.Champion != "" {
		cols = append(cols, l.Champion+" v"+val.Champion, l.Delta)
	}
	cols = append(cols, l.Threshold, l.Result)
	rows := [][]cellText{}
	for _, r := range val.Metrics {
		row := []cellText{code(r.Name), text(r.Candidate)}
		if val.Champion != "" {
			row = append(row, text(r.Champion), text(r.Delta))
		}
		rows = append(rows, append(row, code(r.Threshold), strong(r.Pass == "fail", passWord(l, r.Pass))))
	}
	m.table(cols, rows)
	m.caption(l.Checks)
	m.checks(val.Checks)
	if len(val.Fairness) > 0 {
		m.caption(l.Fairness)
		rows := [][]cellText{}
		for _, f := range val.Fairness {
			for _, g := range f.Groups {
				rows = append(rows, []cellText{code(f.Attribute), text(g.Group), text(fmt.Sprint(g.Count)), text(fmtNum(g.SelectionRate)), text(fmtNum(g.TPR)), text(fmtNum(g.FPR))})
			}
		}
		m.table([]string{l.Attribute, l.Group, l.Count, l.SelectionRate, l.TPR, l.FPR}, rows)
		for _, f := range val.Fairness {
			m.line("- " + mdCode(f.Attribute, false) + ": " + mdText(l.DPDiff) + " " + fmtNum(f.DemographicParityDifference) +
				", " + mdText(l.EODiff) + " " + fmtNum(f.EqualizedOddsDifference))
		}
		m.line("")
	}
}

func (m *mdWriter) checks(cs []record.Check) {
	l := m.l
	rows := [][]cellText{}
	for _, c := range cs {
		class := checkOutcome(c)
		res := strong(class == "fail", passWord(l, class))
		rows = append(rows, []cellText{code(c.Name), text(fmtOptNum(c.Value)), text(fmtOptNum(c.Champion)), text(fmtOptNum(c.Limit)), res, text(c.Detail)})
	}
	m.table([]string{l.Check, l.Candidate, l.Champion, l.Limit, l.Result, l.Detail}, rows)
}

func (m *mdWriter) verification(v *view) {
	l := m.l
	m.line("## " + mdText(l.Verification))
	m.line("")
	if len(v.Verify) > 0 {
		m.caption(l.VerifyChecks)
		m.verifyChecks(v)
	}
	m.line("### " + mdText(l.Capture))
	m.line("")
	m.line(mdText(l.CaptureNote))
	m.line("")
	for _, c := range v.Captures {
		if c.Name != "" {
			m.line("![" + mdText(c.Title) + "](" + c.Name + ")")
			m.line("")
			m.line("*" + mdText(c.Title) + "* — " + mdCode(c.URL, false) + " — " + mdText(c.Time))
		} else {
			s := "**" + mdText(l.NoCapture) + "**" + l.Colon + mdText(c.Reason)
			if c.URL != "" {
				s += " (" + mdCode(c.URL, false) + ")"
			}
			m.line(s)
		}
		m.line("")
	}
}

func (m *mdWriter) audit(v *view) {
	l := m.l
	a := v.Audit
	m.line("## " + mdText(l.Audit))
	m.line("")
	m.pairs("", a.Pairs)
	if e := a.Error; e != nil {
		m.line(fmt.Sprintf("**%s (%s) %s**", mdText(l.Error), mdText(e.Kind), mdCode(fmt.Sprintf("%s:%d", e.File, e.Line), false)))
		m.line("")
		m.fenced("text", e.Message)
	}
	m.line("### " + mdText(l.Params))
	m.line("")
	rows := [][]cellText{}
	for _, p := range a.Params {
		rows = append(rows, []cellText{code(p.Name), code(fmtValue(p.Value)), text(p.Type), text(p.Source)})
	}
	m.table([]string{l.Name, l.Value, l.Type, l.Source}, rows)
	m.line("### " + mdText(l.Calls))
	m.line("")
	m.line(mdText(l.CallsNote))
	m.line("")
	if len(a.Calls) == 0 {
		m.line("*" + mdText(l.NoCalls) + "*")
		m.line("")
	} else {
		rows := [][]cellText{}
		for _, c := range a.Calls {
			outcome := text(c.Outcome)
			if c.DryRun {
				outcome += cellText(" (" + mdText(l.DryRun) + ")")
			}
			rows = append(rows, []cellText{text(c.Time), text(c.Step), code(c.Method + " " + c.Endpoint), code(c.Args), outcome, text(c.Duration)})
		}
		m.table([]string{l.Time, l.Step, l.Endpoint, l.Args, l.Outcome, l.Duration}, rows)
	}
	if len(a.Files) > 0 {
		m.line("### " + mdText(l.Files))
		m.line("")
		rows := [][]cellText{}
		for _, f := range a.Files {
			rows = append(rows, []cellText{code(f.Name), text(f.Step), text(fmtSize(f.Size)), code(f.SHA256)})
		}
		m.table([]string{l.Name, l.Step, l.Size, l.SHA256}, rows)
	}
	m.line("---")
	m.line("")
	m.line("*playbook " + mdText(v.Run.Environment.PlaybookVersion) + " — " + mdText(v.Run.Schema) + "*")
}

func (m *mdWriter) caption(s string) {
	if s == "" {
		return
	}
	m.line("**" + mdText(s) + "**")
	m.line("")
}

func (m *mdWriter) pairs(title string, ps []pair) {
	rows := [][]cellText{}
	for _, p := range ps {
		val := text(p.Value)
		if p.Code {
			val = code(p.Value)
		}
		if p.Class == "fail" {
			val = raw("**" + string(val) + "**")
		}
		rows = append(rows, []cellText{text(p.Key), val})
	}
	m.table([]string{title, ""}, rows)
}

func (m *mdWriter) kv(kv []record.KV) {
	rows := [][]cellText{}
	for _, p := range kv {
		rows = append(rows, []cellText{text(p.Key), text(p.Value)})
	}
	m.table([]string{m.l.Name, m.l.Value}, rows)
}

// cellText is a table cell's Markdown, already escaped.
type cellText string

func text(s string) cellText { return cellText(mdCell(mdText(s))) }

// code shows s as code in a table cell, or as text when it holds a '|':
// GFM reads "\|" in a code span as '|', other renderers as "\|".
func code(s string) cellText {
	if strings.Contains(s, "|") {
		return text(s)
	}
	return cellText(mdCode(s, true))
}
func raw(s string) cellText { return cellText(mdCell(s)) }

func strong(on bool, s string) cellText {
	if on && s != "" {
		return cellText("**" + mdCell(mdText(s)) + "**")
	}
	return text(s)
}

// table writes a GFM table of escaped cells.
func (m *mdWriter) table(cols []string, rows [][]cellText) {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range cols {
		b.WriteString(" " + mdText(c) + " |")
	}
	b.WriteString("\n|")
	for range cols {
		b.WriteString(" --- |")
	}
	b.WriteByte('\n')
	for _, r := range rows {
		b.WriteString("|")
		for i := range cols {
			s := cellText("")
			if i < len(r) {
				s = r[i]
			}
			b.WriteString(" " + string(s) + " |")
		}
		b.WriteByte('\n')
	}
	m.b.WriteString(b.String())
	m.b.WriteByte('\n')
}

// plainTable writes a table of the record: every cell is text.
func (m *mdWriter) plainTable(cols []string, rows [][]string) {
	cells := make([][]cellText, len(rows))
	for i, r := range rows {
		cells[i] = make([]cellText, len(r))
		for j, s := range r {
			cells[i][j] = text(s)
		}
	}
	m.table(cols, cells)
}

// fenced writes text as a fenced code block, its fence longer than any run
// of backticks in it.
func (m *mdWriter) fenced(lang, s string) {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	m.line(fence + lang)
	m.line(s)
	m.line(fence)
	m.line("")
}

// mdText escapes s for inline Markdown text, on one line, so that
// Markdown renderers (CommonMark, GFM and the common extensions: math,
// super- and subscripts) show it as it is, with as few backslashes as that
// takes: the characters that always mean something ('\\', '`', '*', '[',
// ']', '<', '>', '|', '~', '$', '^') are escaped; '_' when it could start or
// end emphasis; '&' when it could start an entity; and what means something
// at the start of a line only ('#', '-', '+', "1.") there. Bare URLs stay
// as they are: renderers may make them links.
func mdText(s string) string {
	s = oneLine(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	alnum := func(i int) bool {
		if i < 0 || i >= len(s) {
			return false
		}
		c := s[i]
		return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
	}
	digits := 0
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		esc := false
		switch c {
		case '\\', '`', '*', '[', ']', '<', '>', '|', '~', '$', '^':
			esc = true
		case '_':
			esc = !alnum(i-1) || !alnum(i+1)
		case '&':
			esc = i+1 < len(s) && (s[i+1] == '#' || (s[i+1]|0x20 >= 'a' && s[i+1]|0x20 <= 'z'))
		case '#', '-', '+':
			esc = i == 0
		case '.', ')': // "1. " starts a list item
			esc = i > 0 && i == digits && (i+1 == len(s) || s[i+1] == ' ')
		}
		if esc {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// mdCode writes s as an inline code span, on one line, which renderers show
// as it is. In a table, '|' is escaped too: GFM splits cells on it even in
// code.
func mdCode(s string, inTable bool) string {
	s = oneLine(s)
	if s == "" {
		return ""
	}
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if inTable {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCell makes escaped Markdown fit a table cell.
func mdCell(s string) string {
	return oneLine(s)
}

// oneLine puts s on one line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(strings.NewReplacer("\r", " ", "\n", " ", "\t", " ").Replace(s)), " ")
}

// demoteHeadings puts the ATX headings of prose one level down, under the
// report's own, outside fenced code blocks.
func demoteHeadings(md string) string {
	var b strings.Builder
	fence := ""
	for _, line := range strings.SplitAfter(md, "\n") {
		t := strings.TrimLeft(line, " ")
		switch {
		case fence != "":
			if strings.HasPrefix(t, fence) {
				fence = ""
			}
		case strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~"):
			fence = t[:3]
		case len(line)-len(t) < 4 && strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "######"):
			n := len(t) - len(strings.TrimLeft(t, "#"))
			if n < len(t) && (t[n] == ' ' || t[n] == '\t' || t[n] == '\n') {
				b.WriteString("#")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// verifyChecks writes the table of the final state's checks.
func (m *mdWriter) verifyChecks(v *view) {
	l := m.l
	rows := [][]cellText{}
	for _, c := range v.Verify {
		res := text(l.Pass)
		if !c.Pass {
			res = strong(true, l.Fail)
		}
		rows = append(rows, []cellText{code(c.Name), text(c.Detail), res})
	}
	m.table([]string{l.Check, l.Seen, l.Result}, rows)
}
