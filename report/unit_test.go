package report

import (
	"bytes"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gomarkdown/markdown"
	mdhtml "github.com/gomarkdown/markdown/html"
	"github.com/gomarkdown/markdown/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

var tag = regexp.MustCompile(`<[^>]*>`)

// The highlighter loses nothing: strip its tags, unescape, and the code
// comes back byte for byte, valid Go or not.
func TestHighlightGoRoundTrip(t *testing.T) {
	for name, code := range map[string]string{
		"Cell":        "best := steps.Identify(pb, steps.IdentifyOptions{\n\tExperiment: params.Experiment, // the runs\n\tMetric: \"f1\",\n})\n",
		"Decls":       "import \"fmt\"\n\ntype T struct{ A int }\n\nfunc (t T) String() string { return fmt.Sprint(t.A) }\n",
		"RawString":   "s := `a\r\nb <c> & \"d\"`\nx := 'x' + 0x1F + 1.5e3 + 2i\n",
		"CRLF":        "x := 1 // one\r\ny := 2 /* two\r\n */\r\n",
		"Invalid":     "x := = ) ` unterminated\n<script>alert(1)</script>",
		"Unicode":     "é := \"café ☕\" // déjà\n",
		"Empty":       "",
		"CommentOnly": "// just a comment",
	} {
		t.Run(name, func(t *testing.T) {
			got := highlightGo(code)
			assert.Equal(t, code, html.UnescapeString(tag.ReplaceAllString(got, "")))
			assert.NotContains(t, tag.ReplaceAllString(got, ""), "<", "every < of the code is escaped")
		})
	}
}

func TestHighlightGoClasses(t *testing.T) {
	got := highlightGo("func f() error {\n\treturn nil // none\n}\nx := len(\"s\") + 42\nsteps.Identify(pb)")
	for _, want := range []string{
		`<span class="k">func</span>`, `<span class="f">f</span>()`, `<span class="b">error</span>`,
		`<span class="k">return</span>`, `<span class="b">nil</span>`, `<span class="c">// none</span>`,
		`<span class="b">len</span>(`, `<span class="s">&#34;s&#34;</span>`, `<span class="n">42</span>`,
		`steps.<span class="f">Identify</span>(pb)`,
	} {
		assert.Contains(t, got, want)
	}
}

// Prose is Markdown, shown as written, but nothing in it runs or loads.
func TestProseHTML(t *testing.T) {
	for _, c := range []struct {
		name      string
		md        string
		want, not []string
	}{
		{"RawHTMLBlock", "<div onclick=\"alert(1)\">x</div>\n", []string{`<pre class="raw">&lt;div onclick=&#34;alert(1)&#34;&gt;x&lt;/div&gt;`}, []string{"<div"}},
		{"RawHTMLInline", "a <b onmouseover=alert(1)>b</b> <script>alert(2)</script>\n", []string{"&lt;b onmouseover=alert(1)&gt;", "&lt;script&gt;"}, []string{"<b ", "<script"}},
		{"JavascriptLink", "[x](javascript:alert(1)) [y](https://mlflow.org)\n", []string{`href="https://mlflow.org"`}, []string{"javascript:"}},
		{"Image", "![logo](http://example.com/logo.png)\n", []string{`<span class="image">[logo] <code>http://example.com/logo.png</code></span>`}, []string{"<img"}},
		{"GoCode", "```go\nx := 1\n```\n", []string{`<pre class="prose-code"><code>x := <span class="n">1</span></code></pre>`}, nil},
		{"ShellCode", "```sh\necho '<b>'\n```\n", []string{`echo &#39;&lt;b&gt;&#39;`}, []string{"<b>"}},
		{"Headings", "# Title\n\n## Section\n", []string{"<h2", "<h3"}, []string{"<h1"}},
		{"Table", "| a | b |\n| --- | --- |\n| 1 | 2 |\n", []string{"<table>", "<td>1</td>"}, nil},
		{"NoIncludes", "{{../../etc/passwd}}\n", []string{"{{../../etc/passwd}}"}, []string{"root:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := proseHTML(c.md)
			for _, w := range c.want {
				assert.Contains(t, got, w)
			}
			for _, n := range c.not {
				assert.NotContains(t, got, n)
			}
		})
	}
}

// Prose in report.md keeps its Markdown, its code untouched, but its raw
// HTML becomes text, its images links, and its unsafe links go nowhere.
func TestNeutralMarkdown(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"Plain", "Some **bold** text.\n", "Some **bold** text.\n"},
		{"Tag", "a <script>x</script> b\n", "a &lt;script>x&lt;/script> b\n"},
		{"CodeSpan", "`a < b` and <i>\n", "`a < b` and &lt;i>\n"},
		{"DoubleTickSpan", "``a ` < b`` <x>\n", "``a ` < b`` &lt;x>\n"},
		{"Fence", "```go\nif a < b {}\n```\n<b>\n", "```go\nif a < b {}\n```\n&lt;b>\n"},
		{"TildeFence", "~~~~\n<b>\n~~~~\n", "~~~~\n<b>\n~~~~\n"},
		{"NotAFence", "``` a`b\n<b>\n", "``` a`b\n&lt;b>\n"},
		{"Escaped", `\<b> is literal` + "\n", `\<b> is literal` + "\n"},
		{"Image", "![x](http://e.com/x.png)\n", `\![x](http://e.com/x.png)` + "\n"},
		{"JavascriptLink", "[x](javascript:alert(1))\n", "[x](javascript%3Aalert(1))\n"},
		{"SafeLink", "[x](https://mlflow.org/docs)\n", "[x](https://mlflow.org/docs)\n"},
		{"RefDef", "[x]\n\n[x]: javascript:alert(1)\n", "[x]\n\n[x]: javascript%3Aalert(1)\n"},
		// A list item's fence and a top-level fence disagree on where code
		// ends: the parse check catches it and escapes everything.
		{"FenceTrick", "- x\n\n  ```\n```\n<script>alert(1)</script>\n```\n<script>alert(2)</script>\n", "- x\n\n  ```\n```\n&lt;script>alert(1)&lt;/script>\n```\n&lt;script>alert(2)&lt;/script>\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := neutralMarkdown(c.in)
			assert.Equal(t, c.want, got)
			assert.False(t, unsafeMarkdown(got), "the result parses to raw HTML, an image or an unsafe link")
		})
	}
}

