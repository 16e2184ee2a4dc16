package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // the embedded server's driver, to fill its database

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/server"
)

// loadRuns is how many FINISHED runs the identify load test puts in one
// experiment (issue 16).
const loadRuns = 100_000

// TestLoadIdentify100kEmbeddedHeavy: identify over 100,000 runs of one
// experiment on the embedded server, the runs inserted straight into its
// SQLite database (the same tables its REST API writes) while it serves.
func TestLoadIdentify100kEmbeddedHeavy(t *testing.T) {
	testenv.Heavy(t)
	dir := t.TempDir()
	uri := mlflowtest.EmbeddedWith(t, server.Config{DataDir: dir})
	loadIdentify(t, "embedded", uri, func(p loadPlan) {
		insertRunsSQLite(t, filepath.Join(dir, "mlflow.db"), p)
	})
}

// TestLoadIdentify100kPostgresHeavy: identify over 100,000 runs of one
// experiment on MLflow 3.18 on PostgreSQL (.ci/run's PostgreSQL lane), the
// runs inserted straight into MLflow's tables with SQL through psql.
func TestLoadIdentify100kPostgresHeavy(t *testing.T) {
	testenv.Heavy(t)
	uri := testenv.RealMLflow(t)
	pg := postgresBehindMLflow(t)
	psql := psqlBinary(t)
	loadIdentify(t, "mlflow-postgresql", uri, func(p loadPlan) {
		insertRunsPostgres(t, psql, pg, p)
	})
}

// loadPlan is what the insert puts into the experiment: loadRuns FINISHED
// runs, run i (1..loadRuns) with the id prefix+%016x, an f1 of
// 0.5 + 0.4*((i*7919) mod 100003)/100003 (all distinct, below 0.9) and a
// start time now-i seconds, but the run best, planted with an f1 of 0.99.
type loadPlan struct {
	experimentID string
	location     string // the experiment's artifact location
	prefix       string // 16 hex digits
	best         int
	now          int64 // ms
}

// runID returns the id of run i.
func (p loadPlan) runID(i int) string { return fmt.Sprintf("%s%016x", p.prefix, i) }

