package steps

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// Verification is what Verify found.
type Verification struct {
	Model  string
	Passed bool
	// Checks are the checks made; Failed says which failed and why.
	Checks []record.Check
	Failed []string
	// After is the model's state now (as planned, in a dry run).
	After record.Snapshot
	// ModelURL is the model's page in the MLflow UI (on the embedded
	// server, its read-only registry page at the same link).
	ModelURL string
	// Archived is the version the promotion (or rollback) moved the
	// alias from and archived, "" when none; ArchivedURL its page.
	Archived, ArchivedURL string
}

// Verify snapshots the model's aliases and the tags of its versions (the
// "after" snapshot) and checks the end state the exercise expects: after a
// promotion, the production and candidate aliases on the new version,
// validation_status=passed on it, the archive tag on the version it
// superseded (after an unchanged promotion, whose candidate's model is the
// same as production's: production where it was, the candidate alias and
// validation_status=passed on the candidate); after a rollback, production
// on the restored version with its reason, the version rolled back from
// archived. It prints the model's
// page in the MLflow UI (or the embedded server's registry page) and
// captures it, and the page of the version it archived. Failed checks fail the step, each listed.
func Verify(pb *Playbook, p *Promotion) *Verification {
	if p == nil {
		failf("verify: no promotion: pass the result of steps.Promote or steps.Rollback")
	}
	r := openRegistry(pb)
	r.before(p.Model)
	after, err := r.snapshot(p.Model, "after")
	if err != nil {
		fail(err)
	}
	v := &Verification{Model: p.Model, After: after, ModelURL: ModelURL(r.c, p.Model)}
	tags := func(version string) map[string]string {
		for _, vs := range after.Versions {
			if vs.Version == version {
				return vs.Tags
			}
		}
		return map[string]string{}
	}
	// seenCheck keeps a check; seen, formatted with a, says what was found, in
	// English for the error and in the scenario's language for the table.
	seenCheck := func(name string, pass bool, seen string, a ...any) {
		c := record.Check{Step: pb.Step(), Kind: record.CheckState, Name: name, Pass: pass, Detail: trf(pb, seen, a...)}
		v.Checks = append(v.Checks, c)
		if !pass {
			v.Failed = append(v.Failed, name+": "+fmt.Sprintf(seen, a...))
		}
	}
	aliasCheck := func(alias, want string) {
		got, ok := after.Aliases[alias]
		name := fmt.Sprintf("%s → version %s", alias, want)
		if !ok {
			seenCheck(name, false, "does not exist")
			return
		}
		seenCheck(name, got == want, "points to version %s", got)
	}
	tagCheck := func(version, key, want string) {
		got, ok := tags(version)[key]
		name := fmt.Sprintf("version %s: %s=%s", version, key, want)
		if !ok {
			seenCheck(name, false, "no tag %s", key)
			return
		}
		seenCheck(name, got == want, "%s=%s", key, got)
	}

	aliasCheck(p.Alias, p.Version)
	switch p.Kind {
	case record.PromotionRollback:
		tagCheck(p.Version, TagRollbackReason, p.Reason)
		got, archived := tags(p.Version)[TagArchived]
		name := fmt.Sprintf("version %s: no %s tag", p.Version, TagArchived)
		if archived {
			seenCheck(name, false, "%s=%s", TagArchived, got)
		} else {
			seenCheck(name, true, "no tag %s", TagArchived)
		}
	default:
		// An unchanged promotion (the candidate's model the same as
		// production's) leaves the candidate alias on the candidate.
		validated := p.Version
		if p.Candidate != "" {
			validated = p.Candidate
		}
		if p.CandidateAlias != "" {
			aliasCheck(p.CandidateAlias, validated)
		}
		tagCheck(validated, TagValidationStatus, StatusPassed)
	}
	if p.Moved && p.Previous != "" && p.Previous != p.Version {
		v.Archived, v.ArchivedURL = p.Previous, ModelVersionURL(r.c, p.Model, p.Previous)
		tagCheck(p.Previous, TagArchived, "true")
		tagCheck(p.Previous, TagSupersededBy, p.Version)
	}
	v.Passed = len(v.Failed) == 0

	notebook.Update(pb, func(rec *record.Run) { rec.Evidence.Checks = append(rec.Evidence.Checks, v.Checks...) })
	if pb.DryRun() {
		pb.Markdown(tr(pb, "*Dry run: the registry was not changed; the snapshot below is the state the run would have left.*"))
	}
	notebook.KeepSnapshot(pb, after)
	embedded, versionErr := embeddedServer(pb, r)
	v.show(pb, r, embedded)
	v.capture(pb, embedded, versionErr, v.Archived)
	if !v.Passed {
		failf("verify: %d of %d checks failed:\n- %s", len(v.Failed), len(v.Checks), strings.Join(v.Failed, "\n- "))
	}
	return v
}

func (v *Verification) show(pb *Playbook, r *registry, embedded bool) {
	t := &record.Table{Columns: []string{tr(pb, "check"), tr(pb, "seen"), tr(pb, "result")}, Rows: [][]string{}}
	for _, c := range v.Checks {
		res := tr(pb, "pass")
		if !c.Pass {
			res = tr(pb, "FAIL")
		}
		t.Rows = append(t.Rows, []string{c.Name, c.Detail, res})
	}
	notebook.Display(pb, record.Output{Kind: record.OutputTable, Title: tr(pb, "End state"), Table: t})

	before := r.before(v.Model)
	var lines []string
	for _, a := range slices.Sorted(maps.Keys(union(before.Aliases, v.After.Aliases))) {
		b, ok1 := before.Aliases[a]
		n, ok2 := v.After.Aliases[a]
		switch {
		case !ok1:
			lines = append(lines, fmt.Sprintf("- `%s`: %s → version %s", a, tr(pb, "new"), n))
		case !ok2:
			lines = append(lines, fmt.Sprintf("- `%s`: version %s → %s", a, b, tr(pb, "deleted")))
		case b != n:
			lines = append(lines, fmt.Sprintf("- `%s`: version %s → version %s", a, b, n))
		default:
			lines = append(lines, fmt.Sprintf("- `%s`: version %s (%s)", a, n, tr(pb, "unchanged")))
		}
	}
	if len(lines) > 0 {
		pb.Markdown(tr(pb, "**Aliases, before → after:**") + "\n\n" + strings.Join(lines, "\n"))
	}
	where := tr(pb, "The model's page in the MLflow UI (Models):")
	if embedded {
		where = tr(pb, "The model's page in the registry (read-only):")
	}
	pb.Printf("%s %s\n", where, v.ModelURL)
}

func union(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}