func TestDemoteHeadings(t *testing.T) {
	assert.Equal(t, "## Title\n\n### Sub\n```\n# not a heading\n```\n#hashtag\n", demoteHeadings("# Title\n\n## Sub\n```\n# not a heading\n```\n#hashtag\n"))
}

func TestMarkdownEscapes(t *testing.T) {
	assert.Equal(t, `a\*b_c \<d\> \[e\](f) \| \`+"`"+` & \&amp; \$x\$ \_y\_`, mdText("a*b_c <d> [e](f) | ` & &amp; $x$ _y_"))
	assert.Equal(t, `\# 1. - x`, mdText("# 1. - x"))
	assert.Equal(t, `12\) x`, mdText("12) x"))
	assert.Equal(t, `5.73s`, mdText("5.73s"))
	assert.Equal(t, `\- x`, mdText("- x"))
	assert.Equal(t, "one two", mdText("one\ntwo"))
	assert.Equal(t, "`a`", mdCode("a", false))
	assert.Equal(t, "``a`b``", mdCode("a`b", false))
	assert.Equal(t, "`` `a ``", mdCode("`a", false))
	assert.Equal(t, "`a\\|b`", mdCode("a|b", true))
	assert.Equal(t, "", mdCode("", false))
}

var autolink = regexp.MustCompile(`<a href="https?://[^"]*">([^<]*)</a>`)

// What mdText escapes, a CommonMark renderer shows as it was: rendered,
// its text is the string itself, with no element but the paragraph.
func TestMarkdownTextRendersAsText(t *testing.T) {
	for _, s := range []string{
		XSS, "a*b*c", "_x_", "snake_case_name", "**bold**", "[link](http://e.com)", "![img](x.png)",
		"# heading", "> quote", "- item", "+ item", "1. item", "12) item", "=== setext", "`code`", "a | b",
		"~~strike~~", "$x^2$", "&amp; &#60; &lt;", "<http://e.com>", "trailing \\", "h_2o_", "café_au_lait", "x<y>z",
		"https://mlflow.example.com/#/models/M?x=1&y=2",
	} {
		t.Run(s, func(t *testing.T) {
			r := mdhtml.NewRenderer(mdhtml.RendererOptions{})
			out := string(markdown.ToHTML([]byte(mdText(s)), parser.NewWithExtensions(parser.CommonExtensions|parser.SuperSubscript), r))
			out = strings.TrimSpace(out)
			require.True(t, strings.HasPrefix(out, "<p>") && strings.HasSuffix(out, "</p>"), "%s → %s", mdText(s), out)
			inner := strings.TrimSuffix(strings.TrimPrefix(out, "<p>"), "</p>")
			inner = autolink.ReplaceAllString(inner, "$1") // bare URLs may become links
			assert.NotContains(t, inner, "<", "%s → %s", mdText(s), out)
			assert.Equal(t, s, html.UnescapeString(inner), "%s → %s", mdText(s), out)
		})
	}
}

func TestCleanSVG(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        string
		want, not []string
		err       string
	}{
		{name: "Gonum", in: curveSVG("ROC", 10), want: []string{`<svg width="360pt"`, `<path d="M0,0L360,0L360,234L0,234Z" style="fill:#FFFFFF"/>`, ">ROC</text>"}},
		{name: "Script", in: `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script><g><script><![CDATA[alert(2)]]></script></g></svg>`, not: []string{"script", "alert"}},
		{name: "Handlers", in: `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect ONCLICK="alert(2)" width="1"/></svg>`, want: []string{`<rect width="1"/>`}, not: []string{"alert", "onload", "ONCLICK"}},
		{name: "ForeignObject", in: `<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject><a href="javascript:alert(1)"><text>t</text></a></svg>`, not: []string{"foreignObject", "div", "javascript", "<a"}},
		{name: "External", in: `<svg xmlns="http://www.w3.org/2000/svg"><image href="http://e.com/x.png"/><use xlink:href="http://e.com/s.svg#a"/><rect style="fill:url(http://e.com/f)"/><rect fill="url(#grad)"/><style>@import url(http://e.com/x.css);</style></svg>`,
			want: []string{`<image/>`, `<use/>`, `<rect/>`, `<rect fill="url(#grad)"/>`}, not: []string{"e.com", "style"}},
		{name: "DataImage", in: `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><image xlink:href="data:image/png;base64,AAAA"/></svg>`, want: []string{`xlink:href="data:image/png;base64,AAAA"`}},
		{name: "Text", in: `<svg xmlns="http://www.w3.org/2000/svg"><text>a &lt; b &amp; "c"</text></svg>`, want: []string{`<text>a &lt; b &amp; &quot;c&quot;</text>`}},
		{name: "Namespaces", in: `<svg><path d="M0,0"/></svg>`, want: []string{`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">`}},
		{name: "Prolog", in: `<?xml version="1.0"?><!-- c --><svg xmlns="http://www.w3.org/2000/svg"><!-- x --><g/></svg>`, want: []string{`<svg xmlns:xlink="http://www.w3.org/1999/xlink" xmlns="http://www.w3.org/2000/svg"><g/></svg>`}},
		{name: "NotSVG", in: `<html><script>alert(1)</script></html>`, err: "root element is <html>"},
		{name: "Entities", in: `<!DOCTYPE svg [<!ENTITY x "alert(1)">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>`, err: "not an SVG image"},
		{name: "Unclosed", in: `<svg xmlns="http://www.w3.org/2000/svg"><g>`, err: "not an SVG image"},
		{name: "Empty", in: ``, err: "no <svg> element"},
		{name: "TwoRoots", in: `<svg/><svg/>`, err: "content after the root element"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := cleanSVG(c.in)
			if c.err != "" {
				require.ErrorIs(t, err, ErrSVG)
				assert.Contains(t, err.Error(), c.err)
				return
			}
			require.NoError(t, err)
			for _, w := range c.want {
				assert.Contains(t, got, w)
			}
			for _, n := range c.not {
				assert.NotContains(t, got, n)
			}
			again, err := cleanSVG(got)
			require.NoError(t, err)
			assert.Equal(t, got, again, "cleaning a clean SVG changes nothing")
		})
	}
}