// loadIdentify creates an experiment, fills it with loadPlan's runs
// through insert, then runs identify over it (a scenario of one cell
// calling steps.Identify, through playbook run as the e2e tests do),
// behind a loopback proxy that times each runs/search page the server
// answers. It checks the evidence's best run and counts and logs the
// figures with a LOAD prefix.
func loadIdentify(t *testing.T, name, uri string, insert func(loadPlan)) {
	ctx := t.Context()
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	exp := mlflowtest.Unique("load-identify")
	id, err := c.CreateExperiment(ctx, exp, nil)
	require.NoError(t, err)
	x, err := c.GetExperiment(ctx, id)
	require.NoError(t, err)
	p := loadPlan{
		experimentID: id, location: strings.TrimRight(x.ArtifactLocation, "/"),
		prefix: fmt.Sprintf("%016x", rand.Uint64()), best: 1 + rand.IntN(loadRuns),
		now: time.Now().UnixMilli(),
	}
	t0 := time.Now()
	insert(p)
	inserted := time.Since(t0)

	timer := &pageTimer{target: uri}
	proxy := httptest.NewServer(timer)
	t.Cleanup(proxy.Close)
	sc := filepath.Join(t.TempDir(), "identify.md")
	require.NoError(t, os.WriteFile(sc, []byte(identifyScenario), 0o644))
	e := &e2e{t: t, uri: proxy.URL, c: c}
	args := []string{sc, "-p", "experiment=" + exp}
	pageSize := "the default, steps.DefaultRunPageSize"
	if n := os.Getenv(envLoadPageSize); n != "" {
		args = append(args, "-p", "page_size="+n)
		pageSize = n + ", " + envLoadPageSize
	}
	t1 := time.Now()
	code, stderr, rec := e.run(args...)
	wall := time.Since(t1)
	require.Equal(t, ExitOK, code, stderr)
	require.NotNil(t, rec)
	lb := rec.Evidence.Leaderboard
	require.NotNil(t, lb, "identify kept no leaderboard")
	assert.Equal(t, loadRuns, lb.Finished, "the FINISHED runs identify saw")
	assert.Equal(t, loadRuns, lb.Considered, "the runs that logged f1")
	assert.Equal(t, 1, lb.Tied)
	require.NotEmpty(t, lb.Rows)
	found := "found"
	if !assert.Equal(t, p.runID(p.best), lb.Rows[0].RunID, "the run planted best (run %d of %d)", p.best, loadRuns) {
		found = "NOT found"
	}
	assert.InDelta(t, 0.99, lb.Rows[0].Value, 1e-12)
	cell := rec.Cell("identify")
	require.NotNil(t, cell)

	pages := timer.searches()
	require.NotEmpty(t, pages, "no runs/search page went through the proxy")
	sorted := slices.Sorted(slices.Values(pages))
	var total time.Duration
	for _, d := range pages {
		total += d
	}
	t.Logf("LOAD %s: %d FINISHED runs inserted by SQL in %.1f s; identify (page size %s): its cell %.1f s, playbook run %.1f s wall; "+
		"%d runs/search pages, the server's time per page (request sent to last byte, through a loopback proxy) "+
		"min %.0f ms, median %.0f ms, max %.0f ms, total %.1f s; best run %d planted, %s",
		name, loadRuns, inserted.Seconds(), pageSize, time.Duration(cell.Duration).Seconds(), wall.Seconds(),
		len(pages), ms(sorted[0]), ms(sorted[len(sorted)/2]), ms(sorted[len(sorted)-1]), total.Seconds(), p.best, found)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// envLoadPageSize names the variable that sets identify's page size in
// the identify load test (IdentifyOptions.PageSize); unset, identify's
// default. PLAYBOOK_LOAD_PAGE_SIZE=1000 is MLflow's default page.
const envLoadPageSize = "PLAYBOOK_LOAD_PAGE_SIZE"

// identifyScenario is one cell: identify's defaults (f1, max), every page
// of page_size runs (0: identify's default).
const identifyScenario = `---
title: Identify over many runs
lang: en
description: The identify load test of issue 16 (cmd/playbook/load_identify_test.go).
params:
  experiment: {type: string, default: load-identify}
  page_size: {default: 0, min: 0}
---

# Identify over many runs

` + "```go step=identify\n" + `steps.Identify(pb, steps.IdentifyOptions{Experiment: params.Experiment, PageSize: params.PageSize})
` + "```\n"

// pageTimer forwards every request to target and times, for each
// runs/search, the server's answer: from the request sent to the last
// byte of the reply read, before the reply is passed on.
type pageTimer struct {
	target string
	mu     sync.Mutex
	pages  []time.Duration
}

func (p *pageTimer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	req.ContentLength = r.ContentLength
	start := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/runs/search") && resp.StatusCode == http.StatusOK {
		p.mu.Lock()
		p.pages = append(p.pages, took)
		p.mu.Unlock()
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

func (p *pageTimer) searches() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.pages)
}

// loadRowsSQL selects loadPlan's rows (i, run_id, f1, start) from a table
// s(i) of 1..loadRuns: the same expressions for SQLite and PostgreSQL.
func loadRowsSQL(p loadPlan, runID string) string {
	return fmt.Sprintf(`SELECT i, %s AS run_id,
	CASE WHEN i = %d THEN 0.99 ELSE 0.5 + 0.4 * ((i * 7919) %% 100003) / 100003.0 END AS f1,
	%d - i * 1000 AS start FROM s`, runID, p.best, p.now)
}

