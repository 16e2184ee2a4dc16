package mlflow

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/playbook-mlops/playbook/internal/textcut"
)

// defaultUserAgent is sent unless WithUserAgent says otherwise.
const defaultUserAgent = "playbook-mlflow-go"

// Client calls one MLflow tracking server. It is safe for concurrent use.
// Printing a Client (fmt, slog) never shows a secret.
//
// Each method's doc comment names its section of the MLflow REST API
// reference, https://mlflow.org/docs/latest/rest-api.html (the artifact
// methods: the "MLflow Artifacts" service of mlflow_artifacts.proto).
type Client struct {
	// No field holds a secret in the clear: cfg has Token and Password
	// replaced by "REDACTED" and its URI redacted, and the credentials live
	// in a closure, which even fmt's reflection on a Client value cannot
	// print.
	cfg        *Config
	base       *url.URL // tracking URI without credentials, path ending in "/"
	display    string   // what TrackingURI says, when not the configured URI (WithDisplayURI)
	server     string   // scheme://host of the tracking URI
	httpClient *http.Client
	creds      func() credentials
	// direct reaches s3:// artifact URIs itself (Config.S3, its keys
	// inside, never printed); relay, when set, sends s3:// and file://
	// artifact calls to the parent of a kernel process (WithArtifactRelay).
	direct *s3Direct
	relay  *artifactRelay

	userAgent string
	logger    *slog.Logger
	sleep     func(ctx context.Context, d time.Duration) error
	jitter    func() float64 // in [0, 1)
}

