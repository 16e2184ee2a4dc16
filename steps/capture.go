package steps

import (
	"slices"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/record"
)

// embeddedVersionMark is the build metadata the embedded registry adds to
// the MLflow version /version answers ("3.18.0+playbook"): it has no UI.
const embeddedVersionMark = "+playbook"

// capture screenshots the model's page in the MLflow UI, aliases visible,
// as the evidence the exercise's seventh section asks for, and records it;
// when there can be no capture it records why instead. A failed capture
// never fails the step: the registry checks already decided.
func (v *Verification) capture(pb *Playbook, r *registry) {
	c := record.Capture{
		Step: pb.Step(), Title: v.Model + " — MLflow UI", URL: v.ModelURL,
		Time: time.Now().UTC(), Width: browser.CaptureWidth, Height: browser.CaptureHeight,
	}
	var aliases []string
	for a := range v.After.Aliases {
		aliases = append(aliases, a)
	}
	slices.Sort(aliases)
	switch version, err := r.c.ServerVersion(pb.Context()); {
	case pb.DryRun():
		c.Reason = pb.tr("dry run: the registry was not changed, so there is nothing to capture",
			"essai à blanc : le registre n'a pas changé, il n'y a rien à capturer")
	case err != nil:
		c.Reason = pb.tr("the server's version could not be read: ", "la version du serveur n'a pas pu être lue : ") + err.Error()
	case strings.Contains(version, embeddedVersionMark):
		c.Reason = pb.tr("embedded registry: it has no MLflow UI to capture",
			"registre embarqué : il n'a pas d'interface MLflow à capturer")
	default:
		png, err := browser.CaptureModelPage(pb.Context(), v.ModelURL, v.Model, aliases)
		if err != nil {
			c.Reason = pb.tr("no capture of the MLflow UI: ", "pas de capture de l'interface MLflow : ") + err.Error()
		} else {
			c.PNG = png
		}
	}
	pb.update(func(rec *record.Run) { rec.Evidence.Captures = append(rec.Evidence.Captures, c) })
	if c.PNG == nil {
		pb.Printf("%s\n", c.Reason)
	}
}
