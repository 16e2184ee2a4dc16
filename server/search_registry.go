package server

import (
	"context"
	"database/sql"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
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
func (c registryClause) matchString(v string) bool {
	switch c.op {
	case "IN":
		return slices.Contains(c.list, v)
	case "NOT IN":
		return !slices.Contains(c.list, v)
	}
	return compareStrings(c.op, v, c.str)
}

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

// registryOrderKey is one order_by item of a registry search.
type registryOrderKey struct {
	key string
	asc bool
}

func (s *Server) searchRegisteredModels(ctx context.Context, req *request) (any, error) {
	filter, aerr := req.str("filter", false)
	if aerr != nil {
		return nil, aerr
	}
	maxResults, given, aerr := req.int64Field("max_results", false)
	if aerr != nil {
		return nil, aerr
	}
	if !given {
		maxResults = defaultSearchModelsResults
	}
	if maxResults > maxSearchModelsResults {
		return nil, errInvalid("Invalid value %d for parameter 'max_results' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters.", maxResults)
	}
	orderBy, aerr := req.strs("order_by")
	if aerr != nil {
		return nil, aerr
	}
	token, aerr := req.str("page_token", false)
	if aerr != nil {
		return nil, aerr
	}
	clauses, aerr := parseRegistryFilter(filter, []string{"name"}, []string{"name"}, nil)
	if aerr != nil {
		return nil, aerr
	}
	var keys []registryOrderKey
	seen := map[string]bool{}
	for _, ob := range orderBy {
		name, asc, aerr := parseOrderBy(ob)
		if aerr != nil {
			return nil, aerr
		}
		name = strings.TrimSpace(name)
		field := name
		switch name {
		case "name":
		case "timestamp", "last_updated_timestamp":
			field = "last_updated_timestamp"
		default:
			return nil, errInvalid("Invalid order by key '%s' specified. Valid keys are '{'name', 'timestamp'}'", name)
		}
		if seen[field] {
			return nil, errInternal("`order_by` contains duplicate fields: %s", pyList(orderBy))
		}
		seen[field] = true
		keys = append(keys, registryOrderKey{field, asc})
	}
	if !seen["name"] {
		keys = append(keys, registryOrderKey{"name", true})
	}
	for _, c := range clauses {
		valid := []string{"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
		what := "attribute"
		if c.kind == kindTag {
			valid, what = valid[:4], "tag"
		}
		if !slices.Contains(valid, c.op) {
			return nil, errInvalid("Invalid comparator for %s: %s", what, c.op)
		}
	}
	offset, aerr := parsePageToken(token)
	if aerr != nil {
		return nil, aerr
	}
	var models []*registeredModel
	err := s.db.read(ctx, func(tx *sql.Tx) (err error) {
		models, err = loadModels(ctx, tx, `1`)
		return err
	})
	if err != nil {
		return nil, err
	}
	prompts := wantsPrompts(clauses)
	var kept []*registeredModel
	for _, m := range models {
		if isPrompt(m.tags) != prompts {
			continue
		}
		ok := true
		for _, c := range clauses {
			if c.kind == kindTag {
				ok = ok && c.matchTags(m.tags)
			} else {
				ok = ok && c.matchString(m.name)
			}
		}
		if ok {
			kept = append(kept, m)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		a, b := kept[i], kept[j]
		for _, k := range keys {
			var c int
			if k.key == "name" {
				c = strings.Compare(a.name, b.name)
			} else {
				c = cmpInt(a.lastUpdated, b.lastUpdated)
			}
			if c != 0 {
				return (c < 0) == k.asc
			}
		}
		return false
	})
	if maxResults < 1 {
		maxResults = 0
	}
	page, next := paginate(kept, offset, int(maxResults))
	out := struct {
		RegisteredModels []registeredModelJSON `json:"registered_models,omitempty"`
		NextPageToken    string                `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, m := range page {
		out.RegisteredModels = append(out.RegisteredModels, m.json())
	}
	return out, nil
}

// versionSearchAttrs are SearchModelVersionUtils' filter attributes.
var (
	versionSearchAttrs   = []string{"name", "version_number", "run_id", "source_path"}
	versionListKeys      = []string{"name", "run_id"}
	versionNumericAttrs  = []string{"version_number", "creation_timestamp", "last_updated_timestamp"}
	versionOrderAttrs    = []string{"name", "version_number", "creation_timestamp", "last_updated_timestamp"}
	defaultVersionsOrder = []string{"last_updated_timestamp DESC", "name ASC", "version_number DESC"}
)

func (s *Server) searchModelVersions(ctx context.Context, req *request) (any, error) {
	filter, aerr := req.str("filter", false)
	if aerr != nil {
		return nil, aerr
	}
	maxResults, given, aerr := req.int64Field("max_results", false)
	if aerr != nil {
		return nil, aerr
	}
	if !given {
		maxResults = defaultSearchVersionResults
	}
	if maxResults > maxSearchVersionResults {
		return nil, errInvalid("Invalid value %d for parameter 'max_results' supplied:  Hint: Value was of type 'int'. See the API docs for more information about request parameters.", maxResults)
	}
	orderBy, aerr := req.strs("order_by")
	if aerr != nil {
		return nil, aerr
	}
	token, aerr := req.str("page_token", false)
	if aerr != nil {
		return nil, aerr
	}
	if maxResults < 1 {
		return nil, errInvalid("Invalid value for max_results. It must be a positive integer, but got %d", maxResults)
	}
	clauses, aerr := parseRegistryFilter(filter, versionSearchAttrs, versionListKeys, versionNumericAttrs)
	if aerr != nil {
		return nil, aerr
	}
	for i, c := range clauses {
		switch {
		case c.kind == kindTag:
			if !slices.Contains([]string{"=", "!=", "LIKE", "ILIKE"}, c.op) {
				return nil, errInvalid("Invalid comparator for tag: %s", c.op)
			}
		case slices.Contains(versionNumericAttrs, c.key):
			if !slices.Contains([]string{"=", "!=", "<", "<=", ">", ">="}, c.op) {
				return nil, errInvalid("Invalid comparator for attribute %s: %s", c.key, c.op)
			}
			if c.list != nil {
				return nil, errInvalid("Invalid value for numeric attribute '%s': %s", c.key, pyList(c.list))
			}
			n, err := strconv.ParseInt(c.str, 10, 64)
			if err != nil {
				return nil, errInvalid("Invalid value for numeric attribute '%s': %s", c.key, pyRepr(c.str))
			}
			clauses[i].num = n
		default:
			if !slices.Contains([]string{"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"}, c.op) ||
				(c.op == "IN" || c.op == "NOT IN") && !slices.Contains(versionListKeys, c.key) {
				return nil, errInvalid("Invalid comparator for attribute: %s", c.op)
			}
		}
	}
	if len(orderBy) == 0 {
		orderBy = defaultVersionsOrder
	}
	var keys []registryOrderKey
	seen := map[string]bool{}
	for _, ob := range orderBy {
		name, asc, aerr := parseOrderBy(ob)
		if aerr != nil {
			return nil, aerr
		}
		kind, key, aerr := splitIdentifier(strings.TrimSpace(name), map[string]entityKind{"attribute": kindAttribute, "attributes": kindAttribute, "attr": kindAttribute, "run": kindAttribute})
		if aerr != nil {
			return nil, aerr
		}
		if kind != kindAttribute || !slices.Contains(versionOrderAttrs, key) {
			return nil, errInvalid("Invalid order by key '%s' specified. Valid keys are %s", key, pySet(versionOrderAttrs))
		}
		if seen[key] {
			return nil, errInternal("`order_by` contains duplicate fields: %s", pyList(orderBy))
		}
		seen[key] = true
		keys = append(keys, registryOrderKey{key, asc})
	}
	if !seen["name"] {
		keys = append(keys, registryOrderKey{"name", true})
	}
	if !seen["version_number"] {
		keys = append(keys, registryOrderKey{"version_number", false})
	}
	offset, aerr := parsePageToken(token)
	if aerr != nil {
		return nil, aerr
	}
	var versions []*modelVersion
	promptModels := map[string]bool{}
	err := s.db.read(ctx, func(tx *sql.Tx) error {
		var err error
		if versions, err = loadVersions(ctx, tx, `1`); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT name FROM registered_model_tags WHERE key = ? AND value = 'true'`, promptTag)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			promptModels[n] = true
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	prompts := wantsPrompts(clauses)
	var kept []*modelVersion
	for _, v := range versions {
		if promptModels[v.name] != prompts {
			continue
		}
		ok := true
		for _, c := range clauses {
			switch {
			case c.kind == kindTag:
				ok = ok && c.matchTags(v.tags)
			case c.key == "version_number":
				ok = ok && compareFloats(c.op, float64(v.version), float64(c.num))
			case c.key == "name":
				ok = ok && c.matchString(v.name)
			case c.key == "run_id":
				ok = ok && c.matchString(v.runID)
			case c.key == "source_path":
				ok = ok && c.matchString(v.source)
			}
		}
		if ok {
			kept = append(kept, v)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		a, b := kept[i], kept[j]
		for _, k := range keys {
			var c int
			switch k.key {
			case "name":
				c = strings.Compare(a.name, b.name)
			case "version_number":
				c = cmpInt(a.version, b.version)
			case "creation_timestamp":
				c = cmpInt(a.creationTime, b.creationTime)
			case "last_updated_timestamp":
				c = cmpInt(a.lastUpdated, b.lastUpdated)
			}
			if c != 0 {
				return (c < 0) == k.asc
			}
		}
		return false
	})
	page, next := paginate(kept, offset, int(maxResults))
	out := struct {
		ModelVersions []modelVersionJSON `json:"model_versions,omitempty"`
		NextPageToken string             `json:"next_page_token,omitempty"`
	}{NextPageToken: next}
	for _, v := range page {
		out.ModelVersions = append(out.ModelVersions, v.json(false))
	}
	return out, nil
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
	ss, sa, sp := uriParts(source)
	rs, ra, rp := uriParts(r.artifactURI)
	if ss == rs && sa == ra && len(rp) > 0 && len(sp) >= len(rp) && slices.Equal(sp[:len(rp)], rp) {
		return nil
	}
	return errSource(source, "run_id")
}
