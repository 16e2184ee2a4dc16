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
