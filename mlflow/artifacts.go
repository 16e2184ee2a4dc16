package mlflow

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/playbook-mlops/playbook/internal/pyurl"
)

// FileInfo describes one entry of an artifact folder. Path is relative to
// the artifact URI it was listed under, with "/" separators.
type FileInfo struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize int64  `json:"file_size"`
}

// Artifacts go through the tracking server's proxy (mlflow server
// --serve-artifacts), or straight to the store when the server does not
// proxy them (--no-serve-artifacts). An artifact URI may be:
//
//	mlflow-artifacts:/<path>
//	mlflow-artifacts://<tracking host>/<path>
//	http(s)://<tracking host>[/<base>]/api/2.0/mlflow-artifacts/artifacts/<path>
//	s3://<bucket>/<path>     reached directly with Config.S3 (MLFLOW_S3_ENDPOINT_URL, AWS_*)
//	file:///<folder>         a folder of this machine (a shared file system)
//
// The host, when named, must be the tracking server's: credentials are never
// sent elsewhere. Other schemes (gs://, wasbs://, dbfs:/, hdfs://, ...) are
// refused with a message that names the scheme. A relative path, and every
// path a listing returns, must stay under its root: an absolute path, "..",
// a backslash or a NUL is refused with ErrPathEscape before any request is
// made. A file:// folder is opened through an os.Root; its URI is refused
// with ErrPathEscape when a segment of its path is "", "." or "..", as
// written or percent-decoded ("%2e%2e"), so the folder is the one it spells.

// artifactRoot turns an artifact URI into the path under the proxy's
// artifacts endpoint, as clean segments.
func (c *Client) artifactRoot(artifactURI string) ([]string, error) {
	u, err := url.Parse(artifactURI)
	if err != nil {
		return nil, fmt.Errorf("%w: artifact URI %s does not parse", ErrInvalidParameter, RedactURL(artifactURI))
	}
	var p string
	switch strings.ToLower(u.Scheme) {
	case "mlflow-artifacts":
		if u.Opaque != "" {
			return nil, fmt.Errorf("%w: artifact URI %s: expected mlflow-artifacts:/<path>", ErrInvalidParameter, RedactURL(artifactURI))
		}
		if u.Host != "" && !strings.EqualFold(u.Host, c.base.Host) {
			return nil, fmt.Errorf("%w: artifact URI %s names host %q, not the tracking server %q: refusing to send credentials there",
				ErrInvalidParameter, RedactURL(artifactURI), u.Host, c.base.Host)
		}
		p = u.Path
	case "http", "https":
		if !strings.EqualFold(u.Scheme, c.base.Scheme) || !strings.EqualFold(u.Host, c.base.Host) {
			return nil, fmt.Errorf("%w: artifact URI %s is not on the tracking server %s: refusing to send credentials there",
				ErrInvalidParameter, RedactURL(artifactURI), c.server)
		}
		prefix := c.base.Path + artifactsPrefix
		if u.Path != prefix && !strings.HasPrefix(u.Path, prefix+"/") {
			return nil, fmt.Errorf("%w: artifact URI %s is not under %s", ErrInvalidParameter, RedactURL(artifactURI), prefix)
		}
		p = strings.TrimPrefix(u.Path, prefix)
	case "":
		return nil, fmt.Errorf("%w: artifact URI %q has no scheme: expected mlflow-artifacts:/<path>", ErrInvalidParameter, RedactURL(artifactURI))
	default:
		return nil, fmt.Errorf("%w: artifact URI %s: scheme %q is not supported: %s", ErrInvalidParameter, RedactURL(artifactURI), u.Scheme, schemeAdvice(u.Scheme))
	}
	return splitRelPath(strings.TrimPrefix(p, "/"))
}

// splitRelPath checks a relative artifact path and returns its segments,
// dropping empty and "." ones. MLflow's server percent-decodes a path until
// it stops changing before its own check, so the decoded forms are checked
// too: "%2e%2e/x" is refused like "../x".
func splitRelPath(p string) ([]string, error) {
	for d, i := p, 0; i < 10; i++ {
		if strings.HasPrefix(d, "/") || strings.ContainsAny(d, "\\\x00") || slices.Contains(strings.Split(d, "/"), "..") {
			return nil, fmt.Errorf("%w: %q", ErrPathEscape, p)
		}
		next := pyurl.Unquote(d)
		if next == d {
			break
		}
		d = next
	}
	var segs []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" && s != "." {
			segs = append(segs, s)
		}
	}
	return segs, nil
}

