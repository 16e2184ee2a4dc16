package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/regproxy"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/runner"
)

// relayRegistry is a registry (a fake of MLflow's GET runs/get and GET
// logged-models/<id>) with a run and a logged model whose artifacts are in
// a file:// folder, and a run whose artifacts are in an s3:// bucket; it
// counts the GETs it answers.
type relayRegistry struct {
	shared                string
	fileRun, model, s3Run string // their artifact roots
	fileDir               string // fileRun's folder
	c                     *mlflow.Client
	gets                  atomic.Int64
}

func newRelayRegistry(t *testing.T, s3Location string, getenv func(string) string) *relayRegistry {
	t.Helper()
	r := &relayRegistry{shared: t.TempDir()}
	fileLoc := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(r.shared, "mlruns", "1"))}).String()
	const fileRunID, s3RunID, modelID = "0a1b2c3d4e5f", "f5e4d3c2b1a0", "m-0123456789"
	r.fileRun, r.s3Run = fileLoc+"/"+fileRunID+"/artifacts", s3Location+"/"+s3RunID+"/artifacts"
	r.model = fileLoc + "/models/" + modelID + "/artifacts"
	r.fileDir = filepath.Join(r.shared, "mlruns", "1", fileRunID, "artifacts")
	runs := map[string]string{fileRunID: r.fileRun, s3RunID: r.s3Run}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.gets.Add(1)
		w.Header().Set("Content-Type", "application/json")
		notFound := func() {
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such thing"}`)
		}
		switch {
		case req.URL.Path == "/api/2.0/mlflow/runs/get":
			id := req.URL.Query().Get("run_id")
			uri, ok := runs[id]
			if !ok {
				notFound()
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"run": map[string]any{"info": map[string]any{"run_id": id, "artifact_uri": uri}}})
		case req.URL.Path == "/api/2.0/mlflow/logged-models/"+modelID:
			_ = json.NewEncoder(w).Encode(map[string]any{"model": map[string]any{"info": map[string]any{"model_id": modelID, "artifact_uri": r.model}}})
		default:
			notFound()
		}
	}))
	t.Cleanup(srv.Close)
	cfg, err := mlflow.ConfigFromEnv(func(k string) string {
		if k == mlflow.EnvTrackingURI {
			return srv.URL
		}
		return getenv(k)
	})
	require.NoError(t, err)
	r.c, err = mlflow.New(cfg)
	require.NoError(t, err)
	return r
}

