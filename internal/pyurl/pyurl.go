// Package pyurl holds the URL decoding MLflow's server does in Python, which
// the client (to refuse escaping artifact paths before sending them) and the
// embedded server (to refuse them as MLflow does) must both reproduce.
package pyurl

import (
	"strconv"
	"strings"
)

// Unquote decodes the valid %XX sequences of s and keeps the rest, as
// Python's urllib.parse.unquote does.
func Unquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
