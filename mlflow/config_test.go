package mlflow_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		cfg, err := mlflow.ConfigFromEnv(env(map[string]string{"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}))
		require.NoError(t, err)
		assert.Equal(t, mlflow.DefaultConfig("http://127.0.0.1:5000"), cfg)
		assert.Equal(t, 7, cfg.MaxRetries)
		assert.Equal(t, 2.0, cfg.BackoffFactor)
		assert.Equal(t, 1.0, cfg.BackoffJitter)
		assert.Equal(t, 120*time.Second, cfg.Timeout)
	})

	t.Run("OK", func(t *testing.T) {
		cfg, err := mlflow.ConfigFromEnv(env(map[string]string{
			"MLFLOW_TRACKING_URI":                    "https://mlflow.example.com/base",
			"MLFLOW_TRACKING_TOKEN":                  secretToken,
			"MLFLOW_TRACKING_USERNAME":               "alice",
			"MLFLOW_TRACKING_PASSWORD":               secretPassword,
			"MLFLOW_TRACKING_INSECURE_TLS":           "True",
			"MLFLOW_HTTP_REQUEST_MAX_RETRIES":        "0",
			"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR":     "5",
			"MLFLOW_HTTP_REQUEST_BACKOFF_JITTER":     "0.5",
			"MLFLOW_HTTP_REQUEST_TIMEOUT":            "30",
			"MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER": "false",
		}))
		require.NoError(t, err)
		assert.Equal(t, mlflow.Config{
			TrackingURI: "https://mlflow.example.com/base", Token: secretToken, Username: "alice", Password: secretPassword,
			InsecureTLS: true, MaxRetries: 0, BackoffFactor: 5, BackoffJitter: 0.5,
			MaxBackoff: mlflow.DefaultMaxBackoff, Timeout: 30 * time.Second, IgnoreRetryAfter: true,
		}, cfg)
	})

	t.Run("EmptyURIIsNotAnErrorHere", func(t *testing.T) {
		cfg, err := mlflow.ConfigFromEnv(env(nil))
		require.NoError(t, err)
		assert.Empty(t, cfg.TrackingURI)
		_, err = mlflow.New(cfg)
		require.ErrorContains(t, err, "MLFLOW_TRACKING_URI is empty")
	})

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"ErrScheme", map[string]string{"MLFLOW_TRACKING_URI": "file:///tmp/mlruns"}, `MLFLOW_TRACKING_URI: scheme "file" is not supported`},
		{"ErrDatabricks", map[string]string{"MLFLOW_TRACKING_URI": "databricks"}, "MLFLOW_TRACKING_URI databricks has no scheme"},
		{"ErrNoHost", map[string]string{"MLFLOW_TRACKING_URI": "http:///x"}, "has no host"},
		{"ErrBool", map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "yes"}, `MLFLOW_TRACKING_INSECURE_TLS: "yes" is not one of true, false, 1, 0`},
		{"ErrRetries", map[string]string{"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "many"}, `MLFLOW_HTTP_REQUEST_MAX_RETRIES: "many" is not a whole number`},
		{"ErrRetriesLimit", map[string]string{"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "11"}, "MLFLOW_HTTP_REQUEST_MAX_RETRIES: must be between 0 and 10"},
		{"ErrBackoff", map[string]string{"MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "121"}, "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: must be between 0 and 120"},
		{"ErrJitter", map[string]string{"MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "-1"}, "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: must not be negative"},
		{"ErrTimeout", map[string]string{"MLFLOW_HTTP_REQUEST_TIMEOUT": "0"}, "MLFLOW_HTTP_REQUEST_TIMEOUT: must be more than 0"},
		{"ErrTimeoutNaN", map[string]string{"MLFLOW_HTTP_REQUEST_TIMEOUT": "NaN"}, "MLFLOW_HTTP_REQUEST_TIMEOUT"},
		{"ErrTLSBoth", map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "true", "MLFLOW_TRACKING_SERVER_CERT_PATH": "/ca.pem"}, "MLFLOW_TRACKING_SERVER_CERT_PATH are both set"},
		{"ErrPasswordAlone", map[string]string{"MLFLOW_TRACKING_PASSWORD": secretPassword}, "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD must be set together"},
		{"ErrURIWithCredentials", map[string]string{"MLFLOW_TRACKING_URI": "ftp://alice:" + secretPassword + "@host/?token=" + secretToken}, `scheme "ftp"`},
		{"ErrUnparsableURIWithCredentials", map[string]string{"MLFLOW_TRACKING_URI": "http://alice:" + secretPassword + "@host:port/"}, "is not a URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{"MLFLOW_TRACKING_TOKEN": secretToken}
			for k, v := range tc.env {
				e[k] = v
			}
			_, err := mlflow.ConfigFromEnv(env(e))
			require.ErrorContains(t, err, tc.want)
			assertNoSecret(t, err.Error())
		})
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := mlflow.New(mlflow.Config{TrackingURI: "http://127.0.0.1:5000", MaxRetries: -1})
	require.ErrorContains(t, err, "MLFLOW_HTTP_REQUEST_MAX_RETRIES")
	_, err = mlflow.New(mlflow.Config{TrackingURI: "http://127.0.0.1:5000", ServerCertPath: "/does/not/exist.pem"})
	require.ErrorContains(t, err, "MLFLOW_TRACKING_SERVER_CERT_PATH")
	_, err = mlflow.New(mlflow.Config{TrackingURI: "s3://bucket"})
	require.ErrorContains(t, err, `scheme "s3" is not supported`)
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	cfg := mlflow.DefaultConfig("http://alice:" + secretPassword + "@127.0.0.1:5000/?access_token=" + secretToken)
	cfg.Token = secretToken
	cfg.Username, cfg.Password = "alice", secretPassword
	c, err := mlflow.New(cfg)
	require.NoError(t, err)

	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "client", c)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for _, v := range []any{cfg, &cfg, c, *c} {
			out := fmt.Sprintf(verb, v)
			assertNoSecret(t, out)
		}
	}
	assertNoSecret(t, logs.String())
	assert.Contains(t, cfg.String(), "Token: REDACTED")
	assert.Contains(t, cfg.String(), "Password: REDACTED")
	assert.Contains(t, fmt.Sprintf("%+v", c), "http://127.0.0.1:5000/?access_token=REDACTED")
	assert.Equal(t, "http://127.0.0.1:5000/?access_token=REDACTED", c.TrackingURI())
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:5000", "http://127.0.0.1:5000"},
		{"https://alice:pw@mlflow.example.com/base", "https://mlflow.example.com/base"},
		{"https://token@mlflow.example.com", "https://mlflow.example.com"},
		{"https://h/p?page=2&token=abc&X-Amz-Signature=s&api_key=k", "https://h/p?X-Amz-Signature=REDACTED&api_key=REDACTED&page=2&token=REDACTED"},
		{"https://h/p#access_token=abc", "https://h/p"},
		{"http://alice:pw@host:port/x?token=t", "http://host:port/x"}, // does not parse
		{"", ""},
	} {
		assert.Equal(t, tc.want, mlflow.RedactURL(tc.in), tc.in)
	}
}

// TestTrackingURIPort: a port out of 1..65535 is refused at once, the
// message naming where the URI came from.
func TestTrackingURIPort(t *testing.T) {
	for uri, ok := range map[string]bool{
		"http://127.0.0.1:5000": true, "http://127.0.0.1": true, "https://h:65535/x": true,
		"http://127.0.0.1:99999": false, "http://127.0.0.1:0": false, "http://127.0.0.1:": false, "http://[::1]:70000": false,
	} {
		_, err := mlflow.New(mlflow.Config{TrackingURI: uri, MaxRetries: 1})
		if ok {
			assert.NoError(t, err, uri)
			continue
		}
		if assert.Error(t, err, uri) {
			assert.Contains(t, err.Error(), "mlflow: MLFLOW_TRACKING_URI "+uri+": port", uri)
			assert.Contains(t, err.Error(), "is not a port (1 to 65535)", uri)
		}
		_, err = mlflow.New(mlflow.Config{TrackingURI: uri, TrackingURIFrom: "--tracking-uri", MaxRetries: 1})
		if assert.Error(t, err, uri) {
			assert.Contains(t, err.Error(), "mlflow: --tracking-uri "+uri, uri)
		}
	}
}