// RootSegments splits the path of an s3:// or file:// artifact root, as
// url.Parse decoded it, into its segments (none for "/"), each of which,
// percent-decoded until it stops changing, must be a name: not "", "." or
// "..", with no "/", backslash or NUL (one trailing "/" is allowed). When
// one is not, it returns that segment as bad, and ok false.
func RootSegments(p string) (segs []string, bad string, ok bool) {
	rest := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
	if rest == "" {
		return nil, "", true
	}
	segs = strings.Split(rest, "/")
	for _, s := range segs {
		if !plainSegment(s) {
			return nil, s, false
		}
	}
	return segs, "", true
}

// plainSegment reports whether s, and each of its percent-decoded forms,
// is a file name: not "", "." or "..", with no "/", backslash or NUL.
func plainSegment(s string) bool {
	for range 10 {
		if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\\x00") {
			return false
		}
		next := pyurl.Unquote(s)
		if next == s {
			return true
		}
		s = next
	}
	return false
}

// artifactPath resolves relPath under artifactURI into its backend and
// segments.
func (c *Client) artifactPath(artifactURI, relPath string) (artifactBackend, []string, error) {
	b, root, err := c.locate(artifactURI)
	if err != nil {
		return nil, nil, err
	}
	rel, err := splitRelPath(relPath)
	if err != nil {
		return nil, nil, err
	}
	return b, append(root, rel...), nil
}

// artifactEndpoint is the proxy endpoint of a file, each segment escaped.
func artifactEndpoint(segs []string) string {
	escaped := make([]string, len(segs))
	for i, s := range segs {
		escaped[i] = url.PathEscape(s)
	}
	return artifactsPrefix + "/" + strings.Join(escaped, "/")
}

// UploadArtifact uploads body as the file relPath under artifactURI. A body
// that is an io.Seeker (a file, a bytes.Reader) is rewound and sent again
// when a retry is needed; other bodies are sent once. The size of a body
// with a Len() int method (what is left of it) or an io.Seeker is known: an
// s3:// upload of unknown size goes in 16 MiB parts, each buffered in
// memory.
//
// MLflow Artifacts API: "Upload Artifact" (PUT /api/2.0/mlflow-artifacts/artifacts/<path>).
func (c *Client) UploadArtifact(ctx context.Context, artifactURI, relPath string, body io.Reader) error {
	b, segs, err := c.artifactPath(artifactURI, relPath)
	if err != nil {
		return err
	}
	if rel, _ := splitRelPath(relPath); len(rel) == 0 || path.Clean(relPath) == "." {
		return fmt.Errorf("%w: UploadArtifact needs a file name, got %q", ErrInvalidParameter, relPath)
	}
	return b.put(ctx, segs, body)
}

// UploadDir uploads every file under localDir to relPrefix under
// artifactURI, keeping the folder structure. Symbolic links are followed
// only when they stay inside localDir.
func (c *Client) UploadDir(ctx context.Context, artifactURI, localDir, relPrefix string) error {
	if _, _, err := c.artifactPath(artifactURI, relPrefix); err != nil {
		return err
	}
	root, err := os.OpenRoot(localDir)
	if err != nil {
		return fmt.Errorf("mlflow: UploadDir: %w", err)
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("mlflow: UploadDir: %w", err)
		}
		if d.IsDir() {
			return nil
		}
		f, err := root.Open(p)
		if err != nil {
			return fmt.Errorf("mlflow: UploadDir: %w", err)
		}
		defer f.Close()
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("mlflow: UploadDir: %s is not a regular file", filepath.Join(localDir, p))
		}
		return c.UploadArtifact(ctx, artifactURI, path.Join(relPrefix, p), f)
	})
}

// DownloadArtifact opens the file relPath under artifactURI. The caller
// must close the reader. A read that stalls for Config.Timeout fails.
//
// MLflow Artifacts API: "Download Artifact" (GET /api/2.0/mlflow-artifacts/artifacts/<path>).
func (c *Client) DownloadArtifact(ctx context.Context, artifactURI, relPath string) (io.ReadCloser, error) {
	b, segs, err := c.artifactPath(artifactURI, relPath)
	if err != nil {
		return nil, err
	}
	return b.get(ctx, segs)
}

