package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/playbook-mlops/playbook/mlflow"
)

// artifactRoots finds the artifact roots of the registry's runs and logged
// models that the kernel's relayed artifact calls (s3://, file://) name,
// and remembers them: a run's or a logged model's artifact URI does not
// change, so DownloadDir of many files asks the registry once per root,
// not once or twice per file. Only what the registry answered is kept; an
// id it does not know is asked again (the kernel may create it later).
type artifactRoots struct {
	mu    sync.Mutex
	known map[string]string // artifact URI, by "runs/<id>" or "models/<id>"
}

// find returns the artifact root of a run (…/<run id>/artifacts) or of a
// logged model (…/models/<model id>/artifacts) of the registry c that uri
// is, or is under, as MLflow lays its artifact roots out, and the path of
// uri under it ("" for the root itself). Both URIs are compared parsed:
// same scheme, same host (bucket), and the root's path segments, decoded,
// the first of uri's; a segment that is "", "." or "..", in any
// percent-encoded form, refuses the URI (see parseArtifactLoc).
func (a *artifactRoots) find(ctx context.Context, c *mlflow.Client, uri string) (root, sub string, ok bool) {
	loc, err := parseArtifactLoc(uri)
	if err != nil {
		return "", "", false
	}
	try := func(key string, get func() (string, error)) bool {
		a.mu.Lock()
		r, hit := a.known[key]
		a.mu.Unlock()
		if !hit {
			var err error
			if r, err = get(); err != nil || r == "" {
				return false // not cached: asked again next time
			}
			a.mu.Lock()
			if a.known == nil {
				a.known = map[string]string{}
			}
			a.known[key] = r
			a.mu.Unlock()
		}
		if s, err := loc.under(r); err == nil {
			root, sub = r, s
			return true
		}
		return false
	}
	segs := loc.segs
	for i := len(segs) - 1; i >= 1; i-- {
		if segs[i] != "artifacts" {
			continue
		}
		id := segs[i-1]
		if i >= 2 && segs[i-2] == "models" && try("models/"+id, func() (string, error) {
			m, err := c.GetLoggedModel(ctx, id)
			if err != nil {
				return "", err
			}
			return m.Info.ArtifactURI, nil
		}) {
			return root, sub, true
		}
		if try("runs/"+id, func() (string, error) {
			r, err := c.GetRun(ctx, id)
			if err != nil {
				return "", err
			}
			return r.Info.ArtifactURI, nil
		}) {
			return root, sub, true
		}
	}
	return "", "", false
}

// artifactLoc is a parsed s3:// or file:// artifact URI.
type artifactLoc struct {
	scheme, host string   // host: the bucket; "" for this machine's files
	segs         []string // the path, decoded once (as the stores read it)
}

// errNotUnder is the error of a URI that is not under a root.
var errNotUnder = errors.New("not under the root")

// parseArtifactLoc parses an s3://<bucket>/<path> or file:///<path>
// artifact URI (file://localhost/ is file:///), refusing one with
// credentials, a query or a fragment, and one whose path has a segment
// that is "", "." or "..", or holds "/", a backslash or a NUL, as it is
// written or percent-decoded until it stops changing (url.Parse decodes
// "%2e%2e" into ".."). One trailing "/" is allowed.
func parseArtifactLoc(uri string) (artifactLoc, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return artifactLoc{}, fmt.Errorf("%s does not parse", mlflow.RedactURL(uri))
	}
	loc := artifactLoc{scheme: strings.ToLower(u.Scheme), host: u.Host}
	switch {
	case loc.scheme != "s3" && loc.scheme != "file":
		return artifactLoc{}, fmt.Errorf("%s: not an s3:// or file:// URI", mlflow.RedactURL(uri))
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "":
		return artifactLoc{}, fmt.Errorf("%s: credentials, a query or a fragment", mlflow.RedactURL(uri))
	case loc.scheme == "s3" && loc.host == "":
		return artifactLoc{}, fmt.Errorf("%s names no bucket", mlflow.RedactURL(uri))
	case loc.scheme == "file" && strings.EqualFold(loc.host, "localhost"):
		loc.host = ""
	}
	if loc.scheme == "file" && loc.host != "" {
		return artifactLoc{}, fmt.Errorf("%s names host %q", mlflow.RedactURL(uri), loc.host)
	}
	segs, bad, ok := mlflow.RootSegments(u.Path)
	if !ok {
		return artifactLoc{}, fmt.Errorf("%s: path segment %q is not a name", mlflow.RedactURL(uri), bad)
	}
	loc.segs = segs
	return loc, nil
}

// under returns the path of loc under the artifact URI root ("" when they
// are the same folder), errNotUnder when loc is not, or is not in the same
// store (scheme, bucket).
func (loc artifactLoc) under(root string) (string, error) {
	r, err := parseArtifactLoc(root)
	if err != nil {
		return "", err
	}
	if r.scheme != loc.scheme || r.host != loc.host || len(loc.segs) < len(r.segs) || !slices.Equal(r.segs, loc.segs[:len(r.segs)]) {
		return "", errNotUnder
	}
	return strings.Join(loc.segs[len(r.segs):], "/"), nil
}
