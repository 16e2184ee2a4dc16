package steps

import (
	"fmt"
	"net/url"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// session is what the promotion steps of one run remember between cells
// beyond the values cells pass along: the state of each registered model
// when the run first read it (the "before" snapshot, which says which
// version held the production alias at scenario start), and, under
// --dry-run, the changes planned but not sent, so that later steps see the
// registry as it would be.
type session struct {
	mu     sync.Mutex
	before map[string]*record.Snapshot // model → its state at first read
	plans  map[string]*plan            // model → changes not sent (dry run)
	// touched are the models a RegistryClient changed, whose "after"
	// snapshot the run's end keeps.
	touched map[string]bool
}

// plan is the registry changes a dry run did not send, for one model.
type plan struct {
	modelCreated bool
	versions     map[string]string             // planned version → source
	aliases      map[string]string             // alias → version; "": deleted
	tags         map[string]map[string]*string // version → key → value; nil: deleted
}

// sessions maps each live Playbook to its session. The key is weak, and a
// Playbook's entry goes when the Playbook is collected.
var sessions sync.Map // weak.Pointer[Playbook] → *session

func sessionOf(pb *Playbook) *session {
	key := weak.Make(pb)
	if s, ok := sessions.Load(key); ok {
		return s.(*session)
	}
	s, loaded := sessions.LoadOrStore(key, &session{before: map[string]*record.Snapshot{}, plans: map[string]*plan{}})
	if !loaded {
		runtime.AddCleanup(pb, func(k weak.Pointer[Playbook]) { sessions.Delete(k) }, key)
	}
	return s.(*session)
}

// plan returns the dry-run plan of model, creating it.
func (s *session) plan(model string) *plan {
	pl := s.plans[model]
	if pl == nil {
		pl = &plan{versions: map[string]string{}, aliases: map[string]string{}, tags: map[string]map[string]*string{}}
		s.plans[model] = pl
	}
	return pl
}

// DryRunVersion is the version number a dry run gives the model version it
// would have created.
const DryRunVersion = "(dry-run)"

// fail ends the current step with err: a cell cannot return an error, so
// step functions panic with it, and the runner reports it at the cell's
// line (a *GateError as a refusal, exit status 3).
func fail(err error) {
	panic(err)
}

// failf ends the current step with an error formatted as fmt.Errorf does.
func failf(format string, a ...any) {
	panic(stepErrorf(format, a...))
}

// lang returns the scenario's language ("fr", "en", or "").
func lang(pb *Playbook) string {
	var l string
	notebook.Update(pb, func(r *record.Run) { l = r.Scenario.Lang })
	return strings.ToLower(l)
}

// tr returns en in the scenario's language: its French from the
// catalogue (catalogTextFR) when the scenario is in French. What steps
// show follows the scenario's language.
func tr(pb *Playbook, en string) string { return trIn(lang(pb), en) }

// trIn returns en in the language l.
func trIn(l, en string) string {
	if french(l) {
		if fr, ok := catalogTextFR[en]; ok {
			return fr
		}
	}
	return en
}

// quoted returns s quoted in the scenario's language: « s » in French,
// "s" (as %q) else.
func quoted(pb *Playbook, s string) string {
	if french(lang(pb)) {
		return "« " + s + " »"
	}
	return strconv.Quote(s)
}

// trf formats tr(pb, format) with a as fmt.Sprintf does, each value that
// can say itself in the scenario's language (a version) said so.
func trf(pb *Playbook, format string, a ...any) string {
	l := lang(pb)
	return fmt.Sprintf(trIn(l, format), localizeArgs(l, a)...)
}

// actor returns who runs the scenario, as user@host of the operating
// system; when the tracking server knows the run's credentials as an
// MLflow user, that user first: "alice (OS root@vm)", or, not verified
// (a JWT's claim, a server without users), "alice (unverified, OS
// root@vm)".
func actor(pb *Playbook) string {
	var a *record.Actor
	notebook.Update(pb, func(r *record.Run) { a = r.Environment.Actor })
	local := osActor(pb)
	switch {
	case a == nil || a.Name == "":
		return local
	case a.Verified:
		return a.Name + " (OS " + local + ")"
	}
	return a.Name + " (unverified, OS " + local + ")"
}

// osActor returns who runs the scenario, as user@host of the operating
// system.
func osActor(pb *Playbook) string {
	var u, h string
	notebook.Update(pb, func(r *record.Run) { u, h = r.Environment.User, r.Environment.Host })
	if u == "" {
		if cu, err := user.Current(); err == nil {
			u = cu.Username
		}
	}
	if u == "" {
		u = os.Getenv("USER")
	}
	if h == "" {
		h, _ = os.Hostname()
	}
	return u + "@" + h
}

// now returns the current time in UTC, to the second, as tags record it.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// stamp formats t as RFC 3339 in UTC.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// uiBase returns the MLflow UI's address: the tracking URI without
// credentials, query or trailing slash.
func uiBase(c *mlflow.Client) string {
	raw := c.TrackingURI()
	u, err := url.Parse(raw)
	if err != nil {
		return strings.TrimRight(mlflow.RedactURL(raw), "/")
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return strings.TrimRight(u.String(), "/")
}

// RunURL returns the MLflow UI's page of a run; the embedded server's
// registry page answers the same link.
func RunURL(c *mlflow.Client, experimentID, runID string) string {
	return uiBase(c) + "/#/experiments/" + url.PathEscape(experimentID) + "/runs/" + url.PathEscape(runID)
}

// ModelURL returns the MLflow UI's page of a registered model; the
// embedded server's registry page answers the same link.
func ModelURL(c *mlflow.Client, model string) string {
	return uiBase(c) + "/#/models/" + url.PathEscape(model)
}

// ModelVersionURL returns the MLflow UI's page of a version of a
// registered model; the embedded server's registry page answers the same
// link.
func ModelVersionURL(c *mlflow.Client, model, version string) string {
	return ModelURL(c, model) + "/versions/" + url.PathEscape(version)
}
