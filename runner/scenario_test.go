package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

func TestParse(t *testing.T) {
	src := "---\ntitle: T\nlang: fr\ndescription: D\n---\n\nIntro.\n\n~~~markdown\n```go step=shown\nnot run\n```\n~~~\n\n" +
		"```go step=one timeout=30s\nx := 1\n```\n\n```text\nshown\n```\n\n```Go step=two\n```\n"
	sc, err := Parse("f.md", []byte(src))
	require.NoError(t, err)
	assert.Equal(t, "T", sc.Title)
	assert.Equal(t, "fr", sc.Lang)
	assert.Equal(t, "D", sc.Description)
	require.Len(t, sc.Cells, 2, "a fence inside another fence is prose")
	assert.Equal(t, Cell{Step: "one", FenceLine: 15, Line: 16, EndLine: 16, Timeout: 30 * time.Second, Code: "x := 1"}, sc.Cells[0])
	assert.Equal(t, Cell{Step: "two", FenceLine: 23, Line: 24, EndLine: 23, Timeout: DefaultTimeout, Code: ""}, sc.Cells[1])
	require.Len(t, sc.Blocks, 4)
	assert.Equal(t, record.Block{Kind: record.BlockProse, Line: 6, Markdown: "\nIntro.\n\n~~~markdown\n```go step=shown\nnot run\n```\n~~~\n\n"}, sc.Blocks[0])
	assert.Equal(t, record.Block{Kind: record.BlockCell, Line: 15, Step: "one"}, sc.Blocks[1])
	assert.Equal(t, record.Block{Kind: record.BlockProse, Line: 18, Markdown: "\n```text\nshown\n```\n\n"}, sc.Blocks[2])
}

// Fenced Go blocks inside an HTML comment are not cells: the comment
// (CommonMark's HTML block of type 2, from <!-- to the line holding -->)
// is hidden, prose and fences alike, as a Markdown viewer hides it.
func TestParseHTMLComment(t *testing.T) {
	src := "# T\n\nIntro.\n" + // 1-3
		"<!--\nA note.\n```go step=hidden\npanic(1)\n```\n-->\n" + // 4-9
		"\n```go step=one\nx := 1\n```\n" + // 10-13 (the fence on 11)
		"  <!-- one line --> and the rest of its line\n" + // 14
		"<!-- two\n# not a heading\n```go\nnot a cell, no step needed\n```\nlines --> end\n" + // 15-20
		"After.\n" + // 21
		"    <!-- indented code, not a comment -->\n" + // 22
		"```go step=two\n```\n" // 23-24
	sc, err := Parse("f.md", []byte(src))
	require.NoError(t, err)
	require.Len(t, sc.Cells, 2)
	assert.Equal(t, "one", sc.Cells[0].Step)
	assert.Equal(t, 12, sc.Cells[0].Line)
	assert.Equal(t, "two", sc.Cells[1].Step)
	assert.Equal(t, 23, sc.Cells[1].FenceLine)
	assert.Equal(t, []record.Block{
		{Kind: record.BlockProse, Line: 1, Markdown: "# T\n\nIntro.\n"},
		{Kind: record.BlockCell, Line: 11, Step: "one"},
		{Kind: record.BlockProse, Line: 21, Markdown: "After.\n    <!-- indented code, not a comment -->\n"},
		{Kind: record.BlockCell, Line: 23, Step: "two"},
	}, sc.Blocks)
	for _, b := range sc.Blocks {
		for _, hidden := range []string{"note", "hidden", "one line", "rest of its line", "not a heading", "lines -->"} {
			assert.NotContains(t, b.Markdown, hidden)
		}
	}
}

func TestParseHTMLCommentNotClosed(t *testing.T) {
	_, err := Parse("f.md", []byte("```go step=a\n```\n<!-- a note\n\n```go step=b\n```\n"))
	require.Error(t, err)
	assert.Equal(t, "f.md:3: the HTML comment opened here (<!--) is not closed: it hides the Go cell on line 5 and the rest of the file; end it with -->", err.Error())

	// Hiding prose only, to the end of the file, is CommonMark's reading.
	sc, err := Parse("f.md", []byte("```go step=a\n```\n<!-- notes to the end\nmore\n"))
	require.NoError(t, err)
	assert.Len(t, sc.Blocks, 1)
}

