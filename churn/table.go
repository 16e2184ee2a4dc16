package churn

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Table is a tabular data set of any columns, read from a CSV file with a
// header by [ReadTableFile]: unlike [LoadCSV], which knows the Telco
// schema, it keeps every value as text (trimmed of spaces), with the line
// each row came from, for the reader to type: validate types the columns a
// model reads by the model's signature.
type Table struct {
	// Name names the input in errors (the path for ReadTableFile).
	Name string
	// Columns are the header's column names, in file order.
	Columns []string
	// Rows are the records, each with one value per column.
	Rows [][]string
	// Lines are the physical line (1-based) each row starts at.
	Lines []int
}

// ReadTableFile opens path and calls [ReadTable], naming the input path.
func ReadTableFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // an *fs.PathError, which names the path
	}
	defer f.Close()
	return ReadTable(f, path)
}

// ReadTable reads a CSV file with a header line. The header must name
// every column once, none blank; every record must have as many fields as
// the header. A UTF-8 byte order mark and CRLF line ends are accepted;
// blank lines are ignored. Errors are [*CSVError] values naming the input,
// the line and, when known, the column. A file with a header and no row is
// an error.
func ReadTable(r io.Reader, name string) (*Table, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte("\xef\xbb\xbf")) {
		br.Discard(3) //nolint:errcheck // the three bytes were peeked
	}
	cr := csv.NewReader(br)
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &CSVError{File: name, Line: 1, Err: errors.New("empty file: want a header line naming the columns")}
	}
	if err != nil {
		return nil, csvReadError(name, err)
	}
	t := &Table{Name: name, Columns: make([]string, len(header))}
	for i, h := range header {
		h = strings.TrimSpace(h)
		switch {
		case h == "":
			return nil, &CSVError{File: name, Line: 1, Err: fmt.Errorf("column %d of the header has no name", i+1)}
		case slices.Contains(t.Columns[:i], h):
			return nil, &CSVError{File: name, Line: 1, Column: h, Err: errors.New("named twice in the header")}
		}
		t.Columns[i] = h
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvReadError(name, err)
		}
		line, _ := cr.FieldPos(0)
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		t.Rows = append(t.Rows, rec)
		t.Lines = append(t.Lines, line)
	}
	if len(t.Rows) == 0 {
		return nil, &CSVError{File: name, Line: 1, Err: errors.New("no row after the header")}
	}
	return t, nil
}

// Len returns the number of rows.
func (t *Table) Len() int { return len(t.Rows) }

// Index returns the position of column, or an error naming the file and
// the columns it has.
func (t *Table) Index(column string) (int, error) {
	if i := slices.Index(t.Columns, column); i >= 0 {
		return i, nil
	}
	return -1, &CSVError{File: t.Name, Line: 1, Column: column,
		Err: fmt.Errorf("no such column: the header names %s", strings.Join(quoteAll(t.Columns), ", "))}
}

// Strings returns the values of column.
func (t *Table) Strings(column string) ([]string, error) {
	j, err := t.Index(column)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(t.Rows))
	for i, r := range t.Rows {
		out[i] = r[j]
	}
	return out, nil
}

// BinaryLabels returns 1 for each row whose column equals positive, else
// 0. A blank value is an error naming its line; so is a positive label
// that no row has (the error lists the values the column has).
func (t *Table) BinaryLabels(column, positive string) ([]float64, error) {
	values, err := t.Strings(column)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(values))
	seen := map[string]bool{}
	for i, v := range values {
		if v == "" {
			return nil, &CSVError{File: t.Name, Line: t.Lines[i], Column: column, Err: errors.New("blank label")}
		}
		seen[v] = true
		if v == positive {
			out[i] = 1
		}
	}
	if !seen[positive] {
		return nil, &CSVError{File: t.Name, Column: column, Err: fmt.Errorf("the positive label %q is in no row: the column holds %s",
			positive, strings.Join(quoteAll(firstSorted(seen, 10)), ", "))}
	}
	return out, nil
}

// Floats parses column as finite numbers; a value that does not parse is
// an error naming its line.
func (t *Table) Floats(column string) ([]float64, error) {
	return parseColumn(t, column, "a number", func(v string) (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			err = errors.New("not finite")
		}
		return f, err
	})
}

// Ints parses column as integers.
func (t *Table) Ints(column string) ([]int64, error) {
	return parseColumn(t, column, "an integer", func(v string) (int64, error) { return strconv.ParseInt(v, 10, 64) })
}

// Bools parses column as booleans: true/false, True/False, TRUE/FALSE,
// 1/0.
func (t *Table) Bools(column string) ([]bool, error) {
	return parseColumn(t, column, "a boolean (true or false)", func(v string) (bool, error) {
		switch v {
		case "true", "True", "TRUE", "1":
			return true, nil
		case "false", "False", "FALSE", "0":
			return false, nil
		}
		return false, errors.New("not a boolean")
	})
}

func parseColumn[T any](t *Table, column, want string, parse func(string) (T, error)) ([]T, error) {
	values, err := t.Strings(column)
	if err != nil {
		return nil, err
	}
	out := make([]T, len(values))
	for i, v := range values {
		if out[i], err = parse(v); err != nil {
			return nil, &CSVError{File: t.Name, Line: t.Lines[i], Column: column, Err: fmt.Errorf("%q is not %s", v, want)}
		}
	}
	return out, nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Quote(v)
	}
	return out
}

// firstSorted returns up to n keys of set in order, "…" after them when
// there are more.
func firstSorted(set map[string]bool, n int) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) > n {
		keys = append(keys[:n], "…")
	}
	return keys
}
