// Package outfiles keeps the list of the files playbook wrote to an output
// folder (playbook run --out), its manifest, so that the next run into the
// same folder can move the earlier run's files aside and leave only its own:
// no stale plot, no old evidence beside the new report.
//
// Only files the manifest lists, still holding the bytes playbook wrote
// (their SHA-256), are moved: a file playbook did not write, or one changed
// since, stays where it is. A symbolic link is never followed: an entry
// that is a link, or that is reached through one (a subfolder that is a
// link), stays too.
package outfiles

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/internal/atomicfile"
)

// ManifestFile is the manifest's name in the output folder.
const ManifestFile = ".playbook-manifest.json"

// AsidePrefix starts the name of the folder, in the output folder, where
// MoveAside puts an earlier run's files: .previous-TIMESTAMP.
const AsidePrefix = ".previous-"

// Schema names the manifest's format.
const Schema = "playbook-manifest/1"

// maxManifest bounds the manifest read: larger is not one playbook wrote.
const maxManifest = 16 << 20

// Entry is one file playbook wrote, or a folder it made.
type Entry struct {
	// Name is slash-separated, relative to the output folder.
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the bytes written; "" for a folder.
	SHA256 string `json:"sha256,omitempty"`
	// Folder says the entry is a folder: MoveAside removes it when the
	// files moved leave it empty.
	Folder bool `json:"folder,omitempty"`
}

// Manifest lists the files playbook wrote to an output folder in one run.
type Manifest struct {
	Schema string  `json:"schema"`
	Files  []Entry `json:"files"`
}

