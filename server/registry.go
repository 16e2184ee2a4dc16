package server

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// stageNone is the (deprecated) stage of every version: aliases replace
// stages, which the embedded server does not implement.
const stageNone = "None"

type registeredModel struct {
	name         string
	creationTime int64
	lastUpdated  int64
	description  string
	tags         []tagJSON
	aliases      []aliasJSON
	latest       []*modelVersion
}

func (m *registeredModel) json() registeredModelJSON {
	out := registeredModelJSON{
		Name: m.name, CreationTimestamp: m.creationTime, LastUpdatedTimestamp: m.lastUpdated,
		Description: m.description, Tags: m.tags, Aliases: m.aliases,
	}
	for _, v := range m.latest {
		out.LatestVersions = append(out.LatestVersions, v.json(false))
	}
	return out
}

type modelVersion struct {
	name            string
	version         int64
	creationTime    int64
	lastUpdated     int64
	description     string
	userID          sql.NullString
	stage           string
	source          string
	storageLocation string
	runID           string
	runLink         string
	status          string
	statusMessage   sql.NullString
	tags            []tagJSON
	aliases         []string
}

// json is the version's JSON; aliases only where MLflow includes them
// (get, get by alias, create), not in searches or latest_versions.
func (v *modelVersion) json(withAliases bool) modelVersionJSON {
	out := modelVersionJSON{
		Name: v.name, Version: itoa(v.version), CreationTimestamp: v.creationTime, LastUpdatedTimestamp: v.lastUpdated,
		CurrentStage: v.stage, Description: v.description, Source: v.source, RunID: v.runID, Status: v.status,
		Tags: v.tags, RunLink: v.runLink,
	}
	if v.userID.Valid {
		out.UserID = &v.userID.String
	}
	if v.statusMessage.Valid {
		out.StatusMessage = &v.statusMessage.String
	}
	if withAliases {
		out.Aliases = v.aliases
	}
	return out
}

const modelVersionColumns = `name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message`

// loadVersions reads the versions a WHERE clause selects, with their tags
// and aliases.
func loadVersions(ctx context.Context, q queryer, where string, args ...any) ([]*modelVersion, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+modelVersionColumns+` FROM model_versions WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	var out []*modelVersion
	type id struct {
		name    string
		version int64
	}
	byID := map[id]*modelVersion{}
	for rows.Next() {
		var v modelVersion
		if err := rows.Scan(&v.name, &v.version, &v.creationTime, &v.lastUpdated, &v.description, &v.userID, &v.stage,
			&v.source, &v.storageLocation, &v.runID, &v.runLink, &v.status, &v.statusMessage); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, &v)
		byID[id{v.name, v.version}] = &v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	sub := `SELECT name, version FROM model_versions WHERE ` + where
	trows, err := q.QueryContext(ctx, `SELECT name, version, key, value FROM model_version_tags WHERE (name, version) IN (`+sub+`) ORDER BY name, version, key`, args...)
	if err != nil {
		return nil, err
	}
	for trows.Next() {
		var k id
		var t tagJSON
		if err := trows.Scan(&k.name, &k.version, &t.Key, &t.Value); err != nil {
			trows.Close()
			return nil, err
		}
		if v := byID[k]; v != nil {
			v.tags = append(v.tags, t)
		}
	}
	trows.Close()
	if err := trows.Err(); err != nil {
		return nil, err
	}
	arows, err := q.QueryContext(ctx, `SELECT name, version, alias FROM registered_model_aliases WHERE (name, version) IN (`+sub+`) ORDER BY name, alias`, args...)
	if err != nil {
		return nil, err
	}
	defer arows.Close()
	for arows.Next() {
		var k id
		var alias string
		if err := arows.Scan(&k.name, &k.version, &alias); err != nil {
			return nil, err
		}
		if v := byID[k]; v != nil {
			v.aliases = append(v.aliases, alias)
		}
	}
	return out, arows.Err()
}

// getVersion reads a version; a missing one is MLflow's 404.
func getVersion(ctx context.Context, q queryer, name string, version int64) (*modelVersion, error) {
	vs, err := loadVersions(ctx, q, `name = ? AND version = ?`, name, version)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, errNotFound("Model Version (name=%s, version=%d) not found", name, version)
	}
	return vs[0], nil
}

// loadModels reads the registered models a WHERE clause selects, with
// their tags, aliases and latest version.
func loadModels(ctx context.Context, q queryer, where string, args ...any) ([]*registeredModel, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, creation_time, last_updated_time, description FROM registered_models WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	var out []*registeredModel
	byName := map[string]*registeredModel{}
	for rows.Next() {
		var m registeredModel
		if err := rows.Scan(&m.name, &m.creationTime, &m.lastUpdated, &m.description); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, &m)
		byName[m.name] = &m
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	sub := `SELECT name FROM registered_models WHERE ` + where
	trows, err := q.QueryContext(ctx, `SELECT name, key, value FROM registered_model_tags WHERE name IN (`+sub+`) ORDER BY name, key`, args...)
	if err != nil {
		return nil, err
	}
	for trows.Next() {
		var name string
		var t tagJSON
		if err := trows.Scan(&name, &t.Key, &t.Value); err != nil {
			trows.Close()
			return nil, err
		}
		byName[name].tags = append(byName[name].tags, t)
	}
	trows.Close()
	if err := trows.Err(); err != nil {
		return nil, err
	}
	arows, err := q.QueryContext(ctx, `SELECT name, alias, version FROM registered_model_aliases WHERE name IN (`+sub+`) ORDER BY name, alias`, args...)
	if err != nil {
		return nil, err
	}
	for arows.Next() {
		var name string
		var a aliasJSON
		var v int64
		if err := arows.Scan(&name, &a.Alias, &v); err != nil {
			arows.Close()
			return nil, err
		}
		a.Version = itoa(v)
		byName[name].aliases = append(byName[name].aliases, a)
	}
	arows.Close()
	if err := arows.Err(); err != nil {
		return nil, err
	}
	// The latest version of each stage; every version has stage None.
	latest, err := loadVersions(ctx, q, `(name, version) IN (SELECT name, MAX(version) FROM model_versions WHERE name IN (`+sub+`) GROUP BY name, current_stage)`, args...)
	if err != nil {
		return nil, err
	}
	for _, v := range latest {
		byName[v.name].latest = append(byName[v.name].latest, v)
	}
	return out, nil
}

// getModel reads a registered model; a missing one is MLflow's 404.
func getModel(ctx context.Context, q queryer, name string) (*registeredModel, error) {
	ms, err := loadModels(ctx, q, `name = ?`, name)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, errNotFound("Registered Model with name=%s not found", name)
	}
	return ms[0], nil
}

// modelExists refuses a name that is not a registered model.
func modelExists(ctx context.Context, q queryer, name string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM registered_models WHERE name = ?`, name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound("Registered Model with name=%s not found", name)
	}
	return err
}

