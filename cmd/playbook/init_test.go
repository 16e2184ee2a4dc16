package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
	"github.com/playbook-mlops/playbook/scenarios"
)

// TestRunEmbeddedByName: in an empty folder, with no clone, the README's
// main command names the embedded scenarios; the report says where the
// scenario came from, and nothing written out for it is left behind.
func TestRunEmbeddedByName(t *testing.T) {
	noExternalBackend(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	work := t.TempDir()
	t.Chdir(work)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"run", "--out", "out", "churn-training", "churn-promotion.fr"}, &stdout, &stderr)
	require.Equal(t, ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Contains(t, stdout.String(), "churn-promotion.fr.md (embedded): ok")
	for _, name := range []string{"churn-training", "churn-promotion.fr"} {
		rec := readRecord(t, filepath.Join(work, "out", name))
		assert.Equal(t, record.OutcomeOK, rec.Environment.Exit.Status, name)
		assert.Equal(t, name+".md (embedded)", rec.Scenario.Path, name)
		src, err := scenarios.Read(name + ".md")
		require.NoError(t, err)
		sum := sha256.Sum256(src)
		assert.Equal(t, hex.EncodeToString(sum[:]), rec.Scenario.SHA256, "%s: the embedded bytes were run", name)
		assert.NotEqual(t, "dev", rec.Environment.PlaybookVersion)
	}
	page := string(mustRead(t, filepath.Join(work, "out", "churn-promotion.fr", report.HTMLFile)))
	assert.Contains(t, page, "churn-promotion.fr.md (embedded)")
	left, err := filepath.Glob(filepath.Join(tmp, "playbook-embedded-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "the embedded scenarios written out are removed")

	// A file on disk wins: churn-training.md here, for the name
	// churn-training.
	require.NoError(t, os.WriteFile("churn-training.md", []byte("---\ntitle: mine\n---\n\n```go step=hello\nfmt.Println(\"mine\")\n```\n"), 0o644))
	stdout.Reset()
	stderr.Reset()
	code = run(t.Context(), []string{"check", "churn-training"}, &stdout, &stderr)
	require.Equal(t, ExitOK, code, stderr.String())
	assert.Equal(t, "churn-training.md: ok\n", stdout.String())
}

// TestUnknownScenarioNamesEmbedded: a scenario that is neither a file nor
// an embedded one is a usage error that lists the embedded ones; a data
// file looked for beside an embedded one says how to have one there.
func TestUnknownScenarioNamesEmbedded(t *testing.T) {
	noExternalBackend(t)
	t.Chdir(t.TempDir())
	for _, cmd := range []string{"run", "check"} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), []string{cmd, "churn-promotion"}, &stdout, &stderr)
		assert.Equal(t, ExitUsage, code, cmd)
		for _, n := range scenarios.Names() {
			assert.Contains(t, stderr.String(), n, cmd)
		}
		assert.Contains(t, stderr.String(), "playbook init DIR", cmd)

		// A data file of the user's is not beside an embedded
		// scenario: the error says where its folder is, and what to do.
		stderr.Reset()
		code = run(t.Context(), []string{cmd, "churn-training", "-p", "data=mine.csv"}, &stdout, &stderr)
		assert.Equal(t, ExitUsage, code, cmd)
		assert.Contains(t, stderr.String(), "is embedded in playbook: its folder, ", cmd)
		assert.Contains(t, stderr.String(), "playbook init DIR writes it out, to run DIR/churn-training.md", cmd)
	}
}

// TestInitWritesEvery: playbook init writes every embedded scenario, says
// what to run next, refuses to overwrite, and the files it wrote check.
func TestInitWritesEvery(t *testing.T) {
	t.Chdir(t.TempDir())
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"init", "x"}, &stdout, &stderr)
	require.Equal(t, ExitOK, code, stderr.String())
	for _, n := range scenarios.Names() {
		src, err := scenarios.Read(n)
		require.NoError(t, err)
		assert.Equal(t, string(src), string(mustRead(t, filepath.Join("x", n))), n)
		assert.Contains(t, stdout.String(), "wrote "+filepath.Join("x", n)+"\n")
	}
	assert.Contains(t, stdout.String(), "next: playbook run --out out x/churn-training.md x/churn-promotion.fr.md\n")

	mine := filepath.Join("x", "churn-rollback.md")
	require.NoError(t, os.WriteFile(mine, []byte("mine"), 0o644))
	stdout.Reset()
	stderr.Reset()
	code = run(t.Context(), []string{"init", "x"}, &stdout, &stderr)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr.String(), "not overwritten (--force overwrites)")
	assert.Equal(t, "mine", string(mustRead(t, mine)))

	code = run(t.Context(), []string{"init", "--force", "x"}, &stdout, &stderr)
	require.Equal(t, ExitOK, code, stderr.String())
	assert.NotEqual(t, "mine", string(mustRead(t, mine)))

	files, err := filepath.Glob(filepath.Join("x", "*.md"))
	require.NoError(t, err)
	require.Len(t, files, len(scenarios.Names()))
	stdout.Reset()
	stderr.Reset()
	code = run(t.Context(), append([]string{"check"}, files...), &stdout, &stderr)
	assert.Equal(t, ExitOK, code, stderr.String())
	assert.Equal(t, len(files), strings.Count(stdout.String(), ": ok\n"))
}

