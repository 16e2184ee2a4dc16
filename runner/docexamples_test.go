package runner_test

import (
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/runner"
	"github.com/playbook-mlops/playbook/runner/symbols"
)

// repoRoot is the module's root, from the runner's folder.
const repoRoot = ".."

// docExample is a Go example in the documentation: Code starts at Line of
// File (slash-separated, from the repository's root).
type docExample struct {
	File string
	Line int
	Code string
}

func (e docExample) String() string { return fmt.Sprintf("%s:%d", e.File, e.Line) }

// TestDocExamples compiles, as a cell, every Go example of the
// documentation: the indented Go blocks of doc.go files (a block holding a
// ```go fence gives the cell inside it) and the ```go blocks of docs/*.md
// (also inside a ````markdown block). Each becomes a scenario declaring the
// parameters it reads, with the types the scenarios give them, and is
// checked as playbook check would; a failure names the example's file and
// line.
func TestDocExamples(t *testing.T) {
	examples := docExamples(t)
	require.NotEmpty(t, examples)
	params := scenarioParams(t)
	for _, ex := range examples {
		t.Run(ex.String(), func(t *testing.T) {
			var front strings.Builder
			front.WriteString("---\nparams:\n")
			for _, name := range paramsUsed(ex.Code) {
				spec, ok := params[name]
				if !ok {
					t.Fatalf("%s: params.%s: no scenario in scenarios/ declares it; use a parameter they declare", ex, name)
				}
				// required: check gives it its type's zero value.
				fmt.Fprintf(&front, "  %s: {type: %s, required: true}\n", spec.Name, spec.Type)
			}
			front.WriteString("---\n\n")
			src := front.String() + "```go step=example\n" + ex.Code + "\n```\n"
			sc, err := runner.Parse(ex.File, []byte(src))
			require.NoError(t, err, "%s: the example does not make a scenario", ex)
			require.Len(t, sc.Cells, 1)
			err = runner.Check(sc, runner.Options{})
			if err == nil {
				return
			}
			var list runner.Errors
			if !errors.As(err, &list) {
				t.Fatalf("%s: %v", ex, err)
			}
			for _, e := range list {
				t.Errorf("%s:%d: the example does not compile: %v", ex.File, ex.Line+e.Line-sc.Cells[0].Line, e.Err)
			}
		})
	}
}

// TestDocExamplesFound: the examples the documentation is known to hold
// are found, so that a change of format does not leave them untested.
func TestDocExamplesFound(t *testing.T) {
	found := map[string]bool{}
	for _, ex := range docExamples(t) {
		found[ex.File] = true
	}
	for _, f := range []string{"runner/doc.go", "steps/doc.go", "docs/SCENARIOS.md", "docs/STEPS.md"} {
		require.True(t, found[f], "no Go example found in %s", f)
	}
}

var paramRef = regexp.MustCompile(`\bparams\.([A-Z]\w*)`)

// paramsUsed returns the Go names of the parameters code reads, sorted.
func paramsUsed(code string) []string {
	seen := map[string]bool{}
	for _, m := range paramRef.FindAllStringSubmatch(code, -1) {
		seen[m[1]] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// scenarioParams returns the parameters the scenarios declare, by Go name.
func scenarioParams(t *testing.T) map[string]runner.ParamSpec {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "scenarios", "*.md"))
	require.NoError(t, err)
	out := map[string]runner.ParamSpec{}
	for _, f := range files {
		sc, err := runner.ParseFile(f)
		require.NoError(t, err)
		for _, p := range sc.Params {
			out[p.GoName] = p
		}
	}
	return out
}

// docExamples finds the Go examples of doc.go files and docs/*.md.
func docExamples(t *testing.T) []docExample {
	t.Helper()
	var out []docExample
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != repoRoot && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		rel, _ := filepath.Rel(repoRoot, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.Name() == "doc.go":
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, docGoExamples(rel, string(b))...)
		case strings.HasPrefix(rel, "docs/") && strings.HasSuffix(rel, ".md"):
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, fencedExamples(rel, strings.Split(string(b), "\n"), 1)...)
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

var goFence = regexp.MustCompile("^\\s*```go(\\s|$)")

// fencedExamples returns the ```go blocks of lines, the first being line
// first of file.
func fencedExamples(file string, lines []string, first int) []docExample {
	var out []docExample
	for i := 0; i < len(lines); i++ {
		if !goFence.MatchString(lines[i]) {
			continue
		}
		start := i + 1
		end := start
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		out = append(out, docExample{File: file, Line: first + start, Code: strings.Join(lines[start:end], "\n")})
		i = end
	}
	return out
}

// docGoExamples returns the Go examples of a doc.go file's comments: each
// tab-indented block of comment lines that holds a ```go fence (the cells
// inside it) or that parses as Go statements or declarations (not YAML, a
// shell command or an error message).
func docGoExamples(file, src string) []docExample {
	lines := strings.Split(src, "\n")
	var out []docExample
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "//\t") {
			continue
		}
		start := i
		var block []string
		for i < len(lines) && (strings.HasPrefix(lines[i], "//\t") || strings.TrimSpace(lines[i]) == "//") {
			block = append(block, strings.TrimPrefix(strings.TrimPrefix(lines[i], "//"), "\t"))
			i++
		}
		for len(block) > 0 && strings.TrimSpace(block[len(block)-1]) == "" {
			block = block[:len(block)-1]
		}
		if fenced := fencedExamples(file, block, start+1); len(fenced) > 0 {
			out = append(out, fenced...)
			continue
		}
		code := strings.Join(block, "\n")
		if isGo(code) {
			out = append(out, docExample{File: file, Line: start + 1, Code: code})
		}
	}
	return out
}

// isGo reports whether code parses as Go statements or declarations.
func isGo(code string) bool {
	if _, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc f() {\n"+code+"\n}", 0); err == nil {
		return true
	}
	_, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+code, 0)
	return err == nil
}

var optionsRef = regexp.MustCompile(`steps\.(\w+)\{(\w+(?:, \w+)*)\}`)

// TestStepsTableFields: the fields docs/STEPS.md's table names in each
// options struct (steps.IdentifyOptions{Experiment, Metric, ...}) are the
// struct's fields.
func TestStepsTableFields(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "STEPS.md"))
	require.NoError(t, err)
	table := symbols.Symbols["github.com/playbook-mlops/playbook/steps/steps"]
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		for _, m := range optionsRef.FindAllStringSubmatch(line, -1) {
			v, ok := table[m[1]]
			if !ok {
				t.Errorf("docs/STEPS.md:%d: steps.%s: no such type", i+1, m[1])
				continue
			}
			typ := v.Type().Elem()
			for _, f := range strings.Split(m[2], ", ") {
				n++
				if _, ok := typ.FieldByName(f); !ok {
					t.Errorf("docs/STEPS.md:%d: steps.%s has no field %s", i+1, m[1], f)
				}
			}
		}
	}
	require.NotZero(t, n, "no options struct found in docs/STEPS.md's table")
}
