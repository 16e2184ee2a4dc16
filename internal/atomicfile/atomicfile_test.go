package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/atomicfile"
)

// noTemp fails the test when a temporary file is left in dir or below.
func noTemp(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		assert.False(t, atomicfile.IsTemp(d.Name()), "temporary file left: %s", p)
		return nil
	}))
}

func TestWriteFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, atomicfile.WriteFile(dir, "a/b/c.txt", []byte("hello"), 0o644))
	b, err := os.ReadFile(filepath.Join(dir, "a", "b", "c.txt"))
	require.NoError(t, err)
	assert.Equal(t, "hello", string(b))
	require.NoError(t, atomicfile.WriteFile(dir, "a/b/c.txt", []byte("again"), 0o644))
	b, err = os.ReadFile(filepath.Join(dir, "a", "b", "c.txt"))
	require.NoError(t, err)
	assert.Equal(t, "again", string(b), "replaced whole")
	noTemp(t, dir)
}

// TestSymlinkAtTargetReplaced: a symbolic link at the file's name is
// replaced by a regular file; the file it pointed to is unchanged.
func TestSymlinkAtTargetReplaced(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	require.NoError(t, os.WriteFile(victim, []byte("untouched"), 0o644))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, "index.html")))
	require.NoError(t, atomicfile.WriteFile(dir, "index.html", []byte("report"), 0o644))
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "untouched", string(b))
	fi, err := os.Lstat(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular(), "the link was replaced by a regular file: %v", fi.Mode())
	b, err = os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	assert.Equal(t, "report", string(b))
	noTemp(t, dir)
}

// TestSymlinkedFolderRefused: a subfolder that is a symbolic link is
// refused, whether it points outside or inside the folder.
func TestSymlinkedFolderRefused(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "plots")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "real"), 0o755))
	require.NoError(t, os.Symlink("real", filepath.Join(dir, "alias")))
	for _, name := range []string{"plots/x.svg", "alias/x.svg", "real/../plots/x.svg"} {
		err := atomicfile.WriteFile(dir, name, []byte("x"), 0o644)
		require.ErrorIs(t, err, atomicfile.ErrOutside, name)
		assert.Contains(t, err.Error(), "is a symbolic link", name)
	}
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing written outside")
	assert.NoFileExists(t, filepath.Join(dir, "real", "x.svg"))
	for _, name := range []string{"", "../x", "/etc/x", "a/../../x"} {
		assert.ErrorIs(t, atomicfile.WriteFile(dir, name, []byte("x"), 0o644), atomicfile.ErrOutside, name)
	}
	noTemp(t, dir)
}

// TestFailedWriteLeavesTarget: a write that fails halfway (as a crash
// would) leaves the file at the name as it was, and no temporary file.
func TestFailedWriteLeavesTarget(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, atomicfile.WriteFile(dir, "evidence.json", []byte(`{"complete": true}`), 0o644))
	boom := errors.New("disk on fire")
	err := atomicfile.Write(dir, "evidence.json", 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, `{"half`); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	b, err := os.ReadFile(filepath.Join(dir, "evidence.json"))
	require.NoError(t, err)
	assert.Equal(t, `{"complete": true}`, string(b))
	err = atomicfile.Write(dir, "new.json", 0o644, func(w io.Writer) error { return boom })
	require.ErrorIs(t, err, boom)
	assert.NoFileExists(t, filepath.Join(dir, "new.json"))
	noTemp(t, dir)
}

// TestTargetIsFolder: a folder at the name is an error, and stays.
func TestTargetIsFolder(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "index.html", "x"), 0o755))
	require.Error(t, atomicfile.WriteFile(dir, "index.html", []byte("x"), 0o644))
	assert.DirExists(t, filepath.Join(dir, "index.html", "x"))
	noTemp(t, dir)
}

// TestMkdirAll: a folder inside dir is made; one that is a symbolic link,
// or a name that leaves dir, is refused.
func TestMkdirAll(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	require.NoError(t, atomicfile.MkdirAll(dir, "a/b"))
	assert.DirExists(t, filepath.Join(dir, "a", "b"))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link")))
	assert.ErrorIs(t, atomicfile.MkdirAll(dir, "link"), atomicfile.ErrOutside)
	assert.ErrorIs(t, atomicfile.MkdirAll(dir, "link/sub"), atomicfile.ErrOutside)
	assert.ErrorIs(t, atomicfile.MkdirAll(dir, "../x"), atomicfile.ErrOutside)
	assert.NoDirExists(t, filepath.Join(outside, "sub"))
}
