package steps

import (
	"maps"
	"slices"
	"strconv"

	"github.com/playbook-mlops/playbook/mlflow"
)

// Aliases and tags the promotion steps use.
const (
	DefaultCandidateAlias  = "staging-candidate"
	DefaultProductionAlias = "production-live"

	TagValidationStatus = "validation_status"
	StatusPending       = "pending"
	StatusPassed        = "passed"
	StatusFailed        = "failed"
)

// Candidate is a model version under an alias, waiting for validation.
type Candidate struct {
	Model   string
	Version string
	Alias   string
	Source  string
	RunID   string
	// Tags are the tags Alias set.
	Tags   map[string]string
	DryRun bool
	// From is the registered version.
	From *Version
}

// URI returns models:/MODEL@ALIAS.
func (c *Candidate) URI() string {
	return mlflow.ModelURI{Name: c.Model, Alias: c.Alias}.String()
}

// Alias points alias ("" means DefaultCandidateAlias) at the version and
// tags the version with its status and context: validation_status=pending,
// the source run, the metric it was selected by and its value, when and by
// whom.
//
// notAliases are aliases the candidate alias must not be — pass the
// production alias: pointing it at an unvalidated version would put that
// version in production before validation. A version that already holds
// one of them keeps its validation_status (it is not demoted to pending).
func Alias(pb *Playbook, v *Version, alias string, notAliases ...string) *Candidate {
	if v == nil {
		failf("alias: no version: pass the result of steps.Register")
	}
	if alias == "" {
		alias = DefaultCandidateAlias
	}
	for _, other := range notAliases {
		if alias == other {
			failf("alias: the candidate alias %q is also the production alias: pointing it at version %s before validation would put an unvalidated version in production; give the candidate another alias", alias, v.Version)
		}
	}
	if err := mlflow.ValidateAlias(alias); err != nil {
		failf("alias %q: %w", alias, err)
	}
	r := openRegistry(pb)
	r.before(v.Model)

	if err := r.setAlias(v.Model, alias, v.Version); err != nil {
		// Two clients creating the alias at once can make the server refuse
		// one: when the alias points elsewhere now, that is a race lost.
		if got, ok, rerr := r.aliasVersion(v.Model, alias); rerr == nil && ok && got != v.Version {
			fail(Refuse("alias", "pointing %s of %s at version %s failed (%s), and it now points to version %s: someone moved it meanwhile (MLflow has no compare-and-swap on aliases); rerun the scenario",
				alias, v.Model, v.Version, firstLine(err.Error()), got))
		}
		failf("pointing alias %s of %q at version %s: %w", alias, v.Model, v.Version, err)
	}
	tags := map[string]string{
		TagValidationStatus: StatusPending,
		"source_run_id":     v.RunID,
		"candidate_at":      stamp(now()),
		"candidate_by":      actor(pb),
	}
	if run := v.Run; run != nil {
		tags["source_run_name"] = run.RunName
		tags["source_experiment"] = run.Experiment
		tags["selection_metric"] = run.Metric
		tags["selection_metric_value"] = strconv.FormatFloat(run.Value, 'g', 6, 64)
	}
	// A version in production keeps its validation: pointing the
	// candidate alias at it must not demote it to pending.
	for _, prod := range notAliases {
		if pv, ok, err := r.aliasVersion(v.Model, prod); err != nil {
			fail(err)
		} else if ok && pv == v.Version {
			old, err := r.versionTags(v.Model, v.Version)
			if err != nil {
				fail(err)
			}
			if status, ok := old[TagValidationStatus]; ok {
				delete(tags, TagValidationStatus)
				pb.Printf("%s\n", trf(pb, "version %s holds %s: its %s=%s is kept (validate with revalidate to re-check it)", v.Version, prod, TagValidationStatus, status))
			}
			break
		}
	}
	if err := r.setTags(v.Model, v.Version, tags); err != nil {
		fail(err)
	}
	c := &Candidate{Model: v.Model, Version: v.Version, Alias: alias, Source: v.Source, RunID: v.RunID, Tags: tags, DryRun: pb.DryRun(), From: v}
	kv := []any{tr(pb, "model"), v.Model, "alias", alias, "version", v.Version, "URI", c.URI()}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		kv = append(kv, "tag "+k, tags[k])
	}
	pb.KV(tr(pb, "Candidate"), kv...)
	return c
}
