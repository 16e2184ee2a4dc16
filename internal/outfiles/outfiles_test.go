package outfiles_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/outfiles"
)

// put writes files (name: content) under dir and returns their entries.
func put(t *testing.T, dir string, files map[string]string) []outfiles.Entry {
	t.Helper()
	var es []outfiles.Entry
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		es = append(es, outfiles.Entry{Name: name, SHA256: outfiles.Sum([]byte(content))})
	}
	return es
}

var now = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

// TestMoveAside: the files a manifest lists, unchanged, are moved to
// .previous-TIMESTAMP with the manifest, and the folders they leave empty
// removed; a file it does not list, or one changed since, stays.
func TestMoveAside(t *testing.T) {
	dir := t.TempDir()
	es := put(t, dir, map[string]string{
		"evidence.json": "{}", "plot-a-1.svg": "<svg/>", "files/x.csv": "a,b", "edited.md": "as written",
	})
	// Folders playbook made: removed when left empty, never through a link.
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "scen", "files"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "kept"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kept", "mine.txt"), []byte("the user's"), 0o644))
	outside := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(outside, "empty"), 0o755))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link")))
	es = append(es, outfiles.Entry{Name: "scen", Folder: true}, outfiles.Entry{Name: "scen/files", Folder: true},
		outfiles.Entry{Name: "kept", Folder: true}, outfiles.Entry{Name: "link", Folder: true}, outfiles.Entry{Name: "link/empty", Folder: true})
	require.NoError(t, outfiles.Write(dir, es))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "edited.md"), []byte("edited by hand"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("the user's"), 0o644))

	m, err := outfiles.Read(dir)
	require.NoError(t, err)
	require.Len(t, m.Files, 9)
	a, err := outfiles.MoveAside(dir, m, now)
	require.NoError(t, err)
	assert.Equal(t, ".previous-20260304T100000Z", a.Dir)
	assert.ElementsMatch(t, []string{"evidence.json", "plot-a-1.svg", "files/x.csv", outfiles.ManifestFile}, a.Moved)
	assert.Equal(t, []string{"edited.md: changed since playbook wrote it"}, a.Left)
	for _, n := range []string{"evidence.json", "plot-a-1.svg", "files/x.csv", outfiles.ManifestFile} {
		assert.NoFileExists(t, filepath.Join(dir, n))
		assert.FileExists(t, filepath.Join(dir, a.Dir, n))
	}
	assert.NoDirExists(t, filepath.Join(dir, "files"), "the folder left empty is removed")
	assert.FileExists(t, filepath.Join(dir, "notes.txt"))
	assert.FileExists(t, filepath.Join(dir, "edited.md"))
	assert.NoDirExists(t, filepath.Join(dir, "scen"), "an empty folder playbook made is removed")
	assert.FileExists(t, filepath.Join(dir, "kept", "mine.txt"), "one that holds a file stays")
	assert.DirExists(t, filepath.Join(outside, "empty"), "never through a link")
	require.NoError(t, os.Remove(filepath.Join(dir, "link")))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "kept")))

	// A second aside in the same second takes another name.
	es = put(t, dir, map[string]string{"evidence.json": "{}"})
	require.NoError(t, outfiles.Write(dir, es))
	m, err = outfiles.Read(dir)
	require.NoError(t, err)
	b, err := outfiles.MoveAside(dir, m, now)
	require.NoError(t, err)
	assert.Equal(t, ".previous-20260304T100000Z-2", b.Dir)

	require.NoError(t, a.Remove(dir))
	require.NoError(t, b.Remove(dir))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.ElementsMatch(t, []string{"edited.md", "notes.txt"}, names)
}

// TestMoveAsideNoLinks: an entry that is a symbolic link, or reached
// through one, is left where it is, and what it points to is untouched.
func TestMoveAsideNoLinks(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	victims := put(t, outside, map[string]string{"index.html": "outside", "sub/plot.svg": "outside plot"})
	require.NoError(t, os.Symlink(filepath.Join(outside, "index.html"), filepath.Join(dir, "index.html")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "sub"), filepath.Join(dir, "sub")))
	require.NoError(t, outfiles.Write(dir, victims)) // the hashes match what the links reach
	m, err := outfiles.Read(dir)
	require.NoError(t, err)
	a, err := outfiles.MoveAside(dir, m, now)
	require.NoError(t, err)
	assert.Empty(t, a.Moved)
	assert.Empty(t, a.Dir, "nothing moved: no folder made")
	assert.Len(t, a.Left, 2)
	for _, l := range a.Left {
		assert.Contains(t, l, "is a symbolic link")
	}
	for _, n := range []string{"index.html", "sub/plot.svg"} {
		assert.FileExists(t, filepath.Join(outside, filepath.FromSlash(n)))
	}
	fi, err := os.Lstat(filepath.Join(dir, "sub"))
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode()&os.ModeSymlink, "the link stays")
}

// TestReadRefuses: no manifest is nil; one that is a link, another
// schema, or names a file outside the folder is an error.
func TestReadRefuses(t *testing.T) {
	m, err := outfiles.Read(filepath.Join(t.TempDir(), "none"))
	require.NoError(t, err)
	assert.Nil(t, m)
	m, err = outfiles.Read(t.TempDir())
	require.NoError(t, err)
	assert.Nil(t, m)

	dir, outside := t.TempDir(), t.TempDir()
	require.NoError(t, outfiles.Write(outside, nil))
	require.NoError(t, os.Symlink(filepath.Join(outside, outfiles.ManifestFile), filepath.Join(dir, outfiles.ManifestFile)))
	_, err = outfiles.Read(dir)
	assert.ErrorContains(t, err, "is a symbolic link")

	for _, body := range []string{
		`{"schema": "other", "files": []}`,
		`{"schema": "playbook-manifest/1", "files": [{"name": "../x", "sha256": ""}]}`,
		`{"schema": "playbook-manifest/1", "files": [{"name": "/etc/passwd", "sha256": ""}]}`,
		`{"schema": "playbook-manifest/1", "files": [{"name": "a/../../x", "sha256": ""}]}`,
		`not json`,
	} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, outfiles.ManifestFile), []byte(body), 0o644))
		_, err := outfiles.Read(dir)
		assert.Error(t, err, body)
	}
}

// TestWriteDedup: a name written twice keeps its last hash, and the
// manifest never lists itself.
func TestWriteDedup(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, outfiles.Write(dir, []outfiles.Entry{
		{Name: "a", SHA256: "1"}, {Name: outfiles.ManifestFile, SHA256: "x"}, {Name: "b", SHA256: "2"}, {Name: "a", SHA256: "3"},
	}))
	m, err := outfiles.Read(dir)
	require.NoError(t, err)
	assert.Equal(t, []outfiles.Entry{{Name: "a", SHA256: "3"}, {Name: "b", SHA256: "2"}}, m.Files)
	b, err := os.ReadFile(filepath.Join(dir, outfiles.ManifestFile))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(b), "{\n  \"schema\": \"playbook-manifest/1\""))
}
