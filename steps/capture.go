package steps

import (
	"slices"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// embeddedVersionMark is the build metadata the embedded registry adds to
// the MLflow version /version answers ("3.18.0+playbook"): it has no UI.
const embeddedVersionMark = "+playbook"

// capture screenshots the model's page in the MLflow UI, aliases visible,
// as the evidence the exercise's seventh section asks for, and records it;
// when there can be no capture it records why instead. The screenshot is
// taken by the run's Capturer (cmd/playbook gives one backed by headless
// Chromium). A failed capture never fails the step: the registry checks
// already decided.
func (v *Verification) capture(pb *Playbook, r *registry) {
	c := record.Capture{
		Step: pb.Step(), Title: v.Model + " — MLflow UI", URL: v.ModelURL,
		Time: time.Now().UTC(),
	}
	capturer := notebook.CapturerOf(pb)
	if capturer != nil {
		c.Width, c.Height = capturer.Width, capturer.Height
	}
	var aliases []string
	for a := range v.After.Aliases {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)
	switch version, err := r.c.ServerVersion(pb.Context()); {
	case pb.DryRun():
		c.Reason = tr(pb, "dry run: the registry was not changed, so there is nothing to capture",
			"essai à blanc : le registre n'a pas changé, il n'y a rien à capturer")
	case err != nil:
		c.Reason = tr(pb, "the server's version could not be read: ", "la version du serveur n'a pas pu être lue : ") + err.Error()
	case strings.Contains(version, embeddedVersionMark):
		c.Reason = tr(pb, "embedded registry: it has no MLflow UI to capture",
			"registre embarqué : il n'a pas d'interface MLflow à capturer")
	case capturer == nil || capturer.ModelPage == nil:
		c.Reason = tr(pb, "this run has no browser to capture the MLflow UI with",
			"cette exécution n'a pas de navigateur pour capturer l'interface MLflow")
	default:
		png, err := capturer.ModelPage(pb.Context(), v.ModelURL, v.Model, aliases)
		if err != nil {
			c.Reason = tr(pb, "no capture of the MLflow UI: ", "pas de capture de l'interface MLflow : ") + err.Error()
		} else {
			c.PNG = png
		}
	}
	notebook.Update(pb, func(rec *record.Run) { rec.Evidence.Captures = append(rec.Evidence.Captures, c) })
	if c.PNG == nil {
		pb.Printf("%s\n", c.Reason)
	}
}