func TestParseTitle(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{name: "FrontMatter", src: "---\ntitle: A\n---\n# B\n```go step=s\n```\n", want: "A"},
		{name: "Heading", src: "# B\n```go step=s\n```\n", want: "B"},
		{name: "FileName", src: "```go step=s\n```\n", want: "my-scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := Parse("dir/my-scenario.md", []byte(tt.src))
			require.NoError(t, err)
			assert.Equal(t, tt.want, sc.Title)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // each error, in order
	}{
		{name: "Empty", src: "", want: []string{"f.md: empty scenario: write a front matter (--- title: ... ---) and at least one cell (```go step=NAME)"}},
		{name: "Blank", src: "\n  \n\t\n", want: []string{"f.md: empty scenario"}},
		{name: "NoCells", src: "# Just prose\n", want: []string{"f.md: no cells: a scenario runs its fenced Go blocks written ```go step=NAME"}},
		{name: "FrontMatterNotClosed", src: "---\ntitle: x\n", want: []string{"f.md:1: front matter opened with --- is not closed"}},
		{name: "BadYAML", src: "---\ntitle: x\nparams: [a,\n---\n```go step=s\n```\n", want: []string{"f.md:3: front matter: did not find expected node content"}},
		// yaml.v3 names the line where the scalar began; the tab is on the
		// line below.
		{name: "TabContinuation", src: "---\ntitle: x\nparams:\n  a: 1\n\tb: 2\n---\n```go step=s\n```\n",
			want: []string{"f.md:5: front matter: found a tab character that violates indentation (a tab: indent YAML with spaces)"}},
		{name: "TabNested", src: "---\nparams:\n  a:\n    default: 1\n\ttype: number\n---\n```go step=s\n```\n",
			want: []string{"f.md:5: front matter: found a tab character that violates indentation (a tab: indent YAML with spaces)"}},
		{name: "TabBlockScalar", src: "---\ntitle: x\ndescription: |\n  a\n\tb\n---\n```go step=s\n```\n",
			want: []string{"f.md:5: front matter: found a tab character where an indentation space is expected (a tab: indent YAML with spaces)"}},
		{name: "TabFirstLine", src: "---\n\ttitle: x\n---\n```go step=s\n```\n",
			want: []string{"f.md:2: front matter: found character that cannot start any token (a tab: indent YAML with spaces)"}},
		{name: "TabTopLevel", src: "---\ntitle: x\n\tlang: fr\n---\n```go step=s\n```\n",
			want: []string{"f.md:3: front matter: found a tab character that violates indentation (a tab: indent YAML with spaces)"}},
		{name: "UnknownKey", src: "---\ntitle: x\nparam:\n  a: 1\n---\n```go step=s\n```\n",
			want: []string{`f.md:3: front matter: unknown key "param" (accepted: title, lang, description, params, expect)`}},
		{name: "TitleNotText", src: "---\ntitle: [a]\n---\n```go step=s\n```\n", want: []string{"f.md:2: front matter: title must be text"}},
		{name: "ParamWithoutDefault", src: "---\nparams:\n  a:\n---\n```go step=s\n```\n",
			want: []string{`f.md:3: parameter "a": no default: give one (name: value), or write {type: string, required: true}`}},
		{name: "ParamBadName", src: "---\nparams:\n  Min-F1: 1\n---\n```go step=s\n```\n",
			want: []string{`f.md:3: parameter "Min-F1": a name is lower-case letters, digits and _, starting with a letter`}},
		{name: "ParamBadType", src: "---\nparams:\n  a: {default: 1, type: float}\n---\n```go step=s\n```\n",
			want: []string{`f.md:3: parameter "a": type "float": want one of string, number, integer, bool, list, duration`}},
		{name: "ParamDefaultOfWrongType", src: "---\nparams:\n  a: {default: abc, type: number}\n---\n```go step=s\n```\n",
			want: []string{`f.md:3: parameter "a": default: "abc" is not a number`}},
		{name: "ParamRequiredWithDefault", src: "---\nparams:\n  a: {default: 1, required: true}\n---\n```go step=s\n```\n",
			want: []string{`f.md:3: parameter "a": has a default and required: true`}},
		{name: "ParamSameGoName", src: "---\nparams:\n  min_f1: 1\n  min_f_1: 2\n---\n```go step=s\n```\n",
			want: []string{`f.md:4: parameters "min_f1" and "min_f_1" both become params.MinF1: rename one`}},
		{name: "MissingStep", src: "```go\nx := 1\n```\n", want: []string{"f.md:1: Go cell without a step name: write ```go step=NAME to run it"}},
		{name: "BadStepName", src: "```go step=Load\n```\n", want: []string{`f.md:1: step name "Load": use lower-case letters`}},
		{name: "UnknownAttribute", src: "```go step=a time=1s\n```\n", want: []string{`f.md:1: unknown cell attribute "time" (accepted: step=NAME, timeout=DURATION)`}},
		{name: "NotKeyValue", src: "```go step=a fast\n```\n", want: []string{`f.md:1: cell attribute "fast": want key=value`}},
		{name: "BadTimeout", src: "```go step=a timeout=soon\n```\n", want: []string{"f.md:1: timeout=soon: want a positive duration such as 30s or 10m"}},
		{name: "NegativeTimeout", src: "```go step=a timeout=-1s\n```\n", want: []string{"f.md:1: timeout=-1s: want a positive duration"}},
		{name: "CellNotClosed", src: "```go step=a\nx := 1\n", want: []string{"f.md:1: the cell opened here is not closed: end it with a line ```"}},
		{name: "Duplicate", src: "```go step=a\n```\n\n```go step=a\n```\n", want: []string{`f.md:4: duplicate step "a": step names must be unique (first used on line 1)`}},
		{name: "AllAtOnce", src: "---\nparams:\n  a:\n---\n```go\n```\n```go step=b timeout=x\n```\n",
			want: []string{`f.md:3: parameter "a": no default`, "f.md:5: Go cell without a step name", "f.md:7: timeout=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.md", []byte(tt.src))
			require.Error(t, err)
			assert.True(t, IsScenarioError(err))
			got := strings.Split(err.Error(), "\n")
			require.Len(t, got, len(tt.want), "got:\n%s", err)
			for i := range tt.want {
				assert.True(t, strings.HasPrefix(got[i], tt.want[i]), "got %q\nwant %q...", got[i], tt.want[i])
			}
		})
	}
}

