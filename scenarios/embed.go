// Package scenarios holds the example scenarios, embedded in playbook's
// binary so that an installed playbook runs them with no clone of the
// repository: `playbook init DIR` writes them out, and `playbook run NAME`
// reads one by its name when no file of that path exists.
//
// No data file lives here: the scenarios' parameters of kind file default
// to generated data (the breast cancer scenario's validation CSV is written
// by scripts/log_breast_cancer_models.py).
package scenarios

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

//go:embed *.md
var files embed.FS

// FS returns the embedded scenarios, each at the top of the file system by
// its file name (churn-promotion.fr.md).
func FS() fs.FS { return files }

// Names returns the file names of the embedded scenarios, sorted.
func Names() []string {
	entries, _ := files.ReadDir(".")
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// Lookup returns the file name of the embedded scenario that name names,
// with or without its .md suffix (churn-promotion.fr or
// churn-promotion.fr.md), and whether there is one.
func Lookup(name string) (string, bool) {
	for _, n := range Names() {
		if name == n || name+".md" == n {
			return n, true
		}
	}
	return "", false
}

// Read returns the bytes of the embedded scenario of that file name.
func Read(name string) ([]byte, error) {
	if strings.ContainsAny(name, `/\`) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return files.ReadFile(name)
}
