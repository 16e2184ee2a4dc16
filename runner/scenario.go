package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/record"
)

// DefaultTimeout is a cell's timeout when its fence says no timeout=.
const DefaultTimeout = 5 * time.Minute

// Scenario is a parsed scenario file: front matter, prose and cells. Parsing
// is separate from running: one Scenario may be run or checked many times.
type Scenario struct {
	// Path is the file's path as given; errors name it.
	Path string
	// File, when set, is the file the scenario was read from, where Path
	// names none (an embedded scenario, written to a temporary folder):
	// its folder is the scenario's folder.
	File        string
	Title       string
	Lang        string
	Description string
	// SHA256 is the hex digest of the file's bytes.
	SHA256 string
	Params []ParamSpec
	// Blocks are prose and cells in document order.
	Blocks []record.Block
	Cells  []Cell
}

// Cell is one Go cell of a scenario.
type Cell struct {
	Step string
	// FenceLine is the line of the opening fence; Line the first code line;
	// EndLine the last (Line-1 for an empty cell).
	FenceLine, Line, EndLine int
	Timeout                  time.Duration
	// Code is the cell's source, lines joined by "\n".
	Code string
}

var stepName = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// frontMatterKeys are the keys a front matter may hold.
var frontMatterKeys = []string{"title", "lang", "description", "params", "expect"}

// ParseFile reads and parses the scenario at path.
func ParseFile(path string) (*Scenario, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Kind: record.ErrScenario, File: path, Err: err}
	}
	return Parse(path, src)
}

// DiskPath returns the file the scenario was read from: File, else Path.
func (s *Scenario) DiskPath() string {
	if s.File != "" {
		return s.File
	}
	return s.Path
}

// checkEncoding refuses a scenario that is not UTF-8: UTF-16 and UTF-32
// (by their byte order mark, or the NUL bytes of ASCII text in them) are
// named, and the first line holding bytes that are not UTF-8 is given.
func checkEncoding(path string, src []byte) error {
	for _, e := range []struct {
		bom  string
		name string
	}{
		{"\x00\x00\xFE\xFF", "UTF-32 (big-endian)"}, {"\xFF\xFE\x00\x00", "UTF-32 (little-endian)"},
		{"\xFE\xFF", "UTF-16 (big-endian)"}, {"\xFF\xFE", "UTF-16 (little-endian)"},
	} {
		if bytes.HasPrefix(src, []byte(e.bom)) {
			return scenarioErr(path, 0, "the scenario is %s; save it as UTF-8", e.name)
		}
	}
	if len(src) >= 2 && (src[0] == 0 || src[1] == 0) {
		return scenarioErr(path, 0, "the scenario holds NUL bytes (UTF-16 or UTF-32 without a byte order mark?); save it as UTF-8")
	}
	if utf8.Valid(src) {
		return nil
	}
	for i, l := range bytes.Split(src, []byte("\n")) {
		if !utf8.Valid(l) {
			col := 1
			for len(l) > 0 {
				r, n := utf8.DecodeRune(l)
				if r == utf8.RuneError && n == 1 {
					break
				}
				l, col = l[n:], col+1
			}
			return scenarioErr(path, i+1, "column %d: bytes that are not UTF-8 (a file saved as Latin-1 or Windows-1252?); save the scenario as UTF-8", col)
		}
	}
	return nil
}

