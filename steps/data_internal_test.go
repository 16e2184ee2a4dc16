package steps

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/pyworker"
)

// writeFile writes the data file name in a new scenario folder and returns
// the folder.
func writeFile(t *testing.T, name, body string) dataDir {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	return dataDir(dir)
}

const genericCSV = "age,income,member,city,target,sex\n" +
	"31,1200.5,true,Paris,1,F\n" +
	"45,800,false,Lyon,0,M\n" +
	"27,950.25,true,Paris,1,M\n"

// TestTableFrame: the signature selects the columns and types them; without
// one, every column but the label goes, typed from its values; a value that
// does not parse, a missing column or an unknown type is an error naming the
// file, the line and the column.
func TestTableFrame(t *testing.T) {
	tb, err := churn.ReadTable(strings.NewReader(genericCSV), "g.csv")
	require.NoError(t, err)

	f, sent, err := tableFrame(tb, [][2]string{{"income", "double"}, {"age", "long"}, {"member", "boolean"}, {"city", "string"}}, "target")
	require.NoError(t, err)
	assert.Equal(t, [][2]string{{"income", "double"}, {"age", "long"}, {"member", "boolean"}, {"city", "string"}}, sent)
	assert.Equal(t, []pyworker.Column{
		{Name: "income", Float: []float64{1200.5, 800, 950.25}},
		{Name: "age", Int: []int64{31, 45, 27}},
		{Name: "member", Bool: []bool{true, false, true}},
		{Name: "city", String: []string{"Paris", "Lyon", "Paris"}},
	}, f.Columns)

	f, sent, err = tableFrame(tb, nil, "target")
	require.NoError(t, err)
	assert.Equal(t, [][2]string{
		{"age", "long (no signature: inferred)"}, {"income", "double (no signature: inferred)"},
		{"member", "string (no signature: inferred)"}, {"city", "string (no signature: inferred)"},
		{"sex", "string (no signature: inferred)"},
	}, sent)
	assert.Len(t, f.Columns, 5)

	_, _, err = tableFrame(tb, [][2]string{{"income", "long"}}, "target")
	assert.EqualError(t, err, `the model's signature reads column "income" as long: g.csv:2: column "income": "1200.5" is not an integer`)
	_, _, err = tableFrame(tb, [][2]string{{"city", "double"}}, "target")
	assert.EqualError(t, err, `the model's signature reads column "city" as double: g.csv:2: column "city": "Paris" is not a number`)
	_, _, err = tableFrame(tb, [][2]string{{"zip", "string"}}, "target")
	assert.ErrorContains(t, err, `the model's signature reads column "zip" (string), which the file does not have: g.csv:1: column "zip": no such column`)
	_, _, err = tableFrame(tb, [][2]string{{"age", "datetime"}}, "target")
	assert.ErrorContains(t, err, `reads column "age" as datetime: playbook sends long, integer, double, float, string and boolean columns`)
}

// TestLoadGeneric: bad options and bad data fail with what and where, before
// any registry is opened.
func TestLoadGeneric(t *testing.T) {
	dir, path := writeFile(t, "g.csv", genericCSV), "g.csv"
	g, err := loadGeneric(dir, ValidateOptions{Data: path, Label: "target", PositiveLabel: "1", SensitiveFeatures: []string{"sex"}})
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 0, 1}, g.labels)
	assert.Equal(t, []string{"F", "M", "M"}, g.groups["sex"])

	for _, tc := range []struct {
		opts ValidateOptions
		want string
	}{
		{ValidateOptions{Data: path, PositiveLabel: "1"}, "set Label to its label column"},
		{ValidateOptions{Label: "target", PositiveLabel: "1"}, `Label "target" names a column of a data file: set Data`},
		{ValidateOptions{Data: path, Label: "target"}, `Label "target" needs PositiveLabel`},
		{ValidateOptions{Data: path, Label: "target", PositiveLabel: "1", Attributes: []string{"gender"}}, "name the data set's columns in SensitiveFeatures"},
		{ValidateOptions{Data: "x.parquet", Label: "target", PositiveLabel: "1"}, "Parquet files are not read yet"},
		{ValidateOptions{Data: path, Label: "label", PositiveLabel: "1"}, `validation data, label column: ` + path + `:1: column "label": no such column`},
		{ValidateOptions{Data: path, Label: "target", PositiveLabel: "yes"}, `column "target": the positive label "yes" is in no row: the column holds "0", "1"`},
		{ValidateOptions{Data: path, Label: "target", PositiveLabel: "1", SensitiveFeatures: []string{"gender"}}, `validation data, sensitive feature: ` + path + `:1: column "gender": no such column`},
		{ValidateOptions{Data: path, Label: "target", PositiveLabel: "1", SensitiveFeatures: []string{"target"}}, `the sensitive feature "target" is the label column`},
		{ValidateOptions{Data: path + ".missing", Label: "target", PositiveLabel: "1"}, "no such file or directory"},
	} {
		_, err := loadGeneric(dir, tc.opts)
		assert.ErrorContains(t, err, tc.want, "%+v", tc.opts)
	}
}

