package server

import (
	"encoding/json"
	"fmt"
	"math"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// Python compatibility: MLflow writes its messages with Python's str(),
// repr() and json.dumps of values, and parses some arguments as Python
// does (posixpath.normpath, shlex, int()). These helpers reproduce them,
// for the cases the server meets.

// pyType names v's type as Python would.
func pyType(v any) string {
	switch x := v.(type) {
	case string:
		return "str"
	case json.Number:
		if strings.ContainsAny(x.String(), ".eE") {
			return "float"
		}
		return "int"
	case bool:
		return "bool"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	}
	return "NoneType"
}

// jsonText is a value as Python's json.dumps would show it.
func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return pyJSON(s)
	}
	if v == nil {
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// pyFloat formats f as Python's str(float).
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// shlexJoin is what shlex.split does to one word with backticks turned
// into double quotes: the quotes go, their content stays.
func shlexJoin(s string) string {
	var b strings.Builder
	var q rune
	for _, r := range s {
		switch {
		case q == 0 && (r == '`' || r == '"' || r == '\''):
			q = r
			if r == '`' {
				q = '"'
			}
		case q != 0 && (r == q || q == '"' && r == '`'):
			q = 0
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// pyList is the repr of a Python list of str, for messages.
func pyList(xs []string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = pyRepr(x)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// pySet is the repr of a Python set of str, in the given order.
func pySet(xs []string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = pyRepr(x)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// isWord reports whether r matches Python's \w on str patterns.
func isWord(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

// pyNormpath is Python's posixpath.normpath.
func pyNormpath(p string) string {
	if p == "" {
		return "."
	}
	c := path.Clean(p)
	// POSIX keeps exactly two leading slashes; Python does too.
	if strings.HasPrefix(p, "//") && !strings.HasPrefix(p, "///") {
		c = "/" + c
	}
	return c
}

// pyRepr is Python's repr of a str (the common cases).
func pyRepr(s string) string {
	q := "'"
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = `"`
	}
	var b strings.Builder
	b.WriteString(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case string(r) == q:
			b.WriteString(`\` + q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(q)
	return b.String()
}

// pyJSON is Python's json.dumps of a str (ensure_ascii).
func pyJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				r1, r2 := utf16Surrogates(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func utf16Surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
