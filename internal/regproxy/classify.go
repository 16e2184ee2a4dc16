package regproxy

import (
	"net/http"
	"regexp"
	"strings"
)

// API path prefixes, relative to the tracking URI (the path after the
// token prefix), that the proxy forwards: those package mlflow calls.
const (
	apiPrefix       = "/api/2.0/mlflow/"
	artifactsPrefix = "/api/2.0/mlflow-artifacts/"
	uploadPrefix    = "/api/2.0/mlflow-artifacts/artifacts/"
)

// plainEndpoints are the forwarded paths outside the API, read-only.
var plainEndpoints = map[string]bool{"/health": true, "/version": true}

// readOnlyPOST lists the POSTs of MLflow's REST API that only read: the
// searches that take their filters in a JSON body, and get-latest-versions
// (POST and GET in MLflow's routes). Any other POST is mutating.
var readOnlyPOST = map[string]bool{
	apiPrefix + "experiments/search":                    true,
	apiPrefix + "runs/search":                           true,
	apiPrefix + "logged-models/search":                  true,
	apiPrefix + "registered-models/get-latest-versions": true,
}

// Forwarded reports whether the proxy forwards a request for endpoint, a
// path relative to the tracking URI such as "/api/2.0/mlflow/runs/search"
// (escaped, as on the wire).
func Forwarded(endpoint string) bool {
	if plainEndpoints[endpoint] {
		return true
	}
	for _, p := range []string{apiPrefix, artifactsPrefix} {
		if rest, ok := strings.CutPrefix(endpoint, p); ok && rest != "" {
			return cleanPath(rest)
		}
	}
	return false
}

// cleanPath reports whether an escaped relative path has neither empty,
// "." or ".." segments nor an escaped "/" or "\" that a server might read
// as a separator.
func cleanPath(escaped string) bool {
	lower := strings.ToLower(escaped)
	if strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(escaped, `\`) {
		return false
	}
	if strings.Contains(escaped, "%") && !strings.HasPrefix(escaped, "/api/2.0/mlflow-artifacts/") {
		// The REST API's paths hold no escapes: one (registered%2Dmodels)
		// would be read by the server and not by the proxy's table.
		return false
	}
	for seg := range strings.SplitSeq(escaped, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") ||
			strings.EqualFold(seg, "%2e%2e") || strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") {
			return false
		}
	}
	return true
}

// Mutating reports whether a forwarded call may change the tracking
// server's state: every POST, PUT, PATCH and DELETE (artifact uploads are
// PUTs) but the read-only POSTs of MLflow's REST API (runs/search,
// experiments/search, logged-models/search,
// registered-models/get-latest-versions). An unknown POST is mutating: the
// list fails safe. GET and HEAD only read.
func Mutating(method, endpoint string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return false
	case http.MethodPost:
		return !readOnlyPOST[endpoint]
	}
	return true
}

// allowedMethod reports whether the proxy forwards method to endpoint.
func allowedMethod(method, endpoint string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return !plainEndpoints[endpoint]
	}
	return false
}

// modelNames returns the registered models a call to endpoint names:
// the name (and a rename's new_name) of registered-models/* and
// model-versions/* calls, from their arguments (the JSON body, or else the
// query).
func modelNames(endpoint string, args map[string]any) []string {
	rest, ok := strings.CutPrefix(endpoint, apiPrefix)
	if !ok || !(strings.HasPrefix(rest, "registered-models/") || strings.HasPrefix(rest, "model-versions/")) {
		return nil
	}
	var names []string
	for _, field := range []string{"name", "new_name"} {
		if field == "new_name" && rest != "registered-models/rename" {
			continue
		}
		if name, _ := args[field].(string); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// secretName matches field names whose values may be secrets. A bare
// "key" is MLflow's tag, param and metric key, not a secret; a
// {"key": K, "value": V} object whose K looks secret has V redacted.
var secretName = regexp.MustCompile(`(?i)token|secret|passw|pwd|credential|cookie|session|authoriz|auth_|_auth|apikey|.key$|_key_|^key_`)

// Redacted replaces a secret value in recorded arguments.
const Redacted = "[redacted]"

// Redact replaces, in place and at any depth, the values of fields whose
// names look secret (token, password, secret, api_key, ...) by Redacted,
// and the value of a {"key": ..., "value": ...} pair (a tag, a param) whose
// key looks secret.
func Redact(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if secretName.MatchString(k) {
				v[k] = Redacted
				continue
			}
			Redact(x)
		}
		if k, ok := v["key"].(string); ok && secretName.MatchString(k) {
			if _, ok := v["value"]; ok {
				v["value"] = Redacted
			}
		}
	case []any:
		for _, x := range v {
			Redact(x)
		}
	}
}
