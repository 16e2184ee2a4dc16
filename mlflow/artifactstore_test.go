package mlflow_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
)

// s3Client is a client whose only tracking server is a closed port: every
// call it makes in these tests goes to the store.
func s3Client(t *testing.T, getenv func(string) string) *mlflow.Client {
	t.Helper()
	cfg, err := mlflow.ConfigFromEnv(func(k string) string {
		if k == mlflow.EnvTrackingURI {
			return "http://127.0.0.1:1"
		}
		return getenv(k)
	})
	require.NoError(t, err)
	c, err := mlflow.New(cfg)
	require.NoError(t, err)
	return c
}

// roundTrip uploads a folder under root, lists it, downloads it and checks
// every byte came back.
func roundTrip(t *testing.T, c *mlflow.Client, root string) {
	t.Helper()
	ctx := t.Context()
	src := t.TempDir()
	files := map[string][]byte{
		"model/MLmodel":           []byte("flavors: {}\n"),
		"model/data/weights.json": []byte(`{"w":[1,2,3]}`),
		"notes.txt":               []byte("hello"),
	}
	writeTree(t, src, files)
	require.NoError(t, c.UploadDir(ctx, root, src, ""))

	top, err := c.ListArtifacts(ctx, root, "")
	require.NoError(t, err)
	assert.ElementsMatch(t, []mlflow.FileInfo{{Path: "model", IsDir: true}, {Path: "notes.txt", FileSize: 5}}, top)
	sub, err := c.ListArtifacts(ctx, root, "model")
	require.NoError(t, err)
	assert.ElementsMatch(t, []mlflow.FileInfo{{Path: "model/MLmodel", FileSize: 12}, {Path: "model/data", IsDir: true}}, sub)
	empty, err := c.ListArtifacts(ctx, root, "model/MLmodel")
	require.NoError(t, err)
	assert.Empty(t, empty, "a file lists as empty, as in MLflow")

	body, err := c.DownloadArtifact(ctx, root, "model/data/weights.json")
	require.NoError(t, err)
	b, err := io.ReadAll(body)
	require.NoError(t, body.Close())
	require.NoError(t, err)
	assert.Equal(t, files["model/data/weights.json"], b)

	dst := t.TempDir()
	require.NoError(t, c.DownloadDir(ctx, root, "", dst))
	assert.Equal(t, files, readTree(t, dst))

	_, err = c.DownloadArtifact(ctx, root, "model/absent")
	assert.ErrorIs(t, err, mlflow.ErrNotFound)
	require.NoError(t, c.CheckArtifactStore(ctx, root))
}

func TestArtifactsFileRoot(t *testing.T) {
	t.Parallel()
	c := s3Client(t, func(string) string { return "" })
	shared := t.TempDir()
	root := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(shared, "1", "abc", "artifacts"))}).String()
	roundTrip(t, c, root)

	// A symbolic link inside the folder that leads out of it is never followed.
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600))
	require.NoError(t, os.Symlink(outside, filepath.Join(shared, "1", "abc", "artifacts", "link")))
	_, err := c.DownloadArtifact(t.Context(), root, "link/secret")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s\n")
	_, err = c.DownloadArtifact(t.Context(), root, "../../x")
	assert.ErrorIs(t, err, mlflow.ErrPathEscape)

	// A root whose path leads out of itself: url.Parse decodes "%2e%2e"
	// into "..". Nothing is read or written outside.
	require.NoError(t, os.WriteFile(filepath.Join(shared, "credentials"), []byte("TOPSECRET"), 0o600))
	for _, escape := range []string{
		root + "/%2e%2e/%2e%2e/%2e%2e",
		root + "/%252e%252e/%252e%252e/%252e%252e",
		root + "/../../..",
		root + "/./x",
		root + "//x",
		root + "/a%5c..%5c..",
	} {
		_, err := c.DownloadArtifact(t.Context(), escape, "credentials")
		assert.ErrorIs(t, err, mlflow.ErrPathEscape, escape)
		_, err = c.ListArtifacts(t.Context(), escape, "")
		assert.ErrorIs(t, err, mlflow.ErrPathEscape, escape)
		err = c.UploadArtifact(t.Context(), escape, "planted", strings.NewReader("x"))
		assert.ErrorIs(t, err, mlflow.ErrPathEscape, escape)
		assert.ErrorIs(t, c.CheckArtifactStore(t.Context(), escape), mlflow.ErrPathEscape, escape)
	}
	err = c.UploadArtifact(t.Context(), root, "../../../planted", strings.NewReader("x"))
	assert.ErrorIs(t, err, mlflow.ErrPathEscape)
	_, err = os.Stat(filepath.Join(shared, "planted"))
	assert.ErrorIs(t, err, os.ErrNotExist, "nothing written outside the root")
	// A root with a trailing "/" is the same folder.
	files, err := c.ListArtifacts(t.Context(), root+"/", "model")
	require.NoError(t, err)
	assert.Len(t, files, 2)
}

