// Package textcut shortens text read from a server or a process for an
// error message or a record: a bounded length, cut on a rune boundary.
package textcut

import "unicode/utf8"

// Truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
