package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/runner"
	"github.com/playbook-mlops/playbook/scenarios"
)

// embeddedSuffix follows the name of a scenario read from playbook's
// binary wherever its path is shown: errors, progress, the report.
const embeddedSuffix = " (embedded)"

// scenarioReader reads the scenarios named on a command line: a file of
// that path, else, for a name with no folder in it, the scenario of that
// name embedded in the binary (see package scenarios). An embedded one is
// written to a temporary folder of the reader's, its folder while it runs
// (the kernel reads it there); close removes it.
type scenarioReader struct {
	tmp string
}

// parse parses the scenario p names.
func (r *scenarioReader) parse(p string) (*runner.Scenario, error) {
	name, embedded := embeddedName(p)
	if embedded && p != name && fileExists(name) {
		// churn-training when ./churn-training.md exists (written by
		// playbook init . and maybe changed): the file.
		p, embedded = name, false
	}
	if !embedded {
		sc, err := runner.ParseFile(p)
		var re *runner.Error
		if errors.As(err, &re) && errors.Is(err, fs.ErrNotExist) {
			e := *re
			e.Err = fmt.Errorf("%w; %s", re.Err, embeddedList())
			return nil, &e
		}
		return sc, err
	}
	src, err := scenarios.Read(name)
	if err != nil {
		return nil, &runner.Error{Kind: record.ErrScenario, File: p, Err: err}
	}
	if r.tmp == "" {
		if r.tmp, err = os.MkdirTemp("", "playbook-embedded-"); err != nil {
			return nil, &runner.Error{Kind: record.ErrScenario, File: p, Err: fmt.Errorf("writing the embedded scenario out: %w", err)}
		}
	}
	file := filepath.Join(r.tmp, name)
	if err := os.WriteFile(file, src, 0o644); err != nil {
		return nil, &runner.Error{Kind: record.ErrScenario, File: p, Err: fmt.Errorf("writing the embedded scenario out: %w", err)}
	}
	sc, err := runner.Parse(name+embeddedSuffix, src)
	if err != nil {
		return nil, err
	}
	sc.File = file
	return sc, nil
}

// close removes the embedded scenarios written out.
func (r *scenarioReader) close() {
	if r.tmp != "" {
		os.RemoveAll(r.tmp)
		r.tmp = ""
	}
}

// embeddedName returns the file name of the embedded scenario p names, and
// whether p names one: a name with no folder that is no file on disk (a
// file of that name always wins, and so does NAME.md for NAME: see parse),
// churn-promotion.fr or churn-promotion.fr.md.
func embeddedName(p string) (string, bool) {
	if strings.ContainsAny(p, `/\`) {
		return "", false
	}
	if fileExists(p) {
		return "", false
	}
	return scenarios.Lookup(p)
}

// fileExists reports whether there is something at path p (a file that
// cannot be read included: reading it says why).
func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// embeddedList says which scenarios playbook embeds, for an error.
func embeddedList() string {
	return "the scenarios embedded in playbook, run by name: " + strings.Join(scenarios.Names(), ", ") +
		" (playbook init DIR writes them out)"
}

// scenarioName is the name of a scenario given as p, for the folder of its
// report in --out: its file name without .md (churn-promotion.fr for
// scenarios/churn-promotion.fr.md or the embedded churn-promotion.fr).
func scenarioName(p string) string {
	if name, ok := embeddedName(p); ok {
		return strings.TrimSuffix(name, ".md") // churn-promotion.fr, not churn-promotion
	}
	return strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
}

// explainEmbedded adds to err, an error of sc, what an embedded scenario's
// folder is, when err names it (a data file not found there).
func explainEmbedded(sc *runner.Scenario, err error) error {
	if err == nil || sc.File == "" || !strings.Contains(err.Error(), filepath.Dir(sc.File)) {
		return err
	}
	return fmt.Errorf("%w\n  (%s is embedded in playbook: its folder, %s, is a temporary one that holds no file of yours; playbook init DIR writes it out, to run DIR/%s with your files beside it)",
		err, sc.Path, filepath.Dir(sc.File), filepath.Base(sc.File))
}
