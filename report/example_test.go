package report_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

// Write puts a run's report in a folder: the page, the Markdown with its
// plots beside it, and the record.
func ExampleWrite() {
	start := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	r := &record.Run{
		Schema: record.Schema,
		Scenario: record.Scenario{Path: "scenarios/hello.md", Title: "Hello", Lang: "en",
			Blocks: []record.Block{{Kind: record.BlockProse, Markdown: "A first cell.\n"}, {Kind: record.BlockCell, Step: "hello"}}},
		Cells: []record.Cell{{Step: "hello", File: "scenarios/hello.md", Line: 8, Code: `fmt.Println("hello")`, Status: record.StatusOK,
			Start: start, Duration: record.Duration(3 * time.Millisecond),
			Outputs: []record.Output{
				{Kind: record.OutputStdout, Text: "hello\n"},
				{Kind: record.OutputPlot, Title: "A square", SVG: `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>`},
			}}},
		Environment: record.Environment{User: "ada", Start: start, End: start.Add(time.Second), Exit: record.Exit{Status: record.OutcomeOK}},
	}
	dir, err := os.MkdirTemp("", "report-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := report.Write(dir, r); err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	md, _ := os.ReadFile(dir + "/" + report.MarkdownFile)
	fmt.Println(strings.Split(string(md), "\n")[4])
	// Output:
	// evidence.json
	// index.html
	// plot-hello-2.svg
	// report.md
	// ticket.md
	// > ℹ️ **COMPLETED** — every cell ran; this scenario promotes nothing
}
