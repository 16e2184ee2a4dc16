package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/internal/outfiles"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

// defaultMinOutFree is the room, in bytes, the --out folder's file system
// must have before a run starts: a report that cannot be written after
// the run has changed the registry leaves it changed with no report.
// Most reports take well under a MiB; screenshots and the cells' files
// more.
const defaultMinOutFree = 4 << 20

// minOutFree is defaultMinOutFree; the tests of a full disk lower it.
var minOutFree uint64 = defaultMinOutFree

// minOutInodes is the number of free inodes the --out folder's file system
// must have, when it counts them.
const minOutInodes = 64

// checkRoom refuses an output folder whose file system has less than
// minOutFree bytes, or minOutInodes inodes, free; "" (no --out) is fine,
// and so is a system that cannot say.
func checkRoom(dir string) error {
	if dir == "" {
		return nil
	}
	free, inodes, ok, err := diskFree(dir)
	if err != nil {
		return fmt.Errorf("cannot tell how much room its file system has: %w", err)
	}
	switch {
	case !ok:
		return nil
	case free < minOutFree:
		return fmt.Errorf("the file system of %s has %s free, less than the %s a report needs: nothing was run, the registry is unchanged (free some space, or choose another --out)",
			dir, fmtBytes(free), fmtBytes(minOutFree))
	case inodes >= 0 && inodes < minOutInodes:
		return fmt.Errorf("the file system of %s has %d inodes free, less than the %d a report needs: nothing was run, the registry is unchanged (free some, or choose another --out)",
			dir, inodes, minOutInodes)
	}
	return nil
}

