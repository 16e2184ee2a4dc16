package report_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gomarkdown/markdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

// nb is a notebook as the tests read it.
type nb struct {
	Cells []struct {
		CellType       string         `json:"cell_type"`
		ID             string         `json:"id"`
		ExecutionCount *int           `json:"execution_count"`
		Metadata       map[string]any `json:"metadata"`
		Source         []string       `json:"source"`
		Outputs        []nbOut        `json:"outputs"`
	} `json:"cells"`
	Metadata      map[string]any `json:"metadata"`
	NBFormat      int            `json:"nbformat"`
	NBFormatMinor int            `json:"nbformat_minor"`
}

type nbOut struct {
	OutputType string         `json:"output_type"`
	Name       string         `json:"name"`
	Text       []string       `json:"text"`
	Data       map[string]any `json:"data"`
	Metadata   map[string]any `json:"metadata"`
	Ename      string         `json:"ename"`
	Evalue     string         `json:"evalue"`
	Traceback  []string       `json:"traceback"`
}

// data returns the text of a mime type of a display: its lines joined.
func (o nbOut) data(mime string) string {
	switch v := o.Data[mime].(type) {
	case string:
		return v
	case []any:
		var b strings.Builder
		for _, s := range v {
			b.WriteString(s.(string))
		}
		return b.String()
	}
	return ""
}

func notebook(t *testing.T, r *record.Run) ([]byte, *nb) {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, report.Notebook(&b, r))
	var n nb
	require.NoError(t, json.Unmarshal(b.Bytes(), &n), "the notebook is JSON")
	return b.Bytes(), &n
}

// cellOf returns the code cell of step.
func (n *nb) cellOf(t *testing.T, step string) int {
	t.Helper()
	for i, c := range n.Cells {
		if c.CellType == "code" {
			if m, _ := c.Metadata["playbook"].(map[string]any); m["step"] == step {
				return i
			}
		}
	}
	t.Fatalf("no code cell of step %s", step)
	return -1
}

// The notebook of each fixture is exactly its golden file (regenerated
// with go test ./report -run TestGolden -update, never edited).
func TestGoldenNotebook(t *testing.T) {
	for _, name := range report.FixtureNames {
		t.Run(name, func(t *testing.T) {
			b, _ := notebook(t, report.FixtureRun(name))
			golden(t, name+".ipynb", b)
		})
	}
}

// A notebook is nbformat 4.5 with the kernel and language of playbook's
// cells, and says what the run was in its metadata; its cells are the
// title, the prose and the Go cells, in the scenario's order, the code as
// written.
func TestNotebookShape(t *testing.T) {
	r := report.FixtureRun("promoted.en")
	_, n := notebook(t, r)
	assert.Equal(t, 4, n.NBFormat)
	assert.Equal(t, 5, n.NBFormatMinor)
	assert.Equal(t, map[string]any{"name": "playbook", "display_name": "playbook (Go, yaegi)", "language": "go"}, n.Metadata["kernelspec"])
	assert.Equal(t, map[string]any{"name": "go", "file_extension": ".go", "mimetype": "text/x-go"}, n.Metadata["language_info"])
	assert.Equal(t, map[string]any{"scenario": "scenarios/churn-promotion.en.md", "status": "ok", "exit": float64(0), "version": "v0.3.0",
		"start": "2026-03-04T10:00:00Z", "end": "2026-03-04T10:00:42Z", "sha256": r.Scenario.SHA256}, n.Metadata["playbook"])

	title := strings.Join(n.Cells[0].Source, "")
	assert.Equal(t, "markdown", n.Cells[0].CellType)
	has(t, title, "# Promotion of the churn model\n")
	has(t, title, "**PROMOTED** — ChurnPredictor version 2 now holds production-live")
	has(t, title, "| Tracking server | `https://mlflow.example.com` |")
	has(t, title, "| Date | 2026-03-04 10:00:00 UTC |")
	has(t, title, "| playbook version | `v0.3.0` |")

	var kinds, steps []string
	for _, c := range n.Cells[1:] {
		kinds = append(kinds, c.CellType)
		if c.CellType == "code" {
			steps = append(steps, c.Metadata["playbook"].(map[string]any)["step"].(string))
		}
	}
	assert.Equal(t, []string{"identify", "register", "alias", "validate", "promote", "load", "infer", "verify"}, steps)
	assert.Equal(t, "markdown", kinds[0], "the scenario's first prose")
	assert.Equal(t, strings.TrimRight(r.Cells[0].Code, "\n"), strings.Join(n.Cells[n.cellOf(t, "identify")].Source, ""))
	has(t, strings.Join(n.Cells[1].Source, ""), "| promote | moves `production-live` |", "prose as written")
	has(t, strings.Join(n.Cells[1].Source, ""), "# Promotion of the churn model\n", "headings as written")

	for i, step := range steps {
		c := n.Cells[n.cellOf(t, step)]
		require.NotNil(t, c.ExecutionCount, step)
		assert.Equal(t, i+1, *c.ExecutionCount, "%s: its place among the cells run", step)
		m := c.Metadata["playbook"].(map[string]any)
		assert.Equal(t, "ok", m["status"])
		assert.Equal(t, r.Cells[i].Duration.String(), m["duration"])
		assert.Regexp(t, `^scenarios/churn-promotion\.en\.md:\d+$`, m["location"])
	}
}

