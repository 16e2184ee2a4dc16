package steps

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette/brewer"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/playbook-mlops/playbook/churn"
)

// MaxCurvePoints is the most points a curve of a plot keeps: the rest are
// thinned out, so that a report stays small.
const MaxCurvePoints = 500

// thin returns the points (xs[i], ys[i]) without NaNs, at most max of them,
// evenly spaced along the curve, the first and last kept.
func thin(xs, ys []float64, max int) plotter.XYs {
	pts := make(plotter.XYs, 0, len(xs))
	for i := range xs {
		if !math.IsNaN(xs[i]) && !math.IsNaN(ys[i]) && !math.IsInf(xs[i], 0) && !math.IsInf(ys[i], 0) {
			pts = append(pts, plotter.XY{X: xs[i], Y: ys[i]})
		}
	}
	if len(pts) <= max || max < 2 {
		return pts
	}
	out := make(plotter.XYs, max)
	for i := range max {
		out[i] = pts[i*(len(pts)-1)/(max-1)]
	}
	return out
}

// scored is one model's scores on the validation data, for plots.
type scored struct {
	label  string
	scores []float64
}

// palette is Okabe and Ito's colour-blind-safe palette (blue, orange,
// bluish green, vermillion, reddish purple, sky blue, yellow): two series
// never differ by red and green alone.
var palette = []color.Color{
	color.RGBA{0x00, 0x72, 0xB2, 0xff}, color.RGBA{0xE6, 0x9F, 0x00, 0xff}, color.RGBA{0x00, 0x9E, 0x73, 0xff},
	color.RGBA{0xD5, 0x5E, 0x00, 0xff}, color.RGBA{0xCC, 0x79, 0xA7, 0xff}, color.RGBA{0x56, 0xB4, 0xE9, 0xff},
	color.RGBA{0xF0, 0xE4, 0x42, 0xff},
}

// seriesColor is the colour of the i-th series of a plot.
func seriesColor(i int) color.Color { return palette[i%len(palette)] }

// sans is the plots' font: a sans-serif, as the report's page.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// newPlot returns a plot with its title and axes, in the report's
// sans-serif at sizes read from the back of a classroom.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	for _, t := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		size := t.Font.Size
		t.Font = sans
		t.Font.Size = size
	}
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.TextStyle.Font.Size, p.Y.Label.TextStyle.Font.Size = vg.Points(12), vg.Points(12)
	p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = vg.Points(11), vg.Points(11)
	p.Legend.TextStyle.Font.Size = vg.Points(11)
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	return p
}

func mustPlot(err error) {
	if err != nil {
		failf("drawing a plot: %w", err)
	}
}

// rocPlot draws the ROC curve of each model.
func rocPlot(pb *Playbook, labels []float64, models []scored) *plot.Plot {
	p := newPlot(tr(pb, "ROC curve"), tr(pb, "false positive rate"), tr(pb, "true positive rate"))
	p.Legend.Top, p.Legend.Left = false, false
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	mustPlot(err)
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	diag.Color = color.Gray{Y: 160}
	p.Add(diag)
	for i, m := range models {
		fpr, tpr, _ := churn.ROCCurve(labels, m.scores)
		auc, _ := churn.ROCAUC(labels, m.scores)
		l, err := plotter.NewLine(thin(fpr, tpr, MaxCurvePoints))
		mustPlot(err)
		curveStyle(l, i)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (AUC %.3f)", m.label, auc), l)
	}
	return p
}

// curveStyle gives the i-th curve of a plot its colour and its dashes
// (solid, then dashed, then dotted...): two identical curves, a candidate
// and a champion with the same model, both stay visible.
func curveStyle(l *plotter.Line, i int) {
	l.Color = seriesColor(i)
	l.Width = vg.Points(2)
	l.Dashes = plotutil.Dashes(i)
}

// prPlot draws the precision-recall curve of each model.
func prPlot(pb *Playbook, labels []float64, models []scored) *plot.Plot {
	p := newPlot(tr(pb, "Precision-recall curve"), tr(pb, "recall"), tr(pb, "precision"))
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	for i, m := range models {
		prec, rec, _ := churn.PRCurve(labels, m.scores)
		l, err := plotter.NewLine(thin(rec, prec, MaxCurvePoints))
		mustPlot(err)
		curveStyle(l, i)
		p.Add(l)
		p.Legend.Add(m.label, l)
	}
	return p
}

// confusionGrid is a 2×2 confusion matrix as a heat map's grid: column 0
// predicted no churn, column 1 predicted churn; row 0 actual no churn,
// drawn at the top, so that both axes read the classes in the same order
// (left to right, top to bottom), the diagonal the right answers.
type confusionGrid churn.Confusion

func (g confusionGrid) Dims() (int, int) { return 2, 2 }
func (g confusionGrid) X(c int) float64  { return float64(c) }
func (g confusionGrid) Y(r int) float64  { return float64(1 - r) }
func (g confusionGrid) Z(c, r int) float64 {
	switch {
	case r == 0 && c == 0:
		return float64(g.TN)
	case r == 0:
		return float64(g.FP)
	case c == 0:
		return float64(g.FN)
	}
	return float64(g.TP)
}

// classNames names the negative and the positive class in plots: churn
// for Telco data, the positive label of another data set.
// (negLegend and posLegend in the score distribution's legend).
type classNames struct{ neg, pos, negLegend, posLegend, proba string }

func (res *ValidationResult) classNames(pb *Playbook) classNames {
	if res.Label != "" {
		neg := trf(pb, "not %s", res.PositiveLabel)
		return classNames{neg, res.PositiveLabel, neg, res.PositiveLabel,
			trf(pb, "predicted probability of %s", res.PositiveLabel)}
	}
	return classNames{tr(pb, "no churn"), tr(pb, "churn"), tr(pb, "stayed"), tr(pb, "churned"),
		tr(pb, "predicted probability of churn")}
}

