package report_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/report"
)

// maxHTML is the most the French scenario's index.html may weigh (issue 5).
const maxHTML = 1 << 20

// The French scenario's index.html, plots and the MLflow UI's capture
// included, stays under 1 MB.
func TestFrenchReportSize(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, report.Write(dir, report.FrenchRun(t)))
	fi, err := os.Stat(filepath.Join(dir, report.HTMLFile))
	require.NoError(t, err)
	assert.Less(t, fi.Size(), int64(maxHTML))
	md, err := os.Stat(filepath.Join(dir, report.MarkdownFile))
	require.NoError(t, err)
	t.Logf("index.html %d bytes, report.md %d bytes", fi.Size(), md.Size())
}

// BenchmarkRenderFrench renders the record of a real run of the French
// scenario (six plots, a leaderboard, a validation against a champion, the
// registry before and after, and the MLflow UI's capture) to HTML and
// Markdown. Target (issue 5): under 200 ms.
func BenchmarkRenderFrench(b *testing.B) {
	r := report.FrenchRun(b)
	var size int
	for b.Loop() {
		var h bytes.Buffer
		if err := report.HTML(&h, r); err != nil {
			b.Fatal(err)
		}
		if _, err := report.Markdown(io.Discard, r); err != nil {
			b.Fatal(err)
		}
		size = h.Len()
	}
	b.ReportMetric(float64(size), "html-bytes")
}
