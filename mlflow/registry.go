package mlflow

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// RegisteredModel is a model in the registry. Times are Unix milliseconds.
type RegisteredModel struct {
	Name                 string         `json:"name"`
	Description          string         `json:"description"`
	CreationTimestamp    int64          `json:"creation_timestamp"`
	LastUpdatedTimestamp int64          `json:"last_updated_timestamp"`
	LatestVersions       []ModelVersion `json:"latest_versions"`
	Tags                 []Tag          `json:"tags"`
	Aliases              []Alias        `json:"aliases"`
}

// Alias names a model version of a registered model.
type Alias struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

// Tag returns the value of the model's tag key.
func (m *RegisteredModel) Tag(key string) (string, bool) { return lookupTag(m.Tags, key) }

// AliasVersion returns the version alias points to.
func (m *RegisteredModel) AliasVersion(alias string) (string, bool) {
	for _, a := range m.Aliases {
		if a.Alias == alias {
			return a.Version, true
		}
	}
	return "", false
}

// ModelVersionStatus is the registration status of a model version.
type ModelVersionStatus string

// Model version statuses.
const (
	ModelVersionPendingRegistration ModelVersionStatus = "PENDING_REGISTRATION"
	ModelVersionFailedRegistration  ModelVersionStatus = "FAILED_REGISTRATION"
	ModelVersionReady               ModelVersionStatus = "READY"
)

// ModelVersion is one version of a registered model. Version is a decimal
// string, as in MLflow's JSON. Times are Unix milliseconds. CurrentStage is
// MLflow's deprecated stage, kept for display; use aliases.
type ModelVersion struct {
	Name                 string             `json:"name"`
	Version              string             `json:"version"`
	Source               string             `json:"source"`
	RunID                string             `json:"run_id"`
	RunLink              string             `json:"run_link"`
	Status               ModelVersionStatus `json:"status"`
	StatusMessage        string             `json:"status_message"`
	CurrentStage         string             `json:"current_stage"`
	CreationTimestamp    int64              `json:"creation_timestamp"`
	LastUpdatedTimestamp int64              `json:"last_updated_timestamp"`
	Description          string             `json:"description"`
	UserID               string             `json:"user_id,omitempty"`
	Tags                 []Tag              `json:"tags"`
	Aliases              []string           `json:"aliases"`
	// ModelID is the logged model the version was registered from (MLflow
	// 3). MLflow 3.18's own server does not return it: there, Source
	// (models:/<model_id>) names the logged model.
	ModelID string `json:"model_id,omitempty"`
}

// Tag returns the value of the version's tag key.
func (v *ModelVersion) Tag(key string) (string, bool) { return lookupTag(v.Tags, key) }

// RegisteredModelsPage is one page of SearchRegisteredModels.
type RegisteredModelsPage struct {
	RegisteredModels []RegisteredModel `json:"registered_models"`
	NextPageToken    string            `json:"next_page_token"`
}

// ModelVersionsPage is one page of SearchModelVersions.
type ModelVersionsPage struct {
	ModelVersions []ModelVersion `json:"model_versions"`
	NextPageToken string         `json:"next_page_token"`
}

// CreateRegisteredModel creates a registered model. An existing name is an
// error matching ErrAlreadyExists.
//
// MLflow REST API: "Create RegisteredModel" (POST /api/2.0/mlflow/registered-models/create).
func (c *Client) CreateRegisteredModel(ctx context.Context, name string, tags map[string]string, description string) (*RegisteredModel, error) {
	in := struct {
		Name        string `json:"name"`
		Tags        []Tag  `json:"tags,omitempty"`
		Description string `json:"description,omitempty"`
	}{name, tagList(tags), description}
	var out struct {
		RegisteredModel RegisteredModel `json:"registered_model"`
	}
	if err := c.post(ctx, "registered-models/create", in, &out, retryUnprocessed); err != nil {
		return nil, err
	}
	return &out.RegisteredModel, nil
}

// GetRegisteredModel returns a registered model with its tags, aliases and
// latest versions.
//
// MLflow REST API: "Get RegisteredModel" (GET /api/2.0/mlflow/registered-models/get).
func (c *Client) GetRegisteredModel(ctx context.Context, name string) (*RegisteredModel, error) {
	var out struct {
		RegisteredModel RegisteredModel `json:"registered_model"`
	}
	if err := c.get(ctx, "registered-models/get", url.Values{"name": {name}}, &out); err != nil {
		return nil, err
	}
	return &out.RegisteredModel, nil
}

