package report_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gomarkdown/markdown"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the fixtures")

func render(t testing.TB, r *record.Run) (html, md []byte, files []report.File) {
	t.Helper()
	var h, m bytes.Buffer
	require.NoError(t, report.HTML(&h, r))
	files, err := report.Markdown(&m, r)
	require.NoError(t, err)
	return h.Bytes(), m.Bytes(), files
}

// golden compares got with testdata/golden/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file: go test ./report -run TestGolden -update")
	if !bytes.Equal(want, got) {
		// Say where, not only that: the first differing line.
		wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
		for i := range min(len(wl), len(gl)) {
			if wl[i] != gl[i] {
				t.Fatalf("%s differs from the golden file at line %d:\nwant: %.300s\ngot:  %.300s\n(go test ./report -run TestGolden -update rewrites it)", name, i+1, wl[i], gl[i])
			}
		}
		t.Fatalf("%s differs from the golden file: %d lines, want %d (go test ./report -run TestGolden -update rewrites it)", name, len(gl), len(wl))
	}
}

// The HTML and Markdown of each fixture are exactly their golden files,
// which are regenerated with -update, never edited.
func TestGolden(t *testing.T) {
	for _, name := range report.FixtureNames {
		t.Run(name, func(t *testing.T) {
			html, md, files := render(t, report.FixtureRun(name))
			golden(t, name+".html", html)
			golden(t, name+".md", md)
			var names []string
			for _, f := range files {
				names = append(names, f.Name)
			}
			golden(t, name+".files", []byte(strings.Join(names, "\n")+"\n"))
		})
	}
}

// Two renders of the same record give the same bytes, files included: no
// clock, no map order.
func TestDeterministic(t *testing.T) {
	for name, r := range everyRun(t) {
		t.Run(name, func(t *testing.T) {
			h1, m1, f1 := render(t, r)
			for range 3 {
				h2, m2, f2 := render(t, r)
				assert.True(t, bytes.Equal(h1, h2), "index.html differs between two renders")
				assert.True(t, bytes.Equal(m1, m2), "report.md differs between two renders")
				assert.Equal(t, f1, f2)
			}
			d1, d2 := t.TempDir(), t.TempDir()
			require.NoError(t, report.Write(d1, r))
			require.NoError(t, report.Write(d2, r))
			assert.Equal(t, dirBytes(t, d1), dirBytes(t, d2))
		})
	}
}

// everyRun returns the fixtures and the French run, by name.
func everyRun(t *testing.T) map[string]*record.Run {
	runs := map[string]*record.Run{"french": report.FrenchRun(t)}
	for _, name := range report.FixtureNames {
		runs[name] = report.FixtureRun(name)
	}
	return runs
}

func dirBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = b
	}
	return out
}

// Write puts index.html, report.md with its plots and screenshots beside
// it, and evidence.json (the record, read back equal) in the folder; a
// plot never takes the name of a file a cell wrote.
func TestWrite(t *testing.T) {
	r := report.FixtureRun("promoted.en")
	dir := filepath.Join(t.TempDir(), "out", "run")
	require.NoError(t, report.Write(dir, r))
	files := dirBytes(t, dir)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	assert.Equal(t, []string{"capture-verify-1.png", "evidence.json", "index.html", "plot-identify-2-2.svg", "plot-validate-2.svg", "plot-validate-3.svg", "report.md", "ticket.md"}, names,
		"plot-identify-2.svg is a cell's file: the report's takes another name; the broken plot has no file")

	back, err := record.Read(bytes.NewReader(files[record.EvidenceFile]))
	require.NoError(t, err)
	assert.Equal(t, r.Evidence.Calls, back.Evidence.Calls)
	assert.Equal(t, r.Evidence.Captures, back.Evidence.Captures)

	md := string(files[report.MarkdownFile])
	for n := range files {
		if strings.HasSuffix(n, ".svg") || strings.HasSuffix(n, ".png") {
			has(t, md, "]("+n+")", "report.md links to it")
		}
	}
	assert.True(t, bytes.HasPrefix(files["plot-validate-2.svg"], []byte("<svg ")))
}

