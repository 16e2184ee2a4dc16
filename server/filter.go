package server

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MLflow parses search filters with sqlparse, then walks the statement's
// top-level tokens: comparisons joined by AND, nothing else. This file is a
// tokenizer and grouper for the part of that grammar MLflow accepts, which
// yields the same comparisons and, for anything else, the same "invalid
// clause" tokens.

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tokSpace   tokKind = iota
	tokString          // 'single quoted'
	tokSymbol          // "double quoted": sqlparse makes it an identifier
	tokName            // a name, a dotted name, `backquoted`
	tokInt             // 12, -3
	tokFloat           // 1.5, 2e3
	tokCompare         // run of <>=~! characters
	tokKeyword         // AND OR NOT IN IS NULL LIKE ILIKE ...
	tokPunct           // ( ) ,
	tokOther
)

type token struct {
	kind tokKind
	text string
}

// keywords sqlparse knows that matter here; the rest are names.
var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IN": true, "IS": true, "NULL": true,
	"LIKE": true, "ILIKE": true, "BETWEEN": true, "SELECT": true, "FROM": true, "WHERE": true,
}

// lex splits s into tokens. Dotted names (metrics.f1, tags.`a b`,
// params."x") come out as one tokName.
func lex(s string) []token {
	var out []token
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			j := i
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsSpace(r) {
					break
				}
				j += n
			}
			out = append(out, token{tokSpace, s[i:j]})
			i = j
		case r == '\'':
			j := quotedEnd(s, i, '\'')
			out = append(out, token{tokString, s[i:j]})
			i = j
		case r == '"' || r == '`' || isNameStart(r):
			j := nameEnd(s, i)
			text := s[i:j]
			kind := tokName
			if r == '"' && quotedEnd(s, i, '"') == j {
				kind = tokSymbol
			}
			if up := strings.ToUpper(text); keywords[up] {
				kind = tokKeyword
			}
			out = append(out, token{kind, text})
			i = j
		case r >= '0' && r <= '9' || r == '.' && i+1 < len(s) && isDigit(s[i+1]) ||
			r == '-' && i+1 < len(s) && (isDigit(s[i+1]) || s[i+1] == '.'):
			j, kind := numberEnd(s, i)
			out = append(out, token{kind, s[i:j]})
			i = j
		case strings.ContainsRune("<>=~!", r):
			j := i
			for j < len(s) && strings.IndexByte("<>=~!", s[j]) >= 0 {
				j++
			}
			out = append(out, token{tokCompare, s[i:j]})
			i = j
		case strings.ContainsRune("(),", r):
			out = append(out, token{tokPunct, s[i : i+size]})
			i += size
		default:
			out = append(out, token{tokOther, s[i : i+size]})
			i += size
		}
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isNameStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

// quotedEnd returns the index after the quoted run starting at i (a
// doubled quote or a backslash escapes the quote); len(s) if unclosed.
func quotedEnd(s string, i int, q byte) int {
	j := i + 1
	for j < len(s) {
		switch {
		case s[j] == '\\' && j+1 < len(s):
			j += 2
		case s[j] == q && j+1 < len(s) && s[j+1] == q:
			j += 2
		case s[j] == q:
			return j + 1
		default:
			j++
		}
	}
	return len(s)
}

// nameEnd returns the end of a name made of parts joined by dots, each a
// plain word or a quoted run.
func nameEnd(s string, i int) int {
	j := i
	for {
		if j >= len(s) {
			return j
		}
		switch s[j] {
		case '"', '`', '\'':
			if j > i && s[j-1] != '.' {
				return j
			}
			j = quotedEnd(s, j, s[j])
		default:
			k := j
			for k < len(s) {
				r, n := utf8.DecodeRuneInString(s[k:])
				if !(r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
					break
				}
				k += n
			}
			if k == j {
				return j
			}
			j = k
		}
		if j < len(s) && s[j] == '.' && j+1 < len(s) {
			j++
			continue
		}
		return j
	}
}