// SearchRegisteredModels returns one page of registered models matching
// filter (e.g. `name LIKE 'Churn%'`); maxResults 0 leaves the server's
// default.
//
// MLflow REST API: "Search RegisteredModels" (GET /api/2.0/mlflow/registered-models/search).
func (c *Client) SearchRegisteredModels(ctx context.Context, filter string, maxResults int, orderBy []string, pageToken string) (*RegisteredModelsPage, error) {
	var out RegisteredModelsPage
	if err := c.get(ctx, "registered-models/search", searchQuery(filter, maxResults, orderBy, pageToken), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// searchQuery is the query of the registry's GET search endpoints.
func searchQuery(filter string, maxResults int, orderBy []string, pageToken string) url.Values {
	q := url.Values{}
	if filter != "" {
		q.Set("filter", filter)
	}
	if maxResults > 0 {
		q.Set("max_results", strconv.Itoa(maxResults))
	}
	if len(orderBy) > 0 {
		q["order_by"] = orderBy
	}
	if pageToken != "" {
		q.Set("page_token", pageToken)
	}
	return q
}

// SetRegisteredModelTag sets (or overwrites) a tag of a registered model.
//
// MLflow REST API: "Set Registered Model Tag" (POST /api/2.0/mlflow/registered-models/set-tag).
func (c *Client) SetRegisteredModelTag(ctx context.Context, name, key, value string) error {
	in := struct {
		Name  string `json:"name"`
		Key   string `json:"key"`
		Value string `json:"value"`
	}{name, key, value}
	return c.post(ctx, "registered-models/set-tag", in, nil, retrySafe)
}

// DeleteRegisteredModelTag deletes a tag of a registered model; deleting a
// tag that is not there succeeds.
//
// MLflow REST API: "Delete Registered Model Tag" (DELETE /api/2.0/mlflow/registered-models/delete-tag).
func (c *Client) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	in := struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}{name, key}
	return c.del(ctx, "registered-models/delete-tag", in)
}

// CreateModelVersionRequest describes a model version to register. To
// register a run's model, Source is the run's ArtifactURI + "/model" and
// RunID the run's id. To register an MLflow 3 logged model, Source is
// models:/<model_id> (LoggedModel.URI) and ModelID its id, with the run's id
// as RunID.
type CreateModelVersionRequest struct {
	Name        string
	Source      string
	RunID       string
	RunLink     string
	Tags        map[string]string
	Description string
	ModelID     string
}

// CreateModelVersion registers a new version of a registered model. The
// version may start PENDING_REGISTRATION: see WaitModelVersionReady.
//
// MLflow REST API: "Create ModelVersion" (POST /api/2.0/mlflow/model-versions/create).
func (c *Client) CreateModelVersion(ctx context.Context, r CreateModelVersionRequest) (*ModelVersion, error) {
	in := struct {
		Name        string `json:"name"`
		Source      string `json:"source"`
		RunID       string `json:"run_id,omitempty"`
		RunLink     string `json:"run_link,omitempty"`
		Tags        []Tag  `json:"tags,omitempty"`
		Description string `json:"description,omitempty"`
		ModelID     string `json:"model_id,omitempty"`
	}{r.Name, r.Source, r.RunID, r.RunLink, tagList(r.Tags), r.Description, r.ModelID}
	var out struct {
		ModelVersion ModelVersion `json:"model_version"`
	}
	if err := c.post(ctx, "model-versions/create", in, &out, retryUnprocessed); err != nil {
		return nil, err
	}
	return &out.ModelVersion, nil
}

// GetModelVersion returns one version of a registered model.
//
// MLflow REST API: "Get ModelVersion" (GET /api/2.0/mlflow/model-versions/get).
func (c *Client) GetModelVersion(ctx context.Context, name, version string) (*ModelVersion, error) {
	var out struct {
		ModelVersion ModelVersion `json:"model_version"`
	}
	if err := c.get(ctx, "model-versions/get", url.Values{"name": {name}, "version": {version}}, &out); err != nil {
		return nil, err
	}
	return &out.ModelVersion, nil
}

