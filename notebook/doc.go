// Package notebook is the cell runtime of a run: the Playbook handle cells
// hold as pb (the current cell's context, the MLflow client, the output
// folder), the Controller through which the runner moves it from cell to
// cell, the streams that capture what cells print, and the display of what
// cells show (pb.Table, pb.KV, pb.Plot, pb.Markdown, pb.Snapshot, the value
// of a cell's final expression).
//
// Cells reach the Playbook through its exported methods only: this package
// is in none of the cells' symbol tables (runner/symbols), so its
// package-level functions cannot be called from a cell. The functions that
// write the run's evidence (Update, RecordCall, RecordMetric, KeepSnapshot,
// Display, CapturerOf) are such functions; the step functions (package
// steps) call them. Package steps gives cells the type's name, as
// steps.Playbook.
package notebook
