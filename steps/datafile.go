package steps

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/playbook-mlops/playbook/churn"
)

// ErrOutsideScenarioDir is the cause of a step's refusal of a data file
// (ValidateOptions.Data, InferRowsOptions.Data, TrainOptions.Data) that is
// not inside the scenario's folder: an absolute path, a path that goes up
// with "..", or one that leads out through a symbolic link.
var ErrOutsideScenarioDir error = &phrase{"outside the scenario's folder", "hors du dossier du scénario"}

// ErrNoScenarioDir is the cause of a step's refusal of a data file when
// the run has no scenario folder to read it from.
var ErrNoScenarioDir error = &phrase{"the run has no scenario folder to read data files from", "l'exécution n'a pas de dossier de scénario où lire des fichiers de données"}

// dataDir is the folder a run reads the data files its scenario names
// from, and only from: the folder of the scenario's file.
type dataDir string

// dataIn returns the data folder of pb's run.
func dataIn(pb *Playbook) dataDir { return dataDir(pb.ScenarioDir()) }

// open opens the data file name, a path relative to the scenario's
// folder, through an os.Root on the folder: an absolute path, "..", and a
// symbolic link leading out of the folder are refused, before anything of
// the file is read, with an error naming what (e.g. "validation data"),
// the path, the folder and why.
func (d dataDir) open(what word, name string) (*os.File, error) {
	outside := func(why string) error {
		return stepErrorf("%s %q: %w %s: data files must be inside it (%s)", what, name, ErrOutsideScenarioDir, d, why)
	}
	switch {
	case d == "":
		return nil, stepErrorf("%s %q: %w", what, name, ErrNoScenarioDir)
	case filepath.IsAbs(name) || filepath.VolumeName(name) != "":
		return nil, outside("a relative path")
	case !filepath.IsLocal(name):
		return nil, outside(`a relative path that does not go up with ".."`)
	}
	root, err := os.OpenRoot(string(d))
	if err != nil {
		return nil, stepErrorf("%s %q: the scenario's folder: %w", what, name, err)
	}
	defer root.Close()
	f, err := root.Open(name)
	if err != nil {
		if escapes(err) {
			return nil, outside("it leads out of the folder through a symbolic link")
		}
		return nil, stepErrorf("%s %q in the scenario's folder %s: %w", what, name, d, err)
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = stepErrorf("not a regular file")
	}
	if err != nil {
		f.Close()
		return nil, stepErrorf("%s %q in the scenario's folder %s: %w", what, name, d, err)
	}
	return f, nil
}

// telco reads the Telco CSV file name (churn.LoadCSV), inside the folder.
func (d dataDir) telco(what word, name string) (*churn.Dataset, error) {
	f, err := d.open(what, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ds, _, err := churn.LoadCSV(f, churn.LoadOptions{Name: name})
	if err != nil {
		return nil, stepErrorf("%s %s: %w", what, name, err)
	}
	return ds, nil
}

// table reads the CSV file name of any columns (churn.ReadTable), inside
// the folder.
func (d dataDir) table(what word, name string) (*churn.Table, error) {
	f, err := d.open(what, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return churn.ReadTable(f, name)
}

// escapes reports whether err is os.Root's refusal of a path that leaves
// it ("path escapes from parent", an unexported error).
func escapes(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}