// SearchModelVersions returns one page of model versions matching filter
// (e.g. `name = 'ChurnPredictor'`); maxResults 0 leaves the server's default.
//
// MLflow REST API: "Search ModelVersions" (GET /api/2.0/mlflow/model-versions/search).
func (c *Client) SearchModelVersions(ctx context.Context, filter string, maxResults int, orderBy []string, pageToken string) (*ModelVersionsPage, error) {
	var out ModelVersionsPage
	if err := c.get(ctx, "model-versions/search", searchQuery(filter, maxResults, orderBy, pageToken), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// searchAllPageSize is the page size of SearchAllModelVersions: the largest
// every MLflow 2.x and 3.x server accepts.
const searchAllPageSize = 1000

// SearchAllModelVersions returns every model version matching filter,
// walking all pages.
func (c *Client) SearchAllModelVersions(ctx context.Context, filter string) ([]ModelVersion, error) {
	return allPages(ctx, "", func(ctx context.Context, token string) ([]ModelVersion, string, error) {
		page, err := c.SearchModelVersions(ctx, filter, searchAllPageSize, nil, token)
		if err != nil {
			return nil, "", err
		}
		return page.ModelVersions, page.NextPageToken, nil
	})
}

// SetModelVersionTag sets (or overwrites) a tag of a model version.
//
// MLflow REST API: "Set Model Version Tag" (POST /api/2.0/mlflow/model-versions/set-tag).
func (c *Client) SetModelVersionTag(ctx context.Context, name, version, key, value string) error {
	in := struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Key     string `json:"key"`
		Value   string `json:"value"`
	}{name, version, key, value}
	return c.post(ctx, "model-versions/set-tag", in, nil, retrySafe)
}

// DeleteModelVersionTag deletes a tag of a model version; deleting a tag
// that is not there succeeds.
//
// MLflow REST API: "Delete Model Version Tag" (DELETE /api/2.0/mlflow/model-versions/delete-tag).
func (c *Client) DeleteModelVersionTag(ctx context.Context, name, version, key string) error {
	in := struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Key     string `json:"key"`
	}{name, version, key}
	return c.del(ctx, "model-versions/delete-tag", in)
}

// GetModelVersionDownloadURI returns where a version's files are, e.g.
// mlflow-artifacts:/1/<run>/artifacts/model.
//
// MLflow REST API: "Get Download URI For ModelVersion Artifacts" (GET /api/2.0/mlflow/model-versions/get-download-uri).
func (c *Client) GetModelVersionDownloadURI(ctx context.Context, name, version string) (string, error) {
	var out struct {
		ArtifactURI string `json:"artifact_uri"`
	}
	if err := c.get(ctx, "model-versions/get-download-uri", url.Values{"name": {name}, "version": {version}}, &out); err != nil {
		return "", err
	}
	return out.ArtifactURI, nil
}

// Polling bounds of WaitModelVersionReady.
const (
	firstPoll = 100 * time.Millisecond
	maxPoll   = 2 * time.Second
)

// WaitModelVersionReady polls a version while it is PENDING_REGISTRATION,
// for at most timeout, and returns it once READY. FAILED_REGISTRATION is an
// error carrying the server's status message; still pending after timeout
// is an error matching context.DeadlineExceeded.
func (c *Client) WaitModelVersionReady(ctx context.Context, name, version string, timeout time.Duration) (*ModelVersion, error) {
	deadline := time.Now().Add(timeout)
	delay := firstPoll
	for {
		mv, err := c.GetModelVersion(ctx, name, version)
		if err != nil {
			return nil, err
		}
		switch mv.Status {
		case ModelVersionPendingRegistration:
		case ModelVersionFailedRegistration:
			return nil, fmt.Errorf("mlflow: model %q version %s: registration failed: %s", name, version, mv.StatusMessage)
		default: // READY, or a server that does not report a status
			return mv, nil
		}
		if time.Now().Add(delay).After(deadline) {
			return nil, fmt.Errorf("mlflow: model %q version %s: still %s after %s: %w",
				name, version, mv.Status, timeout, context.DeadlineExceeded)
		}
		if err := c.sleep(ctx, delay); err != nil {
			return nil, fmt.Errorf("mlflow: waiting for model %q version %s: %w", name, version, err)
		}
		delay = min(2*delay, maxPoll)
	}
}

