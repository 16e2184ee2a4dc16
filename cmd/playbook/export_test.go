package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/outfiles"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

// notebookOf renders the notebook of the run record in dir.
func notebookOf(t *testing.T, dir string) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, report.Notebook(&b, readRecord(t, dir)))
	return b.Bytes()
}

// manifestSum returns the SHA-256 the manifest of dir lists for name, ""
// when it does not list it.
func manifestSum(t *testing.T, dir, name string) string {
	t.Helper()
	m, err := outfiles.Read(dir)
	require.NoError(t, err)
	require.NotNil(t, m, "a manifest in %s", dir)
	for _, e := range m.Files {
		if e.Name == name {
			return e.SHA256
		}
	}
	return ""
}

// TestRunIpynb: playbook run --ipynb writes notebook.ipynb beside the
// report, the run record's notebook, says where, and lists it in the
// manifest of --out; the next run into the folder, without --ipynb, moves
// it aside with the rest of the run before: no notebook of an earlier run
// stays beside a later report.
func TestRunIpynb(t *testing.T) {
	t.Setenv("MLFLOW_TRACKING_URI", "")
	out := t.TempDir()
	sc := scenarioFile(t, "plot.md", plotFileScenario)
	code, stdout, stderr := runCLI(t, "run", "--out", out, sc, "--ipynb")
	require.Equal(t, ExitOK, code, stderr)
	nbPath := filepath.Join(out, report.NotebookFile)
	assert.Contains(t, stdout, sc+": notebook in "+nbPath)
	got, err := os.ReadFile(nbPath)
	require.NoError(t, err)
	assert.Equal(t, string(notebookOf(t, out)), string(got))
	assert.Contains(t, string(got), `"image/svg+xml"`, "the plot")
	assert.Equal(t, outfiles.Sum(got), manifestSum(t, out, report.NotebookFile))

	code, stdout, stderr = runCLI(t, "run", "--out", out, sc)
	require.Equal(t, ExitOK, code, stderr)
	assert.NotContains(t, stdout, "notebook in")
	assert.NoFileExists(t, nbPath, "the notebook of the run before is not left beside this run's report")
	assert.FileExists(t, filepath.Join(out, report.HTMLFile))
}

// TestRunIpynbNeedsOut: --ipynb without --out is a usage error, before
// anything runs.
func TestRunIpynbNeedsOut(t *testing.T) {
	t.Setenv("MLFLOW_TRACKING_URI", "")
	data := filepath.Join(t.TempDir(), "data")
	code, stdout, stderr := runCLI(t, "run", "--data-dir", data, "--ipynb", scenarioFile(t, "register.md", registerScenario))
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "playbook run: --ipynb needs --out DIR")
	assert.Empty(t, stdout, "nothing ran")
	assert.NoDirExists(t, data, "no server started")
}

// TestExport: playbook export writes the notebook of a run record (named,
// or the one in a folder) beside it, the same bytes as run --ipynb, and
// lists it in the manifest of the run's --out folder; -o names another
// file, - standard output; a symbolic link at the notebook's name is
// replaced, not written through; the record itself is never overwritten.
func TestExport(t *testing.T) {
	t.Setenv("MLFLOW_TRACKING_URI", "")
	out := t.TempDir()
	sc := scenarioFile(t, "plain.md", plainScenario)
	code, _, stderr := runCLI(t, "run", "--quiet", "--out", out, sc)
	require.Equal(t, ExitOK, code, stderr)
	want := notebookOf(t, out)
	nbPath := filepath.Join(out, report.NotebookFile)
	evidence := filepath.Join(out, record.EvidenceFile)

	code, stdout, stderr := runCLI(t, "export", out)
	require.Equal(t, ExitOK, code, stderr)
	assert.Equal(t, evidence+": notebook in "+nbPath+"\n", stdout)
	got, err := os.ReadFile(nbPath)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
	assert.Equal(t, outfiles.Sum(got), manifestSum(t, out, report.NotebookFile), "listed with the run's files")

	code, stdout, stderr = runCLI(t, "export", "--format", "ipynb", "-o", "-", evidence)
	require.Equal(t, ExitOK, code, stderr)
	assert.Equal(t, string(want), stdout)

	elsewhere := filepath.Join(t.TempDir(), "sub", "run.ipynb")
	code, _, stderr = runCLI(t, "export", evidence, "-o", elsewhere)
	require.Equal(t, ExitOK, code, stderr)
	got, err = os.ReadFile(elsewhere)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))

	target := filepath.Join(t.TempDir(), "target")
	require.NoError(t, os.WriteFile(target, []byte("outside"), 0o644))
	linked := filepath.Join(t.TempDir(), "linked.ipynb")
	require.NoError(t, os.Symlink(target, linked))
	code, _, stderr = runCLI(t, "export", "-o", linked, out)
	require.Equal(t, ExitOK, code, stderr)
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	assert.Equal(t, "outside", string(b), "not written through the link")
	fi, err := os.Lstat(linked)
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular())

	before, err := os.ReadFile(evidence)
	require.NoError(t, err)
	code, _, stderr = runCLI(t, "export", "-o", evidence, out)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "is the run record itself")
	after, err := os.ReadFile(evidence)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// The next run into the folder moves the exported notebook aside.
	code, _, stderr = runCLI(t, "run", "--quiet", "--out", out, sc)
	require.Equal(t, ExitOK, code, stderr)
	assert.NoFileExists(t, nbPath)
}

