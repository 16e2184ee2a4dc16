// Package report renders a run record to a self-contained HTML file, Markdown
// and a JSON evidence file.
package report