// versionExists refuses a version that is not there.
func versionExists(ctx context.Context, q queryer, name string, version int64) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM model_versions WHERE name = ? AND version = ?`, name, version).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound("Model Version (name=%s, version=%d) not found", name, version)
	}
	return err
}

type registeredModelReply struct {
	RegisteredModel registeredModelJSON `json:"registered_model"`
}

type modelVersionReply struct {
	ModelVersion modelVersionJSON `json:"model_version"`
}

func (s *Server) createRegisteredModel(ctx context.Context, req *request) (any, error) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := req.pairs("tags")
	if aerr != nil {
		return nil, aerr
	}
	description, aerr := req.str("description", false)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := validateModelName(name); aerr != nil {
		return nil, aerr
	}
	for _, t := range tags {
		if aerr := validateRegistryTag(t); aerr != nil {
			return nil, aerr
		}
	}
	var m *registeredModel
	err := s.db.write(ctx, func(tx *sql.Tx) error {
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
	if err != nil {
		return nil, err
	}
	return registeredModelReply{m.json()}, nil
}

// isNotFound reports whether err is MLflow's 404.
func isNotFound(err error) bool {
	var aerr *apiError
	return errors.As(err, &aerr) && aerr.Code == codeNotFound
}

// modelNameArg reads and checks a required model name.
func modelNameArg(req *request) (string, *apiError) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return "", aerr
	}
	return name, validateModelName(name)
}

func (s *Server) getRegisteredModel(ctx context.Context, req *request) (any, error) {
	name, aerr := modelNameArg(req)
	if aerr != nil {
		return nil, aerr
	}
	var m *registeredModel
	err := s.db.read(ctx, func(tx *sql.Tx) (err error) {
		m, err = getModel(ctx, tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return registeredModelReply{m.json()}, nil
}

func (s *Server) updateRegisteredModel(ctx context.Context, req *request) (any, error) {
	name, aerr := modelNameArg(req)
	if aerr != nil {
		return nil, aerr
	}
	description, aerr := req.str("description", false)
	if aerr != nil {
		return nil, aerr
	}
	var m *registeredModel
	err := s.db.write(ctx, func(tx *sql.Tx) error {
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
	if err != nil {
		return nil, err
	}
	return registeredModelReply{m.json()}, nil
}

func (s *Server) deleteRegisteredModel(ctx context.Context, req *request) (any, error) {
	name, aerr := modelNameArg(req)
	if aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM registered_models WHERE name = ?`, name)
		return err
	})
}

