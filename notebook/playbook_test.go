package notebook_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

// newPlaybook returns a Playbook whose record has one cell, "s", begun.
func newPlaybook(t *testing.T, opts notebook.Options) (*notebook.Playbook, *notebook.Controller, *record.Run) {
	t.Helper()
	rec := &record.Run{Schema: record.Schema, Cells: []record.Cell{{Step: "s"}}}
	opts.Run = rec
	pb, ctl := notebook.New(opts)
	ctl.Begin(t.Context(), "s")
	t.Cleanup(ctl.Close)
	return pb, ctl, rec
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "link")))
	tests := []struct {
		name string
		file string
		err  error // nil when the write succeeds
	}{
		{name: "OK", file: "a.txt"},
		{name: "Nested", file: "plots/roc/x.svg"},
		{name: "DotSegments", file: "plots/../b.txt"},
		{name: "Parent", file: "../x", err: notebook.ErrOutsideOutDir},
		{name: "ParentNested", file: "a/../../x", err: notebook.ErrOutsideOutDir},
		{name: "Absolute", file: filepath.Join(outside, "x"), err: notebook.ErrOutsideOutDir},
		{name: "Empty", file: "", err: notebook.ErrOutsideOutDir},
		{name: "ThroughSymlink", file: "link/x", err: notebook.ErrOutsideOutDir},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb, _, rec := newPlaybook(t, notebook.Options{OutDir: dir})
			err := pb.WriteFile(tt.file, []byte("data"))
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				assert.Contains(t, err.Error(), "pb.WriteFile")
				assert.Empty(t, rec.Evidence.Files)
				assert.NoFileExists(t, filepath.Join(outside, "x"))
				return
			}
			require.NoError(t, err)
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(tt.file)))
			require.NoError(t, err)
			assert.Equal(t, "data", string(b))
			require.Len(t, rec.Evidence.Files, 1)
			assert.Equal(t, filepath.ToSlash(filepath.Clean(tt.file)), rec.Evidence.Files[0].Name)
			assert.Equal(t, "s", rec.Evidence.Files[0].Step)
			assert.Equal(t, int64(4), rec.Evidence.Files[0].Size)
		})
	}
}

func TestWriteFileNoOutDir(t *testing.T) {
	pb, _, _ := newPlaybook(t, notebook.Options{})
	err := pb.WriteFile("a.txt", nil)
	require.ErrorIs(t, err, notebook.ErrNoOutDir)
	assert.Equal(t, `pb.WriteFile "a.txt": no output folder: run with --out DIR`, err.Error())
}

func TestClient(t *testing.T) {
	t.Run("NoServer", func(t *testing.T) {
		pb, _, _ := newPlaybook(t, notebook.Options{})
		c, err := pb.Client()
		assert.Nil(t, c)
		require.ErrorIs(t, err, notebook.ErrNoServer)
		assert.Equal(t, "no tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI", err.Error())
	})
	t.Run("ConnectsOnce", func(t *testing.T) {
		// A server that answers /version like MLflow, for the probe.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/version" {
				http.NotFound(w, r)
				return
			}
			_, _ = w.Write([]byte("3.18.0"))
		}))
		t.Cleanup(srv.Close)
		calls := 0
		want, err := mlflow.New(mlflow.DefaultConfig(srv.URL))
		require.NoError(t, err)
		pb, _, rec := newPlaybook(t, notebook.Options{Connect: func() (*mlflow.Client, error) { calls++; return want, nil }})
		for range 3 {
			c, err := pb.Client()
			require.NoError(t, err)
			assert.Same(t, want, c)
		}
		assert.Equal(t, 1, calls)
		assert.Equal(t, "3.18.0", rec.Environment.MLflowVersion, "the probe names the server's version")
	})
	t.Run("ProbeFailsOnce", func(t *testing.T) {
		cfg := mlflow.DefaultConfig("http://127.0.0.1:1")
		cfg.MaxRetries = 0
		calls := 0
		dead, err := mlflow.New(cfg)
		require.NoError(t, err)
		pb, _, _ := newPlaybook(t, notebook.Options{Connect: func() (*mlflow.Client, error) { calls++; return dead, nil }})
		for range 2 {
			c, err := pb.Client()
			require.Error(t, err)
			assert.Nil(t, c)
			assert.Contains(t, err.Error(), "127.0.0.1:1", "the error names the server")
		}
		assert.Equal(t, 1, calls, "an unreachable server is not asked again")
	})
	t.Run("ConnectFails", func(t *testing.T) {
		boom := errors.New("bad URI")
		pb, _, _ := newPlaybook(t, notebook.Options{Connect: func() (*mlflow.Client, error) { return nil, boom }})
		_, err := pb.Client()
		assert.ErrorIs(t, err, boom)
	})
}

