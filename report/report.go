package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

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
// Every file is written atomically (internal/atomicfile): to a temporary
// file in dir, synced, renamed over its name, dir synced. A write that
// fails (a full disk) leaves the file as it was, or absent: never half of
// it. A symbolic link found in dir is replaced, never written through.
//
// Rendering depends on the record only (no clock, no map order), so the
// same record gives the same bytes.
func Write(dir string, r *record.Run) error {
	_, err := WriteFiles(dir, r)
	return err
}

// Written is a file WriteFiles wrote, whole.
type Written struct {
	// Name is slash-separated, relative to the folder.
	Name string
	// SHA256 is the hex SHA-256 of its bytes.
	SHA256 string
}

// WriteFiles is Write, and returns the files written, in order, the run
// record first. When it fails, the files are those written whole before
// the failure: when they include record.EvidenceFile, the record is safe
// in dir.
func WriteFiles(dir string, r *record.Run) ([]Written, error) {
	return WriteFilesWith(dir, r, Options{})
}

// Options are what WriteFilesWith writes beside the report.
type Options struct {
	// Notebook adds the run as a Jupyter notebook, NotebookFile, last.
	Notebook bool
}

// WriteFilesWith is WriteFiles, with the files o asks for too, each
// written as the others are.
func WriteFilesWith(dir string, r *record.Run, o Options) ([]Written, error) {
	var written []Written
	put := func(name string, data []byte) error {
		if err := atomicfile.WriteFile(dir, name, data, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		sum := sha256.Sum256(data)
		written = append(written, Written{Name: name, SHA256: hex.EncodeToString(sum[:])})
		return nil
	}
	// The record first: whatever happens to the rendering, it is kept.
	// Streamed to its file, hashed on the way: the record can be large,
	// and a copy of it in memory would double what playbook holds.
	h := sha256.New()
	if err := atomicfile.Write(dir, record.EvidenceFile, 0o644, func(w io.Writer) error {
		return r.WriteJSON(io.MultiWriter(w, h))
	}); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	written = append(written, Written{Name: record.EvidenceFile, SHA256: hex.EncodeToString(h.Sum(nil))})
	// Each file is written as soon as it is rendered, and dropped: a
	// large record is rendered three times, and holding the renderings
	// together would triple what playbook holds.
	stream := func(name string, render func(io.Writer) error) error {
		h := sha256.New()
		if err := atomicfile.Write(dir, name, 0o644, func(w io.Writer) error {
			return render(io.MultiWriter(w, h))
		}); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		written = append(written, Written{Name: name, SHA256: hex.EncodeToString(h.Sum(nil))})
		return nil
	}
	if err := stream(HTMLFile, func(w io.Writer) error { return HTML(w, r) }); err != nil {
		return written, err
	}
	var md bytes.Buffer
	files, err := Markdown(&md, r)
	if err != nil {
		return written, err
	}
	for _, f := range files {
		if err := put(f.Name, f.Data); err != nil {
			return written, err
		}
	}
	if err := put(MarkdownFile, md.Bytes()); err != nil {
		return written, err
	}
	md = bytes.Buffer{}
	if err := stream(TicketFile, func(w io.Writer) error { return Ticket(w, r, written[0].SHA256) }); err != nil {
		return written, err
	}
	if o.Notebook {
		if err := stream(NotebookFile, func(w io.Writer) error { return Notebook(w, r) }); err != nil {
			return written, err
		}
	}
	return written, nil
}