func (s *Server) setRegisteredModelTag(ctx context.Context, req *request) (any, error) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return nil, aerr
	}
	key, aerr := req.str("key", true)
	if aerr != nil {
		return nil, aerr
	}
	value, aerr := req.str("value", false)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := validateModelName(name); aerr != nil {
		return nil, aerr
	}
	if aerr := validateRegistryTag(keyValue{key, value}); aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO registered_model_tags (name, key, value) VALUES (?, ?, ?)`, name, key, value)
		return err
	})
}

func (s *Server) deleteRegisteredModelTag(ctx context.Context, req *request) (any, error) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return nil, aerr
	}
	key, aerr := req.str("key", true)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := validateModelName(name); aerr != nil {
		return nil, aerr
	}
	if aerr := validateKeyName(key, "key"); aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM registered_model_tags WHERE name = ? AND key = ?`, name, key)
		return err
	})
}

// versionArgs reads and checks a required model name and version.
func versionArgs(req *request) (string, int64, *apiError) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return "", 0, aerr
	}
	raw, aerr := req.str("version", true)
	if aerr != nil {
		return "", 0, aerr
	}
	if aerr := validateModelName(name); aerr != nil {
		return "", 0, aerr
	}
	v, aerr := parseVersion(raw)
	return name, v, aerr
}

func (s *Server) getModelVersion(ctx context.Context, req *request) (any, error) {
	name, version, aerr := versionArgs(req)
	if aerr != nil {
		return nil, aerr
	}
	var v *modelVersion
	err := s.db.read(ctx, func(tx *sql.Tx) (err error) {
		v, err = getVersion(ctx, tx, name, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return modelVersionReply{v.json(true)}, nil
}

func (s *Server) updateModelVersion(ctx context.Context, req *request) (any, error) {
	name, version, aerr := versionArgs(req)
	if aerr != nil {
		return nil, aerr
	}
	description, aerr := req.str("description", false)
	if aerr != nil {
		return nil, aerr
	}
	var v *modelVersion
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if err := versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		if req.has("description") {
			if _, err := tx.ExecContext(ctx, `UPDATE model_versions SET description = ?, last_updated_time = ? WHERE name = ? AND version = ?`,
				description, nowMillis(), name, version); err != nil {
				return err
			}
		}
		var err error
		v, err = getVersion(ctx, tx, name, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return modelVersionReply{v.json(true)}, nil
}

func (s *Server) getDownloadURI(ctx context.Context, req *request) (any, error) {
	name, _ := req.str("name", false)
	raw, _ := req.str("version", false)
	if aerr := validateModelName(name); aerr != nil {
		return nil, aerr
	}
	version, aerr := parseVersion(raw)
	if aerr != nil {
		return nil, aerr
	}
	var v *modelVersion
	err := s.db.read(ctx, func(tx *sql.Tx) (err error) {
		v, err = getVersion(ctx, tx, name, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	uri := v.storageLocation
	if uri == "" {
		uri = v.source
	}
	return struct {
		ArtifactURI string `json:"artifact_uri"`
	}{uri}, nil
}

func (s *Server) createModelVersion(ctx context.Context, req *request) (any, error) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return nil, aerr
	}
	source, aerr := req.str("source", true)
	if aerr != nil {
		return nil, aerr
	}
	runID, aerr := req.str("run_id", false)
	if aerr != nil {
		return nil, aerr
	}
	tags, aerr := req.pairs("tags")
	if aerr != nil {
		return nil, aerr
	}
	runLink, aerr := req.str("run_link", false)
	if aerr != nil {
		return nil, aerr
	}
	description, aerr := req.str("description", false)
	if aerr != nil {
		return nil, aerr
	}
	if modelID, _ := req.str("model_id", false); modelID != "" {
		return nil, errInvalid("model_id (logged models) is not supported by the embedded server: register a run's model with run_id and source")
	}
	var v *modelVersion
	err := s.db.write(ctx, func(tx *sql.Tx) error {
		if err := validateSource(ctx, tx, source, runID); err != nil {
			return err
		}
		if aerr := validateModelName(name); aerr != nil {
			return aerr
		}
		for _, t := range tags {
			if aerr := validateRegistryTag(t); aerr != nil {
				return aerr
			}
		}
		if err := modelExists(ctx, tx, name); err != nil {
			return err
		}
		var last sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM model_versions WHERE name = ?`, name).Scan(&last); err != nil {
			return err
		}
		version := last.Int64 + 1
		now := nowMillis()
		if _, err := tx.ExecContext(ctx, `INSERT INTO model_versions (`+modelVersionColumns+`) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, 'READY', NULL)`,
			name, version, now, now, description, stageNone, source, source, runID, runLink); err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)`, name, version, t.Key, t.Value); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE registered_models SET last_updated_time = ? WHERE name = ?`, now, name); err != nil {
			return err
		}
		var err error
		v, err = getVersion(ctx, tx, name, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return modelVersionReply{v.json(true)}, nil
}

func (s *Server) setModelVersionTag(ctx context.Context, req *request) (any, error) {
	name, version, key, aerr := versionKeyArgs(req)
	if aerr != nil {
		return nil, aerr
	}
	value, aerr := req.str("value", false)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := validateRegistryTag(keyValue{key, value}); aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if err := versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO model_version_tags (name, version, key, value) VALUES (?, ?, ?, ?)`, name, version, key, value)
		return err
	})
}

// versionKeyArgs reads name, version and key, in MLflow's order.
func versionKeyArgs(req *request) (string, int64, string, *apiError) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return "", 0, "", aerr
	}
	raw, aerr := req.str("version", true)
	if aerr != nil {
		return "", 0, "", aerr
	}
	key, aerr := req.str("key", true)
	if aerr != nil {
		return "", 0, "", aerr
	}
	if aerr := validateModelName(name); aerr != nil {
		return "", 0, "", aerr
	}
	version, aerr := parseVersion(raw)
	if aerr != nil {
		return "", 0, "", aerr
	}
	return name, version, key, nil
}

