package runner

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

func TestSplitCell(t *testing.T) {
	tests := []struct {
		name         string
		code         string
		decls, stmts string // the non-blank parts, one per line
	}{
		{name: "Statements", code: "x := 1\nfmt.Println(x)", stmts: "x := 1\nfmt.Println(x)"},
		{name: "Declarations", code: "import \"fmt\"\nfunc f() {}\ntype T int\nvar v = 1\nconst c = 2", decls: "import \"fmt\"\nfunc f() {}\ntype T int\nvar v = 1\nconst c = 2"},
		{name: "Mixed", code: "x := 1\nfunc f() int {\n\treturn x\n}\ny := f()", decls: "func f() int {\nreturn x\n}", stmts: "x := 1\ny := f()"},
		{name: "Method", code: "type T struct{}\nfunc (T) M() {}\nT{}.M()", decls: "type T struct{}\nfunc (T) M() {}", stmts: "T{}.M()"},
		{name: "FuncLiteralCalled", code: "func() { fmt.Println(1) }()", stmts: "func() { fmt.Println(1) }()"},
		{name: "FuncLiteralWithResult", code: "func(x int) (int, error) { return x, nil }(1)", stmts: "func(x int) (int, error) { return x, nil }(1)"},
		{name: "GroupedVar", code: "var (\n\ta = 1\n\tb = 2\n)\nfmt.Println(a)", decls: "var (\na = 1\nb = 2\n)", stmts: "fmt.Println(a)"},
		{name: "Semicolons", code: "x := 1; var y = 2; fmt.Println(x, y)", decls: "var y = 2;", stmts: "x := 1; fmt.Println(x, y)"},
		{name: "NestedVarIsStatement", code: "if true {\n\tvar z = 1\n\t_ = z\n}", stmts: "if true {\nvar z = 1\n_ = z\n}"},
	}
	norm := func(s string) string {
		var lines []string
		for _, l := range strings.Split(s, "\n") {
			if l = strings.Join(strings.Fields(l), " "); l != "" {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\n")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, s, hasD, hasS := splitCell(tt.code)
			assert.Len(t, d, len(tt.code), "positions are kept")
			assert.Len(t, s, len(tt.code), "positions are kept")
			assert.Equal(t, strings.Count(tt.code, "\n"), strings.Count(d, "\n"))
			assert.Equal(t, norm(tt.decls), norm(d))
			assert.Equal(t, norm(tt.stmts), norm(s))
			assert.Equal(t, tt.decls != "", hasD)
			assert.Equal(t, tt.stmts != "", hasS)
		})
	}
}

func TestImports(t *testing.T) {
	tests := []struct {
		name         string
		imp          string
		unrestricted bool
		err          string // beginning of the error after "testdata/inline.md:3: step s: "; "" when allowed
	}{
		{name: "Strings", imp: "strings"},
		{name: "JSON", imp: "encoding/json"},
		{name: "Slices", imp: "slices", err: `import "slices": import not allowed: the interpreter cannot run the standard library's generic packages (cmp, maps, slices): use sort`},
		{name: "Maps", imp: "maps", err: `import "maps": import not allowed: the interpreter cannot run the standard library's generic packages`},
		{name: "Cmp", imp: "cmp", err: `import "cmp": import not allowed: the interpreter cannot run the standard library's generic packages`},
		{name: "SlicesUnrestricted", imp: "slices", unrestricted: true, err: `import "slices": import not allowed: the interpreter cannot run the standard library's generic packages`},
		{name: "Plot", imp: "gonum.org/v1/plot/plotter"},
		{name: "Steps", imp: "github.com/playbook-mlops/playbook/steps"},
		{name: "OS", imp: "os", err: `import "os": import not allowed in a cell: cells may import bufio, bytes,`},
		{name: "Exec", imp: "os/exec", err: `import "os/exec": import not allowed in a cell`},
		{name: "Net", imp: "net", err: `import "net": import not allowed`},
		{name: "HTTP", imp: "net/http", err: `import "net/http": import not allowed`},
		{name: "Syscall", imp: "syscall", err: `import "syscall": import not allowed`},
		{name: "Unsafe", imp: "unsafe", err: `import "unsafe": import not allowed`},
		{name: "Reflect", imp: "reflect", err: `import "reflect": import not allowed`},
		{name: "Ioutil", imp: "io/ioutil", err: `import "io/ioutil": import not allowed`},
		{name: "Plugin", imp: "plugin", err: `import "plugin": import not allowed`},
		{name: "Kernel", imp: kernelPath, err: `import "playbook/kernel": import not allowed`},
		{name: "Nonexistent", imp: "example.com/nope", err: `import "example.com/nope": import not allowed`},
		{name: "ExecUnrestricted", imp: "os/exec", unrestricted: true},
		{name: "OSUnrestricted", imp: "os", unrestricted: true},
		{name: "PluginUnrestricted", imp: "plugin", unrestricted: true, err: `import "plugin": import not allowed: the package is not available to cells`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "# Imports\n\n```go step=s\nimport _ \"" + tt.imp + "\"\n```\n"
			rec, err := run(t, src, Options{Unrestricted: tt.unrestricted})
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			want := "testdata/inline.md:4: step s: " + tt.err
			assert.True(t, strings.HasPrefix(err.Error(), want), "got %q\nwant %q...", err, want)
			assert.Equal(t, record.ErrImport, rec.Cells[0].Error.Kind)
			assert.ErrorIs(t, err, ErrImportRefused)
			if _, generic := genericPackages[tt.imp]; !tt.unrestricted && !generic {
				assert.Contains(t, err.Error(), "--unrestricted")
			}
		})
	}
}

