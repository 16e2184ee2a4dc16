// Package runner parses scenarios (front matter, prose, Go cells, parameters)
// and runs their cells in order in one yaegi interpreter, producing a run
// record.
//
// # Scenario format
//
// A scenario is a Markdown file. It may start with a YAML front matter
// between two --- lines:
//
//	---
//	title: Promotion du modèle de churn   # default: the first "# " heading, else the file name
//	lang: fr
//	description: One line for the report.
//	params:
//	  experiment: churn-training           # string
//	  min_f1: 0.55                         # number (float64)
//	  folds: 5                             # integer (int)
//	  strict: true                         # bool
//	  wait: 30s                            # duration (time.Duration): an unquoted Go duration
//	  label: "30s"                         # string: quoted, so not a duration
//	  tags: [a, b]                         # list ([]string)
//	  threshold: {default: 1, type: number, description: decision threshold}
//	  owner: {type: string, required: true} # no default: -p owner=... is required
//	expect: ...                            # free-form, ignored by playbook (tests use it)
//	---
//
// Any other front matter key is an error. A parameter's type is inferred from
// its default (a YAML integer is an integer, a YAML float a number) unless
// type: says otherwise. Cells read parameters, typed, from params, whose
// fields are the names in Go form: min_f1 is params.MinF1. On the command
// line, -p name=value overrides a default: the value is parsed by the
// parameter's type, and an unknown name, a wrong value or a missing required
// parameter is an error that lists every parameter and its type.
//
// Cells are fenced blocks whose info string is go followed by attributes:
//
//	```go step=identify timeout=2m
//	best := steps.Identify(pb, steps.IdentifyOptions{Experiment: params.Experiment, Metric: params.Metric})
//	```
//
// step=NAME is required (lower-case letters, digits, - and _, starting with a
// letter) and unique in the file; timeout=DURATION is optional (default 5m).
// A go block without step= is an error: to show Go code without running it,
// use another language tag (```go-example). Every other fenced block is shown,
// never run. CRLF line endings and a UTF-8 byte order mark are accepted; an
// empty file, or one without cells, is refused.
//
// # Cells
//
// Cells run top to bottom in one interpreter per scenario: what one cell
// declares, later cells see. A cell may mix declarations and statements:
// its top-level import, func, type, var and const declarations are evaluated
// first, as package-level declarations in Go (so a function may use a
// constant declared below it), then its statements in order. A declaration
// cannot use a variable that a statement of the same cell defines (x := ...):
// write it as a statement, or in the next cell. A type cannot be redefined by
// a later cell.
//
// Without import lines, cells see pb (the *steps.Playbook handle), params,
// and the packages fmt, strings, strconv, math, sort, time, errors, steps,
// churn, mlflow and record. They may import more from an allow-list: the safe
// part of the standard library (bytes, encoding/json, regexp, math/rand, ...),
// gonum.org/v1/plot and its plotter, plotutil, vg and vg/draw packages.
// os, os/exec, io/ioutil, path/filepath, net and net/..., syscall, unsafe,
// reflect, runtime and plugin are refused unless playbook run --unrestricted;
// files are written with pb.WriteFile, inside the run's output folder. The
// generic packages slices, maps and cmp are refused in every mode: the
// interpreter cannot run them (sort and for loops do their work).
//
// The value of a cell's final expression is shown under it, as a notebook
// shows it (a struct as a key-value block, a slice of structs or maps as a
// table), except for a call that returns nothing or several values. A final
// expression whose value (or last value) is a non-nil error fails the cell.
//
// # Errors
//
// Every error names the scenario file and the line in it: syntax errors,
// type errors, undefined names, refused imports, panics, failing steps (a step
// function that panics with an error, or a final expression that is an
// error), gates that refuse (an error implementing GateRefused() bool), and
// timeouts. A panic or a timeout names the top-level statement that was
// running, or the statement inside a loop or an if of the cell; a panic in a
// function names the line that called it from the cell. The first failure
// stops the run; the cells after it are recorded as not run.
//
// A timeout cancels the cell's context (pb.Context()) and stops interpreted
// code at its next statement, in loops, functions and goroutines too: each
// statement of a cell is instrumented to check. Compiled code a cell calls
// stops only if it honours that context; if it does not, its goroutine is
// left behind and the run ends anyway, within the timeout. Goroutines a cell
// starts keep running while later cells run (what they print goes to the
// cell running then) and are stopped at their next statement when the run
// ends; a panic in one of them ends the whole process, as in Go.
//
// The timeout counts the cell's compilation too. yaegi's compiler cannot
// be interrupted: a cell still compiling when its time is up fails (a
// timeout naming its step and first line) and its compilation is left
// running, holding the interpreter, until the process exits; nothing more
// runs in that interpreter.
//
// # Check
//
// Check compiles every cell in order in one interpreter without executing
// any: no MLflow client is created and no step runs. Names that earlier
// cells declare are known to later cells with their compiled types, so type
// errors across cells are found, and every error is reported at once. A
// name left undefined because the cell declaring it failed is not reported
// again. Each cell must compile within its timeout; the cells after one that
// does not are not checked. Check does not find what only running reveals:
// a step that fails, a panic (nil map, index out of range), a timeout while
// running, a wrong value.
package runner