// fmtBytes writes n in KiB or MiB.
func fmtBytes(n uint64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// outFolder is the --out folder of a run: the files of the run before,
// moved aside when this one started, and the files this one wrote, which
// its manifest (internal/outfiles) lists. A nil outFolder (no --out) does
// nothing.
type outFolder struct {
	dir  string
	warn io.Writer
	// opts are the files written beside each report (the notebook).
	opts    report.Options
	aside   *outfiles.Aside
	written []outfiles.Entry
	// keep says the aside folder stays: a scenario wrote no report, or
	// not all of it.
	keep bool
}

// prepareOut moves aside the files the manifest in dir lists, those an
// earlier run wrote and nothing changed since, before anything runs. A
// manifest that cannot be read is said on warn and left alone, with the
// files it names. opts say what each report writes beside it.
func prepareOut(dir string, warn io.Writer, opts report.Options) (*outFolder, error) {
	if dir == "" {
		return nil, nil
	}
	of := &outFolder{dir: dir, warn: warn, opts: opts}
	m, err := outfiles.Read(dir)
	if err != nil {
		fmt.Fprintf(warn, "playbook: --out %s: %v: the files of the run before are left as they are\n", dir, err)
		return of, nil
	}
	of.aside, err = outfiles.MoveAside(dir, m, time.Now())
	if err != nil && of.asideDir() != "" {
		err = fmt.Errorf("%w (what was moved is in %s)", err, of.asideDir())
	}
	return of, err
}

// writeReport writes rec's report to dir (--out, or its scenario's folder
// inside) and the manifest of every file this run wrote so far, cells'
// files included; it returns the report's files written whole, also when
// it fails.
func (of *outFolder) writeReport(dir string, rec *record.Run) ([]report.Written, error) {
	prefix, err := filepath.Rel(of.dir, dir)
	if err != nil {
		return nil, err
	}
	prefix = filepath.ToSlash(prefix)
	if prefix != "." {
		of.written = append(of.written, outfiles.Entry{Name: prefix, Folder: true})
	}
	if fi, err := os.Lstat(filepath.Join(dir, cellFilesDir)); err == nil && fi.IsDir() {
		of.written = append(of.written, outfiles.Entry{Name: path.Join(prefix, cellFilesDir), Folder: true})
	}
	for _, f := range rec.Evidence.Files {
		of.written = append(of.written, outfiles.Entry{Name: path.Join(prefix, f.Name), SHA256: f.SHA256})
	}
	written, err := report.WriteFilesWith(dir, rec, of.opts)
	for _, w := range written {
		of.written = append(of.written, outfiles.Entry{Name: path.Join(prefix, w.Name), SHA256: w.SHA256})
	}
	// The manifest also when the report is not whole: the next run moves
	// aside what this one did write.
	if merr := outfiles.Write(of.dir, of.written); err == nil && merr != nil {
		err = fmt.Errorf("the list of the report's files: %w", merr)
	}
	return written, err
}

func (of *outFolder) keepAside() {
	if of != nil {
		of.keep = true
	}
}

// asideDir is the folder where the files of the run before are, "" when
// none were moved.
func (of *outFolder) asideDir() string {
	if of == nil || of.aside == nil || of.aside.Dir == "" {
		return ""
	}
	return filepath.Join(of.dir, filepath.FromSlash(of.aside.Dir))
}

// finish removes the aside folder, unless it is kept; err, the run's, is
// returned saying where the files of the run before are when they stay
// because a scenario wrote no report (a failed report says it itself).
func (of *outFolder) finish(err error) error {
	aside := of.asideDir()
	if aside == "" {
		return err
	}
	if !of.keep {
		if rerr := of.aside.Remove(of.dir); rerr != nil {
			fmt.Fprintf(of.warn, "playbook: could not remove %s, the files of the run before: %v\n", aside, rerr)
		}
		return err
	}
	var rf *reportWriteError
	if err == nil || errors.As(err, &rf) {
		return err
	}
	return &notedError{err: err, note: "the files of the run before in " + of.dir + " were moved to " + aside}
}

// notedError is err with a line more.
type notedError struct {
	err  error
	note string
}

func (e *notedError) Error() string { return e.err.Error() + "\n" + e.note }
func (e *notedError) Unwrap() error { return e.err }

// madeCall is a registry call of a scenario of this playbook run.
type madeCall struct {
	Scenario string
	record.Call
}

// reportWriteError is a report that could not be written after the run:
// its message says so first, then what the registry holds of the run (its
// calls) and where the run record is. It unwraps to the run's error and the
// write's, so that the exit code is the run's (1 when the run went well).
type reportWriteError struct {
	msg  string
	errs []error
}

func (e *reportWriteError) Error() string   { return e.msg }
func (e *reportWriteError) Unwrap() []error { return e.errs }

// reportFailure is the error of a report that could not be written to dir
// (werr) after a run (runErr, nil when it went well) whose record is rec:
// written are the report's files written whole, calls the registry calls
// of every scenario run so far, aside the folder of the run before's files
// ("" when none).
//
// The run record goes where it can still be read: dir/evidence.json when
// it was written whole, else a file in os.TempDir(), else the message
// itself.
func reportFailure(dir string, werr, runErr error, rec *record.Run, written []report.Written, calls []madeCall, aside string) error {
	var sent []madeCall
	planned, ok := 0, 0
	for _, c := range calls {
		switch {
		case c.DryRun:
			planned++
		default:
			sent = append(sent, c)
			if c.Outcome == "ok" {
				ok++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the report could not be written to %s, and ", dir)
	switch {
	case ok > 0 && ok == len(sent):
		fmt.Fprintf(&b, "the registry WAS changed: %s sent to change it answered ok (listed below)", plural(ok, "call"))
	case ok > 0:
		fmt.Fprintf(&b, "the registry WAS changed: %d of the %s sent to change it answered ok (listed below)", ok, plural(len(sent), "call"))
	case len(sent) > 0:
		fmt.Fprintf(&b, "the registry may have been changed: %s sent to change it, none answered ok (listed below)", plural(len(sent), "call"))
	default:
		b.WriteString("the registry was not changed: no call to change it was made")
	}
	if planned > 0 {
		fmt.Fprintf(&b, " (%s planned and not sent: --dry-run)", plural(planned, "call"))
	}
	fmt.Fprintf(&b, "\n  why: %v", werr)
	if len(sent) > 0 {
		b.WriteString("\nregistry calls made, in order:")
		for _, c := range sent {
			b.WriteString("\n  - " + fmtCall(c))
		}
	}
	b.WriteString("\n" + keepRecord(dir, rec, written, exitCode(errors.Join(runErr, werr))))
	if aside != "" {
		fmt.Fprintf(&b, "\nthe files of the run before are in %s", aside)
	}
	if runErr != nil {
		fmt.Fprintf(&b, "\nthe run itself: %v", runErr)
	}
	e := &reportWriteError{msg: b.String(), errs: []error{werr}}
	if runErr != nil {
		e.errs = append(e.errs, runErr)
	}
	return e
}

// keepRecord says where the run record is: dir/evidence.json when the
// report wrote it whole, else a file in os.TempDir() written now, else the
// record itself, JSON, in the message. code is the exit code playbook
// ends with, which the copy keeps.
func keepRecord(dir string, rec *record.Run, written []report.Written, code int) string {
	for _, w := range written {
		if w.Name == record.EvidenceFile {
			return "the run record (evidence), whole, is in " + filepath.Join(dir, record.EvidenceFile)
		}
	}
	rec.Environment.Exit.Code = code
	var buf bytes.Buffer
	if err := rec.WriteJSON(&buf); err != nil {
		return "the run record could not be encoded: " + err.Error()
	}
	name, err := writeTemp(buf.Bytes())
	if err == nil {
		return fmt.Sprintf("the run record (evidence) could not be written to %s; it is in %s", dir, name)
	}
	return fmt.Sprintf("the run record (evidence) could not be written to %s, nor to %s (%v); here it is:\n%s", dir, os.TempDir(), err, strings.TrimSpace(buf.String()))
}

// writeTemp writes data, synced, to a new file of os.TempDir() and returns
// its name; a file not written whole is removed.
func writeTemp(data []byte) (string, error) {
	f, err := os.CreateTemp("", "playbook-evidence-*.json")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// fmtCall writes a registry call on one line: scenario, step, method,
// endpoint, arguments, outcome.
func fmtCall(c madeCall) string {
	var args []string
	for _, k := range slices.Sorted(maps.Keys(c.Args)) {
		v := fmt.Sprint(c.Args[k])
		if len(v) > 80 {
			v = v[:77] + "..."
		}
		args = append(args, k+"="+v)
	}
	line := c.Scenario
	if c.Step != "" {
		line += ", step " + c.Step
	}
	line += ": " + c.Method + " " + c.Endpoint
	if len(args) > 0 {
		line += " " + strings.Join(args, " ")
	}
	if len(line) > 400 {
		line = line[:397] + "..."
	}
	return line + ": " + c.Outcome
}

// plural writes n and noun, with an s when n is not 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