// Every kind of output has its nbformat form: streams for printed text,
// HTML with a plain-text fallback for tables, key-value blocks, values
// and snapshots, SVG for plots, Markdown, PNG for the MLflow UI's capture
// (in the verify cell), text for a kind a later playbook writes.
func TestNotebookOutputs(t *testing.T) {
	_, n := notebook(t, report.FixtureRun("promoted.en"))
	outs := func(step string) []nbOut { return n.Cells[n.cellOf(t, step)].Outputs }

	reg := outs("register")
	require.Len(t, reg, 3)
	assert.Equal(t, "display_data", reg[0].OutputType)
	has(t, reg[0].data("text/html"), "<td><code>production-live</code></td><td>version 1</td>", "the snapshot, as the report shows it")
	has(t, reg[0].data("text/plain"), "production-live    version 1\nstaging-candidate  version 1\n\nversion    Aliases")
	has(t, reg[1].data("text/html"), "<tr><th>model</th><td>ChurnPredictor</td></tr>")
	assert.Equal(t, "stream", reg[2].OutputType)
	assert.Equal(t, "stdout", reg[2].Name)
	assert.Equal(t, []string{"registered ChurnPredictor version 2 from run a1b2c3\n"}, reg[2].Text)

	id := outs("identify")
	has(t, id[0].data("text/html"), "<p class=\"caption\">Leaderboard: the top 3 of 3 FINISHED runs by f1 (max)</p>")
	assert.Equal(t, "Leaderboard: the top 3 of 3 FINISHED runs by f1 (max)\n#  run              run_id  f1\n1  churn-logreg-01  a1b2c3  0.6110\n2  churn-logreg-02  d4e5f6  0.6085\n3  churn-logreg-03  a7b8c9  0.5611",
		id[0].data("text/plain"), "the table in aligned columns")

	pr := outs("promote")
	assert.Equal(t, "stderr", pr[0].Name)
	has(t, pr[1].data("text/html"), `<span class="type">*steps.Promotion</span>`)
	assert.Equal(t, "*steps.Promotion\n&{Model:ChurnPredictor Version:2}", pr[1].data("text/plain"))

	inf := outs("infer")
	has(t, inf[0].data("text/html"), `<p class="note">output truncated</p>`)
	has(t, inf[0].data("text/plain"), "[output truncated]")
	assert.Equal(t, true, inf[0].Metadata["playbook"].(map[string]any)["truncated"])

	ver := outs("verify")
	require.Len(t, ver, 5)
	assert.Equal(t, "**Aliases, before → after:**\n\n- `production-live`: version 1 → version 2\n- `staging-candidate`: version 1 → version 2", ver[1].data("text/markdown"))
	assert.Equal(t, "an output kind from a later playbook", ver[3].data("text/plain"))
	png, err := base64.StdEncoding.DecodeString(ver[4].data("image/png"))
	require.NoError(t, err)
	assert.Equal(t, report.FixtureRun("promoted.en").Evidence.Captures[0].PNG, png, "the capture, in the cell of the step that took it")
	assert.Equal(t, map[string]any{"height": float64(10), "width": float64(16)}, ver[4].Metadata["image/png"])
	has(t, ver[4].data("text/plain"), "ChurnPredictor in the MLflow UI")
}

