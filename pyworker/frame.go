package pyworker

import (
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Column is one named column of a Frame: exactly one of its slices is set
// (a column with no slice set is an empty string column).
type Column struct {
	Name   string
	Float  []float64
	Int    []int64
	String []string
	Bool   []bool
}

func (c *Column) len() int {
	switch {
	case c.Float != nil:
		return len(c.Float)
	case c.Int != nil:
		return len(c.Int)
	case c.Bool != nil:
		return len(c.Bool)
	}
	return len(c.String)
}

// Frame is a table of rows for a model: what pandas receives.
type Frame struct {
	Columns []Column
}

// Rows returns the number of rows.
func (f *Frame) Rows() int {
	if len(f.Columns) == 0 {
		return 0
	}
	return f.Columns[0].len()
}

// WriteArrow writes f as an Arrow IPC stream (one record batch): float64,
// int64, bool and utf8 columns, which pyarrow turns into a pandas DataFrame.
func (f *Frame) WriteArrow(w io.Writer) error {
	fields := make([]arrow.Field, len(f.Columns))
	for i := range f.Columns {
		c := &f.Columns[i]
		if c.len() != f.Rows() {
			return fmt.Errorf("pyworker: column %q has %d rows, column %q %d", c.Name, c.len(), f.Columns[0].Name, f.Rows())
		}
		var t arrow.DataType = arrow.BinaryTypes.String
		switch {
		case c.Float != nil:
			t = arrow.PrimitiveTypes.Float64
		case c.Int != nil:
			t = arrow.PrimitiveTypes.Int64
		case c.Bool != nil:
			t = arrow.FixedWidthTypes.Boolean
		}
		fields[i] = arrow.Field{Name: c.Name, Type: t}
	}
	schema := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for i := range f.Columns {
		c := &f.Columns[i]
		switch fb := b.Field(i).(type) {
		case *array.Float64Builder:
			fb.AppendValues(c.Float, nil)
		case *array.Int64Builder:
			fb.AppendValues(c.Int, nil)
		case *array.StringBuilder:
			fb.AppendValues(c.String, nil)
		case *array.BooleanBuilder:
			fb.AppendValues(c.Bool, nil)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	wr := ipc.NewWriter(w, ipc.WithSchema(schema))
	if err := wr.Write(rec); err != nil {
		return fmt.Errorf("pyworker: writing rows: %w", err)
	}
	return wr.Close()
}
