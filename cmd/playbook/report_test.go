package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

// playbook run --out writes the whole report: the page, the Markdown with
// its plots beside it, and the record.
func TestRunWritesReport(t *testing.T) {
	t.Setenv("MLFLOW_TRACKING_URI", "")
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", "--out", out, testdata+"display.md")
	require.Equal(t, ExitOK, code, stderr)
	assert.Contains(t, stdout, testdata+"display.md: report in "+filepath.Join(out, report.HTMLFile))
	for _, name := range []string{report.HTMLFile, report.MarkdownFile, record.EvidenceFile, "plot-plot-f1.png"} {
		assert.FileExists(t, filepath.Join(out, name))
	}
	page, err := os.ReadFile(filepath.Join(out, report.HTMLFile))
	require.NoError(t, err)
	assert.Contains(t, string(page), "Content-Security-Policy")
	assert.Contains(t, string(page), `<img src="data:image/svg&#43;xml;base64,`)
	md, err := os.ReadFile(filepath.Join(out, report.MarkdownFile))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(md), "# Rich outputs\n"))
	assert.Contains(t, string(md), "](plot-plot-f1.png)")
	assert.Equal(t, "Rich outputs", readRecord(t, out).Scenario.Title)
}