// Plots are SVG images (image/svg+xml), cleaned as the report cleans them
// (no script, no handler, nothing fetched; curves thinned), titled in
// text/plain; a plot that is not SVG is said as text.
func TestNotebookPlots(t *testing.T) {
	_, n := notebook(t, report.FixtureRun("promoted.en"))
	val := n.Cells[n.cellOf(t, "validate")].Outputs
	require.Len(t, val, 4)
	roc, fair, broken := val[1], val[2], val[3]
	has(t, roc.data("image/svg+xml"), "<svg ")
	assert.Equal(t, "ROC curve", roc.data("text/plain"))
	assert.LessOrEqual(t, strings.Count(roc.data("image/svg+xml"), "L"), report.MaxCurvePoints+10, "the curve thinned")
	svg := fair.data("image/svg+xml")
	has(t, svg, "gender=&lt;b&gt;")
	for _, bad := range []string{"<script", "onload", "alert(", "http://example.com"} {
		hasNot(t, svg, bad)
	}
	assert.Nil(t, broken.Data["image/svg+xml"])
	assert.Equal(t, "Broken plot: report: not an SVG image: the root element is <html>", broken.data("text/plain"))

	// The French run's plots, all of them.
	_, fr := notebook(t, report.FrenchRun(t))
	plots := 0
	for _, c := range fr.Cells {
		for _, o := range c.Outputs {
			if o.Data["image/svg+xml"] != nil {
				plots++
				assert.True(t, strings.HasPrefix(o.data("image/svg+xml"), "<svg"))
			}
		}
	}
	want := 0
	for _, c := range report.FrenchRun(t).Cells {
		for _, o := range c.Outputs {
			if o.Kind == record.OutputPlot {
				want++
			}
		}
	}
	assert.Positive(t, want)
	assert.Equal(t, want, plots)
}

// A failed cell ends with an error output: the error's kind, its message,
// and where (file:line: message); the cells after it did not run: no
// execution count, no output, a note in their metadata.
func TestNotebookFailedCell(t *testing.T) {
	r := report.FixtureRun("failed.en")
	_, n := notebook(t, r)
	c := n.Cells[n.cellOf(t, "register")]
	require.NotNil(t, c.ExecutionCount)
	assert.Equal(t, 2, *c.ExecutionCount)
	assert.Equal(t, "failed", c.Metadata["playbook"].(map[string]any)["status"])
	last := c.Outputs[len(c.Outputs)-1]
	assert.Equal(t, "error", last.OutputType)
	assert.Equal(t, "step", last.Ename)
	assert.Equal(t, r.Error.Message, last.Evalue)
	assert.Equal(t, []string{"scenarios/churn-promotion.en.md:57: " + r.Error.Message}, last.Traceback)
	for _, step := range []string{"alias", "validate", "promote", "load", "infer", "verify"} {
		c := n.Cells[n.cellOf(t, step)]
		assert.Nil(t, c.ExecutionCount, step)
		assert.Empty(t, c.Outputs, step)
		m := c.Metadata["playbook"].(map[string]any)
		assert.Equal(t, "not_run", m["status"])
		assert.Equal(t, "not run: an earlier cell failed", m["note"])
		assert.NotContains(t, m, "duration")
	}
	has(t, strings.Join(n.Cells[0].Source, ""), "**FAILED** — failed at step register")
}

// A French run's notebook is French: the title cell and the notes, from
// the report's labels; the error a gate refused with.
func TestNotebookFrench(t *testing.T) {
	_, n := notebook(t, report.FixtureRun("refused.fr"))
	title := strings.Join(n.Cells[0].Source, "")
	has(t, title, "# Cas d'usage industriel — promotion d'un modèle de churn")
	has(t, title, "**NON PROMU** — refusé à l'étape validate")
	has(t, title, "| Résumé |")
	has(t, title, "| version de playbook | `v0.3.0` |")
	has(t, title, "| Serveur de suivi |")
	m := n.Cells[n.cellOf(t, "promote")].Metadata["playbook"].(map[string]any)
	assert.Equal(t, "non exécutée : une cellule précédente a échoué", m["note"])
	val := n.Cells[n.cellOf(t, "validate")].Outputs
	assert.Equal(t, "gate", val[len(val)-1].Ename)
	has(t, strings.Join(n.Cells[1].Source, ""), "Le modèle est chargé **par l'alias**")
}

