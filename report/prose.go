package report

import (
	"html"
	"io"
	"regexp"
	"strings"

	"github.com/gomarkdown/markdown"
	"github.com/gomarkdown/markdown/ast"
	mdhtml "github.com/gomarkdown/markdown/html"
	"github.com/gomarkdown/markdown/parser"
)

// proseExtensions are the Markdown extensions of a scenario's prose:
// CommonMark plus tables, fenced code, autolinks, strikethrough and
// definition lists. Not the ones that read files (Includes), set
// attributes or IDs, or need a script to show (MathJax).
const proseExtensions = parser.NoIntraEmphasis | parser.Tables | parser.FencedCode | parser.Autolink |
	parser.Strikethrough | parser.SpaceHeadings | parser.BackslashLineBreak | parser.DefinitionLists

// proseHTML renders Markdown prose (a scenario's, or what a cell showed with
// pb.Markdown) as HTML that can do nothing but show text:
//
//   - raw HTML, block or inline, is shown as text, escaped, never passed
//     through: prose cannot inject a script, a style or an element;
//   - links keep only safe schemes (http, https, ftp, mailto and relative
//     paths), so no javascript: link;
//   - images are not loaded (a self-contained report fetches nothing): they
//     show as their text and address;
//   - Go code blocks are highlighted like cells, other code blocks escaped;
//   - headings go one level down, under the report's own.
func proseHTML(md string) string {
	if strings.TrimSpace(md) == "" {
		return ""
	}
	doc := markdown.Parse([]byte(md), parser.NewWithExtensions(proseExtensions))
	ast.WalkFunc(doc, func(n ast.Node, entering bool) ast.WalkStatus {
		if h, ok := n.(*ast.Heading); ok && entering {
			h.Level = min(h.Level+1, 6)
		}
		return ast.GoToNext
	})
	r := mdhtml.NewRenderer(mdhtml.RendererOptions{
		Flags:          mdhtml.SkipHTML | mdhtml.Safelink | mdhtml.NoreferrerLinks | mdhtml.NoopenerLinks,
		RenderNodeHook: proseHook,
	})
	return string(markdown.Render(doc, r))
}

func proseHook(w io.Writer, n ast.Node, entering bool) (ast.WalkStatus, bool) {
	switch n := n.(type) {
	case *ast.HTMLBlock:
		io.WriteString(w, `<pre class="raw">`+html.EscapeString(string(n.Literal))+"</pre>\n")
		return ast.GoToNext, true
	case *ast.HTMLSpan:
		io.WriteString(w, `<code class="raw">`+html.EscapeString(string(n.Literal))+"</code>")
		return ast.GoToNext, true
	case *ast.Image:
		if entering {
			io.WriteString(w, `<span class="image">[`)
		} else {
			io.WriteString(w, `] <code>`+html.EscapeString(string(n.Destination))+`</code></span>`)
		}
		return ast.GoToNext, true
	case *ast.CodeBlock:
		lang, _, _ := strings.Cut(strings.TrimSpace(string(n.Info)), " ")
		code := strings.TrimSuffix(string(n.Literal), "\n")
		body := html.EscapeString(code)
		if strings.EqualFold(lang, "go") || strings.HasPrefix(strings.ToLower(lang), "go-") {
			body = highlightGo(code)
		}
		io.WriteString(w, `<pre class="prose-code"><code>`+body+"</code></pre>\n")
		return ast.GoToNext, true
	}
	return ast.GoToNext, false
}

// neutralMarkdown returns a scenario's prose for report.md with what could
// run or fetch made harmless, the rest as written:
//
//   - raw HTML is made text: every '<' outside fenced code blocks and code
//     spans becomes "&lt;", which Markdown renderers show as '<';
//   - an image becomes a link to it ("![x](u)" → "\![x](u)"), as in the
//     HTML report, which loads nothing;
//   - a link to a scheme other than http, https, mailto and ftp
//     (javascript:, data:, ...) loses its colon, and goes nowhere.
//
// The result is parsed to make sure: if the parser still finds raw HTML,
// an image or an unsafe link in it (prose written to fool the fence
// detection), every '<', '[' and ']' is escaped, code included.
func neutralMarkdown(md string) string {
	out := neutralFences(md)
	if unsafeMarkdown(out) {
		out = strings.NewReplacer("<", "&lt;", "[", `\[`, "]", `\]`).Replace(md)
	}
	return out
}