// TestArtifactsFileUploads: two uploads of one file at once each write a
// file of their own, renamed when complete: the file is one of them, whole;
// a real artifact whose name ends in .uploading is listed.
func TestArtifactsFileUploads(t *testing.T) {
	t.Parallel()
	c := s3Client(t, func(string) string { return "" })
	dir := t.TempDir()
	root := (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()

	a := strings.Repeat("A", 64<<10)
	b := strings.Repeat("B", 1000)
	half := make(chan struct{})
	resume := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.UploadArtifact(t.Context(), root, "model/weights.bin", io.MultiReader(
			strings.NewReader(a[:len(a)/2]), signalReader{half, resume}, strings.NewReader(a[len(a)/2:])))
	}()
	<-half // the first upload has written half its file
	require.NoError(t, c.UploadArtifact(t.Context(), root, "model/weights.bin", strings.NewReader(b)))
	got, err := os.ReadFile(filepath.Join(dir, "model", "weights.bin"))
	require.NoError(t, err)
	assert.Equal(t, b, string(got), "the second upload, whole")
	close(resume)
	require.NoError(t, <-done)
	got, err = os.ReadFile(filepath.Join(dir, "model", "weights.bin"))
	require.NoError(t, err)
	assert.True(t, string(got) == a, "the first upload, whole, renamed last (%d bytes)", len(got))

	require.NoError(t, c.UploadArtifact(t.Context(), root, "model/data.uploading", strings.NewReader("real")))
	files, err := c.ListArtifacts(t.Context(), root, "model")
	require.NoError(t, err)
	assert.ElementsMatch(t, []mlflow.FileInfo{{Path: "model/weights.bin", FileSize: int64(len(a))}, {Path: "model/data.uploading", FileSize: 4}}, files,
		"no temporary file listed, every artifact listed")
	entries, err := os.ReadDir(filepath.Join(dir, "model"))
	require.NoError(t, err)
	assert.Len(t, entries, 2, "no temporary file left")
}

// signalReader closes half at its first read, then waits for resume and
// ends.
type signalReader struct{ half, resume chan struct{} }

func (r signalReader) Read([]byte) (int, error) {
	close(r.half)
	<-r.resume
	return 0, io.EOF
}