// numberEnd returns the end and kind of the number starting at i.
func numberEnd(s string, i int) (int, tokKind) {
	j := i
	if s[j] == '-' {
		j++
	}
	kind := tokInt
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j < len(s) && s[j] == '.' {
		kind = tokFloat
		j++
		for j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '-' || s[k] == '+') {
			k++
		}
		if k < len(s) && isDigit(s[k]) {
			kind = tokFloat
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			j = k
		}
	}
	// sqlparse does not take a number glued to letters: 1abc is a name.
	if j < len(s) {
		if r, _ := utf8.DecodeRuneInString(s[j:]); r == '_' || unicode.IsLetter(r) {
			k := nameEnd(s, j)
			return k, tokName
		}
	}
	return j, kind
}

// comparison is one "left op right" of a filter. For IS NULL and IS NOT
// NULL, right is empty and op holds the whole operator. For IN lists, list
// holds the items.
type comparison struct {
	left   string
	op     string // as written, e.g. "=", "like", "IS NOT NULL"
	right  token
	list   []token
	isList bool
}

// statement is a parsed filter: its comparisons and the top-level tokens
// that are neither comparisons nor AND.
type statement struct {
	comparisons []comparison
	invalid     []string
}

// parseFilter groups the tokens of filter into comparisons, as sqlparse
// and MLflow's _join_in_comparison_tokens do.
func parseFilter(filter string) statement {
	var toks []token
	for _, t := range lex(filter) {
		if t.kind != tokSpace {
			toks = append(toks, t)
		}
	}
	var st statement
	for i := 0; i < len(toks); {
		t := toks[i]
		if c, next, ok := comparisonAt(toks, i); ok {
			st.comparisons = append(st.comparisons, c)
			i = next
			continue
		}
		if t.kind == tokKeyword && strings.EqualFold(t.text, "AND") {
			i++
			continue
		}
		// Anything else is an invalid clause; a parenthesised group counts
		// as one token, as sqlparse groups it.
		if t.text == "(" {
			depth, j := 0, i
			for ; j < len(toks); j++ {
				switch toks[j].text {
				case "(":
					depth++
				case ")":
					depth--
				}
				if depth == 0 {
					break
				}
			}
			end := min(j+1, len(toks))
			st.invalid = append(st.invalid, joinTokens(filter, toks[i:end]))
			i = end
			continue
		}
		st.invalid = append(st.invalid, t.text)
		i++
	}
	return st
}

// comparisonAt reads the comparison that starts at toks[i], if one does,
// and returns the index after it.
func comparisonAt(toks []token, i int) (comparison, int, bool) {
	isValue := func(t token) bool {
		return t.kind == tokString || t.kind == tokSymbol || t.kind == tokName || t.kind == tokInt || t.kind == tokFloat
	}
	up := func(k int) string {
		if i+k < len(toks) {
			return strings.ToUpper(toks[i+k].text)
		}
		return ""
	}
	t := toks[i]
	if (t.kind == tokName || t.kind == tokSymbol) && i+1 < len(toks) {
		next := toks[i+1]
		switch {
		case next.kind == tokCompare && i+2 < len(toks) && isValue(toks[i+2]):
			return comparison{left: t.text, op: next.text, right: toks[i+2]}, i + 3, true
		case (up(1) == "LIKE" || up(1) == "ILIKE") && i+2 < len(toks) && isValue(toks[i+2]):
			return comparison{left: t.text, op: next.text, right: toks[i+2]}, i + 3, true
		case up(1) == "NOT" && (up(2) == "LIKE" || up(2) == "ILIKE") && i+3 < len(toks) && isValue(toks[i+3]):
			return comparison{left: t.text, op: next.text + " " + toks[i+2].text, right: toks[i+3]}, i + 4, true
		case up(1) == "IS" && up(2) == "NULL":
			return comparison{left: t.text, op: "IS NULL"}, i + 3, true
		case up(1) == "IS" && up(2) == "NOT" && up(3) == "NULL":
			return comparison{left: t.text, op: "IS NOT NULL"}, i + 4, true
		case up(1) == "IN" || up(1) == "NOT" && up(2) == "IN":
			at := i + 2
			op := "IN"
			if up(1) == "NOT" {
				at, op = i+3, "NOT IN"
			}
			if items, end, ok := parseList(toks, at); ok {
				return comparison{left: t.text, op: op, list: items, isList: true}, end, true
			}
		}
	}
	return comparison{}, 0, false
}

