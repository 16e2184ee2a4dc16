package churn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/gonum/floats"

	"github.com/playbook-mlops/playbook/internal/testenv"
)

// The reference test writes cases, has scripts/metrics_reference.py compute
// them with scikit-learn and fairlearn, and compares every number with the
// Go implementation.

// refTol is the largest difference allowed between a Go metric and its
// scikit-learn/fairlearn reference.
const refTol = 1e-9

type refCase struct {
	Name      string    `json:"name"`
	Y         []float64 `json:"y"`
	Scores    []float64 `json:"scores"`
	Threshold float64   `json:"threshold"`
	Groups    []string  `json:"groups,omitempty"`
	Fit       *refFit   `json:"fit,omitempty"`
}

// refFit asks for scikit-learn's LogisticRegression(C) on X, y.
type refFit struct {
	X [][]float64 `json:"X"`
	Y []float64   `json:"y"`
	C float64     `json:"C"`
}

// pyFloat is a number from the script: JSON numbers, or "nan", "inf",
// "-inf" for the values JSON cannot hold.
type pyFloat float64

func (f *pyFloat) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "nan":
			*f = pyFloat(math.NaN())
		case "inf":
			*f = pyFloat(math.Inf(1))
		case "-inf":
			*f = pyFloat(math.Inf(-1))
		default:
			return fmt.Errorf("unexpected number %q", s)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = pyFloat(v)
	return nil
}

func floats64(p []pyFloat) []float64 {
	out := make([]float64, len(p))
	for i, v := range p {
		out[i] = float64(v)
	}
	return out
}

type refResult struct {
	Name      string    `json:"name"`
	Accuracy  pyFloat   `json:"accuracy"`
	Precision pyFloat   `json:"precision"`
	Recall    pyFloat   `json:"recall"`
	F1        pyFloat   `json:"f1"`
	Confusion Confusion `json:"confusion"`
	ROCAUC    pyFloat   `json:"roc_auc"`
	ROCCurve  struct {
		FPR        []pyFloat `json:"fpr"`
		TPR        []pyFloat `json:"tpr"`
		Thresholds []pyFloat `json:"thresholds"`
	} `json:"roc_curve"`
	PRCurve struct {
		Precision  []pyFloat `json:"precision"`
		Recall     []pyFloat `json:"recall"`
		Thresholds []pyFloat `json:"thresholds"`
	} `json:"pr_curve"`
	LogLoss  pyFloat `json:"log_loss"`
	Brier    pyFloat `json:"brier"`
	Fairness *struct {
		ByGroup map[string]struct {
			Count         pyFloat `json:"count"`
			SelectionRate pyFloat `json:"selection_rate"`
			TPR           pyFloat `json:"true_positive_rate"`
			FPR           pyFloat `json:"false_positive_rate"`
		} `json:"by_group"`
		DemographicParityDifference pyFloat `json:"demographic_parity_difference"`
		EqualizedOddsDifference     pyFloat `json:"equalized_odds_difference"`
	} `json:"fairness"`
	Fit *struct {
		Intercept pyFloat   `json:"intercept"`
		Coef      []pyFloat `json:"coef"`
	} `json:"fit"`
	Warnings []string `json:"warnings"`
}

