// Package shellword quotes words for a POSIX shell, so that a command
// playbook prints (the rollback command of a report, the next command of
// `playbook init`) can be pasted as it is, whatever the names in it.
package shellword

import "strings"

// safe are the bytes a word may hold and still need no quotes in sh, bash,
// zsh or fish.
const safe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@+,"

// Quote returns s as one shell word: as it is when it holds only safe
// bytes, otherwise in single quotes with each single quote closed, escaped
// and reopened; the empty string is a pair of single quotes.
func Quote(s string) string {
	if s != "" && strings.Trim(s, safe) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