func TestArtifactsS3(t *testing.T) {
	t.Parallel()
	s3 := testenv.S3(t)
	c := s3Client(t, s3.Getenv)
	root := "s3://" + s3.Bucket + "/mlflow/1/" + t.Name() + "/artifacts"

	t.Run("RoundTrip", func(t *testing.T) { roundTrip(t, c, root) })

	t.Run("MultipartAbove16MiB", func(t *testing.T) {
		big := make([]byte, 20<<20+123)
		_, _ = rand.Read(big)
		f := filepath.Join(t.TempDir(), "big.bin")
		require.NoError(t, os.WriteFile(f, big, 0o644))
		fh, err := os.Open(f)
		require.NoError(t, err)
		defer fh.Close()
		require.NoError(t, c.UploadArtifact(t.Context(), root, "big/big.bin", fh))
		// And a body of no known size, sent in parts too.
		require.NoError(t, c.UploadArtifact(t.Context(), root, "big/stream.bin", io.MultiReader(bytes.NewReader(big))))

		st := statObject(t, s3, strings.TrimPrefix(root, "s3://"+s3.Bucket+"/")+"/big/big.bin")
		assert.Equal(t, int64(len(big)), st.Size)
		assert.Contains(t, st.ETag, "-", "a multipart upload's ETag ends with -<parts>: %s", st.ETag)
		for _, name := range []string{"big/big.bin", "big/stream.bin"} {
			body, err := c.DownloadArtifact(t.Context(), root, name)
			require.NoError(t, err)
			got, err := io.ReadAll(body)
			_ = body.Close()
			require.NoError(t, err)
			assert.True(t, bytes.Equal(big, got), "%s came back changed", name)
		}
	})

	t.Run("UploadExtraArgs", func(t *testing.T) {
		cx := s3Client(t, func(k string) string {
			if k == mlflow.EnvS3UploadExtraArgs {
				return `{"ContentType": "text/x-playbook", "Metadata": {"team": "churn"}}`
			}
			return s3.Getenv(k)
		})
		require.NoError(t, cx.UploadArtifact(t.Context(), root, "extra/a.bin", strings.NewReader("x")))
		st := statObject(t, s3, strings.TrimPrefix(root, "s3://"+s3.Bucket+"/")+"/extra/a.bin")
		assert.Equal(t, "text/x-playbook", st.ContentType)
		assert.Equal(t, "churn", st.UserMetadata["Team"])
	})

	t.Run("RefusedCredentials", func(t *testing.T) {
		const wrong = "WRONGsecretVALUE0123456789"
		cx := s3Client(t, func(k string) string {
			if k == mlflow.EnvAWSSecretKey {
				return wrong
			}
			return s3.Getenv(k)
		})
		err := cx.CheckArtifactStore(t.Context(), root)
		require.ErrorIs(t, err, mlflow.ErrPermissionDenied)
		assert.Contains(t, err.Error(), "refuses the credentials")
		assert.Contains(t, err.Error(), s3.Endpoint, "the error says where")
		assert.Contains(t, err.Error(), root, "the error says what")
		for _, op := range []error{err,
			cx.UploadArtifact(t.Context(), root, "x", strings.NewReader("x")),
			func() error { _, err := cx.ListArtifacts(t.Context(), root, ""); return err }(),
			func() error { _, err := cx.DownloadArtifact(t.Context(), root, "notes.txt"); return err }(),
		} {
			require.Error(t, op)
			assertNoS3Secret(t, op.Error(), wrong, s3)
		}
	})

	t.Run("MissingBucket", func(t *testing.T) {
		err := c.CheckArtifactStore(t.Context(), "s3://no-such-bucket-here/x")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		assert.Contains(t, err.Error(), "no-such-bucket-here")
	})

	t.Run("Unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := "http://" + ln.Addr().String()
		require.NoError(t, ln.Close())
		cx := s3Client(t, func(k string) string {
			if k == mlflow.EnvS3EndpointURL {
				return closed
			}
			return s3.Getenv(k)
		})
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		err = cx.CheckArtifactStore(ctx, root)
		require.ErrorIs(t, err, mlflow.ErrUnavailable)
		assert.Contains(t, err.Error(), "cannot reach")
		assert.Contains(t, err.Error(), closed)
		assertNoS3Secret(t, err.Error(), "", s3)
	})

	t.Run("NoSecretPrinted", func(t *testing.T) {
		cfg, err := mlflow.ConfigFromEnv(s3.Getenv)
		require.NoError(t, err)
		var logs bytes.Buffer
		slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "s3", cfg.S3)
		for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%#v %+v %x", cfg, cfg.S3, cfg.S3), fmt.Sprintf("%+v", c), logs.String()} {
			assertNoS3Secret(t, s, "", s3)
		}
	})

	t.Run("Relay", func(t *testing.T) {
		// A kernel's client reads through its parent, which holds the keys.
		allowed := "s3://" + s3.Bucket + "/mlflow/"
		srv := httptest.NewServer(mlflow.ArtifactRelayHandler(c, func(_ context.Context, uri string) (string, string, bool) {
			return uri, "", strings.HasPrefix(uri, allowed)
		}))
		t.Cleanup(srv.Close)
		kernel, err := mlflow.New(mlflow.DefaultConfig(srv.URL), mlflow.WithArtifactRelay())
		require.NoError(t, err)
		require.NoError(t, c.UploadArtifact(t.Context(), root, "relay/MLmodel", strings.NewReader("flavors: {}\n")))
		files, err := kernel.ListArtifacts(t.Context(), root, "relay")
		require.NoError(t, err)
		assert.Equal(t, []mlflow.FileInfo{{Path: "relay/MLmodel", FileSize: 12}}, files)
		body, err := kernel.DownloadArtifact(t.Context(), root, "relay/MLmodel")
		require.NoError(t, err)
		b, _ := io.ReadAll(body)
		_ = body.Close()
		assert.Equal(t, "flavors: {}\n", string(b))
		require.NoError(t, kernel.CheckArtifactStore(t.Context(), root))

		err = kernel.UploadArtifact(t.Context(), root, "relay/x", strings.NewReader("x"))
		var apiErr *mlflow.APIError
		require.ErrorAs(t, err, &apiErr, "the relay handler reads only")
		assert.Equal(t, http.StatusMethodNotAllowed, apiErr.StatusCode)
		_, err = kernel.ListArtifacts(t.Context(), "s3://"+s3.Bucket+"/elsewhere", "")
		assert.ErrorIs(t, err, mlflow.ErrPermissionDenied, "a root the parent does not allow")
		_, err = kernel.DownloadArtifact(t.Context(), "file:///etc", "passwd")
		assert.ErrorIs(t, err, mlflow.ErrPermissionDenied)
		_, err = kernel.DownloadArtifact(t.Context(), root, "relay/absent")
		assert.ErrorIs(t, err, mlflow.ErrNotFound)
	})
}

