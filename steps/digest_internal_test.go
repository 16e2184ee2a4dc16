package steps

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// skops writes a model.skops-like archive: an array named and an object
// numbered after a process's memory (base), stamped at when.
func skops(t *testing.T, base int, array string, when time.Time) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	name := fmt.Sprintf("%d.npy", base)
	for _, e := range []struct{ name, body string }{
		{name, array},
		{"schema.json", fmt.Sprintf(`{"__class__": "Pipeline", "content": {"coef_": {"file": %q, "__id__": %d}, "with_mean": {"content": "true", "__id__": %d}, "copy": {"content": "true", "__id__": %d}}}`, name, base+1, base+2, base+2)},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Modified: when, Method: zip.Deflate})
		require.NoError(t, err)
		_, err = w.Write([]byte(e.body))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	return b.Bytes()
}

// modelDir writes a model folder: MLmodel with the run's fields, a
// skops file and an input example.
func modelDir(t *testing.T, run string, skopsFile []byte, example string) string {
	dir := t.TempDir()
	mlmodel := fmt.Sprintf("artifact_path: %s\nflavors:\n  sklearn:\n    serialization_format: skops\nmlflow_version: 3.1.0\nmodel_id: m-%s\nmodel_uuid: %s\nrun_id: %s\nsaved_input_example_info:\n  artifact_path: input_example.json\n  type: dataframe\nutc_time_created: '2026-12-03 %s'\n", run, run, run, run, run)
	for name, body := range map[string][]byte{"MLmodel": []byte(mlmodel), "model.skops": skopsFile, "input_example.json": []byte(example), "requirements.txt": []byte("scikit-learn==1.7\n")} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), body, 0o644))
	}
	return dir
}

// TestDigestDir: two loggings of the same fitted model digest the same —
// other run, model id, creation time, input example, skops array names,
// object ids and zip times — and another fitted array does not.
func TestDigestDir(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, skipped, err := digestDir(modelDir(t, "aaa", skops(t, 1396, "coefs-1", t0), `{"x": 1}`))
	require.NoError(t, err)
	assert.Equal(t, []string{"input_example.json"}, skipped)
	b, _, err := digestDir(modelDir(t, "bbb", skops(t, 9999, "coefs-1", t0.Add(time.Hour)), `{"x": 2}`))
	require.NoError(t, err)
	assert.Equal(t, a.Digest, b.Digest)
	assert.Equal(t, a.Files, b.Files)
	assert.Contains(t, a.Files["model.skops"], "zip:")
	assert.NotContains(t, a.Files, "input_example.json")

	c, _, err := digestDir(modelDir(t, "ccc", skops(t, 1396, "coefs-2", t0), `{"x": 1}`))
	require.NoError(t, err)
	assert.NotEqual(t, a.Digest, c.Digest, "other fitted parameters")
	assert.Equal(t, a.Files["MLmodel"], c.Files["MLmodel"])

	_, _, err = digestDir(t.TempDir())
	assert.ErrorContains(t, err, "no MLmodel file")
}

// TestDigestDirHostileModel: an MLmodel that names the weights as its
// input example does not take them out of the comparison; a zip with two
// entries of one name, or over the digest's bounds, is digested as bytes
// (its zip times then count: never a false "unchanged").
func TestDigestDirHostileModel(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dir := modelDir(t, "aaa", skops(t, 1396, "coefs-1", t0), `{"x": 1}`)
	mlmodel := "flavors:\n  sklearn: {}\nsaved_input_example_info:\n  artifact_path: model.skops\n  serving_input_path: ../requirements.txt\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "MLmodel"), []byte(mlmodel), 0o644))
	d, skipped, err := digestDir(dir)
	require.NoError(t, err)
	assert.Empty(t, skipped)
	assert.Contains(t, d.Files, "model.skops", "the weights stay in the digest")
	assert.Contains(t, d.Files, "input_example.json", "not named by MLmodel: digested")

	dup := func(when time.Time) []byte {
		var b bytes.Buffer
		zw := zip.NewWriter(&b)
		for _, body := range []string{"one", "two"} {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: "a.npy", Modified: when, Method: zip.Deflate})
			require.NoError(t, err)
			_, err = w.Write([]byte(body))
			require.NoError(t, err)
		}
		require.NoError(t, zw.Close())
		return b.Bytes()
	}
	_, err = zipDigest(bytes.NewReader(dup(t0)), int64(len(dup(t0))))
	assert.ErrorContains(t, err, "two entries named a.npy")
	x, _, err := digestDir(modelDir(t, "x", dup(t0), `{}`))
	require.NoError(t, err)
	y, _, err := digestDir(modelDir(t, "y", dup(t0.Add(time.Hour)), `{}`))
	require.NoError(t, err)
	assert.NotContains(t, x.Files["model.skops"], "zip:", "digested as bytes")
	assert.NotEqual(t, x.Digest, y.Digest, "the archives' bytes differ")

	// A JSON entry over its bound.
	var big bytes.Buffer
	zw := zip.NewWriter(&big)
	w, err := zw.Create("schema.json")
	require.NoError(t, err)
	_, err = w.Write([]byte(`"` + string(bytes.Repeat([]byte("a"), maxZipJSONEntry)) + `"`))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	_, err = zipDigest(bytes.NewReader(big.Bytes()), int64(big.Len()))
	assert.ErrorContains(t, err, "over")
}
