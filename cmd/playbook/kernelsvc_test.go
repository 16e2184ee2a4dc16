package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/regproxy"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/runner"
)

// TestKernelServicesRefuse: what playbook refuses to start for a kernel,
// before it starts anything: a source that is not a model, run or
// artifact URI of the tracking server, a model the registry does not
// have, a request that is not JSON, a scoring server it did not start;
// and a run with no interpreter says so. The registry is the same after
// as before.
func TestKernelServicesRefuse(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.Embedded(t)))
	require.NoError(t, err)
	_, err = c.CreateRegisteredModel(t.Context(), "Kept", map[string]string{"validation_status": "passed"}, "held by the test")
	require.NoError(t, err)
	_, err = c.CreateModelVersion(t.Context(), mlflow.CreateModelVersionRequest{Name: "Kept", Source: "s3://bucket/kept/model"})
	require.NoError(t, err)
	require.NoError(t, c.SetRegisteredModelAlias(t.Context(), "Kept", "production", "1"))
	before := registryDump(t, c)
	px, err := regproxy.Start(regproxy.Options{Target: c})
	require.NoError(t, err)
	defer px.Close()
	svc := newKernelServices(t.Context(), px, runner.Options{}, func() (*mlflow.Client, error) { return c, nil }, func() string { return "serve" })
	defer svc.close()
	hc := &http.Client{Transport: prefixTransport{prefix: px.Prefix(), base: http.DefaultTransport}}
	base := fmt.Sprintf("http://127.0.0.1:%d/rpc/", px.Port())

	for source, want := range map[string]string{
		"file:///etc/passwd":             "playbook serves a models:/, runs:/ or mlflow-artifacts:/ URI",
		"s3://bucket/model":              "playbook serves a models:/, runs:/ or mlflow-artifacts:/ URI",
		"models:/NoSuchModel@production": "models:/NoSuchModel@production: ",
		"models:/NoSuchModel/1":          "models:/NoSuchModel/1: ",
		"runs:/0123456789abcdef/model":   "runs:/0123456789abcdef/model: ",
	} {
		_, err := rpcPost(t.Context(), hc, base+"serve", notebook.ServeRequest{Source: source}, 1<<20)
		if assert.Error(t, err, source) {
			assert.Contains(t, err.Error(), want, source)
		}
	}
	resp, err := hc.Post(base+"serve", "application/json", strings.NewReader("not json"))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	_, err = rpcPost(t.Context(), hc, base+"serve/1/invocations", map[string]any{}, 1<<20)
	assert.EqualError(t, err, `no scoring server "1"`)

	// A source that resolves, but no interpreter to serve it with.
	_, err = rpcPost(t.Context(), hc, base+"serve", notebook.ServeRequest{Source: "mlflow-artifacts:/1/x/artifacts/model"}, 1<<20)
	assert.EqualError(t, err, notebook.ErrNoInterpreter.Error())
	b, err := rpcPost(t.Context(), hc, base+"interpreter", struct{}{}, 1<<20)
	require.NoError(t, err)
	assert.Contains(t, string(b), notebook.ErrNoInterpreter.Error())
	b, err = rpcPost(t.Context(), hc, base+"envs", struct{}{}, 1<<20)
	require.NoError(t, err)
	assert.Contains(t, string(b), "this run has no --env-manager virtualenv or uv")
	assert.Empty(t, svc.servers, "nothing was started")
	assert.Equal(t, before, registryDump(t, c), "the registry unchanged")
}