// referenceCases builds the cases: random data, ties, one class, a single
// member group, separated data, extreme probabilities, a real model's scores,
// and two logistic fits.
func referenceCases(t *testing.T) []refCase {
	t.Helper()
	r := newRNG(2024, 7)
	random := func(name string, n int, rate float64, score func(y float64) float64, groups []string) refCase {
		c := refCase{Name: name, Threshold: 0.5}
		for range n {
			y := b2f(r.bernoulli(rate))
			c.Y = append(c.Y, y)
			c.Scores = append(c.Scores, score(y))
			if groups != nil {
				c.Groups = append(c.Groups, groups[r.intn(len(groups))])
			}
		}
		return c
	}
	abc := []string{"a", "b", "c"}
	uniform := func(float64) float64 { return r.float() }
	tied := func(float64) float64 { return float64(r.intn(5)) / 4 } // 0, .25, .5, .75, 1

	cases := []refCase{
		{Name: "sklearn-doc", Y: []float64{0, 0, 1, 1}, Scores: []float64{0.1, 0.4, 0.35, 0.8}, Threshold: 0.5, Groups: []string{"x", "y", "x", "y"}},
		random("random", 400, 0.35, uniform, abc),
		random("random-informative", 2000, 0.27, func(y float64) float64 { return sigmoid(1.5*y - 0.7 + r.normal()) }, abc),
		random("tied", 1000, 0.4, tied, []string{"Female", "Male"}),
		random("tied-informative", 1000, 0.3, func(y float64) float64 { return math.Min(1, float64(r.intn(4))/4+0.25*y) }, abc),
		random("all-negative", 60, 0, uniform, abc),
		random("all-positive", 60, 1, uniform, abc),
		random("all-negative-tied", 40, 0, tied, nil),
		random("separated", 300, 0.3, func(y float64) float64 { return 0.6*y + 0.4*r.float() }, abc),
		random("extreme-probabilities", 200, 0.5, func(float64) float64 {
			return []float64{0, 1, 1e-20, 1 - 1e-16, 0.5, 2.220446049250313e-16}[r.intn(6)]
		}, abc),
		// No groups: fairlearn's MetricFrame refuses a single row ("Feature
		// array has too many dimensions").
		{Name: "single-row", Y: []float64{1}, Scores: []float64{0.3}, Threshold: 0.5},
	}

	single := random("single-member-group", 80, 0.4, uniform, []string{"a", "b"})
	single.Groups[17] = "solo"
	cases = append(cases, single)

	lowThreshold := random("threshold-0.3", 500, 0.3, uniform, abc)
	lowThreshold.Threshold = 0.3
	cases = append(cases, lowThreshold)

	atThreshold := random("scores-at-threshold", 200, 0.5, func(float64) float64 { return []float64{0.5, 0.5, 0.25, 0.75}[r.intn(4)] }, abc)
	cases = append(cases, atThreshold)

	// A real model's scores on generated data, grouped by the protected
	// attributes.
	train, valid := StratifiedSplit(GenerateDataset(6000, 77), 0.3, 3)
	m, err := Fit(train, TrainOptions{L2: 1e-3})
	require.NoError(t, err)
	proba := m.PredictProba(valid)
	for _, attr := range []string{AttrSeniorCitizen, AttrGender} {
		groups, err := valid.Groups(attr)
		require.NoError(t, err)
		cases = append(cases, refCase{Name: "model-" + attr, Y: valid.Labels(), Scores: proba, Threshold: 0.5, Groups: groups})
	}
	model := cases[len(cases)-1]
	model.Name, model.Threshold, model.Groups = "model-threshold-0.35", 0.35, nil
	cases = append(cases, model)

	// Logistic fits: encoded generated customers (one-hot, collinear with
	// the intercept: the penalty makes the optimum unique), and raw
	// correlated features with a strong penalty.
	fitData := GenerateDataset(1500, 5)
	X := FitEncoder(fitData).Transform(fitData)
	var rows [][]float64
	for i := range fitData.Len() {
		rows = append(rows, append([]float64(nil), X.RawRowView(i)...))
	}
	cases = append(cases, refCase{Name: "fit-encoded-C1", Y: []float64{0, 1}, Scores: []float64{0.2, 0.8}, Threshold: 0.5,
		Fit: &refFit{X: rows, Y: fitData.Labels(), C: 1}})
	Xs, ys := synthetic(800, 0.4, []float64{1, -1, 0.5}, 8)
	var srows [][]float64
	for i := range 800 {
		row := Xs.RawRowView(i)
		row[1] += row[0] // correlated
		srows = append(srows, append([]float64(nil), row...))
	}
	cases = append(cases, refCase{Name: "fit-raw-C0.01", Y: []float64{0, 1}, Scores: []float64{0.2, 0.8}, Threshold: 0.5,
		Fit: &refFit{X: srows, Y: ys, C: 0.01}})
	return cases
}

// runReference runs the script on cases and returns its results by name.
func runReference(t *testing.T, cases []refCase) map[string]refResult {
	t.Helper()
	py := testenv.Python(t)
	if out, err := exec.CommandContext(t.Context(), py, "-c", "import sklearn, fairlearn").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("scikit-learn or fairlearn missing in %s (run scripts/mlflow-server install): %v\n%s", py, err, out)
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	path := filepath.Join(t.TempDir(), "cases.json")
	data, err := json.Marshal(map[string]any{"cases": cases})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))

	script := filepath.Join(testenv.RepoRoot(), "scripts", "metrics_reference.py")
	cmd := exec.CommandContext(t.Context(), py, script, path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "metrics_reference.py: %s", stderr.String())

	var doc struct {
		Versions map[string]string `json:"versions"`
		Cases    []refResult       `json:"cases"`
	}
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &doc))
	t.Logf("reference: %v", doc.Versions)
	require.Len(t, doc.Cases, len(cases))
	out := make(map[string]refResult)
	for _, c := range doc.Cases {
		out[c.Name] = c
	}
	return out
}

