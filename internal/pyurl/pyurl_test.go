package pyurl

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":         "plain",
		"a%20b":         "a b",
		"%2e%2E/x":      "../x",
		"100%":          "100%",
		"%zz%4":         "%zz%4",
		"%41%42%43":     "ABC",
		"a%2fb%5Cc":     "a/b\\c",
		"%252e%252e":    "%2e%2e", // one level only, as Python
		"trailing%2":    "trailing%2",
		"%C3%A9t%C3%A9": "été",
	} {
		assert.Equal(t, want, Unquote(in), in)
	}
}
