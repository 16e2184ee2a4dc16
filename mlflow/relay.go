package mlflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// A kernel process holds no credentials and opens no socket: the artifacts
// it reads from an s3:// bucket or a file:// folder are read for it by its
// parent, which holds the S3 settings. Its client (WithArtifactRelay) sends
// those reads to the parent's RelayPath endpoints, served by
// ArtifactRelayHandler over the parent's own client.

// RelayPath is the path, under the tracking URI, of the artifact relay:
// RelayPath+"/list" and RelayPath+"/get", with the query parameters uri
// and path.
const RelayPath = "/rpc/artifacts"

// artifactRelay marks a client whose direct artifact reads go to its parent.
type artifactRelay struct{}

// WithArtifactRelay makes the client read s3:// and file:// artifacts
// through the tracking URI's RelayPath endpoints (the parent of a kernel
// process) instead of reaching the store itself, and upload them with a
// PUT of RelayPath+"/put", which the parent records.
func WithArtifactRelay() Option { return func(c *Client) { c.relay = &artifactRelay{} } }

// relayBackend reads one direct artifact URI through the relay.
type relayBackend struct {
	c   *Client
	uri string
}

func (r relayBackend) query(segs []string) url.Values {
	return url.Values{"uri": {r.uri}, "path": {strings.Join(segs, "/")}}
}

func (r relayBackend) put(ctx context.Context, segs []string, body io.Reader) error {
	u := strings.TrimPrefix(RelayPath, "/") + "/put?" + r.query(segs).Encode()
	req, err := r.c.newRequest(ctx, http.MethodPut, u, body)
	if err != nil {
		return err
	}
	return r.c.do(req, retrySafe, nil)
}

func (r relayBackend) get(ctx context.Context, segs []string) (io.ReadCloser, error) {
	req, err := r.c.newRequest(ctx, http.MethodGet, strings.TrimPrefix(RelayPath, "/")+"/get", r.query(segs))
	if err != nil {
		return nil, err
	}
	resp, err := r.c.send(req, retrySafe)
	if err != nil {
		return nil, err
	}
	return &relayBody{ReadCloser: resp.Body, want: resp.ContentLength, what: strings.Join(segs, "/"), uri: r.uri}, nil
}

// relayBody is a file read through the relay: one that ends before the
// length the parent announced is an error, not a shorter file (the parent
// aborts the answer when its own read fails, which ends the body with an
// error too).
type relayBody struct {
	io.ReadCloser
	want, n   int64 // want is -1 when the parent did not say
	what, uri string
}

func (b *relayBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF && b.want >= 0 && b.n != b.want:
		err = fmt.Errorf("mlflow: reading %s of %s through the artifact relay: %d bytes of %d: %w", b.what, RedactURL(b.uri), b.n, b.want, io.ErrUnexpectedEOF)
	case err != nil && err != io.EOF:
		err = fmt.Errorf("mlflow: reading %s of %s through the artifact relay after %d bytes: %w", b.what, RedactURL(b.uri), b.n, err)
	}
	return n, err
}

func (r relayBackend) list(ctx context.Context, segs []string) ([]FileInfo, error) {
	req, err := r.c.newRequest(ctx, http.MethodGet, strings.TrimPrefix(RelayPath, "/")+"/list", r.query(segs))
	if err != nil {
		return nil, err
	}
	var out struct {
		Files []FileInfo `json:"files"`
	}
	if err := r.c.do(req, retrySafe, &out); err != nil {
		return nil, err
	}
	return out.Files, nil
}

func (r relayBackend) probe(ctx context.Context, segs []string) error {
	_, err := r.list(ctx, segs)
	return err
}

// ArtifactRelayHandler serves a kernel's relayed reads (WithArtifactRelay)
// with c, the parent's client: GET .../list and .../get of s3:// and file://
// artifact URIs under a root that allow accepts (nil: none). allow returns
// that root and the path of the URI under it ("" for the root itself); the
// files are read as paths under that root, so a file:// root is the folder
// opened, through an os.Root. Errors are MLflow-shaped JSON, their text the
// client's (which shows no secret); a file whose read fails midway ends its
// answer with an error, never shorter.
func ArtifactRelayHandler(c *Client, allow func(ctx context.Context, artifactURI string) (root, sub string, ok bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeRelayError(w, http.StatusMethodNotAllowed, codeInvalidParameter,
				fmt.Sprintf("mlflow: the artifact relay answers GET %s/list and GET %s/get, not %s", RelayPath, RelayPath, req.Method))
			return
		}
		uri, rel := req.URL.Query().Get("uri"), req.URL.Query().Get("path")
		scheme, _, _ := strings.Cut(uri, ":")
		var root, sub string
		ok := false
		if (scheme == "s3" || scheme == "file") && allow != nil {
			root, sub, ok = allow(req.Context(), uri)
		}
		if !ok {
			relayError(w, fmt.Errorf("%w: the artifact relay reads only the s3:// and file:// artifact roots of this registry, not %s",
				ErrPermissionDenied, RedactURL(uri)))
			return
		}
		if sub != "" && rel != "" {
			rel = sub + "/" + rel
		} else if sub != "" {
			rel = sub
		}
		switch {
		case strings.HasSuffix(req.URL.Path, "/list"):
			files, err := c.ListArtifacts(req.Context(), root, rel)
			if err != nil {
				relayError(w, err)
				return
			}
			if sub != "" {
				// Paths relative to the URI the kernel named, not to root.
				for i := range files {
					files[i].Path = strings.TrimPrefix(files[i].Path, sub+"/")
				}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"files": files})
		case strings.HasSuffix(req.URL.Path, "/get"):
			body, err := c.DownloadArtifact(req.Context(), root, rel)
			if err != nil {
				relayError(w, err)
				return
			}
			defer body.Close()
			serveBody(w, body)
		default:
			http.NotFound(w, req)
		}
	})
}

// serveBody answers a file: its length announced when known, and the
// answer aborted (the connection closed before its end) when reading it
// fails, so that the reader sees an error, never a shorter file.
func serveBody(w http.ResponseWriter, body io.Reader) {
	size := int64(-1)
	if s, ok := body.(interface{ Size() int64 }); ok {
		size = s.Size()
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if size >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}
	n, err := io.Copy(w, body)
	if err != nil || (size >= 0 && n != size) {
		panic(http.ErrAbortHandler)
	}
}

// relayError answers err as MLflow would, with a status the kernel's client
// does not retry: the parent's client has retried already.
func relayError(w http.ResponseWriter, err error) {
	status, code := http.StatusBadRequest, "INTERNAL_ERROR"
	switch {
	case errors.Is(err, ErrNotFound):
		status, code = http.StatusNotFound, codeNotFound
	case errors.Is(err, ErrPermissionDenied), errors.Is(err, ErrPathEscape):
		status, code = http.StatusForbidden, codePermissionDenied
	case errors.Is(err, ErrInvalidParameter):
		status, code = http.StatusBadRequest, codeInvalidParameter
	case errors.Is(err, ErrUnavailable):
		status, code = http.StatusBadRequest, codeTemporarilyUnavail
	}
	writeRelayError(w, status, code, err.Error())
}

func writeRelayError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error_code": code, "message": msg})
}
