package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
	"github.com/playbook-mlops/playbook/server"
)

// noExternalBackend makes the test environment one with only Go: no
// tracking URI, and a PATH where no python, mlflow or other program can
// be found.
func noExternalBackend(t testing.TB) {
	t.Helper()
	t.Setenv(mlflow.EnvTrackingURI, "")
	t.Setenv("PATH", t.TempDir())
}

// TestReadmeCommandEmbedded: the README's main command, `playbook run
// --out out scenarios/churn-training.md scenarios/churn-promotion.fr.md`,
// in a folder of its own, with no MLflow server and no Python: it trains
// and promotes against the embedded server on ./playbook-data and writes
// the reports; the registry is still there for the next run, which finds
// the promoted version.
func TestReadmeCommandEmbedded(t *testing.T) {
	noExternalBackend(t)
	work := t.TempDir()
	t.Chdir(work)
	data := filepath.Join(work, server.DefaultDataDir)
	out := filepath.Join(work, "out")
	args := []string{"run", "--out", "out", repoScenario("churn-training.md"), repoScenario("churn-promotion.fr.md")}
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), args, &stdout, &stderr)
	require.Equal(t, ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Contains(t, stderr.String(), "using the embedded tracking server at http://127.0.0.1:")
	assert.Contains(t, stderr.String(), "data in "+data)
	assert.Equal(t, 1, strings.Count(stderr.String(), "using the embedded tracking server"), "one server for both scenarios")

	for _, name := range []string{"churn-training", "churn-promotion.fr"} {
		for _, file := range []string{report.HTMLFile, report.MarkdownFile, record.EvidenceFile} {
			assert.FileExists(t, filepath.Join(out, name, file))
		}
		rec := readRecord(t, filepath.Join(out, name))
		assert.Equal(t, record.OutcomeOK, rec.Environment.Exit.Status, name)
		assert.Equal(t, "embedded:"+filepath.ToSlash(data), rec.Environment.TrackingURI, name)
		assert.Equal(t, server.DefaultVersion, rec.Environment.MLflowVersion, name)
		for _, c := range rec.Cells {
			assert.Equal(t, record.StatusOK, c.Status, "%s: step %s", name, c.Step)
		}
	}
	assert.FileExists(t, filepath.Join(data, "mlflow.db"))
	page, err := os.ReadFile(filepath.Join(out, "churn-promotion.fr", report.HTMLFile))
	require.NoError(t, err)
	assert.Contains(t, string(page), "production-live")
	assert.Contains(t, string(page), "ChurnPredictor")

	// The state persists: a second server on the same data directory
	// sees the model and its aliases.
	srv, err := server.Open(t.Context(), server.Config{DataDir: data})
	require.NoError(t, err)
	uri, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	defer srv.Close()
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	prod, err := c.GetModelVersionByAlias(t.Context(), "ChurnPredictor", "production-live")
	require.NoError(t, err)
	cand, err := c.GetModelVersionByAlias(t.Context(), "ChurnPredictor", "staging-candidate")
	require.NoError(t, err)
	assert.Equal(t, prod.Version, cand.Version)
	status, _ := prod.Tag("validation_status")
	assert.Equal(t, "passed", status)
	require.NoError(t, srv.Close())

	stdout.Reset()
	stderr.Reset()
	code = run(t.Context(), []string{"run", "--quiet", repoScenario("churn-promotion.fr.md")}, &stdout, &stderr)
	require.Equal(t, ExitOK, code, "a second promotion on the same data: %s", stderr.String())
}

// TestEmbeddedOnlyWhenNeeded: a scenario that never calls MLflow starts
// no server and creates no data directory.
func TestEmbeddedOnlyWhenNeeded(t *testing.T) {
	noExternalBackend(t)
	data := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"run", "--quiet", "--data-dir", data, testdata + "shared.md"}, &stdout, &stderr)
	require.Equal(t, ExitOK, code, stderr.String())
	assert.Empty(t, stderr.String())
	assert.NoDirExists(t, data)
}

// TestEmbeddedDataDirUnusable: a data directory that cannot be created
// fails the step that needed the server, naming the directory.
func TestEmbeddedDataDirUnusable(t *testing.T) {
	noExternalBackend(t)
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"train", "--data-dir", file, "--runs", "1", "--rows", "100"}, &stdout, &stderr)
	assert.Equal(t, ExitStepFailed, code)
	assert.Contains(t, stderr.String(), "embedded tracking server")
	assert.Contains(t, stderr.String(), file)
}

// BenchmarkFrenchScenarioEmbedded: the French promotion scenario end to
// end against the embedded backend, as `playbook run` with no tracking
// URI runs it (embedded server start included), on a data directory that
// already holds the training runs.
func BenchmarkFrenchScenarioEmbedded(b *testing.B) {
	for _, k := range []string{kernelInProcess, kernelProcess} {
		b.Run("kernel="+k, func(b *testing.B) { benchFrench(b, false, "--kernel", k) })
	}
	// As a user runs it: a new playbook process each time (the test
	// binary acting as playbook), so that neither mode keeps what a
	// process warms up (symbol tables, fonts, code paths) from one run to
	// the next.
	for _, k := range []string{kernelInProcess, kernelProcess} {
		b.Run("process=new/kernel="+k, func(b *testing.B) { benchFrench(b, true, "--kernel", k) })
	}
}

// benchFrench is BenchmarkFrenchScenarioEmbedded with the extra flags of
// playbook run; with --kernel process it reports the kernel's start (from
// its start to its sandbox applied) as kernel-start-ms/op.
func benchFrench(b *testing.B, fresh bool, extra ...string) {
	noExternalBackend(b)
	data := filepath.Join(b.TempDir(), "playbook-data")
	ctx := context.Background()
	if code := run(ctx, []string{"run", "--quiet", "--data-dir", data, repoScenario("churn-training.md")}, io.Discard, io.Discard); code != ExitOK {
		b.Fatalf("training: exit %d", code)
	}
	out := b.TempDir()
	args := append([]string{"run", "--quiet", "--data-dir", data, "--out", out, "-p", "serve=off", repoScenario("churn-promotion.fr.md")}, extra...)
	var start time.Duration
	for b.Loop() {
		var stderr bytes.Buffer
		if fresh {
			exe, err := os.Executable()
			if err != nil {
				b.Fatal(err)
			}
			cmd := exec.Command(exe, args...)
			cmd.Env = append(os.Environ(), hostileChildEnv+"=1")
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				b.Fatalf("%v: %s", err, stderr.String())
			}
		} else if code := run(ctx, args, io.Discard, &stderr); code != ExitOK {
			b.Fatalf("exit %d: %s", code, stderr.String())
		}
		b.StopTimer()
		if rec := readRecord(b, out); rec.Environment.Isolation != nil {
			start += time.Duration(rec.Environment.Isolation.KernelStart)
		}
		b.StartTimer()
	}
	if start > 0 {
		b.ReportMetric(float64(start.Microseconds())/1e3/float64(b.N), "kernel-start-ms/op")
	}
}

// repoScenario returns the path of a file of scenarios/.
func repoScenario(name string) string {
	return filepath.Join(testenv.RepoRoot(), "scenarios", name)
}
