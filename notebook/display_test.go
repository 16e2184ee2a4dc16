package notebook

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/playbook-mlops/playbook/record"
)

type row struct {
	Name    string
	F1      float64
	hidden  int
	Created time.Time
}

type embedded struct {
	row
	Extra bool
}

func TestTableOf(t *testing.T) {
	when := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want *record.Table
		err  string
	}{
		{name: "Structs", v: []row{{"a", 0.123456789, 1, when}},
			want: &record.Table{Columns: []string{"Name", "F1", "Created"}, Rows: [][]string{{"a", "0.123457", "2025-01-02T03:04:05Z"}}}},
		{name: "PointersToStructs", v: []*row{{Name: "a"}, nil},
			want: &record.Table{Columns: []string{"Name", "F1", "Created"}, Rows: [][]string{{"a", "0", "0001-01-01T00:00:00Z"}, {"", "", ""}}}},
		{name: "Embedded", v: []embedded{{row: row{Name: "e"}, Extra: true}},
			want: &record.Table{Columns: []string{"Name", "F1", "Created", "Extra"}, Rows: [][]string{{"e", "0", "0001-01-01T00:00:00Z", "true"}}}},
		{name: "Empty", v: []row{}, want: &record.Table{Columns: []string{"Name", "F1", "Created"}, Rows: [][]string{}}},
		{name: "Maps", v: []map[string]any{{"b": 1, "a": "x"}, {"c": nil}},
			want: &record.Table{Columns: []string{"a", "b", "c"}, Rows: [][]string{{"x", "1", ""}, {"", "", ""}}}},
		{name: "Map", v: map[string]float64{"z": 1, "y": 2.5},
			want: &record.Table{Columns: []string{"key", "value"}, Rows: [][]string{{"y", "2.5"}, {"z", "1"}}}},
		{name: "Scalars", v: [2]string{"p", "q"}, want: &record.Table{Columns: []string{"value"}, Rows: [][]string{{"p"}, {"q"}}}},
		{name: "RecordTable", v: record.Table{Columns: []string{"c"}, Rows: [][]string{{"1"}}},
			want: &record.Table{Columns: []string{"c"}, Rows: [][]string{{"1"}}}},
		{name: "NotATable", v: 3, err: "want a slice of structs or maps, got int"},
		{name: "Struct", v: row{}, err: "want a slice of structs or maps, got notebook.row"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, truncated, err := tableOf(tt.v)
			if tt.err != "" {
				require.Error(t, err)
				assert.Equal(t, tt.err, err.Error())
				return
			}
			require.NoError(t, err)
			assert.False(t, truncated)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestTableCapsRows(t *testing.T) {
	got, truncated, err := tableOf(make([]int, maxRows+5))
	require.NoError(t, err)
	assert.True(t, truncated)
	assert.Len(t, got.Rows, maxRows)
}

func TestKVOf(t *testing.T) {
	tests := []struct {
		name string
		kv   []any
		want []record.KV
		err  string
	}{
		{name: "Pairs", kv: []any{"a", 1, "b", 0.5}, want: []record.KV{{Key: "a", Value: "1"}, {Key: "b", Value: "0.5"}}},
		{name: "Struct", kv: []any{&row{Name: "n", F1: 1}}, want: []record.KV{{Key: "Name", Value: "n"}, {Key: "F1", Value: "1"}, {Key: "Created", Value: "0001-01-01T00:00:00Z"}}},
		{name: "Map", kv: []any{map[string]int{"b": 2, "a": 1}}, want: []record.KV{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}},
		{name: "Odd", kv: []any{"a", 1, "b"}, err: "want key, value pairs, got 3 arguments"},
		{name: "Single", kv: []any{"a"}, err: "want key, value pairs, a struct or a map, got string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kvOf(tt.kv)
			if tt.err != "" {
				require.Error(t, err)
				assert.Equal(t, tt.err, err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCellText(t *testing.T) {
	long := strings.Repeat("é", maxCell+1)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"Float", 2.0 / 3, "0.666667"},
		{"Float32", float32(0.5), "0.5"},
		{"Int", 42, "42"},
		{"Duration", 1500 * time.Millisecond, "1.5s"},
		{"Nil", nil, ""},
		{"Long", long, strings.Repeat("é", maxCell) + "…"},
		{"Slice", []int{1, 2}, "[1 2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, cellText(reflect.ValueOf(tt.v)))
		})
	}
}

func TestDisplayPanics(t *testing.T) {
	rec := &record.Run{Cells: []record.Cell{{Step: "s"}}}
	pb, ctl := New(Options{Run: rec})
	ctl.Begin(t.Context(), "s")
	tests := []struct {
		name string
		call func()
		want string
	}{
		{name: "Table", call: func() { pb.Table(42) }, want: "pb.Table: cannot display: want a slice of structs or maps, got int"},
		{name: "KV", call: func() { pb.KV("t", "a") }, want: "pb.KV: cannot display: want key, value pairs, a struct or a map, got string"},
		{name: "Plot", call: func() { pb.Plot("t", nil) }, want: "pb.Plot: cannot display: nil plot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				err, ok := r.(error)
				require.True(t, ok, "panics with an error: %v", r)
				assert.ErrorIs(t, err, ErrDisplay)
				assert.Equal(t, tt.want, err.Error())
			}()
			tt.call()
		})
	}
}

func TestPlot(t *testing.T) {
	rec := &record.Run{Cells: []record.Cell{{Step: "s"}}}
	pb, ctl := New(Options{Run: rec})
	ctl.Begin(t.Context(), "s")
	p := plot.New()
	p.Title.Text = "ROC"
	l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	require.NoError(t, err)
	p.Add(l)
	pb.Plot("roc", p)
	require.Len(t, rec.Cells[0].Outputs, 1)
	o := rec.Cells[0].Outputs[0]
	assert.Equal(t, record.OutputPlot, o.Kind)
	assert.Equal(t, "roc", o.Title)
	assert.True(t, strings.HasPrefix(o.SVG, "<svg"))
	assert.True(t, strings.HasSuffix(strings.TrimSpace(o.SVG), "</svg>"))
	assert.Contains(t, o.SVG, `width="360pt" height="234pt"`, "5 × 3.25 inches")

	// The PNG twin, for report.md: 5 × 3.25 inches at 192 DPI, the line
	// drawn (not a blank canvas).
	img, err := png.Decode(bytes.NewReader(o.PNG))
	require.NoError(t, err)
	assert.Equal(t, image.Rect(0, 0, 960, 624), img.Bounds())
	colours := map[color.RGBA]bool{}
	for y := 0; y < 624; y += 4 {
		for x := 0; x < 960; x += 4 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}] = true
		}
	}
	assert.Greater(t, len(colours), 2, "more than a background")
}

