package testenv_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
)

// heldToMLflow are the functions of the tests allowed to call RealMLflow,
// which skips on a machine with only Go: each asserts what only the real
// MLflow server shows. Every other test that needs a tracking server uses
// mlflowtest.URI and runs with only Go.
var heldToMLflow = map[string]string{
	"conformance.startTarget":                              "the conformance suite's real target: the embedded server is held to it",
	"cmd/playbook.TestPromotionEndToEndMLflow":             "the French exercise end to end against MLflow itself",
	"cmd/playbook.TestWatchRealMLflowDryRun":               "watch against a tracking server of the user's: a dry run, MLflow itself unchanged",
	"cmd/playbook.TestWatchApplyNamesTheRegistry":          "watch --apply against a tracking server of the user's says it changes it",
	"cmd/playbook.TestInputFaultsMLflow":                   "bad parameters and cells refused before MLflow itself changes: its registry byte-identical through its own REST API",
	"internal/browser.TestScreenshotMLflowModelPage":       "the MLflow UI",
	"steps.TestVerifyCapturesMLflowUI":                     "verify's capture of the MLflow UI",
	"steps.TestPromoteUnchangedSklearnMLflow3":             "scikit-learn models logged twice identically by MLflow's Python client: the second not promoted over the first, MLflow's registry unchanged",
	"steps.TestRegisterSklearnLoggedModelsMLflow3":         "register of models logged by MLflow's own Python client the MLflow 3 way (logged models, models:/m-... sources), loaded back in Python",
	"cmd/playbook.TestFrenchScenarioOnSklearnModelsMLflow": "the French scenario on scikit-learn models logged by MLflow's Python client, against MLflow itself",
	"training.TestPromotedModelLoadsInPyfuncMLflow":        "a promoted playbook model loaded by MLflow's pyfunc, evaluate and models serve, against MLflow itself",
	"cmd/playbook.TestFrenchScenarioServedMLflow":          "the French scenario serving the production model with mlflow models serve, against MLflow itself",
	"cmd/playbook.TestKernelCaptureMLflow":                 "the verify step's screenshot of MLflow's own UI, taken by playbook for a kernel process",
	"cmd/playbook.TestBasicAuthMLflow":                     "MLflow's own basic-auth app (a server the test starts): the capture through its authentication, its identity of the user",
	"cmd/playbook.TestBreastCancerScenarioMLflow":          "the breast cancer scenario on scikit-learn models logged by MLflow's Python client, validated on the data set's own columns, against MLflow itself",
	"cmd/playbook.TestMlflowClientExampleMLflow":           "the exercise written with steps.MlflowClient, call for call as MLflow's own MlflowClient does it, against MLflow itself",
	"mlflow.BenchmarkSearchAllRuns10k":                     "a benchmark of the real server, beside the client",
	"mlflow.TestSklearnLoggedModelsInterop":                "models logged by MLflow's own Python client the MLflow 3 way (the embedded server too: ...InteropEmbedded)",
	"cmd/playbook.TestPromotionKillPointsHeavy":            "a promotion killed at each of its changes against MLflow itself (the heavy lane)",
	"cmd/playbook.TestLoadPromotionsPostgresHeavy":         "32 promotions at once and a race against MLflow itself on PostgreSQL (the PostgreSQL lane)",
	"cmd/playbook.TestLoadIdentify100kPostgresHeavy":       "identify over 100,000 runs inserted into MLflow's own PostgreSQL tables, against MLflow itself (the PostgreSQL lane)",
	"cmd/playbook.TestArtifactStoreProbeMLflow":            "an object store that refuses playbook's keys or cannot be reached fails register before MLflow itself changes (s3-direct, the S3 lane)",
	"training.TestTrainLoggedModelsMLflow":                 "training's MLflow 3 logged models, registered by MLflow's own Python client (the embedded server too: ...Embedded)",
}

// TestRealMLflowOnlyWhereHeld: no test skips for want of MLflow on a
// machine with only Go unless it is listed in heldToMLflow, with why.
func TestRealMLflowOnlyWhereHeld(t *testing.T) {
	root := testenv.RepoRoot()
	fset := token.NewFileSet()
	var callers []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if ok && calls(fn, "testenv", "RealMLflow") {
				callers = append(callers, filepath.ToSlash(rel)+"."+fn.Name.Name)
			}
		}
		return nil
	})
	require.NoError(t, err)
	slices.Sort(callers)
	var want []string
	for k := range heldToMLflow {
		want = append(want, k)
	}
	slices.Sort(want)
	assert.Equal(t, want, callers, "a test that needs only a tracking server uses mlflowtest.URI; one held to MLflow itself is listed in heldToMLflow")
}

// calls reports whether fn's body calls pkg.name.
func calls(fn *ast.FuncDecl, pkg, name string) bool {
	found := false
	ast.Inspect(fn, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == name {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == pkg {
				found = true
			}
		}
		return !found
	})
	return found
}