// confusionPlot draws a confusion matrix with its counts.
func confusionPlot(pb *Playbook, m churn.Confusion, names classNames) *plot.Plot {
	p := newPlot(tr(pb, "Confusion matrix"), tr(pb, "predicted"), tr(pb, "actual"))
	g := confusionGrid(m)
	pal, err := brewer.GetPalette(brewer.TypeSequential, "Blues", 9)
	mustPlot(err)
	hm := plotter.NewHeatMap(g, pal)
	p.Add(hm)
	var lab plotter.XYLabels
	top := 0.0
	for r := range 2 {
		for c := range 2 {
			lab.XYs = append(lab.XYs, plotter.XY{X: float64(c), Y: g.Y(r)})
			lab.Labels = append(lab.Labels, fmt.Sprint(g.Z(c, r)))
			top = math.Max(top, g.Z(c, r))
		}
	}
	labels, err := plotter.NewLabels(lab)
	mustPlot(err)
	for i := range labels.TextStyle {
		labels.TextStyle[i].XAlign, labels.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
		labels.TextStyle[i].Font = sans
		labels.TextStyle[i].Font.Size = vg.Points(16)
		if g.Z(int(lab.XYs[i].X), 1-int(lab.XYs[i].Y)) > top/2 {
			labels.TextStyle[i].Color = color.White // on the dark cells
		}
	}
	p.Add(labels)
	no, yes := names.neg, names.pos
	p.NominalX(no, yes)
	p.NominalY(yes, no) // y = 0 at the bottom: the positive class, row 1
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -0.5, 1.5, -0.5, 1.5
	return p
}

// scorePlot draws the distribution of the scores of each class.
func scorePlot(pb *Playbook, labels, scores []float64, names classNames) *plot.Plot {
	p := newPlot(tr(pb, "Score distribution by class"),
		names.proba, tr(pb, "density"))
	var pos, neg plotter.Values
	for i, s := range scores {
		if labels[i] == 1 {
			pos = append(pos, s)
		} else {
			neg = append(neg, s)
		}
	}
	for i, c := range []struct {
		name string
		vs   plotter.Values
	}{{names.negLegend, neg}, {names.posLegend, pos}} {
		if len(c.vs) == 0 {
			continue
		}
		h, err := plotter.NewHist(c.vs, 20)
		mustPlot(err)
		h.Normalize(1)
		cr, cg, cb, _ := seriesColor(i).RGBA()
		h.FillColor = color.NRGBA{R: uint8(cr >> 8), G: uint8(cg >> 8), B: uint8(cb >> 8), A: 110}
		h.LineStyle.Width = vg.Points(0.5)
		p.Add(h)
		p.Legend.Add(c.name, h)
	}
	p.X.Min, p.X.Max = 0, 1
	return p
}

// fairnessPlot draws each group's selection rate, true and false positive
// rates.
func fairnessPlot(pb *Playbook, fs []churn.Fairness) *plot.Plot {
	p := newPlot(tr(pb, "Fairness by group"), "", tr(pb, "rate"))
	var names []string
	var sel, tpr, fpr plotter.Values
	for _, f := range fs {
		for _, g := range f.Groups {
			names = append(names, f.Attribute+"="+g.Group)
			sel = append(sel, g.SelectionRate)
			tpr = append(tpr, g.TPR)
			fpr = append(fpr, g.FPR)
		}
	}
	w := vg.Points(10)
	for i, s := range []struct {
		name string
		vs   plotter.Values
	}{{tr(pb, "selection rate"), sel}, {tr(pb, "TPR"), tpr}, {tr(pb, "FPR"), fpr}} {
		b, err := plotter.NewBarChart(s.vs, w)
		mustPlot(err)
		b.Color = seriesColor(i)
		b.LineStyle.Width = 0
		b.Offset = vg.Length(i-1) * w
		p.Add(b)
		p.Legend.Add(s.name, b)
	}
	p.NominalX(names...)
	p.Y.Min, p.Y.Max = 0, 1.25 // room for the legend above the bars
	return p
}

// leaderboardPlot draws the leaderboard's metric values as horizontal
// bars, best at the top, each named by its run; the value axis starts
// near the lowest value, not at zero, so that 0.57 and 0.61 do not look
// the same.
func leaderboardPlot(res *BestRun) *plot.Plot {
	p := newPlot(res.Metric, res.Metric, "")
	n := len(res.Leaderboard)
	vs := make(plotter.Values, n)
	names := make([]string, n)
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, row := range res.Leaderboard {
		name := row.RunName
		if name == "" {
			name = row.RunID
		}
		// Bottom to top: the best (rank 1) at the top.
		vs[n-1-i] = row.Value
		names[n-1-i] = fmt.Sprintf("%d. %s", row.Rank, name)
		lo, hi = math.Min(lo, row.Value), math.Max(hi, row.Value)
	}
	b, err := plotter.NewBarChart(vs, vg.Points(16))
	mustPlot(err)
	b.Horizontal = true
	b.Color = seriesColor(0)
	b.LineStyle.Width = 0
	p.Add(b)
	p.NominalY(names...)
	if n > 0 {
		span := hi - lo
		if span == 0 {
			span = math.Max(math.Abs(hi)*0.1, 0.01)
		}
		p.X.Min, p.X.Max = lo-span*0.5, hi+span*0.25
		if lo >= 0 && p.X.Min < 0 {
			p.X.Min = 0
		}
	}
	return p
}
