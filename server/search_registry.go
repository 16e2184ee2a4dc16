package server

import (
	"context"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/playbook-mlops/playbook/internal/pyurl"
)

// promptTag marks registered models that are MLflow prompts; searches
// leave them out unless the filter asks for them.
const promptTag = "mlflow.prompt.is_prompt"

// registryClause is one comparison of a registry filter.
type registryClause struct {
	kind entityKind
	key  string
	op   string
	str  string
	num  int64
	list []string
}

// parseRegistryFilter is SearchModelUtils / SearchModelVersionUtils'
// parse_search_filter. attrs are the attributes a filter may name;
// listKeys those that take an IN list; numeric those compared to numbers.
func parseRegistryFilter(filter string, attrs, listKeys, numeric []string) ([]registryClause, *apiError) {
	cmps, aerr := parseComparisons(filter, "")
	if aerr != nil {
		return nil, aerr
	}
	var out []registryClause
	for _, c := range cmps {
		prefix, key, dotted := strings.Cut(c.left, ".")
		kind := kindAttribute
		if dotted {
			k, ok := registryEntityTypes[prefix]
			if !ok {
				return nil, errInvalid("Invalid entity type '%s'. Valid entity types are ('attribute', 'tag', 'tags')", prefix)
			}
			kind = k
		} else {
			key = c.left
		}
		if kind == kindAttribute && !slices.Contains(attrs, key) {
			return nil, errInvalid("Invalid attribute key '%s' specified. Valid keys are '%s'", key, pySet(attrs))
		}
		key = trimBackticks(unquote(key))
		if c.op == "IS NULL" || c.op == "IS NOT NULL" {
			what := "registered model"
			if slices.Contains(attrs, "run_id") {
				what = "model version"
			}
			return nil, errInvalid("IS NULL / IS NOT NULL is not supported for %s search.", what)
		}
		rc := registryClause{kind: kind, key: key, op: strings.ToUpper(c.op)}
		switch {
		case kind == kindTag:
			v, aerr := stringValue(c, "tag")
			if c.isList {
				aerr = errInvalid("Expected a quoted string value for tag (e.g. 'my-value'). Got value %s", valueText(c))
			}
			if aerr != nil {
				return nil, aerr
			}
			rc.str = v
		case c.isList:
			if !slices.Contains(listKeys, key) {
				return nil, errInvalid("Only %s attributes support comparison with a list of quoted string values.", pyList(listKeys))
			}
			if rc.list, aerr = listValue(c); aerr != nil {
				return nil, aerr
			}
		case c.right.kind == tokString || c.right.kind == tokSymbol || c.right.kind == tokName:
			v, ok := stripQuotes(c.right.text, true)
			if !ok {
				return nil, errInvalid("Parameter value is either not quoted or unidentified quote types used for string value %s. Use either single or double quotes.", c.right.text)
			}
			rc.str = v
		case (c.right.kind == tokInt || c.right.kind == tokFloat) && numeric != nil:
			if !slices.Contains(numeric, key) {
				return nil, errInvalid("Only the '%s' attributes support comparison with numeric values.", pySet(numeric))
			}
			rc.str = c.right.text
		default:
			return nil, errInvalid("Expected a quoted string value or a list of quoted string values for attributes. Got value %s", valueText(c))
		}
		out = append(out, rc)
	}
	return out, nil
}

// wantsPrompts is _is_querying_prompt.
func wantsPrompts(clauses []registryClause) bool {
	for _, c := range clauses {
		if c.kind == kindTag && c.key == promptTag {
			return c.op == "=" && strings.EqualFold(c.str, "true") || c.op == "!=" && strings.EqualFold(c.str, "false")
		}
	}
	return false
}

// matchString applies a string comparator, IN lists included.
func (c registryClause) matchString(v string) bool { return matchIn(c.op, c.list, c.str, v) }

// matchTags applies a tag clause; the prompt tag is dropped from the
// filter, as MLflow does.
func (c registryClause) matchTags(tags []tagJSON) bool {
	if c.key == promptTag {
		return true
	}
	v, ok := lookup(tags, c.key)
	return ok && compareStrings(c.op, v, c.str)
}

func isPrompt(tags []tagJSON) bool {
	v, ok := lookup(tags, promptTag)
	return ok && v == "true"
}

// Model version sources (mlflow/server/handlers.py, _validate_source_run).

// errSource is _raise_invalid_model_version_source.
func errSource(source, idName string) *apiError {
	return errInvalid("Invalid model version source: '%s'. The %s request parameter must identify the resource that contains the source.", source, idName)
}

var uriScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.\-]*):`)

// schemeOf is urlparse(uri).scheme, lower-cased.
func schemeOf(uri string) string {
	m := uriScheme.FindStringSubmatch(uri)
	if m == nil {
		return ""
	}
	return strings.ToLower(m[1])
}

// unquoteAll percent-decodes until nothing changes; plus also turns "+"
// into a space (unquote_plus).
func unquoteAll(s string, plus bool) string {
	for range 100 {
		var next string
		if plus {
			next = pyurl.Unquote(strings.ReplaceAll(s, "+", " "))
		} else {
			next = pyurl.Unquote(s)
		}
		if next == s {
			return s
		}
		s = next
	}
	return s
}

// uriParts is _normalized_uri_parts: scheme and authority lower-cased,
// path segments each fully decoded.
func uriParts(uri string) (scheme, authority string, parts []string) {
	u, err := url.Parse(uri)
	if err != nil {
		return schemeOf(uri), "", nil
	}
	p := u.EscapedPath()
	if u.Opaque != "" {
		p = u.Opaque
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg != "" {
			parts = append(parts, unquoteAll(seg, false))
		}
	}
	return strings.ToLower(u.Scheme), strings.ToLower(u.Host), parts
}

// validateSource applies MLflow's checks of a run-backed model version
// source: no relative path tricks, and an mlflow-artifacts source must lie
// under the artifact URI of the run named by run_id.
func validateSource(ctx context.Context, q queryer, source, runID string) error {
	scheme := schemeOf(source)
	if scheme == "" || scheme == "file" {
		shown := source
		if runID != "" {
			if _, err := getRunByID(ctx, q, runID); err != nil {
				if isNotFound(err) {
					return errSource(source, "run_id")
				}
				return err
			}
			local := strings.TrimPrefix(source, "file://")
			local = strings.TrimPrefix(local, "file:")
			shown = path.Clean(local)
		}
		return errInvalid("Invalid model version source: '%s'. To use a local path as a model version source, the run_id request parameter has to be specified and the local path has to be contained within the artifact directory of the run specified by the run_id.", shown)
	}
	if e := relativeSource(source); e != nil {
		return e
	}
	switch scheme {
	case "runs":
		u, _ := url.Parse(source)
		if u == nil || u.Host != "" {
			return errSource(source, "run_id")
		}
		id, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		if runID != "" && id == runID {
			return nil
		}
		return errSource(source, "run_id")
	case "models":
		if loggedModelSource(source) != "" {
			return errSource(source, "model_id")
		}
		return errInvalid("Invalid model version source: '%s'. models:/ sources are not supported by the embedded server: register a run's model with run_id and source.", source)
	}
	_, _, parts := uriParts(source)
	route := []string{"api", "2.0", "mlflow-artifacts", "artifacts"}
	proxied := scheme == "mlflow-artifacts"
	if scheme == "http" || scheme == "https" {
		for i := 0; i+len(route) <= len(parts); i++ {
			proxied = proxied || slices.Equal(parts[i:i+len(route)], route)
		}
	}
	if !proxied {
		return nil
	}
	if runID == "" {
		return errSource(source, "run_id")
	}
	r, err := getRunByID(ctx, q, runID)
	if isNotFound(err) {
		return errSource(source, "run_id")
	}
	if err != nil {
		return err
	}
	if withinRoot(source, r.artifactURI) {
		return nil
	}
	return errSource(source, "run_id")
}

// withinRoot is _is_uri_within_root: source lies under root.
func withinRoot(source, root string) bool {
	ss, sa, sp := uriParts(source)
	rs, ra, rp := uriParts(root)
	return ss == rs && sa == ra && len(rp) > 0 && len(sp) >= len(rp) && slices.Equal(sp[:len(rp)], rp)
}

// relativeSource is _validate_non_local_source_contains_relative_paths.
func relativeSource(source string) *apiError {
	relErr := errInvalid("Invalid model version source: '%s'. If supplying a source as an http, https, local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided without relative path references present. Please provide an absolute path.", source)
	decoded := unquoteAll(source, true)
	var p string
	if u, err := url.Parse(decoded); err == nil {
		p = u.Path
		if u.Opaque != "" {
			p = u.Opaque
		}
	}
	p = strings.TrimRight(p, "/")
	p = regexp.MustCompile(`/+`).ReplaceAllString(p, "/")
	if strings.Contains(p, "\x00") || slices.Contains(strings.Split(decoded, "/"), "..") {
		return relErr
	}
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return relErr
	}
	return nil
}
