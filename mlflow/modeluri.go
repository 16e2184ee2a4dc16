package mlflow

import (
	"context"
	"fmt"
	"strings"
)

// ModelURI is a parsed models:/ URI: a registered model's Name and either a
// Version or an Alias, or an MLflow 3 logged model's ModelID alone.
type ModelURI struct {
	Name    string
	Version string
	Alias   string
	ModelID string
}

// String returns models:/NAME/VERSION, models:/NAME@ALIAS or
// models:/MODEL_ID.
func (u ModelURI) String() string {
	if u.ModelID != "" {
		return "models:/" + u.ModelID
	}
	if u.Alias != "" {
		return "models:/" + u.Name + "@" + u.Alias
	}
	return "models:/" + u.Name + "/" + u.Version
}

// ParseModelURI parses models:/NAME/VERSION, models:/NAME@ALIAS and, for
// MLflow 3 logged models, models:/m-<id>. Other forms MLflow knows are
// refused with an error matching ErrInvalidParameter that says what to
// write instead: stage URIs (models:/NAME/Production, as stages are
// deprecated), models:/NAME/latest, and registry hosts
// (models://profile@databricks/...). MLflow reads any models:/X without a
// version or alias as a logged-model id; this parser takes only ids with
// MLflow's "m-" prefix, and calls models:/NAME a missing version.
func ParseModelURI(s string) (ModelURI, error) {
	bad := func(format string, args ...any) (ModelURI, error) {
		return ModelURI{}, fmt.Errorf("%w: model URI %q: %s", ErrInvalidParameter, s, fmt.Sprintf(format, args...))
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(scheme, "models") {
		return bad("expected models:/NAME/VERSION or models:/NAME@ALIAS")
	}
	if strings.HasPrefix(rest, "//") {
		return bad("registry hosts in models:// URIs are not supported: use models:/NAME/VERSION or models:/NAME@ALIAS")
	}
	if !strings.HasPrefix(rest, "/") || len(rest) == 1 {
		return bad("expected models:/NAME/VERSION or models:/NAME@ALIAS")
	}
	if strings.ContainsAny(rest, "?#") {
		return bad("query strings and fragments are not part of a models:/ URI")
	}
	parts := strings.Split(rest[1:], "/")
	if len(parts) > 2 {
		return bad("too many path segments: expected models:/NAME/VERSION or models:/NAME@ALIAS")
	}
	if len(parts) == 2 {
		name, suffix := parts[0], parts[1]
		if strings.TrimSpace(name) == "" {
			return bad("expected models:/NAME/VERSION or models:/NAME@ALIAS")
		}
		switch {
		case isDigits(suffix):
			return ModelURI{Name: name, Version: suffix}, validModelName(s, name)
		case suffix == "":
			return bad("no version after the name")
		case strings.EqualFold(suffix, "latest"):
			return bad("models:/%s/latest is not supported: name a version (models:/%s/3) or an alias (models:/%s@champion)", name, name, name)
		default:
			return bad("model stages (%q) are deprecated and not supported: use an alias, e.g. models:/%s@%s",
				suffix, name, strings.ToLower(suffix))
		}
	}
	name, alias, ok := cutLast(parts[0], "@")
	if !ok {
		if strings.HasPrefix(parts[0], "m-") && len(parts[0]) > 2 {
			return ModelURI{ModelID: parts[0]}, nil
		}
		return bad("no version or alias: use models:/%s/VERSION or models:/%s@ALIAS", parts[0], parts[0])
	}
	if strings.TrimSpace(name) == "" {
		return bad("no model name before the alias")
	}
	if err := validateAliasName(alias); err != nil {
		return ModelURI{}, fmt.Errorf("model URI %q: %w", s, err)
	}
	return ModelURI{Name: name, Alias: alias}, validModelName(s, name)
}

// validModelName applies MLflow's rule: no "/" or ":" in a model name.
func validModelName(uri, name string) error {
	if strings.Contains(name, ":") {
		return fmt.Errorf("%w: model URI %q: model names cannot contain ':'", ErrInvalidParameter, uri)
	}
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// cutLast is strings.Cut at the last sep, as MLflow's rsplit("@", 1).
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// ResolveModelURI returns the model version a models:/ URI names: by version
// number, or through its alias. A logged-model URI (models:/m-...) names no
// version: it is an error matching ErrInvalidParameter (see
// ResolveArtifactURI).
func (c *Client) ResolveModelURI(ctx context.Context, uri string) (*ModelVersion, error) {
	u, err := ParseModelURI(uri)
	if err != nil {
		return nil, err
	}
	if u.ModelID != "" {
		return nil, fmt.Errorf("%w: model URI %q names a logged model, not a registered model version", ErrInvalidParameter, uri)
	}
	if u.Alias != "" {
		return c.GetModelVersionByAlias(ctx, u.Name, u.Alias)
	}
	return c.GetModelVersion(ctx, u.Name, u.Version)
}
