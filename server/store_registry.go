package server

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"strings"
)

// The model registry's store methods: MLflow's SqlAlchemyStore of
// mlflow/store/model_registry, each validating its arguments in MLflow's
// order, then running its SQL in one transaction.

// firstError returns the first of errs that is not nil, as an error (nil
// when they all are).
func firstError(errs ...*apiError) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// validateRegistryTags applies validateRegistryTag to each tag.
func validateRegistryTags(tags []keyValue) *apiError {
	for _, t := range tags {
		if e := validateRegistryTag(t); e != nil {
			return e
		}
	}
	return nil
}

// checkVersion validates a model name and parses a version, in MLflow's
// order.
func checkVersion(name, version string) (int64, error) {
	if e := validateModelName(name); e != nil {
		return 0, e
	}
	v, e := parseVersion(version)
	if e != nil {
		return 0, e
	}
	return v, nil
}

// readModel reads a registered model in a read transaction.
func (st *store) readModel(ctx context.Context, name string) (m *registeredModel, err error) {
	err = st.read(ctx, func(tx *sql.Tx) error {
		m, err = getModel(ctx, tx, name)
		return err
	})
	return m, err
}

// readVersion reads a model version in a read transaction.
func (st *store) readVersion(ctx context.Context, name string, version int64) (v *modelVersion, err error) {
	err = st.read(ctx, func(tx *sql.Tx) error {
		v, err = getVersion(ctx, tx, name, version)
		return err
	})
	return v, err
}

// CreateRegisteredModel creates a registered model with tags and a
// description; an existing name is RESOURCE_ALREADY_EXISTS.
func (st *store) CreateRegisteredModel(ctx context.Context, name string, tags []keyValue, description string) (*registeredModel, error) {
	if err := firstError(validateModelName(name), validateRegistryTags(tags)); err != nil {
		return nil, err
	}
	var m *registeredModel
	err := st.write(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, name); err == nil {
			return errExists("Registered Model (name=%s) already exists.", name)
		} else if !isNotFound(err) {
			return err
		}
		now := nowMillis()
		if _, err := tx.ExecContext(ctx, `INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)`,
			name, now, now, description); err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)`, name, t.Key, t.Value); err != nil {
				return err
			}
		}
		var err error
		m, err = getModel(ctx, tx, name)
		return err
	})
	return m, err
}

// GetRegisteredModel reads a registered model with its tags, aliases and
// latest versions.
func (st *store) GetRegisteredModel(ctx context.Context, name string) (*registeredModel, error) {
	if err := firstError(validateModelName(name)); err != nil {
		return nil, err
	}
	return st.readModel(ctx, name)
}

// UpdateRegisteredModel sets a registered model's description.
func (st *store) UpdateRegisteredModel(ctx context.Context, name, description string) (*registeredModel, error) {
	if err := firstError(validateModelName(name)); err != nil {
		return nil, err
	}
	var m *registeredModel
	err := st.write(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE registered_models SET description = ?, last_updated_time = ? WHERE name = ?`, description, nowMillis(), name); err != nil {
			return err
		}
		var err error
		m, err = getModel(ctx, tx, name)
		return err
	})
	return m, err
}

