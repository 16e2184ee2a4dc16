// Package runner parses scenarios (front matter, prose, Go cells, parameters)
// and runs their cells in order in one yaegi interpreter, producing a run
// record.
package runner
