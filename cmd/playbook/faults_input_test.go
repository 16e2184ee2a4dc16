package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
)

// inputFault is one bad input to playbook run of the French scenario:
// extra -p flags, or a change to the scenario's text (edit), and what
// playbook must answer before anything reaches the registry.
type inputFault struct {
	name   string
	params []string
	// edit, when set, changes the scenario's text (a copy in a folder of
	// the test's own).
	edit func(t *testing.T, src string) string
	// args, when set, replaces the tracking flags (--tracking-uri URI).
	args func(uri string) []string
	code int
	// first is a function of the scenario's path and source that returns
	// the expected start of the first line of stderr.
	first func(path, src string) string
}

// declLine returns the line of src that declares parameter name.
func declLine(t *testing.T, src, name string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if l == "  "+name+":" {
			return i + 1
		}
	}
	t.Fatalf("no parameter %s", name)
	return 0
}

// lineOf returns the line of src that starts with prefix.
func lineOf(t *testing.T, src, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line %q", prefix)
	return 0
}

// afterFence inserts code as the first line of the cell of step.
func afterFence(step, code string) func(*testing.T, string) string {
	return func(t *testing.T, src string) string {
		fence := "```go step=" + step + "\n"
		require.Contains(t, src, fence)
		return strings.Replace(src, fence, fence+code+"\n", 1)
	}
}

func paramFault(t *testing.T, name, value, rest string) func(path, src string) string {
	return func(path, src string) string {
		return fmt.Sprintf("playbook run: %s:%d: parameter %s = %s (from -p): %s", path, declLine(t, src, name), name, value, rest)
	}
}

func inputFaults(t *testing.T) []inputFault {
	reserved := "is reserved"
	long := strings.Repeat("a", 300)
	emptyRefused := "an explicitly empty value is not accepted"
	return []inputFault{
		{name: "alias-v3", params: []string{"production_alias=v3"}, code: ExitUsage,
			first: paramFault(t, "production_alias", `"v3"`, `alias "v3" `+reserved+": v<digits> names a version; accepted: an MLflow alias")},
		{name: "alias-latest", params: []string{"production_alias=latest"}, code: ExitUsage,
			first: paramFault(t, "production_alias", `"latest"`, `alias "latest" `+reserved)},
		{name: "alias-LATEST", params: []string{"candidate_alias=LATEST"}, code: ExitUsage,
			first: paramFault(t, "candidate_alias", `"LATEST"`, `alias "LATEST" `+reserved)},
		{name: "alias-space", params: []string{"production_alias=production live"}, code: ExitUsage,
			first: paramFault(t, "production_alias", `"production live"`, `alias "production live": only letters, digits, "_" and "-" are allowed, not ' '`)},
		{name: "alias-300-characters", params: []string{"production_alias=" + long}, code: ExitUsage,
			first: paramFault(t, "production_alias", `"`+long+`"`, "alias has 300 characters, more than 255")},
		{name: "alias-slash", params: []string{"candidate_alias=a/b"}, code: ExitUsage,
			first: paramFault(t, "candidate_alias", `"a/b"`, `alias "a/b": only letters`)},
		{name: "candidate-equals-production", params: []string{"candidate_alias=production-live"}, code: ExitUsage,
			first: func(path, src string) string {
				return fmt.Sprintf(`playbook run: %s:%d: parameter candidate_alias = "production-live": must differ from parameter production_alias`, path, declLine(t, src, "candidate_alias"))
			}},
		{name: "both-aliases-equal-other", params: []string{"candidate_alias=x", "production_alias=x"}, code: ExitUsage,
			first: func(path, src string) string {
				return fmt.Sprintf(`playbook run: %s:%d: parameter candidate_alias = "x": must differ from parameter production_alias`, path, declLine(t, src, "candidate_alias"))
			}},
		{name: "validation-rows-negative", params: []string{"validation_rows=-5"}, code: ExitUsage,
			first: paramFault(t, "validation_rows", "-5", "out of range; accepted: 10 or more")},
		{name: "min-relative-change-5", params: []string{"min_relative_change=5"}, code: ExitUsage,
			first: paramFault(t, "min_relative_change", "5", "out of range; accepted: from 0 to 1")},
		{name: "max-dp-diff-negative", params: []string{"max_dp_diff=-0.1"}, code: ExitUsage,
			first: paramFault(t, "max_dp_diff", "-0.1", "out of range; accepted: from 0 to 1")},
		{name: "min-f1-above-1", params: []string{"min_f1=1.5"}, code: ExitUsage,
			first: paramFault(t, "min_f1", "1.5", "out of range; accepted: from 0 to 1")},
		{name: "examples-negative", params: []string{"examples=-1"}, code: ExitUsage,
			first: paramFault(t, "examples", "-1", "out of range; accepted: 1 or more")},
		{name: "examples-not-a-number", params: []string{"examples=many"}, code: ExitUsage,
			first: func(path, _ string) string {
				return fmt.Sprintf(`playbook run: %s: -p examples=many: parameter "examples" is an integer; "many" is not an integer`, path)
			}},
		{name: "model-name-empty", params: []string{"model_name="}, code: ExitUsage,
			first: paramFault(t, "model_name", `""`, emptyRefused)},
		{name: "model-name-blank", params: []string{"model_name=  "}, code: ExitUsage,
			first: paramFault(t, "model_name", `"  "`, emptyRefused)},
		{name: "model-name-slash", params: []string{"model_name=a/b"}, code: ExitUsage,
			first: paramFault(t, "model_name", `"a/b"`, `a model name cannot contain "/" or ":"`)},
		{name: "production-alias-empty", params: []string{"production_alias="}, code: ExitUsage,
			first: paramFault(t, "production_alias", `""`, emptyRefused)},
		{name: "experiment-empty", params: []string{"experiment="}, code: ExitUsage,
			first: paramFault(t, "experiment", `""`, emptyRefused)},
		{name: "direction-enum", params: []string{"direction=up"}, code: ExitUsage,
			first: paramFault(t, "direction", `"up"`, `"up" is not accepted; accepted: max, min`)},
		{name: "serve-enum", params: []string{"serve=maybe"}, code: ExitUsage,
			first: paramFault(t, "serve", `"maybe"`, `"maybe" is not accepted; accepted: auto, on, off`)},
		{name: "validation-data-outside", params: []string{"validation_data=../secret.csv"}, code: ExitUsage,
			first: paramFault(t, "validation_data", `"../secret.csv"`, "the path leaves the scenario's folder")},
		{name: "validation-data-missing", params: []string{"validation_data=nope.csv"}, code: ExitUsage,
			first: paramFault(t, "validation_data", `"nope.csv"`, "no such file in")},
		{name: "unknown-parameter", params: []string{"nope=1"}, code: ExitUsage,
			first: func(path, _ string) string {
				return fmt.Sprintf(`playbook run: %s: -p nope=1: unknown parameter "nope"`, path)
			}},
		{name: "verify-syntax-error", edit: afterFence("verify", "x := )"), code: ExitUsage,
			first: func(path, src string) string {
				return fmt.Sprintf("playbook run: %s:%d: step verify: syntax error", path, lineOf(t, src, "x := )"))
			}},
		{name: "verify-type-error", edit: afterFence("verify", `var n int = "text"`), code: ExitUsage,
			first: func(path, src string) string {
				return fmt.Sprintf("playbook run: %s:%d:", path, lineOf(t, src, `var n int = "text"`)) + " step verify:"
			}},
		{name: "verify-undefined-name", edit: afterFence("verify", "_ = noSuchName"), code: ExitUsage,
			first: func(path, src string) string {
				return fmt.Sprintf("playbook run: %s:%d:", path, lineOf(t, src, "_ = noSuchName")) + " step verify: undefined: noSuchName"
			}},
		{name: "alias-cell-unclosed-fence", code: ExitUsage,
			edit: func(t *testing.T, src string) string {
				i := strings.Index(src, "```go step=alias\n")
				require.Positive(t, i)
				j := i + strings.Index(src[i:], "\n```\n")
				return src[:j+1] + src[j+5:]
			},
			first: func(path, src string) string { return "playbook run: " + path + ":" }},
	}
}

