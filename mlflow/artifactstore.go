package mlflow

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// An artifactBackend stores the files of one kind of artifact URI: the
// tracking server's proxy, an S3 bucket reached directly, or a shared
// folder. Paths are clean segments (see splitRelPath), relative to the
// backend's root.
type artifactBackend interface {
	put(ctx context.Context, segs []string, body io.Reader) error
	// get opens the file segs; the reader has a Size() int64 method when
	// the backend knows the file's size.
	get(ctx context.Context, segs []string) (io.ReadCloser, error)
	// list lists the folder segs: each entry's Path is its name, relative
	// to the listed folder, as MLflow's proxy answers (ListArtifacts also
	// accepts a path that repeats the listed folder's path under the
	// artifact URI); a file or a missing folder lists as empty.
	list(ctx context.Context, segs []string) ([]FileInfo, error)
	// probe reads the folder segs (one entry at most), to tell an
	// unreachable store or refused credentials before anything changes.
	probe(ctx context.Context, segs []string) error
}

// schemeAdvice says what to do about an artifact URI scheme this client
// does not reach itself.
func schemeAdvice(scheme string) string {
	return fmt.Sprintf("this client reaches artifacts through the tracking server's proxy (mlflow-artifacts:/, "+
		"the server started with `mlflow server --serve-artifacts --artifacts-destination %s://...`), "+
		"or directly in s3:// buckets and file:// folders; start the server with --serve-artifacts "+
		"so that it proxies this store", scheme)
}

// locate returns the backend of artifactURI and the segments of its root.
func (c *Client) locate(artifactURI string) (artifactBackend, []string, error) {
	u, err := url.Parse(artifactURI)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: artifact URI %s does not parse", ErrInvalidParameter, RedactURL(artifactURI))
	}
	switch scheme := strings.ToLower(u.Scheme); scheme {
	case "mlflow-artifacts", "http", "https", "":
		segs, err := c.artifactRoot(artifactURI)
		return proxyBackend{c}, segs, err
	case "s3":
		if u.Host == "" {
			return nil, nil, fmt.Errorf("%w: artifact URI %s names no bucket: expected s3://<bucket>/<path>", ErrInvalidParameter, RedactURL(artifactURI))
		}
		if u.User != nil || u.RawQuery != "" {
			return nil, nil, fmt.Errorf("%w: artifact URI %s: expected s3://<bucket>/<path>, without credentials or a query", ErrInvalidParameter, RedactURL(artifactURI))
		}
		segs, err := splitRelPath(strings.TrimPrefix(u.Path, "/"))
		if err != nil {
			return nil, nil, err
		}
		if c.relay != nil {
			return relayBackend{c, artifactURI}, nil, nil
		}
		return &s3Backend{d: c.direct, bucket: u.Host}, segs, nil
	case "file":
		if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
			return nil, nil, fmt.Errorf("%w: artifact URI %s names host %q: a file:// artifact root must be a folder of this machine (file:///path)",
				ErrInvalidParameter, RedactURL(artifactURI), u.Host)
		}
		if u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
			return nil, nil, fmt.Errorf("%w: artifact URI %s: expected file:///<absolute path>", ErrInvalidParameter, RedactURL(artifactURI))
		}
		// The folder is the one the URI spells: url.Parse decodes
		// "%2e%2e" into "..", which must not lead out of it.
		if _, seg, ok := RootSegments(u.Path); !ok {
			return nil, nil, fmt.Errorf("%w: artifact URI %s: its path segment %q is not a folder name", ErrPathEscape, RedactURL(artifactURI), seg)
		}
		if c.relay != nil {
			return relayBackend{c, artifactURI}, nil, nil
		}
		return fileBackend{dir: filepath.Clean(filepath.FromSlash(u.Path))}, nil, nil
	default:
		return nil, nil, fmt.Errorf("%w: artifact URI %s: scheme %q is not supported: %s",
			ErrInvalidParameter, RedactURL(artifactURI), u.Scheme, schemeAdvice(u.Scheme))
	}
}

