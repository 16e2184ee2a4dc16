package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/playbook-mlops/playbook/internal/pyurl"
)

// artifactsDir is the artifact folder in the data directory.
const artifactsDir = "artifacts"

// artifactsPrefix is where the proxy serves artifacts.
const artifactsPrefix = "/api/2.0/mlflow-artifacts/artifacts"

// errInvalidPath is validate_path_is_safe's one answer.
var errInvalidPath = errInvalid("Invalid path")

// safeArtifactPath is MLflow's validate_path_is_safe: the path is
// percent-decoded until it stops changing (at most 10 rounds), control
// characters are escaped, and "#", "..", absolute paths (POSIX or
// Windows) are refused. It returns the decoded path, which MLflow uses.
func safeArtifactPath(p string) (string, *apiError) {
	decoded, ok := decodeRepeatedly(p)
	if !ok {
		return "", errInvalidPath
	}
	var b strings.Builder
	for _, r := range decoded {
		if r < 0x20 || r == 0x7f {
			fmt.Fprintf(&b, "%%%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	p = b.String()
	if strings.Contains(p, "#") {
		return "", errInvalidPath
	}
	if strings.HasPrefix(p, "file:") {
		p = strings.TrimPrefix(strings.TrimPrefix(p, "file:"), "//")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", errInvalidPath
		}
	}
	if strings.HasPrefix(p, "/") || isWindowsAbs(p) {
		return "", errInvalidPath
	}
	return p, nil
}

// isWindowsAbs is PureWindowsPath(p).is_absolute(): a drive and a root
// (C:\x, C:/x) or a UNC share (\\host\share, //host/share).
func isWindowsAbs(p string) bool {
	w := strings.ReplaceAll(p, `\`, "/")
	if len(w) >= 3 && w[1] == ':' && w[2] == '/' && (w[0]|0x20 >= 'a' && w[0]|0x20 <= 'z') {
		return true
	}
	if strings.HasPrefix(w, "//") {
		rest := strings.TrimPrefix(w, "//")
		host, share, _ := strings.Cut(rest, "/")
		share, _, _ = strings.Cut(share, "/")
		return host != "" && share != ""
	}
	return false
}

// decodeRepeatedly is mlflow.utils.uri._decode: unquote until stable.
func decodeRepeatedly(s string) (string, bool) {
	for range 10 {
		d := pyurl.Unquote(s)
		if d == s {
			return s, true
		}
		s = d
	}
	return s, pyurl.Unquote(s) == s
}

// rawArtifactPath is the part of the request path after prefix, as sent
// (still percent-encoded), or false when the path is not under prefix.
func rawArtifactPath(r *http.Request) (string, bool) {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, artifactsPrefix+"/") {
		return "", false
	}
	return strings.TrimPrefix(p, artifactsPrefix+"/"), true
}

// localName turns a safe slash path into a name for s.artifacts.
func localName(p string) string {
	var segs []string
	for _, s := range strings.Split(p, "/") {
		if s != "" && s != "." {
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		return "."
	}
	return filepath.Join(segs...)
}

// textExtensions are served as text/plain (mlflow/utils/mime_type_utils.py).
var textExtensions = map[string]bool{
	"txt": true, "log": true, "err": true, "cfg": true, "conf": true, "cnf": true, "cf": true, "ini": true,
	"properties": true, "prop": true, "hocon": true, "toml": true, "yaml": true, "yml": true, "xml": true,
	"json": true, "js": true, "py": true, "py3": true, "csv": true, "tsv": true, "md": true, "rst": true,
	"ipynb": true, "MLmodel": true, "MLproject": true,
}

// guessMimeType is MLflow's _guess_mime_type.
func guessMimeType(name string) string {
	ext := strings.TrimPrefix(path.Ext(name), ".")
	if ext == "" {
		ext = name
	}
	if textExtensions[ext] {
		return "text/plain"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		mt, _, err := mime.ParseMediaType(t)
		if err == nil {
			return mt
		}
	}
	return "application/octet-stream"
}

// detail is FastAPI's error body, which MLflow's artifact endpoints use
// for some refusals.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"detail":%s}`, pyJSON(detail))
}

func (s *Server) downloadArtifact(w http.ResponseWriter, r *http.Request) {
	raw, _ := rawArtifactPath(r)
	p, aerr := safeArtifactPath(raw)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	name := localName(p)
	f, err := s.artifacts.Open(name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		writeError(w, errNotFound("No such artifact: '%s'", p))
		return
	}
	if err != nil {
		s.fail(w, r, fmt.Errorf("artifact %s: %w", p, err))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.fail(w, r, fmt.Errorf("artifact %s: %w", p, err))
		return
	}
	if fi.IsDir() {
		writeDetail(w, http.StatusBadRequest, fmt.Sprintf("Artifact path refers to a directory, not a file: '%s'", p))
		return
	}
	base := path.Base(p)
	w.Header().Set("Content-Type", guessMimeType(base))
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": base}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

func (s *Server) uploadArtifact(w http.ResponseWriter, r *http.Request) {
	raw, _ := rawArtifactPath(r)
	p, aerr := safeArtifactPath(raw)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	if p == "" || strings.HasSuffix(p, "/") {
		writeDetail(w, http.StatusBadRequest, "Artifact path must include a filename (cannot end with '/').")
		return
	}
	if err := s.writeArtifact(localName(p), r.Body); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && (errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrInvalid) || strings.Contains(err.Error(), "not a directory")) {
			writeError(w, errInvalid("Invalid path: %s cannot be written: %v", p, pe.Err))
			return
		}
		s.fail(w, r, fmt.Errorf("writing artifact %s: %w", p, err))
		return
	}
	w.WriteHeader(http.StatusOK)
}

// writeArtifact writes body to name under the artifact root atomically:
// into a temporary file in the same folder, synced, renamed over name, and
// the folder synced, so that a crash leaves the old file or the new one,
// never a part.
func (s *Server) writeArtifact(name string, body io.Reader) error {
	dir := filepath.Dir(name)
	if dir != "." {
		_, statErr := s.artifacts.Stat(dir)
		if err := s.artifacts.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if errors.Is(statErr, fs.ErrNotExist) {
			// New folders: make their entries durable, up to the root.
			for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
				if err := s.syncDir(d); err != nil {
					return err
				}
				if d == "." {
					break
				}
			}
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, ".upload-"+hex.EncodeToString(rnd[:])+".tmp")
	f, err := s.artifacts.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if fi, serr := s.artifacts.Stat(name); serr == nil && fi.IsDir() {
			err = &fs.PathError{Op: "write", Path: name, Err: fs.ErrExist}
		}
	}
	if err == nil {
		err = s.artifacts.Rename(tmp, name)
	}
	if err != nil {
		_ = s.artifacts.Remove(tmp)
		return err
	}
	return s.syncDir(dir)
}

