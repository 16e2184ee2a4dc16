package mlflow

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults, as in MLflow's mlflow/environment_variables.py.
const (
	DefaultMaxRetries    = 7
	DefaultBackoffFactor = 2.0
	DefaultBackoffJitter = 1.0
	DefaultTimeout       = 120 * time.Second
	// DefaultMaxBackoff caps one wait between retries, as urllib3's
	// DEFAULT_BACKOFF_MAX does for MLflow's Python client.
	DefaultMaxBackoff = 120 * time.Second

	// Limits MLflow itself enforces on the retry settings
	// (_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT, _MLFLOW_HTTP_REQUEST_MAX_BACKOFF_FACTOR_LIMIT).
	maxRetriesLimit       = 10
	maxBackoffFactorLimit = 120
)

// Environment variables read by ConfigFromEnv: MLflow's own names.
const (
	EnvTrackingURI       = "MLFLOW_TRACKING_URI"
	EnvTrackingToken     = "MLFLOW_TRACKING_TOKEN"
	EnvTrackingUsername  = "MLFLOW_TRACKING_USERNAME"
	EnvTrackingPassword  = "MLFLOW_TRACKING_PASSWORD"
	EnvInsecureTLS       = "MLFLOW_TRACKING_INSECURE_TLS"
	EnvServerCertPath    = "MLFLOW_TRACKING_SERVER_CERT_PATH"
	EnvClientCertPath    = "MLFLOW_TRACKING_CLIENT_CERT_PATH"
	EnvMaxRetries        = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
	EnvBackoffFactor     = "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"
	EnvBackoffJitter     = "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"
	EnvTimeout           = "MLFLOW_HTTP_REQUEST_TIMEOUT"
	EnvRespectRetryAfter = "MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER"
)

// Config says which tracking server to call and how. Each field follows one
// of MLflow's environment variables. Start from DefaultConfig or
// ConfigFromEnv: in a Config built by hand, a zero MaxRetries means no
// retries, and a zero Timeout or MaxBackoff means the default.
//
// Printing a Config (fmt, slog) never shows Token or Password.
type Config struct {
	TrackingURI string // MLFLOW_TRACKING_URI: http or https
	// TrackingURIFrom names where TrackingURI came from, for messages
	// (e.g. "--tracking-uri"); MLFLOW_TRACKING_URI when empty.
	TrackingURIFrom string
	Token           string        // MLFLOW_TRACKING_TOKEN, sent as "Authorization: Bearer"
	Username        string        // MLFLOW_TRACKING_USERNAME, with Password: basic auth (wins over Token, as in MLflow)
	Password        string        // MLFLOW_TRACKING_PASSWORD
	InsecureTLS     bool          // MLFLOW_TRACKING_INSECURE_TLS: skip certificate verification
	ServerCertPath  string        // MLFLOW_TRACKING_SERVER_CERT_PATH: CA bundle (PEM) that replaces the system roots
	ClientCertPath  string        // MLFLOW_TRACKING_CLIENT_CERT_PATH: PEM holding a client certificate and its key
	MaxRetries      int           // MLFLOW_HTTP_REQUEST_MAX_RETRIES, 0..10, default 7
	BackoffFactor   float64       // MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR (seconds), 0..120, default 2
	BackoffJitter   float64       // MLFLOW_HTTP_REQUEST_BACKOFF_JITTER (seconds), default 1
	MaxBackoff      time.Duration // cap of one wait between retries, default 120 s
	Timeout         time.Duration // MLFLOW_HTTP_REQUEST_TIMEOUT (seconds): longest silence of one attempt, default 120 s
	// IgnoreRetryAfter is MLFLOW_HTTP_RESPECT_RETRY_AFTER_HEADER=false: wait
	// by backoff alone even when the server sends Retry-After.
	IgnoreRetryAfter bool
	// S3 is how the client reaches s3:// artifact URIs itself
	// (MLFLOW_S3_ENDPOINT_URL, AWS_*): see S3Config.
	S3 S3Config
}

// DefaultConfig returns MLflow's defaults for uri.
func DefaultConfig(uri string) Config {
	return Config{
		TrackingURI:   uri,
		MaxRetries:    DefaultMaxRetries,
		BackoffFactor: DefaultBackoffFactor,
		BackoffJitter: DefaultBackoffJitter,
		MaxBackoff:    DefaultMaxBackoff,
		Timeout:       DefaultTimeout,
	}
}

