package steps

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// Tags promote and rollback set.
const (
	TagArchived        = "archived"
	TagArchivedAt      = "archived_at"
	TagSupersededBy    = "superseded_by"
	TagPromotedAt      = "promoted_at"
	TagPromotedBy      = "promoted_by"
	TagPreviousVersion = "previous_version"
	TagRollbackReason  = "rollback_reason"
	TagRolledBackAt    = "rolled_back_at"
	TagRolledBackBy    = "rolled_back_by"
	TagRolledBackFrom  = "rolled_back_from"
)

// PromoteOptions configures [Promote].
type PromoteOptions struct {
	// Alias is the production alias; "" means DefaultProductionAlias.
	Alias string
	// Force promotes even when the production alias moved since the
	// scenario started, or the candidate alias moved away from the
	// candidate.
	Force bool
}

// Promotion is what Promote (or Rollback) did to the production alias.
type Promotion struct {
	Kind           string // record.PromotionPromote or record.PromotionRollback
	Model          string
	Alias          string
	CandidateAlias string
	// Version holds the alias now; Previous held it just before; AtStart
	// held it when the run first read the model ("" for none).
	Version  string
	Previous string
	AtStart  string
	// Moved is false when Version already held the alias.
	Moved  bool
	Forced bool
	DryRun bool
	Reason string
	At     time.Time
	By     string
	// Candidate is the version promote was asked to promote when it left
	// production unchanged because its fitted model is the same as that
	// of SameAs, the version holding the alias (then Version = SameAs and
	// Moved is false).
	Candidate string
	SameAs    string
	// Comparison compares the candidate's model files with the production
	// version's (nil when no other version held the alias).
	Comparison *record.ModelComparison

	intent string // the value of the intent tag this move wrote
}

// Promote moves the production alias to the candidate's version, as a
// careful engineer would:
//
//   - it refuses unless the version's validation_status, read back from the
//     registry, is passed;
//   - it refuses when the production alias no longer points to the version
//     it pointed to when the scenario started (someone else promoted
//     meanwhile), or the candidate alias moved away, unless opts.Force;
//   - it moves the alias, reads it back and refuses when another promotion
//     moved it in between (setting an alias is an unconditional upsert:
//     MLflow has no compare-and-swap);
//   - it tags the old version archived (archived=true, archived_at,
//     superseded_by) and the new one promoted (promoted_at, promoted_by,
//     previous_version).
//
// The candidate alias stays on the version. Refusals are *GateError values:
// playbook exits 3.
func Promote(pb *Playbook, cand *Candidate, opts PromoteOptions) *Promotion {
	if cand == nil {
		failf("promote: no candidate: pass the result of steps.Alias")
	}
	if opts.Alias == "" {
		opts.Alias = DefaultProductionAlias
	}
	if err := mlflow.ValidateAlias(opts.Alias); err != nil {
		failf("production alias %q: %w", opts.Alias, err)
	}
	r := openRegistry(pb)
	before := r.before(cand.Model)
	atStart := before.Aliases[opts.Alias]
	r.reconcile(cand.Model, opts.Alias, atStart)

	tags, err := r.versionTags(cand.Model, cand.Version)
	if err != nil {
		fail(err)
	}
	switch status, ok := tags[TagValidationStatus]; {
	case !ok:
		fail(Refuse("promote", "%s version %s has no %s tag (read back from the registry): validate it first", cand.Model, cand.Version, TagValidationStatus))
	case status != StatusPassed:
		fail(Refuse("promote", "%s version %s has %s=%s (read back from the registry): only a version that passed validation is promoted",
			cand.Model, cand.Version, TagValidationStatus, status))
	}
	if cv, ok, err := r.aliasVersion(cand.Model, cand.Alias); err != nil {
		fail(err)
	} else if (!ok || cv != cand.Version) && !opts.Force {
		fail(Refuse("promote", "%s points to %s, not to version %s that this scenario validated: someone moved it meanwhile; rerun the scenario, or pass force=true",
			cand.URI(), versionText(cv), cand.Version))
	}

	p := &Promotion{
		Kind: record.PromotionPromote, Model: cand.Model, Alias: opts.Alias, CandidateAlias: cand.Alias,
		Version: cand.Version, AtStart: atStart, Forced: opts.Force, DryRun: pb.DryRun(), At: now(), By: actor(pb),
	}
	if r.unchanged(p, opts.Force) {
		r.recordPromotion(p)
		return p
	}
	r.finishMove(p, r.move(p, opts.Force))
	r.recordPromotion(p)
	return p
}

