package mlflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// Environment variables of direct artifact access to S3 (s3:// artifact
// URIs), read by ConfigFromEnv: the names MLflow's Python client (boto3)
// reads.
const (
	EnvS3EndpointURL     = "MLFLOW_S3_ENDPOINT_URL"
	EnvS3IgnoreTLS       = "MLFLOW_S3_IGNORE_TLS"
	EnvS3UploadExtraArgs = "MLFLOW_S3_UPLOAD_EXTRA_ARGS"
	EnvAWSAccessKeyID    = "AWS_ACCESS_KEY_ID"
	EnvAWSSecretKey      = "AWS_SECRET_ACCESS_KEY"
	EnvAWSSessionToken   = "AWS_SESSION_TOKEN"
	EnvAWSProfile        = "AWS_PROFILE"
	EnvAWSSharedCreds    = "AWS_SHARED_CREDENTIALS_FILE"
	EnvAWSDefaultRegion  = "AWS_DEFAULT_REGION"
	EnvAWSRegion         = "AWS_REGION"
)

// S3Config says how the client reaches s3:// artifact URIs itself, when a
// tracking server does not proxy its artifacts (mlflow server
// --no-serve-artifacts). Each field follows MLflow's (boto3's) variable.
// With no keys, the shared credentials file (AWS_SHARED_CREDENTIALS_FILE,
// else ~/.aws/credentials; profile AWS_PROFILE, else "default") and then
// the instance's IAM role are tried.
//
// Printing an S3Config (fmt, slog) never shows the keys or the token.
type S3Config struct {
	EndpointURL     string // MLFLOW_S3_ENDPOINT_URL: an S3-compatible store (http or https); AWS when empty
	AccessKeyID     string // AWS_ACCESS_KEY_ID
	SecretAccessKey string // AWS_SECRET_ACCESS_KEY
	SessionToken    string // AWS_SESSION_TOKEN
	Profile         string // AWS_PROFILE: the profile of the shared credentials file
	CredentialsFile string // AWS_SHARED_CREDENTIALS_FILE
	Region          string // AWS_DEFAULT_REGION (else AWS_REGION); us-east-1 when empty
	IgnoreTLS       bool   // MLFLOW_S3_IGNORE_TLS: skip certificate verification
	// UploadExtra is MLFLOW_S3_UPLOAD_EXTRA_ARGS, the JSON object of
	// boto3's ExtraArgs sent with each upload; see S3UploadExtraArgs for the
	// keys this client knows.
	UploadExtra map[string]any
}

// S3UploadExtraArgs are the keys of MLFLOW_S3_UPLOAD_EXTRA_ARGS this client
// applies (boto3's names); any other key is refused by ConfigFromEnv.
var S3UploadExtraArgs = []string{"ServerSideEncryption", "SSEKMSKeyId", "ContentType", "ContentEncoding",
	"ContentDisposition", "ContentLanguage", "CacheControl", "StorageClass", "Metadata"}

// s3FromEnv reads the S3 variables.
func s3FromEnv(getenv func(string) string) (S3Config, error) {
	s := S3Config{
		EndpointURL:     strings.TrimSpace(getenv(EnvS3EndpointURL)),
		AccessKeyID:     getenv(EnvAWSAccessKeyID),
		SecretAccessKey: getenv(EnvAWSSecretKey),
		SessionToken:    getenv(EnvAWSSessionToken),
		Profile:         getenv(EnvAWSProfile),
		CredentialsFile: getenv(EnvAWSSharedCreds),
		Region:          strings.TrimSpace(getenv(EnvAWSDefaultRegion)),
	}
	if s.Region == "" {
		s.Region = strings.TrimSpace(getenv(EnvAWSRegion))
	}
	var errs []error
	if v := getenv(EnvS3IgnoreTLS); v != "" {
		b, err := parseBool(EnvS3IgnoreTLS, v)
		errs = append(errs, err)
		s.IgnoreTLS = b
	}
	if v := strings.TrimSpace(getenv(EnvS3UploadExtraArgs)); v != "" {
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil || m == nil {
			errs = append(errs, fmt.Errorf("mlflow: %s: not a JSON object such as {\"ServerSideEncryption\": \"AES256\"}", EnvS3UploadExtraArgs))
		} else {
			s.UploadExtra = m
		}
	}
	errs = append(errs, s.validate())
	return s, errors.Join(errs...)
}