// TestWriteSymlinks: symbolic links already in the output folder, at
// index.html, evidence.json, report.md and a plot's name, are replaced by
// the report's files, never written through: the files they point to,
// outside, are unchanged. No temporary file is left.
func TestWriteSymlinks(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	names := []string{report.HTMLFile, record.EvidenceFile, report.MarkdownFile, "plot-validate-2.svg"}
	for _, n := range names {
		require.NoError(t, os.WriteFile(filepath.Join(outside, n), []byte("outside "+n), 0o644))
		require.NoError(t, os.Symlink(filepath.Join(outside, n), filepath.Join(dir, n)))
	}
	r := report.FixtureRun("promoted.en")
	require.NoError(t, report.Write(dir, r))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(outside, n))
		require.NoError(t, err)
		assert.Equal(t, "outside "+n, string(b), "not written through")
		fi, err := os.Lstat(filepath.Join(dir, n))
		require.NoError(t, err)
		assert.True(t, fi.Mode().IsRegular(), "%s is a regular file now: %v", n, fi.Mode())
	}
	files := dirBytes(t, dir)
	back, err := record.Read(bytes.NewReader(files[record.EvidenceFile]))
	require.NoError(t, err, "evidence.json is whole")
	assert.Equal(t, r.Scenario.Title, back.Scenario.Title)
	assert.True(t, bytes.HasSuffix(bytes.TrimSpace(files[report.HTMLFile]), []byte("</html>")), "index.html is whole")
	for n := range files {
		assert.NotContains(t, n, ".tmp-", "no temporary file left")
	}
}

// TestWriteFiles: WriteFiles lists every file it wrote with the SHA-256 of
// its bytes, the record first; when a write fails (here index.html is a
// folder), it lists those written whole before, the record among them.
func TestWriteFiles(t *testing.T) {
	r := report.FixtureRun("promoted.en")
	dir := t.TempDir()
	written, err := report.WriteFiles(dir, r)
	require.NoError(t, err)
	require.NotEmpty(t, written)
	assert.Equal(t, record.EvidenceFile, written[0].Name, "the record first")
	files := dirBytes(t, dir)
	assert.Len(t, written, len(files), "every file of the folder is listed")
	for _, w := range written {
		sum := sha256.Sum256(files[w.Name])
		assert.Equal(t, hex.EncodeToString(sum[:]), w.SHA256, w.Name)
	}

	dir = t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, report.HTMLFile, "x"), 0o755))
	written, err = report.WriteFiles(dir, r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), report.HTMLFile)
	var names []string
	for _, w := range written {
		names = append(names, w.Name)
	}
	assert.Contains(t, names, record.EvidenceFile)
	assert.NotContains(t, names, report.HTMLFile)
	assert.NotContains(t, names, report.MarkdownFile, "written after the page")
	b, err := os.ReadFile(filepath.Join(dir, record.EvidenceFile))
	require.NoError(t, err)
	_, err = record.Read(bytes.NewReader(b))
	assert.NoError(t, err, "the record is whole")
}

func TestWriteError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	assert.Error(t, report.Write(filepath.Join(file, "sub"), report.FixtureRun("promoted.en")))
}

// has and hasNot check for a substring without printing a whole report
// when they fail.
func has(t *testing.T, s, sub string, what ...any) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("missing %q %v", sub, what)
	}
}

func hasNot(t *testing.T, s, sub string, what ...any) {
	t.Helper()
	if i := strings.Index(s, sub); i >= 0 {
		t.Errorf("unexpected %q %v, at: %.200q", sub, what, s[max(0, i-100):])
	}
}

func matchNot(t *testing.T, s string, re *regexp.Regexp, what ...any) {
	t.Helper()
	if loc := re.FindStringIndex(s); loc != nil {
		t.Errorf("unexpected %s %v, at: %.200q", re, what, s[max(0, loc[0]-100):])
	}
}

func match(t *testing.T, s string, re string) {
	t.Helper()
	if !regexp.MustCompile(re).MatchString(s) {
		t.Errorf("no match for %s", re)
	}
}