// unchanged compares the candidate's fitted model with that of the
// version holding the production alias, when another one holds it (and
// move will not refuse a production moved since the start): the same
// model (sameModel) leaves the alias where it is, and the registry
// unchanged. p then says so; unchanged reports whether it did.
func (r *registry) unchanged(p *Promotion, force bool) bool {
	cur, ok, err := r.aliasVersion(p.Model, p.Alias)
	if err != nil {
		fail(err)
	}
	if !ok || cur == p.Version || (cur != p.AtStart && !force) {
		return false
	}
	cmp, err := r.sameModel(p.Model, p.Version, cur)
	if err != nil {
		// Models that cannot be compared are not the same: the
		// promotion goes on, saying why.
		p.Comparison = &record.ModelComparison{Method: digestMethod, IgnoredFields: slices.Clone(mlmodelRunFields), Error: err.Error()}
		r.pb.Printf("%s\n", trf(r.pb, "the candidate's model could not be compared with that of version %s, which holds %s (%s): promoting it", cur, p.Alias, err))
		return false
	}
	p.Comparison = cmp
	if !cmp.Same {
		return false
	}
	p.Candidate, p.SameAs, p.Version, p.Previous = p.Version, cur, cur, cur
	r.pb.Printf("%s\n", trf(r.pb, "unchanged: version %s has the same fitted parameters as version %s, which holds %s (%s): %s stays on version %s; nothing was changed", p.Candidate, cur, p.Alias, cmp.Candidate.Digest, p.Alias, cur))
	return true
}

// finishMove tags a move of p from previous that was made (p.Moved), reads
// the alias back — a promotion that lost a race to another leaves no tag
// claiming it — and deletes the move's intent.
func (r *registry) finishMove(p *Promotion, previous string) {
	if !p.Moved {
		return
	}
	if err := r.tagMove(p, previous); err != nil {
		fail(err)
	}
	r.settled(p, func(holder string) { r.undoClaims(p, previous, holder) })
	r.endMove(p)
}