func TestMetricsMatchScikitLearnAndFairlearn(t *testing.T) {
	t.Parallel() // mostly waiting for Python
	cases := referenceCases(t)
	ref := runReference(t, cases)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := ref[c.Name]
			require.True(t, ok)
			if len(want.Warnings) > 0 {
				t.Logf("scikit-learn/fairlearn warned: %s", strings.Join(want.Warnings, ", "))
			}
			if c.Fit != nil {
				checkFit(t, c, want)
				return
			}

			got, err := Evaluate(c.Y, c.Scores, c.Threshold)
			if math.IsNaN(float64(want.ROCAUC)) {
				assert.ErrorIs(t, err, ErrOneClass, "scikit-learn's AUC is undefined: Go must say ErrOneClass")
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, want.Confusion, got.Confusion)
			for _, m := range []struct {
				name      string
				want, got float64
			}{
				{"accuracy", float64(want.Accuracy), got.Accuracy},
				{"precision", float64(want.Precision), got.Precision},
				{"recall", float64(want.Recall), got.Recall},
				{"f1", float64(want.F1), got.F1},
				{"roc_auc", float64(want.ROCAUC), got.ROCAUC},
				{"log_loss", float64(want.LogLoss), got.LogLoss},
				{"brier", float64(want.Brier), got.Brier},
			} {
				assertClose(t, m.want, m.got, refTol, m.name)
			}

			fpr, tpr, thr := ROCCurve(c.Y, c.Scores)
			assertAllClose(t, floats64(want.ROCCurve.FPR), fpr, refTol, "roc fpr")
			assertAllClose(t, floats64(want.ROCCurve.TPR), tpr, refTol, "roc tpr")
			assertAllClose(t, floats64(want.ROCCurve.Thresholds), thr, 0, "roc thresholds")
			prec, rec, pthr := PRCurve(c.Y, c.Scores)
			assertAllClose(t, floats64(want.PRCurve.Precision), prec, refTol, "precision")
			assertAllClose(t, floats64(want.PRCurve.Recall), rec, refTol, "recall")
			assertAllClose(t, floats64(want.PRCurve.Thresholds), pthr, 0, "pr thresholds")

			if c.Groups == nil {
				assert.Nil(t, want.Fairness)
				return
			}
			require.NotNil(t, want.Fairness)
			f, err := FairnessByGroup(c.Y, Threshold(c.Scores, c.Threshold), c.Groups)
			require.NoError(t, err)
			require.Len(t, f.Groups, len(want.Fairness.ByGroup))
			for _, g := range f.Groups {
				w, ok := want.Fairness.ByGroup[g.Group]
				require.True(t, ok, "group %q", g.Group)
				assert.Equal(t, float64(w.Count), float64(g.Count), "group %s count", g.Group)
				assertClose(t, float64(w.SelectionRate), g.SelectionRate, refTol, "group %s selection rate", g.Group)
				assertClose(t, float64(w.TPR), g.TPR, refTol, "group %s TPR", g.Group)
				assertClose(t, float64(w.FPR), g.FPR, refTol, "group %s FPR", g.Group)
			}
			assertClose(t, float64(want.Fairness.DemographicParityDifference), f.DemographicParityDifference, refTol, "demographic parity difference")
			assertClose(t, float64(want.Fairness.EqualizedOddsDifference), f.EqualizedOddsDifference, refTol, "equalized odds difference")
		})
	}
}

// checkFit compares TrainLogistic with L2 = 1/(C·n) to scikit-learn's
// LogisticRegression(C): the documented equivalence of the penalties. Both
// are iterative, so the tolerance is the optimisers', not refTol.
func checkFit(t *testing.T, c refCase, want refResult) {
	t.Helper()
	require.NotNil(t, want.Fit)
	n := len(c.Fit.X)
	X := denseFromRows(c.Fit.X)
	m, err := TrainLogistic(X, c.Fit.Y, TrainOptions{L2: 1 / (c.Fit.C * float64(n)), Tolerance: 1e-10, MaxIterations: 10000})
	require.NoError(t, err)
	t.Logf("Go: %+v", m.Info)
	// Coefficients agree to the optimisers' accuracy: a gradient of ~1e-9
	// moves the solution by up to 1e-9/λ along the flattest direction.
	const coefTol = 1e-5
	assert.InDelta(t, float64(want.Fit.Intercept), m.Intercept, coefTol, "intercept")
	assertAllClose(t, floats64(want.Fit.Coef), m.Coef, coefTol, "coef")

	// And both minimise the same objective: scikit-learn's solution has the
	// same value and a vanishing gradient under the Go objective.
	obj := newObjective(X, c.Fit.Y, 1/(c.Fit.C*float64(n)))
	obj.eval(append([]float64{float64(want.Fit.Intercept)}, floats64(want.Fit.Coef)...))
	assert.InDelta(t, m.Info.Objective, obj.f, 1e-11, "objective at scikit-learn's solution")
	assert.Less(t, floats.Norm(obj.grad, math.Inf(1)), 1e-7, "gradient at scikit-learn's solution")
}