// unsafeMarkdown reports whether Markdown parses to raw HTML, an image, or
// a link to an unsafe scheme.
func unsafeMarkdown(md string) bool {
	found := false
	doc := markdown.Parse([]byte(md), parser.NewWithExtensions(proseExtensions))
	ast.WalkFunc(doc, func(n ast.Node, entering bool) ast.WalkStatus {
		switch n := n.(type) {
		case *ast.HTMLBlock, *ast.HTMLSpan, *ast.Image:
			found = true
		case *ast.Link:
			found = !safeScheme(string(n.Destination))
		}
		if found {
			return ast.Terminate
		}
		return ast.GoToNext
	})
	return found
}

// safeScheme reports whether a link goes to http, https, mailto, ftp, or
// has no scheme (a relative link, an anchor).
func safeScheme(dest string) bool {
	scheme, ok := schemeOf(dest)
	if !ok {
		return true
	}
	switch strings.ToLower(scheme) {
	case "http", "https", "mailto", "ftp":
		return true
	}
	return false
}

// schemeOf returns the scheme of a URL: the letters, digits, '+', '-' and
// '.' before its first ':', starting with a letter.
func schemeOf(dest string) (string, bool) {
	dest = strings.TrimLeft(dest, " \t<")
	for i := 0; i < len(dest); i++ {
		c := dest[i]
		switch {
		case c == ':':
			return dest[:i], i > 0
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
		case i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'):
		default:
			return "", false
		}
	}
	return "", false
}

// defuseDest returns a link destination (what follows "](" or "]: ") with
// the colon of an unsafe scheme escaped: "javascript%3Aalert(1)" is a
// relative link to nowhere.
func defuseDest(rest string) string {
	if safeScheme(rest) {
		return rest
	}
	i := strings.IndexByte(rest, ':')
	return rest[:i] + "%3A" + rest[i+1:]
}

// refDef matches the start of a link reference definition: "[id]: ".
var refDef = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:[ \t]*`)

// neutralFences escapes '<' outside fenced code blocks and code spans.
func neutralFences(md string) string {
	var b strings.Builder
	b.Grow(len(md) + 16)
	fence := "" // the open fence, "" outside a fenced block
	for _, line := range strings.SplitAfter(md, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		content := strings.TrimRight(trimmed, "\r\n")
		switch {
		case fence != "":
			if indent < 4 && strings.HasPrefix(content, fence) && strings.TrimRight(content, fence[:1]+" \t") == "" {
				fence = ""
			}
			b.WriteString(line)
		case indent < 4 && (strings.HasPrefix(content, "```") || strings.HasPrefix(content, "~~~")):
			c := content[:1]
			n := len(content) - len(strings.TrimLeft(content, c))
			if c == "`" && strings.Contains(content[n:], "`") {
				b.WriteString(neutralInline(line)) // not a fence: a code span
				continue
			}
			fence = strings.Repeat(c, n)
			b.WriteString(line)
		default:
			if m := refDef.FindString(line); m != "" {
				line = m + defuseDest(line[len(m):])
			}
			b.WriteString(neutralInline(line))
		}
	}
	return b.String()
}

// neutralInline escapes '<' and images, and defuses unsafe links, in a
// line of Markdown, outside code spans.
func neutralInline(line string) string {
	if !strings.ContainsAny(line, "<!]") {
		return line
	}
	var b strings.Builder
	for i := 0; i < len(line); {
		switch line[i] {
		case '`':
			n := 0
			for i+n < len(line) && line[i+n] == '`' {
				n++
			}
			run := line[i : i+n]
			if end := closingRun(line[i+n:], n); end >= 0 {
				b.WriteString(line[i : i+n+end+n])
				i += n + end + n
				continue
			}
			b.WriteString(run)
			i += n
		case '\\':
			if i+1 < len(line) {
				b.WriteString(line[i : i+2])
				i += 2
				continue
			}
			b.WriteByte('\\')
			i++
		case '<':
			b.WriteString("&lt;")
			i++
		case '!':
			if i+1 < len(line) && line[i+1] == '[' {
				b.WriteString(`\!`) // an image: a link to it instead
			} else {
				b.WriteByte('!')
			}
			i++
		case ']':
			b.WriteByte(']')
			i++
			if i < len(line) && line[i] == '(' {
				rest := defuseDest(line[i+1:])
				line = line[:i+1] + rest
			}
		default:
			b.WriteByte(line[i])
			i++
		}
	}
	return b.String()
}

// closingRun returns the offset in s of a run of exactly n backticks, or -1.
func closingRun(s string, n int) int {
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		if j-i == n {
			return i
		}
		i = j
	}
	return -1
}