// move points p.Alias at p.Version, unless it already points there, and
// returns the version it pointed to before ("" for none). It refuses when
// the alias moved since the run first read the model (unless force), and
// when another client moved it right after.
func (r *registry) move(p *Promotion, force bool) string {
	cur, _, err := r.aliasVersion(p.Model, p.Alias)
	if err != nil {
		fail(err)
	}
	p.Previous = cur
	if cur != p.AtStart {
		if !force {
			fail(Refuse(p.Kind, "%s of %s moved from %s (when this scenario started) to %s since: someone else changed production meanwhile; nothing was changed; rerun the scenario, or pass force=true to override",
				p.Alias, p.Model, versionText(p.AtStart), versionText(cur)))
		}
		r.pb.Printf("%s\n", trf(r.pb, "force: %s moved from %s to %s since the scenario started; moving it anyway", p.Alias, versionText(p.AtStart), versionText(cur)))
	}
	if cur == p.Version {
		r.pb.Printf("%s\n", trf(r.pb, "%s already points to version %s: nothing to move", p.Alias, p.Version))
		return cur
	}
	r.beginMove(p, cur)
	if err := r.setAlias(p.Model, p.Alias, p.Version); err != nil {
		// Two clients setting a new alias at once can make the server
		// refuse one (MLflow's upsert is a read then an insert): when the
		// alias moved meanwhile, that is a race lost, said as such.
		if got, ok, rerr := r.aliasVersion(p.Model, p.Alias); rerr == nil && ok && got != cur && got != p.Version {
			r.endMove(p)
			fail(Refuse(p.Kind, "moving %s of %s from %s to version %s failed (%s), and the alias now points to %s: another promotion moved it meanwhile (MLflow has no compare-and-swap on aliases); version %s is not in production; check the model's page and rerun",
				p.Alias, p.Model, versionText(cur), p.Version, firstLine(err.Error()), versionText(got), p.Version))
		}
		failf("moving %s of %s to version %s: %w", p.Alias, p.Model, p.Version, err)
	}
	p.Moved = true
	r.settled(p, func(string) { r.endMove(p) })
	return cur
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// settled reads the alias back: another client moving it right after this
// step did is a refusal that says what was seen, after undo(holder) took
// back what this step claimed.
func (r *registry) settled(p *Promotion, undo func(holder string)) {
	got, _, err := r.aliasVersion(p.Model, p.Alias)
	if err != nil {
		fail(err)
	}
	if got != p.Version {
		undo(got)
		fail(Refuse(p.Kind, "right after this scenario moved %s of %s from %s to version %s, the alias pointed to %s: another promotion moved it meanwhile (MLflow has no compare-and-swap on aliases); version %s is not in production; check the model's page and rerun",
			p.Alias, p.Model, versionText(p.Previous), p.Version, versionText(got), p.Version))
	}
}

// unarchive removes the archive tags of a version that holds production
// again.
func (r *registry) unarchive(model, version string, tags map[string]string) {
	for _, k := range []string{TagArchived, TagArchivedAt, TagSupersededBy} {
		if _, ok := tags[k]; ok {
			if err := r.deleteTag(model, version, k); err != nil {
				failf("deleting tag %s of %s version %s: %w", k, model, version, err)
			}
		}
	}
}

// recordPromotion keeps p in the evidence and shows it.
func (r *registry) recordPromotion(p *Promotion) {
	pb := r.pb
	notebook.Update(pb, func(rec *record.Run) {
		rec.Evidence.Promotion = &record.Promotion{
			Kind: p.Kind, Model: p.Model, Alias: p.Alias, CandidateAlias: p.CandidateAlias,
			Version: p.Version, Previous: p.Previous, AtStart: p.AtStart, Moved: p.Moved,
			Forced: p.Forced, DryRun: p.DryRun, Reason: p.Reason, Time: p.At, By: p.By,
			Candidate: p.Candidate, SameAs: p.SameAs, Comparison: p.Comparison,
		}
	})
	title := tr(pb, "Promotion")
	if p.Kind == record.PromotionRollback {
		title = tr(pb, "Rollback")
	}
	what := fmt.Sprintf("%s: %s → version %s", p.Alias, r.versionWord(p.Previous), p.Version)
	if !p.Moved {
		what = fmt.Sprintf("%s: version %s (%s)", p.Alias, p.Version, tr(pb, "unchanged"))
	}
	kv := []any{
		tr(pb, "model"), p.Model,
		tr(pb, "production"), what,
		tr(pb, "at scenario start"), r.versionWord(p.AtStart),
	}
	if p.SameAs != "" {
		kv = append(kv, tr(pb, "candidate"), fmt.Sprintf("version %s", p.Candidate),
			tr(pb, "reason"), fmt.Sprintf(tr(pb, "same fitted parameters as version %s"), p.SameAs))
	}
	if c := p.Comparison; c != nil && c.Error == "" {
		kv = append(kv, tr(pb, "candidate's model"), fmt.Sprintf("version %s: %s", c.Candidate.Version, c.Candidate.Digest),
			tr(pb, "production's model"), fmt.Sprintf("version %s: %s", c.Production.Version, c.Production.Digest))
	}
	if p.Previous != "" && p.Previous != p.Version {
		kv = append(kv, tr(pb, "archived"), fmt.Sprintf("version %s (%s=true, %s=%s)", p.Previous, TagArchived, TagSupersededBy, p.Version))
	}
	if p.Reason != "" {
		kv = append(kv, tr(pb, "reason"), p.Reason)
	}
	kv = append(kv, tr(pb, "when"), stamp(p.At), tr(pb, "by"), p.By)
	if p.Forced {
		kv = append(kv, "force", true)
	}
	if p.DryRun {
		kv = append(kv, tr(pb, "dry run"), tr(pb, "nothing was sent"))
	}
	pb.KV(title, kv...)
}