// pathPoints counts the points of each path of an SVG.
func pathPoints(svg string) []int {
	var out []int
	for _, m := range regexp.MustCompile(`\sd="([^"]*)"`).FindAllStringSubmatch(svg, -1) {
		out = append(out, strings.Count(m[1], "L")+strings.Count(m[1], "M"))
	}
	return out
}

// A curve of more than MaxCurvePoints points is thinned to MaxCurvePoints,
// its ends kept; shorter curves and other paths are untouched.
func TestThinPath(t *testing.T) {
	svg, err := cleanSVG(curveSVG("big", 5000))
	require.NoError(t, err)
	assert.Equal(t, []int{4, MaxCurvePoints}, pathPoints(svg))
	assert.Contains(t, svg, `d="M40,30L`)
	assert.Contains(t, svg, `L340,210"`)

	small := curveSVG("small", 499)
	svg, err = cleanSVG(small)
	require.NoError(t, err)
	assert.Equal(t, []int{4, 499}, pathPoints(svg))

	curve := "M0,0C1,1 2,2 3,3" + strings.Repeat("L1,1", 600)
	assert.Equal(t, curve, thinPath(curve, 500), "a path with curves is not a polyline: kept")
	two := "M0,0" + strings.Repeat("L1,1", 600) + "M5,5" + strings.Repeat("L1,1", 600)
	assert.Equal(t, two, thinPath(two, 500), "several subpaths: kept")
	closed := thinPath("M0,0"+strings.Repeat("L1,1", 999)+"L9,9Z", 500)
	assert.True(t, strings.HasSuffix(closed, "L9,9Z"))
	assert.Equal(t, 499, strings.Count(closed, "L"))
}

