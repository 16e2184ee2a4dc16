package steps

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"
)

// DataCheck is what [CheckData] found in the validation data.
type DataCheck struct {
	// Data names the data (its path, or the generator's parameters).
	Data string
	// Rows counts its rows; Positives those of the positive class.
	Rows, Positives int
	// Columns are the file's columns (the Telco schema's for Telco data).
	Columns []string
	// Label, PositiveLabel and SensitiveFeatures are the options checked;
	// Label is "Churn" and PositiveLabel "Yes" for Telco data.
	Label, PositiveLabel string
	SensitiveFeatures    []string
}

// CheckData reads the validation data that [Validate] will read with the
// same options, and fails, before the scenario changes anything, when it
// is wrong: a missing file, a label or sensitive feature column the file
// does not have, a positive label no row has, a Telco file that does not
// parse. Call it in a scenario's first cell, since validate runs after
// register and alias: the columns the model's signature wants are checked
// by validate itself, before it tags anything. It touches no registry and
// shows what it read.
func CheckData(pb *Playbook, opts ValidateOptions) *DataCheck {
	dc := &DataCheck{}
	if opts.generic() {
		g, err := loadGeneric(dataIn(pb), opts)
		if err != nil {
			fail(err)
		}
		dc.Data, dc.Rows, dc.Columns = opts.Data, g.table.Len(), slices.Clone(g.table.Columns)
		dc.Label, dc.PositiveLabel, dc.SensitiveFeatures = opts.Label, opts.PositiveLabel, slices.Clone(opts.SensitiveFeatures)
		for _, y := range g.labels {
			dc.Positives += int(y)
		}
	} else {
		d, name, err := validationData(dataIn(pb), opts)
		if err != nil {
			fail(err)
		}
		dc.Data, dc.Rows, dc.Columns = name, d.Len(), churn.Columns()
		dc.Label, dc.PositiveLabel, dc.SensitiveFeatures = "Churn", churn.Yes, telcoAttributes(opts)
		for _, y := range d.Labels() {
			dc.Positives += int(y)
		}
	}
	features := tr(pb, "none: no fairness by group")
	if len(dc.SensitiveFeatures) > 0 {
		features = strings.Join(dc.SensitiveFeatures, ", ")
	}
	pb.KV(tr(pb, "Validation data"),
		tr(pb, "data"), dc.Data,
		tr(pb, "rows"), dc.Rows,
		tr(pb, "columns"), len(dc.Columns),
		tr(pb, "label"), dc.Label,
		tr(pb, "positive label"), fmt.Sprintf("%s (%d %s)", dc.PositiveLabel, dc.Positives, tr(pb, "rows")),
		tr(pb, "sensitive features"), features,
	)
	t := &record.Table{Columns: []string{tr(pb, "column"), tr(pb, "role")}, Rows: [][]string{}}
	for _, c := range dc.Columns {
		role := ""
		switch {
		case c == dc.Label:
			role = tr(pb, "label")
		case slices.Contains(dc.SensitiveFeatures, c):
			role = tr(pb, "sensitive feature")
		}
		t.Rows = append(t.Rows, []string{c, role})
	}
	notebook.Display(pb, record.Output{Kind: record.OutputTable, Title: trf(pb, "Columns of %s", dc.Data), Table: t})
	return dc
}

// generic says the options name a data set of any columns rather than
// Telco customers.
func (o ValidateOptions) generic() bool {
	return o.Label != "" || o.PositiveLabel != "" || o.SensitiveFeatures != nil
}

// telcoAttributes are the protected attributes of Telco data.
func telcoAttributes(o ValidateOptions) []string {
	if o.Attributes == nil {
		return []string{churn.AttrGender, churn.AttrSeniorCitizen}
	}
	return o.Attributes
}

// genericData is a validation data set of any columns, read from a CSV
// file (ValidateOptions.Label set).
type genericData struct {
	table           *churn.Table
	label, positive string
	sensitive       []string
	// labels are 1 for the rows of the positive label, else 0.
	labels []float64
	// groups are the values of each sensitive feature.
	groups map[string][]string
}

// loadGeneric checks the options of a generic data set and reads it from
// the scenario's folder dir.
func loadGeneric(dir dataDir, o ValidateOptions) (*genericData, error) {
	switch {
	case o.Label == "":
		return nil, stepErrorf("validation data: PositiveLabel and SensitiveFeatures name values and columns of a data set: set Label to its label column (and Data to its CSV file)")
	case o.Data == "":
		return nil, stepErrorf("validation data: Label %q names a column of a data file: set Data to its CSV file", o.Label)
	case o.PositiveLabel == "":
		return nil, stepErrorf("validation data %s: Label %q needs PositiveLabel, the value of the positive class", o.Data, o.Label)
	case o.Attributes != nil:
		return nil, stepErrorf("validation data %s: Attributes are Telco's protected attributes: name the data set's columns in SensitiveFeatures", o.Data)
	case strings.EqualFold(filepath.Ext(o.Data), ".parquet"):
		return nil, stepErrorf("validation data %s: Parquet files are not read yet: write the data set as CSV", o.Data)
	}
	t, err := dir.table(word("validation data"), o.Data)
	if err != nil {
		return nil, err
	}
	g := &genericData{table: t, label: o.Label, positive: o.PositiveLabel, sensitive: o.SensitiveFeatures, groups: map[string][]string{}}
	if g.labels, err = t.BinaryLabels(o.Label, o.PositiveLabel); err != nil {
		return nil, stepErrorf("validation data, label column: %w", err)
	}
	for _, f := range o.SensitiveFeatures {
		if f == o.Label {
			return nil, stepErrorf("validation data %s: the sensitive feature %q is the label column", o.Data, f)
		}
		if g.groups[f], err = t.Strings(f); err != nil {
			return nil, stepErrorf("validation data, sensitive feature: %w", err)
		}
	}
	return g, nil
}