// TestInstallFromFreshClone: the README's install, from a fresh clone of
// this repository's HEAD (the module cache shared; GOFLAGS set so that go
// build stamps the commit whatever the environment's GOFLAGS say): the
// binary runs the main command in an empty folder with no clone there, and
// its version names the clone's commit; built with -ldflags, that version.
// A fresh clone's packages compile anew (their folder is new to Go's
// build cache): minutes on two cores, so a heavy test, which .ci/run runs
// beside its PostgreSQL and S3 lanes.
func TestInstallFromFreshCloneHeavy(t *testing.T) {
	testenv.Heavy(t)
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s on PATH", tool)
		}
	}
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	clone := filepath.Join(t.TempDir(), "playbook")
	sh(t, "", "git", "clone", "--quiet", testenv.RepoRoot(), clone)
	commit := strings.TrimSpace(sh(t, clone, "git", "rev-parse", "HEAD"))
	bin := filepath.Join(t.TempDir(), "playbook")
	env := append(os.Environ(), "GOFLAGS=-mod=mod -buildvcs=true")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/playbook")
	build.Dir, build.Env = clone, env
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build in the clone:\n%s", out)

	work := t.TempDir()
	cmd := exec.Command(bin, "version")
	cmd.Dir = work
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), commit[:12], "playbook version names the clone's commit")

	cmd = exec.Command(bin, "run", "--out", "out", "churn-training", "churn-promotion.fr")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI=", "PATH="+t.TempDir())
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "playbook run from an empty folder:\n%s", out)
	rec := readRecord(t, filepath.Join(work, "out", "churn-promotion.fr"))
	assert.Equal(t, record.OutcomeOK, rec.Environment.Exit.Status)
	assert.Contains(t, rec.Environment.PlaybookVersion, commit[:12], "the evidence names the commit")

	build = exec.Command(goBin, "build", "-ldflags", "-X main.version=v9.9.9-test", "-o", bin, "./cmd/playbook")
	build.Dir, build.Env = clone, env
	out, err = build.CombinedOutput()
	require.NoError(t, err, "go build -ldflags:\n%s", out)
	out, err = exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "playbook v9.9.9-test\n", string(out))
}

// TestInstallEmptyCachesHeavy: the README's set-up and main command, word
// for word, on a machine that has never built Go: a fresh clone, empty
// module and build caches (GOPATH, GOMODCACHE, GOCACHE in a new folder)
// fed from the module proxy the environment names (GOPROXY), then
// `go install ./cmd/playbook` and, with only that GOPATH/bin added to PATH,
// `playbook run --out out scenarios/churn-training.md
// scenarios/churn-promotion.fr.md` in the clone, on the embedded registry.
// Minutes on 2 cores (every module downloaded and compiled): the heavy
// lane's (PLAYBOOK_HEAVY_TESTS=1).
func TestInstallEmptyCachesHeavy(t *testing.T) {
	testenv.Heavy(t)
	goBin, err := exec.LookPath("go")
	require.NoError(t, err)
	gitBin, err := exec.LookPath("git")
	require.NoError(t, err)
	home := t.TempDir()
	clone := filepath.Join(home, "playbook")
	sh(t, "", gitBin, "clone", "--quiet", testenv.RepoRoot(), clone)
	commit := strings.TrimSpace(sh(t, clone, gitBin, "rev-parse", "HEAD"))
	gopath := filepath.Join(home, "go")
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "GOPATH", "GOMODCACHE", "GOCACHE", "GOFLAGS", "GOBIN", "MLFLOW_TRACKING_URI", "PATH":
		default:
			env = append(env, kv)
		}
	}
	env = append(env, "GOPATH="+gopath, "GOMODCACHE="+filepath.Join(gopath, "pkg", "mod"),
		"GOCACHE="+filepath.Join(home, "cache"),
		// -modcacherw: the test's folder can be removed afterwards.
		"GOFLAGS=-modcacherw",
		"PATH="+filepath.Join(gopath, "bin")+string(os.PathListSeparator)+filepath.Dir(goBin)+string(os.PathListSeparator)+os.Getenv("PATH"))

	start := time.Now()
	install := exec.Command(goBin, "install", "./cmd/playbook")
	install.Dir, install.Env = clone, env
	out, err := install.CombinedOutput()
	require.NoError(t, err, "go install ./cmd/playbook with empty caches:\n%s", out)
	t.Logf("go install with empty caches: %s", time.Since(start).Round(time.Second))
	mods, err := os.ReadDir(filepath.Join(gopath, "pkg", "mod", "cache", "download"))
	require.NoError(t, err, "the modules came through the new module cache")
	require.NotEmpty(t, mods)

	// Through a shell, so that playbook is found on the new PATH, where
	// the README puts it.
	run := exec.Command("/bin/sh", "-c", "playbook run --out out scenarios/churn-training.md scenarios/churn-promotion.fr.md")
	run.Dir, run.Env = clone, env
	out, err = run.CombinedOutput()
	require.NoError(t, err, "the README's main command:\n%s", out)
	rec := readRecord(t, filepath.Join(clone, "out", "churn-promotion.fr"))
	assert.Equal(t, record.OutcomeOK, rec.Environment.Exit.Status)
	assert.Contains(t, rec.Environment.PlaybookVersion, commit[:12], "the evidence names the clone's commit")
	assert.FileExists(t, filepath.Join(clone, "out", "churn-promotion.fr", "index.html"))
}

// sh runs a command in dir and returns its standard output.
func sh(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s", name, strings.Join(args, " "))
	return string(out)
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	return b
}