func TestContextFollowsCells(t *testing.T) {
	rec := &record.Run{Cells: []record.Cell{{Step: "a"}, {Step: "b"}}}
	pb, ctl := notebook.New(notebook.Options{Run: rec, DryRun: true, OutDir: "out"})
	assert.NotNil(t, pb.Context(), "a context even between cells")
	assert.True(t, pb.DryRun())
	assert.Equal(t, "out", pb.OutDir())

	ctx, cancel := context.WithCancel(t.Context())
	ctl.Begin(ctx, "a")
	assert.Equal(t, "a", pb.Step())
	cancel()
	assert.ErrorIs(t, pb.Context().Err(), context.Canceled, "the current cell's context")
	ctl.End()
	assert.NoError(t, pb.Context().Err())
	assert.Equal(t, "", pb.Step())
}

func TestCapture(t *testing.T) {
	rec := &record.Run{Cells: []record.Cell{{Step: "a"}, {Step: "b"}}}
	pb, ctl := notebook.New(notebook.Options{Run: rec})
	ctl.Begin(t.Context(), "a")
	_, _ = ctl.Stdout().Write([]byte("one "))
	_, _ = ctl.Stdout().Write([]byte("two\n"))
	_, _ = ctl.Stderr().Write([]byte("warn\n"))
	pb.Printf("from a step: %d\n", 3)
	pb.Markdown("*md*")
	ctl.End()
	_, _ = ctl.Stdout().Write([]byte("after End: dropped\n"))
	pb.Markdown("dropped too")
	assert.Equal(t, []record.Output{
		{Kind: record.OutputStdout, Text: "one two\n"},
		{Kind: record.OutputStderr, Text: "warn\n"},
		{Kind: record.OutputStdout, Text: "from a step: 3\n"},
		{Kind: record.OutputMarkdown, Text: "*md*"},
	}, rec.Cells[0].Outputs)
	assert.Empty(t, rec.Cells[1].Outputs)

	ctl.Begin(t.Context(), "b")
	big := strings.Repeat("x", 700<<10)
	_, _ = ctl.Stdout().Write([]byte(big))
	_, _ = ctl.Stdout().Write([]byte(big))
	ctl.Close()
	require.Len(t, rec.Cells[1].Outputs, 1)
	out := rec.Cells[1].Outputs[0]
	assert.True(t, out.Truncated)
	assert.Less(t, len(out.Text), 1<<20+200, "a cell prints at most 1 MiB")
}

func TestShow(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name   string
		values []any
		want   []record.Output
		err    error
	}{
		{name: "None", values: nil, want: []record.Output{}},
		{name: "Nil", values: []any{nil}, want: []record.Output{}},
		{name: "Int", values: []any{3}, want: []record.Output{{Kind: record.OutputValue, Type: "int", Text: "3"}}},
		{name: "Error", values: []any{boom}, err: boom},
		{name: "LastError", values: []any{1, boom}, err: boom},
		{name: "TwoValues", values: []any{1, nil}, want: []record.Output{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ctl, rec := newPlaybook(t, notebook.Options{})
			err := ctl.Show(tt.values)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, rec.Cells[0].Outputs)
		})
	}
}

