package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// store is the SQLite database of a data directory: one connection that
// writes, serialised by database/sql's pool of one, and a pool of
// read-only connections. WAL mode lets readers run beside the writer;
// synchronous=FULL makes every commit durable before it returns, so a
// handler that replies after its commit never acknowledges a write a crash
// can lose.
type store struct {
	w *sql.DB // one connection; transactions BEGIN IMMEDIATE
	r *sql.DB // read-only connections
}

// busyTimeout is how long a connection waits for another process's lock.
const busyTimeout = 10 * time.Second

// dbFile is the database's name in the data directory.
const dbFile = "mlflow.db"

// openStore opens (creating if needed) the database in dir and brings its
// schema up to date.
func openStore(ctx context.Context, dir string) (*store, error) {
	path := filepath.Join(dir, dbFile)
	dsn := func(extra ...string) string {
		q := url.Values{}
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "foreign_keys(ON)")
		for _, e := range extra {
			k, v, _ := strings.Cut(e, "=")
			q.Add(k, v)
		}
		return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn("_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return &store{w: w, r: r}, nil
}

// close closes both pools; the last close checkpoints the WAL.
func (s *store) close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// write runs fn in a write transaction and commits it. The commit is
// durable when write returns nil.
func (s *store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting a write: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// read runs fn in a read transaction: one consistent snapshot.
func (s *store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("starting a read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	return fn(tx)
}

// migrations bring the schema from version i to i+1 (PRAGMA user_version).
// Append only: a released migration never changes.
var migrations = []string{
	// 1: experiments, runs, the model registry.
	`
CREATE TABLE experiments (
	experiment_id     INTEGER PRIMARY KEY AUTOINCREMENT,
	name              TEXT NOT NULL UNIQUE,
	artifact_location TEXT NOT NULL,
	lifecycle_stage   TEXT NOT NULL,
	creation_time     INTEGER NOT NULL,
	last_update_time  INTEGER NOT NULL
);
CREATE TABLE experiment_tags (
	experiment_id INTEGER NOT NULL REFERENCES experiments ON DELETE CASCADE,
	key           TEXT NOT NULL,
	value         TEXT NOT NULL,
	PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;
CREATE TABLE runs (
	run_uuid        TEXT PRIMARY KEY,
	name            TEXT NOT NULL,
	experiment_id   INTEGER NOT NULL REFERENCES experiments ON DELETE CASCADE,
	user_id         TEXT NOT NULL,
	status          TEXT NOT NULL,
	start_time      INTEGER NOT NULL,
	end_time        INTEGER,
	artifact_uri    TEXT NOT NULL,
	lifecycle_stage TEXT NOT NULL,
	deleted_time    INTEGER
) WITHOUT ROWID;
CREATE INDEX runs_by_experiment ON runs (experiment_id, lifecycle_stage);
CREATE TABLE metrics (
	run_uuid  TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
	key       TEXT NOT NULL,
	value     REAL NOT NULL,
	timestamp INTEGER NOT NULL,
	step      INTEGER NOT NULL,
	is_nan    INTEGER NOT NULL,
	PRIMARY KEY (run_uuid, key, timestamp, step, value, is_nan)
) WITHOUT ROWID;
CREATE TABLE latest_metrics (
	run_uuid  TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
	key       TEXT NOT NULL,
	value     REAL NOT NULL,
	timestamp INTEGER NOT NULL,
	step      INTEGER NOT NULL,
	is_nan    INTEGER NOT NULL,
	PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
CREATE TABLE params (
	run_uuid TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
	key      TEXT NOT NULL,
	value    TEXT NOT NULL,
	PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
CREATE TABLE tags (
	run_uuid TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
	key      TEXT NOT NULL,
	value    TEXT NOT NULL,
	PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
CREATE TABLE registered_models (
	name              TEXT PRIMARY KEY,
	creation_time     INTEGER NOT NULL,
	last_updated_time INTEGER NOT NULL,
	description       TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE registered_model_tags (
	name  TEXT NOT NULL REFERENCES registered_models ON DELETE CASCADE ON UPDATE CASCADE,
	key   TEXT NOT NULL,
	value TEXT NOT NULL,
	PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE TABLE model_versions (
	name              TEXT NOT NULL REFERENCES registered_models ON DELETE CASCADE ON UPDATE CASCADE,
	version           INTEGER NOT NULL,
	creation_time     INTEGER NOT NULL,
	last_updated_time INTEGER NOT NULL,
	description       TEXT NOT NULL,
	user_id           TEXT,
	current_stage     TEXT NOT NULL,
	source            TEXT NOT NULL,
	storage_location  TEXT NOT NULL,
	run_id            TEXT NOT NULL,
	run_link          TEXT NOT NULL,
	status            TEXT NOT NULL,
	status_message    TEXT,
	PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE INDEX model_versions_by_run ON model_versions (run_id);
CREATE TABLE model_version_tags (
	name    TEXT NOT NULL,
	version INTEGER NOT NULL,
	key     TEXT NOT NULL,
	value   TEXT NOT NULL,
	PRIMARY KEY (name, version, key),
	FOREIGN KEY (name, version) REFERENCES model_versions ON DELETE CASCADE ON UPDATE CASCADE
) WITHOUT ROWID;
CREATE TABLE registered_model_aliases (
	name    TEXT NOT NULL REFERENCES registered_models ON DELETE CASCADE ON UPDATE CASCADE,
	alias   TEXT NOT NULL,
	version INTEGER NOT NULL,
	PRIMARY KEY (name, alias)
) WITHOUT ROWID;
`,
	// 2: run inputs (datasets, kept once per experiment, name and digest;
	// logged models) and outputs (logged models), as MLflow's datasets,
	// inputs and input_tags tables. Dataset inputs keep the order they
	// were logged in (rowid); model ids are opaque strings.
	`
CREATE TABLE datasets (
	dataset_id    INTEGER PRIMARY KEY,
	experiment_id INTEGER NOT NULL REFERENCES experiments ON DELETE CASCADE,
	name          TEXT NOT NULL,
	digest        TEXT NOT NULL,
	source_type   TEXT NOT NULL,
	source        TEXT NOT NULL,
	schema        TEXT,
	profile       TEXT,
	UNIQUE (experiment_id, name, digest)
);
CREATE TABLE run_datasets (
	run_uuid   TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
	dataset_id INTEGER NOT NULL REFERENCES datasets ON DELETE CASCADE,
	UNIQUE (run_uuid, dataset_id)
);
CREATE TABLE run_dataset_tags (
	run_uuid   TEXT NOT NULL,
	dataset_id INTEGER NOT NULL,
	key        TEXT NOT NULL,
	value      TEXT NOT NULL,
	PRIMARY KEY (run_uuid, dataset_id, key),
	FOREIGN KEY (run_uuid, dataset_id) REFERENCES run_datasets (run_uuid, dataset_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE TABLE run_model_inputs (
	run_uuid TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
	model_id TEXT NOT NULL,
	PRIMARY KEY (run_uuid, model_id)
) WITHOUT ROWID;
CREATE TABLE run_model_outputs (
	run_uuid TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
	model_id TEXT NOT NULL,
	step     INTEGER NOT NULL,
	PRIMARY KEY (run_uuid, model_id)
) WITHOUT ROWID;
`,
	// 3: logged models, their tags, params and metrics.
	`
CREATE TABLE logged_models (
	model_id                  TEXT PRIMARY KEY,
	experiment_id             INTEGER NOT NULL REFERENCES experiments ON DELETE CASCADE,
	name                      TEXT NOT NULL,
	artifact_location         TEXT NOT NULL,
	creation_timestamp_ms     INTEGER NOT NULL,
	last_updated_timestamp_ms INTEGER NOT NULL,
	status                    INTEGER NOT NULL,
	lifecycle_stage           TEXT NOT NULL,
	model_type                TEXT,
	source_run_id             TEXT,
	status_message            TEXT
) WITHOUT ROWID;
CREATE INDEX logged_models_by_experiment ON logged_models (experiment_id, lifecycle_stage);
CREATE TABLE logged_model_tags (
	model_id TEXT NOT NULL REFERENCES logged_models ON DELETE CASCADE,
	key      TEXT NOT NULL,
	value    TEXT NOT NULL,
	PRIMARY KEY (model_id, key)
) WITHOUT ROWID;
CREATE TABLE logged_model_params (
	model_id TEXT NOT NULL REFERENCES logged_models ON DELETE CASCADE,
	key      TEXT NOT NULL,
	value    TEXT NOT NULL,
	PRIMARY KEY (model_id, key)
) WITHOUT ROWID;
CREATE TABLE logged_model_metrics (
	model_id       TEXT NOT NULL REFERENCES logged_models ON DELETE CASCADE,
	key            TEXT NOT NULL,
	timestamp      INTEGER NOT NULL,
	step           INTEGER NOT NULL,
	run_id         TEXT NOT NULL REFERENCES runs ON DELETE CASCADE,
	value          REAL,
	experiment_id  INTEGER NOT NULL,
	dataset_name   TEXT,
	dataset_digest TEXT,
	PRIMARY KEY (model_id, key, timestamp, step, run_id)
) WITHOUT ROWID;
`,
}

// migrate applies the migrations the database has not seen, each in its
// own transaction with the version bump, and inserts the Default
// experiment on a new database. A database newer than this program is an
// error: it would be misread.
func migrate(ctx context.Context, db *sql.DB) error {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this playbook knows (%d): upgrade playbook", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if i == 0 {
			now := nowMillis()
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time)
				 VALUES (0, 'Default', ?, 'active', ?, ?)`, artifactRootURI+"0", now, now); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("migration %d: the Default experiment: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			_ = tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}

// nowMillis is the time in Unix milliseconds, as MLflow stores it.
func nowMillis() int64 { return time.Now().UnixMilli() }
