// Package shellword quotes words for a POSIX shell, so that a command
// playbook prints (the rollback command of a report, the next command of
// `playbook init`) can be pasted as it is, whatever the names in it.
package shellword

import "strings"

// safe are the bytes a word may hold and still need no quotes in sh, bash
// or zsh (but a leading "=", which zsh expands to a command's path). fish
// reads a backslash in single quotes as an escape: a word with one is not
// the same word there.
const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@+,"

// Quote returns s as one shell word: as it is when it holds only safe
// bytes (and does not start with "="), otherwise in single quotes with each single quote closed, escaped
// and reopened; the empty string is a pair of single quotes.
func Quote(s string) string {
	if s != "" && strings.Trim(s, safe) == "" && s[0] != '=' {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
