package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/record"
)

// expectation is what a testdata scenario says it does, in its front
// matter's expect: key.
type expectation struct {
	// Outcome is the run's Exit.Status: ok, failed, refused or error.
	Outcome string `yaml:"outcome"`
	// Error is the beginning of the error the run returns.
	Error string `yaml:"error"`
	// ParseError is the beginning of the error parsing returns.
	ParseError string `yaml:"parse_error"`
	// Check lists the beginnings of the errors check reports, in order.
	// When absent, check reports Error alone (or nothing for a scenario
	// that compiles).
	Check []string `yaml:"check"`
	// Params are -p overrides for the run.
	Params []string `yaml:"params"`
}

// unstated holds the expectations of fixtures that cannot state their own.
var unstated = map[string]expectation{
	"empty.md": {ParseError: "testdata/empty.md: empty scenario: write a front matter"},
}

func readExpectation(t *testing.T, path string) expectation {
	t.Helper()
	if e, ok := unstated[filepath.Base(path)]; ok {
		return e
	}
	src, err := os.ReadFile(path)
	require.NoError(t, err)
	text := strings.ReplaceAll(string(bytes.TrimPrefix(src, []byte("\uFEFF"))), "\r\n", "\n")
	parts := strings.SplitN(text, "---\n", 3)
	require.Len(t, parts, 3, "%s: no front matter: state the expected outcome under expect:", path)
	var fm struct {
		Expect expectation `yaml:"expect"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(parts[1]), &fm))
	e := fm.Expect
	require.True(t, e.Outcome != "" || e.ParseError != "", "%s: state the expected outcome under expect:", path)
	return e
}

// TestScenarios runs every scenario under testdata and checks the outcome
// it states: the run's status and error, and what check reports.
func TestScenarios(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.md")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".md"), func(t *testing.T) {
			exp := readExpectation(t, path)
			sc, err := ParseFile(path)
			if exp.ParseError != "" {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), exp.ParseError), "got %q\nwant %q...", err, exp.ParseError)
				assert.True(t, IsScenarioError(err), "a parse error is a scenario error")
				return
			}
			require.NoError(t, err)

			rec, err := Run(t.Context(), sc, Options{Params: exp.Params, OutDir: t.TempDir()})
			require.NotNil(t, rec)
			assert.Equal(t, exp.Outcome, rec.Environment.Exit.Status)
			if exp.Error == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), exp.Error), "got %q\nwant %q...", err, exp.Error)
				var e *Error
				require.ErrorAs(t, err, &e)
				require.NotNil(t, rec.Error)
				assert.Equal(t, e.Record(), rec.Error)
			}
			assertCells(t, rec)

			cerr := Check(sc, Options{Params: exp.Params})
			want := exp.Check
			if want == nil && exp.Outcome == record.OutcomeError {
				want = []string{exp.Error}
			}
			if len(want) == 0 {
				assert.NoError(t, cerr, "check")
				return
			}
			var list Errors
			require.ErrorAs(t, cerr, &list)
			got := make([]string, len(list))
			for i, e := range list {
				got[i] = e.Error()
			}
			require.Len(t, got, len(want), "check reported:\n%s", strings.Join(got, "\n"))
			for i := range want {
				assert.True(t, strings.HasPrefix(got[i], want[i]), "check error %d: got %q\nwant %q...", i, got[i], want[i])
			}
		})
	}
}

// assertCells checks what holds for every run: cells up to the first
// failure ran, the ones after did not, and a timed-out cell stopped within
// its timeout plus one second.
func assertCells(t *testing.T, rec *record.Run) {
	t.Helper()
	failed := false
	for _, c := range rec.Cells {
		switch {
		case failed:
			assert.Equal(t, record.StatusNotRun, c.Status, c.Step)
			assert.True(t, c.Start.IsZero(), c.Step)
		case c.Status == record.StatusFailed:
			failed = true
			require.NotNil(t, c.Error, c.Step)
			if c.Error.Kind == record.ErrTimeout {
				assert.Less(t, time.Duration(c.Duration), time.Duration(c.Timeout)+time.Second, "a timed-out cell stops within its timeout + 1s")
			}
		default:
			assert.Equal(t, record.StatusOK, c.Status, c.Step)
			assert.False(t, c.Start.IsZero(), c.Step)
		}
	}
	assert.Equal(t, failed, rec.Error != nil)
}

// run parses src as testdata/inline.md and runs it.
func run(t *testing.T, src string, opts Options) (*record.Run, error) {
	t.Helper()
	sc, err := Parse("testdata/inline.md", []byte(src))
	require.NoError(t, err)
	return Run(t.Context(), sc, opts)
}

// outputs returns the outputs of the cell named step.
func outputs(t *testing.T, rec *record.Run, step string) []record.Output {
	t.Helper()
	c := rec.Cell(step)
	require.NotNil(t, c, "no cell %s", step)
	return c.Outputs
}

func TestSharedState(t *testing.T) {
	sc, err := ParseFile("testdata/shared.md")
	require.NoError(t, err)
	rec, err := Run(t.Context(), sc, Options{})
	require.NoError(t, err)

	assert.Equal(t, []record.Output{{Kind: record.OutputStdout, Text: "3 candidates\n"}}, outputs(t, rec, "define"))
	assert.Equal(t, []record.Output{{Kind: record.OutputValue, Type: "string", Text: `"a"`}}, outputs(t, rec, "use"),
		"the final expression is shown")
	assert.Equal(t, []record.Output{{Kind: record.OutputStdout, Text: "note: a\n"}}, outputs(t, rec, "void"),
		"a call that returns nothing shows no value")
	assert.Equal(t, []record.Output{{Kind: record.OutputValue, Type: "int", Text: "3"}}, outputs(t, rec, "later"))

	c := rec.Cell("use")
	assert.Equal(t, "testdata/shared.md", c.File)
	assert.Equal(t, 34, c.Line, "a cell's line is its first code line")
	assert.Equal(t, "State shared across cells", rec.Scenario.Title)
	kinds := []string{}
	for _, b := range rec.Scenario.Blocks {
		kinds = append(kinds, b.Kind+":"+b.Step)
	}
	assert.Equal(t, []string{"prose:", "cell:define", "prose:", "cell:use", "prose:", "cell:void", "cell:later"}, kinds)
}

func TestDisplay(t *testing.T) {
	sc, err := ParseFile("testdata/display.md")
	require.NoError(t, err)
	rec, err := Run(t.Context(), sc, Options{})
	require.NoError(t, err)

	tables := outputs(t, rec, "table")
	require.Len(t, tables, 2)
	assert.Equal(t, &record.Table{Columns: []string{"ID", "F1"}, Rows: [][]string{{"r1", "0.612346"}, {"r2", "0.5"}}}, tables[0].Table)
	assert.Equal(t, &record.Table{Columns: []string{"metric", "value"}, Rows: [][]string{{"f1", "0.61"}, {"auc", "0.8"}}}, tables[1].Table)

	kv := outputs(t, rec, "kv")
	require.Len(t, kv, 3)
	assert.Equal(t, record.Output{Kind: record.OutputKV, Title: "Model", KV: []record.KV{{Key: "name", Value: "ChurnPredictor"}, {Key: "version", Value: "3"}}}, kv[0])
	assert.Equal(t, []record.KV{{Key: "ID", Value: "r1"}, {Key: "F1", Value: "0.612346"}}, kv[1].KV)
	assert.Equal(t, record.Output{Kind: record.OutputMarkdown, Text: "**validated**"}, kv[2])

	plot := outputs(t, rec, "plot")
	require.Len(t, plot, 1)
	assert.Equal(t, record.OutputPlot, plot[0].Kind)
	assert.Equal(t, "F1", plot[0].Title)
	assert.True(t, strings.HasPrefix(plot[0].SVG, "<svg"), "inline SVG, no XML prolog")
	assert.Contains(t, plot[0].SVG, "F1 by run")
	assert.Less(t, len(plot[0].SVG), 64<<10, "plots stay small")

	snap := outputs(t, rec, "snapshot")
	require.Len(t, snap, 1)
	require.NotNil(t, snap[0].Snapshot)
	assert.Equal(t, "1", snap[0].Snapshot.Aliases["production-live"])
	assert.Equal(t, "before", snap[0].Title)
	assert.Empty(t, rec.Evidence.Snapshots, "a cell shows a snapshot; only the steps keep one in the evidence")

	value := outputs(t, rec, "value")
	require.Len(t, value, 1)
	assert.Equal(t, "{ID:r2 F1:0.5}", value[0].Text)
	assert.Equal(t, []record.KV{{Key: "ID", Value: "r2"}, {Key: "F1", Value: "0.5"}}, value[0].KV, "a struct value is shown as a key-value block")
}

func TestFinalExpression(t *testing.T) {
	tests := []struct {
		name string
		code string
		want []record.Output
		err  string // beginning of the error, "" for none
	}{
		{name: "Arithmetic", code: "1 + 1", want: []record.Output{{Kind: record.OutputValue, Type: "int", Text: "2"}}},
		{name: "String", code: `strings.ToUpper("go")`, want: []record.Output{{Kind: record.OutputValue, Type: "string", Text: `"GO"`}}},
		{name: "Println", code: `fmt.Println("hi")`, want: []record.Output{{Kind: record.OutputStdout, Text: "hi\n"}}},
		{name: "VoidMethod", code: `pb.Markdown("x")`, want: []record.Output{{Kind: record.OutputMarkdown, Text: "x"}}},
		{name: "NilError", code: "var err error\nerr", want: []record.Output{}},
		{name: "TwoValues", code: `strconv.Atoi("12")`, want: []record.Output{}},
		{name: "Slice", code: "[]int{4, 5}", want: []record.Output{{Kind: record.OutputValue, Type: "[]int", Text: "[4 5]",
			Table: &record.Table{Columns: []string{"value"}, Rows: [][]string{{"4"}, {"5"}}}}}},
		{name: "Map", code: `map[string]int{"b": 2, "a": 1}`, want: []record.Output{{Kind: record.OutputValue, Type: "map[string]int", Text: "map[a:1 b:2]",
			KV: []record.KV{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}}}},
		{name: "Duration", code: "2 * time.Second", want: []record.Output{{Kind: record.OutputValue, Type: "time.Duration", Text: "2s"}}},
		{name: "ErrorFails", code: `errors.New("boom")`, err: "testdata/inline.md:2: step s: boom"},
		{name: "LastErrorFails", code: `strconv.Atoi("x")`, err: `testdata/inline.md:2: step s: strconv.Atoi: parsing "x": invalid syntax`},
		{name: "CommentOnly", code: "// nothing to do", want: []record.Output{}},
		{name: "AfterStatements", code: "x := 2\nx * 21", want: []record.Output{{Kind: record.OutputValue, Type: "int", Text: "42"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := run(t, "```go step=s\n"+tt.code+"\n```\n", Options{})
			if tt.err != "" {
				require.Error(t, err)
				assert.True(t, strings.HasPrefix(err.Error(), tt.err), "got %q", err)
				assert.Equal(t, record.ErrStep, rec.Cells[0].Error.Kind)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, rec.Cells[0].Outputs)
		})
	}
}

func TestRuntimeErrorLines(t *testing.T) {
	tests := []struct {
		name string
		code string // starts on line 2 of testdata/inline.md
		kind string
		err  string
	}{
		{name: "InLoop", code: "for i := 0; i < 3; i++ {\n\tif i == 2 {\n\t\tpanic(\"two\")\n\t}\n}",
			kind: record.ErrPanic, err: "testdata/inline.md:4: step s: panic: two"},
		{name: "InFunctionNamesTheCall", code: "func f(m map[string]int) { m[\"a\"] = 1 }\nfmt.Println(1)\nf(nil)",
			kind: record.ErrPanic, err: "testdata/inline.md:4: step s: panic: assignment to entry in nil map"},
		{name: "ErrorValueIsStepFailure", code: "x := 1\npanic(fmt.Errorf(\"step failed: %d\", x))",
			kind: record.ErrStep, err: "testdata/inline.md:3: step s: step failed: 1"},
		{name: "NilPointer", code: "var p *struct{ A int }\n_ = 1\nfmt.Println(p.A)",
			kind: record.ErrPanic, err: "testdata/inline.md:4: step s: panic: "},
		{name: "Gate", code: "panic(steps.Refuse(\"promote\", \"no candidate\"))",
			kind: record.ErrGate, err: "testdata/inline.md:2: step s: promote refused: no candidate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := run(t, "```go step=s\n"+tt.code+"\n```\n", Options{})
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.err), "got %q\nwant %q...", err, tt.err)
			assert.Equal(t, tt.kind, rec.Cells[0].Error.Kind)
			for _, o := range rec.Cells[0].Outputs {
				assert.NotContains(t, o.Text, ": panic", "yaegi's panic trace is not shown as output")
			}
		})
	}
}

// TestGateInFrench: in a French scenario, a step's refusal is recorded
// and said in French (steps.GateError.Localize), still a refusal.
func TestGateInFrench(t *testing.T) {
	sc, err := Parse("testdata/inline.md", []byte("---\nlang: fr\n---\n\n```go step=s\npanic(steps.Refuse(\"validate\", \"%s version %s failed %d check(s): %s (tagged %s=%s)\", \"M\", \"2\", 1, \"f1 0.59 < 0.99\", \"validation_status\", \"failed\"))\n```\n"))
	require.NoError(t, err)
	rec, err := Run(t.Context(), sc, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "step s: refus de validate : M version 2 a échoué à 1 contrôle(s) : f1 0.59 < 0.99 (taguée validation_status=failed)")
	assert.Equal(t, record.ErrGate, rec.Cells[0].Error.Kind)
	assert.Contains(t, rec.Cells[0].Error.Message, "a échoué à 1 contrôle(s)")
	var g GateRefused
	require.ErrorAs(t, err, &g)
}

// TestStepErrorInFrench: a step's error (not a refusal) is said in
// French in a French scenario, and stays a step's error.
func TestStepErrorInFrench(t *testing.T) {
	for lang, want := range map[string]string{
		"fr": "step s: promote : aucune candidate : passez le résultat de steps.Alias",
		"en": "step s: promote: no candidate: pass the result of steps.Alias",
	} {
		sc, err := Parse("testdata/inline.md", []byte("---\nlang: "+lang+"\n---\n\n```go step=s\nsteps.Promote(nil, nil, steps.PromoteOptions{})\n```\n"))
		require.NoError(t, err)
		rec, err := Run(t.Context(), sc, Options{})
		require.Error(t, err, lang)
		assert.Contains(t, err.Error(), want, lang)
		assert.Equal(t, record.ErrStep, rec.Cells[0].Error.Kind, lang)
	}
}

func TestGateUnwraps(t *testing.T) {
	sc, err := ParseFile("testdata/gate.md")
	require.NoError(t, err)
	_, err = Run(t.Context(), sc, Options{})
	var g GateRefused
	require.ErrorAs(t, err, &g)
	assert.True(t, g.GateRefused())
	assert.False(t, IsScenarioError(err))
}

func TestTimeoutUnwraps(t *testing.T) {
	sc, err := ParseFile("testdata/timeout.md")
	require.NoError(t, err)
	start := time.Now()
	_, err = Run(t.Context(), sc, Options{})
	assert.Less(t, time.Since(start), 2*time.Second, "an infinite loop stops within its timeout + 1s")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	assert.Equal(t, time.Second, te.Timeout)
}

func TestInterrupted(t *testing.T) {
	sc, err := Parse("testdata/inline.md", []byte("```go step=spin\nfor {}\n```\n\n```go step=after\nfmt.Println(1)\n```\n"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	rec, err := Run(ctx, sc, Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "testdata/inline.md:2: step spin: interrupted")
	assert.Equal(t, record.ErrCancelled, rec.Cells[0].Error.Kind)
	assert.Equal(t, record.StatusNotRun, rec.Cells[1].Status)
}

func TestWriteFileRecorded(t *testing.T) {
	dir := t.TempDir()
	rec, err := run(t, "```go step=w\npb.WriteFile(\"a/b.txt\", []byte(\"hi\"))\n```\n", Options{OutDir: dir})
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "a", "b.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hi", string(b))
	require.Len(t, rec.Evidence.Files, 1)
	assert.Equal(t, record.File{Step: "w", Name: "a/b.txt", Size: 2,
		SHA256: "8f434346648f6b96df89dda901c5176b10a6d83961dd3c1ac88b59b2dc327aa4"}, rec.Evidence.Files[0])
}

func TestNoTrackingServer(t *testing.T) {
	_, err := run(t, "```go step=c\n_, err := pb.Client()\nerr\n```\n", Options{})
	require.Error(t, err)
	assert.Equal(t, "testdata/inline.md:3: step c: no tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI", err.Error())
}

func TestRecordEnvironment(t *testing.T) {
	rec, err := run(t, "```go step=c\nfmt.Println(1)\n```\n", Options{Version: "v1.2.3", TrackingURI: "http://user:secret@mlflow:5000", DryRun: true})
	require.NoError(t, err)
	env := rec.Environment
	assert.Equal(t, "v1.2.3", env.PlaybookVersion)
	assert.NotContains(t, env.TrackingURI, "secret")
	assert.True(t, env.DryRun)
	assert.False(t, env.End.Before(env.Start))
	assert.Equal(t, record.OutcomeOK, env.Exit.Status)
	assert.Equal(t, record.Schema, rec.Schema)
	assert.Len(t, rec.Scenario.SHA256, 64)
}

func TestTimeoutCompiledCall(t *testing.T) {
	start := time.Now()
	rec, err := run(t, "```go step=sleep timeout=500ms\nfmt.Println(\"start\")\ntime.Sleep(time.Hour)\n```\n", Options{})
	assert.Less(t, time.Since(start), 1500*time.Millisecond, "the run does not wait for a blocked compiled call")
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "testdata/inline.md:3: step sleep: timed out after 500ms"), err.Error())
	assert.Equal(t, record.ErrTimeout, rec.Cells[0].Error.Kind)
	assert.Equal(t, []record.Output{{Kind: record.OutputStdout, Text: "start\n"}}, rec.Cells[0].Outputs)
}

