package steps

import (
	"fmt"
	"strconv"

	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// InferRowsOptions says which rows of a data set [InferRows] scores.
type InferRowsOptions struct {
	// Data is a CSV file with a header (as ValidateOptions.Data with a
	// Label: inside the scenario's folder); the model's signature selects
	// and types its columns.
	Data string
	// Rows is how many of its first rows to score; 0 means
	// DefaultExamples.
	Rows int
	// PositiveLabel is the class whose probability is given, as the data
	// spells it (the model's class of that name or number).
	PositiveLabel string
	// Label names the file's label column, shown beside each prediction
	// when set (and never sent to a model without a signature).
	Label string
	// Show are the columns shown beside the predictions; nil means the
	// first three columns sent to the model.
	Show []string
}

// RowPrediction is a model's prediction for one row of a data set.
type RowPrediction struct {
	// Line is the row's line in the file.
	Line int
	// Probability is the model's probability of the positive label (a
	// labels-only model's label, 1 or 0); Label is 1 when it is at or
	// above the model's threshold, else 0.
	Probability float64
	Label       int
	// Actual is the row's value of the label column, "" without one.
	Actual string
}

// InferRows predicts, with the loaded model, the probability of the
// positive label and the label of the first rows of a data set of any
// columns, and shows them as a table with a few of the data set's own
// columns. Only a model scored in Python reads such data (playbook's own
// churn model reads Telco customers: use [Infer]).
func InferRows(pb *Playbook, m *LoadedModel, opts InferRowsOptions) []RowPrediction {
	if m == nil || (m.Predictor == nil && m.py == nil) {
		failf("infer: no model: pass the result of steps.Load")
	}
	switch {
	case opts.Data == "":
		failf("infer: no data: set Data to a CSV file")
	case opts.PositiveLabel == "":
		failf("infer: %s: set PositiveLabel, the class whose probability to give", opts.Data)
	case opts.Rows < 0:
		failf("infer: %d rows: want a positive number", opts.Rows)
	}
	if opts.Rows == 0 {
		opts.Rows = DefaultExamples
	}
	t, err := dataIn(pb).table(word("data"), opts.Data)
	if err != nil {
		failf("infer: %w", err)
	}
	if opts.Label != "" {
		if _, err := t.Index(opts.Label); err != nil {
			failf("infer: label column: %w", err)
		}
	}
	if opts.Rows < t.Len() {
		t.Rows, t.Lines = t.Rows[:opts.Rows], t.Lines[:opts.Rows]
	}
	g := &genericData{table: t, label: opts.Label, positive: opts.PositiveLabel}
	probs, inputs, err := m.scoreTable(g)
	if err != nil {
		failf("infer: %w", err)
	}
	show := opts.Show
	if show == nil {
		for _, in := range inputs[:min(3, len(inputs))] {
			show = append(show, in[0])
		}
	}
	idx := make([]int, len(show))
	for i, c := range show {
		if idx[i], err = t.Index(c); err != nil {
			failf("infer: a column to show: %w", err)
		}
	}
	label := -1
	if opts.Label != "" {
		label, _ = t.Index(opts.Label)
	}
	tab := &record.Table{Columns: append([]string{tr(pb, "line")}, show...), Rows: [][]string{}}
	if label >= 0 {
		tab.Columns = append(tab.Columns, opts.Label)
	}
	tab.Columns = append(tab.Columns, trf(pb, "probability of %s", opts.PositiveLabel), tr(pb, "prediction"))
	out := make([]RowPrediction, t.Len())
	for i, row := range t.Rows {
		p := RowPrediction{Line: t.Lines[i], Probability: probs[i]}
		if probs[i] >= m.Threshold {
			p.Label = 1
		}
		cells := []string{strconv.Itoa(p.Line)}
		for _, j := range idx {
			cells = append(cells, row[j])
		}
		if label >= 0 {
			p.Actual = row[label]
			cells = append(cells, p.Actual)
		}
		word := trf(pb, "not %s", opts.PositiveLabel)
		if p.Label == 1 {
			word = opts.PositiveLabel
		}
		cells = append(cells, fmt.Sprintf("%.3f", p.Probability), fmt.Sprintf("%d (%s)", p.Label, word))
		tab.Rows = append(tab.Rows, cells)
		out[i] = p
	}
	notebook.Display(pb, record.Output{Kind: record.OutputTable, Title: trf(pb, "Predictions of %s (version %s, threshold %.2f) on %s", m.URI, m.Version, m.Threshold, opts.Data), Table: tab})
	return out
}
