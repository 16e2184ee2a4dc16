package runner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

var benchParams = []record.Param{
	{Name: "experiment", GoName: "Experiment", Type: record.TypeString, Value: "churn-training"},
	{Name: "min_f1", GoName: "MinF1", Type: record.TypeNumber, Value: 0.55},
}

// BenchmarkNewInterpreter measures a kernel's start: a yaegi interpreter
// with every symbol table loaded, pb and params declared and the predefined
// packages imported. Target: under 50 ms.
func BenchmarkNewInterpreter(b *testing.B) {
	loadSymbols()
	for b.Loop() {
		pb, ctl := notebook.New(notebook.Options{})
		if _, err := newKernel("bench.md", pb, ctl, benchParams, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrivialCell measures the overhead of running a trivial cell:
// split, parse, compile, execute under a timeout, capture. Target: under
// 5 ms.
func BenchmarkTrivialCell(b *testing.B) {
	rec := &record.Run{Cells: []record.Cell{{Step: "s"}}}
	pb, ctl := notebook.New(notebook.Options{Run: rec})
	k, err := newKernel("bench.md", pb, ctl, benchParams, false)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		c := Cell{Step: "s", Line: 10, EndLine: 11, Timeout: time.Minute,
			Code: fmt.Sprintf("x%d := params.MinF1 * 2\nx%d", i, i)}
		if err := runCell(context.Background(), k, ctl, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileSize measures compiling (split, parse, instrument,
// yaegi's compiler; not running) one cell of 1k, 2k, 4k and 8k statements
// (x += N, one a line), each in a new kernel: whether the cost grows
// linearly with the cell's size. Results in docs/PERFORMANCE.md.
func BenchmarkCompileSize(b *testing.B) {
	loadSymbols()
	for _, n := range []int{1000, 2000, 4000, 8000} {
		code := bigCell(n - 1) // n statements with x := 0
		c := Cell{Step: "s", Line: 10, EndLine: 10 + n - 1, Timeout: time.Hour, Code: code}
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				pb, ctl := notebook.New(notebook.Options{})
				k, err := newKernel("bench.md", pb, ctl, benchParams, false)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := k.compile(c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/stmt")
		})
	}
}
