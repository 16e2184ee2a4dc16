package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/runner"
)

func readRecord(t testing.TB, dir string) *record.Run {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, record.EvidenceFile))
	require.NoError(t, err)
	r, err := record.Read(bytes.NewReader(b))
	require.NoError(t, err)
	return r
}

func TestRunExitCodes(t *testing.T) {
	t.Setenv("MLFLOW_TRACKING_URI", "")
	tests := []struct {
		name    string
		args    []string
		code    int
		outcome string // the record's Exit.Status; "" when no record is written
		stderr  string // a line of stderr
	}{
		{name: "OK", args: []string{testdata + "shared.md"}, code: ExitOK, outcome: record.OutcomeOK},
		{name: "StepFailed", args: []string{testdata + "panic.md"}, code: ExitStepFailed, outcome: record.OutcomeFailed,
			stderr: "playbook run: " + testdata + "panic.md:17: step explode: panic: runtime error: index out of range"},
		{name: "Timeout", args: []string{testdata + "timeout.md"}, code: ExitStepFailed, outcome: record.OutcomeFailed,
			stderr: "playbook run: " + testdata + "timeout.md:11: step spin: timed out after 1s"},
		{name: "GateRefused", args: []string{testdata + "gate.md"}, code: ExitGateRefused, outcome: record.OutcomeRefused,
			stderr: "playbook run: " + testdata + "gate.md:13: step validate: validate refused: f1 0.42 is below 0.55"},
		{name: "GateFlagPasses", args: []string{testdata + "gate.md", "-p", "min_f1=0.4"}, code: ExitOK, outcome: record.OutcomeOK},
		{name: "SyntaxError", args: []string{testdata + "syntax.md"}, code: ExitUsage, // refused before any cell runs: no record
			stderr: "playbook run: " + testdata + "syntax.md:16: step broken: syntax error"},
		{name: "ImportRefused", args: []string{testdata + "exec.md"}, code: ExitUsage},
		{name: "UnknownParam", args: []string{"-p", "nope=1", testdata + "gate.md"}, code: ExitUsage,
			stderr: "playbook run: " + testdata + `gate.md: -p nope=1: unknown parameter "nope" (accepted parameters: min_f1 (number))`},
		{name: "WrongType", args: []string{"-p", "min_f1=abc", testdata + "gate.md"}, code: ExitUsage,
			stderr: "playbook run: " + testdata + `gate.md: -p min_f1=abc: parameter "min_f1" is a number; "abc" is not a number (accepted parameters: min_f1 (number))`},
		{name: "Duplicate", args: []string{testdata + "duplicate.md"}, code: ExitUsage,
			stderr: "playbook run: " + testdata + `duplicate.md:11: duplicate step "load"`},
		{name: "Empty", args: []string{testdata + "empty.md"}, code: ExitUsage,
			stderr: "playbook run: " + testdata + "empty.md: empty scenario"},
		{name: "NoScenario", code: ExitUsage, stderr: "usage: playbook run [flags] SCENARIO..."},
		{name: "BadFlag", args: []string{"-p", "x", testdata + "gate.md"}, code: ExitUsage},
		{name: "BadEnvManager", args: []string{"--env-manager", "pipenv", testdata + "gate.md"}, code: ExitUsage,
			stderr: `playbook run: --env-manager: env manager "pipenv": want local, virtualenv or uv`},
		{name: "BadPort", args: []string{"--tracking-uri", "http://127.0.0.1:99999", testdata + "gate.md"}, code: ExitUsage,
			stderr: `playbook run: mlflow: --tracking-uri http://127.0.0.1:99999: port "99999" is not a port (1 to 65535)`},
		{name: "PortZero", args: []string{"--tracking-uri", "http://127.0.0.1:0", testdata + "gate.md"}, code: ExitUsage,
			stderr: `playbook run: mlflow: --tracking-uri http://127.0.0.1:0: port "0" is not a port (1 to 65535)`},
		{name: "PortText", args: []string{"--tracking-uri", "http://localhost:http/", testdata + "gate.md"}, code: ExitUsage,
			stderr: `playbook run: mlflow: --tracking-uri http://localhost:http/ is not a URL`},
		{name: "BadKernel", args: []string{"--kernel", "docker", testdata + "gate.md"}, code: ExitUsage,
			stderr: `playbook run: --kernel "docker": want in-process or process`},
		{name: "CondaEnvManager", args: []string{"--env-manager", "conda", testdata + "gate.md"}, code: ExitUsage,
			stderr: `playbook run: --env-manager: env manager "conda": playbook builds model environments with virtualenv or uv (conda is not supported)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			code, _, stderr := runCLI(t, append([]string{"run", "--out", out}, tt.args...)...)
			assert.Equal(t, tt.code, code, stderr)
			if tt.stderr != "" {
				assert.True(t, hasLinePrefix(stderr, tt.stderr), "no line starting %q in:\n%s", tt.stderr, stderr)
			}
			if tt.outcome == "" {
				assert.NoFileExists(t, filepath.Join(out, record.EvidenceFile))
				return
			}
			r := readRecord(t, out)
			assert.Equal(t, tt.outcome, r.Environment.Exit.Status)
			assert.Equal(t, tt.code, r.Environment.Exit.Code, "the record holds the exit code")
		})
	}
}

func TestRunOutput(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", testdata+"shared.md", "--out", out)
	require.Equal(t, ExitOK, code, stderr)
	assert.True(t, strings.HasPrefix(stdout, testdata+"shared.md: ok, 4 of 4 cells run in "), stdout)
	assert.Contains(t, stdout, testdata+"shared.md: run record in "+filepath.Join(out, record.EvidenceFile))
	// What the cells print comes first, indented (stream.go), then one
	// progress line per step when stderr is not a terminal.
	var lines, printed []string
	for l := range strings.SplitSeq(strings.TrimRight(stderr, "\n"), "\n") {
		if p, ok := strings.CutPrefix(l, "  | "); ok {
			printed = append(printed, p)
			continue
		}
		lines = append(lines, l)
	}
	assert.Equal(t, []string{"3 candidates", "note: a"}, printed, stderr)
	require.Len(t, lines, 4, "one progress line per step when stderr is not a terminal:\n%s", stderr)
	for i, step := range []string{"define", "use", "void", "later"} {
		assert.Regexp(t, `^\[`+string(rune('1'+i))+`/4\] `+step+` ok \d`, lines[i])
	}
	r := readRecord(t, out)
	assert.Equal(t, Version(), r.Environment.PlaybookVersion)
	assert.Len(t, r.Cells, 4)
}

func TestRunQuiet(t *testing.T) {
	code, _, stderr := runCLI(t, "run", "--quiet", testdata+"shared.md")
	assert.Equal(t, ExitOK, code)
	assert.Empty(t, stderr)
}

func TestRunSeveral(t *testing.T) {
	out := t.TempDir()
	dir := t.TempDir()
	first := filepath.Join(dir, "gate.md")
	b, err := os.ReadFile(testdata + "gate.md")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(first, b, 0o644))
	code, stdout, stderr := runCLI(t, "run", "--out", out, "-p", "min_f1=0.1", first, testdata+"shared.md", testdata+"panic.md", testdata+"gate.md")
	assert.Equal(t, ExitStepFailed, code, stderr)
	assert.FileExists(t, filepath.Join(out, "gate", record.EvidenceFile))
	assert.FileExists(t, filepath.Join(out, "shared", record.EvidenceFile))
	assert.FileExists(t, filepath.Join(out, "panic", record.EvidenceFile))
	assert.NoDirExists(t, filepath.Join(out, "gate-2"), "scenarios after a failure do not run")
	assert.Contains(t, stdout, testdata+"gate.md: not run\n")
	assert.Equal(t, record.OutcomeOK, readRecord(t, filepath.Join(out, "gate")).Environment.Exit.Status, "-p reaches every scenario that declares it")

	code, _, stderr = runCLI(t, "run", "-p", "nope=1", testdata+"shared.md", testdata+"gate.md")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, `-p nope=1: no scenario declares parameter "nope" (accepted parameters: min_f1 (number))`)
}

func TestRunParseAllFirst(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := runCLI(t, "run", "--out", out, testdata+"shared.md", testdata+"nostep.md")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "nostep.md:9: Go cell without a step name")
	assert.NoDirExists(t, filepath.Join(out, "shared"), "nothing runs when a scenario does not parse")
}

func TestOutDirs(t *testing.T) {
	assert.Equal(t, []string{""}, outDirs("", []string{"a.md"}))
	assert.Equal(t, []string{"o"}, outDirs("o", []string{"x/a.md"}))
	assert.Equal(t, []string{filepath.Join("o", "a"), filepath.Join("o", "b"), filepath.Join("o", "a-2")}, outDirs("o", []string{"x/a.md", "b.md", "y/a.md"}))
}

func TestProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, true)
	p.event(runnerEvent(1, 2, "identify", "running"))
	p.event(runnerEvent(1, 2, "identify", "ok"))
	p.stop()
	assert.True(t, strings.HasPrefix(buf.String(), "\r\033[K[1/2] identify 0s"), "%q", buf.String())
	assert.Contains(t, buf.String(), "\r\033[K[1/2] identify ok 0s\n")
}

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		params []string
		pos    []string
	}{
		{name: "FlagsFirst", args: []string{"-p", "a=1", "x.md"}, params: []string{"a=1"}, pos: []string{"x.md"}},
		{name: "FlagsAfter", args: []string{"x.md", "-p", "a=1", "y.md", "-p", "b=2"}, params: []string{"a=1", "b=2"}, pos: []string{"x.md", "y.md"}},
		{name: "DoubleDash", args: []string{"-p", "a=1", "--", "-p.md"}, params: []string{"a=1"}, pos: []string{"-p.md"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p paramFlags
			fs := newTestFlagSet(&p)
			pos, err := parseInterleaved(fs, tt.args)
			require.NoError(t, err)
			assert.Equal(t, tt.pos, pos)
			assert.Equal(t, tt.params, []string(p))
		})
	}
}

func newTestFlagSet(p *paramFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Var(p, "p", "")
	return fs
}

func runnerEvent(i, n int, step, status string) runner.Event {
	return runner.Event{Index: i, Total: n, Step: step, Status: status}
}

func hasLinePrefix(text, prefix string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
