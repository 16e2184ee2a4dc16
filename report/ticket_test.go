package report_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

// TestTicketShortAndWhole: ticket.md says the verdict, the checks and
// the registry's changes, names the full report and the evidence's
// digest, has no image to upload and fits Jira's field.
func TestTicketShortAndWhole(t *testing.T) {
	for _, name := range []string{"promoted.en", "refused.fr"} {
		t.Run(name, func(t *testing.T) {
			r := report.FixtureRun(name)
			var full, ticket bytes.Buffer
			_, err := report.Markdown(&full, r)
			require.NoError(t, err)
			require.NoError(t, report.Ticket(&ticket, r, "abc123"))
			s := ticket.String()
			assert.LessOrEqual(t, utf8.RuneCountInString(s), report.TicketLimit)
			assert.Less(t, len(s), full.Len(), "shorter than report.md")
			assert.NotContains(t, s, "![", "no image")
			assert.Contains(t, s, "`evidence.json` SHA-256 `abc123`")
			assert.Contains(t, s, "`index.html`")
			head := strings.SplitN(full.String(), "\n", 6)[4]
			assert.Contains(t, s, head, "the verdict line of report.md")
			require.NotEmpty(t, r.Evidence.Checks)
			for _, c := range r.Evidence.Checks {
				if c.Kind != record.CheckState {
					assert.Contains(t, s, c.Name, "check %s", c.Name)
				}
			}
		})
	}
}

// TestTicketCutToFit: a registry diff too large for a ticket is left out,
// and the ticket says so.
func TestTicketCutToFit(t *testing.T) {
	r := report.FixtureRun("promoted.en")
	require.NotEmpty(t, r.Evidence.Snapshots)
	last := &r.Evidence.Snapshots[len(r.Evidence.Snapshots)-1]
	require.NotEmpty(t, last.Versions)
	tags := map[string]string{}
	for k, v := range last.Versions[0].Tags {
		tags[k] = v
	}
	for i := range 800 {
		tags[fmt.Sprintf("bulk.%03d", i)] = strings.Repeat("x", 60)
	}
	last.Versions[0].Tags = tags
	var ticket bytes.Buffer
	require.NoError(t, report.Ticket(&ticket, r, ""))
	assert.LessOrEqual(t, utf8.RuneCountInString(ticket.String()), report.TicketLimit)
	assert.Contains(t, ticket.String(), "left out to fit a ticket's field")
	assert.NotContains(t, ticket.String(), "bulk.000")
}

// TestSummaryChangePaperwork: the parameters ticket, approver and reason
// are in the summary of the page, report.md and ticket.md when set,
// escaped, and absent when empty.
func TestSummaryChangePaperwork(t *testing.T) {
	r := report.FixtureRun("refused.fr")
	r.Params = append(r.Params,
		record.Param{Name: "ticket", Type: record.TypeString, Value: "CHG-42"},
		record.Param{Name: "approver", Type: record.TypeString, Value: "<b>Ada</b>"},
		record.Param{Name: "reason", Type: record.TypeString, Value: ""})
	var page, md, ticket bytes.Buffer
	require.NoError(t, report.HTML(&page, r))
	_, err := report.Markdown(&md, r)
	require.NoError(t, err)
	require.NoError(t, report.Ticket(&ticket, r, ""))
	assert.Contains(t, page.String(), "<tr><th>Ticket</th><td>CHG-42</td></tr>")
	assert.Contains(t, page.String(), "<tr><th>Approbateur</th><td>&lt;b&gt;Ada&lt;/b&gt;</td></tr>")
	assert.NotContains(t, page.String(), "<th>Motif</th>", "an empty reason is not shown")
	for _, s := range []string{md.String(), ticket.String()} {
		assert.Contains(t, s, "| Ticket | CHG-42 |")
		assert.Contains(t, s, "| Approbateur | \\<b\\>Ada\\</b\\> |")
	}
}
