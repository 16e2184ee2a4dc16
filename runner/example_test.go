package runner_test

import (
	"context"
	"fmt"

	"github.com/playbook-mlops/playbook/runner"
)

func ExampleRun() {
	src := "---\ntitle: Example\nparams:\n  min_f1: 0.55\n---\n\n" +
		"```go step=compute\nf1s := []float64{0.61, 0.48, 0.58}\nbest := 0.0\nfor _, f := range f1s {\n\tbest = math.Max(best, f)\n}\nfmt.Printf(\"best f1 %.2f\\n\", best)\n```\n\n" +
		"```go step=gate\nbest >= params.MinF1\n```\n"
	sc, err := runner.Parse("example.md", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	rec, err := runner.Run(context.Background(), sc, runner.Options{Params: []string{"min_f1=0.6"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range rec.Cells {
		for _, o := range c.Outputs {
			fmt.Printf("%s %s: %s", c.Step, o.Kind, o.Text)
		}
		fmt.Println()
	}
	// Output:
	// compute stdout: best f1 0.61
	//
	// gate value: true
}

func ExampleCheck() {
	src := "```go step=a\nx := 1\n```\n\n```go step=b\nvar s string = x\n```\n\n```go step=c\nfmt.Println(y)\n```\n"
	sc, err := runner.Parse("broken.md", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(runner.Check(sc, runner.Options{}))
	// Output:
	// broken.md:6: step b: cannot use type int as type string in assignment
	// broken.md:10: step c: undefined: y
}
