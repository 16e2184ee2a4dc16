package steps

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/playbook-mlops/playbook/internal/regsnap"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// Call outcomes, in record.Call.Outcome, besides the server's error text.
const (
	OutcomeOK      = "ok"
	OutcomeNotSent = "not sent (dry run)"
)

// registry is a step's access to the model registry. Every call that
// changes the registry goes through change, which records it (time, step,
// endpoint, arguments, outcome, duration) and, under --dry-run, records it
// without sending it. Reads see the registry as the dry run's planned
// changes would leave it.
type registry struct {
	pb    *Playbook
	c     *mlflow.Client
	ctx   context.Context
	s     *session
	calls []record.Call // the changes made through this registry
}

// openRegistry returns the current step's access to the registry; it fails
// the step when the run has no tracking server.
func openRegistry(pb *Playbook) *registry {
	c, err := pb.Client()
	if err != nil {
		fail(err)
	}
	return &registry{pb: pb, c: c, ctx: pb.Context(), s: sessionOf(pb)}
}

// change sends one registry change through send, or, under --dry-run, does
// not; either way it records the call.
func (r *registry) change(method, endpoint string, args map[string]any, send func(ctx context.Context) error) error {
	call := record.Call{
		Time: time.Now(), Step: r.pb.Step(), Method: method, Endpoint: "/api/2.0/mlflow/" + endpoint,
		Args: args, DryRun: r.pb.DryRun(),
	}
	var err error
	if call.DryRun {
		call.Outcome = OutcomeNotSent
	} else {
		start := time.Now()
		err = send(r.ctx)
		call.Duration = record.Duration(time.Since(start))
		call.Outcome = OutcomeOK
		if err != nil {
			if uncertain(err) {
				err = &mayHaveApplied{err: err}
			}
			call.Outcome = err.Error()
		}
	}
	notebook.RecordCall(r.pb, call)
	r.calls = append(r.calls, call)
	return err
}

// createModel creates a registered model. It reports false, and no error,
// when another client created it first.
func (r *registry) createModel(name, description string) (bool, error) {
	args := map[string]any{"name": name}
	if description != "" {
		args["description"] = description
	}
	err := r.change("POST", "registered-models/create", args, func(ctx context.Context) error {
		_, err := r.c.CreateRegisteredModel(ctx, name, nil, description)
		return err
	})
	switch {
	case errors.Is(err, mlflow.ErrAlreadyExists):
		return false, nil
	case err != nil:
		return false, err
	}
	if r.pb.DryRun() {
		r.lock(func() { r.s.plan(name).modelCreated = true })
	}
	return true, nil
}

