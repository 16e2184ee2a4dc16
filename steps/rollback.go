package steps

import (
	"errors"
	"strings"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// RollbackOptions configures [Rollback].
type RollbackOptions struct {
	// Model is the registered model; "" means DefaultModelName.
	Model string
	// Alias is the production alias; "" means DefaultProductionAlias.
	Alias string
	// To is the version to move production back to; "" means the version
	// the current production version superseded: its previous_version tag,
	// else the newest version tagged archived=true and superseded_by it.
	To string
	// Reason says why; it is required and kept as the rollback_reason tag.
	Reason string
	// Force rolls back even when production moved since the scenario
	// started.
	Force bool
}

// Rollback moves the production alias back to an earlier version (the one
// the current production version superseded, or opts.To) and says why: the
// restored version is tagged rollback_reason, rolled_back_at,
// rolled_back_by and rolled_back_from, and loses its archive tags; the
// version rolled back from is tagged archived (archived_at, superseded_by)
// with the reason. A target version that does not exist, or no version to
// go back to, fails the step; production moving meanwhile is a refusal, as
// in Promote.
func Rollback(pb *Playbook, opts RollbackOptions) *Promotion {
	if opts.Model == "" {
		opts.Model = DefaultModelName
	}
	if opts.Alias == "" {
		opts.Alias = DefaultProductionAlias
	}
	opts.Reason = strings.TrimSpace(opts.Reason)
	if opts.Reason == "" {
		failf("rollback: no reason given: say why production goes back (it is kept as the %s tag)", TagRollbackReason)
	}
	if _, err := modelFilter(opts.Model); err != nil {
		fail(err)
	}
	r := openRegistry(pb)
	if _, err := r.c.GetRegisteredModel(r.ctx, opts.Model); errors.Is(err, mlflow.ErrNotFound) {
		failf("rollback: registered model %q not found on %s", opts.Model, r.c.TrackingURI())
	} else if err != nil {
		failf("rollback: reading model %q: %w", opts.Model, err)
	}
	before := r.before(opts.Model)
	cur, ok := before.Aliases[opts.Alias]
	if !ok {
		failf("rollback: no version of %q holds %s: there is nothing to roll back", opts.Model, opts.Alias)
	}
	r.reconcile(opts.Model, opts.Alias, cur)
	curTags, err := r.versionTags(opts.Model, cur)
	if err != nil {
		fail(err)
	}
	target := opts.To
	if target == "" {
		target = r.rollbackTarget(before, cur, curTags, opts)
	}
	targetTags, err := r.versionTags(opts.Model, target)
	if errors.Is(err, mlflow.ErrNotFound) {
		failf("rollback: version %s of %q does not exist", target, opts.Model)
	}
	if err != nil {
		fail(err)
	}
	if target == cur {
		failf("rollback: version %s already holds %s of %q: nothing to roll back to", target, opts.Alias, opts.Model)
	}
	if s := targetTags[TagValidationStatus]; s != StatusPassed {
		pb.Printf("%s\n", trf(pb, "warning: version %s has %s=%s; rolling back to it anyway, as asked", target, TagValidationStatus, s))
	}

	p := &Promotion{
		Kind: record.PromotionRollback, Model: opts.Model, Alias: opts.Alias, Version: target,
		AtStart: cur, Forced: opts.Force, DryRun: pb.DryRun(), Reason: opts.Reason, At: now(), By: actor(pb),
	}
	r.finishMove(p, r.move(p, opts.Force))
	r.recordPromotion(p)
	return p
}

// rollbackTarget finds the version the current production version cur
// superseded.
func (r *registry) rollbackTarget(before record.Snapshot, cur string, curTags map[string]string, opts RollbackOptions) string {
	if prev := curTags[TagPreviousVersion]; prev != "" && prev != "none" {
		return prev
	}
	best := ""
	for _, v := range before.Versions {
		if v.Tags[TagArchived] == "true" && v.Tags[TagSupersededBy] == cur && v.Version != cur {
			if best == "" || versionLess(best, v.Version) {
				best = v.Version
			}
		}
	}
	if best == "" {
		failf("rollback: version %s of %q superseded no archived version (no %s tag, no version tagged %s=true and %s=%s): name the version to roll back to",
			cur, opts.Model, TagPreviousVersion, TagArchived, TagSupersededBy, cur)
	}
	return best
}
