package shellword

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"ChurnPredictor":      "ChurnPredictor",
		"out/churn.fr.md":     "out/churn.fr.md",
		"":                    "''",
		"two words":           "'two words'",
		"l'équipe":            `'l'\''équipe'`,
		"$(rm -rf /)":         "'$(rm -rf /)'",
		"a;b":                 "'a;b'",
		"production-live":     "production-live",
		"reason=drift,+0.02%": "'reason=drift,+0.02%'",
		"=ls":                 "'=ls'",
		"to=2":                "to=2",
	} {
		assert.Equal(t, want, Quote(in), "Quote(%q)", in)
	}
}

// TestQuoteRoundTrip has a real shell read each quoted word back.
func TestQuoteRoundTrip(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	words := []string{"plain", "", "two words", "l'équipe", `back\slash`, "$HOME", "`id`", "new\nline", "*", "-n", "=ls"}
	var script strings.Builder
	for _, w := range words {
		script.WriteString("printf '%s\\0' " + Quote(w) + "\n")
	}
	out, err := exec.Command(sh, "-c", script.String()).Output()
	require.NoError(t, err)
	assert.Equal(t, words, strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00"))
}
