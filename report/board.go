package report

import (
	"fmt"
	"strings"

	"github.com/playbook-mlops/playbook/internal/shellword"
	"github.com/playbook-mlops/playbook/record"
)

// board is the report's first screen, what a change board reads first:
// the verdict, the change (model, alias, from and to versions), the
// checks that decided it, who made it and when, and how to undo it.
type board struct {
	Model, Alias string
	From, To     string
	Checks       []boardCheck
	Who          []pair
	// Rollback is the playbook command line that would put production
	// back as it was before the run; "" with RollbackNote saying why
	// there is none.
	Rollback     string
	RollbackNote string
}

type boardCheck struct {
	Name, Value, Limit, Class, Word string
}

// rollbackScenario is the embedded scenario that moves production back.
const rollbackScenario = "churn-rollback"

func newBoard(l *labels, r *record.Run, v *view) *board {
	b := &board{}
	p := r.Evidence.Promotion
	switch {
	case p != nil:
		b.Model, b.Alias, b.To = p.Model, p.Alias, p.Version
		b.From = p.AtStart
	case r.Evidence.Validation != nil:
		val := r.Evidence.Validation
		b.Model, b.To = val.Model, val.Version
		b.From = val.Champion
		b.Alias = val.ChampionAlias
	case len(v.Registry) > 0:
		b.Model = v.Registry[0].Model
	}
	if b.From == "" {
		b.From = l.None
	} else {
		b.From = "version " + b.From
	}
	if v.Validation != nil {
		for _, c := range v.Validation.Checks {
			bc := boardCheck{Name: c.Name, Value: fmtOptNum(c.Value), Limit: fmtOptNum(c.Limit)}
			bc.Class = checkOutcome(c)
			bc.Word = passWord(l, bc.Class)
			b.Checks = append(b.Checks, bc)
		}
	}
	if p != nil && p.SameAs != "" {
		b.Who = append(b.Who, pair{Key: l.Candidate, Value: fmt.Sprintf(l.SameParams, p.Candidate, p.SameAs)})
	}
	who, when := r.Environment.User, r.Environment.Start
	if p != nil {
		if p.By != "" {
			who = p.By
		}
		if !p.Time.IsZero() {
			when = p.Time
		}
	}
	if actor := actorPairs(l, r); actor != nil {
		b.Who = append(b.Who, actor...)
	} else if who != "" {
		b.Who = append(b.Who, pair{Key: l.Actor, Value: who})
	}
	b.Who = append(b.Who, pair{Key: l.Date, Value: fmtTime(when)})
	for _, f := range []struct{ param, label string }{{"ticket", l.Ticket}, {"approver", l.Approver}, {"reason", l.Reason}} {
		for _, prm := range r.Params {
			if s, ok := prm.Value.(string); ok && prm.Name == f.param && strings.TrimSpace(s) != "" {
				b.Who = append(b.Who, pair{Key: f.label, Value: s})
			}
		}
	}
	switch {
	case p == nil || p.DryRun || r.Environment.DryRun || !p.Moved:
		b.RollbackNote = l.NoRollbackNeeded
	case p.Previous == "":
		b.RollbackNote = l.NoPrevious
	default:
		b.Rollback = rollbackCommand(b.Model, p.Alias, p.Previous, l.RollbackReason)
	}
	return b
}

// rollbackCommand is the command line of the rollback scenario that moves
// alias of model back to version.
func rollbackCommand(model, alias, version, reason string) string {
	return fmt.Sprintf("playbook run %s -p model_name=%s -p production_alias=%s -p to=%s -p reason=%s",
		rollbackScenario, shellword.Quote(model), shellword.Quote(alias), shellword.Quote(version), shellword.Quote(reason))
}

// actorPairs are the MLflow user the run acted as, with how it was known,
// and the operating system's user beside it (user@host); nil when the
// record has no MLflow user.
func actorPairs(l *labels, r *record.Run) []pair {
	a := r.Environment.Actor
	if a == nil || a.Name == "" {
		return nil
	}
	how := l.ActorUnverified
	switch {
	case a.Via == record.ActorViaBearerJWT:
		how = l.ActorJWT
	case a.Verified:
		how = l.ActorVerified
	}
	local := r.Environment.User
	if h := r.Environment.Host; h != "" && local != "" {
		local += "@" + h
	}
	return []pair{{Key: l.MLflowUser, Value: a.Name + " (" + how + ")"}, {Key: l.OSUser, Value: local}}
}