// insertRunsSQLite inserts loadPlan's runs into the embedded server's
// database at path, in one transaction of a connection of its own, while
// the server serves (SQLite's locks keep them apart).
func insertRunsSQLite(t *testing.T, path string, p loadPlan) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)&_txlock=immediate")
	require.NoError(t, err)
	defer db.Close()
	ctx := t.Context()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer tx.Rollback() //nolint:errcheck // committed below
	rows := fmt.Sprintf("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d) ", loadRuns) +
		loadRowsSQL(p, fmt.Sprintf("printf('%s%%016x', i)", p.prefix))
	for _, q := range []string{
		`CREATE TEMP TABLE load AS ` + rows,
		fmt.Sprintf(`INSERT INTO runs (run_uuid, name, experiment_id, user_id, status, start_time, end_time, artifact_uri, lifecycle_stage)
			SELECT run_id, 'load-' || i, %s, 'playbook-load', 'FINISHED', start, start + 500, '%s/' || run_id || '/artifacts', 'active' FROM load`,
			p.experimentID, p.location),
		`INSERT INTO metrics (run_uuid, key, value, timestamp, step, is_nan) SELECT run_id, 'f1', f1, start + 400, 0, 0 FROM load`,
		`INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) SELECT run_id, 'f1', f1, start + 400, 0, 0 FROM load`,
		`DROP TABLE load`,
	} {
		_, err := tx.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, tx.Commit())
}

// psqlBinary returns psql: $PLAYBOOK_PG_BIN's (scripts/pg-server's
// binaries, /usr/lib/postgresql/15/bin by default), else the PATH's.
func psqlBinary(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PLAYBOOK_PG_BIN")
	if dir == "" {
		dir = "/usr/lib/postgresql/15/bin"
	}
	if p := filepath.Join(dir, "psql"); fileExists(p) {
		return p
	}
	p, err := exec.LookPath("psql")
	if err != nil {
		if testenv.InCI() {
			t.Fatal("CI=true: no psql (apt-get install -y postgresql)")
		}
		t.Skip("no psql: apt-get install -y postgresql")
	}
	return p
}

// insertRunsPostgres inserts loadPlan's runs into MLflow's tables on the
// PostgreSQL pg, in one transaction through psql, and then ANALYZEs them,
// as autovacuum would after such an insert. It first checks that the
// experiment is there: that this PostgreSQL is MLflow's.
func insertRunsPostgres(t *testing.T, psql, pg string, p loadPlan) {
	ctx := t.Context()
	n := strings.TrimSpace(runPsql(ctx, t, psql, pg, fmt.Sprintf(
		"SELECT count(*) FROM experiments WHERE experiment_id = %s AND lifecycle_stage = 'active'", p.experimentID)))
	require.Equal(t, "1", n, "experiment %s is not in %s: is MLflow (MLFLOW_TRACKING_URI) on this PostgreSQL?", p.experimentID, pg)
	rows := fmt.Sprintf("WITH s(i) AS (SELECT generate_series(1, %d)) ", loadRuns) +
		loadRowsSQL(p, fmt.Sprintf("'%s' || lpad(to_hex(i), 16, '0')", p.prefix))
	script := strings.Join([]string{
		`BEGIN`,
		`CREATE TEMP TABLE load AS ` + rows,
		fmt.Sprintf(`INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id)
			SELECT run_id, 'load-' || i, 'LOCAL', '', '', 'playbook-load', 'FINISHED', start, start + 500, '', 'active', '%s/' || run_id || '/artifacts', %s FROM load`,
			p.location, p.experimentID),
		`INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) SELECT 'f1', f1, start + 400, run_id, 0, false FROM load`,
		`INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) SELECT 'f1', f1, start + 400, 0, false, run_id FROM load`,
		`DROP TABLE load`,
		`COMMIT`,
		`ANALYZE runs, metrics, latest_metrics`,
	}, ";\n") + ";\n"
	runPsql(ctx, t, psql, pg, script)
}

// runPsql runs the SQL script with psql on the database uri, stopping at
// its first error, and returns what it printed (unaligned, tuples only).
func runPsql(ctx context.Context, t *testing.T, psql, uri, script string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", uri, "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "psql: %s\n%s", stderr.String(), script)
	return stdout.String()
}
