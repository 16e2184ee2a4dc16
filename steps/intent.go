package steps

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// TagIntentPrefix, followed by the production alias, is the registered
// model's tag a promotion (or rollback) writes before it moves the alias
// and deletes once the versions are tagged. A run that finds it finishes
// or reverses the move it describes.
const TagIntentPrefix = "playbook.promotion_intent."

// TagPromotionRepaired marks a production version whose promotion tags a
// run set afterwards, because they were missing.
const TagPromotionRepaired = "promotion_repaired"

// intent is the value of the intent tag: the move about to be made.
type intent struct {
	Kind   string `json:"kind"`
	From   string `json:"from"` // "" for none
	To     string `json:"to"`
	At     string `json:"at"` // the promotion's time, as in its tags
	By     string `json:"by"`
	Reason string `json:"reason,omitempty"`
}

func intentKey(alias string) string { return TagIntentPrefix + alias }

// setModelTag sets a registered model's tag.
func (r *registry) setModelTag(model, key, value string) error {
	args := map[string]any{"name": model, "key": key, "value": value}
	err := r.change("POST", "registered-models/set-tag", args, func(ctx context.Context) error {
		return r.c.SetRegisteredModelTag(ctx, model, key, value)
	})
	return r.readBack(err, fmt.Sprintf("tag %s on model %s", key, model), func() (bool, error) {
		got, ok, err := r.modelTag(model, key)
		return ok && got == value, err
	})
}

// deleteModelTag deletes a registered model's tag.
func (r *registry) deleteModelTag(model, key string) error {
	args := map[string]any{"name": model, "key": key}
	err := r.change("DELETE", "registered-models/delete-tag", args, func(ctx context.Context) error {
		return r.c.DeleteRegisteredModelTag(ctx, model, key)
	})
	return r.readBack(err, fmt.Sprintf("tag %s deleted from model %s", key, model), func() (bool, error) {
		_, ok, err := r.modelTag(model, key)
		return !ok, err
	})
}

// modelTag reads a registered model's tag from the server.
func (r *registry) modelTag(model, key string) (string, bool, error) {
	m, err := r.c.GetRegisteredModel(r.ctx, model)
	if errors.Is(err, mlflow.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, stepErrorf("reading model %q: %w", model, err)
	}
	for _, t := range m.Tags {
		if t.Key == key {
			return t.Value, true, nil
		}
	}
	return "", false, nil
}

// beginMove writes p's intent, before the alias moves from `from`.
func (r *registry) beginMove(p *Promotion, from string) {
	in := intent{Kind: p.Kind, From: from, To: p.Version, At: stamp(p.At), By: p.By, Reason: p.Reason}
	b, _ := json.Marshal(in)
	p.intent = string(b)
	if err := r.setModelTag(p.Model, intentKey(p.Alias), p.intent); err != nil {
		// Two clients writing the tag at once can make the server refuse
		// one (MLflow's set-tag is a read then an insert, and the loser
		// hits the unique key): another intent in its place is a race
		// lost, said as such.
		if raw, ok, rerr := r.modelTag(p.Model, intentKey(p.Alias)); rerr == nil && ok && raw != p.intent {
			p.intent = ""
			var other intent
			_ = json.Unmarshal([]byte(raw), &other)
			fail(Refuse(p.Kind, "writing the intent of moving %s of %s to version %s failed (%s), and the model now holds another one (to version %s, by %s): another promotion is moving it meanwhile; nothing was moved; check the model's page and rerun",
				p.Alias, p.Model, p.Version, firstLine(err.Error()), cmp.Or(other.To, "?"), cmp.Or(other.By, "?")))
		}
		failf("writing the intent of moving %s of %s to version %s (nothing was moved): %w", p.Alias, p.Model, p.Version, err)
	}
}

// endMove deletes p's intent, unless another run's replaced it.
func (r *registry) endMove(p *Promotion) {
	if p.intent == "" {
		return
	}
	if !r.pb.DryRun() {
		raw, ok, err := r.modelTag(p.Model, intentKey(p.Alias))
		if err != nil {
			failf("reading the intent of moving %s of %s back: %w", p.Alias, p.Model, err)
		}
		if !ok || raw != p.intent {
			p.intent = ""
			return
		}
	}
	if err := r.deleteModelTag(p.Model, intentKey(p.Alias)); err != nil {
		failf("deleting the intent of moving %s of %s (the move is complete; the next run clears it): %w", p.Alias, p.Model, err)
	}
	p.intent = ""
}

