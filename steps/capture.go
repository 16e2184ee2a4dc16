package steps

import (
	"bytes"
	imagepng "image/png"
	"slices"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// embeddedVersionMark is the build metadata the embedded registry adds to
// the MLflow version /version answers ("3.18.0+playbook"): it has no
// MLflow UI, but a read-only registry page at the same links.
const embeddedVersionMark = "+playbook"

// embeddedServer reports whether r's server is playbook's embedded one;
// err when its version could not be read.
func embeddedServer(pb *Playbook, r *registry) (bool, error) {
	version, err := r.c.ServerVersion(pb.Context())
	return err == nil && strings.Contains(version, embeddedVersionMark), err
}

// modelPageName names the page of v.ModelURL: the MLflow UI's, or the
// embedded server's registry page.
func modelPageName(pb *Playbook, embedded bool) string {
	if embedded {
		return tr(pb, "the registry page")
	}
	return tr(pb, "the MLflow UI")
}

// capture screenshots the model's page, aliases visible, as the evidence
// the exercise's seventh section asks for, and, when the promotion
// archived a version (archived, "" for none), that version's page, its
// archive tag visible; it records each, or, when there can be no
// capture, why instead (once, when there is no Chromium at all). The pages are the MLflow UI's, or on the
// embedded server (embedded) its read-only registry page at the same
// links. versionErr is why the server's version could not be read. The
// screenshots are taken by the run's Capturer (cmd/playbook gives one
// backed by headless Chromium). A failed capture never fails the step:
// the registry checks already decided.
func (v *Verification) capture(pb *Playbook, embedded bool, versionErr error, archived string) {
	var aliases []string
	for a := range v.After.Aliases {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)
	page := modelPageName(pb, embedded)
	where := tr(pb, " — MLflow UI")
	if embedded {
		where = tr(pb, " — registry page")
	}
	c := newShot(pb, v.Model+where, v.ModelURL)
	var old *shot // the archived version's
	capturer := notebook.CapturerOf(pb)
	switch {
	case pb.DryRun():
		c.Reason = tr(pb, "dry run: the registry was not changed, so there is nothing to capture")
	case versionErr != nil:
		c.Reason = trf(pb, "the server's version could not be read: %s", versionErr.Error())
	case capturer == nil || capturer.ModelPage == nil:
		c.Reason = trf(pb, "this run has no browser to capture %s with", page)
	default:
		// No Chromium (none found, or turned off): the archived
		// version's page would say the same.
		noBrowser := c.take(pb, capturer, v.Model, aliases, page)
		if archived != "" && !noBrowser {
			title := trf(pb, "%s version %s (archived)%s", v.Model, archived, where)
			old = newShot(pb, title, v.ArchivedURL)
			old.take(pb, capturer, v.Model, []string{TagArchived}, page)
		}
	}
	keepCapture(pb, c)
	if old != nil {
		keepCapture(pb, old)
	}
}

// newShot returns the capture, not yet taken, of the page at url.
func newShot(pb *Playbook, title, url string) *shot {
	c := &shot{Capture: record.Capture{Step: pb.Step(), Title: title, URL: url, Time: time.Now().UTC()}}
	if capturer := notebook.CapturerOf(pb); capturer != nil {
		c.Width, c.Height = capturer.Width, capturer.Height
	}
	return c
}

// A shot is a capture being taken.
type shot struct{ record.Capture }

// take screenshots c's page with capturer, once it shows model and each
// of want; the screenshot's size is its own (a whole page is taller than
// the capturer's first screen). page names the page in the reason there
// is no screenshot. It reports whether there is no browser to take one
// (no Chromium found, or turned off).
func (c *shot) take(pb *Playbook, capturer *notebook.Capturer, model string, want []string, page string) (noBrowser bool) {
	png, err := capturer.ModelPage(pb.Context(), c.URL, model, want)
	if err != nil {
		c.Reason = trf(pb, "no capture of %s: %s", page, captureError(pb, err))
		return noChromium(err) != ""
	}
	c.PNG = png
	if cfg, err := imagepng.DecodeConfig(bytes.NewReader(png)); err == nil {
		c.Width, c.Height = cfg.Width, cfg.Height
	}
	return false
}

// keepCapture records c in the evidence, and prints why it has no
// screenshot when it has none.
func keepCapture(pb *Playbook, c *shot) {
	notebook.Update(pb, func(rec *record.Run) { rec.Evidence.Captures = append(rec.Evidence.Captures, c.Capture) })
	if c.PNG == nil {
		pb.Printf("%s\n", c.Reason)
	}
}

// captureError words why the browser took no capture, in the scenario's
// language for the reasons a user meets (no Chromium, Chromium turned
// off); others as the browser said them. In a kernel process the error
// came as text from playbook, hence the comparison of messages.
func captureError(pb *Playbook, err error) string {
	switch noChromium(err) {
	case "off":
		return trf(pb, "Chromium is turned off (%s=off)", browser.EnvChromium)
	case "not found":
		return trf(pb, "no Chromium found: install chromium or set %s", browser.EnvChromium)
	}
	return err.Error()
}

// noChromium says whether err is the browser's "no Chromium": "off"
// (turned off), "not found", or "" for another error.
func noChromium(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, browser.ErrOff.Error()):
		return "off"
	case strings.Contains(msg, browser.ErrNotFound.Error()):
		return "not found"
	}
	return ""
}
