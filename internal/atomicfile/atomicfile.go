// Package atomicfile writes the files of a run's output folder (the
// report, the run record, the files cells write) so that a reader never
// sees half a file and a symbolic link found in the folder is never
// followed.
//
// Each file is written to a temporary file in its own folder, synced,
// closed, then renamed over its name, all through an os.Root opened on the
// output folder: a symbolic link at the file's name is replaced by the
// rename, not written through, and a symbolic link on the way to it (a
// subfolder that is a link, wherever it points) is refused with
// ErrOutside. A write that fails, or a process that dies before the
// rename, leaves the file as it was (a process that dies leaves its
// temporary file, named .NAME.tmp-…, beside it).
package atomicfile

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutside is the error for a name that would leave the folder: absolute,
// with "..", or through a symbolic link.
var ErrOutside = errors.New("the path leaves the output folder")

// tempInfix follows ".NAME" in the names of the temporary files, hidden
// files beside their target.
const tempInfix = ".tmp-"

// WriteFile writes data to name, a slash-separated path inside dir,
// atomically, creating dir and the folders on the way as needed.
func WriteFile(dir, name string, data []byte, perm fs.FileMode) error {
	return Write(dir, name, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write is WriteFile for content written by write: when write fails, the
// file at name is left as it was and the temporary file removed.
func Write(dir, name string, perm fs.FileMode, write func(io.Writer) error) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return WriteRoot(root, name, perm, write)
}

// WriteRoot is Write inside root.
func WriteRoot(root *os.Root, name string, perm fs.FileMode, write func(io.Writer) error) error {
	local := filepath.FromSlash(name)
	if name == "" || !filepath.IsLocal(local) {
		return fmt.Errorf("%s: %w", name, ErrOutside)
	}
	local = filepath.Clean(local)
	folder := filepath.Dir(local)
	if err := mkdirs(root, folder); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	tmp := filepath.Join(folder, "."+filepath.Base(local)+tempInfix+strings.ToLower(rand.Text()))
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("%s: %w", name, escape(err))
	}
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		root.Remove(tmp)
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := root.Rename(tmp, local); err != nil {
		root.Remove(tmp)
		return fmt.Errorf("%s: %w", name, escape(err))
	}
	// The rename is durable once the folder is synced; a folder that
	// cannot be synced (some file systems) does not undo the write.
	if d, err := root.Open(folder); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// MkdirAll creates the folder name, a slash-separated path inside dir,
// and dir itself, refusing (ErrOutside) a name that leaves dir and a
// folder on the way that is a symbolic link: cmd/playbook makes each
// scenario's folder inside --out with it.
func MkdirAll(dir, name string) error {
	local := filepath.FromSlash(name)
	if name == "" || !filepath.IsLocal(local) {
		return fmt.Errorf("%s: %w", name, ErrOutside)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	if err := mkdirs(root, filepath.Clean(local)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// IsTemp reports whether name (a base name) is one of the temporary files
// WriteRoot writes before renaming them.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)
}

// mkdirs creates folder inside root, one component at a time, refusing a
// component that is a symbolic link (even to a folder inside root) or not
// a folder.
func mkdirs(root *os.Root, folder string) error {
	if folder == "." {
		return nil
	}
	p := ""
	for _, c := range strings.Split(folder, string(filepath.Separator)) {
		p = filepath.Join(p, c)
		fi, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			if err := root.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return escape(err)
			}
			fi, err = root.Lstat(p)
		}
		switch {
		case err != nil:
			return escape(err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s is a symbolic link: %w", filepath.ToSlash(p), ErrOutside)
		case !fi.IsDir():
			return fmt.Errorf("%s is not a folder", filepath.ToSlash(p))
		}
	}
	return nil
}

// escape turns os.Root's refusal ("path escapes from parent", an
// unexported error) into ErrOutside.
func escape(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "path escapes from parent" {
			return fmt.Errorf("%w: %w", ErrOutside, err)
		}
	}
	return err
}
