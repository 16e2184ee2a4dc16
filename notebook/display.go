package notebook

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"image/png"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/playbook-mlops/playbook/record"
)

// Display limits keep a run record small enough to diff and to attach to a
// ticket.
const (
	maxRows  = 1000     // rows of a table
	maxValue = 64 << 10 // bytes of a displayed value's text
	// maxCell bounds one table or key-value cell, in characters: far
	// above any value a step shows (the longest, a tie-break rule, is
	// ~250), so that a report cuts no real value, only a runaway one.
	maxCell = 4096
)

// Plot sizes: small enough to sit beside prose in a report.
const (
	PlotWidth  = 5 * vg.Inch
	PlotHeight = 3.25 * vg.Inch
)

// ErrDisplay is the cause of a display method's panic when it is given a
// value it cannot show.
var ErrDisplay = errors.New("cannot display")

func displayErr(method string, format string, a ...any) error {
	return fmt.Errorf("pb.%s: %w: %s", method, ErrDisplay, fmt.Sprintf(format, a...))
}

// Table shows v as a table under the cell: a slice (or array) of structs
// gives one column per exported field, a slice of maps one column per key,
// a map two columns (key, value), a slice of other values one column. It
// panics with an error wrapping ErrDisplay for anything else.
func (p *Playbook) Table(v any) {
	t, truncated, err := tableOf(v)
	if err != nil {
		panic(displayErr("Table", "%v", err))
	}
	p.display(record.Output{Kind: record.OutputTable, Table: t, Truncated: truncated})
}

// KV shows a key-value block titled title. kv is either alternating keys and
// values (pb.KV("Model", "key", value, ...)) or a single struct or map.
func (p *Playbook) KV(title string, kv ...any) {
	pairs, err := kvOf(kv)
	if err != nil {
		panic(displayErr("KV", "%v", err))
	}
	p.display(record.Output{Kind: record.OutputKV, Title: title, KV: pairs})
}

// Plot shows plt, titled title, as an inline SVG image of PlotWidth ×
// PlotHeight.
func (p *Playbook) Plot(title string, plt *plot.Plot) {
	if plt == nil {
		panic(displayErr("Plot", "nil plot"))
	}
	svg, err := renderSVG(plt)
	if err != nil {
		panic(displayErr("Plot", "%v", err))
	}
	png, err := renderPNG(plt)
	if err != nil {
		panic(displayErr("Plot", "%v", err))
	}
	p.display(record.Output{Kind: record.OutputPlot, Title: title, SVG: svg, PNG: png})
}

// PlotDPI is the resolution of a plot's PNG: twice a screen's, sharp on a
// projector and in a ticket.
const PlotDPI = 192

// renderPNG draws plt as a PNG image of PlotWidth × PlotHeight at PlotDPI.
func renderPNG(plt *plot.Plot) (_ []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing the plot: %v", r)
		}
	}()
	c := vgimg.NewWith(vgimg.UseWH(PlotWidth, PlotHeight), vgimg.UseDPI(PlotDPI))
	plt.Draw(draw.New(c))
	// The fastest compression: most of a plot's PNG time is the encoder's,
	// and the file is small anyway (~100 KB).
	var b bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, c.Image()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Snapshot shows a registry snapshot under the cell. It is cell output
// only: the snapshots of the evidence are those the steps keep.
func (p *Playbook) Snapshot(s record.Snapshot) {
	p.display(record.Output{Kind: record.OutputSnapshot, Title: s.Label, Snapshot: &s})
}

// Markdown shows s, Markdown text, under the cell.
func (p *Playbook) Markdown(s string) {
	p.display(record.Output{Kind: record.OutputMarkdown, Text: s})
}

func (p *Playbook) display(o record.Output) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.addOutput(o)
}

// renderSVG draws plt as an SVG element (no XML prolog, so it can sit
// inline in HTML).
func renderSVG(plt *plot.Plot) (s string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing the plot: %v", r)
		}
	}()
	c := vgsvg.NewWith(vgsvg.UseWH(PlotWidth, PlotHeight))
	plt.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return "", err
	}
	out := b.String()
	if i := strings.Index(out, "<svg"); i >= 0 {
		out = out[i:]
	}
	return out, nil
}

// valueOutput renders the value of a cell's final expression: its text, and
// a table or key-value block when it has that shape.
func valueOutput(v any) record.Output {
	o := record.Output{Kind: record.OutputValue, Type: fmt.Sprintf("%T", v)}
	rv := reflect.ValueOf(v)
	switch {
	case rv.Kind() == reflect.String:
		o.Text = strconv.Quote(rv.String())
	default:
		o.Text = fmt.Sprintf("%+v", v)
	}
	if len(o.Text) > maxValue {
		cut := maxValue
		for cut > 0 && !utf8.RuneStart(o.Text[cut]) {
			cut-- // not inside a character
		}
		o.Text, o.Truncated = o.Text[:cut]+"…", true
	}
	if isText(rv) {
		return o
	}
	ind := reflect.Indirect(rv)
	switch ind.Kind() {
	case reflect.Struct:
		if kv, err := kvOf([]any{v}); err == nil {
			o.KV = kv
		}
	case reflect.Map:
		if kv, err := kvOf([]any{v}); err == nil {
			o.KV = kv
		}
	case reflect.Slice, reflect.Array:
		if ind.Kind() == reflect.Slice && ind.Type().Elem().Kind() == reflect.Uint8 {
			break // []byte: the text says enough
		}
		if t, truncated, err := tableOf(v); err == nil {
			o.Table = t
			o.Truncated = o.Truncated || truncated
		}
	}
	return o
}

