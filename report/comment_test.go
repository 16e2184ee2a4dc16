package report_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/runner"
)

// An HTML comment of a scenario, and the Go fence inside it, show nowhere
// in the report: neither in index.html nor in report.md.
func TestHTMLCommentHidden(t *testing.T) {
	src := "---\ntitle: T\n---\nBefore the note.\n\n<!-- A private note.\n```go step=draft\nsecretDraft := 1\n```\n-->\n\nAfter the note.\n\n```go step=one\nx := 1\n```\n"
	sc, err := runner.Parse("s.md", []byte(src))
	require.NoError(t, err)
	require.Len(t, sc.Cells, 1)
	page, md, _ := render(t, runner.NewRecord(sc, runner.Options{}))
	for name, out := range map[string]string{"index.html": string(page), "report.md": string(md)} {
		assert.Contains(t, out, "Before the note.", name)
		assert.Contains(t, out, "After the note.", name)
		for _, hidden := range []string{"private note", "secretDraft", "draft", "!--", "--&gt;", "-->"} {
			assert.NotContains(t, out, hidden, name)
		}
	}
}
