package report

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/playbook-mlops/playbook/record"
)

// NotebookFile is the name of the run's Jupyter notebook in an output
// folder (playbook run --ipynb, playbook export).
const NotebookFile = "notebook.ipynb"

// Notebook writes the run record as a Jupyter notebook (nbformat 4.5), the
// form in which GitHub, GitLab and JupyterLab show a run, outputs included:
//
//   - a title cell (Markdown): the scenario's title, the verdict and the
//     summary of the report, the playbook version;
//   - the scenario's prose, as Markdown cells, as written but made harmless
//     as in report.md (raw HTML made text, images made links, unsafe links
//     defused);
//   - each Go cell as a code cell: its code, its place among the cells that
//     ran (execution_count, null for a cell that did not run), its step,
//     status, location and duration in its metadata, and its outputs:
//     printed text as streams; tables, key-value blocks, values and registry
//     snapshots as HTML (the report's own rendering: every string escaped)
//     with a plain-text fallback; plots as SVG, cleaned as the report cleans
//     them; Markdown as Markdown, made harmless; screenshots of the MLflow UI
//     as PNG (in the cell of the step that took them); the cell's error as
//     an error output.
//
// The labels the notebook adds are in the scenario's language, like the
// report's. The output is deterministic: keys sorted and indented by one
// space, as Jupyter writes them; cell ids derived from each cell's place
// and step.
func Notebook(w io.Writer, r *record.Run) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	nb, err := newNotebook(newView(r))
	if err != nil {
		return fmt.Errorf("report: notebook: %w", err)
	}
	if err := enc.Encode(nb); err != nil {
		return fmt.Errorf("report: notebook: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// The nbformat version written: 4.5 has cell ids.
const (
	nbFormat      = 4
	nbFormatMinor = 5
)

// The notebook's JSON. Fields are declared in the order of their keys,
// sorted, as Jupyter writes them (json.dumps with sort_keys); maps are
// sorted by encoding/json.
type (
	nbNotebook struct {
		Cells         []any      `json:"cells"`
		Metadata      nbMetadata `json:"metadata"`
		NBFormat      int        `json:"nbformat"`
		NBFormatMinor int        `json:"nbformat_minor"`
	}
	nbMetadata struct {
		Kernelspec   nbKernelspec `json:"kernelspec"`
		LanguageInfo nbLanguage   `json:"language_info"`
		Playbook     nbRun        `json:"playbook"`
		Title        string       `json:"title,omitempty"`
	}
	nbKernelspec struct {
		DisplayName string `json:"display_name"`
		Language    string `json:"language"`
		Name        string `json:"name"`
	}
	nbLanguage struct {
		FileExtension string `json:"file_extension"`
		Mimetype      string `json:"mimetype"`
		Name          string `json:"name"`
	}
	// nbRun is what the notebook says of the run: the scenario, how the
	// run ended, playbook's version, when.
	nbRun struct {
		End      string `json:"end,omitempty"`
		Exit     int    `json:"exit"`
		Scenario string `json:"scenario"`
		SHA256   string `json:"sha256,omitempty"`
		Start    string `json:"start,omitempty"`
		Status   string `json:"status"`
		Version  string `json:"version"`
	}
	nbMarkdownCell struct {
		CellType string         `json:"cell_type"`
		ID       string         `json:"id"`
		Metadata map[string]any `json:"metadata"`
		Source   []string       `json:"source"`
	}
	nbCodeCell struct {
		CellType string `json:"cell_type"`
		// ExecutionCount is null for a cell that did not run.
		ExecutionCount *int           `json:"execution_count"`
		ID             string         `json:"id"`
		Metadata       nbCellMetadata `json:"metadata"`
		Outputs        []any          `json:"outputs"`
		Source         []string       `json:"source"`
	}
	nbCellMetadata struct {
		Playbook nbCellRun `json:"playbook"`
	}
	// nbCellRun is what the notebook says of a cell's run.
	nbCellRun struct {
		Duration string `json:"duration,omitempty"`
		Location string `json:"location"`
		Note     string `json:"note,omitempty"`
		Start    string `json:"start,omitempty"`
		Status   string `json:"status"`
		Step     string `json:"step"`
	}
	nbStream struct {
		Name       string   `json:"name"`
		OutputType string   `json:"output_type"`
		Text       []string `json:"text"`
	}
	nbDisplay struct {
		Data       map[string]any `json:"data"`
		Metadata   map[string]any `json:"metadata"`
		OutputType string         `json:"output_type"`
	}
	nbError struct {
		Ename      string   `json:"ename"`
		Evalue     string   `json:"evalue"`
		OutputType string   `json:"output_type"`
		Traceback  []string `json:"traceback"`
	}
)

// The notebook's kernel and language: cells are Go, run by playbook's
// yaegi kernel.
var (
	nbKernel     = nbKernelspec{DisplayName: "playbook (Go, yaegi)", Language: "go", Name: "playbook"}
	nbLanguageGo = nbLanguage{FileExtension: ".go", Mimetype: "text/x-go", Name: "go"}
)

func newNotebook(v *view) (*nbNotebook, error) {
	r, l := v.Run, v.L
	env := r.Environment
	nb := &nbNotebook{Cells: []any{}, NBFormat: nbFormat, NBFormatMinor: nbFormatMinor,
		Metadata: nbMetadata{Kernelspec: nbKernel, LanguageInfo: nbLanguageGo, Title: v.Title, Playbook: nbRun{
			End: nbTime(env.End), Exit: env.Exit.Code, Scenario: r.Scenario.Path, SHA256: r.Scenario.SHA256,
			Start: nbTime(env.Start), Status: env.Exit.Status, Version: env.PlaybookVersion,
		}}}

	// The title cell: the top of report.md, the playbook version added to
	// its summary.
	m := &mdWriter{l: l}
	m.header(v, append(slices.Clone(v.Summary), pair{Key: l.PlaybookVersion, Value: env.PlaybookVersion, Code: true}))
	nb.Cells = append(nb.Cells, markdownCell("title", m.b.String()))

	var code []*nbCodeCell
	ran, prose := 0, 0
	for _, b := range v.Blocks {
		if b.Cell == nil {
			if md := strings.TrimSpace(neutralMarkdown(b.Prose)); md != "" {
				prose++
				nb.Cells = append(nb.Cells, markdownCell(fmt.Sprintf("prose-%d", prose), md))
			}
			continue
		}
		c, err := codeCell(l, b.Cell)
		if err != nil {
			return nil, err
		}
		if b.Cell.Status != record.StatusNotRun {
			ran++
			n := ran
			c.ExecutionCount = &n
		}
		code = append(code, c)
		nb.Cells = append(nb.Cells, c)
	}
	addCaptures(v, code)
	return nb, nil
}

func markdownCell(id, md string) *nbMarkdownCell {
	return &nbMarkdownCell{CellType: "markdown", ID: id, Metadata: map[string]any{}, Source: nbLines(strings.TrimRight(md, "\n"))}
}

// codeCell is a Go cell, and what it showed.
func codeCell(l *labels, c *cellView) (*nbCodeCell, error) {
	// The report's HTML id: the cell's place and its step, slugged
	// (letters, digits and dashes, at most 40 of them), which nbformat
	// takes as an id.
	nc := &nbCodeCell{CellType: "code", ID: c.ID, Outputs: []any{}, Source: nbLines(strings.TrimRight(c.Code, "\n")),
		Metadata: nbCellMetadata{Playbook: nbCellRun{Location: c.Location, Status: c.Status, Step: c.Step}}}
	meta := &nc.Metadata.Playbook
	if c.Status == record.StatusNotRun {
		// A cell that did not run shows nothing, and says why.
		meta.Note = l.NotRunNote
		return nc, nil
	}
	meta.Start = nbTime(c.Start)
	if c.Cell.Duration > 0 {
		meta.Duration = c.Cell.Duration.String()
	}
	for _, o := range c.Outputs {
		outs, err := nbOutputs(l, o)
		if err != nil {
			return nil, err
		}
		nc.Outputs = append(nc.Outputs, outs...)
	}
	if e := c.Error; e != nil {
		file := e.File
		if file == "" {
			file, _, _ = strings.Cut(c.Location, ":")
		}
		nc.Outputs = append(nc.Outputs, &nbError{Ename: e.Kind, Evalue: e.Message, OutputType: "error",
			Traceback: []string{fmt.Sprintf("%s:%d: %s", file, e.Line, e.Message)}})
	}
	return nc, nil
}

// nbOutputs are the notebook's outputs of one output of a cell.
func nbOutputs(l *labels, o outputView) ([]any, error) {
	kind := map[string]any{"kind": o.Kind}
	if o.Truncated {
		kind["truncated"] = true
	}
	display := func(data map[string]any) *nbDisplay {
		return &nbDisplay{Data: data, Metadata: map[string]any{"playbook": kind}, OutputType: "display_data"}
	}
	switch o.Kind {
	case record.OutputStdout, record.OutputStderr:
		if o.Text == "" {
			return nil, nil
		}
		outs := []any{&nbStream{Name: o.Kind, OutputType: "stream", Text: nbLines(o.Text)}}
		if o.Truncated {
			// A stream holds text only: the note is a display of its own.
			outs = append(outs, display(map[string]any{"text/plain": nbLines("[" + l.Truncated + "]")}))
		}
		return outs, nil
	case record.OutputValue, record.OutputTable, record.OutputKV, record.OutputSnapshot:
		// The report's own HTML of the output.
		var b strings.Builder
		if err := pageTemplate().ExecuteTemplate(&b, "output", bundled{L: l, V: o}); err != nil {
			return nil, err
		}
		return []any{display(map[string]any{
			"text/html":  nbLines(strings.TrimPrefix(b.String(), "\n")),
			"text/plain": nbLines(plainOutput(l, o)),
		})}, nil
	case record.OutputPlot:
		title := o.Title
		if title == "" {
			title = l.Plot
		}
		if o.Plot == nil || o.Plot.SVG == "" {
			why := ""
			if o.Plot != nil {
				why = l.Colon + o.Plot.Err
			}
			return []any{display(map[string]any{"text/plain": nbLines(title + why)})}, nil
		}
		return []any{display(map[string]any{"image/svg+xml": nbLines(o.Plot.SVG), "text/plain": nbLines(title)})}, nil
	case record.OutputMarkdown:
		return []any{display(map[string]any{
			"text/markdown": nbLines(strings.TrimSpace(neutralMarkdown(o.Text))),
			"text/plain":    nbLines(o.Text),
		})}, nil
	}
	// A kind of a later playbook: its text.
	return []any{display(map[string]any{"text/plain": nbLines(plainOutput(l, o))})}, nil
}

// addCaptures puts the record's screenshots of the MLflow UI in the cell
// of the step that took them, after its outputs; one whose step has no
// cell that ran goes to the last cell that ran (a record playbook writes
// has none such).
func addCaptures(v *view, cells []*nbCodeCell) {
	r, l := v.Run, v.L
	if len(r.Evidence.Captures) == 0 {
		return // v.Captures then only says why there is none
	}
	var last *nbCodeCell
	byStep := map[string]*nbCodeCell{}
	for _, c := range cells {
		if c.ExecutionCount != nil {
			last = c
			if _, ok := byStep[c.Metadata.Playbook.Step]; !ok {
				byStep[c.Metadata.Playbook.Step] = c
			}
		}
	}
	for i, rc := range r.Evidence.Captures {
		c, ok := byStep[rc.Step]
		if !ok {
			c = last
		}
		if c == nil || i >= len(v.Captures) {
			continue
		}
		cp := v.Captures[i]
		meta := map[string]any{"playbook": map[string]any{"kind": "capture", "url": cp.URL}}
		var data map[string]any
		if len(cp.PNG) > 0 {
			data = map[string]any{"image/png": base64.StdEncoding.EncodeToString(cp.PNG), "text/plain": nbLines(cp.Title + " — " + cp.URL + " — " + cp.Time)}
			if cp.Width > 0 && cp.Height > 0 {
				meta["image/png"] = map[string]any{"height": cp.Height, "width": cp.Width}
			}
		} else {
			data = map[string]any{"text/plain": nbLines(l.NoCapture + l.Colon + cp.Reason)}
		}
		c.Outputs = append(c.Outputs, &nbDisplay{Data: data, Metadata: meta, OutputType: "display_data"})
	}
}

// plainOutput is the text/plain form of an output: its tables laid out in
// aligned columns.
func plainOutput(l *labels, o outputView) string {
	var b strings.Builder
	if o.Title != "" && o.Kind != record.OutputValue && o.Kind != record.OutputSnapshot {
		b.WriteString(oneLine(o.Title) + "\n")
	}
	switch o.Kind {
	case record.OutputValue:
		if o.Type != "" {
			b.WriteString(o.Type + "\n")
		}
		switch {
		case o.Text != "":
			b.WriteString(strings.TrimRight(o.Text, "\n"))
		case len(o.KV) > 0:
			b.WriteString(plainTable(nil, kvRows(o.KV)))
		case o.Table != nil:
			b.WriteString(plainTable(o.Table.Columns, o.Table.Rows))
		}
	case record.OutputTable:
		if o.Table != nil {
			b.WriteString(plainTable(o.Table.Columns, o.Table.Rows))
		}
	case record.OutputKV:
		b.WriteString(plainTable(nil, kvRows(o.KV)))
	case record.OutputSnapshot:
		if s := o.Snapshot; s != nil {
			head := l.Model + " " + s.Model
			if s.Label != "" {
				head += " — " + snapLabel(l, s.Label)
			}
			b.WriteString(oneLine(head) + "\n")
			var rows [][]string
			for _, a := range sortedKeys(s.Aliases) {
				rows = append(rows, []string{a, "version " + s.Aliases[a]})
			}
			b.WriteString(plainTable([]string{l.Alias, l.Version}, rows) + "\n\n")
			rows = nil
			for _, vs := range sortedVersions(s.Versions) {
				rows = append(rows, []string{"version " + vs.Version, strings.Join(vs.Aliases, ", "), fmt.Sprint(len(vs.Tags))})
			}
			b.WriteString(plainTable([]string{l.Version, l.Aliases, l.Tags}, rows))
		}
	default:
		b.WriteString(o.Text)
	}
	s := strings.TrimRight(b.String(), "\n")
	if o.Truncated {
		s += "\n[" + l.Truncated + "]"
	}
	return s
}

func kvRows(kv []record.KV) [][]string {
	rows := make([][]string, len(kv))
	for i, p := range kv {
		rows[i] = []string{p.Key, p.Value}
	}
	return rows
}

// plainTable lays a table out as text, a line a row, its columns aligned
// two spaces apart, under the column names (none when cols is nil). Each
// cell is put on one line; cells past the last column are left out.
func plainTable(cols []string, rows [][]string) string {
	n := len(cols)
	if cols == nil {
		for _, r := range rows {
			n = max(n, len(r))
		}
	}
	all := rows
	if cols != nil {
		all = append([][]string{cols}, rows...)
	}
	width := make([]int, n)
	for _, r := range all {
		for i := 0; i < n && i < len(r); i++ {
			width[i] = max(width[i], utf8.RuneCountInString(oneLine(r[i])))
		}
	}
	var b strings.Builder
	for _, r := range all {
		var line strings.Builder
		for i := range n {
			s := ""
			if i < len(r) {
				s = oneLine(r[i])
			}
			if i > 0 {
				line.WriteString("  ")
			}
			line.WriteString(s + strings.Repeat(" ", width[i]-utf8.RuneCountInString(s)))
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// nbLines splits text into the lines of an nbformat multi-line string,
// each but the last ending in its newline.
func nbLines(s string) []string {
	out := []string{}
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// nbTime writes a time of the record in the notebook's metadata: RFC 3339,
// UTC; "" for none.
func nbTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
