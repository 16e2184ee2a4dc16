package mlflow_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// TestRelayFileRoot: a kernel's client reads a file:// folder through its
// parent. Even when the parent's allow accepts any URI that starts with an
// allowed root (a prefix test, as playbook's once did), a root spelled
// with "%2e%2e" or ".." segments, or a path with "..", reads nothing
// outside it; a file comes with its length; a method other than GET is
// answered 405 with an Allow header.
func TestRelayFileRoot(t *testing.T) {
	t.Parallel()
	c := s3Client(t, func(string) string { return "" })
	shared := t.TempDir()
	dir := filepath.Join(shared, "mlruns", "1", "abc", "artifacts")
	root := (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
	require.NoError(t, c.UploadArtifact(t.Context(), root, "model/MLmodel", strings.NewReader("flavors: {}\n")))
	// A secret outside the root, where a kernel must not read or write.
	secretDir := filepath.Join(shared, "home", ".aws")
	require.NoError(t, os.MkdirAll(secretDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(secretDir, "credentials"), []byte("aws_secret_access_key=TOPSECRET\n"), 0o600))

	srv := httptest.NewServer(mlflow.ArtifactRelayHandler(c, func(_ context.Context, uri string) (string, string, bool) {
		return uri, "", strings.HasPrefix(uri, root)
	}))
	t.Cleanup(srv.Close)
	kernel, err := mlflow.New(mlflow.DefaultConfig(srv.URL), mlflow.WithArtifactRelay())
	require.NoError(t, err)

	body, err := kernel.DownloadArtifact(t.Context(), root, "model/MLmodel")
	require.NoError(t, err)
	b, err := io.ReadAll(body)
	require.NoError(t, err)
	require.NoError(t, body.Close())
	assert.Equal(t, "flavors: {}\n", string(b))

	resp, err := http.Get(srv.URL + mlflow.RelayPath + "/get?" + url.Values{"uri": {root}, "path": {"model/MLmodel"}}.Encode())
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, int64(12), resp.ContentLength, "a relayed file comes with its length")

	for _, tc := range []struct{ uri, path string }{
		{root + "/%2e%2e/%2e%2e/%2e%2e/../home/.aws", "credentials"},
		{root + "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/home/.aws", "credentials"},
		{root + "/%252e%252e/%252e%252e/%252e%252e/%252e%252e/home/.aws", "credentials"},
		{root + "/../../../../home/.aws", "credentials"},
		{root, "../../../../home/.aws/credentials"},
		{root, "%2e%2e/%2e%2e/%2e%2e/%2e%2e/home/.aws/credentials"},
	} {
		body, err := kernel.DownloadArtifact(t.Context(), tc.uri, tc.path)
		if err == nil {
			b, _ := io.ReadAll(body)
			_ = body.Close()
			t.Errorf("%s %s: read %q", tc.uri, tc.path, b)
			continue
		}
		assert.True(t, errors.Is(err, mlflow.ErrPathEscape) || errors.Is(err, mlflow.ErrPermissionDenied), "%s %s: %v", tc.uri, tc.path, err)
		assert.NotContains(t, err.Error(), "TOPSECRET")
		_, err = kernel.ListArtifacts(t.Context(), tc.uri, strings.TrimSuffix(tc.path, "/credentials"))
		assert.Error(t, err, "listing %s %s", tc.uri, tc.path)
	}

	req, err := http.NewRequest(http.MethodPut, srv.URL+mlflow.RelayPath+"/get?"+url.Values{"uri": {root}, "path": {"x"}}.Encode(), strings.NewReader("x"))
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, http.MethodGet, resp.Header.Get("Allow"))
	assert.Contains(t, string(msg), "answers GET")
	assert.NotContains(t, string(msg), "artifact roots of this registry", "not a refusal of the root")
	_, err = os.Stat(filepath.Join(dir, "x"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing written")
}
