package report

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io"
	"strings"

	"github.com/playbook-mlops/playbook/record"
)

//go:embed templates/live.js templates/live.css
var liveFiles embed.FS

// Live makes a report the live page of playbook watch: the only page of
// playbook that carries a script, allowed by its nonce alone (CSP
// script-src 'nonce-…'; connect-src 'self'), which follows the server's
// events (/events) and updates the page in place. The files a run writes
// never carry it.
type Live struct {
	Nonce  string // fresh for each page served
	Status string // the banner's text: which run, how it went
	Class  string // the banner's class: "running", "ok", "fail"
}

func liveFile(name string) string {
	b, err := liveFiles.ReadFile("templates/" + name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// LiveHTML writes the report of r as the live page (see Live).
func LiveHTML(w io.Writer, r *record.Run, live Live) error {
	if live.Nonce == "" {
		return fmt.Errorf("report: live page: no nonce")
	}
	v := newView(r)
	v.Live = &live
	var b bytes.Buffer
	if err := pageTemplate().Execute(&b, v); err != nil {
		return fmt.Errorf("report: live page: %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// CellHTML returns the HTML of the cell index (from 1) of r's report, its
// <article> element, and that element's id: what the live page replaces
// as the cell ends.
func CellHTML(r *record.Run, index int) (id, html string, err error) {
	if index < 1 || index > len(r.Cells) {
		return "", "", fmt.Errorf("report: no cell %d", index)
	}
	v := newView(r)
	id = cellIDs(r, v)[index-1]
	if id == "" {
		return "", "", fmt.Errorf("report: cell %d is not shown", index)
	}
	var page bytes.Buffer
	if err := pageTemplate().Execute(&page, v); err != nil {
		return "", "", fmt.Errorf("report: cell %d: %w", index, err)
	}
	// The article is the page's own markup: every string in it escaped,
	// so "</article>" can only be its end tag.
	s := page.String()
	const open = `<article class="cell `
	start := -1
	for at := 0; ; {
		k := strings.Index(s[at:], open)
		if k < 0 {
			break
		}
		k += at
		tag := s[k:]
		if gt := strings.IndexByte(tag, '>'); gt >= 0 && strings.Contains(tag[:gt], `id="`+template.HTMLEscapeString(id)+`"`) {
			start = k
			break
		}
		at = k + len(open)
	}
	if start < 0 {
		return "", "", fmt.Errorf("report: cell %d: no article %s", index, id)
	}
	end := strings.Index(s[start:], "</article>")
	if end < 0 {
		return "", "", fmt.Errorf("report: cell %d: no end of article %s", index, id)
	}
	return id, s[start : start+end+len("</article>")], nil
}

// CellIDs returns the HTML id of each cell of r's report ("" for a cell
// the report does not show), by index from 0: the live page's handles.
func CellIDs(r *record.Run) []string { return cellIDs(r, newView(r)) }

func cellIDs(r *record.Run, v *view) []string {
	ids := make([]string, len(r.Cells))
	for _, b := range v.Blocks {
		if b.Cell == nil {
			continue
		}
		for i := range r.Cells {
			if b.Cell.Cell == &r.Cells[i] {
				ids[i] = b.Cell.ID
			}
		}
	}
	return ids
}