// TestArtifactRootsFind: the kernel's relayed URIs are accepted under the
// artifact root of a run or a logged model of the registry only, compared
// parsed (scheme, host, decoded path segments), never by their text; and
// each root is asked of the registry once, not per file.
func TestArtifactRootsFind(t *testing.T) {
	t.Parallel()
	r := newRelayRegistry(t, "s3://bucket/mlruns/2", func(string) string { return "" })
	require.True(t, strings.HasPrefix(r.fileRun, "file:///"), r.fileRun)
	require.True(t, strings.HasPrefix(r.model, "file:///"), r.model)
	fileRunPath := strings.TrimPrefix(r.fileRun, "file://")
	for _, tc := range []struct {
		uri, root, sub string
	}{
		{r.fileRun, r.fileRun, ""},
		{r.fileRun + "/", r.fileRun, ""},
		{r.fileRun + "/model/data", r.fileRun, "model/data"},
		{"file://localhost" + fileRunPath + "/model", r.fileRun, "model"},
		{"FILE://" + fileRunPath, r.fileRun, ""},
		{r.model, r.model, ""},
		{r.model + "/MLmodel", r.model, "MLmodel"},
		{r.s3Run + "/model", r.s3Run, "model"},
		// Refused:
		{r.fileRun + "2", "", ""},
		{r.fileRun + "2/x", "", ""},
		{r.fileRun + "/%2e%2e/%2e%2e/%2e%2e/home/u/.aws", "", ""},
		{r.fileRun + "/%2E%2E/%2E%2E", "", ""},
		{r.fileRun + "/%252e%252e/%252e%252e/x", "", ""},
		{r.fileRun + "/../../../home/u/.aws", "", ""},
		{r.fileRun + "/./model", "", ""},
		{r.fileRun + "//model", "", ""},
		{r.fileRun + "/a%2F..%2F..", "", ""},
		{r.fileRun + "/a%5c..", "", ""},
		{r.fileRun + "/x?y=1", "", ""},
		{r.fileRun + "/x#y", "", ""},
		{"file://elsewhere" + fileRunPath, "", ""},
		{"s3://bucket" + fileRunPath, "", ""},
		{"mlflow-artifacts:" + fileRunPath, "", ""},
		{strings.Replace(r.s3Run, "s3://bucket/", "s3://other/", 1), "", ""},
		{strings.Replace(r.s3Run, "s3://bucket/", "s3://user:pass@bucket/", 1), "", ""},
		{r.s3Run + "/%2e%2e/%2e%2e/x", "", ""},
		{strings.Replace(r.fileRun, "/mlruns/1/", "/mlruns/9/", 1), "", ""},
		{"file://" + r.shared + "/mlruns/1/0123456789abcdef/artifacts", "", ""},
		{"file:///etc", "", ""},
	} {
		var roots artifactRoots
		root, sub, ok := roots.find(t.Context(), r.c, tc.uri)
		assert.Equal(t, tc.root != "", ok, tc.uri)
		assert.Equal(t, tc.root, root, tc.uri)
		assert.Equal(t, tc.sub, sub, tc.uri)
	}

	// One registry GET per root, however many files are read under it.
	var roots artifactRoots
	before := r.gets.Load()
	for i := range 50 {
		_, _, ok := roots.find(t.Context(), r.c, fmt.Sprintf("%s/model/f%d", r.fileRun, i))
		require.True(t, ok)
		_, _, ok = roots.find(t.Context(), r.c, fmt.Sprintf("%s/f%d", r.model, i))
		require.True(t, ok)
	}
	assert.LessOrEqual(t, r.gets.Load()-before, int64(2), "registry GETs for 100 files under two roots")
	// An unknown id is asked again: the kernel may create its run later.
	for range 3 {
		_, _, ok := roots.find(t.Context(), r.c, "file://"+r.shared+"/mlruns/1/0123456789abcdef/artifacts")
		require.False(t, ok)
	}
}

// kernelRelay is a kernel's client of the artifact relay of playbook's
// services over r's registry, and the raw HTTP client the kernel has.
func kernelRelay(t *testing.T, r *relayRegistry, dry bool) (*mlflow.Client, *http.Client, string, *regproxy.Proxy) {
	t.Helper()
	px, err := regproxy.Start(regproxy.Options{Target: r.c, DryRun: dry, CellTokens: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = px.Close() })
	svc := newKernelServices(t.Context(), px, runner.Options{}, func() (*mlflow.Client, error) { return r.c, nil }, func() string { return "train" })
	t.Cleanup(svc.close)
	tok, err := px.BeginCell("train")
	require.NoError(t, err)
	t.Cleanup(px.EndCell)
	hc := &http.Client{Transport: prefixTransport{prefix: px.Prefix(), base: http.DefaultTransport, cell: func() string { return tok }}}
	base := fmt.Sprintf("http://127.0.0.1:%d", px.Port())
	kernel, err := mlflow.New(mlflow.DefaultConfig(base), mlflow.WithHTTPClient(hc), mlflow.WithArtifactRelay())
	require.NoError(t, err)
	return kernel, hc, base, px
}