// tagMove sets the tags a move of p.Alias from previous ("" for none) to
// p.Version leaves: previous archived, p.Version promoted (or rolled back
// to) and no longer archived.
func (r *registry) tagMove(p *Promotion, previous string) error {
	archive := map[string]string{TagArchived: "true", TagArchivedAt: stamp(p.At), TagSupersededBy: p.Version}
	var mark map[string]string
	if p.Kind == record.PromotionRollback {
		archive[TagRollbackReason] = p.Reason
		mark = map[string]string{TagRollbackReason: p.Reason, TagRolledBackAt: stamp(p.At), TagRolledBackBy: p.By, TagRolledBackFrom: previous}
	} else {
		mark = map[string]string{TagPromotedAt: stamp(p.At), TagPromotedBy: p.By, TagPreviousVersion: "none"}
		if previous != "" {
			mark[TagPreviousVersion] = previous
		}
	}
	if previous != "" && previous != p.Version {
		if err := r.setTags(p.Model, previous, archive); err != nil {
			return err
		}
	}
	if err := r.setTags(p.Model, p.Version, mark); err != nil {
		return err
	}
	tags, err := r.versionTags(p.Model, p.Version)
	if err != nil {
		return err
	}
	r.unarchive(p.Model, p.Version, tags)
	return nil
}

// claimTags are the tags by which a version claims a promotion (or a
// rollback) made at `at` by `by`; nil when it makes no such claim.
func claimTags(kind string, tags map[string]string, at, by string) []string {
	if kind == record.PromotionRollback {
		if tags[TagRolledBackAt] == at && tags[TagRolledBackBy] == by {
			return []string{TagRollbackReason, TagRolledBackAt, TagRolledBackBy, TagRolledBackFrom}
		}
		return nil
	}
	if tags[TagPromotedAt] == at && tags[TagPromotedBy] == by {
		return []string{TagPromotedAt, TagPromotedBy, TagPreviousVersion}
	}
	return nil
}

// undoClaims removes what a move of p from previous that did not hold
// (production is on holder) tagged: p.Version's claim to the promotion,
// previous's archive tags naming p.Version as its successor (kept, naming
// holder, when holder superseded previous), and p's intent.
func (r *registry) undoClaims(p *Promotion, previous, holder string) {
	r.dropClaims(p.Kind, p.Model, p.Version, previous, holder, stamp(p.At), p.By)
	r.endMove(p)
}

func (r *registry) dropClaims(kind, model, version, previous, holder, at, by string) {
	if tags, err := r.versionTags(model, version); err == nil {
		for _, k := range claimTags(kind, tags, at, by) {
			if _, ok := tags[k]; ok {
				if err := r.deleteTag(model, version, k); err != nil {
					failf("removing tag %s of %s version %s, which claims a promotion that did not hold: %w", k, model, version, err)
				}
			}
		}
	}
	if previous == "" || previous == version {
		return
	}
	tags, err := r.versionTags(model, previous)
	if err != nil || tags[TagSupersededBy] != version || tags[TagArchivedAt] != at {
		return
	}
	if holder != "" && holder != previous {
		if err := r.setTag(model, previous, TagSupersededBy, holder); err != nil {
			failf("retagging %s version %s superseded by version %s: %w", model, previous, holder, err)
		}
		return
	}
	r.unarchive(model, previous, tags)
	if _, ok := tags[TagRollbackReason]; ok && kind == record.PromotionRollback {
		if err := r.deleteTag(model, previous, TagRollbackReason); err != nil {
			failf("deleting tag %s of %s version %s: %w", TagRollbackReason, model, previous, err)
		}
	}
}

// reconcile finishes what an earlier run left of a move of alias: an
// intent tag (the run was killed, or lost its server, between writing it
// and deleting it), or a production version without its promotion tags
// while earlier versions keep theirs. It acts only when production is
// still where this run first found it (atStart): a move meanwhile is
// another client's, which the step refuses to race.
func (r *registry) reconcile(model, alias, atStart string) {
	cur, _, err := r.aliasVersion(model, alias)
	if err != nil {
		fail(err)
	}
	if cur != atStart {
		return
	}
	raw, found, err := r.modelTag(model, intentKey(alias))
	if err != nil {
		fail(err)
	}
	if found {
		r.repairIntent(model, alias, cur, raw)
		return
	}
	r.repairTags(model, alias, cur)
}