func TestParseLineEndings(t *testing.T) {
	tests := []struct {
		name string
		src  string
	}{
		{name: "LF", src: "---\ntitle: x\n---\n\n```go step=s\nx := 1\n```\n"},
		{name: "CRLF", src: "---\r\ntitle: x\r\n---\r\n\r\n```go step=s\r\nx := 1\r\n```\r\n"},
		{name: "BOM", src: "\uFEFF---\ntitle: x\n---\n\n```go step=s\nx := 1\n```\n"},
		{name: "BOMAndCRLF", src: "\uFEFF---\r\ntitle: x\r\n---\r\n\r\n```go step=s\r\nx := 1\r\n```\r\n"},
		{name: "NoFinalNewline", src: "---\ntitle: x\n---\n\n```go step=s\nx := 1\n```"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, err := Parse("f.md", []byte(tt.src))
			require.NoError(t, err)
			assert.Equal(t, "x", sc.Title)
			require.Len(t, sc.Cells, 1)
			assert.Equal(t, "x := 1", sc.Cells[0].Code)
			assert.Equal(t, 6, sc.Cells[0].Line)
		})
	}
}

func TestParamTypes(t *testing.T) {
	src := "---\nparams:\n  s: text\n  q: \"30s\"\n  n: 0.55\n  i: 5\n  b: false\n  d: 1h30m\n  l: [a, b]\n" +
		"  f: {default: 1, type: number}\n  ld: {default: 'x, y', type: list}\n  r: {type: integer, required: true, description: needed}\n---\n```go step=s\n```\n"
	sc, err := Parse("f.md", []byte(src))
	require.NoError(t, err)
	got := map[string]ParamSpec{}
	for _, p := range sc.Params {
		got[p.Name] = p
	}
	tests := []struct {
		name, typ string
		def       any
	}{
		{"s", record.TypeString, "text"},
		{"q", record.TypeString, "30s"}, // quoted: a string
		{"n", record.TypeNumber, 0.55},
		{"i", record.TypeInteger, 5},
		{"b", record.TypeBool, false},
		{"d", record.TypeDuration, 90 * time.Minute},
		{"l", record.TypeList, []string{"a", "b"}},
		{"f", record.TypeNumber, 1.0},
		{"ld", record.TypeList, []string{"x", "y"}},
		{"r", record.TypeInteger, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := got[tt.name]
			require.True(t, ok)
			assert.Equal(t, tt.typ, p.Type)
			assert.Equal(t, tt.def, p.Default)
		})
	}
	assert.True(t, got["r"].Required)
	assert.Equal(t, "needed", got["r"].Description)
	assert.Equal(t, 12, got["r"].Line)
}