// tableFrame returns the columns of t that a model's signature (inputs,
// [name, type]) reads, typed as it has them: long and integer as int64,
// double and float as float64, string, boolean. Without a signature, every
// column but label goes, typed as int64 when all its values are integers,
// else float64 when all are numbers, else as text. A column the file does
// not have, or a value that does not parse, is an error naming the file,
// the line and the column.
func tableFrame(t *churn.Table, inputs [][2]string, label string) (*pyworker.Frame, [][2]string, error) {
	if inputs == nil {
		for _, c := range t.Columns {
			if c != label {
				inputs = append(inputs, [2]string{c, ""})
			}
		}
	}
	f := &pyworker.Frame{}
	sent := make([][2]string, 0, len(inputs))
	for _, in := range inputs {
		name, typ := in[0], in[1]
		if _, err := t.Index(name); err != nil {
			return nil, nil, stepErrorf("the model's signature reads column %q (%s), which the file does not have: %w", name, typ, err)
		}
		c := pyworker.Column{Name: name}
		var err error
		switch typ {
		case "long", "integer":
			c.Int, err = t.Ints(name)
		case "double", "float":
			c.Float, err = t.Floats(name)
		case "string":
			c.String, err = t.Strings(name)
		case "boolean":
			c.Bool, err = t.Bools(name)
		case "":
			typ = "long"
			if c.Int, err = t.Ints(name); err != nil {
				c.Int, typ = nil, "double"
				if c.Float, err = t.Floats(name); err != nil {
					c.Float, typ = nil, "string"
					c.String, err = t.Strings(name)
				}
			}
			typ += " (no signature: inferred)"
		default:
			return nil, nil, stepErrorf("the model's signature reads column %q as %s: playbook sends long, integer, double, float, string and boolean columns", name, typ)
		}
		if err != nil {
			return nil, nil, stepErrorf("the model's signature reads column %q as %s: %w", name, typ, err)
		}
		f.Columns = append(f.Columns, c)
		sent = append(sent, [2]string{name, typ})
	}
	return f, sent, nil
}

// scoreTable returns the model's probability of the positive label for
// each row of g (a labels-only model's labels, 1 or 0), and the columns
// sent to it with their types. Only a model scored in Python reads a data set of any
// columns: playbook's own churn model reads the Telco schema.
func (m *LoadedModel) scoreTable(g *genericData) ([]float64, [][2]string, error) {
	switch {
	case m.Predictor != nil:
		return nil, nil, stepErrorf("%s (version %s) is playbook's own churn model (flavor %s), which reads the Telco schema only: "+
			"validate it on a Telco CSV file or on generated customers (no Label); only a model of MLflow's %s flavor scores %s",
			m.URI, m.Version, churn.Flavor, churn.PyfuncFlavor, g.table.Name)
	case m.py == nil:
		return nil, nil, stepErrorf("no model: pass the result of steps.Load")
	}
	pos, err := m.py.classNamed(g.positive)
	if err != nil {
		return nil, nil, stepErrorf("%s (version %s): %w (label column %q of %s)", m.URI, m.Version, err, g.label, g.table.Name)
	}
	f, sent, err := tableFrame(g.table, m.py.m.Inputs, g.label)
	if err != nil {
		return nil, nil, stepErrorf("%s (version %s): %w", m.URI, m.Version, err)
	}
	p, err := m.py.predict(f, pos)
	if err != nil {
		return nil, nil, stepErrorf("%s (version %s), scored in Python on %s: %w", m.URI, m.Version, g.table.Name, err)
	}
	return p, sent, nil
}

// validationSet is validate's data: Telco customers or a generic table.
type validationSet struct {
	name   string
	labels []float64
	telco  *churn.Dataset
	gen    *genericData
	attrs  []string
}

// openValidationSet reads the validation data opts names, from the
// scenario's folder dir.
func openValidationSet(dir dataDir, opts ValidateOptions) (*validationSet, error) {
	if opts.generic() {
		g, err := loadGeneric(dir, opts)
		if err != nil {
			return nil, err
		}
		return &validationSet{name: opts.Data, labels: g.labels, gen: g, attrs: opts.SensitiveFeatures}, nil
	}
	d, name, err := validationData(dir, opts)
	if err != nil {
		return nil, err
	}
	return &validationSet{name: name, labels: d.Labels(), telco: d, attrs: telcoAttributes(opts)}, nil
}

func (s *validationSet) rows() int { return len(s.labels) }

// score scores the set with m, returning the columns sent to a model of a
// generic set, with their types.
func (s *validationSet) score(m *LoadedModel) ([]float64, [][2]string, error) {
	if s.gen != nil {
		return m.scoreTable(s.gen)
	}
	p, err := m.scores(s.telco.Customers)
	return p, nil, err
}

// fairness compares predictions across the groups of attr.
func (s *validationSet) fairness(preds []int, attr string) (churn.Fairness, error) {
	if s.telco != nil {
		return churn.FairnessOf(s.telco, preds, attr)
	}
	f, err := churn.FairnessByGroup(s.labels, preds, s.gen.groups[attr])
	f.Attribute = attr
	return f, err
}

// formatList formats values as "a, b", or none.
func formatList(pb *Playbook, values []string) string {
	if len(values) == 0 {
		return tr(pb, "none")
	}
	return strings.Join(values, ", ")
}