// credentials are what a Client must send and must never show.
type credentials struct {
	authorization string   // the Authorization header, "" for none
	secrets       []string // strings scrubbed from anything a server sends back
	subject       string   // the bearer token's JWT "sub" claim, when it is the one sent
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send requests through hc. The TLS fields
// of Config then do not apply: hc's transport decides.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// WithDisplayURI makes TrackingURI (and so the links and messages built on
// it) say uri while requests still go to the configured tracking URI: a
// kernel process's client reaches the registry through playbook's proxy,
// whose address (and token) must appear nowhere, and names the server
// behind it.
func WithDisplayURI(uri string) Option { return func(c *Client) { c.display = uri } }

// WithLogger makes the Client log each request (Debug) and each retry (Warn)
// to l. Logs carry methods, paths, statuses and durations, never secrets.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithSleep replaces the wait between retries and polls, for tests. sleep
// must return early with an error when ctx ends.
func WithSleep(sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(c *Client) {
		if sleep != nil {
			c.sleep = sleep
		}
	}
}

// New returns a Client for cfg. It checks cfg (see Config) and builds an
// HTTP client with cfg's TLS settings, which WithHTTPClient replaces.
// Credentials in the tracking URI's userinfo are used for basic auth when
// Username and Password are empty.
func New(cfg Config, opts ...Option) (*Client, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if err := cfg.validate(true); err != nil {
		return nil, err
	}
	base, _ := parseTrackingURI(cfg.TrackingURI, cfg.TrackingURIFrom) // validated above
	uriUser := base.User
	if uriUser != nil && cfg.Username == "" {
		if pw, ok := uriUser.Password(); ok {
			cfg.Username, cfg.Password = uriUser.Username(), pw
		}
	}
	base.User = nil
	base.RawQuery, base.Fragment, base.RawFragment = "", "", ""
	if !strings.HasSuffix(base.Path, "/") {
		base.Path += "/"
		if base.RawPath != "" {
			base.RawPath += "/"
		}
	}

	var cr credentials
	switch {
	case cfg.Username != "" && cfg.Password != "":
		basic := base64.StdEncoding.EncodeToString([]byte(cfg.Username + ":" + cfg.Password))
		cr.authorization = "Basic " + basic
		cr.secrets = append(cr.secrets, cfg.Password, basic)
	case cfg.Token != "":
		cr.authorization = "Bearer " + cfg.Token
		cr.subject = JWTSubject(cfg.Token)
	}
	if cfg.Token != "" {
		cr.secrets = append(cr.secrets, cfg.Token)
	}
	if pw, ok := uriUser.Password(); ok && pw != "" && pw != cfg.Password {
		cr.secrets = append(cr.secrets, pw)
	}
	hc, err := newHTTPClient(&cfg) // before cfg loses its secrets
	if err != nil {
		return nil, err
	}
	direct := newS3Direct(cfg.S3)
	shown := cfg
	shown.S3 = cfg.S3.redact()
	shown.TrackingURI = RedactURL(cfg.TrackingURI)
	if shown.Token != "" {
		shown.Token = "REDACTED"
	}
	if shown.Password != "" {
		shown.Password = "REDACTED"
	}

	c := &Client{
		cfg:        &shown,
		base:       base,
		server:     RedactURL((&url.URL{Scheme: base.Scheme, Host: base.Host}).String()),
		httpClient: hc,
		creds:      func() credentials { return cr },
		direct:     direct,
		userAgent:  defaultUserAgent,
		logger:     slog.New(slog.DiscardHandler),
		sleep:      sleepContext,
		jitter:     rand.Float64,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// NewFromEnv returns a Client configured by MLflow's environment variables
// (see ConfigFromEnv).
func NewFromEnv(opts ...Option) (*Client, error) {
	cfg, err := ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	return New(cfg, opts...)
}

// newHTTPClient builds the default HTTP client with cfg's TLS settings.
func newHTTPClient(cfg *Config) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.InsecureTLS {
		tlsConfig.InsecureSkipVerify = true
	}
	if cfg.ServerCertPath != "" {
		pem, err := os.ReadFile(cfg.ServerCertPath)
		if err != nil {
			return nil, fmt.Errorf("mlflow: %s: %w", EnvServerCertPath, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mlflow: %s: no PEM certificate in %s", EnvServerCertPath, cfg.ServerCertPath)
		}
		tlsConfig.RootCAs = pool
	}
	if cfg.ClientCertPath != "" {
		cert, err := tls.LoadX509KeyPair(cfg.ClientCertPath, cfg.ClientCertPath)
		if err != nil {
			return nil, fmt.Errorf("mlflow: %s: %w", EnvClientCertPath, err)
		}
		tlsConfig.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = tlsConfig
	return &http.Client{Transport: tr}, nil
}

// TrackingURI returns the tracking server's URI without credentials.
func (c *Client) TrackingURI() string {
	if c.display != "" {
		return c.display
	}
	return c.cfg.TrackingURI
}

// String describes the client without secrets.
func (c *Client) String() string {
	return fmt.Sprintf("mlflow.Client{TrackingURI: %q, Config: %s}", c.TrackingURI(), c.cfg.String())
}

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// Format prints String for every verb.
func (c *Client) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue logs the client without secrets.
func (c *Client) LogValue() slog.Value { return c.cfg.LogValue() }

// Health checks the server's /health endpoint, which answers "OK".
func (c *Client) Health(ctx context.Context) error {
	body, err := c.getText(ctx, "health")
	if err != nil {
		return err
	}
	if strings.TrimSpace(body) != "OK" {
		return &APIError{StatusCode: http.StatusOK, Method: http.MethodGet, Endpoint: c.base.Path + "health", Server: c.server,
			Message: fmt.Sprintf("expected OK, got %q", textcut.Truncate(body, maxPlainMessage))}
	}
	return nil
}

// ServerVersion returns the server's MLflow version from /version, e.g. "3.18.0".
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	body, err := c.getText(ctx, "version")
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(body), nil
}

// getText GETs a small plain-text endpoint.
func (c *Client) getText(ctx context.Context, endpoint string) (string, error) {
	req, err := c.newRequest(ctx, http.MethodGet, endpoint, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.send(req, retrySafe)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", c.transportError(req, err)
	}
	return string(b), nil
}

// API paths, relative to the tracking URI.
const (
	apiPrefix       = "api/2.0/mlflow/"
	artifactsPrefix = "api/2.0/mlflow-artifacts/artifacts"
)

// newRequest builds a request for endpoint, a path relative to the tracking
// URI and already escaped. A GET sends in (url.Values, or nil) as the query
// string. Any other method sends in as the body: an io.Reader as is
// (application/octet-stream), anything else as JSON (application/json),
// "{}" when in is nil.
func (c *Client) newRequest(ctx context.Context, method, endpoint string, in any) (*http.Request, error) {
	u, err := c.base.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("mlflow: bad endpoint %q: %w", endpoint, err)
	}
	var (
		body        io.Reader
		contentType string
	)
	if method == http.MethodGet {
		if q, ok := in.(url.Values); ok {
			u.RawQuery = q.Encode()
		} else if in != nil {
			return nil, fmt.Errorf("mlflow: GET %s: query must be url.Values, not %T", endpoint, in)
		}
	} else if r, ok := in.(io.Reader); ok {
		body, contentType = r, "application/octet-stream"
	} else {
		buf := []byte("{}")
		if in != nil {
			if buf, err = json.Marshal(in); err != nil {
				return nil, fmt.Errorf("mlflow: %s %s: encoding the request: %w", method, u.Path, err)
			}
		}
		body, contentType = bytes.NewReader(buf), "application/json"
	}

	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("mlflow: %s %s: %w", method, u.Path, err)
	}
	if rs, ok := body.(io.ReadSeeker); ok && req.GetBody == nil {
		// A file or other seekable stream: replayable for retries, and
		// never closed by the transport (the caller owns it).
		if start, err := rs.Seek(0, io.SeekCurrent); err == nil {
			req.Body = io.NopCloser(rs)
			req.GetBody = func() (io.ReadCloser, error) {
				_, err := rs.Seek(start, io.SeekStart)
				return io.NopCloser(rs), err
			}
			if st, ok := body.(interface{ Stat() (os.FileInfo, error) }); ok {
				if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() {
					req.ContentLength = fi.Size() - start
					if req.ContentLength <= 0 { // an empty file: say so, not "unknown length"
						req.ContentLength = 0
						req.Body = http.NoBody
						req.GetBody = func() (io.ReadCloser, error) { return http.NoBody, nil }
					}
				}
			}
		}
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		req.Body = io.NopCloser(req.Body) // never close a caller's stream
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if auth := c.creds().authorization; auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return req, nil
}

// do sends req with policy's retries and decodes a JSON reply into v (which
// may be nil to discard it).
func (c *Client) do(req *http.Request, policy retryPolicy, v any) error {
	resp, err := c.send(req, policy)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return c.transportError(req, err)
	}
	if v == nil {
		return nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := decodeJSON(body, v); err != nil {
		e := c.newAPIError(req)
		e.StatusCode = resp.StatusCode
		e.Err = err
		ct := resp.Header.Get("Content-Type")
		if ct == "" {
			ct = "no Content-Type"
		}
		e.Message = c.scrub(fmt.Sprintf("the reply is not the expected JSON (%s): %v; it starts: %s",
			ct, err, textcut.Truncate(strings.Join(strings.Fields(string(body)), " "), 200)))
		return e
	}
	return nil
}

// get, post and del are do for the common shapes: GET with a query, and
// POST or DELETE with a JSON body.
func (c *Client) get(ctx context.Context, endpoint string, q url.Values, v any) error {
	req, err := c.newRequest(ctx, http.MethodGet, apiPrefix+endpoint, q)
	if err != nil {
		return err
	}
	return c.do(req, retrySafe, v)
}

func (c *Client) post(ctx context.Context, endpoint string, in, v any, policy retryPolicy) error {
	req, err := c.newRequest(ctx, http.MethodPost, apiPrefix+endpoint, in)
	if err != nil {
		return err
	}
	return c.do(req, policy, v)
}

func (c *Client) del(ctx context.Context, endpoint string, in any) error {
	req, err := c.newRequest(ctx, http.MethodDelete, apiPrefix+endpoint, in)
	if err != nil {
		return err
	}
	return c.do(req, retrySafe, nil)
}