// Parse parses the scenario src read from path. It reports every problem it
// finds, as Errors, each with the line it is on.
func Parse(path string, src []byte) (*Scenario, error) {
	sum := sha256.Sum256(src)
	s := &Scenario{Path: path, SHA256: hex.EncodeToString(sum[:])}
	if err := checkEncoding(path, src); err != nil {
		return nil, err
	}
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	if len(bytes.TrimSpace(src)) == 0 {
		return nil, scenarioErr(path, 0, "empty scenario: write a front matter (--- title: ... ---) and at least one cell (```go step=NAME)")
	}
	lines := strings.Split(string(src), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1] // the final newline ends the last line
	}

	var errs Errors
	body := 0 // index of the first line after the front matter
	if strings.TrimRight(lines[0], " \t") == "---" {
		end := -1
		for i := 1; i < len(lines); i++ {
			if t := strings.TrimRight(lines[i], " \t"); t == "---" || t == "..." {
				end = i
				break
			}
		}
		if end < 0 {
			return nil, scenarioErr(path, 1, "front matter opened with --- is not closed: end it with a line ---")
		}
		errs = append(errs, s.parseFrontMatter(strings.Join(lines[1:end], "\n"))...)
		body = end + 1
	}
	errs = append(errs, s.parseBody(lines, body)...)
	if len(s.Cells) == 0 && len(errs) == 0 {
		errs = append(errs, scenarioErr(path, 0, "no cells: a scenario runs its fenced Go blocks written ```go step=NAME"))
	}
	if s.Title == "" {
		s.Title = firstHeading(s.Blocks)
	}
	if s.Title == "" {
		s.Title = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// parseFrontMatter reads the YAML between the --- lines; its first line is
// line 2 of the file.
func (s *Scenario) parseFrontMatter(text string) Errors {
	const offset = 1 // YAML line 1 is file line 2
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		line := yamlErrorLine(err, text, offset)
		msg := yamlErrorText(err)
		if ls := strings.Split(text, "\n"); line-offset-1 < len(ls) && strings.HasPrefix(strings.TrimLeft(ls[line-offset-1], " "), "\t") {
			msg += " (a tab: indent YAML with spaces)"
		}
		return Errors{scenarioErr(s.Path, line, "front matter: %s", msg)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil // empty front matter
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return Errors{scenarioErr(s.Path, root.Line+offset, "front matter: want key: value lines (title, lang, description, params)")}
	}
	var errs Errors
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		line := k.Line + offset
		str := func(dst *string) {
			if v.Kind != yaml.ScalarNode {
				errs = append(errs, scenarioErr(s.Path, line, "front matter: %s must be text", k.Value))
				return
			}
			*dst = v.Value
		}
		switch k.Value {
		case "title":
			str(&s.Title)
		case "lang":
			str(&s.Lang)
		case "description":
			str(&s.Description)
		case "params":
			ps, perrs := parseParams(s.Path, v, offset)
			s.Params = ps
			errs = append(errs, perrs...)
		case "expect":
			// Free-form: what the scenario is expected to do, for readers
			// and tests. playbook ignores it.
		default:
			errs = append(errs, scenarioErr(s.Path, line, "front matter: unknown key %q (accepted: %s)", k.Value, strings.Join(frontMatterKeys, ", ")))
		}
	}
	return errs
}

// fence is an open fenced block.
type fence struct {
	char   byte
	n      int
	indent int
	line   int // 1-based line of the opening fence
	info   string
}

// openFence reports whether l opens a fenced block (CommonMark: up to three
// spaces, then three or more ` or ~).
func openFence(l string, line int) (fence, bool) {
	indent := len(l) - len(strings.TrimLeft(l, " "))
	if indent > 3 {
		return fence{}, false
	}
	rest := l[indent:]
	if len(rest) < 3 || (rest[0] != '`' && rest[0] != '~') {
		return fence{}, false
	}
	c := rest[0]
	n := 0
	for n < len(rest) && rest[n] == c {
		n++
	}
	if n < 3 {
		return fence{}, false
	}
	info := strings.TrimSpace(rest[n:])
	if c == '`' && strings.Contains(info, "`") {
		return fence{}, false
	}
	return fence{char: c, n: n, indent: indent, line: line, info: info}, true
}

// closes reports whether l closes f.
func (f fence) closes(l string) bool {
	indent := len(l) - len(strings.TrimLeft(l, " "))
	if indent > 3 {
		return false
	}
	rest := strings.TrimRight(l[indent:], " \t")
	if len(rest) < f.n {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] != f.char {
			return false
		}
	}
	return true
}

// htmlCommentStart reports whether l opens an HTML comment block
// (CommonMark: up to three spaces, then <!--).
func htmlCommentStart(l string) bool {
	t := strings.TrimLeft(l, " ")
	return len(l)-len(t) <= 3 && strings.HasPrefix(t, "<!--")
}