// CheckArtifactStore reads the artifact store of artifactURI (a listing of
// one entry at most) and returns an error saying what failed and where when
// the store cannot be reached or refuses the credentials. A missing folder
// is not an error: a new run's artifact root may have no file yet.
func (c *Client) CheckArtifactStore(ctx context.Context, artifactURI string) error {
	b, root, err := c.locate(artifactURI)
	if err != nil {
		return err
	}
	if err := b.probe(ctx, root); err != nil {
		return fmt.Errorf("mlflow: the artifact store of %s: %w", RedactURL(artifactURI), err)
	}
	return nil
}

// proxyBackend is the tracking server's artifact proxy.
type proxyBackend struct{ c *Client }

func (p proxyBackend) put(ctx context.Context, segs []string, body io.Reader) error {
	req, err := p.c.newRequest(ctx, http.MethodPut, artifactEndpoint(segs), body)
	if err != nil {
		return err
	}
	return p.c.do(req, retrySafe, nil)
}

func (p proxyBackend) get(ctx context.Context, segs []string) (io.ReadCloser, error) {
	req, err := p.c.newRequest(ctx, http.MethodGet, artifactEndpoint(segs), nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.c.send(req, retrySafe)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

func (p proxyBackend) list(ctx context.Context, segs []string) ([]FileInfo, error) {
	q := url.Values{}
	if len(segs) > 0 {
		q.Set("path", strings.Join(segs, "/"))
	}
	req, err := p.c.newRequest(ctx, http.MethodGet, artifactsPrefix, q)
	if err != nil {
		return nil, err
	}
	var out struct {
		Files []FileInfo `json:"files"`
	}
	if err := p.c.do(req, retrySafe, &out); err != nil {
		return nil, err
	}
	return out.Files, nil
}

func (p proxyBackend) probe(ctx context.Context, segs []string) error {
	_, err := p.list(ctx, segs)
	return err
}

// s3Direct is the S3 client of a Client, made at its first use.
type s3Direct struct {
	cfg     S3Config // with its secrets: never printed
	once    sync.Once
	client  *minio.Client
	err     error
	where   string // the endpoint, for messages
	secrets []string
}

// s3PartSize is the part of a multipart upload (minio-go's minimum), used
// when the size of a body is not known.
const s3PartSize = 16 << 20

func newS3Direct(cfg S3Config) *s3Direct {
	d := &s3Direct{cfg: cfg, secrets: cfg.secrets(), where: "AWS S3"}
	if cfg.EndpointURL != "" {
		d.where = EnvS3EndpointURL + " " + RedactURL(cfg.EndpointURL)
	}
	return d
}

// String never shows the keys.
func (d *s3Direct) String() string { return "s3 at " + d.where }

func (d *s3Direct) connect() (*minio.Client, error) {
	d.once.Do(func() {
		cfg := d.cfg
		endpoint, secure := "s3.amazonaws.com", true
		lookup := minio.BucketLookupAuto
		if cfg.EndpointURL != "" {
			u, err := url.Parse(cfg.EndpointURL)
			if err != nil {
				d.err = fmt.Errorf("%w: %s %s is not a URL", ErrInvalidParameter, EnvS3EndpointURL, RedactURL(cfg.EndpointURL))
				return
			}
			if p := strings.Trim(u.Path, "/"); p != "" {
				d.err = fmt.Errorf("%w: %s %s: an S3 endpoint has no path", ErrInvalidParameter, EnvS3EndpointURL, RedactURL(cfg.EndpointURL))
				return
			}
			endpoint, secure = u.Host, u.Scheme == "https"
			lookup = minio.BucketLookupPath // as boto3 does for a custom endpoint
		}
		var creds *miniocreds.Credentials
		switch {
		case cfg.AccessKeyID != "":
			creds = miniocreds.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)
		default:
			file := cfg.CredentialsFile
			if file == "" {
				if home, err := os.UserHomeDir(); err == nil {
					file = filepath.Join(home, ".aws", "credentials")
				}
			}
			profile := cfg.Profile
			if profile == "" {
				profile = "default"
			}
			creds = miniocreds.NewChainCredentials([]miniocreds.Provider{
				&miniocreds.FileAWSCredentials{Filename: file, Profile: profile},
				&miniocreds.IAM{},
			})
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.IgnoreTLS}
		region := cfg.Region
		if region == "" {
			region = "us-east-1"
		}
		d.client, d.err = minio.New(endpoint, &minio.Options{Creds: creds, Secure: secure, Region: region,
			BucketLookup: lookup, Transport: tr, MaxRetries: 3})
		if d.err != nil {
			d.err = d.fail("connecting", "", d.err)
		}
	})
	return d.client, d.err
}

// s3Error is an error of the S3 store: its text scrubbed of the keys, and
// the sentinel it matches.
type s3Error struct {
	msg  string
	kind error
}

func (e *s3Error) Error() string { return e.msg }
func (e *s3Error) Unwrap() error { return e.kind }

// fail describes err of op on key, naming the store, never a secret.
func (d *s3Direct) fail(op, key string, err error) error {
	kind := ErrUnavailable
	what := err.Error()
	resp := minio.ToErrorResponse(err)
	var netErr net.Error
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		kind = err
	case resp.Code == "NoSuchKey" || resp.Code == "NoSuchBucket" || resp.Code == "NotFound":
		kind = ErrNotFound
		what = resp.Code + ": " + resp.Message
	case resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" || resp.Code == "InvalidToken" ||
		resp.Code == "ExpiredToken" || resp.Code == "AccessDenied" || resp.StatusCode == http.StatusForbidden:
		kind = ErrPermissionDenied
		what = fmt.Sprintf("the store refuses the credentials (%s: %s): check %s and %s, or %s",
			resp.Code, resp.Message, EnvAWSAccessKeyID, EnvAWSSecretKey, EnvAWSProfile)
	case resp.Code != "":
		kind = ErrInvalidParameter
		what = resp.Code + ": " + resp.Message
	case errors.As(err, &urlErr) || errors.As(err, &netErr):
		what = "cannot reach the store: " + err.Error()
	}
	msg := fmt.Sprintf("%s on %s: %s", op, d.where, what)
	if key != "" {
		msg = fmt.Sprintf("%s %s on %s: %s", op, key, d.where, what)
	}
	for _, s := range d.secrets {
		msg = strings.ReplaceAll(msg, s, "REDACTED")
	}
	return &s3Error{msg: msg, kind: kind}
}

