package runner

import (
	"go/scanner"
	"go/token"
)

// tok is a token of a cell and its offset.
type tok struct {
	off int
	tok token.Token
	lit string
}

// splitCell separates a cell's top-level declarations (import, func, type,
// var, const) from its statements. It returns two texts the size of code:
// in decls the statements are blanked, in stmts the declarations are, so
// both keep every line and column of the original.
//
// Declarations are then evaluated first, as package-level declarations of
// Go: a function may use a constant declared below it, and a statement may
// call a function declared below it. A declaration cannot use a variable
// that a statement of the same cell defines.
func splitCell(code string) (decls, stmts string, hasDecls, hasStmts bool) {
	src := []byte(code)
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, 0) // errors are the parser's to report

	var toks []tok
	for {
		pos, t, lit := s.Scan()
		if t == token.EOF {
			break
		}
		toks = append(toks, tok{file.Offset(pos), t, lit})
	}

	isDecl := make([]bool, len(src))
	depth := 0
	start := true // the next token starts a top-level statement
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if start && depth == 0 && t.tok != token.SEMICOLON {
			start = false
			if declStart(toks, i) {
				// The declaration runs to the next top-level semicolon.
				d := 0
				j := i
				for ; j < len(toks); j++ {
					switch toks[j].tok {
					case token.LPAREN, token.LBRACK, token.LBRACE:
						d++
					case token.RPAREN, token.RBRACK, token.RBRACE:
						d--
					}
					if toks[j].tok == token.SEMICOLON && d <= 0 {
						break
					}
				}
				end := len(src)
				if j < len(toks) {
					end = toks[j].off
					if toks[j].lit == ";" {
						end++ // an explicit semicolon goes with its declaration
					}
				}
				for k := t.off; k < end; k++ {
					isDecl[k] = true
				}
				hasDecls = true
				i = j
				start = true
				continue
			}
			hasStmts = true
		}
		switch t.tok {
		case token.LPAREN, token.LBRACK, token.LBRACE:
			depth++
		case token.RPAREN, token.RBRACK, token.RBRACE:
			depth--
		case token.SEMICOLON:
			if depth <= 0 {
				start = true
			}
		}
	}

	d, st := []byte(code), []byte(code)
	for i, c := range src {
		switch {
		case c == '\n':
		case isDecl[i]:
			st[i] = ' '
		default:
			d[i] = ' '
		}
	}
	return string(d), string(st), hasDecls, hasStmts
}

// declStart reports whether the top-level statement whose first token is
// toks[i] is a declaration: import, type, var, const, or func followed by a
// name or by a receiver and a name (a method). A func literal (func() {...}()
// called in place) is a statement.
func declStart(toks []tok, i int) bool {
	at := func(j int) token.Token { return toks[j].tok }
	switch at(i) {
	case token.IMPORT, token.TYPE, token.VAR, token.CONST:
		return true
	case token.FUNC:
	default:
		return false
	}
	if i+1 >= len(toks) {
		return false
	}
	switch at(i + 1) {
	case token.IDENT:
		return true
	case token.LPAREN:
		// Skip the receiver (or the literal's parameters).
		d := 0
		j := i + 1
		for ; j < len(toks); j++ {
			switch at(j) {
			case token.LPAREN:
				d++
			case token.RPAREN:
				d--
			}
			if d == 0 {
				break
			}
		}
		return j+2 < len(toks) && at(j+1) == token.IDENT && at(j+2) == token.LPAREN
	}
	return false
}
