package report

import (
	"go/scanner"
	"go/token"
	"html"
	"strings"
)

// Classes of highlighted Go code, styled by the report's CSS.
const (
	hlKeyword = "k"
	hlString  = "s"
	hlNumber  = "n"
	hlComment = "c"
	hlBuiltin = "b" // predeclared identifiers: types, constants, functions
	hlFunc    = "f" // an identifier called or declared as a function
)

// predeclared are Go's predeclared identifiers.
var predeclared = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`any bool byte comparable complex64 complex128 error float32 float64
		int int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr
		true false iota nil
		append cap clear close complex copy delete imag len make max min new panic print println real recover`) {
		predeclared[s] = true
	}
}

// highlightGo returns code as escaped HTML, its tokens in <span> elements
// of the hl* classes. It never fails: code that is not valid Go (a cell
// that failed to parse) is highlighted as far as the scanner goes, and the
// text between tokens is copied as it is, so the result always reads as
// the code itself.
func highlightGo(code string) string {
	src := []byte(code)
	fset := token.NewFileSet()
	file := fset.AddFile("", fset.Base(), len(src))
	var s scanner.Scanner
	s.Init(file, src, func(token.Position, string) {}, scanner.ScanComments)

	var b strings.Builder
	b.Grow(len(code) * 2)
	at := 0 // bytes of src written
	type tok struct {
		start, end int
		tok        token.Token
	}
	var toks []tok
	for {
		pos, t, lit := s.Scan()
		if t == token.EOF {
			break
		}
		if t == token.SEMICOLON && lit == "\n" {
			continue // inserted by the scanner, not in the source
		}
		start := file.Offset(pos)
		end := tokenEnd(src, start, t, lit)
		if start < at || end > len(src) || end <= start {
			break // the scanner lost its way: copy the rest as text
		}
		toks = append(toks, tok{start, end, t})
		at = end
	}
	at = 0
	for i, t := range toks {
		b.WriteString(html.EscapeString(code[at:t.start]))
		text := code[t.start:t.end]
		class := ""
		switch {
		case t.tok == token.COMMENT:
			class = hlComment
		case t.tok == token.STRING || t.tok == token.CHAR:
			class = hlString
		case t.tok == token.INT || t.tok == token.FLOAT || t.tok == token.IMAG:
			class = hlNumber
		case t.tok.IsKeyword():
			class = hlKeyword
		case t.tok == token.IDENT:
			switch {
			case predeclared[text]:
				class = hlBuiltin
			case i+1 < len(toks) && toks[i+1].tok == token.LPAREN && toks[i+1].start == t.end:
				class = hlFunc
			}
		}
		if class == "" {
			b.WriteString(html.EscapeString(text))
		} else {
			b.WriteString(`<span class="` + class + `">`)
			b.WriteString(html.EscapeString(text))
			b.WriteString(`</span>`)
		}
		at = t.end
	}
	b.WriteString(html.EscapeString(code[at:]))
	return b.String()
}

// tokenEnd returns the offset just after the token at start. The scanner
// strips carriage returns from comments and raw strings, so their literal
// may be shorter than their source: those are measured in src.
func tokenEnd(src []byte, start int, t token.Token, lit string) int {
	rest := string(src[start:])
	switch {
	case t == token.COMMENT && strings.HasPrefix(rest, "//"):
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			return start + len(strings.TrimRight(rest[:i], "\r"))
		}
		return len(src)
	case t == token.COMMENT:
		if i := strings.Index(rest[2:], "*/"); i >= 0 {
			return start + 2 + i + 2
		}
		return len(src)
	case t == token.STRING && strings.HasPrefix(rest, "`"):
		if i := strings.IndexByte(rest[1:], '`'); i >= 0 {
			return start + 1 + i + 1
		}
		return len(src)
	case lit != "":
		return start + len(lit)
	}
	return start + len(t.String())
}
