package mlflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	return resp.Body, nil
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
// artifact URIs, those allow accepts (nil: none). Errors are MLflow-shaped
// JSON, their text the client's (which shows no secret).
func ArtifactRelayHandler(c *Client, allow func(ctx context.Context, artifactURI string) bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		uri, rel := req.URL.Query().Get("uri"), req.URL.Query().Get("path")
		scheme, _, _ := strings.Cut(uri, ":")
		if req.Method != http.MethodGet || (scheme != "s3" && scheme != "file") || allow == nil || !allow(req.Context(), uri) {
			relayError(w, fmt.Errorf("%w: the artifact relay reads only the s3:// and file:// artifact roots of this registry, not %s",
				ErrPermissionDenied, RedactURL(uri)))
			return
		}
		switch {
		case strings.HasSuffix(req.URL.Path, "/list"):
			files, err := c.ListArtifacts(req.Context(), uri, rel)
			if err != nil {
				relayError(w, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"files": files})
		case strings.HasSuffix(req.URL.Path, "/get"):
			body, err := c.DownloadArtifact(req.Context(), uri, rel)
			if err != nil {
				relayError(w, err)
				return
			}
			defer body.Close()
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = io.Copy(w, body)
		default:
			http.NotFound(w, req)
		}
	})
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
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error_code": code, "message": err.Error()})
}
