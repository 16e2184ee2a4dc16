package report

import (
	"bufio"
	"embed"
	"fmt"
	"html"
	"html/template"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/playbook-mlops/playbook/record"
)

//go:embed templates/report.html templates/style.css
var templates embed.FS

// pageTemplate is parsed once, when a first report is written (not at the
// start of every process: a kernel writes none); executing it is safe from
// many goroutines.
var pageTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report.html").Funcs(htmlFuncs).ParseFS(templates, "templates/report.html"))
})

var css = sync.OnceValue(func() template.CSS {
	b, err := templates.ReadFile("templates/style.css")
	if err != nil {
		panic(err)
	}
	return template.CSS(b)
})

// bundled passes labels and a value to a sub-template.
type bundled struct {
	L *labels
	V any
}

// htmlFuncs are the template's functions. The ones that return
// template.HTML, CSS or URL build their result from escaped text or from
// content the report made safe itself (cleanSVG, proseHTML): they are the
// only places where html/template's escaping is bypassed.
var htmlFuncs = template.FuncMap{
	"css":     css,
	"livecss": func() template.CSS { return template.CSS(liveFile("live.css")) },
	"livejs":  func() template.JS { return template.JS(liveFile("live.js")) },
	"code":    func(code string) template.HTML { return template.HTML(highlightGo(strings.TrimRight(code, "\n"))) },
	"lines": func(nums string, errLine int) template.HTML {
		if errLine == 0 {
			return template.HTML(html.EscapeString(nums))
		}
		var b strings.Builder
		for i, n := range strings.Split(nums, "\n") {
			if i > 0 {
				b.WriteByte('\n')
			}
			if n == strconv.Itoa(errLine) {
				b.WriteString(`<span class="err">` + html.EscapeString(n) + `</span>`)
			} else {
				b.WriteString(html.EscapeString(n))
			}
		}
		return template.HTML(b.String())
	},
	"prose": func(md string) template.HTML { return template.HTML(proseHTML(md)) },
	// A plot is an <img> of a data: URI, not inline SVG: whatever an SVG
	// holds, an image cannot run a script or fetch anything.
	"svguri":    func(svg string) template.URL { return template.URL(dataURI("image/svg+xml", []byte(svg))) },
	"pnguri":    func(png []byte) template.URL { return template.URL(dataURI("image/png", png)) },
	"bundle":    func(l *labels, v any) bundled { return bundled{L: l, V: v} },
	"stamp":     snapStamp,
	"change":    changeWord,
	"snaplabel": snapLabel,
	"num":       fmtNum,
	"optnum":    fmtOptNum,
	"time":      fmtTime,
	"value":     fmtValue,
	"size":      fmtSize,
	"join":      strings.Join,
	"keys":      sortedKeys[string],
	"password":  passWord,
	"metric": func(m map[string]float64, k string) string {
		if v, ok := m[k]; ok {
			return fmtNum(v)
		}
		return ""
	},
}

// changeWord words a difference, with a mark that survives black and white
// printing.
func changeWord(l *labels, change string) string {
	switch change {
	case "added":
		return "+ " + l.Added
	case "removed":
		return "− " + l.Removed
	case "changed":
		return "~ " + l.Changed
	case "moved":
		return "→ " + l.Moved
	}
	return l.Unchanged
}

// snapStamp says when and in which step a snapshot was taken.
func snapStamp(s *record.Snapshot) string {
	if s == nil {
		return "—"
	}
	out := fmtTime(s.Time)
	if s.Step != "" {
		out += " (" + s.Step + ")"
	}
	return out
}

// snapLabel words a snapshot's label: before and after in the report's
// language, others as they are.
func snapLabel(l *labels, label string) string {
	switch label {
	case "before":
		return l.Before
	case "after":
		return l.After
	}
	return label
}

// passWord words a check class of checkOutcome ("pass", "fail",
// "skipped"); "" for none.
func passWord(l *labels, class string) string {
	switch class {
	case "pass":
		return l.Pass
	case "fail":
		return l.Fail
	case "skipped":
		return l.Skipped
	}
	return ""
}

// checkOutcome is a check's class, "skipped", "pass" or "fail", the one
// reading of a check that the board, the HTML and the Markdown share.
func checkOutcome(c record.Check) string {
	switch {
	case c.Skipped:
		return "skipped"
	case c.Pass:
		return "pass"
	}
	return "fail"
}

// HTML writes the run record as one self-contained HTML page: inline CSS,
// plots and screenshots as data: images, no script, nothing fetched (its
// Content-Security-Policy forbids it). Every string of the record is
// escaped.
//
// It writes as it renders: a template error leaves w with part of the
// page (WriteFiles writes to a temporary file, dropped then).
func HTML(w io.Writer, r *record.Run) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := pageTemplate().Execute(bw, newView(r)); err != nil {
		return fmt.Errorf("report: html: %w", err)
	}
	return bw.Flush()
}
