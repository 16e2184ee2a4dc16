package churn

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MaxReportedProblems is how many skipped rows a [LoadReport] describes; the
// others are only counted.
const MaxReportedProblems = 10

// LoadOptions configures [LoadCSV].
type LoadOptions struct {
	// Lenient skips rows that do not parse (bad number, unknown category,
	// wrong number of fields, duplicate ID...) and counts them in the
	// report, instead of failing on the first. A bad header still fails.
	Lenient bool
	// Name names the input in errors and becomes the dataset's name
	// (LoadCSVFile defaults it to the path).
	Name string
}

// LoadReport says what [LoadCSV] read.
type LoadReport struct {
	Name string `json:"name"`
	// Rows is the number of customers loaded; Churners how many of them
	// churned.
	Rows     int `json:"rows"`
	Churners int `json:"churners"`
	// BlankTotalCharges counts the rows whose TotalCharges was blank (with
	// tenure 0) and was read as 0.
	BlankTotalCharges int `json:"blank_total_charges"`
	// Skipped counts the rows skipped in lenient mode; Problems describes
	// the first MaxReportedProblems of them.
	Skipped  int         `json:"skipped"`
	Problems []*CSVError `json:"problems,omitempty"`
}

// CSVError is an error at a line (1-based, the file's physical line: a
// quoted field spanning lines counts them all) and, when known, a column of a
// CSV file. Its message reads like a compiler's:
//
//	telco.csv:42: column "tenure": "abc" is not a number
type CSVError struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column string `json:"column,omitempty"`
	Err    error  `json:"-"`
}

func (e *CSVError) Error() string {
	var b strings.Builder
	file := e.File
	if file == "" {
		file = "<csv>"
	}
	b.WriteString(file)
	if e.Line > 0 {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Column != "" {
		fmt.Fprintf(&b, "column %q: ", e.Column)
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *CSVError) Unwrap() error { return e.Err }

// MarshalJSON adds the message to the JSON form (Err itself is not JSON).
func (e *CSVError) MarshalJSON() ([]byte, error) {
	type plain CSVError
	return json.Marshal(struct {
		*plain
		Message string `json:"message"`
	}{(*plain)(e), e.Error()})
}

// LoadCSVFile opens path and calls [LoadCSV]; opts.Name defaults to path.
func LoadCSVFile(path string, opts LoadOptions) (*Dataset, *LoadReport, error) {
	if opts.Name == "" {
		opts.Name = path
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err // an *fs.PathError, which names the path
	}
	defer f.Close()
	return LoadCSV(f, opts)
}

// LoadCSV reads a Telco customer churn CSV file.
//
// The header must name the 21 columns of [Schema], each once, in any order
// (rows are read by name); a missing, unknown or repeated column is an error
// naming it. Fields are trimmed of spaces; a UTF-8 byte order mark and CRLF
// line ends are accepted; blank lines are ignored.
//
// Every value is checked: categories spelled as in the file, SeniorCitizen 0
// or 1, tenure a non-negative integer, charges non-negative finite numbers,
// customerID present and unique, Churn "Yes" or "No". A blank TotalCharges
// (the real file has 11: customers with tenure 0, not yet billed) is read as
// 0 and counted in the report's BlankTotalCharges; a blank TotalCharges with
// a tenure above 0 is an error.
//
// Errors are [*CSVError] values naming the input, the line and the column.
// In strict mode (the default) the first error is returned, with no dataset
// and no report. In lenient mode a row with an error is skipped and counted
// (the report keeps the first MaxReportedProblems errors); only a bad header
// or a read error fails.
func LoadCSV(r io.Reader, opts LoadOptions) (*Dataset, *LoadReport, error) {
	name := opts.Name
	if name == "" {
		name = "<csv>"
	}
	br := bufio.NewReader(r)
	if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // counted here, to say which line and how many
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, &CSVError{File: name, Line: 1, Err: ErrEmptyFile}
		}
		return nil, nil, csvReadError(name, err)
	}
	colOf, err := mapHeader(header)
	if err != nil {
		var ce *CSVError
		if errors.As(err, &ce) {
			ce.File = name
			ce.Line, _ = cr.FieldPos(0)
		}
		return nil, nil, err
	}

	d := &Dataset{Name: name}
	rep := &LoadReport{Name: name}
	seen := make(map[string]int) // customerID -> line
	fail := func(e *CSVError) error {
		e.File = name
		if !opts.Lenient {
			return e
		}
		rep.Skipped++
		if len(rep.Problems) < MaxReportedProblems {
			rep.Problems = append(rep.Problems, e)
		}
		return nil
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if err := fail(&CSVError{Line: pe.Line, Err: pe.Err}); err != nil {
					return nil, nil, err
				}
				continue
			}
			return nil, nil, csvReadError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(colOf) {
			e := &CSVError{Line: line, Err: fmt.Errorf("%w: %d, want %d", ErrFieldCount, len(rec), len(colOf))}
			if err := fail(e); err != nil {
				return nil, nil, err
			}
			continue
		}
		c, blank, e := parseRow(rec, colOf)
		if e == nil {
			if first, dup := seen[c.CustomerID]; dup {
				e = &CSVError{Column: ColCustomerID, Err: fmt.Errorf("%w %q (first on line %d)", ErrDuplicateID, c.CustomerID, first)}
			}
		}
		if e != nil {
			e.Line = line
			if err := fail(e); err != nil {
				return nil, nil, err
			}
			continue
		}
		seen[c.CustomerID] = line
		if blank {
			rep.BlankTotalCharges++
		}
		if c.Churn {
			rep.Churners++
		}
		d.Customers = append(d.Customers, c)
	}
	rep.Rows = len(d.Customers)
	return d, rep, nil
}