// The plots of a real validate run (the steps draw them) have no curve
// above MaxCurvePoints points, in the record and in the report.
func TestRealPlotsThinned(t *testing.T) {
	r := FrenchRun(t)
	n := 0
	for _, c := range r.Cells {
		for _, o := range c.Outputs {
			if o.Kind != record.OutputPlot {
				continue
			}
			n++
			for _, p := range pathPoints(o.SVG) {
				assert.LessOrEqual(t, p, MaxCurvePoints, "%s: %s", c.Step, o.Title)
			}
		}
	}
	assert.GreaterOrEqual(t, n, 6, "the leaderboard, ROC, precision-recall, confusion, scores, fairness")
	v := newView(r)
	for _, p := range v.Plots {
		require.Empty(t, p.Err, p.Title)
		for _, k := range pathPoints(p.SVG) {
			assert.LessOrEqual(t, k, MaxCurvePoints, p.Title)
		}
	}
	// The ROC curve is long enough that thinning did something.
	longest := 0
	for _, p := range v.Plots {
		for _, k := range pathPoints(p.SVG) {
			longest = max(longest, k)
		}
	}
	assert.Greater(t, longest, 200)
}

func TestRegistryDiff(t *testing.T) {
	before, after := beforeSnapshot(), afterSnapshot()
	d := diffSnapshots("ChurnPredictor", &before, &after)
	assert.Equal(t, []aliasRow{
		{Alias: "production-live", Before: "1", After: "2", Change: "moved"},
		{Alias: "staging-candidate", Before: "1", After: "2", Change: "moved"},
	}, d.Aliases)
	require.Len(t, d.Versions, 2)
	assert.Equal(t, "", d.Versions[0].Change)
	assert.Equal(t, []tagRow{
		{Key: "archived", After: "true", Change: "added"},
		{Key: "note", Before: "first", Change: "removed"},
		{Key: "superseded_by", After: "2", Change: "added"},
	}, d.Versions[0].Changed)
	assert.True(t, d.Versions[0].ChangedAliases)
	assert.Equal(t, "added", d.Versions[1].Change)

	// Versions sort as numbers: 2 before 10.
	s := record.Snapshot{Versions: []record.VersionSnapshot{{Version: "10"}, {Version: "2"}, {Version: "x"}}}
	var got []string
	for _, v := range sortedVersions(s.Versions) {
		got = append(got, v.Version)
	}
	assert.Equal(t, []string{"2", "10", "x"}, got)
}

