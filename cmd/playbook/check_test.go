package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testdata = "../../runner/testdata/"

// TestCheckThreeErrors: check reports the three broken cells of a scenario
// in one pass, each with its line, and exits 2.
func TestCheckThreeErrors(t *testing.T) {
	code, stdout, stderr := runCLI(t, "check", testdata+"check3.md")
	assert.Equal(t, ExitUsage, code)
	assert.Empty(t, stdout)
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Len(t, lines, 4, stderr)
	want := []string{
		testdata + "check3.md:13: step one: undefined: undefinedThing",
		testdata + "check3.md:20: step two: syntax error: missing ',' before newline in argument list",
		testdata + `check3.md:26: step three: cannot convert "high" to float64`,
		"playbook check: 3 errors",
	}
	assert.Equal(t, want, lines)
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.md")
	require.NoError(t, os.WriteFile(good, []byte("---\nparams:\n  n: 1\n---\n```go step=a\nfmt.Println(params.N)\n```\n"), 0o644))
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string // beginnings of stderr's lines
	}{
		{name: "OK", args: []string{good}, code: ExitOK, stdout: good + ": ok\n"},
		{name: "Param", args: []string{good, "-p", "n=2"}, code: ExitOK, stdout: good + ": ok\n"},
		{name: "BadParam", args: []string{"-p", "n=x", good}, code: ExitUsage,
			stderr: []string{good + `: -p n=x: parameter "n" is an integer; "x" is not an integer`, "playbook check: 1 error"}},
		{name: "ParseErrors", args: []string{testdata + "duplicate.md", testdata + "nostep.md", good}, code: ExitUsage, stdout: good + ": ok\n",
			stderr: []string{testdata + `duplicate.md:11: duplicate step "load"`, testdata + "nostep.md:9: Go cell without a step name", "playbook check: 2 errors"}},
		{name: "Empty", args: []string{testdata + "empty.md"}, code: ExitUsage,
			stderr: []string{testdata + "empty.md: empty scenario", "playbook check: 1 error"}},
		{name: "Refused", args: []string{testdata + "exec.md"}, code: ExitUsage,
			stderr: []string{testdata + `exec.md:10: step shell: import "os/exec": import not allowed`, "playbook check: 1 error"}},
		{name: "Unrestricted", args: []string{"--unrestricted", testdata + "exec.md"}, code: ExitOK, stdout: testdata + "exec.md: ok\n"},
		{name: "NoScenario", args: nil, code: ExitUsage, stderr: []string{"usage: playbook check"}},
		{name: "Missing", args: []string{filepath.Join(dir, "nope.md")}, code: ExitUsage,
			stderr: []string{filepath.Join(dir, "nope.md") + ": open "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"check"}, tt.args...)...)
			assert.Equal(t, tt.code, code, stderr)
			assert.Equal(t, tt.stdout, stdout)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(tt.stderr) == 0 {
				assert.Empty(t, stderr)
				return
			}
			for i, w := range tt.stderr {
				require.Greater(t, len(lines), i, stderr)
				assert.True(t, strings.HasPrefix(lines[i], w), "line %d: got %q\nwant %q...", i, lines[i], w)
			}
		})
	}
}