// TestInputFaults runs playbook with each bad input against the embedded
// server, in both kernel modes: exit status, first line of the message,
// and the registry byte-identical through REST.
func TestInputFaults(t *testing.T) { inputFaultsAgainst(t, mlflowtest.Embedded(t)) }

// TestInputFaultsMLflow runs the same against the real MLflow 3.18.
func TestInputFaultsMLflow(t *testing.T) { inputFaultsAgainst(t, testenv.RealMLflow(t)) }

func inputFaultsAgainst(t *testing.T, uri string) {
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	stamp := time.Now().UnixNano()
	exp := fmt.Sprintf("faults-input-%d", stamp)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("ChurnPredictor-faults-%d", stamp)}
	e.train(exp, 2, 5000, 3)
	code, stderr, _ := e.promote(exp)
	require.Equal(t, ExitOK, code, stderr)
	require.Equal(t, "1", e.state(e.model).Aliases["production-live"], "a production version first")

	orig, err := os.ReadFile(scenario("churn-promotion.fr.md"))
	require.NoError(t, err)
	faults := inputFaults(t)
	require.GreaterOrEqual(t, len(faults), 25)
	for _, f := range faults {
		for _, kernel := range []string{kernelProcess, kernelInProcess} {
			t.Run(f.name+"/"+kernel, func(t *testing.T) {
				dir := t.TempDir()
				src := string(orig)
				if f.edit != nil {
					src = f.edit(t, src)
				}
				path := filepath.Join(dir, "churn-promotion.fr.md")
				require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
				before := registryDump(t, c)
				args := []string{"run", "--kernel", kernel, "--quiet", "--out", t.TempDir()}
				if f.args != nil {
					args = append(args, f.args(uri)...)
				} else {
					args = append(args, "--tracking-uri", uri)
				}
				args = append(args, path, "-p", "experiment="+exp, "-p", "model_name="+e.model)
				for _, p := range f.params {
					args = append(args, "-p", p)
				}
				var stdout, stderrb bytes.Buffer
				start := time.Now()
				code := run(t.Context(), args, &stdout, &stderrb)
				assert.Equal(t, f.code, code, stderrb.String())
				first, _, _ := strings.Cut(stderrb.String(), "\n")
				want := f.first(path, src)
				assert.True(t, strings.HasPrefix(first, want), "first line\n%s\nwant it to start with\n%s", first, want)
				assert.Less(t, time.Since(start), 10*time.Second, "refused at once")
				assert.Equal(t, before, registryDump(t, c), "the registry is unchanged")
			})
		}
	}
}
