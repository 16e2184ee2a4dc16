package report_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

// openReport writes the report of r and opens its index.html from disk in
// a headless Chromium with the network cut off.
func openReport(t *testing.T, r *record.Run, opts browser.Options) *browser.Page {
	t.Helper()
	opts.Binary = testenv.Chromium(t)
	opts.Offline = true
	dir := t.TempDir()
	require.NoError(t, report.Write(dir, r))
	u, err := browser.FileURL(filepath.Join(dir, report.HTMLFile))
	require.NoError(t, err)
	p, err := browser.Open(t.Context(), u, opts)
	require.NoError(t, err)
	return p
}

// Headless Chromium opens index.html from disk, offline: nothing fails to
// load, nothing is logged as an error, the screenshot is not blank, and the
// page's text holds the aliases, the versions and the verdict.
func TestBrowser(t *testing.T) {
	for _, c := range []struct {
		name string
		run  *record.Run
		text []string
	}{
		{"French", report.FrenchRun(t), []string{"PROMU", "production-live", "staging-candidate", "version 1", "version 2",
			"porte maintenant production-live", "La page du modèle dans le registre", "Classement", "Audit"}},
		{"Refused", report.FixtureRun("refused.fr"), []string{"NON PROMU", "refusé à l'étape validate", "production-live", "version 1", "non exécutée"}},
		{"Failed", report.FixtureRun("failed.en"), []string{"FAILED", "failed at step register", "PERMISSION_DENIED", "embedded registry"}},
		{"XSS", xssRun(), []string{"PROMOTED", report.XSS}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := openReport(t, c.run, browser.Options{Width: 1280, Height: 2000})
			assert.Empty(t, p.Failed, "failed requests")
			assert.Empty(t, p.Errors, "console errors")
			colors, ink, err := browser.Ink(p.PNG)
			require.NoError(t, err)
			assert.Greater(t, colors, 30, "a drawn page, not a blank one")
			assert.Greater(t, ink, 0.03)
			for _, s := range c.text {
				assert.Contains(t, p.Text, s)
			}
		})
	}
}

// The page follows the reader's dark mode, and prints.
func TestBrowserDarkAndPrint(t *testing.T) {
	background := func(p *browser.Page) uint32 {
		img, err := png.Decode(bytes.NewReader(p.PNG))
		require.NoError(t, err)
		r, g, b, _ := img.At(3, 3).RGBA()
		return (r + g + b) / 3 >> 8
	}
	light := openReport(t, report.FixtureRun("promoted.en"), browser.Options{ColorScheme: "light", PDF: true})
	dark := openReport(t, report.FixtureRun("promoted.en"), browser.Options{ColorScheme: "dark", NoScreenshot: false})
	assert.Greater(t, background(light), uint32(230), "a light page")
	assert.Less(t, background(dark), uint32(40), "a dark page")
	assert.Empty(t, dark.Errors)
	require.True(t, bytes.HasPrefix(light.PDF, []byte("%PDF-")), "the page prints to PDF")
	assert.Greater(t, len(light.PDF), 10_000)
	if testing.Verbose() {
		_ = os.WriteFile(filepath.Join(t.TempDir(), "report.pdf"), light.PDF, 0o644)
	}
}