// s3Backend is one bucket of the direct S3 store.
type s3Backend struct {
	d      *s3Direct
	bucket string
}

func (b *s3Backend) key(segs []string) string { return strings.Join(segs, "/") }

func (b *s3Backend) uri(key string) string { return "s3://" + b.bucket + "/" + key }

// putOptions are the upload options of MLFLOW_S3_UPLOAD_EXTRA_ARGS (checked
// by S3Config.validate) for the file name.
func putOptions(extra map[string]any, name string) (minio.PutObjectOptions, error) {
	opts := minio.PutObjectOptions{ContentType: mime.TypeByExtension(path.Ext(name))}
	str := func(k string) string { s, _ := extra[k].(string); return s }
	if v := str("ContentType"); v != "" {
		opts.ContentType = v
	}
	opts.ContentEncoding, opts.ContentDisposition = str("ContentEncoding"), str("ContentDisposition")
	opts.ContentLanguage, opts.CacheControl, opts.StorageClass = str("ContentLanguage"), str("CacheControl"), str("StorageClass")
	if m, ok := extra["Metadata"].(map[string]any); ok {
		opts.UserMetadata = map[string]string{}
		for k, v := range m {
			opts.UserMetadata[k], _ = v.(string)
		}
	}
	switch str("ServerSideEncryption") {
	case "AES256":
		opts.ServerSideEncryption = encrypt.NewSSE()
	case "aws:kms":
		sse, err := encrypt.NewSSEKMS(str("SSEKMSKeyId"), nil)
		if err != nil {
			return opts, fmt.Errorf("%w: %s: %v", ErrInvalidParameter, EnvS3UploadExtraArgs, err)
		}
		opts.ServerSideEncryption = sse
	}
	return opts, nil
}