var (
	imgTag    = regexp.MustCompile(`(?i)<img\b[^>]*>`)
	scriptTag = regexp.MustCompile(`(?i)<script\b`)
)

// elements returns the start tags of an HTML document, each as its name
// and its attributes' names, reading quoted attribute values as a browser
// does: a '<' or "on...=" inside a value is not a tag or an attribute.
func elements(doc string) (tags []string, attrs [][]string) {
	isName := func(c byte) bool {
		return c == '-' || c == ':' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
	}
	for i := 0; i < len(doc); i++ {
		if doc[i] != '<' || i+1 >= len(doc) || !isName(doc[i+1]) {
			continue
		}
		j := i + 1
		for j < len(doc) && isName(doc[j]) {
			j++
		}
		tags = append(tags, strings.ToLower(doc[i+1:j]))
		var names []string
		for j < len(doc) && doc[j] != '>' {
			switch c := doc[j]; {
			case c == ' ' || c == '\t' || c == '\n' || c == '/':
				j++
			case c == '=':
				j++
				for j < len(doc) && doc[j] == ' ' {
					j++
				}
				if j < len(doc) && (doc[j] == '"' || doc[j] == '\'') {
					q := doc[j]
					j++
					for j < len(doc) && doc[j] != q {
						j++
					}
					j++
				} else {
					for j < len(doc) && doc[j] != ' ' && doc[j] != '>' {
						j++
					}
				}
			default:
				k := j
				for j < len(doc) && doc[j] != '=' && doc[j] != ' ' && doc[j] != '>' && doc[j] != '/' {
					j++
				}
				names = append(names, strings.ToLower(doc[k:j]))
			}
		}
		attrs = append(attrs, names)
		i = j
	}
	return tags, attrs
}

// inert checks that an HTML document has no script element, no event
// handler attribute, and no element that loads anything but those allowed.
func inert(t *testing.T, doc string, allowedSrc func(src string) bool) {
	t.Helper()
	tags, attrs := elements(doc)
	body := slices.Index(tags, "body")
	for i, tag := range tags {
		switch tag {
		case "script", "iframe", "object", "embed", "link", "base", "form", "svg", "math", "style", "meta":
			if i < body && (tag == "style" || tag == "link" || tag == "meta") {
				continue // the page's own head: its style sheet, data: icon, CSP
			}
			t.Errorf("element <%s> in the report", tag)
		}
		for _, a := range attrs[i] {
			if strings.HasPrefix(a, "on") {
				t.Errorf("event handler %s on <%s>", a, tag)
			}
		}
	}
	for _, img := range imgTag.FindAllString(doc, -1) {
		m := regexp.MustCompile(`src="([^"]*)"`).FindStringSubmatch(img)
		if len(m) != 2 || !allowedSrc(html.UnescapeString(m[1])) {
			t.Errorf("an image the report does not own: %.120s", img)
		}
	}
}

// xssRun puts the XSS string everywhere a record holds text from MLflow or
// from a scenario.
func xssRun() *record.Run {
	r := report.FixtureRun("promoted.en")
	r.Scenario.Title = "Title " + report.XSS
	r.Scenario.Description = report.XSS
	r.Scenario.Blocks[0].Markdown = "Prose " + report.XSS + "\n\n<div onclick=\"alert(3)\">raw</div>\n\n[click](javascript:alert(4)) ![x](http://example.com/x.png)\n"
	r.Params[0].Value = report.XSS
	r.Cells[0].Outputs[0].Table.Rows[0][1] = report.XSS
	r.Cells[0].Outputs[0].Title = report.XSS
	r.Cells[0].Code += "// " + report.XSS + "\n"
	r.Cells[1].Outputs[2].Text = report.XSS
	r.Cells[7].Outputs[1].Text = "Markdown " + report.XSS
	r.Evidence.Leaderboard.Rows[0].RunName = report.XSS
	r.Evidence.Validation.Data = report.XSS
	r.Evidence.Checks[0].Detail = report.XSS
	r.Evidence.Calls[0].Outcome = report.XSS
	r.Environment.User = report.XSS
	r.Evidence.Captures[0].Title = report.XSS
	r.Evidence.Snapshots[1].Aliases[report.XSS] = "2"
	return r
}

