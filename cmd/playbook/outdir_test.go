package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/atomicfile"
	"github.com/playbook-mlops/playbook/internal/outfiles"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

// registerScenario changes the registry once: it registers a model.
const registerScenario = "---\ntitle: Register\n---\n\n```go step=register\n" +
	"c, err := pb.Client()\nif err != nil {\n\tpanic(err)\n}\n" +
	"if _, err := c.CreateRegisteredModel(pb.Context(), \"OutDirTest\", nil, \"registered by a test of --out\"); err != nil {\n\tpanic(err)\n}\n" +
	"```\n"

// plotFileScenario draws a plot (a file beside report.md) and writes a
// cell's file (files/a.txt).
const plotFileScenario = "---\ntitle: Plot and file\n---\n\n```go step=plot\nimport (\n\t\"gonum.org/v1/plot\"\n\t\"gonum.org/v1/plot/plotter\"\n)\n" +
	"p := plot.New()\nline, err := plotter.NewLine(plotter.XYs{{X: 1, Y: 1}, {X: 2, Y: 3}})\nif err != nil {\n\tpanic(err)\n}\np.Add(line)\npb.Plot(\"F1\", p)\n```\n\n" +
	"```go step=file\nif err := pb.WriteFile(\"a.txt\", []byte(\"from the first run\")); err != nil {\n\tpanic(err)\n}\n```\n"

// plainScenario writes no file of its own.
const plainScenario = "---\ntitle: Plain\n---\n\n```go step=hello\nfmt.Println(\"hello\")\n```\n"

// scenarioFile writes a scenario named name in a new folder.
func scenarioFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// errorLines returns the lines of stderr from the one playbook's error
// starts ("playbook run: ") on.
func errorLines(t *testing.T, stderr string) []string {
	t.Helper()
	lines := strings.Split(stderr, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "playbook run: ") {
			return lines[i:]
		}
	}
	t.Fatalf("no error in stderr:\n%s", stderr)
	return nil
}

// tree lists every entry under dir, slash-separated, folders ending in /.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			rel += "/"
		}
		names = append(names, rel)
		return nil
	}))
	return names
}

