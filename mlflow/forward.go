package mlflow

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Forward sends req once to the tracking server, with the client's
// credentials and TLS settings, and returns the server's reply whatever its
// status. It is for a proxy that lets another client reach the server
// without holding the credentials (see internal/regproxy): unlike the
// typed methods it neither retries (the proxied client does) nor turns a
// non-2xx reply into an error. The caller must close the reply's body.
//
// req.URL must be relative, a path already escaped and an optional query,
// read relative to the tracking URI: "api/2.0/mlflow/runs/search" for a
// tracking URI http://host/base/ reaches http://host/base/api/2.0/mlflow/runs/search.
// A URL with a scheme or a host, a path starting with "/", or a path with
// "." or ".." segments is refused (ErrInvalidParameter), so that the
// credentials go nowhere but under the tracking URI.
//
// req is not modified: Forward sends a copy with req's method, headers,
// body, content length and context, except that Authorization,
// Proxy-Authorization and Cookie are removed and the client's own
// Authorization (if any) is set, and User-Agent defaults to the client's.
// The attempt is cut after Config.Timeout without progress, as every
// attempt of the client is. An error (no reply) is an *APIError, without
// secrets.
func (c *Client) Forward(req *http.Request) (*http.Response, error) {
	rel := req.URL
	if rel == nil || rel.IsAbs() || rel.Host != "" || rel.User != nil || rel.Opaque != "" ||
		strings.HasPrefix(rel.Path, "/") || hasDotSegment(rel.EscapedPath()) {
		return nil, fmt.Errorf("%w: forward: %q is not a path relative to the tracking URI", ErrInvalidParameter, RedactURL(rel.String()))
	}
	u := *c.base
	u.Path = c.base.Path + rel.Path
	if c.base.RawPath != "" || rel.RawPath != "" {
		u.RawPath = c.base.EscapedPath() + rel.EscapedPath()
	}
	u.RawQuery = rel.RawQuery
	out := req.Clone(req.Context())
	out.URL = &u
	out.Host = ""
	out.RequestURI = ""
	out.Header.Del("Authorization")
	out.Header.Del("Proxy-Authorization")
	out.Header.Del("Cookie")
	if auth := c.creds().authorization; auth != "" {
		out.Header.Set("Authorization", auth)
	}
	if out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", c.userAgent)
	}
	resp, err := c.attempt(out)
	if err != nil {
		return nil, c.transportError(out, err)
	}
	return resp, nil
}

// hasDotSegment reports whether an escaped path has a "." or ".." segment,
// its escaped forms (%2e) included.
func hasDotSegment(escaped string) bool {
	for seg := range strings.SplitSeq(escaped, "/") {
		if s, err := url.PathUnescape(seg); err != nil || s == "." || s == ".." {
			return true
		}
	}
	return false
}

// Scrub returns s with the client's secrets (token, password, the basic
// auth value) replaced by REDACTED: for text a server sent back that is to
// be shown or recorded.
func (c *Client) Scrub(s string) string { return c.scrub(s) }