// The XSS string, wherever a record holds text, stays text: the HTML
// outputs have no script, no handler, no image; the Markdown (the title,
// the prose, the cells' Markdown) renders to no script, no raw HTML, no
// image, no javascript: link; the SVG has no script.
func TestNotebookXSS(t *testing.T) {
	_, n := notebook(t, xssRun())
	escaped := "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;"
	seen := 0
	mdInert := func(md string, what ...any) {
		page := string(markdown.ToHTML([]byte(md), nil, nil))
		matchNot(t, page, scriptTag, what...)
		inert(t, page, func(string) bool { return false })
		hasNot(t, page, `href="javascript:`, what...)
		hasNot(t, page, "<div onclick", what...)
		if strings.Contains(page, escaped) {
			seen++
		}
	}
	for _, c := range n.Cells {
		if c.CellType == "markdown" {
			mdInert(strings.Join(c.Source, ""), c.ID)
			continue
		}
		for _, o := range c.Outputs {
			if h := o.data("text/html"); h != "" {
				matchNot(t, h, scriptTag, c.ID)
				inert(t, h, func(string) bool { return false })
				if strings.Contains(h, escaped) {
					seen++
				}
			}
			if md := o.data("text/markdown"); md != "" {
				mdInert(md, c.ID)
			}
			if svg := o.data("image/svg+xml"); svg != "" {
				matchNot(t, svg, scriptTag, c.ID)
			}
		}
	}
	assert.GreaterOrEqual(t, seen, 4, "the string shows, escaped: the title, the prose, a table, a tag value")
}

// Cell ids are unique and valid for nbformat (^[a-zA-Z0-9-_]+$, 1 to 64
// characters), also for steps whose names are not.
func TestNotebookIDs(t *testing.T) {
	r := report.FixtureRun("promoted.en")
	r.Cells[1].Step = strings.Repeat("é", 80) // slugs to nothing
	r.Cells[2].Step = "a step with spaces and a very long name that goes on and on and on and on"
	r.Scenario.Blocks = nil
	_, n := notebook(t, r)
	valid := regexp.MustCompile(`^[a-zA-Z0-9-_]{1,64}$`)
	ids := map[string]bool{}
	for _, c := range n.Cells {
		assert.Regexp(t, valid, c.ID)
		assert.False(t, ids[c.ID], "id %s twice", c.ID)
		ids[c.ID] = true
	}
	assert.Len(t, ids, 1+len(r.Cells))
}

// The same record gives the same bytes; keys are sorted and indented by
// one space, as Jupyter writes them (the bytes are those of encoding the
// JSON again with sorted keys).
func TestNotebookDeterministic(t *testing.T) {
	for name, r := range everyRun(t) {
		t.Run(name, func(t *testing.T) {
			b1, _ := notebook(t, r)
			for range 3 {
				b2, _ := notebook(t, r)
				require.True(t, bytes.Equal(b1, b2), "two renders differ")
			}
			var v any
			require.NoError(t, json.Unmarshal(b1, &v))
			var again bytes.Buffer
			enc := json.NewEncoder(&again)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", " ")
			require.NoError(t, enc.Encode(v))
			assert.True(t, bytes.Equal(b1, again.Bytes()), "keys sorted, one-space indent")
		})
	}
}

// WriteFilesWith writes the notebook last, beside the report, when asked,
// and lists it; WriteFiles does not write it.
func TestWriteNotebook(t *testing.T) {
	r := report.FixtureRun("promoted.en")
	dir := t.TempDir()
	written, err := report.WriteFilesWith(dir, r, report.Options{Notebook: true})
	require.NoError(t, err)
	assert.Equal(t, report.NotebookFile, written[len(written)-1].Name)
	b, err := os.ReadFile(filepath.Join(dir, report.NotebookFile))
	require.NoError(t, err)
	var want bytes.Buffer
	require.NoError(t, report.Notebook(&want, r))
	assert.Equal(t, want.String(), string(b))

	dir = t.TempDir()
	written, err = report.WriteFiles(dir, r)
	require.NoError(t, err)
	for _, w := range written {
		assert.NotEqual(t, report.NotebookFile, w.Name)
	}
	assert.NoFileExists(t, filepath.Join(dir, report.NotebookFile))
}