// TestRunRemovesStaleFiles: a run into an --out an earlier run wrote
// leaves there its own files only: the earlier plots, cells' files,
// scenario folders and records are gone, the user's files stay.
func TestRunRemovesStaleFiles(t *testing.T) {
	noExternalBackend(t)
	out := filepath.Join(t.TempDir(), "out")
	first := scenarioFile(t, "first.md", plotFileScenario)
	plain := scenarioFile(t, "plain.md", plainScenario)
	runOK := func(args ...string) {
		t.Helper()
		code, _, stderr := runCLI(t, append([]string{"run", "--quiet", "--out", out}, args...)...)
		require.Equal(t, ExitOK, code, stderr)
		assert.Empty(t, stderr)
	}

	runOK(first)
	for _, n := range []string{"plot-plot-f1.png", "files/a.txt", report.HTMLFile, record.EvidenceFile, outfiles.ManifestFile} {
		assert.FileExists(t, filepath.Join(out, filepath.FromSlash(n)))
	}
	require.NoError(t, os.WriteFile(filepath.Join(out, "notes.txt"), []byte("the user's"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(out, "plot-mine.svg"), []byte("<svg/>"), 0o644))

	runOK(plain)
	assert.ElementsMatch(t, []string{
		outfiles.ManifestFile, record.EvidenceFile, report.HTMLFile, report.MarkdownFile, report.TicketFile, "files/", "notes.txt", "plot-mine.svg",
	}, tree(t, out), "the first run's plot and cell file are gone, the user's files stay, nothing is left aside")
	assert.Equal(t, "Plain", readRecord(t, out).Scenario.Title)

	// Several scenarios: one folder each; the single run's files at the
	// top are gone.
	runOK(first, plain)
	assert.NoFileExists(t, filepath.Join(out, record.EvidenceFile))
	assert.NoFileExists(t, filepath.Join(out, report.HTMLFile))
	assert.FileExists(t, filepath.Join(out, "first", "plot-plot-f1.png"))
	assert.FileExists(t, filepath.Join(out, "first", "files", "a.txt"))
	assert.FileExists(t, filepath.Join(out, "plain", record.EvidenceFile))

	// One scenario again: the folders of the run before are gone.
	runOK(plain)
	assert.NoDirExists(t, filepath.Join(out, "first"))
	assert.NoDirExists(t, filepath.Join(out, "plain"))
	assert.ElementsMatch(t, []string{
		outfiles.ManifestFile, record.EvidenceFile, report.HTMLFile, report.MarkdownFile, report.TicketFile, "files/", "notes.txt", "plot-mine.svg",
	}, tree(t, out))
}

// TestRunRefusesOutWithoutRoom: an --out whose file system has less room
// than a report needs is refused, naming the folder, with exit 2, before
// anything runs: the embedded registry is not even started.
func TestRunRefusesOutWithoutRoom(t *testing.T) {
	noExternalBackend(t)
	old := minOutFree
	minOutFree = 1 << 62
	t.Cleanup(func() { minOutFree = old })
	out, data := t.TempDir(), filepath.Join(t.TempDir(), "data")
	sc := scenarioFile(t, "register.md", registerScenario)
	code, stdout, stderr := runCLI(t, "run", "--data-dir", data, "--out", out, sc)
	assert.Equal(t, ExitUsage, code)
	lines := errorLines(t, stderr)
	assert.Regexp(t, `^playbook run: --out `+regexp.QuoteMeta(out)+`: the file system of `+regexp.QuoteMeta(out)+` has [0-9.]+ [KM]iB free, less than the `, lines[0])
	assert.Contains(t, lines[0], "nothing was run, the registry is unchanged")
	assert.Empty(t, stdout)
	assert.NoDirExists(t, data, "no registry was started")
	assert.NoFileExists(t, filepath.Join(out, record.EvidenceFile))
}

// TestRunReportWriteFails: a report that cannot be written (index.html is
// a folder in --out) fails the run with a message whose first line says so
// and whether the registry was changed, then the calls made and where the
// run record is; the files of the run before stay aside, named.
func TestRunReportWriteFails(t *testing.T) {
	noExternalBackend(t)
	data := filepath.Join(t.TempDir(), "data")
	t.Run("Changed", func(t *testing.T) {
		out := t.TempDir()
		sc := scenarioFile(t, "register.md", registerScenario)
		plain := scenarioFile(t, "plain.md", plainScenario)
		code, _, stderr := runCLI(t, "run", "--quiet", "--out", out, plain)
		require.Equal(t, ExitOK, code, stderr)
		// The user replaces the page with a folder: the next report cannot
		// be written.
		require.NoError(t, os.Remove(filepath.Join(out, report.HTMLFile)))
		require.NoError(t, os.MkdirAll(filepath.Join(out, report.HTMLFile, "x"), 0o755))

		code, stdout, stderr := runCLI(t, "run", "--quiet", "--data-dir", data, "--out", out, sc)
		assert.Equal(t, ExitStepFailed, code, stderr)
		assert.NotContains(t, stdout, "report in")
		lines := errorLines(t, stderr)
		assert.Equal(t, "playbook run: the report could not be written to "+out+", and the registry WAS changed: 1 call sent to change it answered ok (listed below)", lines[0])
		msg := strings.Join(lines, "\n")
		assert.Contains(t, lines[1], "  why: report: index.html")
		assert.Contains(t, msg, "\nregistry calls made, in order:\n  - "+sc+", step register: POST /api/2.0/mlflow/registered-models/create")
		assert.Regexp(t, `name=OutDirTest.*: ok\n`, msg)
		assert.Contains(t, msg, "\nthe run record (evidence), whole, is in "+filepath.Join(out, record.EvidenceFile)+"\n")
		rec := readRecord(t, out)
		assert.Equal(t, "Register", rec.Scenario.Title)
		require.Len(t, rec.Evidence.Calls, 1)
		m := regexp.MustCompile(`\nthe files of the run before are in (\S+)`).FindStringSubmatch(msg)
		require.NotNil(t, m, msg)
		assert.Equal(t, out, filepath.Dir(m[1]))
		assert.FileExists(t, filepath.Join(m[1], report.MarkdownFile), "the run before's report is kept aside")
		assert.FileExists(t, filepath.Join(m[1], record.EvidenceFile))
	})
	t.Run("NotChanged", func(t *testing.T) {
		out := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(out, report.HTMLFile, "x"), 0o755))
		code, _, stderr := runCLI(t, "run", "--quiet", "--out", out, scenarioFile(t, "plain.md", plainScenario))
		assert.Equal(t, ExitStepFailed, code, stderr)
		lines := errorLines(t, stderr)
		assert.Equal(t, "playbook run: the report could not be written to "+out+", and the registry was not changed: no call to change it was made", lines[0])
		assert.NotContains(t, stderr, "registry calls made")
		assert.NotContains(t, stderr, "the run before")
	})
}

