package steps

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"math"
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
// format) has its French in catalogFR, every step's error (failf) in
// catalogStepsFR, every word they show (tr, trf) in catalogTextFR, each
// with the same verbs in the same order, and the catalogues hold nothing
// else. A call whose English is not a literal fails it.
func TestCatalogFR(t *testing.T) {
	for _, c := range []struct {
		fn      string // the function called
		arg     int    // the format's argument
		catalog map[string]string
	}{{"Refuse", 1, catalogFR}, {"failf", 0, catalogStepsFR}, {"stepErrorf", 0, catalogStepsFR}, {"tr", 1, catalogTextFR}, {"trf", 1, catalogTextFR}, {"seenCheck", 2, catalogTextFR}, {"word", 0, catalogTextFR}} {
		used := catalogUses(t, c.fn, c.arg)
		require.NotEmpty(t, used, c.fn)
		for format, pos := range used {
			fr, ok := c.catalog[format]
			if assert.True(t, ok, "%s: no French for %q", pos, format) {
				assert.Equal(t, verbs(format), verbs(fr), "%s: the French keeps the verbs of %q", pos, format)
			}
		}
	}
	// Each entry is used by some call.
	used := map[string]bool{}
	for _, fn := range []string{"failf", "stepErrorf"} {
		for f := range catalogUses(t, fn, 0) {
			used[f] = true
		}
	}
	for en := range catalogStepsFR {
		assert.True(t, used[en], "catalogStepsFR holds %q, which no call uses", en)
	}
	for en := range catalogFR {
		_, ok := catalogUses(t, "Refuse", 1)[en]
		assert.True(t, ok, "catalogFR holds %q, which no call uses", en)
	}
	shown := catalogUses(t, "tr", 1)
	maps.Copy(shown, catalogUses(t, "trf", 1))
	maps.Copy(shown, catalogUses(t, "seenCheck", 2))
	maps.Copy(shown, catalogUses(t, "word", 0))
	for en := range catalogTextFR {
		_, ok := shown[en]
		assert.True(t, ok, "catalogTextFR holds %q, which no call uses", en)
	}
}

// literal returns the string of e, a string literal or a sum of them.
func literal(e ast.Expr) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		s, err := strconv.Unquote(x.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		a, ok1 := literal(x.X)
		b, ok2 := literal(x.Y)
		return a + b, ok1 && ok2 && x.Op == token.ADD
	case *ast.ParenExpr:
		return literal(x.X)
	}
	return "", false
}

// passOn names the calls that pass a format parameter on, "fn param".
var passOn = map[string]bool{"stepErrorf format": true, "tr format": true, "trf seen": true}

// catalogUses returns the literal formats given to calls of fn in the
// package's files, each with where it is.
func catalogUses(t *testing.T, fn string, arg int) map[string]string {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	used := map[string]string{}
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
			if id, ok := c.Fun.(*ast.Ident); !ok || id.Name != fn || len(c.Args) <= arg {
				return true
			}
			// The helpers that pass their own format on: failf
			// (stepErrorf's format), trf (tr's format), and verify's
			// seenCheck (trf's seen). Any other variable fails.
			if id, ok := c.Args[arg].(*ast.Ident); ok && passOn[fn+" "+id.Name] {
				return true
			}
			format, ok := literal(c.Args[arg])
			if !assert.True(t, ok, "%s: %s's format is a literal, so that the catalogue can hold it", fset.Position(c.Pos()), fn) {
				return true
			}
			used[format] = fset.Position(c.Pos()).String()
			return true
		})
	}
	return used
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

func TestStepErrorLocalize(t *testing.T) {
	cause := errors.New("RESOURCE_DOES_NOT_EXIST: Registered Model with name=X not found")
	e := stepErrorf("reading registered model %q: %w", "X", cause)
	assert.Equal(t, `reading registered model "X": `+cause.Error(), e.Error())
	assert.Same(t, e, e.Localize("en"))
	assert.Same(t, e, e.Localize(""))

	fr := e.Localize("fr")
	assert.Equal(t, `lecture du modèle enregistré "X" : `+cause.Error(), fr.Error(), "MLflow's own words are kept")
	assert.ErrorIs(t, fr, cause, "the French still wraps the cause")
	assert.ErrorIs(t, e, cause)

	// A refusal wrapped in a step's error is said in French too, and is
	// still a refusal.
	g := Refuse("validate", "%s version %s failed %d check(s): %s (tagged %s=%s)", "M", "2", 1, "f1", TagValidationStatus, StatusFailed)
	w := stepErrorf("validate: %s (version %s): a threshold on %s needs scores, but %w: drop that threshold or log the model with probabilities", "M", "2", "auc", g).Localize("fr-FR")
	assert.Contains(t, w.Error(), "validate : M (version 2) : un seuil sur auc demande des scores, mais refus de validate : M version 2 a échoué à 1 contrôle(s)")
	var ge *GateError
	require.ErrorAs(t, w, &ge)
	assert.True(t, ge.GateRefused())

	// A version in a refusal's arguments: "no version" is French too.
	race := Refuse("promote", "right after this scenario moved %s of %s from %s to version %s, the alias pointed to %s: another promotion moved it meanwhile (MLflow has no compare-and-swap on aliases); version %s is not in production; check the model's page and rerun",
		"production-live", "M", versionText(""), "1", versionText("2"), "1")
	assert.Contains(t, race.Error(), "from no version to version 1, the alias pointed to version 2")
	frRace := race.Localize("fr").Error()
	assert.Contains(t, frRace, "(qui pointait vers aucune version) vers la version 1")
	assert.Contains(t, frRace, "pointait vers la version 2")
	assert.NotContains(t, frRace, "no version")

	// A sentinel and a noun group in a step's error: French, and still the
	// sentinel for errors.Is.
	th := stepErrorf("%w for %s: threshold %v is not a finite number", ErrThreshold, "f1", math.Inf(1))
	assert.Equal(t, "bad metric threshold for f1: threshold +Inf is not a finite number", th.Error())
	frTh := th.Localize("fr")
	assert.Equal(t, "seuil de métrique invalide pour f1 : le seuil +Inf n'est pas un nombre fini", frTh.Error())
	assert.ErrorIs(t, frTh, ErrThreshold)
	out := stepErrorf("%s %q: %w", word("validation data"), "x.csv", ErrNoScenarioDir)
	assert.Equal(t, `validation data "x.csv": the run has no scenario folder to read data files from`, out.Error())
	assert.Equal(t, `données de validation "x.csv" : l'exécution n'a pas de dossier de scénario où lire des fichiers de données`, out.Localize("fr").Error())
	assert.ErrorIs(t, out.Localize("fr"), ErrNoScenarioDir)
	assert.NotErrorIs(t, out.Localize("fr"), ErrOutsideScenarioDir)

	own := stepErrorf("a format of no catalogue %d", 1)
	assert.Same(t, own, own.Localize("fr"), "a format the catalogue does not hold is kept")
}
