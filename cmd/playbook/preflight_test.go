package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tinyScenario = "---\nparams:\n  x: 1.5\n---\n\n```go step=s\nfmt.Println(params.X)\n```\n"

// TestRunOutNotWritable: an --out that cannot be written is refused before
// anything runs.
func TestRunOutNotWritable(t *testing.T) {
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.md")
	require.NoError(t, os.WriteFile(sc, []byte(tinyScenario), 0o644))
	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	code, stdout, stderr := runCLI(t, "run", "--quiet", "--out", file, sc)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "--out:")
	assert.Empty(t, stdout, "no cell ran")
}

// TestRunNonFiniteParam: NaN and Inf are not numbers a threshold can take.
func TestRunNonFiniteParam(t *testing.T) {
	sc := filepath.Join(t.TempDir(), "s.md")
	require.NoError(t, os.WriteFile(sc, []byte(tinyScenario), 0o644))
	for _, v := range []string{"NaN", "Inf", "-inf"} {
		code, _, stderr := runCLI(t, "run", "--quiet", "-p", "x="+v, sc)
		assert.Equal(t, ExitUsage, code, v)
		assert.Contains(t, stderr, "is not a finite number", v)
	}
}

// TestRunFlagErrorOnce: a bad flag is reported once, by the flag package.
func TestRunFlagErrorOnce(t *testing.T) {
	code, _, stderr := runCLI(t, "run", "--bogus", "x.md")
	assert.Equal(t, ExitUsage, code)
	assert.Equal(t, 1, strings.Count(stderr, "flag provided but not defined: -bogus"), stderr)
}

// TestRunNotMLflow: a server that is not MLflow is named as such, not
// reported as a missing experiment.
func TestRunNotMLflow(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	sc := filepath.Join(dir, "s.md")
	require.NoError(t, os.WriteFile(sc, []byte("```go step=s\nsteps.Identify(pb, steps.IdentifyOptions{Experiment: \"e\"})\n```\n"), 0o644))
	code, _, stderr := runCLI(t, "run", "--quiet", "--tracking-uri", srv.URL, sc)
	assert.Equal(t, ExitStepFailed, code)
	assert.Contains(t, stderr, srv.URL+" does not look like an MLflow tracking server")
}