// assertReportFailure checks what a report that failed on a full disk
// leaves: the message (first line, the call, where the record is), an
// evidence.json in out that is absent or whole, no temporary file; it
// returns the record the message names.
func assertReportFailure(t *testing.T, out, scenario, stderr string) *record.Run {
	t.Helper()
	lines := errorLines(t, stderr)
	assert.Equal(t, "playbook run: the report could not be written to "+out+", and the registry WAS changed: 1 call sent to change it answered ok (listed below)", lines[0])
	msg := strings.Join(lines, "\n")
	assert.Contains(t, msg, "no space left on device")
	assert.Contains(t, msg, "\n  - "+scenario+", step register: POST /api/2.0/mlflow/registered-models/create")
	assert.Contains(t, msg, "name=OutDirTest")

	// evidence.json is whole or absent, never half written.
	if b, err := os.ReadFile(filepath.Join(out, record.EvidenceFile)); err == nil {
		assert.True(t, json.Valid(b), "evidence.json is whole JSON (%d bytes)", len(b))
		_, err := record.Read(bytes.NewReader(b))
		assert.NoError(t, err)
	} else {
		assert.ErrorIs(t, err, fs.ErrNotExist)
	}
	for _, n := range tree(t, out) {
		assert.False(t, atomicfile.IsTemp(filepath.Base(n)), "a temporary file is left: %s", n)
	}

	var where string
	inTemp := false
	if m := regexp.MustCompile(`\nthe run record \(evidence\), whole, is in (\S+)\n`).FindStringSubmatch(msg + "\n"); m != nil {
		where = m[1]
		assert.Equal(t, filepath.Join(out, record.EvidenceFile), where)
	} else if m := regexp.MustCompile(`\nthe run record \(evidence\) could not be written to \S+; it is in (\S+)\n`).FindStringSubmatch(msg + "\n"); m != nil {
		where, inTemp = m[1], true
		assert.Equal(t, os.TempDir(), filepath.Dir(where))
	}
	require.NotEmpty(t, where, "the message says where the record is:\n%s", msg)
	b, err := os.ReadFile(where)
	require.NoError(t, err)
	rec, err := record.Read(bytes.NewReader(b))
	require.NoError(t, err)
	require.Len(t, rec.Evidence.Calls, 1)
	assert.Equal(t, "/api/2.0/mlflow/registered-models/create", rec.Evidence.Calls[0].Endpoint)
	if inTemp {
		assert.Equal(t, ExitStepFailed, rec.Environment.Exit.Code, "the copy keeps playbook's exit code")
	}
	return rec
}