// parseBody splits lines[from:] into prose and cells; HTML comments are
// left out of both.
func (s *Scenario) parseBody(lines []string, from int) Errors {
	var errs Errors
	var prose []string
	proseLine := 0
	flush := func() {
		text := strings.Join(prose, "\n")
		if strings.TrimSpace(text) != "" {
			s.Blocks = append(s.Blocks, record.Block{Kind: record.BlockProse, Line: proseLine, Markdown: text + "\n"})
		}
		prose, proseLine = nil, 0
	}
	addProse := func(i int) {
		if proseLine == 0 {
			proseLine = i + 1
		}
		prose = append(prose, lines[i])
	}
	seen := map[string]int{} // step → line
	for i := from; i < len(lines); i++ {
		if htmlCommentStart(lines[i]) {
			// An HTML comment (CommonMark's HTML block of type 2) runs to
			// the first line holding "-->", the one it opens on included,
			// or to the end of the file. What it holds is hidden, as a
			// Markdown viewer hides it: no prose, and no cells, even
			// fenced Go blocks.
			end := len(lines) - 1
			closed := false
			for j := i; j < len(lines); j++ {
				if strings.Contains(lines[j], "-->") {
					end, closed = j, true
					break
				}
			}
			if !closed {
				for j := i + 1; j < len(lines); j++ {
					if f, ok := openFence(lines[j], j+1); ok {
						if lang, _, _ := strings.Cut(f.info, " "); strings.EqualFold(lang, "go") {
							errs = append(errs, scenarioErr(s.Path, i+1, "the HTML comment opened here (<!--) is not closed: it hides the Go cell on line %d and the rest of the file; end it with -->", j+1))
							break
						}
					}
				}
			}
			flush()
			i = end
			continue
		}
		f, ok := openFence(lines[i], i+1)
		if !ok {
			addProse(i)
			continue
		}
		// Find the closing fence.
		end := len(lines)
		for j := i + 1; j < len(lines); j++ {
			if f.closes(lines[j]) {
				end = j
				break
			}
		}
		lang, attrs, _ := strings.Cut(f.info, " ")
		if !strings.EqualFold(lang, "go") {
			// Shown, never run: part of the prose.
			for j := i; j <= end && j < len(lines); j++ {
				addProse(j)
			}
			i = end
			continue
		}
		c, cerrs := s.parseCell(f, attrs)
		errs = append(errs, cerrs...)
		if end == len(lines) {
			errs = append(errs, scenarioErr(s.Path, f.line, "the cell opened here is not closed: end it with a line %s", strings.Repeat(string(f.char), f.n)))
		}
		code := make([]string, 0, end-i-1)
		for j := i + 1; j < end; j++ {
			l := lines[j]
			// CommonMark removes the fence's indentation from its content.
			for k := 0; k < f.indent && strings.HasPrefix(l, " "); k++ {
				l = l[1:]
			}
			code = append(code, l)
		}
		c.FenceLine, c.Line, c.EndLine = f.line, f.line+1, end
		c.Code = strings.Join(code, "\n")
		if c.Step != "" {
			if first, dup := seen[c.Step]; dup {
				errs = append(errs, scenarioErr(s.Path, f.line, "duplicate step %q: step names must be unique (first used on line %d)", c.Step, first))
			}
			seen[c.Step] = f.line
		}
		if len(cerrs) == 0 {
			flush()
			s.Blocks = append(s.Blocks, record.Block{Kind: record.BlockCell, Line: f.line, Step: c.Step})
			s.Cells = append(s.Cells, c)
		}
		i = end
	}
	flush()
	return errs
}

// parseCell reads a Go fence's attributes: step=NAME (required) and
// timeout=DURATION.
func (s *Scenario) parseCell(f fence, attrs string) (Cell, Errors) {
	c := Cell{Timeout: DefaultTimeout}
	var errs Errors
	bad := func(format string, a ...any) { errs = append(errs, scenarioErr(s.Path, f.line, format, a...)) }
	hasStep := false
	for _, a := range strings.Fields(attrs) {
		k, v, ok := strings.Cut(a, "=")
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		}
		switch {
		case !ok:
			bad("cell attribute %q: want key=value (accepted: step=NAME, timeout=DURATION)", a)
		case k == "step":
			hasStep = true
			if !stepName.MatchString(v) {
				bad("step name %q: use lower-case letters, digits, - and _, starting with a letter", v)
			}
			c.Step = v
		case k == "timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				bad("timeout=%s: want a positive duration such as 30s or 10m", v)
			}
			c.Timeout = d
		default:
			bad("unknown cell attribute %q (accepted: step=NAME, timeout=DURATION)", k)
		}
	}
	if !hasStep {
		bad("Go cell without a step name: write ```go step=NAME to run it, or use another language tag (```go-example) to show code without running it")
	}
	return c, errs
}

func firstHeading(blocks []record.Block) string {
	for _, b := range blocks {
		if b.Kind != record.BlockProse {
			continue
		}
		for _, l := range strings.Split(b.Markdown, "\n") {
			if t, ok := strings.CutPrefix(l, "# "); ok {
				return strings.TrimSpace(t)
			}
		}
	}
	return ""
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

// yamlErrorLine returns the file line of a YAML syntax error in text.
//
// yaml.v3 names the line where the token it was scanning began (its
// "context"), not the line of the problem: a tab that breaks the
// indentation of a plain scalar's continuation or of a block scalar is
// reported on the scalar's first line, often the line above. For those
// errors, the line is the first one from there whose indentation holds a
// tab. An error without a line is on the YAML's first line.
func yamlErrorLine(err error, text string, offset int) int {
	line := 1 // in the YAML text, from 1
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil && m[1] != "" {
		line, _ = strconv.Atoi(m[1])
	}
	if strings.Contains(err.Error(), "tab character") {
		lines := strings.Split(text, "\n")
		for i := line - 1; i >= 0 && i < len(lines); i++ {
			l := lines[i]
			if indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]; strings.Contains(indent, "\t") {
				line = i + 1
				break
			}
		}
	}
	return line + offset
}

func yamlErrorText(err error) string {
	return yamlLine.ReplaceAllString(err.Error(), "")
}
