package churn

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const tableCSV = "\xef\xbb\xbfid, size ,flag,diagnosis,site\r\n" +
	"1,1.5,true,malignant,north\r\n" +
	"\r\n" +
	"2,\"2\n.0\",false,benign,south\r\n" +
	"3, 3e1 ,True,benign,north\r\n"

func TestReadTable(t *testing.T) {
	tb, err := ReadTable(strings.NewReader(tableCSV), "t.csv")
	require.NoError(t, err)
	assert.Equal(t, []string{"id", "size", "flag", "diagnosis", "site"}, tb.Columns)
	assert.Equal(t, 3, tb.Len())
	assert.Equal(t, []int{2, 4, 6}, tb.Lines, "physical lines: the blank line and the quoted newline count")

	ids, err := tb.Ints("id")
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2, 3}, ids)
	flags, err := tb.Bools("flag")
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, true}, flags)
	labels, err := tb.BinaryLabels("diagnosis", "malignant")
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 0, 0}, labels)

	_, err = tb.Floats("size")
	var ce *CSVError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, `t.csv:4: column "size": "2\n.0" is not a number`, err.Error())

	_, err = tb.Ints("size")
	assert.EqualError(t, err, `t.csv:2: column "size": "1.5" is not an integer`)
	_, err = tb.Bools("site")
	assert.EqualError(t, err, `t.csv:2: column "site": "north" is not a boolean (true or false)`)
	_, err = tb.Strings("nope")
	assert.EqualError(t, err, `t.csv:1: column "nope": no such column: the header names "id", "size", "flag", "diagnosis", "site"`)
	_, err = tb.BinaryLabels("diagnosis", "Malignant")
	assert.EqualError(t, err, `t.csv: column "diagnosis": the positive label "Malignant" is in no row: the column holds "benign", "malignant"`)
}

func TestReadTableErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "x.csv:1: empty file: want a header line naming the columns"},
		{"no rows", "a,b\n", "x.csv:1: no row after the header"},
		{"blank name", "a,,c\n1,2,3\n", "x.csv:1: column 2 of the header has no name"},
		{"twice", "a,b,a\n1,2,3\n", `x.csv:1: column "a": named twice in the header`},
		{"short row", "a,b\n1,2\n3\n", "x.csv:3: wrong number of fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadTable(strings.NewReader(tc.in), "x.csv")
			assert.EqualError(t, err, tc.want)
		})
	}
	tb, err := ReadTable(strings.NewReader("y\na\n\"\"\n"), "x.csv")
	require.NoError(t, err)
	_, err = tb.BinaryLabels("y", "a")
	assert.EqualError(t, err, `x.csv:3: column "y": blank label`)

	_, err = ReadTableFile(filepath.Join(t.TempDir(), "missing.csv"))
	assert.True(t, errors.Is(err, os.ErrNotExist), err)
}