// TestKernelRelayFileRoot: through playbook's artifact relay, the kernel
// reads and writes under a run's file:// artifact root, and neither reads
// nor writes outside it, however the URI or the path is spelled; the
// uploads are recorded, the URI as given.
func TestKernelRelayFileRoot(t *testing.T) {
	t.Parallel()
	r := newRelayRegistry(t, "s3://bucket/mlruns/2", func(string) string { return "" })
	kernel, hc, base, px := kernelRelay(t, r, false)
	secret := filepath.Join(r.shared, "home", "u", ".aws", "credentials")
	require.NoError(t, os.MkdirAll(filepath.Dir(secret), 0o700))
	require.NoError(t, os.WriteFile(secret, []byte("aws_secret_access_key=TOPSECRET\n"), 0o600))
	ctx := t.Context()

	require.NoError(t, kernel.UploadArtifact(ctx, r.fileRun, "model/MLmodel", strings.NewReader("flavors: {}\n")))
	require.NoError(t, kernel.UploadArtifact(ctx, r.fileRun+"/model", "data/w.json", strings.NewReader("[1]")))
	got, err := os.ReadFile(filepath.Join(r.fileDir, "model", "data", "w.json"))
	require.NoError(t, err)
	assert.Equal(t, "[1]", string(got))
	files, err := kernel.ListArtifacts(ctx, r.fileRun+"/model", "")
	require.NoError(t, err)
	assert.ElementsMatch(t, []mlflow.FileInfo{{Path: "MLmodel", FileSize: 12}, {Path: "data", IsDir: true}}, files)
	files, err = kernel.ListArtifacts(ctx, r.fileRun+"/model", "data")
	require.NoError(t, err)
	assert.Equal(t, []mlflow.FileInfo{{Path: "data/w.json", FileSize: 3}}, files)
	dst := t.TempDir()
	require.NoError(t, kernel.DownloadDir(ctx, r.fileRun, "model", dst))
	got, err = os.ReadFile(filepath.Join(dst, "data", "w.json"))
	require.NoError(t, err)
	assert.Equal(t, "[1]", string(got))

	up := r.fileRun + "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/home/u/.aws"
	for _, tc := range []struct{ uri, path string }{
		{up, "credentials"},
		{r.fileRun + "/%252e%252e/%252e%252e/%252e%252e/%252e%252e/home/u/.aws", "credentials"},
		{r.fileRun + "/../../../../home/u/.aws", "credentials"},
		{r.fileRun, "../../../../home/u/.aws/credentials"},
		{r.fileRun, "%2e%2e/%2e%2e/%2e%2e/%2e%2e/home/u/.aws/credentials"},
		{r.fileRun + "2", "credentials"},
	} {
		q := url.Values{"uri": {tc.uri}, "path": {tc.path}}.Encode()
		// Read, as the kernel's code may ask (not only through its client).
		resp, err := hc.Get(base + mlflow.RelayPath + "/get?" + q)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Contains(t, []int{http.StatusForbidden, http.StatusBadRequest}, resp.StatusCode, "%s %s: %s", tc.uri, tc.path, b)
		assert.NotContains(t, string(b), "TOPSECRET")
		resp, err = hc.Get(base + mlflow.RelayPath + "/list?" + url.Values{"uri": {tc.uri}, "path": {strings.TrimSuffix(tc.path, "credentials")}}.Encode())
		require.NoError(t, err)
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.NotEqual(t, http.StatusOK, resp.StatusCode, "listing %s: %s", tc.uri, b)
		// Write: the credentials file, and a new one.
		for _, p := range []string{tc.path, strings.TrimSuffix(tc.path, "credentials") + "planted"} {
			req, err := http.NewRequest(http.MethodPut, base+mlflow.RelayPath+"/put?"+url.Values{"uri": {tc.uri}, "path": {p}}.Encode(), strings.NewReader("OVERWRITTEN"))
			require.NoError(t, err)
			resp, err := hc.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Contains(t, []int{http.StatusForbidden, http.StatusBadRequest}, resp.StatusCode, "writing %s %s: %s", tc.uri, p, b)
		}
		_, err = kernel.DownloadArtifact(ctx, tc.uri, tc.path)
		assert.Error(t, err, tc.uri)
	}
	got, err = os.ReadFile(secret)
	require.NoError(t, err)
	assert.Equal(t, "aws_secret_access_key=TOPSECRET\n", string(got), "the secret unchanged")
	// Nothing was written outside the run's folder.
	require.NoError(t, filepath.WalkDir(r.shared, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if !d.IsDir() && p != secret && !strings.HasPrefix(p, r.fileDir+string(filepath.Separator)) {
			t.Errorf("a file outside the run's artifacts: %s", p)
		}
		return nil
	}))

	var puts []record.Call
	for _, c := range px.Calls() {
		if c.Endpoint == mlflow.RelayPath+"/put" {
			puts = append(puts, c)
		}
	}
	require.NotEmpty(t, puts)
	assert.Equal(t, "ok", puts[0].Outcome)
	assert.Equal(t, map[string]any{"artifact_uri": r.fileRun, "path": "model/MLmodel", "bytes": int64(12)}, puts[0].Args)
	assert.NotEmpty(t, uploadedUnder(puts, r.fileRun+"/model/data"), "an upload under a sub-folder is the run's")
	for _, c := range puts[2:] {
		assert.NotEqual(t, "ok", c.Outcome, c.Args)
	}

	// A method the relay does not answer.
	req, err := http.NewRequest(http.MethodDelete, base+mlflow.RelayPath+"/get?"+url.Values{"uri": {r.fileRun}, "path": {"model/MLmodel"}}.Encode(), nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, http.MethodGet, resp.Header.Get("Allow"))
	req, err = http.NewRequest(http.MethodGet, base+mlflow.RelayPath+"/put?"+url.Values{"uri": {r.fileRun}, "path": {"x"}}.Encode(), nil)
	require.NoError(t, err)
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, http.MethodPut, resp.Header.Get("Allow"))
}