func (s *Server) deleteModelVersionTag(ctx context.Context, req *request) (any, error) {
	name, version, key, aerr := versionKeyArgs(req)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := validateKeyName(key, "key"); aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if err := versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM model_version_tags WHERE name = ? AND version = ? AND key = ?`, name, version, key)
		return err
	})
}

func (s *Server) setAlias(ctx context.Context, req *request) (any, error) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return nil, aerr
	}
	alias, aerr := req.str("alias", true)
	if aerr != nil {
		return nil, aerr
	}
	raw, aerr := req.str("version", true)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := validateModelName(name); aerr != nil {
		return nil, aerr
	}
	if aerr := validateAliasName(alias); aerr != nil {
		return nil, aerr
	}
	if aerr := validateAliasNotReserved(alias); aerr != nil {
		return nil, aerr
	}
	version, aerr := parseVersion(raw)
	if aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if err := versionExists(ctx, tx, name, version); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO registered_model_aliases (name, alias, version) VALUES (?, ?, ?)`, name, alias, version)
		return err
	})
}

func (s *Server) deleteAlias(ctx context.Context, req *request) (any, error) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return nil, aerr
	}
	alias, aerr := req.str("alias", true)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := validateModelName(name); aerr != nil {
		return nil, aerr
	}
	if aerr := validateAliasName(alias); aerr != nil {
		return nil, aerr
	}
	return s.writeEmpty(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, name); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM registered_model_aliases WHERE name = ? AND alias = ?`, name, alias)
		return err
	})
}

func (s *Server) getVersionByAlias(ctx context.Context, req *request) (any, error) {
	name, aerr := req.str("name", true)
	if aerr != nil {
		return nil, aerr
	}
	alias, aerr := req.str("alias", true)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := validateModelName(name); aerr != nil {
		return nil, aerr
	}
	if aerr := validateAliasName(alias); aerr != nil {
		return nil, aerr
	}
	var v *modelVersion
	err := s.db.read(ctx, func(tx *sql.Tx) error {
		if err := modelExists(ctx, tx, name); err != nil {
			return err
		}
		var version int64
		var err error
		if strings.EqualFold(alias, "latest") {
			var last sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT MAX(version) FROM model_versions WHERE name = ?`, name).Scan(&last); err != nil {
				return err
			}
			if !last.Valid {
				return errNotFound("Latest version not found for model %s.", name)
			}
			version = last.Int64
		} else {
			err = tx.QueryRowContext(ctx, `SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?`, name, alias).Scan(&version)
			if errors.Is(err, sql.ErrNoRows) {
				return errInvalid("Registered model alias %s not found.", alias)
			}
			if err != nil {
				return err
			}
		}
		v, err = getVersion(ctx, tx, name, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return modelVersionReply{v.json(true)}, nil
}

func (s *Server) getLatestVersions(ctx context.Context, req *request) (any, error) {
	name, aerr := modelNameArg(req)
	if aerr != nil {
		return nil, aerr
	}
	stages, aerr := req.strs("stages")
	if aerr != nil {
		return nil, aerr
	}
	var m *registeredModel
	err := s.db.read(ctx, func(tx *sql.Tx) (err error) {
		m, err = getModel(ctx, tx, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	var out struct {
		ModelVersions []modelVersionJSON `json:"model_versions,omitempty"`
	}
	for _, v := range m.latest {
		want := len(stages) == 0
		for _, st := range stages {
			want = want || strings.EqualFold(st, v.stage)
		}
		if want {
			out.ModelVersions = append(out.ModelVersions, v.json(true))
		}
	}
	return out, nil
}