// TestExportErrors: what is wrong, and where, with exit status 2.
func TestExportErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	notJSON := write("notes.txt", "not a record\n")
	otherSchema := write("other.json", `{"schema": "someone.else/v2"}`)
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	several := filepath.Join(dir, "several")
	write("several/churn-training/"+record.EvidenceFile, "{}")
	write("several/churn-promotion.fr/"+record.EvidenceFile, "{}")
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"no record", nil, []string{"no run record given", "usage: playbook export"}},
		{"two records", []string{otherSchema, notJSON}, []string{"one run record at a time"}},
		{"format", []string{"--format", "html", otherSchema}, []string{`--format "html": the only format is ipynb`}},
		{"missing", []string{filepath.Join(dir, "nope.json")}, []string{filepath.Join(dir, "nope.json") + " does not exist"}},
		{"empty folder", []string{empty}, []string{"no run record in " + empty, filepath.Join(empty, record.EvidenceFile) + " does not exist"}},
		{"folder of folders", []string{several}, []string{"its folders hold " + filepath.Join(several, "churn-promotion.fr") + ", " + filepath.Join(several, "churn-training")}},
		{"not JSON", []string{notJSON}, []string{notJSON + " is not a playbook run record: record: invalid character"}},
		{"another schema", []string{otherSchema}, []string{otherSchema + ` is not a playbook run record: record: schema "someone.else/v2", want "` + record.Schema + `"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"export"}, tt.args...)...)
			assert.Equal(t, ExitUsage, code)
			assert.Empty(t, stdout)
			for _, w := range tt.want {
				assert.Contains(t, stderr, w)
			}
		})
	}
	assert.NoFileExists(t, filepath.Join(dir, report.NotebookFile))
}

// TestFrenchNotebookNbformat: the README's main command with --ipynb, on
// the embedded default: each scenario's notebook.ipynb is valid for
// nbformat's own schema (scripts/validate_notebook.py, run by the
// project's virtualenv Python; under CI=true a missing Python or nbformat
// fails the test), written as Jupyter writes it, one code cell per cell,
// every plot of the run an image/svg+xml output; the French one speaks
// French; playbook export of its record gives the same bytes.
func TestFrenchNotebookNbformat(t *testing.T) {
	py := testenv.PythonWith(t, "nbformat")
	noExternalBackend(t)
	work := t.TempDir()
	t.Chdir(work)
	args := []string{"run", "--quiet", "--ipynb", "--out", "out", repoScenario("churn-training.md"), repoScenario("churn-promotion.fr.md"), "-p", "serve=off"}
	code, stdout, stderr := runCLI(t, args...)
	require.Equal(t, ExitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)

	script := filepath.Join(testenv.RepoRoot(), "scripts", "validate_notebook.py")
	for _, name := range []string{"churn-training", "churn-promotion.fr"} {
		dir := filepath.Join(work, "out", name)
		nbPath := filepath.Join(dir, report.NotebookFile)
		cmd := exec.CommandContext(t.Context(), py, script, nbPath, filepath.Join(dir, record.EvidenceFile))
		var so, se bytes.Buffer
		cmd.Stdout, cmd.Stderr = &so, &se
		require.NoError(t, cmd.Run(), "%s: %s", name, se.String())
		lines := strings.Split(strings.TrimSpace(so.String()), "\n")
		var sum struct {
			NBFormat    string         `json:"nbformat"`
			Code        int            `json:"code"`
			SVG         int            `json:"svg"`
			Plots       int            `json:"plots"`
			Errors      int            `json:"errors"`
			Mime        map[string]int `json:"mime"`
			RewriteSame bool           `json:"rewrite_same"`
		}
		require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &sum), so.String())
		t.Logf("%s: %s", name, lines[len(lines)-1])
		rec := readRecord(t, dir)
		assert.Equal(t, "4.5", sum.NBFormat)
		assert.Equal(t, len(rec.Cells), sum.Code)
		assert.True(t, sum.RewriteSame)
		assert.Zero(t, sum.Errors, "every cell ran")
		assert.Positive(t, sum.Mime["text/html"], "tables as HTML")

		b, err := os.ReadFile(nbPath)
		require.NoError(t, err)
		assert.Equal(t, string(notebookOf(t, dir)), string(b))
		if name == "churn-promotion.fr" {
			assert.Positive(t, sum.Plots, "the validation's plots")
			assert.Equal(t, sum.Plots, sum.SVG)
			for _, s := range []string{"| Résumé |", "| version de playbook |", "**PROMU**", "| Serveur de suivi | registre embarqué", "Identifier et enregistrer le meilleur modèle"} {
				assert.Contains(t, string(b), s)
			}
			code, exported, stderr := runCLI(t, "export", "-o", "-", dir)
			require.Equal(t, ExitOK, code, stderr)
			assert.Equal(t, string(b), exported, "playbook export gives the same notebook")
		}
	}
}