// isText reports whether v has its own text form (time.Time, errors,
// Stringers), which beats splitting it into fields.
func isText(v reflect.Value) bool {
	if !v.IsValid() || !v.CanInterface() {
		return false
	}
	switch v.Interface().(type) {
	case time.Time, time.Duration, error, fmt.Stringer, encoding.TextMarshaler:
		return true
	}
	return false
}

// tableOf converts v to a table.
func tableOf(v any) (*record.Table, bool, error) {
	switch t := v.(type) {
	case record.Table:
		return &t, false, nil
	case *record.Table:
		if t == nil {
			return nil, false, fmt.Errorf("nil table")
		}
		return t, false, nil
	}
	rv := reflect.Indirect(reflect.ValueOf(v))
	switch rv.Kind() {
	case reflect.Map:
		t := &record.Table{Columns: []string{"key", "value"}, Rows: [][]string{}}
		for _, k := range sortedKeys(rv) {
			t.Rows = append(t.Rows, []string{cellText(k), cellText(rv.MapIndex(k))})
		}
		return capRows(t)
	case reflect.Slice, reflect.Array:
	default:
		return nil, false, fmt.Errorf("want a slice of structs or maps, got %T", v)
	}
	elem := rv.Type().Elem()
	for elem.Kind() == reflect.Pointer {
		elem = elem.Elem()
	}
	t := &record.Table{Rows: [][]string{}}
	switch elem.Kind() {
	case reflect.Struct:
		if elem == reflect.TypeOf(time.Time{}) {
			break
		}
		fields := exportedFields(elem)
		for _, f := range fields {
			t.Columns = append(t.Columns, f.Name)
		}
		for i := 0; i < rv.Len(); i++ {
			e := reflect.Indirect(rv.Index(i))
			row := make([]string, len(fields))
			if e.IsValid() {
				for j, f := range fields {
					row[j] = cellText(e.FieldByIndex(f.Index))
				}
			}
			t.Rows = append(t.Rows, row)
		}
		return capRows(t)
	case reflect.Map:
		seen := map[string]bool{}
		for i := 0; i < rv.Len(); i++ {
			m := reflect.Indirect(rv.Index(i))
			for _, k := range sortedKeys(m) {
				if name := cellText(k); !seen[name] {
					seen[name] = true
					t.Columns = append(t.Columns, name)
				}
			}
		}
		sort.Strings(t.Columns)
		for i := 0; i < rv.Len(); i++ {
			m := reflect.Indirect(rv.Index(i))
			cells := map[string]string{}
			for _, k := range sortedKeys(m) {
				cells[cellText(k)] = cellText(m.MapIndex(k))
			}
			row := make([]string, len(t.Columns))
			for j, c := range t.Columns {
				row[j] = cells[c]
			}
			t.Rows = append(t.Rows, row)
		}
		return capRows(t)
	}
	t.Columns = []string{"value"}
	for i := 0; i < rv.Len(); i++ {
		t.Rows = append(t.Rows, []string{cellText(rv.Index(i))})
	}
	return capRows(t)
}

func capRows(t *record.Table) (*record.Table, bool, error) {
	if len(t.Rows) > maxRows {
		t.Rows = t.Rows[:maxRows]
		return t, true, nil
	}
	return t, false, nil
}

// exportedFields lists the exported fields of struct type t, embedded
// structs flattened.
func exportedFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || (f.Anonymous && f.Type.Kind() == reflect.Struct) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// kvOf converts the arguments of KV to pairs.
func kvOf(kv []any) ([]record.KV, error) {
	if len(kv) == 1 {
		rv := reflect.Indirect(reflect.ValueOf(kv[0]))
		switch rv.Kind() {
		case reflect.Struct:
			var out []record.KV
			for _, f := range exportedFields(rv.Type()) {
				out = append(out, record.KV{Key: f.Name, Value: cellText(rv.FieldByIndex(f.Index))})
			}
			return out, nil
		case reflect.Map:
			var out []record.KV
			for _, k := range sortedKeys(rv) {
				out = append(out, record.KV{Key: cellText(k), Value: cellText(rv.MapIndex(k))})
			}
			return out, nil
		}
		return nil, fmt.Errorf("want key, value pairs, a struct or a map, got %T", kv[0])
	}
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("want key, value pairs, got %d arguments", len(kv))
	}
	out := make([]record.KV, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, record.KV{Key: fmt.Sprint(kv[i]), Value: cellText(reflect.ValueOf(kv[i+1]))})
	}
	return out, nil
}

// sortedKeys returns the keys of map m in a stable order.
func sortedKeys(m reflect.Value) []reflect.Value {
	if m.Kind() != reflect.Map {
		return nil
	}
	keys := m.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return cellText(keys[i]) < cellText(keys[j]) })
	return keys
}

// cellText formats one value for a table or key-value cell: floats to six
// significant digits, times in RFC 3339, long text cut.
func cellText(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	for v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	var s string
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		s = strconv.FormatFloat(v.Float(), 'g', 6, 64)
	case reflect.String:
		s = v.String()
	default:
		if !v.CanInterface() {
			return ""
		}
		switch x := v.Interface().(type) {
		case time.Time:
			s = x.Format(time.RFC3339)
		default:
			s = fmt.Sprint(x)
		}
	}
	if r := []rune(s); len(r) > maxCell {
		s = string(r[:maxCell]) + "…"
	}
	return s
}
