package report_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/report"
)

// At 1280 × 900, the first screen of the French report shows the verdict,
// the from and to versions, who and when, and the rollback command: each
// element's bottom is within the first 900 CSS pixels.
func TestBoardFirstScreen(t *testing.T) {
	var boxes map[string]float64
	p := openReport(t, report.FrenchRun(t), browser.Options{Width: 1280, Height: 900,
		Then: func(_ context.Context, eval func(string) (string, error)) error {
			out, err := eval(`JSON.stringify(Object.fromEntries(["verdict","board","board-change","board-from","board-to","board-who","board-rollback","board-checks"].map(id => {
				const e = document.getElementById(id); return [id, e ? e.getBoundingClientRect().bottom + window.scrollY : -1];
			})))`)
			if err != nil {
				return err
			}
			return json.Unmarshal([]byte(out), &boxes)
		}})
	t.Logf("%v", boxes)
	assert.Empty(t, p.Errors)
	for id, bottom := range boxes {
		assert.Greater(t, bottom, 0.0, "%s is on the page", id)
		assert.LessOrEqual(t, bottom, 900.0, "%s within the first screen", id)
	}
	assert.Contains(t, p.Text, "PROMU")
	assert.Contains(t, p.Text, "playbook run churn-rollback")
}

// Printed on A4, no page of the French report is less than a third full,
// but the last: pdftotext -bbox gives the lowest line of each page.
func TestBoardPrintPages(t *testing.T) {
	p := openReport(t, report.FrenchRun(t), browser.Options{PDF: true, NoScreenshot: true})
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no pdftotext: apt-get install -y poppler-utils")
		}
		t.Skip("no pdftotext: apt-get install -y poppler-utils")
	}
	dir := t.TempDir()
	pdf := filepath.Join(dir, "report.pdf")
	require.NoError(t, os.WriteFile(pdf, p.PDF, 0o644))
	out, err := exec.Command(pdftotext, "-bbox", pdf, "-").Output()
	require.NoError(t, err)
	pageRE := regexp.MustCompile(`<page width="([0-9.]+)" height="([0-9.]+)">`)
	wordRE := regexp.MustCompile(`<word xMin="[0-9.]+" yMin="[0-9.]+" xMax="[0-9.]+" yMax="([0-9.]+)">`)
	starts := pageRE.FindAllSubmatchIndex(out, -1)
	require.NotEmpty(t, starts)
	for i, s := range starts {
		end := len(out)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		height, _ := strconv.ParseFloat(string(out[s[4]:s[5]]), 64)
		assert.InDelta(t, 842, height, 2, "A4")
		lowest := 0.0
		for _, m := range wordRE.FindAllSubmatch(out[s[1]:end], -1) {
			y, _ := strconv.ParseFloat(string(m[1]), 64)
			lowest = max(lowest, y)
		}
		if i < len(starts)-1 {
			assert.GreaterOrEqual(t, lowest, height/3, "page %d of %d is less than a third full", i+1, len(starts))
		}
	}
}
