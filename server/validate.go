package server

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits and rules of mlflow/utils/validation.py.
const (
	maxParamsTagsPerBatch  = 100
	maxMetricsPerBatch     = 1000
	maxEntitiesPerBatch    = 1000
	maxParamValueLength    = 6000
	maxTagValueLength      = 8000
	maxEntityKeyLength     = 250
	maxExperimentNameLen   = 500
	maxExperimentTagKeyLen = 250
	maxExperimentTagValLen = 20000
	maxRegistryTagKeyLen   = 250
	maxRegistryTagValueLen = 100_000
	maxAliasLength         = 255
)

var aliasVersionRegexp = regexp.MustCompile(`^[vV]\d+$`)

// validRunID is MLflow's run id pattern, ^[a-zA-Z0-9][\w\-]{0,255}$ (a
// regexp of 256 repetitions compiles to some 3,000 allocations in every
// process's start, a kernel's included: written out instead).
func validRunID(id string) bool {
	if len(id) == 0 || len(id) > 256 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '-') {
			return false
		}
	}
	return true
}

// validEntityName is validate_param_and_metric_name on POSIX: letters,
// digits, "_", "-", ".", " ", ":" and "/".
func validEntityName(name string) bool {
	for _, r := range name {
		if !isWord(r) && !strings.ContainsRune("/.- :", r) {
			return false
		}
	}
	return true
}

// pathNotUnique is MLflow's path_not_unique: a name that resolves to
// another name when treated as a file path.
func pathNotUnique(name string) bool {
	norm := pyNormpath(name)
	return norm != name || norm == "." || strings.HasPrefix(norm, "..") || strings.HasPrefix(norm, "/")
}

// invalidValue is MLflow's invalid_value message.
func invalidValue(path, value, msg string) *apiError {
	if msg != "" {
		return errInvalid("Invalid value %s for parameter '%s' supplied: %s", pyJSON(value), path, msg)
	}
	return errInvalid("Invalid value %s for parameter '%s' supplied.", pyJSON(value), path)
}

const badCharacterMessage = "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/)."

func badPathMessage(name string) string {
	return "Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to " + pyRepr(pyNormpath(name))
}

// joinPath is append_to_json_path.
func joinPath(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

// validateKeyName is _validate_param_name and _validate_tag_name (which
// differ only when the name is absent, which callers check first).
func validateKeyName(name, where string) *apiError {
	if !validEntityName(name) {
		return invalidValue(where, name, badCharacterMessage)
	}
	if pathNotUnique(name) {
		return invalidValue(where, name, badPathMessage(name))
	}
	return nil
}

// exceedsLength is MLflow's exceeds_maximum_length error.
func exceedsLength(what string, limit int) *apiError {
	return errInvalid("'%s' exceeds the maximum length of %d characters", what, limit)
}

// truncateRunes cuts s to at most n characters, as MLflow truncates long
// param and tag values (MLFLOW_TRUNCATE_LONG_VALUES, on by default).
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// validateParam is _validate_param; it returns the value as stored.
func validateParam(p keyValue, prefix string) (keyValue, *apiError) {
	if err := validateKeyName(p.Key, joinPath(prefix, "key")); err != nil {
		return p, err
	}
	if utf8.RuneCountInString(p.Key) > maxEntityKeyLength {
		return p, exceedsLength("Param key", maxEntityKeyLength)
	}
	p.Value = truncateRunes(p.Value, maxParamValueLength)
	return p, nil
}

// validateRunTag is _validate_tag; it returns the tag as stored.
func validateRunTag(t keyValue, prefix string) (keyValue, *apiError) {
	if err := validateKeyName(t.Key, joinPath(prefix, "key")); err != nil {
		return t, err
	}
	if utf8.RuneCountInString(t.Key) > maxEntityKeyLength {
		return t, exceedsLength(joinPath(prefix, "key"), maxEntityKeyLength)
	}
	t.Value = truncateRunes(t.Value, maxTagValueLength)
	return t, nil
}

// validateExperimentTag is _validate_experiment_tag.
func validateExperimentTag(t keyValue) *apiError {
	if err := validateKeyName(t.Key, "key"); err != nil {
		return err
	}
	if utf8.RuneCountInString(t.Key) > maxExperimentTagKeyLen {
		return exceedsLength("key", maxExperimentTagKeyLen)
	}
	if utf8.RuneCountInString(t.Value) > maxExperimentTagValLen {
		return exceedsLength("value", maxExperimentTagValLen)
	}
	return nil
}

// validateRegistryTag is _validate_registered_model_tag and
// _validate_model_version_tag.
func validateRegistryTag(t keyValue) *apiError {
	if err := validateKeyName(t.Key, "key"); err != nil {
		return err
	}
	if utf8.RuneCountInString(t.Key) > maxRegistryTagKeyLen {
		return exceedsLength("key", maxRegistryTagKeyLen)
	}
	if utf8.RuneCountInString(t.Value) > maxRegistryTagValueLen {
		return exceedsLength("value", maxRegistryTagValueLen)
	}
	return nil
}

// validateModelName is _validate_model_name.
func validateModelName(name string) *apiError {
	if strings.TrimSpace(name) == "" {
		return errInvalid("Missing value for required parameter 'name'.")
	}
	if strings.ContainsAny(name, "/:") {
		return errInvalid("Invalid model name '%s'. Names cannot contain '/' or ':'.", name)
	}
	if pathNotUnique(name) {
		return invalidValue("name", name, badPathMessage(name))
	}
	return nil
}

// parseVersion is _validate_model_version: Python's int() of the string.
func parseVersion(v string) (int64, *apiError) {
	s := strings.TrimSpace(strings.ReplaceAll(v, "_", ""))
	s = strings.TrimPrefix(s, "+")
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || s == "" || strings.HasPrefix(v, "_") || strings.HasSuffix(v, "_") || strings.Contains(v, "__") {
		return 0, errInvalid("Parameter 'version' must be an integer, got '%s'.", v)
	}
	return n, nil
}

// validateAliasName is _validate_alias_name.
func validateAliasName(alias string) *apiError {
	if alias == "" {
		return errInvalid("Registered model alias name cannot be empty.")
	}
	for _, r := range alias {
		if !isWord(r) && r != '-' {
			return errInvalid("Invalid alias name: '%s'. Names may only contain alphanumerics, underscores (_), and dashes (-).", alias)
		}
	}
	if utf8.RuneCountInString(alias) > maxAliasLength {
		return exceedsLength("Registered model alias name", maxAliasLength)
	}
	return nil
}

// validateAliasNotReserved is _validate_alias_name_reserved.
func validateAliasNotReserved(alias string) *apiError {
	if strings.EqualFold(alias, "latest") {
		return errInvalid("'latest' alias name (case insensitive) is reserved.")
	}
	if aliasVersionRegexp.MatchString(alias) {
		return errInvalid("Version alias name '%s' is reserved.", alias)
	}
	return nil
}

// validateExperimentName is _validate_experiment_name.
func validateExperimentName(name string) *apiError {
	if strings.TrimSpace(name) == "" {
		return errInvalid("Invalid experiment name: '%s'", name)
	}
	if utf8.RuneCountInString(name) > maxExperimentNameLen {
		return exceedsLength("name", maxExperimentNameLen)
	}
	return nil
}

// parseExperimentID is _parse_experiment_id.
func parseExperimentID(id string) (int64, *apiError) {
	n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
	if err != nil {
		return 0, errInvalid("Invalid experiment ID '%s'. Experiment ID must be a valid integer.", id)
	}
	return n, nil
}