func TestTimeoutStopsInterpretedCode(t *testing.T) {
	tests := []struct {
		name string
		code string // starts on line 2
		line int    // the line the error names
	}{
		{name: "EmptyLoop", code: "for {}", line: 2},
		{name: "InFunction", code: "func spin() {\n\tfor {\n\t}\n}\nfmt.Println(\"go\")\nspin()", line: 7},
		{name: "InFuncLiteral", code: "n := 0\nfunc() {\n\tfor {\n\t\tn++\n\t}\n}()", line: 3},
		{name: "Nested", code: "for i := 0; ; i++ {\n\tif i >= 0 {\n\t\tfor {\n\t\t}\n\t}\n}", line: 4},
		{name: "Recursion", code: "var f func(int) int\nf = func(n int) int { return f(n+1) - 1 }\n_ = 1\nf(0)", line: 5},
		{name: "Goroutine", code: "done := make(chan bool)\ngo func() {\n\tfor {\n\t}\n}()\n<-done", line: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			rec, err := run(t, "```go step=s timeout=300ms\n"+tt.code+"\n```\n", Options{})
			assert.Less(t, time.Since(start), 1300*time.Millisecond, "stopped within its timeout + 1s")
			require.Error(t, err)
			want := fmt.Sprintf("testdata/inline.md:%d: step s: timed out after 300ms", tt.line)
			assert.True(t, strings.HasPrefix(err.Error(), want), "got %q\nwant %q...", err, want)
			assert.Equal(t, record.ErrTimeout, rec.Cells[0].Error.Kind)
		})
	}
}

// TestScenarioDir: the run's scenario folder (pb.ScenarioDir, where steps
// read data files from) is the folder of the scenario's file, absolute,
// whatever the working directory.
func TestScenarioDir(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "s.md")
	require.NoError(t, os.WriteFile(p, []byte("```go step=s\nfmt.Print(pb.ScenarioDir())\n```\n"), 0o644))
	t.Chdir(dir)
	sc, err := ParseFile("s.md")
	require.NoError(t, err)
	rec, err := Run(t.Context(), sc, Options{})
	require.NoError(t, err)
	out := outputs(t, rec, "s")
	require.NotEmpty(t, out)
	assert.Equal(t, dir, out[0].Text)
}