// ListArtifacts lists the folder relPath under artifactURI ("" for the
// root). Paths in the result are relative to artifactURI, like relPath, and
// are checked like it: a listing that would lead outside is an error
// matching ErrPathEscape.
//
// MLflow Artifacts API: "List Artifacts" (GET /api/2.0/mlflow-artifacts/artifacts?path=<path>).
func (c *Client) ListArtifacts(ctx context.Context, artifactURI, relPath string) ([]FileInfo, error) {
	b, root, err := c.locate(artifactURI)
	if err != nil {
		return nil, err
	}
	rel, err := splitRelPath(relPath)
	if err != nil {
		return nil, err
	}
	var out struct{ Files []FileInfo }
	if out.Files, err = b.list(ctx, append(root, rel...)); err != nil {
		return nil, err
	}
	relDir := strings.Join(rel, "/")
	for i, f := range out.Files {
		// MLflow lists base names; accept full paths under the folder too.
		name := f.Path
		if relDir != "" {
			name = strings.TrimPrefix(name, relDir+"/")
		}
		segs, err := splitRelPath(name)
		if err != nil || len(segs) != 1 {
			return nil, fmt.Errorf("mlflow: listing %q: the server returned entry %q: %w", relPath, f.Path, ErrPathEscape)
		}
		out.Files[i].Path = path.Join(relDir, segs[0])
	}
	return out.Files, nil
}

// maxDownloadDepth bounds the folder nesting DownloadDir follows.
const maxDownloadDepth = 64

// DownloadDir downloads the folder relPath under artifactURI into localDir
// (created if needed), keeping the structure; when relPath is a file, it is
// downloaded into localDir under its base name. Every local path stays
// inside localDir: names from the server are checked before use and files
// are created through an os.Root.
func (c *Client) DownloadDir(ctx context.Context, artifactURI, relPath, localDir string) error {
	if _, _, err := c.artifactPath(artifactURI, relPath); err != nil {
		return err
	}
	if err := os.MkdirAll(localDir, 0o755); err != nil {
		return fmt.Errorf("mlflow: DownloadDir: %w", err)
	}
	root, err := os.OpenRoot(localDir)
	if err != nil {
		return fmt.Errorf("mlflow: DownloadDir: %w", err)
	}
	defer root.Close()

	entries, err := c.ListArtifacts(ctx, artifactURI, relPath)
	if err != nil {
		return err
	}
	if len(entries) == 0 && strings.Trim(relPath, "/") != "" {
		// MLflow lists a file as an empty folder: fetch it as a file.
		return c.downloadFile(ctx, root, artifactURI, relPath, path.Base(relPath))
	}
	return c.downloadEntries(ctx, root, artifactURI, relPath, entries, 0)
}

// downloadEntries downloads listed entries, relative to relPath, into root.
func (c *Client) downloadEntries(ctx context.Context, root *os.Root, artifactURI, relPath string, entries []FileInfo, depth int) error {
	if depth > maxDownloadDepth {
		return fmt.Errorf("mlflow: DownloadDir: %q nests more than %d folders", relPath, maxDownloadDepth)
	}
	prefix := strings.Trim(path.Clean("/"+relPath), "/")
	for _, e := range entries {
		local := strings.TrimPrefix(strings.TrimPrefix(e.Path, prefix), "/")
		if !filepath.IsLocal(filepath.FromSlash(local)) {
			return fmt.Errorf("mlflow: DownloadDir: entry %q: %w", e.Path, ErrPathEscape)
		}
		if !e.IsDir {
			if err := c.downloadFile(ctx, root, artifactURI, e.Path, local); err != nil {
				return err
			}
			continue
		}
		if err := root.MkdirAll(filepath.FromSlash(local), 0o755); err != nil {
			return fmt.Errorf("mlflow: DownloadDir: %w", err)
		}
		sub, err := c.ListArtifacts(ctx, artifactURI, e.Path)
		if err != nil {
			return err
		}
		if err := c.downloadEntries(ctx, root, artifactURI, relPath, sub, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// downloadFile downloads the artifact relPath to local (slash-separated,
// relative to root). A failed download leaves no partial file.
func (c *Client) downloadFile(ctx context.Context, root *os.Root, artifactURI, relPath, local string) error {
	if !filepath.IsLocal(filepath.FromSlash(local)) {
		return fmt.Errorf("mlflow: DownloadDir: %q: %w", local, ErrPathEscape)
	}
	body, err := c.DownloadArtifact(ctx, artifactURI, relPath)
	if err != nil {
		return err
	}
	defer body.Close()
	name := filepath.FromSlash(local)
	if dir := filepath.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("mlflow: DownloadDir: %w", err)
		}
	}
	f, err := root.Create(name)
	if err != nil {
		return fmt.Errorf("mlflow: DownloadDir: %w", err)
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = root.Remove(name)
		return fmt.Errorf("mlflow: downloading %q: %w", relPath, err)
	}
	return nil
}
