package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/mlflow"
)

// leakScenario reads the data file its parameter names, as a scenario
// that wants what is outside its folder would.
const leakScenario = "---\ntitle: Leak\nparams:\n  data: {default: \"\", type: string}\n---\n\n# Leak\n\n" +
	"```go step=check-data\n" +
	"steps.CheckData(pb, steps.ValidateOptions{Data: params.Data, Label: \"label\", PositiveLabel: \"1\"})\n" +
	"```\n"

// TestDataOutsideScenarioDirEndToEnd: playbook run refuses a data file
// outside the scenario's folder (absolute, /proc/self/environ, "..", a
// symbolic link leading out), with an error naming the path and the
// folder; nothing of the file (a marker in it and in the environment) is
// in any file of --out; the training scenario creates no experiment. A
// data file beside the scenario is read.
func TestDataOutsideScenarioDirEndToEnd(t *testing.T) {
	const marker = "PLAYBOOK-E2E-SECRET-4b1d"
	t.Setenv("PLAYBOOK_TEST_SECRET", marker)
	uri := mlflowtest.Embedded(t)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)

	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.csv")
	require.NoError(t, os.WriteFile(secret, []byte(marker+",label\n"+marker+",1\n"), 0o644))
	dir := t.TempDir()
	leak := filepath.Join(dir, "leak.md")
	require.NoError(t, os.WriteFile(leak, []byte(leakScenario), 0o644))
	training := scenarioIn(t, dir, "churn-training.md")
	require.NoError(t, os.Symlink(secret, filepath.Join(dir, "link.csv")))
	up, err := filepath.Rel(dir, secret)
	require.NoError(t, err)

	// runOut runs playbook with --out and returns the exit code, stderr
	// and every file written to --out.
	runOut := func(args ...string) (int, string, map[string][]byte) {
		out := t.TempDir()
		code, _, stderr := runCLI(t, append([]string{"run", "--tracking-uri", uri, "--quiet", "--out", out}, args...)...)
		files := map[string][]byte{}
		require.NoError(t, filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			files[p] = b
			return err
		}))
		return code, stderr, files
	}
	noMarker := func(files map[string][]byte) {
		t.Helper()
		for p, b := range files {
			assert.False(t, bytes.Contains(b, []byte(marker)), "%s holds the refused file's contents", p)
		}
	}

	for _, p := range []struct{ name, path, why string }{
		{"Absolute", secret, "a relative path"},
		{"ProcEnviron", "/proc/self/environ", "a relative path"},
		{"DotDot", up, `a relative path that does not go up with ".."`},
		{"Symlink", "link.csv", "it leads out of the folder through a symbolic link"},
	} {
		t.Run(p.name, func(t *testing.T) {
			want := fmt.Sprintf("%q: outside the scenario's folder %s: data files must be inside it (%s)", p.path, dir, p.why)
			code, stderr, files := runOut(leak, "-p", "data="+p.path)
			require.NotEmpty(t, files, "the report was written")
			assert.Equal(t, ExitStepFailed, code, stderr)
			assert.Contains(t, stderr, "step check-data: validation data "+want)
			assert.NotContains(t, stderr, marker)
			noMarker(files)

			exp := mlflowtest.Unique("confined")
			// The training scenario declares data a file of its folder:
			// refused before anything runs (the step's own check is the
			// second line, which the leak scenario above reaches).
			code, stderr, files = runOut(training, "-p", "experiment="+exp, "-p", "runs=1", "-p", "data="+p.path)
			assert.Equal(t, ExitUsage, code, stderr)
			assert.Contains(t, stderr, "parameter data = ")
			assert.Contains(t, stderr, "accepted: the path of a file inside the scenario's folder")
			assert.NotContains(t, stderr, marker)
			noMarker(files)
			_, err := c.GetExperimentByName(t.Context(), exp)
			assert.True(t, errors.Is(err, mlflow.ErrNotFound), "no experiment created: %v", err)
		})
	}

	t.Run("Beside", func(t *testing.T) {
		f, err := os.Create(filepath.Join(dir, "telco.csv"))
		require.NoError(t, err)
		require.NoError(t, churn.WriteCSV(f, churn.GenerateDataset(400, 7)))
		require.NoError(t, f.Close())
		exp := mlflowtest.Unique("confined-ok")
		code, stderr, files := runOut(training, "-p", "experiment="+exp, "-p", "runs=1", "-p", "data=telco.csv")
		require.Equal(t, ExitOK, code, stderr)
		require.NotEmpty(t, files, "the report was written")
		var html string
		for p, b := range files {
			if strings.HasSuffix(p, "index.html") {
				html = string(b)
			}
		}
		assert.Contains(t, html, "telco.csv")
	})
}

// TestOutSymlinksEndToEnd: symbolic links found in --out are never
// followed: one at index.html or evidence.json is replaced by the report's
// file (the file it pointed to is unchanged); a scenario's folder that is
// a link (several scenarios) is refused before anything runs.
func TestOutSymlinksEndToEnd(t *testing.T) {
	uri := mlflowtest.Embedded(t)
	dir, outside := t.TempDir(), t.TempDir()
	sc := filepath.Join(dir, "hello.md")
	require.NoError(t, os.WriteFile(sc, []byte("# Hello\n\n```go step=s\nfmt.Println(\"hello\")\n```\n"), 0o644))

	out := t.TempDir()
	for _, n := range []string{"index.html", "evidence.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(outside, n), []byte("outside"), 0o644))
		require.NoError(t, os.Symlink(filepath.Join(outside, n), filepath.Join(out, n)))
	}
	code, _, stderr := runCLI(t, "run", "--tracking-uri", uri, "--quiet", "--out", out, sc)
	require.Equal(t, ExitOK, code, stderr)
	for _, n := range []string{"index.html", "evidence.json"} {
		b, err := os.ReadFile(filepath.Join(outside, n))
		require.NoError(t, err)
		assert.Equal(t, "outside", string(b), "%s not written through", n)
		fi, err := os.Lstat(filepath.Join(out, n))
		require.NoError(t, err)
		assert.True(t, fi.Mode().IsRegular(), "%s: %v", n, fi.Mode())
	}

	other := filepath.Join(dir, "other.md")
	require.NoError(t, os.WriteFile(other, []byte("# Other\n\n```go step=s\nfmt.Println(\"other\")\n```\n"), 0o644))
	out = t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(out, "other")))
	code, _, stderr = runCLI(t, "run", "--tracking-uri", uri, "--quiet", "--out", out, sc, other)
	assert.Equal(t, ExitUsage, code, stderr)
	assert.Contains(t, stderr, "other is a symbolic link")
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Len(t, entries, 2, "nothing more written outside")
	assert.NoDirExists(t, filepath.Join(out, "hello"), "refused before anything ran")
}