// TestKernelRelayDryRun: a dry run records a relayed upload with the same
// Args as a real run: the URI's credentials and signature redacted.
func TestKernelRelayDryRun(t *testing.T) {
	t.Parallel()
	r := newRelayRegistry(t, "s3://bucket/mlruns/2", func(string) string { return "" })
	_, hc, base, px := kernelRelay(t, r, true)
	uri := strings.Replace(r.s3Run, "s3://", "s3://AKIAUSER:hunter2pass@", 1) + "?X-Amz-Signature=c0ffee1234&X-Amz-Credential=AKIAX"
	req, err := http.NewRequest(http.MethodPut, base+mlflow.RelayPath+"/put?"+url.Values{"uri": {uri}, "path": {"model/MLmodel"}}.Encode(), strings.NewReader("x"))
	require.NoError(t, err)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	calls := px.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, regproxy.OutcomeNotSent, calls[0].Outcome)
	assert.Equal(t, mlflow.RedactURL(uri), calls[0].Args["artifact_uri"])
	assert.Equal(t, "model/MLmodel", calls[0].Args["path"])
	for _, secret := range []string{"hunter2pass", "c0ffee1234", "AKIAX"} {
		assert.NotContains(t, fmt.Sprint(calls[0].Args), secret)
	}
	assert.NotContains(t, calls[0].Args, "uri", "not the raw query")
}

// TestKernelRelayUploadSized: a relayed upload of a known length (the
// kernel's body has one) reaches S3 in one PUT, not as a multipart upload of
// 16 MiB parts buffered in memory; one of no known length still goes in
// parts.
func TestKernelRelayUploadSized(t *testing.T) {
	t.Parallel()
	s3 := testenv.S3(t)
	env := func(k string) string {
		for _, kv := range s3.Env() {
			if name, v, _ := strings.Cut(kv, "="); name == k {
				return v
			}
		}
		return ""
	}
	r := newRelayRegistry(t, "s3://"+s3.Bucket+"/mlruns/"+mlflowtest.Unique("sized"), env)
	kernel, _, _, _ := kernelRelay(t, r, false)
	body := strings.Repeat("w", 1<<10)
	require.NoError(t, kernel.UploadArtifact(t.Context(), r.s3Run, "sized.bin", strings.NewReader(body)))
	require.NoError(t, kernel.UploadArtifact(t.Context(), r.s3Run, "stream.bin", io.MultiReader(strings.NewReader(body))))

	u, err := url.Parse(s3.Endpoint)
	require.NoError(t, err)
	mc, err := minio.New(u.Host, &minio.Options{Creds: miniocreds.NewStaticV4(s3.AccessKeyID, s3.SecretAccessKey, ""),
		Region: s3.Region, BucketLookup: minio.BucketLookupPath})
	require.NoError(t, err)
	key := strings.TrimPrefix(r.s3Run, "s3://"+s3.Bucket+"/")
	st, err := mc.StatObject(t.Context(), s3.Bucket, key+"/sized.bin", minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(len(body)), st.Size)
	assert.NotContains(t, st.ETag, "-", "one PUT: the ETag of a multipart upload ends with -<parts>")
	st, err = mc.StatObject(t.Context(), s3.Bucket, key+"/stream.bin", minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Equal(t, int64(len(body)), st.Size)
	assert.Contains(t, st.ETag, "-", "no known length: in parts")
}
