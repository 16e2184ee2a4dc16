package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/playbook-mlops/playbook/pyworker"
)

// TestKernelEnvironHasNoStoreCredentials: the object store's variables
// (MLflow's S3 ones, AWS's keys, profile and region) stay in playbook,
// which reads artifacts for the kernel (mlflow.WithArtifactRelay): they
// reach neither the kernel's environment nor the Python worker's.
func TestKernelEnvironHasNoStoreCredentials(t *testing.T) {
	const secret = "kernelMustNotSeeThisSecret0123"
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_SHARED_CREDENTIALS_FILE", "AWS_DEFAULT_REGION", "AWS_REGION", "MLFLOW_S3_ENDPOINT_URL",
		"MLFLOW_S3_IGNORE_TLS", "MLFLOW_S3_UPLOAD_EXTRA_ARGS", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"} {
		t.Setenv(k, secret)
	}
	for name, env := range map[string][]string{"kernel": kernelEnviron(t.TempDir()), "python worker": pyworker.Environ()} {
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			assert.False(t, strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "MLFLOW_S3_"), "%s environment holds %s", name, k)
			assert.NotContains(t, v, secret, "%s environment: %s", name, k)
		}
	}
}