// ConfigFromEnv reads MLflow's environment variables through getenv
// (os.Getenv, or a map lookup in tests) on top of DefaultConfig. A bad value
// is an error that names the variable; it quotes the value only when it is
// not a secret, and a tracking URI only with credentials removed. An empty
// MLFLOW_TRACKING_URI is not an error here (the caller may pick another
// backend); New refuses it.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := DefaultConfig(strings.TrimSpace(getenv(EnvTrackingURI)))
	cfg.Token = getenv(EnvTrackingToken)
	cfg.Username = getenv(EnvTrackingUsername)
	cfg.Password = getenv(EnvTrackingPassword)
	cfg.ServerCertPath = getenv(EnvServerCertPath)
	cfg.ClientCertPath = getenv(EnvClientCertPath)

	var errs []error
	if v := getenv(EnvInsecureTLS); v != "" {
		b, err := parseBool(EnvInsecureTLS, v)
		errs = append(errs, err)
		cfg.InsecureTLS = b
	}
	if v := getenv(EnvRespectRetryAfter); v != "" {
		b, err := parseBool(EnvRespectRetryAfter, v)
		errs = append(errs, err)
		cfg.IgnoreRetryAfter = !b
	}
	if v := strings.TrimSpace(getenv(EnvMaxRetries)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("mlflow: %s: %q is not a whole number", EnvMaxRetries, v))
		}
		cfg.MaxRetries = n
	}
	if v := strings.TrimSpace(getenv(EnvBackoffFactor)); v != "" {
		f, err := parseSeconds(EnvBackoffFactor, v)
		errs = append(errs, err)
		cfg.BackoffFactor = f
	}
	if v := strings.TrimSpace(getenv(EnvBackoffJitter)); v != "" {
		f, err := parseSeconds(EnvBackoffJitter, v)
		errs = append(errs, err)
		cfg.BackoffJitter = f
	}
	if v := strings.TrimSpace(getenv(EnvTimeout)); v != "" {
		f, err := parseSeconds(EnvTimeout, v)
		if err == nil && f <= 0 {
			err = fmt.Errorf("mlflow: %s: must be more than 0 seconds, got %q", EnvTimeout, v)
		}
		errs = append(errs, err)
		cfg.Timeout = time.Duration(f * float64(time.Second))
	}
	s3, err := s3FromEnv(getenv)
	errs = append(errs, err)
	cfg.S3 = s3
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if err := cfg.validate(cfg.TrackingURI != ""); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("mlflow: %s: %q is not one of true, false, 1, 0", name, v)
}

func parseSeconds(name, v string) (float64, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("mlflow: %s: %q is not a number of seconds", name, v)
	}
	return f, nil
}

// validate checks cfg; requireURI makes an empty TrackingURI an error.
func (cfg *Config) validate(requireURI bool) error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("mlflow: "+format, args...)) }

	if cfg.TrackingURI == "" {
		if requireURI {
			add("%s is empty: name the tracking server, e.g. http://127.0.0.1:5000", EnvTrackingURI)
		}
	} else if _, err := parseTrackingURI(cfg.TrackingURI, cfg.TrackingURIFrom); err != nil {
		errs = append(errs, err)
	}
	if cfg.MaxRetries < 0 || cfg.MaxRetries > maxRetriesLimit {
		add("%s: must be between 0 and %d, got %d", EnvMaxRetries, maxRetriesLimit, cfg.MaxRetries)
	}
	if cfg.BackoffFactor < 0 || cfg.BackoffFactor > maxBackoffFactorLimit {
		add("%s: must be between 0 and %d seconds, got %g", EnvBackoffFactor, maxBackoffFactorLimit, cfg.BackoffFactor)
	}
	if cfg.BackoffJitter < 0 {
		add("%s: must not be negative, got %g", EnvBackoffJitter, cfg.BackoffJitter)
	}
	if cfg.Timeout < 0 {
		add("%s: must not be negative, got %s", EnvTimeout, cfg.Timeout)
	}
	if cfg.MaxBackoff < 0 {
		add("MaxBackoff: must not be negative, got %s", cfg.MaxBackoff)
	}
	if cfg.InsecureTLS && cfg.ServerCertPath != "" {
		add("%s and %s are both set: verify with the CA bundle or not at all, not both", EnvInsecureTLS, EnvServerCertPath)
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		add("%s and %s must be set together", EnvTrackingUsername, EnvTrackingPassword)
	}
	errs = append(errs, cfg.S3.validate())
	return errors.Join(errs...)
}

