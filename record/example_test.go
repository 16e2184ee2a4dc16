package record_test

import (
	"fmt"
	"strings"

	"github.com/playbook-mlops/playbook/record"
)

// A report reads the run record back and walks its cells.
func ExampleRead() {
	const evidence = `{
  "schema": "playbook.run/v1",
  "cells": [
    {"step": "identify", "line": 12, "status": "ok", "duration": "1.2s"},
    {"step": "register", "line": 20, "status": "failed", "duration": "300ms",
     "error": {"kind": "step", "file": "promo.md", "line": 21, "step": "register", "message": "permission denied"}},
    {"step": "alias", "line": 30, "status": "not_run"}
  ]
}`
	r, err := record.Read(strings.NewReader(evidence))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range r.Cells {
		fmt.Printf("%-9s %-8s %s\n", c.Step, c.Status, c.Duration)
		if c.Error != nil {
			fmt.Printf("  %s:%d: %s\n", c.Error.File, c.Error.Line, c.Error.Message)
		}
	}
	// Output:
	// identify  ok       1.2s
	// register  failed   300ms
	//   promo.md:21: permission denied
	// alias     not_run  0s
}