// The report says why there is no capture of the MLflow UI.
func TestCaptureReasons(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(r *record.Run)
		want string
	}{
		{"Captured", func(*record.Run) {}, ""},
		{"StepSaysWhy", func(r *record.Run) {
			r.Evidence.Captures = []record.Capture{{Step: "verify", URL: "http://x/#/models/M", Reason: "no Chromium found"}}
		}, "no Chromium found"},
		{"NoServer", func(r *record.Run) { r.Evidence.Captures, r.Environment.TrackingURI = nil, "" }, english.WhyNoServer},
		{"Embedded", func(r *record.Run) {
			r.Evidence.Captures, r.Environment.TrackingURI = nil, "embedded:/home/ada/.playbook"
		}, english.WhyNoServer},
		{"DryRun", func(r *record.Run) { r.Evidence.Captures, r.Environment.DryRun = nil, true }, english.WhyDryRun},
		{"VerifyNotRun", func(r *record.Run) { r.Evidence.Captures, r.Cells[7].Status = nil, record.StatusNotRun }, english.WhyNotRun},
		{"NoneRecorded", func(r *record.Run) { r.Evidence.Captures = nil }, english.WhyNone},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := FixtureRun("promoted.en")
			c.edit(r)
			caps := newView(r).Captures
			require.Len(t, caps, 1)
			if c.want == "" {
				assert.NotEmpty(t, caps[0].PNG)
				return
			}
			assert.Empty(t, caps[0].PNG)
			assert.Contains(t, caps[0].Reason, c.want)
		})
	}
}

func TestFormat(t *testing.T) {
	assert.Equal(t, "412µs", fmtDuration(412*time.Microsecond))
	assert.Equal(t, "85ms", fmtDuration(85*time.Millisecond+300*time.Microsecond))
	assert.Equal(t, "2.35s", fmtDuration(2345*time.Millisecond))
	assert.Equal(t, "3m4s", fmtDuration(3*time.Minute+4*time.Second))
	assert.Equal(t, "—", fmtDuration(0))
	assert.Equal(t, "2026-03-04 11:00:00 UTC", fmtTime(time.Date(2026, 3, 4, 12, 0, 0, 0, time.FixedZone("CET", 3600))))
	assert.Equal(t, "https://mlflow.example.com/x", redactURL("https://u:p@mlflow.example.com/x?token=t"))
	assert.Equal(t, `{"a":"https://h/x","b":1}`, fmtArgs(map[string]any{"b": 1, "a": "https://u:p@h/x"}))
	assert.Equal(t, "churn-predictor-v2", slug("Churn Predictor (v2)!"))
	assert.Equal(t, "x", slug("!!!"))
	assert.Same(t, &french, labelsFor("fr-FR"))
	assert.Same(t, &english, labelsFor("de"))
}

// Values in table cells, as text or code, render as themselves: a '|' does
// not split the cell, a backtick does not end the code.
func TestMarkdownTableCells(t *testing.T) {
	values := []string{XSS, "a|b", "`x`", `x\y`, "a_b *c*", "run ``two`` ticks"}
	var rows [][]cellText
	for _, v := range values {
		rows = append(rows, []cellText{text(v), code(v)})
	}
	m := &mdWriter{l: &english}
	m.table([]string{"text", "code"}, rows)
	out := string(markdown.ToHTML([]byte(m.b.String()), parser.NewWithExtensions(parser.CommonExtensions), mdhtml.NewRenderer(mdhtml.RendererOptions{})))
	cells := regexp.MustCompile(`<td>(.*?)</td>`).FindAllStringSubmatch(out, -1)
	require.Len(t, cells, 2*len(values), out)
	for i, v := range values {
		assert.Equal(t, v, html.UnescapeString(cells[2*i][1]), "text cell")
		want := "<code>" + html.EscapeString(v) + "</code>"
		if strings.Contains(v, "|") {
			want = html.EscapeString(v) // as text: renderers disagree on "\|" in code
		}
		assert.Equal(t, want, strings.ReplaceAll(cells[2*i+1][1], "&quot;", "&#34;"), "code cell")
	}
}