// RenameRegisteredModel renames a registered model, new name checked
// first as MLflow's _validate_model_renaming does; its versions (whose
// last update time it sets), tags and aliases follow it (ON UPDATE
// CASCADE). A name taken is RESOURCE_ALREADY_EXISTS with the start of the
// SQLite error MLflow quotes.
func (st *store) RenameRegisteredModel(ctx context.Context, name, newName string) (*registeredModel, error) {
	if err := firstError(validateModelName(newName), validateModelName(name)); err != nil {
		return nil, err
	}
	var m *registeredModel
	err := st.write(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, name); err != nil {
			return err
		}
		if err := modelExists(ctx, tx, newName); err == nil && newName != name {
			return errExists("Registered Model (name=%s) already exists. Error: (sqlite3.IntegrityError) UNIQUE constraint failed: registered_models.workspace, registered_models.name", newName)
		} else if err != nil && !isNotFound(err) {
			return err
		}
		now := nowMillis()
		if _, err := tx.ExecContext(ctx, `UPDATE registered_models SET name = ?, last_updated_time = ? WHERE name = ?`, newName, now, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE model_versions SET last_updated_time = ? WHERE name = ?`, now, newName); err != nil {
			return err
		}
		var err error
		m, err = getModel(ctx, tx, newName)
		return err
	})
	return m, err
}

// modelWrite validates name, then runs query in a write transaction once
// the registered model is known to exist.
func (st *store) modelWrite(ctx context.Context, name string, check *apiError, query string, args ...any) error {
	if err := firstError(validateModelName(name), check); err != nil {
		return err
	}
	return st.write(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
}

// versionWrite parses name and version, then runs query in a write
// transaction once the version is known to exist. query's first two
// arguments are the name and the version.
func (st *store) versionWrite(ctx context.Context, name, version string, check func() *apiError, query string, args ...any) error {
	v, err := checkVersion(name, version)
	if err != nil {
		return err
	}
	if err := firstError(check()); err != nil {
		return err
	}
	return st.write(ctx, func(tx *sql.Tx) error {
		if err := versionExists(ctx, tx, name, v); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, query, append([]any{name, v}, args...)...)
		return err
	})
}

// DeleteRegisteredModel deletes a registered model, its versions, tags
// and aliases.
func (st *store) DeleteRegisteredModel(ctx context.Context, name string) error {
	return st.modelWrite(ctx, name, nil, `DELETE FROM registered_models WHERE name = ?`, name)
}

// SetRegisteredModelTag sets (or replaces) a registered model's tag.
func (st *store) SetRegisteredModelTag(ctx context.Context, name, key, value string) error {
	return st.modelWrite(ctx, name, validateRegistryTag(keyValue{key, value}),
		`INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)`, name, key, value)
}

// DeleteRegisteredModelTag deletes a registered model's tag; a tag that
// is not there is no error.
func (st *store) DeleteRegisteredModelTag(ctx context.Context, name, key string) error {
	return st.modelWrite(ctx, name, validateKeyName(key, "key"), `DELETE FROM registered_model_tags WHERE name = ? AND key = ?`, name, key)
}

// GetModelVersion reads a model version with its tags and aliases.
func (st *store) GetModelVersion(ctx context.Context, name, version string) (*modelVersion, error) {
	v, err := checkVersion(name, version)
	if err != nil {
		return nil, err
	}
	return st.readVersion(ctx, name, v)
}

// UpdateModelVersion sets a version's description when description is
// not nil.
func (st *store) UpdateModelVersion(ctx context.Context, name, version string, description *string) (*modelVersion, error) {
	return st.versionUpdate(ctx, name, version, func(tx *sql.Tx, n int64) error {
		if description == nil {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?`,
			*description, nowMillis(), name, n)
		return err
	})
}

// versionUpdate checks name and version, then runs fn in a write
// transaction once the version is known to exist, and returns the version
// as fn left it.
func (st *store) versionUpdate(ctx context.Context, name, version string, fn func(tx *sql.Tx, n int64) error) (*modelVersion, error) {
	n, err := checkVersion(name, version)
	if err != nil {
		return nil, err
	}
	var v *modelVersion
	err = st.write(ctx, func(tx *sql.Tx) error {
		if err := versionExists(ctx, tx, name, n); err != nil {
			return err
		}
		if err := fn(tx, n); err != nil {
			return err
		}
		var err error
		v, err = getVersion(ctx, tx, name, n)
		return err
	})
	return v, err
}

// GetDownloadURI is where a version's artifacts are: its storage
// location, else its source.
func (st *store) GetDownloadURI(ctx context.Context, name, version string) (string, error) {
	mv, err := st.GetModelVersion(ctx, name, version)
	if err != nil {
		return "", err
	}
	if mv.storageLocation != "" {
		return mv.storageLocation, nil
	}
	return mv.source, nil
}

