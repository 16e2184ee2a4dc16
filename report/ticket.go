package report

import (
	"fmt"
	"io"

	"github.com/playbook-mlops/playbook/record"
)

// TicketFile is the short Markdown report, for a change ticket's
// description field.
const TicketFile = "ticket.md"

// TicketLimit is the most characters ticket.md holds: Jira's default
// limit of a text field (jira.text.field.character.limit), 32,767.
const TicketLimit = 32767

// Ticket writes the run as a short Markdown text that fits a ticket's
// field (TicketLimit characters): the verdict and the summary, the
// validation's metrics and checks, the registry's changes (the tags the
// run did not change left out), the final checks, and where the full
// report and its evidence are (evidenceSHA256, the evidence file's
// digest, names which record it summarises). No image: nothing to
// upload beside it. When the whole is still too long, the registry's
// changes, then the validation, are left out, and it says so.
func Ticket(w io.Writer, r *record.Run, evidenceSHA256 string) error {
	v := newView(r)
	l := v.L
	render := func(registry, validation bool) string {
		m := &mdWriter{l: l, short: true}
		m.header(v, v.Summary)
		if validation {
			m.validation(v)
		} else if v.Validation != nil {
			m.line("*" + mdText(l.TicketCut) + "*")
			m.line("")
		}
		if registry {
			m.registry(v)
		} else {
			m.line("## " + mdText(l.Registry))
			m.line("")
			m.line("*" + mdText(l.TicketCut) + "*")
			m.line("")
		}
		if len(v.Verify) > 0 {
			m.line("## " + mdText(l.Verification))
			m.line("")
			m.verifyChecks(v)
		}
		m.line("---")
		m.line("")
		line := mdText(l.TicketFull) + " " + mdCode(HTMLFile, false) + ", " + mdCode(MarkdownFile, false) + ", " + mdCode(record.EvidenceFile, false)
		if evidenceSHA256 != "" {
			line += " (" + mdCode(record.EvidenceFile, false) + " SHA-256 " + mdCode(evidenceSHA256, false) + ")"
		}
		m.line(line)
		return m.b.String()
	}
	out := render(true, true)
	if len([]rune(out)) > TicketLimit {
		out = render(false, true)
	}
	if len([]rune(out)) > TicketLimit {
		out = render(false, false)
	}
	if _, err := io.WriteString(w, out); err != nil {
		return fmt.Errorf("report: ticket: %w", err)
	}
	return nil
}
