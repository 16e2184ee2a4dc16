package report

import (
	"bytes"
	"fmt"

	"github.com/playbook-mlops/playbook/internal/atomicfile"
	"github.com/playbook-mlops/playbook/record"
)

// The files of a report in its output folder, beside the run record
// (record.EvidenceFile) and the plots and screenshots report.md links to.
const (
	HTMLFile     = "index.html"
	MarkdownFile = "report.md"
)

// Write writes the report of a run to dir, creating it: index.html,
// report.md with its plots (SVG) and screenshots (PNG) beside it, and the
// run record, evidence.json. The names of the files beside report.md never
// take the name of a file a cell wrote (record.Evidence.Files).
//
// Every file is written atomically (internal/atomicfile): a symbolic link
// found in dir is replaced, never written through.
//
// Rendering depends on the record only (no clock, no map order), so the
// same record gives the same bytes.
func Write(dir string, r *record.Run) error {
	// The record first: whatever happens to the rendering, it is kept.
	if err := record.WriteFile(dir, r); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var page, md bytes.Buffer
	if err := HTML(&page, r); err != nil {
		return err
	}
	files, err := Markdown(&md, r)
	if err != nil {
		return err
	}
	files = append(files, File{Name: HTMLFile, Data: page.Bytes()}, File{Name: MarkdownFile, Data: md.Bytes()})
	for _, f := range files {
		if err := atomicfile.WriteFile(dir, f.Name, f.Data, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}
