package main

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// TestFrenchScenarioServed: the French exercise end to end with serving
// on (--python, serve=on): the serve cell starts `mlflow models serve` on
// models:/NAME@production-live, infer scores through it the same
// predictions as the model loaded in process (serve=off, the same
// version), the evidence says what was started and that it was stopped,
// and once playbook has returned the server's process is gone and its
// port closed.
func TestFrenchScenarioServed(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	frenchServed(t, mlflowtest.Embedded(t), "--kernel", kernelInProcess)
}

// TestFrenchScenarioServedMLflow is the same against MLflow 3.18, with the
// cells in a kernel process (the default): playbook starts the scoring
// server for the kernel (which starts no program), the kernel scores
// through playbook, and the evidence of what was served is playbook's.
func TestFrenchScenarioServedMLflow(t *testing.T) {
	testenv.Slow(t) // Python end to end: CI and PLAYBOOK_SLOW_TESTS=1 run it
	frenchServed(t, testenv.RealMLflow(t), "--kernel", kernelProcess)
}

func frenchServed(t *testing.T, uri string, kernel ...string) {
	py := testenv.Python(t)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	stamp := time.Now().UnixNano()
	exp := fmt.Sprintf("e2e-served-%d", stamp)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("ChurnServed-%d", stamp)}
	e.train(exp, 2, 5000, 3)

	code, stderr, rec := e.promote(exp, append([]string{"--python", py, "-p", "serve=on"}, kernel...)...)
	require.Equal(t, ExitOK, code, stderr)
	if slices.Contains(kernel, kernelProcess) {
		require.NotNil(t, rec.Environment.Isolation, "a kernel process ran the cells")
	}
	checkFrenchSections(t, rec, e.model, "1", "")
	require.Len(t, rec.Evidence.Served, 1)
	s := rec.Evidence.Served[0]
	modelURI := "models:/" + e.model + "@production-live"
	assert.Equal(t, "serve", s.Step)
	assert.Equal(t, modelURI, s.URI)
	assert.Equal(t, modelURI, s.Source)
	assert.Equal(t, "1", s.Version)
	assert.Equal(t, "http://127.0.0.1:"+strconv.Itoa(s.Port), s.URL)
	assert.Positive(t, time.Duration(s.ReadyIn))
	assert.Equal(t, "terminated", s.StopOutcome)
	assert.False(t, s.Stopped.IsZero())
	assert.ErrorIs(t, syscall.Kill(s.PID, 0), syscall.ESRCH, "the server's process %d is gone", s.PID)
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.Port), time.Second); err == nil {
		conn.Close()
		t.Errorf("something still listens on port %d", s.Port)
	}
	t.Logf("mlflow models serve answered /ping in %s", time.Duration(s.ReadyIn))
	served := inferTable(t, rec)
	assert.Contains(t, tableTitle(t, rec), ", servi à "+s.URL+" (version 1, seuil ")

	// The same version loaded in process: the same table.
	code, stderr, rec = e.promote(exp, append([]string{"--python", py, "-p", "serve=off"}, kernel...)...)
	require.Equal(t, ExitOK, code, stderr)
	assert.Empty(t, rec.Evidence.Served)
	assert.Equal(t, inferTable(t, rec).Rows, served.Rows)
}

// tableTitle returns the title of the table the infer cell displayed.
func tableTitle(t *testing.T, rec *record.Run) string {
	for _, o := range rec.Cell("infer").Outputs {
		if o.Kind == record.OutputTable {
			return o.Title
		}
	}
	t.Fatal("infer displayed no table")
	return ""
}