// repairIntent completes the move an intent describes when production
// reached its target, and reverses it otherwise.
func (r *registry) repairIntent(model, alias, cur, raw string) {
	pb := r.pb
	rep := record.Repair{Model: model, Alias: alias, Production: cur, Intent: raw, DryRun: pb.DryRun()}
	var in intent
	at := now()
	if err := json.Unmarshal([]byte(raw), &in); err != nil || in.To == "" {
		rep.Kind = record.RepairReversed
		rep.Detail = trf(pb, "an unreadable promotion intent was found and removed; production is on %s", versionText(cur))
	} else if t, err := time.Parse(time.RFC3339, in.At); err == nil {
		at = t
	}
	switch {
	case rep.Kind != "":
	case cur == in.To:
		rep.Kind, rep.From, rep.To = record.RepairCompleted, in.From, in.To
		p := &Promotion{Kind: in.Kind, Model: model, Alias: alias, Version: in.To, Previous: in.From, At: at, By: in.By, Reason: in.Reason}
		if err := r.tagMove(p, in.From); err != nil {
			failf("completing the interrupted move of %s of %s from %s to version %s: %w", alias, model, versionText(in.From), in.To, err)
		}
		rep.Detail = trf(pb, "the move of %s from %s to version %s started by %s at %s was interrupted after the alias moved: its tags were completed", alias, versionText(in.From), in.To, in.By, in.At)
	default:
		rep.Kind, rep.From, rep.To = record.RepairReversed, in.From, in.To
		r.dropClaims(in.Kind, model, in.To, in.From, cur, in.At, in.By)
		rep.Detail = trf(pb, "the move of %s from %s to version %s started by %s at %s was interrupted before the alias moved (production is on %s): it was reversed, no tag claims it", alias, versionText(in.From), in.To, in.By, in.At, versionText(cur))
	}
	if err := r.deleteModelTag(model, intentKey(alias)); err != nil {
		failf("deleting the intent of an interrupted move of %s of %s: %w", alias, model, err)
	}
	r.keepRepair(rep)
}

// repairTags completes the tags of production version cur when the model
// was promoted by playbook before (a version carries promotion tags) and
// cur lacks its own, or an earlier production version was left without
// its archive tags.
func (r *registry) repairTags(model, alias, cur string) {
	if cur == "" {
		return
	}
	s, err := r.snapshot(model, "")
	if err != nil {
		fail(err)
	}
	promoted := func(t map[string]string) bool {
		return t[TagPromotedAt] != "" || t[TagRolledBackAt] != ""
	}
	var curTags map[string]string
	var stale []string
	managed := false
	for _, v := range s.Versions {
		if promoted(v.Tags) {
			managed = true
		}
		if v.Version == cur {
			curTags = v.Tags
		} else if promoted(v.Tags) && v.Tags[TagArchived] != "true" {
			stale = append(stale, v.Version)
		}
	}
	missing := curTags != nil && !promoted(curTags)
	if !managed || (!missing && len(stale) == 0) {
		return
	}
	slices.SortFunc(stale, func(a, b string) int {
		if versionLess(a, b) {
			return -1
		}
		return 1
	})
	pb := r.pb
	at := now()
	for _, v := range stale {
		if err := r.setTags(model, v, map[string]string{TagArchived: "true", TagArchivedAt: stamp(at), TagSupersededBy: cur}); err != nil {
			fail(err)
		}
	}
	rep := record.Repair{Kind: record.RepairCompleted, Model: model, Alias: alias, To: cur, Production: cur, DryRun: pb.DryRun()}
	if missing {
		prev := "unknown"
		if len(stale) > 0 {
			prev = stale[len(stale)-1]
			rep.From = prev
		}
		if err := r.setTags(model, cur, map[string]string{
			TagPromotedAt: stamp(at), TagPromotedBy: actor(pb), TagPreviousVersion: prev,
			TagPromotionRepaired: "promotion tags were missing; set at " + stamp(at),
		}); err != nil {
			fail(err)
		}
		r.unarchive(model, cur, curTags)
	}
	rep.Detail = trf(pb, "%s points to version %s, whose promotion tags were missing=%t; earlier production versions left unarchived: %v: tags completed", alias, cur, missing, stale)
	r.keepRepair(rep)
}

// keepRepair keeps rep in the evidence and shows it.
func (r *registry) keepRepair(rep record.Repair) {
	pb := r.pb
	rep.Time, rep.Step = now(), pb.Step()
	notebook.Update(pb, func(rec *record.Run) { rec.Evidence.Repairs = append(rec.Evidence.Repairs, rep) })
	kind := tr(pb, "completed")
	if rep.Kind == record.RepairReversed {
		kind = tr(pb, "reversed")
	}
	kv := []any{
		tr(pb, "model"), rep.Model, "alias", rep.Alias,
		tr(pb, "repair"), kind,
		tr(pb, "what"), rep.Detail,
	}
	if rep.DryRun {
		kv = append(kv, tr(pb, "dry run"), tr(pb, "nothing was sent"))
	}
	pb.KV(tr(pb, "Interrupted promotion repaired"), kv...)
}