// DeleteModelVersion deletes a model version as MLflow does: the version
// number is parsed before the name is checked; the aliases that name the
// version go, the registered model's last update time is set, and the
// version stays, redacted and marked deleted (its tags kept), so its
// number is not given again.
func (st *store) DeleteModelVersion(ctx context.Context, name, version string) error {
	v, e := parseVersion(version)
	if err := firstError(e, validateModelName(name)); err != nil {
		return err
	}
	return st.write(ctx, func(tx *sql.Tx) error {
		if err := versionExists(ctx, tx, name, v); err != nil {
			return err
		}
		now := nowMillis()
		for _, q := range []struct {
			query string
			args  []any
		}{
			{`UPDATE registered_models SET last_updated_time = ? WHERE name = ?`, []any{now, name}},
			{`DELETE FROM registered_model_aliases WHERE name = ? AND version = ?`, []any{name, v}},
			{`UPDATE model_versions SET current_stage = ?, last_updated_time = ?, description = '', user_id = NULL,
				source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', run_link = 'REDACTED-RUN-LINK', status_message = NULL
				WHERE name = ? AND version = ?`, []any{stageDeletedInternal, now, name, v}},
		} {
			if _, err := tx.ExecContext(ctx, q.query, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
}

// TransitionModelVersionStage moves a version to a stage (MLflow's
// deprecated stages, case-insensitive); with archive, the model's other
// versions in that stage, which must be Staging or Production, move to
// Archived.
func (st *store) TransitionModelVersionStage(ctx context.Context, name, version, stage string, archive bool) (*modelVersion, error) {
	canonical, e := canonicalStage(stage)
	if e != nil {
		return nil, e
	}
	if archive && canonical != stageStaging && canonical != stageProduction {
		return nil, errInternal("Model version transition cannot archive existing model versions because '%s' is not an Active stage. Valid stages are ['Staging', 'Production']", stage)
	}
	return st.versionUpdate(ctx, name, version, func(tx *sql.Tx, n int64) error {
		now := nowMillis()
		if archive {
			if _, err := tx.ExecContext(ctx, `UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version <> ? AND current_stage = ?`,
				stageArchived, now, name, n, canonical); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE model_versions SET current_stage = ?, last_updated_time = ? WHERE name = ? AND version = ?`, canonical, now, name, n); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE registered_models SET last_updated_time = ? WHERE name = ?`, now, name)
		return err
	})
}

// newModelVersion is what CreateModelVersion needs.
type newModelVersion struct {
	name, source, runID, runLink, description, modelID string
	tags                                               []keyValue
	storageLocation                                    string // "" is source
}

// CreateModelVersion registers the next version of a model, from a
// run-backed source (checked as MLflow's _validate_source_run does) or,
// with a model_id, from a logged model (_validate_source_model).
func (st *store) CreateModelVersion(ctx context.Context, nv newModelVersion) (*modelVersion, error) {
	var v *modelVersion
	err := st.write(ctx, func(tx *sql.Tx) error {
		validate := func() error { return validateSource(ctx, tx, nv.source, nv.runID) }
		if nv.modelID != "" {
			validate = func() error { return validateModelSource(ctx, tx, nv.source, nv.modelID) }
		}
		if err := validate(); err != nil {
			return err
		}
		if err := firstError(validateModelName(nv.name), validateRegistryTags(nv.tags)); err != nil {
			return err
		}
		if err := resolveModelLineage(ctx, tx, &nv); err != nil {
			return err
		}
		if err := modelExists(ctx, tx, nv.name); err != nil {
			return err
		}
		version, err := insertVersion(ctx, tx, nv)
		if err != nil {
			return err
		}
		if nv.modelID != "" {
			if err := tagModelVersions(ctx, tx, nv.modelID, nv.name, version); err != nil {
				return err
			}
		}
		v, err = getVersion(ctx, tx, nv.name, version)
		return err
	})
	return v, err
}

// insertVersion inserts the next version of nv.name and its tags, and
// returns its number.
func insertVersion(ctx context.Context, tx *sql.Tx, nv newModelVersion) (int64, error) {
	var last sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM model_versions WHERE name = ?`, nv.name).Scan(&last); err != nil {
		return 0, err
	}
	version := last.Int64 + 1
	now := nowMillis()
	if _, err := tx.ExecContext(ctx, `INSERT INTO model_versions (`+modelVersionColumns+`) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, 'READY', NULL)`,
		nv.name, version, now, now, nv.description, stageNone, nv.source, cmp.Or(nv.storageLocation, nv.source), nv.runID, nv.runLink); err != nil {
		return 0, err
	}
	for _, t := range nv.tags {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)`, nv.name, version, t.Key, t.Value); err != nil {
			return 0, err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE registered_models SET last_updated_time = ? WHERE name = ?`, now, nv.name)
	return version, err
}

// SetModelVersionTag sets (or replaces) a model version's tag.
func (st *store) SetModelVersionTag(ctx context.Context, name, version, key, value string) error {
	return st.versionWrite(ctx, name, version, func() *apiError { return validateRegistryTag(keyValue{key, value}) },
		`INSERT OR REPLACE INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)`, key, value)
}

// DeleteModelVersionTag deletes a model version's tag; a tag that is not
// there is no error.
func (st *store) DeleteModelVersionTag(ctx context.Context, name, version, key string) error {
	return st.versionWrite(ctx, name, version, func() *apiError { return validateKeyName(key, "key") },
		`DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?`, key)
}

// SetAlias points alias at a version of model (moving it if it pointed
// elsewhere). MLflow's version is a string: it is parsed after the names
// are checked, as MLflow does.
func (st *store) SetAlias(ctx context.Context, model, alias, version string) error {
	if err := firstError(validateModelName(model), validateAliasName(alias), validateAliasNotReserved(alias)); err != nil {
		return err
	}
	return st.versionWrite(ctx, model, version, func() *apiError { return nil },
		`INSERT OR REPLACE INTO registered_model_aliases (name, version, alias) VALUES (?, ?, ?)`, alias)
}

// DeleteAlias deletes an alias of model; an alias that is not there is
// no error.
func (st *store) DeleteAlias(ctx context.Context, model, alias string) error {
	return st.modelWrite(ctx, model, validateAliasName(alias), `DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?`, model, alias)
}

// GetVersionByAlias reads the version an alias points at; "latest" (any
// case) is the model's last version.
func (st *store) GetVersionByAlias(ctx context.Context, model, alias string) (*modelVersion, error) {
	if err := firstError(validateModelName(model), validateAliasName(alias)); err != nil {
		return nil, err
	}
	var v *modelVersion
	err := st.read(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, model); err != nil {
			return err
		}
		version, err := aliasVersion(ctx, tx, model, alias)
		if err != nil {
			return err
		}
		v, err = getVersion(ctx, tx, model, version)
		return err
	})
	return v, err
}

// aliasVersion is the version number alias names.
func aliasVersion(ctx context.Context, tx *sql.Tx, model, alias string) (int64, error) {
	if strings.EqualFold(alias, "latest") {
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM model_versions WHERE name = ? AND `+live, model).Scan(&last); err != nil {
			return 0, err
		}
		if !last.Valid {
			return 0, errNotFound("Latest version not found for model %s.", model)
		}
		return last.Int64, nil
	}
	var version int64
	err := tx.QueryRowContext(ctx, `SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?`, model, alias).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errInvalid("Registered model alias %s not found.", alias)
	}
	return version, err
}

// GetLatestVersions reads the latest version of each of stages (all when
// empty).
func (st *store) GetLatestVersions(ctx context.Context, name string, stages []string) ([]*modelVersion, error) {
	m, err := st.GetRegisteredModel(ctx, name)
	if err != nil {
		return nil, err
	}
	var out []*modelVersion
	for _, v := range m.latest {
		want := len(stages) == 0
		for _, st := range stages {
			want = want || strings.EqualFold(st, v.stage)
		}
		if want {
			out = append(out, v)
		}
	}
	return out, nil
}
