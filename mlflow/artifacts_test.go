package mlflow_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// writeTree writes files (slash paths → contents) under dir.
func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, b, 0o644))
	}
}

// readTree reads every regular file under dir as slash paths → contents.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = b
		return err
	}))
	return got
}

func TestArtifacts(t *testing.T) {
	t.Parallel()
	c := serverClient(t)
	ctx := t.Context()
	run := newRun(t, c, "artifacts")
	uri := run.Info.ArtifactURI

	weights := make([]byte, 300<<10)
	_, _ = rand.Read(weights)
	files := map[string][]byte{
		"MLmodel":                         []byte("flavors:\n  go_churn: {}\n"),
		"weights.bin":                     weights,
		"empty.txt":                       {},
		"données/clients test.csv":        []byte("id,churn\n1,0\n"),
		"deep/er/still/odd ?&=+ 100%.txt": []byte("escaped path segments"),
	}
	src := t.TempDir()
	writeTree(t, src, files)
	require.NoError(t, c.UploadDir(ctx, uri, src, "model"))

	t.Run("ListArtifacts", func(t *testing.T) {
		root, err := c.ListArtifacts(ctx, uri, "")
		require.NoError(t, err)
		assert.Equal(t, []mlflow.FileInfo{{Path: "model", IsDir: true}}, root)

		entries, err := c.ListArtifacts(ctx, uri, "model")
		require.NoError(t, err)
		byPath := map[string]mlflow.FileInfo{}
		for _, e := range entries {
			byPath[e.Path] = e
		}
		assert.Equal(t, mlflow.FileInfo{Path: "model/weights.bin", FileSize: int64(len(weights))}, byPath["model/weights.bin"])
		assert.True(t, byPath["model/données"].IsDir)
		assert.True(t, byPath["model/deep"].IsDir)
		assert.Contains(t, byPath, "model/empty.txt")
		assert.Len(t, entries, 5)

		deep, err := c.ListArtifacts(ctx, uri, "model/deep/er/still")
		require.NoError(t, err)
		assert.Equal(t, []mlflow.FileInfo{{Path: "model/deep/er/still/odd ?&=+ 100%.txt", FileSize: 21}}, deep)
	})

	t.Run("DownloadArtifact", func(t *testing.T) {
		for p, want := range files {
			rc, err := c.DownloadArtifact(ctx, uri, "model/"+p)
			require.NoError(t, err, p)
			got, err := io.ReadAll(rc)
			require.NoError(t, err)
			require.NoError(t, rc.Close())
			assert.True(t, bytes.Equal(want, got), "%s: %d bytes back, %d sent", p, len(got), len(want))
		}
	})

	t.Run("DownloadDir", func(t *testing.T) {
		dst := t.TempDir()
		require.NoError(t, c.DownloadDir(ctx, uri, "model", dst))
		assert.Equal(t, files, readTree(t, dst))

		whole := t.TempDir()
		require.NoError(t, c.DownloadDir(ctx, uri, "", whole))
		assert.Equal(t, weights, readTree(t, whole)["model/weights.bin"])

		one := t.TempDir()
		require.NoError(t, c.DownloadDir(ctx, uri, "model/MLmodel", one))
		assert.Equal(t, map[string][]byte{"MLmodel": files["MLmodel"]}, readTree(t, one))
	})

	t.Run("UploadArtifact", func(t *testing.T) {
		require.NoError(t, c.UploadArtifact(ctx, uri, "notes/readme.md", strings.NewReader("# hello")))
		rc, err := c.DownloadArtifact(ctx, uri, "notes/readme.md")
		require.NoError(t, err)
		defer rc.Close()
		b, err := io.ReadAll(rc)
		require.NoError(t, err)
		assert.Equal(t, "# hello", string(b))

		err = c.UploadArtifact(ctx, uri, "", strings.NewReader("x"))
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
	})

	t.Run("OtherURIForms", func(t *testing.T) {
		p := strings.TrimPrefix(uri, "mlflow-artifacts:")
		host, err := url.Parse(c.TrackingURI())
		require.NoError(t, err)
		for _, form := range []string{
			"mlflow-artifacts://" + host.Host + p,
			strings.TrimSuffix(c.TrackingURI(), "/") + "/api/2.0/mlflow-artifacts/artifacts" + p,
		} {
			rc, err := c.DownloadArtifact(ctx, form, "model/MLmodel")
			require.NoError(t, err, form)
			b, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err)
			assert.Equal(t, files["MLmodel"], b, form)
		}
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := c.DownloadArtifact(ctx, uri, "model/nothing-here.bin")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		err = c.DownloadDir(ctx, uri, "model/nothing-here", t.TempDir())
		require.ErrorIs(t, err, mlflow.ErrNotFound)
	})
}

func TestArtifactsRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	c, rec := recordingClient(t)
	ctx := t.Context()
	const uri = "mlflow-artifacts:/1/0123456789abcdef/artifacts"

	t.Run("ErrPathEscape", func(t *testing.T) {
		for _, p := range []string{"../x", "/etc/passwd", "a/../../b", "..", "model/..", `a\..\b`, "a\x00b", "%2e%2e/x", "a/%252E%252E/%252E%252E/b", "%2Fetc/passwd", "100%/%2e%2e/x"} {
			err := c.UploadArtifact(ctx, uri, p, strings.NewReader("x"))
			assert.ErrorIs(t, err, mlflow.ErrPathEscape, "upload %q", p)
			_, err = c.DownloadArtifact(ctx, uri, p)
			assert.ErrorIs(t, err, mlflow.ErrPathEscape, "download %q", p)
			_, err = c.ListArtifacts(ctx, uri, p)
			assert.ErrorIs(t, err, mlflow.ErrPathEscape, "list %q", p)
			err = c.DownloadDir(ctx, uri, p, t.TempDir())
			assert.ErrorIs(t, err, mlflow.ErrPathEscape, "download dir %q", p)
			err = c.UploadDir(ctx, uri, t.TempDir(), p)
			assert.ErrorIs(t, err, mlflow.ErrPathEscape, "upload dir %q", p)
		}
		_, err := c.DownloadArtifact(ctx, "mlflow-artifacts:/1/../../etc", "passwd")
		assert.ErrorIs(t, err, mlflow.ErrPathEscape)
	})

	t.Run("UnsupportedURI", func(t *testing.T) {
		for uri, want := range map[string]string{
			"gs://bucket/x":                                             `"gs"`,
			"wasbs://c@acct.blob.core.windows.net/x":                    `"wasbs"`,
			"dbfs:/databricks/mlflow/1":                                 `"dbfs"`,
			"hdfs://namenode:8020/mlflow/1":                             `"hdfs"`,
			"s3:///no-bucket/x":                                         "names no bucket",
			"file://fileserver/share/mlruns":                            "fileserver",
			"/tmp/mlruns/1":                                             "no scheme",
			"mlflow-artifacts://evil.example:5000/1/abc":                "evil.example:5000",
			"https://evil.example/api/2.0/mlflow-artifacts/artifacts/1": "not on the tracking server",
		} {
			_, err := c.DownloadArtifact(ctx, uri, "model/MLmodel")
			require.ErrorIs(t, err, mlflow.ErrInvalidParameter, uri)
			assert.Contains(t, err.Error(), want, uri)
		}
	})
	assert.Zero(t, rec.count(), "no request may be sent")
}

func TestDownloadDirRefusesHostileListing(t *testing.T) {
	t.Parallel()
	// Only a broken or hostile server lists "../" entries: a fake one.
	uri := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != basePath+"/api/2.0/mlflow-artifacts/artifacts" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"files": []map[string]any{
			{"path": "../../escaped.txt", "is_dir": false, "file_size": 1},
		}})
	})
	c, _ := fakeClient(t, uri, nil)
	parent := t.TempDir()
	dst := filepath.Join(parent, "out")
	err := c.DownloadDir(t.Context(), "mlflow-artifacts:/1/run/artifacts", "model", dst)
	require.ErrorIs(t, err, mlflow.ErrPathEscape)
	_, statErr := os.Stat(filepath.Join(parent, "escaped.txt"))
	assert.ErrorIs(t, statErr, fs.ErrNotExist)
}
