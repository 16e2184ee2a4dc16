package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Search limits (mlflow/store/tracking and mlflow/store/model_registry).
const (
	maxSearchResults            = 50000
	defaultSearchRunsResults    = 1000
	defaultSearchModelsResults  = 100
	maxSearchModelsResults      = 1000
	defaultSearchVersionResults = 200_000
	maxSearchVersionResults     = 200_000
)

// entityKind is what an identifier in a filter or order_by names.
type entityKind string

const (
	kindMetric    entityKind = "metric"
	kindParam     entityKind = "parameter"
	kindTag       entityKind = "tag"
	kindAttribute entityKind = "attribute"
	kindDataset   entityKind = "dataset"
)

// runEntityTypes are SearchUtils' identifier prefixes and their aliases.
var runEntityTypes = map[string]entityKind{
	"metric": kindMetric, "metrics": kindMetric,
	"parameter": kindParam, "parameters": kindParam, "param": kindParam, "params": kindParam,
	"tag": kindTag, "tags": kindTag,
	"attribute": kindAttribute, "attr": kindAttribute, "attributes": kindAttribute, "run": kindAttribute,
	"dataset": kindDataset, "datasets": kindDataset,
}

// registryEntityTypes are those of the model registry's searches.
var registryEntityTypes = map[string]entityKind{"attribute": kindAttribute, "tag": kindTag, "tags": kindTag}

// splitIdentifier is SearchUtils._get_identifier without the attribute
// check: "metrics.f1" is (metric, f1), "status" is (attribute, status).
// types nil means the run search's entity types.
func splitIdentifier(ident string, types map[string]entityKind) (entityKind, string, *apiError) {
	prefix, key, ok := strings.Cut(ident, ".")
	if !ok {
		return kindAttribute, trimBackticks(unquote(ident)), nil
	}
	if types == nil {
		kind, found := runEntityTypes[trimBackticks(prefix)]
		if !found {
			return "", "", errInvalid("Invalid entity type '%s'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']", trimBackticks(prefix))
		}
		return kind, trimBackticks(unquote(key)), nil
	}
	kind, found := types[prefix]
	if !found {
		return "", "", errInvalid("Invalid entity type '%s'. Valid entity types are ('attribute', 'tag', 'tags')", prefix)
	}
	return kind, trimBackticks(unquote(key)), nil
}

// unquote strips one pair of quotes, when there is one.
func unquote(s string) string {
	v, _ := stripQuotes(s, false)
	return v
}

// parseComparisons parses filter and refuses what is not comparisons
// joined by AND. quote is how each invalid clause is quoted in the
// message: "'" for runs and experiments, "" for the registry.
func parseComparisons(filter, quote string) ([]comparison, *apiError) {
	if strings.TrimSpace(filter) == "" {
		return nil, nil
	}
	st := parseFilter(filter)
	if len(st.invalid) > 0 {
		parts := make([]string, len(st.invalid))
		for i, s := range st.invalid {
			parts[i] = quote + s + quote
		}
		return nil, errInvalid("Invalid clause(s) in filter string: %s", strings.Join(parts, ", "))
	}
	return st.comparisons, nil
}

// stringValue is the value of a comparison with a tag, a param or a
// string attribute: a quoted string. what names the identifier type in
// messages ("parameter", "tag", "attribute").
func stringValue(c comparison, what string) (string, *apiError) {
	switch c.right.kind {
	case tokString, tokSymbol, tokName:
		v, ok := stripQuotes(c.right.text, true)
		if !ok {
			return "", errInvalid("Parameter value is either not quoted or unidentified quote types used for string value %s. Use either single or double quotes.", c.right.text)
		}
		return v, nil
	}
	if what == "attribute" {
		return "", errInvalid("Expected a quoted string value for attributes. Got value %s", valueText(c))
	}
	return "", errInvalid("Expected a quoted string value for %s (e.g. 'my-value'). Got value %s", what, valueText(c))
}

// valueText is the right-hand side as written.
func valueText(c comparison) string {
	if c.isList {
		parts := make([]string, len(c.list))
		for i, t := range c.list {
			parts[i] = t.text
		}
		return "(" + strings.Join(parts, ",") + ")"
	}
	return c.right.text
}

// listValue is a comparison's IN list: quoted strings only, not empty.
func listValue(c comparison) ([]string, *apiError) {
	if len(c.list) == 0 {
		return nil, errInvalid("While parsing a list in the query, expected a non-empty list of string values, but got empty list")
	}
	out := make([]string, len(c.list))
	for i, t := range c.list {
		if t.kind != tokString && t.kind != tokSymbol {
			return nil, errInvalid("While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: %s", valueText(c))
		}
		out[i], _ = stripQuotes(t.text, false)
	}
	return out, nil
}

// parseOrderBy is SearchUtils._parse_order_by_string: an identifier,
// optionally followed by ASC or DESC (any case).
func parseOrderBy(clause string) (string, bool, *apiError) {
	var toks []token
	for _, t := range lex(clause) {
		if t.kind != tokSpace {
			toks = append(toks, t)
		}
	}
	bad := errInvalid("Invalid order_by clause '%s'. Could not be parsed.", clause)
	if len(toks) == 0 || len(toks) > 2 {
		return "", false, bad
	}
	if toks[0].kind != tokName && toks[0].kind != tokSymbol {
		return "", false, bad
	}
	name := shlexJoin(toks[0].text)
	if len(toks) == 1 {
		return name, true, nil
	}
	if toks[1].kind != tokName && toks[1].kind != tokKeyword {
		return "", false, bad
	}
	switch strings.ToLower(toks[1].text) {
	case "asc":
		return name, true, nil
	case "desc":
		return name, false, nil
	}
	return "", false, errInvalid("Invalid ordering key in order_by clause '%s'.", clause)
}

// pageToken is MLflow's page token: base64 of {"offset": N}.
func pageToken(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(`{"offset": %d}`, offset)))
}

// parsePageToken is SearchUtils.parse_start_offset_from_page_token.
func parsePageToken(token string) (int, *apiError) {
	if token == "" {
		return 0, nil
	}
	// Python's b64decode drops characters outside the alphabet.
	clean := strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=' {
			return r
		}
		return -1
	}, token)
	raw, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		return 0, errInvalid("Invalid page token, could not base64-decode")
	}
	var parsed map[string]any
	if err := json.Unmarshal(raw, &parsed); err != nil {
		return 0, errInvalid("Invalid page token, decoded value=b%s", pyRepr(string(raw)))
	}
	v, ok := parsed["offset"]
	if !ok || v == nil || v == "" || v == float64(0) || v == false {
		return 0, errInvalid("Invalid page token, parsed value=%s", string(raw))
	}
	var offset int
	switch x := v.(type) {
	case float64:
		offset = int(x)
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return 0, errInvalid("Invalid page token, not stringable %s", x)
		}
		offset = n
	default:
		return 0, errInvalid("Invalid page token, not stringable %v", x)
	}
	return max(offset, 0), nil
}

// paginate returns items[offset:offset+n] and the token of the next page
// ("" on the last).
func paginate[T any](items []T, offset, n int) ([]T, string) {
	if offset >= len(items) {
		return nil, ""
	}
	end := offset + n
	if end >= len(items) {
		return items[offset:], ""
	}
	return items[offset:end], pageToken(end)
}