// bodySize is the number of bytes left in body, -1 when it cannot be told.
func bodySize(body io.Reader) int64 {
	switch r := body.(type) {
	case interface{ Len() int }:
		return int64(r.Len())
	case io.Seeker:
		cur, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		end, err := r.Seek(0, io.SeekEnd)
		if _, err2 := r.Seek(cur, io.SeekStart); err != nil || err2 != nil {
			return -1
		}
		return end - cur
	}
	return -1
}

func (b *s3Backend) put(ctx context.Context, segs []string, body io.Reader) error {
	mc, err := b.d.connect()
	if err != nil {
		return err
	}
	key := b.key(segs)
	opts, err := putOptions(b.d.cfg.UploadExtra, key)
	if err != nil {
		return err
	}
	size := bodySize(body)
	if size < 0 {
		opts.PartSize = s3PartSize
	}
	if _, err := mc.PutObject(ctx, b.bucket, key, body, size, opts); err != nil {
		return b.d.fail("uploading", b.uri(key), err)
	}
	return nil
}

func (b *s3Backend) get(ctx context.Context, segs []string) (io.ReadCloser, error) {
	mc, err := b.d.connect()
	if err != nil {
		return nil, err
	}
	key := b.key(segs)
	obj, err := mc.GetObject(ctx, b.bucket, key, minio.GetObjectOptions{})
	var st minio.ObjectInfo
	if err == nil {
		st, err = obj.Stat() // the request goes out here: its error now, not at the first Read
	}
	if err != nil {
		if obj != nil {
			_ = obj.Close()
		}
		return nil, b.d.fail("downloading", b.uri(key), err)
	}
	return s3Object{obj, st.Size}, nil
}

// s3Object is an object being downloaded, of a known size.
type s3Object struct {
	*minio.Object
	size int64
}

// Size is the object's size.
func (o s3Object) Size() int64 { return o.size }

func (b *s3Backend) list(ctx context.Context, segs []string) ([]FileInfo, error) {
	return b.listN(ctx, segs, 0)
}

func (b *s3Backend) listN(ctx context.Context, segs []string, max int) ([]FileInfo, error) {
	mc, err := b.d.connect()
	if err != nil {
		return nil, err
	}
	prefix := b.key(segs)
	if prefix != "" {
		prefix += "/"
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []FileInfo
	for obj := range mc.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: prefix, MaxKeys: max}) {
		if obj.Err != nil {
			return nil, b.d.fail("listing", b.uri(prefix), obj.Err)
		}
		name := strings.TrimPrefix(obj.Key, prefix)
		dir := strings.HasSuffix(name, "/")
		name = strings.TrimSuffix(name, "/")
		if name == "" {
			continue // the folder's own marker object
		}
		fi := FileInfo{Path: name, IsDir: dir}
		if !dir {
			fi.FileSize = obj.Size
		}
		out = append(out, fi)
		if max > 0 && len(out) >= max {
			break
		}
	}
	return out, nil
}

func (b *s3Backend) probe(ctx context.Context, segs []string) error {
	_, err := b.listN(ctx, segs, 1)
	return err
}

// fileBackend is a folder of this machine (a shared file system): every
// path is opened through an os.Root, so none leaves it.
type fileBackend struct{ dir string }

func (f fileBackend) fail(op string, segs []string, err error) error {
	kind := ErrInvalidParameter
	switch {
	case errors.Is(err, fs.ErrNotExist):
		kind = ErrNotFound
	case errors.Is(err, fs.ErrPermission):
		kind = ErrPermissionDenied
	}
	return fmt.Errorf("%w: %s %s in the artifact folder %s: %v", kind, op, strings.Join(segs, "/"), f.dir, err)
}