// SetRegisteredModelAlias points alias at a version, moving it if it
// pointed elsewhere: an unconditional upsert, there is no compare-and-swap.
// The alias is checked with ValidateAlias before anything is sent.
//
// MLflow REST API: "Set Registered Model Alias" (POST /api/2.0/mlflow/registered-models/alias).
func (c *Client) SetRegisteredModelAlias(ctx context.Context, name, alias, version string) error {
	if err := ValidateAlias(alias); err != nil {
		return err
	}
	in := struct {
		Name    string `json:"name"`
		Alias   string `json:"alias"`
		Version string `json:"version"`
	}{name, alias, version}
	return c.post(ctx, "registered-models/alias", in, nil, retrySafe)
}

// DeleteRegisteredModelAlias deletes an alias; deleting an alias that is not
// there succeeds.
//
// MLflow REST API: "Delete Registered Model Alias" (DELETE /api/2.0/mlflow/registered-models/alias).
func (c *Client) DeleteRegisteredModelAlias(ctx context.Context, name, alias string) error {
	if err := validateAliasName(alias); err != nil {
		return err
	}
	in := struct {
		Name  string `json:"name"`
		Alias string `json:"alias"`
	}{name, alias}
	return c.del(ctx, "registered-models/alias", in)
}

// GetModelVersionByAlias returns the version alias points to. A missing
// alias, which MLflow answers with 400 INVALID_PARAMETER_VALUE, is an
// *APIError that keeps that code and also matches ErrNotFound. The reserved
// alias "latest" is accepted: MLflow resolves it to the highest version.
//
// MLflow REST API: "Get Model Version by Alias" (GET /api/2.0/mlflow/registered-models/alias).
func (c *Client) GetModelVersionByAlias(ctx context.Context, name, alias string) (*ModelVersion, error) {
	if err := validateAliasName(alias); err != nil {
		return nil, err
	}
	var out struct {
		ModelVersion ModelVersion `json:"model_version"`
	}
	err := c.get(ctx, "registered-models/alias", url.Values{"name": {name}, "alias": {alias}}, &out)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Code == codeInvalidParameter &&
		strings.Contains(apiErr.Message, "alias") && strings.Contains(apiErr.Message, "not found") {
		apiErr.also = ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &out.ModelVersion, nil
}

// maxAliasLength is MLflow's MAX_REGISTERED_MODEL_ALIAS_LENGTH.
const maxAliasLength = 255

// ValidateAlias applies MLflow's rules for a new alias, so that a bad one is
// refused before any request: not empty; only letters, digits, "_" and "-"
// (Unicode letters and digits, as Python's \w); at most 255 characters;
// not "latest" (any case) nor "v" or "V" followed by digits, which MLflow
// reserves. The error matches ErrInvalidParameter.
func ValidateAlias(alias string) error {
	if err := validateAliasName(alias); err != nil {
		return err
	}
	if strings.EqualFold(alias, "latest") {
		return fmt.Errorf("%w: alias %q is reserved (MLflow resolves it to the latest version)", ErrInvalidParameter, alias)
	}
	if len(alias) > 1 && (alias[0] == 'v' || alias[0] == 'V') && strings.IndexFunc(alias[1:], func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		return fmt.Errorf("%w: alias %q is reserved: v<digits> names a version", ErrInvalidParameter, alias)
	}
	return nil
}

// validateAliasName is MLflow's _validate_alias_name: what any alias
// argument must satisfy, reserved names included.
func validateAliasName(alias string) error {
	if alias == "" {
		return fmt.Errorf("%w: alias is empty", ErrInvalidParameter)
	}
	for _, r := range alias {
		if !(unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' || r == '-') {
			return fmt.Errorf("%w: alias %q: only letters, digits, \"_\" and \"-\" are allowed, not %q", ErrInvalidParameter, alias, r)
		}
	}
	if n := utf8.RuneCountInString(alias); n > maxAliasLength {
		return fmt.Errorf("%w: alias has %d characters, more than %d", ErrInvalidParameter, n, maxAliasLength)
	}
	return nil
}
