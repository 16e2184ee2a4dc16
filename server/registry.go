package server

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

// MLflow's (deprecated) model version stages, replaced by aliases: a new
// version has stage None; model-versions/transition-stage moves it.
const (
	stageNone       = "None"
	stageStaging    = "Staging"
	stageProduction = "Production"
	stageArchived   = "Archived"
)

// canonicalStage is MLflow's get_canonical_stage: a stage named in any
// case, spelt as MLflow spells it.
func canonicalStage(stage string) (string, *apiError) {
	for _, s := range []string{stageNone, stageStaging, stageProduction, stageArchived} {
		if strings.EqualFold(s, stage) {
			return s, nil
		}
	}
	return "", errInvalid("Invalid Model Version stage: %s. Value must be one of None, Staging, Production, Archived.", stage)
}

// stageDeletedInternal marks a deleted model version, which MLflow keeps
// (redacted, with its tags) so that its number is not given again; every
// read leaves it out (live).
const stageDeletedInternal = "Deleted_Internal"

// live selects the model versions that are not deleted.
const live = "current_stage <> '" + stageDeletedInternal + "'"

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

// withAliases and withoutAliases are json(true) and json(false).
func (v *modelVersion) withAliases() modelVersionJSON    { return v.json(true) }
func (v *modelVersion) withoutAliases() modelVersionJSON { return v.json(false) }

const modelVersionColumns = `name, version, creation_time, last_updated_time, description, user_id, current_stage, source, storage_location, run_id, run_link, status, status_message`

// loadVersions reads the versions a WHERE clause selects, with their tags
// and aliases.
func loadVersions(ctx context.Context, q queryer, where string, args ...any) ([]*modelVersion, error) {
	where = "(" + where + ") AND " + live
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
	// The latest version of each stage (deleted versions left out).
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
	err := q.QueryRowContext(ctx, `SELECT 1 FROM model_versions WHERE name = ? AND version = ? AND `+live, name, version).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound("Model Version (name=%s, version=%d) not found", name, version)
	}
	return err
}

// isNotFound reports whether err is MLflow's 404.
func isNotFound(err error) bool {
	var aerr *apiError
	return errors.As(err, &aerr) && aerr.Code == codeNotFound
}