// parseTrackingURI checks that uri is an http(s) URL with a host and, if
// it names one, a port from 1 to 65535; from names where uri came from
// (MLFLOW_TRACKING_URI when empty).
func parseTrackingURI(uri, from string) (*url.URL, error) {
	if from == "" {
		from = EnvTrackingURI
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("mlflow: %s %s is not a URL", from, RedactURL(uri))
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
	case "":
		return nil, fmt.Errorf("mlflow: %s %s has no scheme: this client talks to a tracking server at an http:// or https:// URL", from, RedactURL(uri))
	default:
		return nil, fmt.Errorf("mlflow: %s: scheme %q is not supported: this client talks to a tracking server at an http:// or https:// URL", from, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("mlflow: %s %s has no host", from, RedactURL(uri))
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("mlflow: %s %s: port %q is not a port (1 to 65535)", from, RedactURL(uri), p)
		}
	}
	return u, nil
}

// String describes cfg with Token and Password redacted and the tracking
// URI stripped of credentials.
func (cfg Config) String() string {
	return fmt.Sprintf("mlflow.Config{TrackingURI: %q, Token: %s, Username: %q, Password: %s, InsecureTLS: %t, "+
		"ServerCertPath: %q, ClientCertPath: %q, MaxRetries: %d, BackoffFactor: %g, BackoffJitter: %g, "+
		"MaxBackoff: %s, Timeout: %s, IgnoreRetryAfter: %t, S3: %s}",
		RedactURL(cfg.TrackingURI), redacted(cfg.Token), cfg.Username, redacted(cfg.Password), cfg.InsecureTLS,
		cfg.ServerCertPath, cfg.ClientCertPath, cfg.MaxRetries, cfg.BackoffFactor, cfg.BackoffJitter,
		cfg.MaxBackoff, cfg.Timeout, cfg.IgnoreRetryAfter, cfg.S3.String())
}

// GoString is String, for %#v.
func (cfg Config) GoString() string { return cfg.String() }

// Format prints String for every verb, so no verb (%d, %x, ...) can reach
// the secret fields.
func (cfg Config) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(cfg.String())) }

// LogValue logs cfg with secrets redacted.
func (cfg Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("tracking_uri", RedactURL(cfg.TrackingURI)),
		slog.String("token", redacted(cfg.Token)),
		slog.String("username", cfg.Username),
		slog.String("password", redacted(cfg.Password)),
		slog.Bool("insecure_tls", cfg.InsecureTLS),
		slog.Int("max_retries", cfg.MaxRetries),
		slog.Duration("timeout", cfg.Timeout),
		slog.Any("s3", cfg.S3),
	)
}

func redacted(secret string) string {
	if secret == "" {
		return `""`
	}
	return "REDACTED"
}

// secretParam matches query parameter names that may carry a credential.
var secretParam = regexp.MustCompile(`(?i)token|secret|passw|pwd|key|auth|sig|credential|session|cookie`)

// RedactURL returns u without its userinfo, with the values of query
// parameters whose names look secret (token, password, signature, key, ...)
// replaced by REDACTED, and without a fragment. A string that does not parse
// as a URL loses everything after "?" and anything before an "@".
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		s, _, _ := strings.Cut(u, "?")
		s, _, _ = strings.Cut(s, "#")
		if i := strings.LastIndex(s, "@"); i >= 0 {
			prefix := ""
			if j := strings.Index(s, "://"); j >= 0 && j < i {
				prefix = s[:j+3]
			}
			s = prefix + s[i+1:]
		}
		return s
	}
	p.User = nil
	p.Fragment, p.RawFragment = "", ""
	if p.RawQuery != "" {
		q, err := url.ParseQuery(p.RawQuery)
		if err != nil {
			p.RawQuery = "REDACTED"
		} else {
			for k := range q {
				if secretParam.MatchString(k) {
					q[k] = []string{"REDACTED"}
				}
			}
			p.RawQuery = q.Encode()
		}
	}
	return p.String()
}