// validate checks the endpoint, the keys and the upload arguments.
func (s *S3Config) validate() error {
	var errs []error
	if s.EndpointURL != "" {
		u, err := url.Parse(s.EndpointURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("mlflow: %s %s is not a URL", EnvS3EndpointURL, RedactURL(s.EndpointURL)))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("mlflow: %s %s: expected an http:// or https:// URL", EnvS3EndpointURL, RedactURL(s.EndpointURL)))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("mlflow: %s %s has no host", EnvS3EndpointURL, RedactURL(s.EndpointURL)))
		case u.User != nil:
			errs = append(errs, fmt.Errorf("mlflow: %s %s holds credentials: give them in %s and %s", EnvS3EndpointURL, RedactURL(s.EndpointURL), EnvAWSAccessKeyID, EnvAWSSecretKey))
		}
	}
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		errs = append(errs, fmt.Errorf("mlflow: %s and %s must be set together", EnvAWSAccessKeyID, EnvAWSSecretKey))
	}
	for k, v := range s.UploadExtra {
		if !slices.Contains(S3UploadExtraArgs, k) {
			errs = append(errs, fmt.Errorf("mlflow: %s: key %q is not supported by this client (supported: %s)",
				EnvS3UploadExtraArgs, k, strings.Join(S3UploadExtraArgs, ", ")))
			continue
		}
		if k == "Metadata" {
			m, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("mlflow: %s: Metadata must be an object of strings", EnvS3UploadExtraArgs))
				continue
			}
			for mk, mv := range m {
				if _, ok := mv.(string); !ok {
					errs = append(errs, fmt.Errorf("mlflow: %s: Metadata[%q] must be a string", EnvS3UploadExtraArgs, mk))
				}
			}
			continue
		}
		if _, ok := v.(string); !ok {
			errs = append(errs, fmt.Errorf("mlflow: %s: %s must be a string", EnvS3UploadExtraArgs, k))
		}
	}
	if sse, _ := s.UploadExtra["ServerSideEncryption"].(string); sse != "" && sse != "AES256" && sse != "aws:kms" {
		errs = append(errs, fmt.Errorf("mlflow: %s: ServerSideEncryption %q: expected AES256 or aws:kms", EnvS3UploadExtraArgs, sse))
	}
	if _, ok := s.UploadExtra["SSEKMSKeyId"]; ok && s.UploadExtra["ServerSideEncryption"] != "aws:kms" {
		errs = append(errs, fmt.Errorf("mlflow: %s: SSEKMSKeyId needs \"ServerSideEncryption\": \"aws:kms\"", EnvS3UploadExtraArgs))
	}
	return errors.Join(errs...)
}

// secrets are the strings an error must never show.
func (s S3Config) secrets() []string {
	var out []string
	for _, v := range []string{s.AccessKeyID, s.SecretAccessKey, s.SessionToken} {
		if len(v) >= 4 {
			out = append(out, v)
		}
	}
	return out
}

// redact returns s with its keys and token replaced by REDACTED.
func (s S3Config) redact() S3Config {
	for _, p := range []*string{&s.AccessKeyID, &s.SecretAccessKey, &s.SessionToken} {
		if *p != "" {
			*p = "REDACTED"
		}
	}
	s.EndpointURL = RedactURL(s.EndpointURL)
	return s
}

// String describes s with the keys and the token redacted.
func (s S3Config) String() string {
	return fmt.Sprintf("mlflow.S3Config{EndpointURL: %q, AccessKeyID: %s, SecretAccessKey: %s, SessionToken: %s, "+
		"Profile: %q, CredentialsFile: %q, Region: %q, IgnoreTLS: %t, UploadExtra: %d keys}",
		RedactURL(s.EndpointURL), redacted(s.AccessKeyID), redacted(s.SecretAccessKey), redacted(s.SessionToken),
		s.Profile, s.CredentialsFile, s.Region, s.IgnoreTLS, len(s.UploadExtra))
}

// GoString is String, for %#v.
func (s S3Config) GoString() string { return s.String() }

// Format prints String for every verb.
func (s S3Config) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(s.String())) }

// LogValue logs s with secrets redacted.
func (s S3Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint_url", RedactURL(s.EndpointURL)),
		slog.String("access_key_id", redacted(s.AccessKeyID)),
		slog.String("secret_access_key", redacted(s.SecretAccessKey)),
		slog.String("region", s.Region),
	)
}