func TestS3ConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for name, tc := range map[string]struct {
		getenv func(string) string
		want   string
	}{
		"UnknownExtraArg": {env(mlflow.EnvS3UploadExtraArgs, `{"ACL": "public-read"}`), `key "ACL" is not supported by this client (supported: ServerSideEncryption`},
		"NotJSON":         {env(mlflow.EnvS3UploadExtraArgs, `ServerSideEncryption=AES256`), "not a JSON object"},
		"BadSSE":          {env(mlflow.EnvS3UploadExtraArgs, `{"ServerSideEncryption": "rot13"}`), "expected AES256 or aws:kms"},
		"KeyWithoutSSE":   {env(mlflow.EnvS3UploadExtraArgs, `{"SSEKMSKeyId": "k"}`), "SSEKMSKeyId needs"},
		"IgnoreTLS":       {env(mlflow.EnvS3IgnoreTLS, "maybe"), mlflow.EnvS3IgnoreTLS},
		"Endpoint":        {env(mlflow.EnvS3EndpointURL, "ftp://store"), "expected an http:// or https:// URL"},
		"EndpointCreds":   {env(mlflow.EnvS3EndpointURL, "http://AKIAXX:hunter2secret@store:9000"), "holds credentials"},
		"HalfKeys":        {env(mlflow.EnvAWSAccessKeyID, "AKIAEXAMPLE"), "must be set together"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mlflow.ConfigFromEnv(tc.getenv)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2secret")
		})
	}
	cfg, err := mlflow.ConfigFromEnv(env(mlflow.EnvS3UploadExtraArgs, `{"ServerSideEncryption": "AES256", "ContentType": "application/x-model"}`,
		mlflow.EnvS3IgnoreTLS, "true", mlflow.EnvAWSProfile, "team", mlflow.EnvAWSRegion, "eu-west-3"))
	require.NoError(t, err)
	assert.True(t, cfg.S3.IgnoreTLS)
	assert.Equal(t, "team", cfg.S3.Profile)
	assert.Equal(t, "eu-west-3", cfg.S3.Region)
	assert.Equal(t, "AES256", cfg.S3.UploadExtra["ServerSideEncryption"])
}

// statObject reads an object's metadata with a client of the test's own.
func statObject(t *testing.T, s3 testenv.S3Store, key string) minio.ObjectInfo {
	t.Helper()
	u, err := url.Parse(s3.Endpoint)
	require.NoError(t, err)
	mc, err := minio.New(u.Host, &minio.Options{Creds: miniocreds.NewStaticV4(s3.AccessKeyID, s3.SecretAccessKey, ""),
		Region: s3.Region, BucketLookup: minio.BucketLookupPath})
	require.NoError(t, err)
	st, err := mc.StatObject(t.Context(), s3.Bucket, key, minio.StatObjectOptions{})
	require.NoError(t, err)
	return st
}

// assertNoS3Secret fails when s shows the store's keys or extra.
func assertNoS3Secret(t *testing.T, s, extra string, s3 testenv.S3Store) {
	t.Helper()
	for _, secret := range []string{s3.SecretAccessKey, s3.AccessKeyID, extra} {
		if secret != "" {
			assert.NotContains(t, s, secret, "a secret in: %s", s)
		}
	}
}
