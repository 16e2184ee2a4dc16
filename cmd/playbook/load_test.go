package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
)

// loadModels is how many promotions run at once, each on its own model;
// loadParallel bounds how many run at one moment on a 2-core machine (they
// still overlap).
const (
	loadModels   = 32
	loadParallel = 8
)

// TestLoadPromotionsEmbeddedHeavy: the load test (issue 16) against the
// embedded server.
func TestLoadPromotionsEmbeddedHeavy(t *testing.T) {
	testenv.Heavy(t)
	loadPromotions(t, "embedded", mlflowtest.Embedded(t))
}

// TestLoadPromotionsPostgresHeavy: the load test against MLflow 3.18 on
// PostgreSQL, as .ci/run's PostgreSQL lane starts it (scripts/pg-server,
// then scripts/mlflow-server with PLAYBOOK_MLFLOW_BACKEND_STORE_URI).
func TestLoadPromotionsPostgresHeavy(t *testing.T) {
	testenv.Heavy(t)
	uri := testenv.RealMLflow(t)
	postgresBehindMLflow(t)
	loadPromotions(t, "mlflow-postgresql", uri)
}

// postgresBehindMLflow returns the URI of the PostgreSQL behind the MLflow
// server of MLFLOW_TRACKING_URI: PLAYBOOK_MLFLOW_BACKEND_STORE_URI, else
// what scripts/pg-server uri prints; it skips (fails under CI) when there
// is none.
func postgresBehindMLflow(t *testing.T) string {
	t.Helper()
	if uri := os.Getenv("PLAYBOOK_MLFLOW_BACKEND_STORE_URI"); strings.HasPrefix(uri, "postgresql") {
		return uri
	}
	out, err := exec.Command(filepath.Join(testenv.RepoRoot(), "scripts", "pg-server"), "uri").Output()
	uri := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(uri, "postgresql://") {
		if testenv.InCI() {
			t.Fatal("CI=true: no PostgreSQL behind MLflow: set PLAYBOOK_MLFLOW_BACKEND_STORE_URI (scripts/pg-server start)")
		}
		t.Skip("no PostgreSQL behind MLflow: set PLAYBOOK_MLFLOW_BACKEND_STORE_URI=$(scripts/pg-server start), then scripts/mlflow-server start")
	}
	return uri
}

// loadPromotions trains one experiment, then runs the French scenario on
// loadModels models at once (at most loadParallel at a moment) and checks
// each promotion's evidence against the registry; then races two
// promotions on one model. It logs the wall times.
func loadPromotions(t *testing.T, name, uri string) {
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	stamp := time.Now().UnixNano()
	exp := fmt.Sprintf("load-%d", stamp)
	e := &e2e{t: t, uri: uri, c: c}
	e.train(exp, 2, 2000, 3)

	models := make([]string, loadModels)
	type res struct {
		code    int
		stderr  string
		version string
		promo   string
	}
	out := make([]res, loadModels)
	sem := make(chan struct{}, loadParallel)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range loadModels {
		models[i] = fmt.Sprintf("Load-%d-%02d", stamp, i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			m := &e2e{t: t, uri: uri, c: c, model: models[i]}
			code, stderr, rec := m.promote(exp, "-p", "serve=off", "-p", "min_f1=0.3")
			r := res{code: code, stderr: stderr}
			if rec != nil {
				r.version = candidateVersion(rec)
				if rec.Evidence.Promotion != nil {
					r.promo = rec.Evidence.Promotion.Version
				}
			}
			out[i] = r
		})
	}
	wg.Wait()
	promotions := time.Since(t0)
	for i, r := range out {
		if !assert.Equal(t, ExitOK, r.code, "%s: %s", models[i], r.stderr) {
			continue
		}
		s := e.state(models[i])
		assert.Len(t, s.Versions, 1, "%s: one version, none lost or duplicated", models[i])
		assert.Equal(t, r.version, s.Aliases["production-live"], "%s: evidence and registry agree on production", models[i])
		assert.Equal(t, r.version, s.Aliases["staging-candidate"], models[i])
		assert.Equal(t, r.version, r.promo, "%s: evidence's promotion", models[i])
		assert.Equal(t, "passed", s.Versions[r.version]["validation_status"], models[i])
		assert.Contains(t, s.Versions[r.version], "promoted_at", models[i])
	}

	e.train(exp+"-team-a", 1, 2000, 3)
	e.train(exp+"-team-b", 1, 2000, 2)
	t1 := time.Now()
	off := []string{"-p", "serve=off", "-p", "min_f1=0.3"}
	e.race(exp, fmt.Sprintf("LoadRace-%d", stamp), [][]string{off, off})
	race := time.Since(t1)
	t.Logf("LOAD %s: %d promotions (%d at a time) %.1f s wall; a race of two on one model %.1f s",
		name, loadModels, loadParallel, promotions.Seconds(), race.Seconds())
}