// syncDir makes a rename in dir durable.
func (s *Server) syncDir(dir string) error {
	d, err := s.artifacts.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

func (s *Server) listArtifacts(w http.ResponseWriter, r *http.Request) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, errInvalid("the query string does not parse: %v", err))
		return
	}
	p := ""
	if vs, ok := q["path"]; ok && len(vs) > 0 {
		var aerr *apiError
		if p, aerr = safeArtifactPath(vs[0]); aerr != nil {
			writeError(w, aerr)
			return
		}
	}
	var out struct {
		Files []fileInfoJSON `json:"files,omitempty"`
	}
	if out.Files, err = s.listDir(p); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, out)
}

// listUnder lists dir (nil: the root) under a proxied artifact location
// (mlflow-artifacts:/...), as MLflow's ListLoggedModelArtifacts replies.
func (s *Server) listUnder(location string, dir *string) (any, error) {
	root := strings.TrimPrefix(location, artifactRootURI)
	rel := ""
	if dir != nil {
		rel = *dir
	}
	files, err := s.listDir(strings.TrimSuffix(root+"/"+rel, "/"))
	if rel != "" {
		for i := range files {
			files[i].Path = rel + "/" + files[i].Path
		}
	}
	return struct {
		RootURI string         `json:"root_uri"`
		Files   []fileInfoJSON `json:"files,omitempty"`
	}{location, files}, err
}

// listDir lists the folder p of the artifact root (a safe path), sorted
// by name, each entry named by its base name; nothing when p is not a
// folder.
func (s *Server) listDir(p string) ([]fileInfoJSON, error) {
	f, err := s.artifacts.Open(localName(p))
	if err != nil {
		return nil, nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.IsDir() {
		return nil, nil
	}
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("listing artifacts %s: %w", p, err)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var out []fileInfoJSON
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".upload-") && strings.HasSuffix(e.Name(), ".tmp") {
			continue // an upload in progress, or left by a crash
		}
		info := fileInfoJSON{Path: e.Name(), IsDir: e.IsDir()}
		if !e.IsDir() {
			if fi, err := e.Info(); err == nil {
				size := fi.Size()
				info.FileSize = &size
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// listRunArtifacts is MLflow's artifacts/list: the artifacts of a run
// under path (relative to the run's artifact root), named by their path
// from that root, with the root's URI.
func (s *Server) listRunArtifacts(ctx context.Context, req *request) (any, error) {
	d := decode(req)
	runID, rel := d.runID(), d.optional("path")
	d.str("page_token")
	return d.then(func() (any, error) {
		p := ""
		if rel != nil {
			var aerr *apiError
			if p, aerr = safeArtifactPath(*rel); aerr != nil {
				return nil, aerr
			}
		}
		r, err := s.db.GetRun(ctx, runID)
		if err != nil {
			return nil, err
		}
		root := strings.TrimPrefix(r.artifactURI, artifactRootURI)
		files, err := s.listDir(path.Join(root, p))
		for i := range files {
			files[i].Path = pyJoin(p, files[i].Path)
		}
		return struct {
			RootURI string         `json:"root_uri"`
			Files   []fileInfoJSON `json:"files,omitempty"`
		}{r.artifactURI, files}, err
	})
}

// pyJoin is posixpath.join(dir, name) for a relative name, dir when not
// empty.
func pyJoin(dir, name string) string {
	if dir == "" {
		return name
	}
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}
