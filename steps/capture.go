package steps

import (
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
// the exercise's seventh section asks for, and records it; when there can
// be no capture it records why instead. The page is the MLflow UI's, or
// on the embedded server (embedded) its read-only registry page at the
// same link. versionErr is why the server's version could not be read.
// The screenshot is taken by the run's Capturer (cmd/playbook gives one
// backed by headless Chromium). A failed capture never fails the step:
// the registry checks already decided.
func (v *Verification) capture(pb *Playbook, embedded bool, versionErr error) {
	title := v.Model + " — MLflow UI"
	if embedded {
		title = v.Model + " — registry page"
	}
	c := record.Capture{Step: pb.Step(), Title: title, URL: v.ModelURL, Time: time.Now().UTC()}
	capturer := notebook.CapturerOf(pb)
	if capturer != nil {
		c.Width, c.Height = capturer.Width, capturer.Height
	}
	var aliases []string
	for a := range v.After.Aliases {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)
	page := modelPageName(pb, embedded)
	switch {
	case pb.DryRun():
		c.Reason = tr(pb, "dry run: the registry was not changed, so there is nothing to capture")
	case versionErr != nil:
		c.Reason = trf(pb, "the server's version could not be read: %s", versionErr.Error())
	case capturer == nil || capturer.ModelPage == nil:
		c.Reason = trf(pb, "this run has no browser to capture %s with", page)
	default:
		png, err := capturer.ModelPage(pb.Context(), v.ModelURL, v.Model, aliases)
		if err != nil {
			c.Reason = trf(pb, "no capture of %s: %s", page, captureError(pb, err))
		} else {
			c.PNG = png
		}
	}
	notebook.Update(pb, func(rec *record.Run) { rec.Evidence.Captures = append(rec.Evidence.Captures, c) })
	if c.PNG == nil {
		pb.Printf("%s\n", c.Reason)
	}
}

// captureError words why the browser took no capture, in the scenario's
// language for the reasons a user meets (no Chromium, Chromium turned
// off); others as the browser said them. In a kernel process the error
// came as text from playbook, hence the comparison of messages.
func captureError(pb *Playbook, err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, browser.ErrOff.Error()):
		return trf(pb, "Chromium is turned off (%s=off)", browser.EnvChromium)
	case strings.Contains(msg, browser.ErrNotFound.Error()):
		return trf(pb, "no Chromium found: install chromium or set %s", browser.EnvChromium)
	}
	return msg
}