// parseList reads "( item , item ... )" starting at toks[at].
func parseList(toks []token, at int) ([]token, int, bool) {
	if at >= len(toks) || toks[at].text != "(" {
		return nil, 0, false
	}
	var items []token
	for j := at + 1; j < len(toks); j++ {
		switch t := toks[j]; {
		case t.text == ")":
			return items, j + 1, true
		case t.text == ",":
		default:
			items = append(items, t)
		}
	}
	return nil, 0, false
}

// joinTokens rebuilds the source text of a run of tokens, for messages.
func joinTokens(src string, toks []token) string {
	if len(toks) == 0 {
		return ""
	}
	start := strings.Index(src, toks[0].text)
	if start < 0 {
		parts := make([]string, len(toks))
		for i, t := range toks {
			parts[i] = t.text
		}
		return strings.Join(parts, " ")
	}
	end := start
	for _, t := range toks {
		k := strings.Index(src[end:], t.text)
		if k < 0 {
			break
		}
		end += k + len(t.text)
	}
	return src[start:end]
}

// isQuoted reports whether s is wrapped in q.
func isQuoted(s string, q byte) bool { return len(s) >= 2 && s[0] == q && s[len(s)-1] == q }

// stripQuotes is SearchUtils._strip_quotes: removes one pair of single or
// double quotes; ok is false when expectQuoted and there is none.
func stripQuotes(s string, expectQuoted bool) (string, bool) {
	if isQuoted(s, '\'') || isQuoted(s, '"') {
		return s[1 : len(s)-1], true
	}
	return s, !expectQuoted
}

// trimBackticks is SearchUtils._trim_backticks.
func trimBackticks(s string) string {
	if isQuoted(s, '`') {
		return s[1 : len(s)-1]
	}
	return s
}

// likeMatch is SQL LIKE with MLflow's case_sensitive_like: % matches any
// run, _ one character, no escape character.
func likeMatch(s, pattern string) bool {
	sr, pr := []rune(s), []rune(pattern)
	// Iterative wildcard matching with backtracking on the last %.
	si, pi, star, mark := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case pi < len(pr) && (pr[pi] == '_' || pr[pi] == sr[si]):
			si++
			pi++
		case pi < len(pr) && pr[pi] == '%':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pr) && pr[pi] == '%' {
		pi++
	}
	return pi == len(pr)
}

// asciiLower is SQLite's lower(): ASCII letters only.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// compareStrings applies a string comparator as MLflow's SQL does.
func compareStrings(op, lhs, rhs string) bool {
	switch op {
	case "LIKE":
		return likeMatch(lhs, rhs)
	case "ILIKE":
		return likeMatch(asciiLower(lhs), asciiLower(rhs))
	}
	return compareOrdered(op, lhs, rhs)
}

// compareFloats applies a numeric comparator.
func compareFloats(op string, lhs, rhs float64) bool { return compareOrdered(op, lhs, rhs) }

// compareOrdered applies =, !=, <, <=, > or >=; any other is false.
func compareOrdered[T cmp.Ordered](op string, lhs, rhs T) bool {
	switch op {
	case "=":
		return lhs == rhs
	case "!=":
		return lhs != rhs
	case ">":
		return lhs > rhs
	case ">=":
		return lhs >= rhs
	case "<":
		return lhs < rhs
	case "<=":
		return lhs <= rhs
	}
	return false
}

// matchIn applies a string comparator to v, IN and NOT IN against list
// included.
func matchIn(op string, list []string, str, v string) bool {
	switch op {
	case "IN":
		return slices.Contains(list, v)
	case "NOT IN":
		return !slices.Contains(list, v)
	}
	return compareStrings(op, v, str)
}