func (f fileBackend) open() (*os.Root, error) {
	r, err := os.OpenRoot(f.dir)
	if err != nil {
		return nil, f.fail("opening", nil, err)
	}
	return r, nil
}

func (f fileBackend) put(ctx context.Context, segs []string, body io.Reader) error {
	if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return f.fail("creating", nil, err)
	}
	r, err := f.open()
	if err != nil {
		return err
	}
	defer r.Close()
	name := filepath.Join(segs...)
	dir := filepath.Dir(name)
	if dir != "." {
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return f.fail("creating", segs[:len(segs)-1], err)
		}
	}
	// The file is written under a name of its own (two uploads of one
	// file write two temporary files) and renamed when complete; its mode
	// is Create's, the umask deciding.
	var tmp string
	var w *os.File
	for range 10 {
		tmp = filepath.Join(dir, uploadTempName())
		if w, err = r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666); !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return f.fail("writing", segs, err)
	}
	_, err = io.Copy(w, readerCtx{ctx, body})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, name)
	}
	if err != nil {
		_ = r.Remove(tmp)
		return f.fail("writing", segs, err)
	}
	return nil
}

// uploadTempPrefix starts the name of a file being uploaded to a file://
// folder: uploadTempPrefix and 16 hex digits (isUploadTemp), which a
// listing does not show.
const uploadTempPrefix = ".playbook-uploading-"

func uploadTempName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return uploadTempPrefix + hex.EncodeToString(b[:])
}

// isUploadTemp reports whether name is one uploadTempName makes.
func isUploadTemp(name string) bool {
	h, ok := strings.CutPrefix(name, uploadTempPrefix)
	if !ok || len(h) != 16 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil
}

// readerCtx stops a copy when ctx ends.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// rootFile closes its os.Root with the file.
type rootFile struct {
	*os.File
	root *os.Root
	size int64
}

// Size is the file's size when it was opened.
func (f rootFile) Size() int64 { return f.size }

func (f rootFile) Close() error {
	err := f.File.Close()
	_ = f.root.Close()
	return err
}

func (f fileBackend) get(_ context.Context, segs []string) (io.ReadCloser, error) {
	r, err := f.open()
	if err != nil {
		return nil, err
	}
	fh, err := r.Open(filepath.Join(segs...))
	var fi os.FileInfo
	if err == nil {
		if fi, err = fh.Stat(); err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("not a regular file")
		}
		if err != nil {
			_ = fh.Close()
		}
	}
	if err != nil {
		_ = r.Close()
		return nil, f.fail("reading", segs, err)
	}
	return rootFile{fh, r, fi.Size()}, nil
}

func (f fileBackend) list(_ context.Context, segs []string) ([]FileInfo, error) {
	r, err := os.OpenRoot(f.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, f.fail("opening", nil, err)
	}
	defer r.Close()
	name := "."
	if len(segs) > 0 {
		name = filepath.Join(segs...)
	}
	entries, err := fs.ReadDir(r.FS(), filepath.ToSlash(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		// A file lists as empty, as in MLflow.
		if fi, serr := r.Stat(name); serr == nil && !fi.IsDir() {
			return nil, nil
		}
		return nil, f.fail("listing", segs, err)
	}
	var out []FileInfo
	for _, e := range entries {
		if isUploadTemp(e.Name()) {
			continue // an upload under way
		}
		fi := FileInfo{Path: e.Name(), IsDir: e.IsDir()}
		if !e.IsDir() {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue // a symbolic link or a device: not an artifact
			}
			fi.FileSize = info.Size()
		}
		out = append(out, fi)
	}
	return out, nil
}

func (f fileBackend) probe(ctx context.Context, segs []string) error {
	_, err := f.list(ctx, segs)
	return err
}