func TestResolveParams(t *testing.T) {
	src := "---\nparams:\n  experiment: churn-training\n  min_f1: 0.55\n  folds: 5\n  strict: false\n  wait: 30s\n  tags: [a]\n---\n```go step=s\n```\n"
	sc, err := Parse("f.md", []byte(src))
	require.NoError(t, err)
	const acceptedList = "(accepted parameters: experiment (string), min_f1 (number), folds (integer), strict (bool), wait (duration), tags (list))"
	tests := []struct {
		name      string
		overrides []string
		want      map[string]any // values by name, for the OK cases
		err       string
	}{
		{name: "Defaults", want: map[string]any{"experiment": "churn-training", "min_f1": 0.55, "folds": 5, "strict": false, "wait": 30 * time.Second, "tags": []string{"a"}}},
		{name: "Overrides", overrides: []string{"min_f1=0.6", "folds=3", "strict=true", "wait=2m", "tags=x, y", "experiment=e=1"},
			want: map[string]any{"experiment": "e=1", "min_f1": 0.6, "folds": 3, "strict": true, "wait": 2 * time.Minute, "tags": []string{"x", "y"}}},
		{name: "LastWins", overrides: []string{"folds=3", "folds=4"}, want: map[string]any{"folds": 4}},
		{name: "Unknown", overrides: []string{"nope=1"}, err: `-p nope=1: unknown parameter "nope" ` + acceptedList},
		{name: "NotANumber", overrides: []string{"min_f1=abc"}, err: `-p min_f1=abc: parameter "min_f1" is a number; "abc" is not a number ` + acceptedList},
		{name: "NotAnInteger", overrides: []string{"folds=2.5"}, err: `-p folds=2.5: parameter "folds" is an integer; "2.5" is not an integer ` + acceptedList},
		{name: "NotABool", overrides: []string{"strict=maybe"}, err: `-p strict=maybe: parameter "strict" is a bool; "maybe" is not true or false`},
		{name: "NotADuration", overrides: []string{"wait=soon"}, err: `-p wait=soon: parameter "wait" is a duration; "soon" is not a duration such as 30s or 5m`},
		{name: "NoEquals", overrides: []string{"folds"}, err: "-p folds: want name=value " + acceptedList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveParams(sc.Params, tt.overrides)
			if tt.err != "" {
				var pe *ParamError
				require.ErrorAs(t, err, &pe)
				assert.True(t, strings.HasPrefix(err.Error(), tt.err), "got %q\nwant %q...", err, tt.err)
				assert.True(t, IsScenarioError(err))
				return
			}
			require.NoError(t, err)
			for _, p := range got {
				if w, ok := tt.want[p.Name]; ok {
					assert.Equal(t, w, p.Value, p.Name)
				}
			}
		})
	}
}

func TestRequiredParam(t *testing.T) {
	specs := []ParamSpec{{Name: "owner", GoName: "Owner", Type: record.TypeString, Required: true}}
	_, err := ResolveParams(specs, nil)
	require.Error(t, err)
	assert.Equal(t, `parameter "owner" (string) is required: pass -p owner=VALUE (accepted parameters: owner (string))`, err.Error())
	got, err := ResolveParams(specs, []string{"owner=me"})
	require.NoError(t, err)
	assert.Equal(t, record.Param{Name: "owner", GoName: "Owner", Type: record.TypeString, Value: "me", Source: record.SourceFlag}, got[0])
}

func TestSplitOverrides(t *testing.T) {
	a := &Scenario{Path: "a.md", Params: []ParamSpec{{Name: "x", Type: record.TypeString}}}
	b := &Scenario{Path: "b.md", Params: []ParamSpec{{Name: "x", Type: record.TypeString}, {Name: "y", Type: record.TypeInteger}}}
	got, err := SplitOverrides([]*Scenario{a, b}, []string{"x=1", "y=2"})
	require.NoError(t, err)
	assert.Equal(t, [][]string{{"x=1"}, {"x=1", "y=2"}}, got)
	_, err = SplitOverrides([]*Scenario{a, b}, []string{"z=1"})
	require.Error(t, err)
	assert.Equal(t, `-p z=1: no scenario declares parameter "z" (accepted parameters: x (string), y (integer))`, err.Error())
	got, err = SplitOverrides([]*Scenario{a}, []string{"z=1"})
	require.NoError(t, err, "one scenario: ResolveParams reports it")
	assert.Equal(t, [][]string{{"z=1"}}, got)
}

func TestGoName(t *testing.T) {
	for in, want := range map[string]string{"min_f1": "MinF1", "experiment": "Experiment", "model_name": "ModelName", "a_b_c": "ABC", "x": "X"} {
		assert.Equal(t, want, goName(in), in)
	}
}

func TestParamsSource(t *testing.T) {
	src := paramsSource([]record.Param{
		{GoName: "S", Type: record.TypeString, Value: "a\"b"},
		{GoName: "N", Type: record.TypeNumber, Value: 1.0},
		{GoName: "D", Type: record.TypeDuration, Value: time.Second},
		{GoName: "L", Type: record.TypeList, Value: []string{"x"}},
	})
	assert.Equal(t, "var params = struct {\n\tS string\n\tN float64\n\tD time.Duration\n\tL []string\n}{\n"+
		"\tS: \"a\\\"b\",\n\tN: 1,\n\tD: time.Duration(1000000000),\n\tL: []string{\"x\"},\n}", src)
}