// TestIsolationInTheAudit: a run of a kernel process says in its audit
// block, in the report's language, how the cells were isolated and which
// protections held; the strings of the record are escaped.
func TestIsolationInTheAudit(t *testing.T) {
	for lang, want := range map[string][]string{
		"en": {"Isolation of the cells", "a kernel process of their own, started in 12ms; its end: exit status 0", "Environment of the cells", "no credentials", "ABI 7: &lt;rules&gt;", "RLIMIT_AS=1",
			"Network of the cells", "none: only connections to playbook&#39;s registry proxy", "Registry calls", "each attributed to the cell whose code made it"},
		"fr": {"Isolation des cellules", "un processus noyau à part, démarré en 12ms ; sa fin : code de sortie 0", "aucun identifiant", "Limites", "Réseau des cellules", "Appels au registre"},
	} {
		r := FixtureRun("promoted.en")
		r.Scenario.Lang = lang
		r.Environment.Isolation = &record.Isolation{
			Mode: "kernel process", CleanEnv: true, TimeoutGrace: record.Duration(500 * time.Millisecond),
			Sandboxed: true, Landlock: "ABI 7: <rules>", LandlockFS: true, LandlockTCP: true, Seccomp: "execve refused",
			Rlimits: []string{"RLIMIT_AS=1"}, KernelStart: record.Duration(12 * time.Millisecond), Exit: "exit status 0",
			NoNetwork: true, CellTokens: true,
		}
		var page strings.Builder
		require.NoError(t, HTML(&page, r))
		for _, w := range want {
			assert.Contains(t, page.String(), w, lang)
		}
		assert.NotContains(t, page.String(), "<rules>", "escaped")

		r.Environment.Isolation = nil
		page.Reset()
		require.NoError(t, HTML(&page, r))
		assert.NotContains(t, page.String(), want[0], "nothing said of isolation in process")
	}
}

// TestIsolationInFrench: the Landlock and seccomp rows are worded from the
// isolation's data in the report's language, not quoted from the
// evidence's English; a protection that was unavailable says so in it.
func TestIsolationInFrench(t *testing.T) {
	iso := record.Isolation{
		Mode: "kernel process", CleanEnv: true, Sandboxed: true,
		Landlock: "ABI 7: filesystem and TCP rules; scoped: abstract unix sockets, signals", LandlockFS: true, LandlockTCP: true,
		LandlockABI: 7, LandlockScoped: true,
		Seccomp:     "execve refused; 49 privileged syscalls, namespaces and other processes' rlimits refused; no child process (threads only); sockets: none created (inherited and received ones only)",
		ExecRefused: true, NoProcesses: true, PrivilegedRefused: 49, Sockets: "none",
		Exit: "exit status 0",
	}
	for lang, want := range map[string][]string{
		"fr": {"ABI 7 : règles sur les fichiers, TCP ; portée limitée : sockets unix abstraites, signaux",
			"execve refusé ; 49 appels système privilégiés, espaces de noms et limites des autres processus refusés ; aucun processus enfant (des threads seulement) ; aucune socket créée (seulement celles héritées ou reçues)"},
		"en": {"ABI 7: rules on files, TCP; scoped: abstract unix sockets, signals",
			"execve refused; 49 privileged syscalls, namespaces and other processes&#39; limits refused; no child process (threads only); no socket created (inherited and received ones only)"},
	} {
		r := FixtureRun("promoted.en")
		r.Scenario.Lang = lang
		i := iso
		r.Environment.Isolation = &i
		var page strings.Builder
		require.NoError(t, HTML(&page, r))
		for _, w := range want {
			assert.Contains(t, page.String(), w, lang)
		}
		if lang == "fr" {
			for _, en := range []string{"filesystem", "refused", "privileged syscalls", "threads only"} {
				assert.NotContains(t, page.String(), en, "English in the French audit block")
			}
		}
	}
	// Without Landlock or seccomp: "unavailable" and why.
	r := FixtureRun("promoted.en")
	r.Scenario.Lang = "fr"
	r.Environment.Isolation = &record.Isolation{Mode: "kernel process", Sandboxed: true,
		Landlock: "unavailable: Landlock is disabled at boot (lsm= parameter)", Seccomp: "unavailable: function not implemented"}
	var page strings.Builder
	require.NoError(t, HTML(&page, r))
	assert.Contains(t, page.String(), "indisponible : Landlock is disabled at boot")
	assert.Contains(t, page.String(), "indisponible : function not implemented")
}

