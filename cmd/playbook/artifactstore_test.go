package main

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// TestArtifactStoreProbeMLflow: against MLflow itself serving no artifacts
// (scripts/mlflow-server with PLAYBOOK_MLFLOW_ARTIFACTS=s3-direct, the S3
// lane of .ci/run), churn models trained into the object store, then the
// French scenario with an object store that refuses playbook's credentials,
// and with one that cannot be reached: each run fails at register, saying
// what (the run's artifact store, its s3:// root) and where (the endpoint),
// never the secret, and the registry is byte-identical through its REST API
// before and after. With the right keys the same promotion passes.
func TestArtifactStoreProbeMLflow(t *testing.T) {
	uri := testenv.RealMLflow(t)
	if os.Getenv("PLAYBOOK_MLFLOW_ARTIFACTS") != "s3-direct" {
		t.Skip("the tracking server proxies its artifacts: set PLAYBOOK_MLFLOW_ARTIFACTS=s3-direct for a server started so (.ci/run's S3 lane)")
	}
	endpoint, secret := os.Getenv(mlflow.EnvS3EndpointURL), os.Getenv(mlflow.EnvAWSSecretKey)
	require.NotEmpty(t, endpoint, "s3-direct: MLFLOW_S3_ENDPOINT_URL")
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	stamp := time.Now().UnixNano()
	exp := fmt.Sprintf("probe-churn-%d", stamp)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("ChurnPredictor-probe-%d", stamp)}
	e.train(exp, 2, 5000, 3)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	for name, tc := range map[string]struct{ key, value, want, where, fr string }{
		"RefusedCredentials": {mlflow.EnvAWSSecretKey, "WRONGsecretForTheProbe0123456789", "refuses the credentials", endpoint, "refuse les identifiants de playbook (vérifiez AWS_ACCESS_KEY_ID et AWS_SECRET_ACCESS_KEY, ou AWS_PROFILE)"},
		"Unreachable":        {mlflow.EnvS3EndpointURL, closed, "cannot reach the store", closed, "ne peut pas être lu (est-il joignable ?)"},
	} {
		t.Run(name, func(t *testing.T) {
			before := registryDump(t, c)
			t.Setenv(tc.key, tc.value)
			code, stderr, rec := e.promote(exp)
			assert.Equal(t, ExitStepFailed, code, stderr)
			assert.Contains(t, stderr, "step register")
			assert.Contains(t, stderr, "register : le stockage d'artefacts du run", "the French scenario says it in French")
			assert.Contains(t, stderr, tc.fr)
			assert.Contains(t, stderr, "s3://")
			assert.Contains(t, stderr, tc.want)
			assert.Contains(t, stderr, tc.where)
			assert.Contains(t, stderr, "rien n'a été enregistré")
			if tc.key == mlflow.EnvAWSSecretKey {
				assert.NotContains(t, stderr, tc.value[len(tc.value)-12:])
			}
			assert.NotContains(t, stderr, secret)
			require.NotNil(t, rec)
			assert.Equal(t, record.OutcomeFailed, rec.Environment.Exit.Status)
			for _, call := range rec.Evidence.Calls {
				t.Errorf("a registry change was sent: %s %s", call.Method, call.Endpoint)
			}
			assert.Equal(t, before, registryDump(t, c), "the registry is unchanged")
		})
	}

	code, stderr, _ := e.promote(exp)
	require.Equal(t, ExitOK, code, stderr)
	s := e.state(e.model)
	assert.Equal(t, "1", s.Aliases["production-live"])
}
