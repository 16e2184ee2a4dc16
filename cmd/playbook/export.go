package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/playbook-mlops/playbook/internal/atomicfile"
	"github.com/playbook-mlops/playbook/internal/outfiles"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
)

func init() {
	register(command{name: "export", summary: "write a run record as a Jupyter notebook (.ipynb)", run: runExport})
}

// formatIPynb is the only format of playbook export, so far.
const formatIPynb = "ipynb"

// exportOptions holds the flags and arguments of playbook export.
type exportOptions struct {
	Format string
	// Out is the notebook's file; "" for NotebookFile beside the record,
	// "-" for standard output.
	Out string
	// Record is the run record's file, or a folder holding one.
	Record string
}

func runExport(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var o exportOptions
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: playbook export [--format ipynb] [-o FILE] EVIDENCE.json|DIR")
		fmt.Fprintln(stderr, "\nWrites a run record (evidence.json, or the one in DIR, the --out folder of a run) as")
		fmt.Fprintln(stderr, "a Jupyter notebook, nbformat 4.5: the scenario's prose, and its cells with their outputs,")
		fmt.Fprintln(stderr, "plots and screenshots, as GitHub, GitLab and JupyterLab show them. Nothing runs again.")
		fmt.Fprintln(stderr, "By default to "+report.NotebookFile+" beside the record (playbook run --ipynb writes the same file).")
		fmt.Fprintln(stderr, "Exit status: 0 done, 1 the notebook could not be written, 2 usage error or no run record.")
		fmt.Fprintln(stderr, "\nflags:")
		printDefaults(fs)
	}
	fs.StringVar(&o.Format, "format", formatIPynb, "the export's `format`: ipynb (a Jupyter notebook)")
	fs.StringVar(&o.Out, "o", "", "write the notebook to `FILE` (- for standard output; default "+report.NotebookFile+" beside the record)")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if o.Format != formatIPynb {
		return errUsage(fmt.Errorf("--format %q: the only format is %s", o.Format, formatIPynb))
	}
	switch len(pos) {
	case 0:
		fs.Usage()
		return errUsage(errors.New("no run record given"))
	case 1:
	default:
		return errUsage(fmt.Errorf("one run record at a time, not %d", len(pos)))
	}
	o.Record = pos[0]
	return export(o, stdout)
}

// export writes the notebook of o.Record; it says on stdout where, unless
// the notebook itself goes there.
func export(o exportOptions, stdout io.Writer) error {
	path, err := recordFile(o.Record)
	if err != nil {
		return errUsage(err)
	}
	rec, sum, err := readRunRecord(path)
	if err != nil {
		return errUsage(err)
	}
	var nb bytes.Buffer
	if err := report.Notebook(&nb, rec); err != nil {
		return err
	}
	if o.Out == "-" {
		_, err := stdout.Write(nb.Bytes())
		return err
	}
	out := o.Out
	if out == "" {
		out = filepath.Join(filepath.Dir(path), report.NotebookFile)
	} else if fi, err := os.Stat(out); (err == nil && fi.IsDir()) || os.IsPathSeparator(out[len(out)-1]) {
		out = filepath.Join(out, report.NotebookFile) // a folder: the notebook in it
	}
	if same(out, path) {
		return errUsage(fmt.Errorf("-o %s is the run record itself", o.Out))
	}
	// Atomically, as the report's files: a symbolic link at out is
	// replaced, not written through.
	if err := atomicfile.WriteFile(filepath.Dir(out), filepath.Base(out), nb.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the notebook: %w", err)
	}
	if err := listInManifest(path, sum, out, nb.Bytes()); err != nil {
		return fmt.Errorf("the notebook is in %s, but the list of the run's files could not take it: %w", out, err)
	}
	_, err = fmt.Fprintf(stdout, "%s: notebook in %s\n", path, out)
	return err
}

// recordFile returns the run record's file: arg itself, or arg's
// evidence.json when arg is a folder.
func recordFile(arg string) (string, error) {
	fi, err := os.Stat(arg)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%s does not exist: give a run record (%s) or the --out folder of a run", arg, record.EvidenceFile)
	case err != nil:
		return "", err
	case !fi.IsDir():
		return arg, nil
	}
	path := filepath.Join(arg, record.EvidenceFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		// The --out folder of several scenarios holds one folder each.
		inside, _ := filepath.Glob(filepath.Join(arg, "*", record.EvidenceFile))
		if len(inside) > 0 {
			return "", fmt.Errorf("no run record in %s (no %s); its folders hold %s: export one of them", arg, record.EvidenceFile, joinPaths(inside))
		}
		return "", fmt.Errorf("no run record in %s: %s does not exist (playbook run --out %s writes one)", arg, path, arg)
	}
	return path, nil
}

// joinPaths lists the folders of the files ps, sorted.
func joinPaths(ps []string) string {
	dirs := make([]string, len(ps))
	for i, p := range ps {
		dirs[i] = filepath.Dir(p)
	}
	slices.Sort(dirs)
	return strings.Join(dirs, ", ")
}

// readRunRecord reads the run record in path, and the hex SHA-256 of its
// bytes.
func readRunRecord(path string) (*record.Run, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	h := sha256.New()
	rec, err := record.Read(io.TeeReader(f, h))
	if err != nil {
		return nil, "", fmt.Errorf("%s is not a playbook run record: %w", path, err)
	}
	// The rest of the file, hashed too: the sum is the file's.
	if _, err := io.Copy(h, f); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return rec, hex.EncodeToString(h.Sum(nil)), nil
}

// same reports whether a and b name the same file.
func same(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	aa, errA := filepath.Abs(a)
	ab, errB := filepath.Abs(b)
	return errA == nil && errB == nil && aa == ab
}

// listInManifest adds the notebook to the manifest of the --out folder of
// the run, when it went beside a run record that manifest lists as
// written (internal/outfiles): the next run into that folder moves it
// aside with the rest, so that no notebook of an earlier run stays beside
// a later run's report. The folder is the record's (one scenario) or the
// one above it (several); a notebook written elsewhere, or beside a record
// no manifest lists as is, is left out.
func listInManifest(recordPath, recordSum, notebook string, data []byte) error {
	rp, err := filepath.Abs(recordPath)
	if err != nil {
		return nil
	}
	np, err := filepath.Abs(notebook)
	if err != nil || filepath.Dir(np) != filepath.Dir(rp) {
		return nil
	}
	here := filepath.Dir(rp)
	for _, top := range []string{here, filepath.Dir(here)} {
		m, err := outfiles.Read(top)
		if err != nil || m == nil {
			continue
		}
		relRecord, err1 := filepath.Rel(top, rp)
		relNotebook, err2 := filepath.Rel(top, np)
		if err1 != nil || err2 != nil {
			continue
		}
		for _, e := range m.Files {
			if e.Name == filepath.ToSlash(relRecord) && e.SHA256 == recordSum {
				return outfiles.Write(top, append(m.Files, outfiles.Entry{Name: filepath.ToSlash(relNotebook), SHA256: outfiles.Sum(data)}))
			}
		}
	}
	return nil
}