// A tag value <script>alert(1)</script><img src=x onerror=alert(2)> on a
// model version, and the same string anywhere else, shows as text in the
// HTML: no script element, no image but the report's own data: images, no
// event handler attribute, and the text itself is there, escaped.
func TestXSSHTML(t *testing.T) {
	page, _, _ := render(t, xssRun())
	s := string(page)
	matchNot(t, s, scriptTag)
	inert(t, s, func(src string) bool {
		return regexp.MustCompile(`^data:image/(svg\+xml|png);base64,[A-Za-z0-9+/=]+$`).MatchString(src)
	})
	has(t, s, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")
	hasNot(t, s, "javascript:")
	hasNot(t, s, `src="http://example.com/x.png"`, "a prose image is not loaded")
	has(t, s, `content="default-src 'none'; style-src 'unsafe-inline'; img-src data:`)
}

// In report.md, the string shows as text too: rendered by a Markdown
// renderer that passes raw HTML through (gomarkdown's default), report.md
// gives no script, no image but its own plots, no event handler; and the
// string's text is in the page.
func TestXSSMarkdown(t *testing.T) {
	_, md, files := render(t, xssRun())
	page := string(markdown.ToHTML(md, nil, nil))
	matchNot(t, page, scriptTag)
	own := map[string]bool{}
	for _, f := range files {
		own[f.Name] = true
	}
	assert.NotEmpty(t, imgTag.FindAllString(page, -1))
	inert(t, page, func(src string) bool { return own[src] })
	has(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")
	hasNot(t, page, `href="javascript:`)
}

// The SVG files beside report.md are cleaned like the HTML's images: a
// plot's script and handler do not survive.
func TestXSSPlotFiles(t *testing.T) {
	_, _, files := render(t, xssRun())
	for _, f := range files {
		if strings.HasSuffix(f.Name, ".svg") {
			matchNot(t, string(f.Data), scriptTag, f.Name)
			_, attrs := elements(string(f.Data))
			for _, as := range attrs {
				for _, a := range as {
					assert.False(t, strings.HasPrefix(a, "on"), "%s: attribute %s", f.Name, a)
				}
			}
			hasNot(t, string(f.Data), "http://example.com", f.Name)
		}
	}
}

// Credentials in the tracking URI, or in a URL a call sent, never reach a
// report, even from a record that kept them.
func TestRedaction(t *testing.T) {
	r := report.FixtureRun("promoted.en")
	r.Environment.TrackingURI = "https://alice:s3cret@mlflow.example.com:5000/?token=t0ken"
	r.Evidence.Calls[0].Args["run_link"] = "https://bob:hunter2@mlflow.example.com/#/runs/1"
	r.Evidence.Captures[0].URL = "https://alice:s3cret@mlflow.example.com/#/models/ChurnPredictor"
	html, md, _ := render(t, r)
	for _, s := range []string{string(html), string(md)} {
		for _, secret := range []string{"s3cret", "hunter2", "t0ken", "alice", "bob:"} {
			hasNot(t, s, secret)
		}
		has(t, s, "mlflow.example.com:5000")
	}
}

// The French scenario's report is in French; the English one in English.
func TestLanguage(t *testing.T) {
	fr, frmd, _ := render(t, report.FixtureRun("refused.fr"))
	has(t, string(fr), `<html lang="fr">`)
	has(t, string(fr), "Non promu")
	has(t, string(fr), "Le registre avant et après")
	has(t, string(frmd), "NON PROMU")
	en, enmd, _ := render(t, report.FixtureRun("promoted.en"))
	has(t, string(en), `<html lang="en">`)
	has(t, string(en), "Registry before and after")
	has(t, string(enmd), "PROMOTED")
}

// The verdict banner: promoted, not promoted (a gate refused, or a dry
// run), failed, rolled back, or done when nothing is promoted.
func TestVerdict(t *testing.T) {
	dry := report.FixtureRun("promoted.en")
	dry.Environment.DryRun, dry.Evidence.Promotion.DryRun = true, true
	rollback := report.FixtureRun("promoted.en")
	rollback.Evidence.Promotion.Kind, rollback.Evidence.Promotion.Reason = record.PromotionRollback, "latency regression"
	training := report.FixtureRun("promoted.en")
	training.Evidence.Promotion = nil
	for _, c := range []struct {
		name  string
		run   *record.Run
		class string
		text  []string
	}{
		{"Promoted", report.FixtureRun("promoted.en"), "promoted", []string{"Promoted", "ChurnPredictor version 2 now holds production-live (previously version 1)"}},
		{"Refused", report.FixtureRun("refused.fr"), "not-promoted", []string{"Non promu", "refusé à l&#39;étape validate", "f1 0.4100 &lt; 0.55"}},
		{"DryRun", dry, "not-promoted", []string{"Not promoted", "dry run"}},
		{"Failed", report.FixtureRun("failed.en"), "failed", []string{"Failed", "failed at step register", "PERMISSION_DENIED"}},
		{"RolledBack", rollback, "promoted", []string{"Rolled back", "latency regression"}},
		{"Done", training, "done", []string{"Completed", "promotes nothing"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			html, _, _ := render(t, c.run)
			m := regexp.MustCompile(`<div class="verdict ([a-z-]+)" id="verdict">(.*)</div>`).FindStringSubmatch(string(html))
			require.Len(t, m, 3)
			assert.Equal(t, c.class, m[1])
			for _, s := range c.text {
				has(t, m[2], s)
			}
		})
	}
}

// Every kind of output shows: text, values, tables, key-value blocks,
// plots, snapshots, Markdown, and a kind this version does not know.
func TestOutputKinds(t *testing.T) {
	page, md, _ := render(t, report.FixtureRun("promoted.en"))
	h, m := html.UnescapeString(string(page)), string(md)
	for _, want := range []string{
		`<pre class="out stdout">registered ChurnPredictor version 2`,
		`<pre class="out stderr">warning: production changed hands`,
		`<span class="type">*steps.Promotion</span>`,
		`<img src="data:image/svg+xml;base64,`,
		`<p class="error">report: not an SVG image: the root element is <html></p>`,
		`<strong>Aliases, before → after:</strong>`,
		`an output kind from a later playbook`,
		`<p class="note">output truncated</p>`,
		`<img src="data:image/png;base64,`,
	} {
		has(t, h, want)
	}
	for _, want := range []string{
		"```text\nregistered ChurnPredictor version 2",
		"*stderr*",
		"![ROC curve](plot-validate-2.svg)",
		"| `production-live` | version 2 |",
		"**Aliases, before → after:**",
		"*output truncated*",
		`1 (churns) \| maybe`,
		"![ChurnPredictor in the MLflow UI](capture-verify-1.png)",
	} {
		has(t, m, want)
	}
}

// The registry's changes are marked: aliases moved, tags added, a new
// version; and the marks read in black and white (+, −, ~, →).
func TestRegistryDiffMarked(t *testing.T) {
	page, md, _ := render(t, report.FixtureRun("promoted.en"))
	h := html.UnescapeString(string(page))
	match(t, h, `<tr class="moved"><td><code>production-live</code></td><td>version 1</td><td>version 2</td><td>→ moved</td></tr>`)
	match(t, h, `<tr class="added"><td><code>archived</code></td><td></td><td>true</td><td>\+ added</td></tr>`)
	match(t, h, `<tr class="removed"><td><code>note</code></td><td>first</td><td></td><td>− removed</td></tr>`)
	has(t, h, `version 2 <span class="badge added">new version</span>`)
	match(t, h, `<tr class="same"><td><code>validation_status</code></td><td>passed</td><td>passed</td><td>unchanged</td></tr>`)
	has(t, string(md), "| `production-live` | version 1 | version 2 | **→ moved** |")
}
