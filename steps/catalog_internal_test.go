package steps

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// verbs returns the fmt verbs of a format, in order.
func verbs(format string) []string {
	return regexp.MustCompile(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z%]`).FindAllString(format, -1)
}

// TestCatalogFR: every refusal of the steps (a Refuse call with a literal
// format) has its French in catalogFR, with the same verbs in the same
// order, and the catalogue holds nothing else.
func TestCatalogFR(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	used := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		ast.Inspect(af, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if id, ok := c.Fun.(*ast.Ident); !ok || id.Name != "Refuse" || len(c.Args) < 2 {
				return true
			}
			lit, ok := c.Args[1].(*ast.BasicLit)
			if !assert.True(t, ok, "%s: Refuse's format is a literal, so that the catalogue can hold it", fset.Position(c.Pos())) {
				return true
			}
			format, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			used[format] = true
			fr, ok := catalogFR[format]
			if assert.True(t, ok, "%s: no French for %q", fset.Position(c.Pos()), format) {
				assert.Equal(t, verbs(format), verbs(fr), "%s: the French keeps the verbs of %q", fset.Position(c.Pos()), format)
			}
			return true
		})
	}
	require.NotEmpty(t, used)
	for en := range catalogFR {
		assert.True(t, used[en], "catalogFR holds %q, which no Refuse uses", en)
	}
}

func TestGateErrorLocalize(t *testing.T) {
	g := Refuse("validate", "%s version %s failed %d check(s): %s (tagged %s=%s)", "ChurnPredictor", "2", 1, "f1 0.59 < 0.99", TagValidationStatus, StatusFailed)
	assert.Equal(t, "validate refused: ChurnPredictor version 2 failed 1 check(s): f1 0.59 < 0.99 (tagged validation_status=failed)", g.Error())
	assert.Same(t, g, g.Localize("en"), "English: the refusal itself")
	assert.Same(t, g, g.Localize(""), "no language: the refusal itself")

	fr := g.Localize("fr-FR")
	assert.Equal(t, "refus de validate : ChurnPredictor version 2 a échoué à 1 contrôle(s) : f1 0.59 < 0.99 (taguée validation_status=failed)", fr.Error())
	var ge *GateError
	require.True(t, errors.As(fr, &ge))
	assert.True(t, ge.GateRefused())
	assert.Equal(t, "validate", ge.Gate)
	assert.Contains(t, g.Reason, "failed 1 check(s)", "the original is unchanged")

	own := Refuse("contrôle", "le f1 %.2f est trop bas", 0.5).Localize("fr")
	assert.Equal(t, "refus de contrôle : le f1 0.50 est trop bas", own.Error(), "a cell's own reason is kept, said as a refusal in French")
}