// BenchmarkPlotRender measures drawing one plot as the record keeps it:
// SVG for the page, PNG for report.md.
func BenchmarkPlotRender(b *testing.B) {
	p := plot.New()
	p.Title.Text = "ROC"
	xy := make(plotter.XYs, 500)
	for i := range xy {
		xy[i].X, xy[i].Y = float64(i)/500, math.Sqrt(float64(i)/500)
	}
	l, err := plotter.NewLine(xy)
	require.NoError(b, err)
	p.Add(l)
	b.Run("svg", func(b *testing.B) {
		for b.Loop() {
			_, err := renderSVG(p)
			require.NoError(b, err)
		}
	})
	b.Run("png", func(b *testing.B) {
		for b.Loop() {
			_, err := renderPNG(p)
			require.NoError(b, err)
		}
	})
}

func TestValueOutput(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want record.Output
	}{
		{name: "String", v: "a\"b", want: record.Output{Kind: record.OutputValue, Type: "string", Text: `"a\"b"`}},
		{name: "Time", v: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), want: record.Output{Kind: record.OutputValue, Type: "time.Time", Text: "2025-01-02 00:00:00 +0000 UTC"}},
		{name: "Struct", v: struct{ A int }{1}, want: record.Output{Kind: record.OutputValue, Type: "struct { A int }", Text: "{A:1}", KV: []record.KV{{Key: "A", Value: "1"}}}},
		{name: "Bytes", v: []byte("hi"), want: record.Output{Kind: record.OutputValue, Type: "[]uint8", Text: "[104 105]"}},
		{name: "Long", v: strings.Repeat("x", maxValue+10), want: record.Output{Kind: record.OutputValue, Type: "string", Text: `"` + strings.Repeat("x", maxValue-1) + "…", Truncated: true}},
		// 2-byte characters after the quote: the cut at maxValue bytes
		// would fall inside one, so it falls before it.
		{name: "LongRunes", v: strings.Repeat("é", maxValue), want: record.Output{Kind: record.OutputValue, Type: "string", Text: `"` + strings.Repeat("é", (maxValue-2)/2) + "…", Truncated: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, valueOutput(tt.v))
		})
	}
}
