package runner

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

// TestMultiDefineInBlocks: definitions of several names in the blocks of a
// cell's top level, which yaegi alone cannot compile (multidefine.go),
// run and print what Go prints; the cell's variables are shared with the
// wrapped statements; a statement left unwrapped that yaegi's compiler
// panics on fails its cell with a compile error instead of ending the
// process.
func TestMultiDefineInBlocks(t *testing.T) {
	const prelude = "f := func() (int, error) { return 1, nil }\nm := map[string]int{\"a\": 3}\nn := 0\n_, _, _ = f, m, n\n"
	for name, c := range map[string]struct{ code, want string }{
		"for body":      {"for i := 0; i < 2; i++ {\n\tx, e := f()\n\tn += x\n\tfmt.Println(i, x, e)\n}\nfmt.Println(n)", "0 1 <nil>\n1 1 <nil>\n2\n"},
		"if init":       {"if v, ok := m[\"a\"]; ok {\n\tfmt.Println(v)\n}", "3\n"},
		"range body":    {"for k := range m {\n\tv, ok := m[k]\n\tfmt.Println(k, v, ok)\n}", "a 3 true\n"},
		"if body":       {"if true {\n\tv, ok := m[\"b\"]\n\tfmt.Println(v, ok)\n}", "0 false\n"},
		"switch case":   {"switch {\ncase n == 0:\n\tx, e := f()\n\tfmt.Println(x, e)\n}", "1 <nil>\n"},
		"block":         {"{\n\tx, e := f()\n\tfmt.Println(x, e)\n}", "1 <nil>\n"},
		"var in loop":   {"for i := 0; i < 3; i++ {\n\tvar x, e = f()\n\tn += x\n\t_ = e\n}\nfmt.Println(n)", "3\n"},
		"break in loop": {"for {\n\tx, e := f()\n\t_ = e\n\tn += x\n\tif n > 4 {\n\t\tbreak\n\t}\n}\nfmt.Println(n)", "5\n"},
		"type switch":   {"var a any = 2\nswitch v := a.(type) {\ncase int:\n\tx, e := f()\n\tfmt.Println(v+x, e)\n}", "3 <nil>\n"},
	} {
		t.Run(name, func(t *testing.T) {
			src := fmt.Sprintf("---\ntitle: t\n---\n\n```go step=a\n%s%s\n```\n\n```go step=b\nfmt.Println(\"after\", n)\n```\n", prelude, c.code)
			rec, err := run(t, src, Options{})
			require.NoError(t, err)
			assert.Equal(t, []record.Output{{Kind: record.OutputStdout, Text: c.want}}, outputs(t, rec, "a"))
			assert.Equal(t, record.StatusOK, rec.Cell("b").Status)
		})
	}

	// A labelled statement is not wrapped (its label is the target of a
	// goto): yaegi's panic is the cell's compile error.
	src := "---\ntitle: t\n---\n\n```go step=a\nm := map[string]int{\"a\": 3}\ni := 0\nL:\nif v, ok := m[\"a\"]; ok && i < 1 {\n\ti++\n\tfmt.Println(v)\n\tgoto L\n}\n```\n"
	rec, err := run(t, src, Options{})
	require.Error(t, err)
	c := rec.Cell("a")
	require.NotNil(t, c.Error)
	assert.Equal(t, record.StatusFailed, c.Status)
	assert.Contains(t, err.Error(), "the interpreter (yaegi) failed on this cell: nil type", "the cell's error says what failed")
	assert.Equal(t, 6, c.Error.Line, "the cell's first line in the file")
}

func TestKeepsMeaningInFunc(t *testing.T) {
	for code, want := range map[string]bool{
		"for { break }":                               true,
		"for { continue }":                            true,
		"switch { case true: break }":                 true,
		"for { switch { case true: continue } }":      true,
		"if true { return }":                          false,
		"if true { defer f() }":                       false,
		"for { goto L }":                              false,
		"for { break L }":                             false,
		"if true { break }":                           false,
		"switch { case true: fallthrough; default: }": true,
		"if true { g := func() { return }; g() }":     true,
	} {
		f, err := parserStmt(code)
		require.NoError(t, err, code)
		assert.Equal(t, want, keepsMeaningInFunc(f), code)
	}
}

// parserStmt parses one statement.
func parserStmt(code string) (ast.Stmt, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "", "package p; func _() {"+code+"}", 0)
	if err != nil {
		return nil, err
	}
	return f.Decls[0].(*ast.FuncDecl).Body.List[0], nil
}