// TestScoreTableRefusesGoModel: playbook's own churn model reads Telco
// customers only, and says so.
func TestScoreTableRefusesGoModel(t *testing.T) {
	tb, err := churn.ReadTable(strings.NewReader(genericCSV), "g.csv")
	require.NoError(t, err)
	m := &LoadedModel{URI: "models:/M@a", Version: "2", Predictor: &churn.Model{}}
	_, _, err = m.scoreTable(&genericData{table: tb, label: "target", positive: "1"})
	assert.EqualError(t, err, `models:/M@a (version 2) is playbook's own churn model (flavor playbook_churn), which reads the Telco schema only: `+
		`validate it on a Telco CSV file or on generated customers (no Label); only a model of MLflow's python_function flavor scores g.csv`)
}

// TestClassNamed: the positive label names a class by its text or number.
func TestClassNamed(t *testing.T) {
	p := &pythonModel{m: &pyworker.Model{Classes: []string{"0.0", "1.0"}}}
	c, err := p.classNamed("1")
	require.NoError(t, err)
	assert.Equal(t, "1.0", c)
	p = &pythonModel{m: &pyworker.Model{Classes: []string{"benign", "malignant"}}}
	c, err = p.classNamed("malignant")
	require.NoError(t, err)
	assert.Equal(t, "malignant", c)
	_, err = p.classNamed("1")
	assert.EqualError(t, err, `the positive label "1" is not one of the model's classes ["benign" "malignant"]`)
}

// TestCheckValidationData: register's check of the data a model will be
// validated on, from its flavors and signature.
func TestCheckValidationData(t *testing.T) {
	dir, path := writeFile(t, "g.csv", genericCSV), "g.csv"
	generic := ValidateOptions{Data: path, Label: "target", PositiveLabel: "1"}
	py := []string{churn.PyfuncFlavor, "sklearn"}
	assert.NoError(t, checkValidationData(dir, generic, py, [][2]string{{"age", "long"}, {"city", "string"}}))
	assert.NoError(t, checkValidationData(dir, generic, py, nil))
	assert.ErrorContains(t, checkValidationData(dir, generic, py, [][2]string{{"city", "long"}}),
		`validation data `+path+`: the model's signature reads column "city" as long: `+path+`:2: column "city": "Paris" is not an integer`)
	assert.ErrorContains(t, checkValidationData(dir, generic, []string{churn.Flavor, churn.PyfuncFlavor}, nil),
		"playbook's own churn model (flavor playbook_churn), which reads the Telco schema only")

	telco := ValidateOptions{Rows: 50, Seed: 1}
	assert.NoError(t, checkValidationData(dir, telco, []string{churn.Flavor, churn.PyfuncFlavor}, [][2]string{{"tenure", "long"}}))
	assert.ErrorContains(t, checkValidationData(dir, telco, py, [][2]string{{"age", "long"}}),
		`its signature reads a column "age", which Telco customers do not have`)
	assert.ErrorContains(t, checkValidationData(dir, ValidateOptions{Data: path}, py, nil), "validation data "+path)
}
