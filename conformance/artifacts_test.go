package conformance_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

const artifactsPath = "/api/2.0/mlflow-artifacts/artifacts"

// artifactRoot is the proxy path of a run's artifacts.
func artifactRoot(f fixture) string {
	return strings.TrimPrefix(f.run.Info.ArtifactURI, "mlflow-artifacts:/")
}

func TestArtifacts(t *testing.T) {
	forEachTarget(t, []testCase{
		{"UploadListDownload", func(t *testing.T, s *target) {
			f := s.newRun(t, "artifacts")
			ctx := t.Context()
			weights := make([]byte, 200<<10)
			_, _ = rand.Read(weights)
			files := map[string][]byte{
				"model/MLmodel":                []byte("flavors:\n  go_churn: {}\n"),
				"model/weights.bin":            weights,
				"model/empty.txt":              {},
				"model/données/clients.csv":    []byte("id,churn\n1,0\n"),
				"model/odd ?&=+ 100% name.txt": []byte("escaped"),
			}
			for p, b := range files {
				require.NoError(t, s.c.UploadArtifact(ctx, f.run.Info.ArtifactURI, p, bytes.NewReader(b)), p)
			}
			entries, err := s.c.ListArtifacts(ctx, f.run.Info.ArtifactURI, "model")
			require.NoError(t, err)
			assert.Equal(t, []mlflow.FileInfo{
				{Path: "model/MLmodel", FileSize: int64(len(files["model/MLmodel"]))},
				{Path: "model/donn\u00e9es", IsDir: true},
				{Path: "model/empty.txt"},
				{Path: "model/odd ?&=+ 100% name.txt", FileSize: 7},
				{Path: "model/weights.bin", FileSize: int64(len(weights))},
			}, entries, "sorted by name, directories without a size")

			raw := s.do(t, http.MethodGet, artifactsPath, url.Values{"path": {artifactRoot(f) + "/model"}}, nil)
			require.Equal(t, http.StatusOK, raw.Status)
			assert.Equal(t, map[string]any{"path": "données", "is_dir": true}, list(raw.JSON(t), "files")[1])

			for p, want := range files {
				rc, err := s.c.DownloadArtifact(ctx, f.run.Info.ArtifactURI, p)
				require.NoError(t, err, p)
				got, err := io.ReadAll(rc)
				rc.Close()
				require.NoError(t, err)
				assert.True(t, bytes.Equal(want, got), "%s: %d bytes back of %d", p, len(got), len(want))
			}
			dst := t.TempDir()
			require.NoError(t, s.c.DownloadDir(ctx, f.run.Info.ArtifactURI, "model", dst))

			require.NoError(t, s.c.UploadArtifact(ctx, f.run.Info.ArtifactURI, "model/MLmodel", strings.NewReader("v2")))
			rc, err := s.c.DownloadArtifact(ctx, f.run.Info.ArtifactURI, "model/MLmodel")
			require.NoError(t, err)
			b, _ := io.ReadAll(rc)
			rc.Close()
			assert.Equal(t, "v2", string(b), "an upload replaces the file")
		}},
		{"UploadReply", func(t *testing.T, s *target) {
			f := s.newRun(t, "reply")
			r := s.do(t, http.MethodPut, artifactsPath+"/"+artifactRoot(f)+"/a.txt", nil, []byte("x"))
			assert.Equal(t, http.StatusOK, r.Status)
			assert.Empty(t, r.Body)
		}},
		{"DownloadHeaders", func(t *testing.T, s *target) {
			f := s.newRun(t, "headers")
			for name, ctype := range map[string]string{
				"notes.json": "text/plain", "MLmodel": "text/plain", "weights.bin": "application/octet-stream",
				"plot.png": "image/png", "page.html": "text/html", "noext": "application/octet-stream",
			} {
				require.NoError(t, s.c.UploadArtifact(t.Context(), f.run.Info.ArtifactURI, name, strings.NewReader("{}")))
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.uri+artifactsPath+"/"+artifactRoot(f)+"/"+name, nil)
				require.NoError(t, err)
				resp, err := s.hc.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, ctype, resp.Header.Get("Content-Type"), name)
				assert.Equal(t, "attachment; filename="+name, resp.Header.Get("Content-Disposition"))
				assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			}
		}},
		{"ListEmpty", func(t *testing.T, s *target) {
			f := s.newRun(t, "empty")
			for _, p := range []string{artifactRoot(f) + "/nothing", artifactRoot(f)} {
				r := s.do(t, http.MethodGet, artifactsPath, url.Values{"path": {p}}, nil)
				require.Equal(t, http.StatusOK, r.Status)
				assert.Equal(t, "{}", strings.TrimSpace(string(r.Body)), "a missing folder lists as {}")
			}
			require.NoError(t, s.c.UploadArtifact(t.Context(), f.run.Info.ArtifactURI, "file.txt", strings.NewReader("x")))
			r := s.do(t, http.MethodGet, artifactsPath, url.Values{"path": {artifactRoot(f) + "/file.txt"}}, nil)
			assert.Equal(t, "{}", strings.TrimSpace(string(r.Body)), "a file lists as an empty folder")
		}},
		{"ErrDownload", func(t *testing.T, s *target) {
			f := s.newRun(t, "dl")
			require.NoError(t, s.c.UploadArtifact(t.Context(), f.run.Info.ArtifactURI, "model/x.bin", strings.NewReader("x")))
			r := s.do(t, http.MethodGet, artifactsPath+"/"+artifactRoot(f)+"/model/nothing.bin", nil, nil)
			wantError(t, r, http.StatusNotFound, "RESOURCE_DOES_NOT_EXIST", "No such artifact: '"+artifactRoot(f)+"/model/nothing.bin'")
			r = s.do(t, http.MethodGet, artifactsPath+"/"+artifactRoot(f)+"/model", nil, nil)
			assert.Equal(t, http.StatusBadRequest, r.Status, "a folder is not downloaded")
			assert.Contains(t, string(r.Body), "Artifact path refers to a directory, not a file: '"+artifactRoot(f)+"/model'")
			_, err := s.c.DownloadArtifact(t.Context(), f.run.Info.ArtifactURI, "model/nothing.bin")
			require.ErrorIs(t, err, mlflow.ErrNotFound)
		}},
		{"ErrRefusedPaths", func(t *testing.T, s *target) {
			f := s.newRun(t, "paths")
			root := artifactRoot(f)
			for _, p := range []string{
				root + "/../../etc/passwd",
				"../x",
				root + "/%2e%2e/%2e%2e/x",
				root + "/%252e%252e/%252e%252e/x",
				root + "/%25252E%25252E/x",
				root + "/a%23b",
				root + "/a%2523b",
				"%2Fetc/passwd",
				"%252Fetc/passwd",
			} {
				t.Run(p, func(t *testing.T) {
					for _, method := range []string{http.MethodGet, http.MethodPut} {
						req, err := http.NewRequestWithContext(t.Context(), method, s.uri+artifactsPath+"/"+p, strings.NewReader("x"))
						require.NoError(t, err)
						req.URL.RawPath = artifactsPath + "/" + p // as written: no cleaning, no re-encoding
						req.URL.Path, _ = url.PathUnescape(req.URL.RawPath)
						resp, err := s.hc.Do(req)
						require.NoError(t, err)
						body, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						wantError(t, reply{Status: resp.StatusCode, Body: body}, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid path")
					}
				})
			}
			for _, p := range []string{"../x", root + "/../..", "/etc", root + "/a#b", "%2e%2e/x", "C:/Windows", "//host/share/x"} {
				r := s.do(t, http.MethodGet, artifactsPath, url.Values{"path": {p}}, nil)
				wantError(t, r, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", "Invalid path")
			}
		}},
		{"PathsAreDecodedRepeatedly", func(t *testing.T, s *target) {
			// MLflow percent-decodes a path until it stops changing and uses
			// the result: "a%2541" (sent for a file named "a%41") is stored
			// as "aA".
			f := s.newRun(t, "decode")
			r := s.do(t, http.MethodPut, artifactsPath+"/"+artifactRoot(f)+"/a%2541", nil, []byte("x"))
			require.Equal(t, http.StatusOK, r.Status, "body: %s", r.Body)
			r = s.do(t, http.MethodGet, artifactsPath, url.Values{"path": {artifactRoot(f)}}, nil)
			require.Equal(t, http.StatusOK, r.Status)
			assert.Equal(t, "aA", list(r.JSON(t), "files")[0]["path"])
		}},
	})
}