// TestUnchangedSameModel: a promotion left unchanged because the
// candidate's fitted model is production's says so in the verdict and on
// the board, in each language, and offers no rollback.
func TestUnchangedSameModel(t *testing.T) {
	for lang, want := range map[string][]string{
		"en": {"Unchanged", "ChurnPredictor version 1 now holds production-live (candidate version 2: same fitted parameters as version 1)", "none needed: production was not changed"},
		"fr": {"Inchangé", "ChurnPredictor version 1 porte maintenant production-live (version candidate 2 : mêmes paramètres ajustés que la version 1)", "inutile : la production n&#39;a pas changé"},
	} {
		r := FixtureRun("promoted.en")
		r.Scenario.Lang = lang
		p := r.Evidence.Promotion
		p.Candidate, p.SameAs, p.Version, p.Previous, p.AtStart, p.Moved = "2", "1", "1", "1", "1", false
		p.Comparison = &record.ModelComparison{Same: true,
			Candidate:  record.ModelDigest{Version: "2", Digest: "sha256:ab"},
			Production: record.ModelDigest{Version: "1", Digest: "sha256:ab"}}
		v := newView(r)
		assert.Equal(t, verdictPromoted, v.Verdict.Kind)
		var page strings.Builder
		require.NoError(t, HTML(&page, r))
		for _, w := range want {
			assert.Contains(t, page.String(), w, lang)
		}
		assert.NotContains(t, page.String(), "playbook run churn-rollback", "no rollback of an unchanged production")
	}
}

// TestActor: an MLflow user in the record is on the first screen (who),
// in the summary and the audit, the OS user beside it, in the report's
// language; without one, the first screen names the promotion's actor as
// before.
func TestActor(t *testing.T) {
	for _, c := range []struct {
		fixture string
		actor   record.Actor
		want    []string
	}{
		{"promoted.en", record.Actor{Name: "alice", Via: "basic-auth", Verified: true}, []string{"MLflow user", "alice (verified by the server, basic auth)", "OS user"}},
		{"promoted.en", record.Actor{Name: "bob@example.com", Via: "bearer-jwt"}, []string{"bob@example.com (the bearer token's sub claim (JWT), not verified)"}},
		{"refused.fr", record.Actor{Name: "alice", Via: "basic-auth", Verified: true}, []string{"Utilisateur MLflow", "alice (vérifié par le serveur, authentification basic)", "Utilisateur du système"}},
		{"refused.fr", record.Actor{Name: "alice", Via: "basic-auth"}, []string{"alice (nom d'utilisateur de l'authentification basic, non vérifié par le serveur)"}},
		{"refused.fr", record.Actor{Name: "bob", Via: "bearer-jwt"}, []string{"bob (revendication sub du jeton (JWT), non vérifiée)"}},
	} {
		r := FixtureRun(c.fixture)
		r.Environment.Actor = &c.actor
		v := newView(r)
		osUser := r.Environment.User + "@" + r.Environment.Host
		for _, pairs := range [][]pair{v.Board.Who, v.Summary} {
			var text []string
			for _, p := range pairs {
				text = append(text, p.Key+": "+p.Value)
			}
			all := strings.Join(text, "\n")
			for _, w := range c.want {
				assert.Contains(t, all, w)
			}
			assert.Contains(t, all, ": "+osUser, "the OS user beside")
		}
		var page, md bytes.Buffer
		require.NoError(t, HTML(&page, r))
		_, err := Markdown(&md, r)
		require.NoError(t, err)
		for _, w := range c.want {
			assert.Contains(t, page.String(), html.EscapeString(w), c.fixture)
			assert.Contains(t, md.String(), mdText(w), c.fixture)
		}
	}
	r := FixtureRun("refused.fr")
	for _, p := range newView(r).Board.Who {
		assert.NotEqual(t, french.MLflowUser, p.Key, "no MLflow user, none shown")
	}
}