func TestImportTwice(t *testing.T) {
	src := "```go step=a\nimport \"fmt\"\nimport \"encoding/json\"\nb, _ := json.Marshal(1)\n```\n\n" +
		"```go step=b\nimport (\n\t\"encoding/json\"\n\t\"fmt\"\n)\nc, _ := json.Marshal(2)\nfmt.Println(string(b), string(c))\n```\n\n" +
		"```go step=c\nimport fmt \"strings\"\n```\n"
	rec, err := run(t, src, Options{})
	require.Error(t, err)
	assert.Equal(t, []record.Output{{Kind: record.OutputStdout, Text: "1 2\n"}}, rec.Cells[1].Outputs, "importing a package again is fine")
	assert.True(t, strings.HasPrefix(err.Error(), `testdata/inline.md:17: step c: import "strings": the name fmt is already package "fmt"`), err.Error())
}

func TestTypeRedefined(t *testing.T) {
	src := "```go step=a\ntype T struct{ A int }\n```\n\n```go step=b\ntype T struct{ B int }\n```\n"
	_, err := run(t, src, Options{})
	require.Error(t, err)
	assert.Equal(t, "testdata/inline.md:6: step b: type T is already declared by step a: a type cannot be redefined, give this one another name", err.Error())
}

func TestSyntaxErrorAtEndOfCell(t *testing.T) {
	_, err := run(t, "```go step=s\nx := 1 +\n```\n\nMore prose.\n", Options{})
	require.Error(t, err)
	assert.Equal(t, "testdata/inline.md:2: step s: syntax error: expected operand, found the end of the cell", err.Error())
}

func TestCheckRunsNothing(t *testing.T) {
	src := "```go step=a\nfmt.Println(\"printed\")\nc, err := pb.Client()\nif err != nil {\n\tpanic(err)\n}\n_ = c\n```\n\n" +
		"```go step=b\nfor {}\n```\n\n```go step=c\nvar n map[string]int\nn[\"x\"] = 1\n```\n"
	sc, err := Parse("f.md", []byte(src))
	require.NoError(t, err)
	assert.NoError(t, Check(sc, Options{}), "check compiles cells without running them: no client, no loop, no panic")
}

func TestCheckCascade(t *testing.T) {
	src := "```go step=a\nbest := undefinedStep()\n```\n\n```go step=b\nfmt.Println(best)\nfmt.Println(other)\n```\n"
	sc, err := Parse("f.md", []byte(src))
	require.NoError(t, err)
	err = Check(sc, Options{})
	var list Errors
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 1, "best is undefined because step a failed: not reported again\n%s", err)
	assert.Equal(t, "f.md:2: step a: undefined: undefinedStep", list[0].Error())
}

func TestCheckParams(t *testing.T) {
	src := "---\nparams:\n  n: 1\n  owner: {type: string, required: true}\n---\n```go step=a\nvar s string = params.N\n_ = params.Owner\n```\n"
	sc, err := Parse("f.md", []byte(src))
	require.NoError(t, err)
	err = Check(sc, Options{})
	require.Error(t, err, "params are typed: an integer is not a string")
	assert.Equal(t, "f.md:7: step a: cannot use type int as type string in assignment", err.Error())
	err = Check(sc, Options{Params: []string{"n=x"}})
	var pe *ParamError
	require.ErrorAs(t, err, &pe, "check validates -p values")
}

func TestCheckCascadeAfterSyntaxError(t *testing.T) {
	src := "```go step=a\ny := 2\nfmt.Println(y\n```\n\n```go step=b\nfmt.Println(y)\n```\n"
	sc, err := Parse("f.md", []byte(src))
	require.NoError(t, err)
	err = Check(sc, Options{})
	var list Errors
	require.ErrorAs(t, err, &list)
	require.Len(t, list, 1, "y is undefined because step a failed to parse: not reported again\n%s", err)
	assert.Equal(t, "f.md:3: step a: syntax error: missing ',' before newline in argument list", list[0].Error())
}