// TestWriteFileSymlinks: a symbolic link already at a cell file's name is
// replaced, not written through (the file it pointed to is unchanged); a
// subfolder that is a link is refused, even one pointing inside.
func TestWriteFileSymlinks(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim.txt")
	require.NoError(t, os.WriteFile(victim, []byte("untouched"), 0o644))
	require.NoError(t, os.Symlink(victim, filepath.Join(dir, "out.txt")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "real"), 0o755))
	require.NoError(t, os.Symlink("real", filepath.Join(dir, "inner")))

	pb, _, rec := newPlaybook(t, notebook.Options{OutDir: dir})
	require.NoError(t, pb.WriteFile("out.txt", []byte("cell data")))
	b, err := os.ReadFile(victim)
	require.NoError(t, err)
	assert.Equal(t, "untouched", string(b))
	fi, err := os.Lstat(filepath.Join(dir, "out.txt"))
	require.NoError(t, err)
	assert.True(t, fi.Mode().IsRegular(), "a regular file now: %v", fi.Mode())
	b, err = os.ReadFile(filepath.Join(dir, "out.txt"))
	require.NoError(t, err)
	assert.Equal(t, "cell data", string(b))

	err = pb.WriteFile("inner/x.txt", []byte("x"))
	require.ErrorIs(t, err, notebook.ErrOutsideOutDir)
	assert.Contains(t, err.Error(), `pb.WriteFile "inner/x.txt": the path leaves the run's output folder`)
	assert.NoFileExists(t, filepath.Join(dir, "real", "x.txt"))
	require.Len(t, rec.Evidence.Files, 1, "only the file written")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.Contains(e.Name(), ".tmp-"), "temporary file left: %s", e.Name())
	}
}

// TestWriteFileLimits: a file over MaxFileSize is refused, and so is the
// file that would take what the run's cells wrote over MaxRunFilesSize;
// the error names the file and the limit, and nothing is written.
func TestWriteFileLimits(t *testing.T) {
	dir := t.TempDir()
	pb, _, rec := newPlaybook(t, notebook.Options{OutDir: dir})
	err := pb.WriteFile("big.bin", make([]byte, notebook.MaxFileSize+1))
	require.ErrorIs(t, err, notebook.ErrFileTooLarge)
	assert.Equal(t, `pb.WriteFile "big.bin": 16777217 bytes: over the size limit of the files cells write: a cell may write at most 16 MiB per file`, err.Error())
	assert.NoFileExists(t, filepath.Join(dir, "big.bin"))

	full := make([]byte, notebook.MaxFileSize)
	for i := range notebook.MaxRunFilesSize / notebook.MaxFileSize {
		require.NoError(t, pb.WriteFile(fmt.Sprintf("part%d.bin", i), full))
	}
	err = pb.WriteFile("one-more.txt", []byte("x"))
	require.ErrorIs(t, err, notebook.ErrFileTooLarge)
	assert.Equal(t, `pb.WriteFile "one-more.txt": 1 bytes after the 67108864 already written: over the size limit of the files cells write: the cells of a run may write at most 64 MiB in all`, err.Error())
	assert.NoFileExists(t, filepath.Join(dir, "one-more.txt"))
	assert.Len(t, rec.Evidence.Files, 4)

	// A write that fails (here through a symlinked subfolder, refused
	// after the size is counted) does not count.
	dir2 := t.TempDir()
	require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(dir2, "inner")))
	pb2, _, _ := newPlaybook(t, notebook.Options{OutDir: dir2})
	for range 5 {
		require.ErrorIs(t, pb2.WriteFile("inner/x.bin", full), notebook.ErrOutsideOutDir)
	}
	for i := range notebook.MaxRunFilesSize / notebook.MaxFileSize {
		require.NoError(t, pb2.WriteFile(fmt.Sprintf("ok%d.bin", i), full))
	}
}