// createVersion registers a model version whose files are at artifactURI.
// A dry run returns the version it would have created, numbered
// DryRunVersion, and plans its files for the steps after.
func (r *registry) createVersion(req mlflow.CreateModelVersionRequest, artifactURI string) (*mlflow.ModelVersion, error) {
	args := map[string]any{"name": req.Name, "source": req.Source, "run_id": req.RunID}
	if req.RunLink != "" {
		args["run_link"] = req.RunLink
	}
	if req.ModelID != "" {
		args["model_id"] = req.ModelID
	}
	var mv *mlflow.ModelVersion
	err := r.change("POST", "model-versions/create", args, func(ctx context.Context) error {
		var err error
		mv, err = r.c.CreateModelVersion(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if r.pb.DryRun() {
		mv = &mlflow.ModelVersion{
			Name: req.Name, Version: DryRunVersion, Source: req.Source, RunID: req.RunID, RunLink: req.RunLink,
			Status: mlflow.ModelVersionReady, ModelID: req.ModelID,
		}
		r.lock(func() { r.s.plan(req.Name).versions[DryRunVersion] = artifactURI })
	}
	return mv, nil
}

// setAlias points alias at version.
func (r *registry) setAlias(model, alias, version string) error {
	args := map[string]any{"name": model, "alias": alias, "version": version}
	err := r.change("POST", "registered-models/alias", args, func(ctx context.Context) error {
		return r.c.SetRegisteredModelAlias(ctx, model, alias, version)
	})
	err = r.readBack(err, fmt.Sprintf("%s of %s pointing to version %s", alias, model, version), func() (bool, error) {
		got, ok, err := r.aliasVersion(model, alias)
		return ok && got == version, err
	})
	if err == nil && r.pb.DryRun() {
		r.lock(func() { r.s.plan(model).aliases[alias] = version })
	}
	return err
}

// setTag sets a model version's tag.
func (r *registry) setTag(model, version, key, value string) error {
	args := map[string]any{"name": model, "version": version, "key": key, "value": value}
	err := r.change("POST", "model-versions/set-tag", args, func(ctx context.Context) error {
		return r.c.SetModelVersionTag(ctx, model, version, key, value)
	})
	err = r.readBack(err, fmt.Sprintf("tag %s=%q on %s version %s", key, value, model, version), func() (bool, error) {
		tags, err := r.versionTags(model, version)
		got, ok := tags[key]
		return ok && got == value, err
	})
	if err == nil && r.pb.DryRun() {
		r.lock(func() { r.planTag(model, version, key, &value) })
	}
	return err
}

// deleteTag deletes a model version's tag.
func (r *registry) deleteTag(model, version, key string) error {
	args := map[string]any{"name": model, "version": version, "key": key}
	err := r.change("DELETE", "model-versions/delete-tag", args, func(ctx context.Context) error {
		return r.c.DeleteModelVersionTag(ctx, model, version, key)
	})
	err = r.readBack(err, fmt.Sprintf("tag %s deleted from %s version %s", key, model, version), func() (bool, error) {
		tags, err := r.versionTags(model, version)
		_, ok := tags[key]
		return !ok, err
	})
	if err == nil && r.pb.DryRun() {
		r.lock(func() { r.planTag(model, version, key, nil) })
	}
	return err
}

// mayHaveApplied is the error of a registry change whose reply was lost:
// the server may have applied it.
type mayHaveApplied struct{ err error }

func (e *mayHaveApplied) Error() string {
	return "no reply, the change may have been applied: " + e.err.Error()
}

func (e *mayHaveApplied) Unwrap() error { return e.err }

// uncertain reports whether a failed change may still have reached the
// server (see mlflow.APIError.MayHaveApplied).
func uncertain(err error) bool {
	var api *mlflow.APIError
	return errors.As(err, &api) && api.MayHaveApplied && !errors.Is(err, context.Canceled)
}

// readBack settles a change that may have been applied (err is a
// *mayHaveApplied): applied reads the registry to learn whether what
// describes holds. It returns nil when it does (the step goes on, saying
// so), else err completed with what the read showed.
func (r *registry) readBack(err error, what string, applied func() (bool, error)) error {
	var lost *mayHaveApplied
	if !errors.As(err, &lost) {
		return err
	}
	ok, rerr := applied()
	switch {
	case rerr != nil:
		return stepErrorf("%w; reading it back failed too (%s): the registry may hold %s; rerun the scenario once the server answers: an interrupted promotion is completed or reversed", err, firstLine(rerr.Error()), what)
	case ok:
		r.pb.Printf("%s\n", trf(r.pb, "the reply was lost, but the registry read back shows %s: the change was applied", what))
		return nil
	}
	return stepErrorf("%w; read back: not applied (the registry does not hold %s)", err, what)
}

// setTags sets tags on a version, in key order, stopping at the first error.
func (r *registry) setTags(model, version string, tags map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		if err := r.setTag(model, version, k, tags[k]); err != nil {
			return stepErrorf("setting tag %s=%q on %s version %s: %w", k, tags[k], model, version, err)
		}
	}
	return nil
}

func (r *registry) planTag(model, version, key string, value *string) {
	pl := r.s.plan(model)
	if pl.tags[version] == nil {
		pl.tags[version] = map[string]*string{}
	}
	pl.tags[version][key] = value
}

func (r *registry) lock(f func()) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	f()
}

// plannedAlias returns the version a dry run planned for alias, if any.
func (r *registry) plannedAlias(model, alias string) (string, bool) {
	var v string
	var ok bool
	r.lock(func() {
		if pl := r.s.plans[model]; pl != nil {
			v, ok = pl.aliases[alias]
		}
	})
	return v, ok
}

// plannedSource returns where the files of a version a dry run planned are.
func (r *registry) plannedSource(model, version string) (string, bool) {
	var src string
	var ok bool
	r.lock(func() {
		if pl := r.s.plans[model]; pl != nil {
			src, ok = pl.versions[version]
		}
	})
	return src, ok
}

// aliasVersion returns the version alias points to, as a dry run's plan
// would leave it; ok is false when the alias (or the model) does not exist.
func (r *registry) aliasVersion(model, alias string) (string, bool, error) {
	if v, ok := r.plannedAlias(model, alias); ok {
		return v, true, nil
	}
	mv, err := r.c.GetModelVersionByAlias(r.ctx, model, alias)
	if errors.Is(err, mlflow.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, stepErrorf("reading alias %s of model %q: %w", alias, model, err)
	}
	return mv.Version, true, nil
}

// versionTags returns a version's tags, as a dry run's plan would leave
// them. A version that does not exist is an error matching
// mlflow.ErrNotFound.
func (r *registry) versionTags(model, version string) (map[string]string, error) {
	tags := map[string]string{}
	if _, planned := r.plannedSource(model, version); !planned {
		mv, err := r.c.GetModelVersion(r.ctx, model, version)
		if err != nil {
			return nil, stepErrorf("reading version %s of model %q: %w", version, model, err)
		}
		for _, t := range mv.Tags {
			tags[t.Key] = t.Value
		}
	}
	r.lock(func() {
		if pl := r.s.plans[model]; pl != nil {
			for k, v := range pl.tags[version] {
				if v == nil {
					delete(tags, k)
				} else {
					tags[k] = *v
				}
			}
		}
	})
	return tags, nil
}

// modelFilter returns the search filter selecting model's versions.
func modelFilter(model string) (string, error) { return regsnap.ModelFilter(model) }

// snapshot reads a model's aliases and the tags of each of its versions,
// as a dry run's plan would leave them. A model that does not exist gives
// an empty snapshot.
func (r *registry) snapshot(model, label string) (record.Snapshot, error) {
	s, err := regsnap.Take(r.ctx, r.c, model, label)
	if err != nil {
		return s, err
	}
	r.lock(func() {
		pl := r.s.plans[model]
		if pl == nil {
			return
		}
		for v := range pl.versions {
			s.Versions = append(s.Versions, record.VersionSnapshot{Version: v, Tags: map[string]string{}, Aliases: []string{}})
		}
		for a, v := range pl.aliases {
			if v == "" { // deleted
				delete(s.Aliases, a)
			} else {
				s.Aliases[a] = v
			}
		}
		for i := range s.Versions {
			for k, v := range pl.tags[s.Versions[i].Version] {
				if v == nil {
					delete(s.Versions[i].Tags, k)
				} else {
					s.Versions[i].Tags[k] = *v
				}
			}
		}
	})
	regsnap.Normalize(&s)
	return s, nil
}

// versionLess orders version numbers numerically, a dry run's planned
// version last.
func versionLess(a, b string) bool { return regsnap.VersionLess(a, b) }

// before returns the state of model when the run first read it, reading it
// now (and showing it as the "before" snapshot) when this is the first
// time.
func (r *registry) before(model string) record.Snapshot {
	s, err := r.keepBefore(model)
	if err != nil {
		fail(err)
	}
	return s
}

// keepBefore is before returning its error instead of failing the step.
func (r *registry) keepBefore(model string) (record.Snapshot, error) {
	var snap *record.Snapshot
	r.lock(func() { snap = r.s.before[model] })
	if snap != nil {
		return *snap, nil
	}
	s, err := r.snapshot(model, "before")
	if err != nil {
		return s, err
	}
	r.lock(func() {
		if r.s.before[model] == nil {
			r.s.before[model] = &s
		}
		snap = r.s.before[model]
	})
	if snap.Time.Equal(s.Time) {
		notebook.KeepSnapshot(r.pb, s)
	}
	return *snap, nil
}

// versionText returns "version N", or "no version" for "", for errors:
// a versionRef, said in French in a French scenario's errors.
func versionText(v string) versionRef { return versionRef(v) }

// versionRef is a version number in an error's arguments; "" is no
// version. localizeArgs says it in the scenario's language.
type versionRef string

func (v versionRef) String() string {
	if v == "" {
		return "no version"
	}
	return "version " + string(v)
}

// LocalizeText returns v in the words of lang.
// In French, "la version N" (the formats say "de %s", "vers %s").
func (v versionRef) LocalizeText(lang string) string {
	switch {
	case !french(lang):
		return v.String()
	case v == "":
		return "aucune version"
	}
	return "la version " + string(v)
}

// versionWord is versionText in the scenario's language, for what steps
// show.
func (r *registry) versionWord(v string) string {
	if v == "" {
		return tr(r.pb, "no version")
	}
	return "version " + v
}