// Sum returns the hex SHA-256 of data, as an Entry has it.
func Sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Write writes the manifest of files to dir, atomically (internal/atomicfile).
// An entry named twice keeps its last hash; the manifest itself is never an
// entry.
func Write(dir string, files []Entry) error {
	m := Manifest{Schema: Schema, Files: []Entry{}}
	at := map[string]int{}
	for _, f := range files {
		if f.Name == ManifestFile {
			continue
		}
		if i, ok := at[f.Name]; ok {
			m.Files[i] = f
			continue
		}
		at[f.Name] = len(m.Files)
		m.Files = append(m.Files, f)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(dir, ManifestFile, append(b, '\n'), 0o644)
}

// Read reads the manifest in dir: nil, and no error, when there is none. A
// manifest that is a symbolic link, not a regular file, too large, of
// another schema, or that names a file outside dir is an error.
func Read(dir string) (*Manifest, error) {
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer root.Close()
	b, err := readRegular(root, ManifestFile, maxManifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	if m.Schema != Schema {
		return nil, fmt.Errorf("%s: schema %q, want %q", ManifestFile, m.Schema, Schema)
	}
	for _, f := range m.Files {
		if !local(f.Name) {
			return nil, fmt.Errorf("%s: %q: %w", ManifestFile, f.Name, atomicfile.ErrOutside)
		}
	}
	return &m, nil
}

// Aside is what MoveAside moved.
type Aside struct {
	// Dir is the folder the files were moved to, relative to the output
	// folder: .previous-TIMESTAMP.
	Dir string
	// Moved are the entries moved, each to the same name under Dir, the
	// manifest last.
	Moved []string
	// Left are the entries found but left in place, each with why: changed
	// since playbook wrote it, a symbolic link, reached through one.
	Left []string
}

// MoveAside moves the files of m (the manifest read in dir before anything
// was written there) that dir still holds as playbook wrote them into a new
// folder, dir/.previous-TIMESTAMP (TIMESTAMP from now), with the manifest
// itself; the folders they leave empty are removed. It returns nil when no
// file was moved.
func MoveAside(dir string, m *Manifest, now time.Time) (*Aside, error) {
	if m == nil {
		return nil, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	a := &Aside{}
	var move, folders []string
	for _, f := range m.Files {
		if f.Name == ManifestFile {
			continue // moved last, once
		}
		if f.Folder {
			folders = append(folders, f.Name)
			continue
		}
		switch err := unchanged(root, f); {
		case errors.Is(err, fs.ErrNotExist):
			// gone: nothing to move
		case err != nil:
			a.Left = append(a.Left, f.Name+": "+err.Error())
		default:
			move = append(move, f.Name)
		}
	}
	if len(move) == 0 {
		return a, nil
	}
	if a.Dir, err = mkAside(root, now); err != nil {
		return nil, err
	}
	for _, name := range append(move, ManifestFile) {
		to := path.Join(a.Dir, name)
		if err := root.MkdirAll(filepath.FromSlash(path.Dir(to)), 0o700); err != nil {
			return a, err
		}
		if err := root.Rename(filepath.FromSlash(name), filepath.FromSlash(to)); err != nil {
			if name == ManifestFile && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return a, err
		}
		a.Moved = append(a.Moved, name)
		removeEmptyParents(root, name)
	}
	// The folders playbook made, deepest first, when nothing is left in
	// them.
	slices.SortFunc(folders, func(x, y string) int { return strings.Count(y, "/") - strings.Count(x, "/") })
	for _, name := range folders {
		if isFolder(root, name) && root.Remove(filepath.FromSlash(name)) == nil {
			removeEmptyParents(root, name)
		}
	}
	return a, nil
}

// isFolder reports whether name is a folder in root reached through no
// symbolic link.
func isFolder(root *os.Root, name string) bool {
	if !local(name) {
		return false
	}
	p := ""
	for _, c := range strings.Split(name, "/") {
		p = filepath.Join(p, c)
		fi, err := root.Lstat(p)
		if err != nil || !fi.IsDir() {
			return false // a link, a file, nothing
		}
	}
	return true
}

// Remove removes the folder MoveAside made in dir, and what it holds; a nil
// Aside, or one that moved nothing, is fine.
func (a *Aside) Remove(dir string) error {
	if a == nil || a.Dir == "" {
		return nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return root.RemoveAll(filepath.FromSlash(a.Dir))
}

// mkAside makes a new folder .previous-TIMESTAMP in root, with -2, -3, ...
// after it when one of that name is already there.
func mkAside(root *os.Root, now time.Time) (string, error) {
	base := AsidePrefix + now.UTC().Format("20060102T150405Z")
	name := base
	for i := 2; ; i++ {
		err := root.Mkdir(name, 0o700)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			return "", err
		}
		name = fmt.Sprintf("%s-%d", base, i)
	}
}

// unchanged returns nil when f is, in root, a regular file reached through
// no symbolic link and holding the bytes f's hash names.
func unchanged(root *os.Root, f Entry) error {
	b, err := readRegular(root, f.Name, -1)
	if err != nil {
		return err
	}
	if Sum(b) != f.SHA256 {
		return errors.New("changed since playbook wrote it")
	}
	return nil
}

// readRegular reads name (slash-separated) in root when it is a regular
// file and no component of its path is a symbolic link; limit >= 0 bounds
// its size.
func readRegular(root *os.Root, name string, limit int64) ([]byte, error) {
	if !local(name) {
		return nil, atomicfile.ErrOutside
	}
	parts := strings.Split(name, "/")
	p := ""
	var last fs.FileInfo
	for i, c := range parts {
		p = filepath.Join(p, c)
		fi, err := root.Lstat(p)
		switch {
		case err != nil:
			return nil, err
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, fmt.Errorf("%s is a symbolic link", filepath.ToSlash(p))
		case i < len(parts)-1 && !fi.IsDir():
			return nil, fmt.Errorf("%s is not a folder", filepath.ToSlash(p))
		case i == len(parts)-1 && !fi.Mode().IsRegular():
			return nil, errors.New("not a regular file")
		}
		last = fi
	}
	if limit >= 0 && last.Size() > limit {
		return nil, fmt.Errorf("%d bytes: too large", last.Size())
	}
	file, err := root.Open(p)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	// The file opened is the one looked at, not one put there since.
	if fi, err := file.Stat(); err != nil || !os.SameFile(fi, last) {
		return nil, errors.New("replaced while read")
	}
	var buf bytes.Buffer
	r := io.Reader(file)
	if limit >= 0 {
		r = io.LimitReader(file, limit+1)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	if limit >= 0 && int64(buf.Len()) > limit {
		return nil, errors.New("too large")
	}
	return buf.Bytes(), nil
}

// removeEmptyParents removes the folders on the way to name, deepest
// first, that are empty now.
func removeEmptyParents(root *os.Root, name string) {
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		if root.Remove(filepath.FromSlash(d)) != nil {
			return // not empty (or not ours to remove)
		}
	}
}

// local reports whether name is a clean, slash-separated name inside the
// folder.
func local(name string) bool {
	return name != "" && filepath.IsLocal(filepath.FromSlash(name)) && path.Clean(name) == name &&
		!slices.Contains(strings.Split(name, "/"), "..")
}