// csvReadError wraps an error of the csv reader or of the underlying reader.
func csvReadError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{File: name, Line: pe.Line, Err: pe.Err}
	}
	return &CSVError{File: name, Err: err}
}

// mapHeader returns, for each field of the header, its column number.
func mapHeader(header []string) ([]int, error) {
	colOf := make([]int, len(header))
	found := make([]bool, numColumns)
	for j, h := range header {
		h = strings.TrimSpace(h)
		i := columnIndex(h)
		switch {
		case i < 0:
			return nil, &CSVError{Column: h, Err: fmt.Errorf("%w: unknown column (the schema has %s)", ErrHeader, strings.Join(Columns(), ", "))}
		case found[i]:
			return nil, &CSVError{Column: h, Err: fmt.Errorf("%w: column appears twice", ErrHeader)}
		}
		found[i] = true
		colOf[j] = i
	}
	for i, ok := range found {
		if !ok {
			return nil, &CSVError{Column: schema[i].Name, Err: fmt.Errorf("%w: missing column", ErrHeader)}
		}
	}
	return colOf, nil
}

// parseRow converts one record; blank reports a blank TotalCharges read as 0.
// The error names the column (the caller adds file and line).
func parseRow(rec []string, colOf []int) (c Customer, blank bool, err *CSVError) {
	blankTotal := false
	for j, raw := range rec {
		col := colOf[j]
		s := schema[col]
		v := strings.TrimSpace(raw)
		var e error
		switch s.Kind {
		case KindID:
			if v == "" {
				e = fmt.Errorf("value %w", ErrBlank)
			}
			c.CustomerID = v
		case KindCategorical:
			e = checkCategory(s, v)
			*c.str(col) = v
		case KindLabel:
			e = checkCategory(s, v)
			c.Churn = v == Yes
		case KindFlag:
			switch v {
			case "0":
			case "1":
				c.SeniorCitizen = 1
			default:
				e = fmt.Errorf("%q %w", v, ErrNotFlag)
			}
		case KindInteger:
			c.Tenure, e = parseInt(v)
		case KindNumber:
			if col == colTotalCharges && v == "" {
				blankTotal = true
				c.TotalCharges = 0
				continue
			}
			var f float64
			f, e = parseNumber(v)
			if col == colTotalCharges {
				c.TotalCharges = f
			} else {
				c.MonthlyCharges = f
			}
		}
		if e != nil {
			return c, false, &CSVError{Column: s.Name, Err: e}
		}
	}
	if blankTotal && c.Tenure != 0 {
		return c, false, &CSVError{Column: ColTotalCharges, Err: fmt.Errorf("value %w but tenure is %d (a blank is accepted only for tenure 0)", ErrBlank, c.Tenure)}
	}
	return c, blankTotal, nil
}

// parseInt parses a non-negative integer.
func parseInt(v string) (int, error) {
	if v == "" {
		return 0, fmt.Errorf("value %w", ErrBlank)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		if _, ferr := strconv.ParseFloat(v, 64); ferr == nil {
			return 0, fmt.Errorf("%q %w", v, ErrNotInteger)
		}
		return 0, fmt.Errorf("%q %w", v, ErrNotNumber)
	}
	if n < 0 {
		return 0, fmt.Errorf("%q %w", v, ErrNegative)
	}
	return n, nil
}

// parseNumber parses a non-negative finite number.
func parseNumber(v string) (float64, error) {
	if v == "" {
		return 0, fmt.Errorf("value %w", ErrBlank)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("%q %w", v, ErrNotNumber)
	}
	if err := checkNumber(f); err != nil {
		return 0, fmt.Errorf("%q %w", v, err)
	}
	return f, nil
}

// WriteCSV writes d in the Telco file's format: the 21 columns in schema
// order, categories spelled as in the file, Churn "Yes"/"No". Like the real
// file, TotalCharges is left blank for a customer with tenure 0 and
// TotalCharges 0, so LoadCSV(WriteCSV(d)) gives d back exactly.
func WriteCSV(w io.Writer, d *Dataset) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns()); err != nil {
		return err
	}
	rec := make([]string, numColumns)
	for i := range d.Customers {
		c := &d.Customers[i]
		for col := range rec {
			rec[col] = c.text(col)
		}
		if c.Tenure == 0 && c.TotalCharges == 0 {
			rec[colTotalCharges] = ""
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
