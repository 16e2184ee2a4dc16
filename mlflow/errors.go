package mlflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/playbook-mlops/playbook/internal/textcut"
)

// Sentinel errors, for errors.Is. An *APIError matches the ones its status
// code and MLflow error code imply; client-side refusals wrap them directly.
var (
	// ErrNotFound: 404 or RESOURCE_DOES_NOT_EXIST, and a missing alias,
	// which MLflow answers with 400 INVALID_PARAMETER_VALUE.
	ErrNotFound = errors.New("mlflow: not found")
	// ErrAlreadyExists: RESOURCE_ALREADY_EXISTS (a 400 in MLflow) or 409.
	ErrAlreadyExists = errors.New("mlflow: already exists")
	// ErrInvalidParameter: INVALID_PARAMETER_VALUE, a 400 without an MLflow
	// error code, and arguments this client refuses before sending them.
	ErrInvalidParameter = errors.New("mlflow: invalid parameter")
	// ErrUnauthenticated: 401 or UNAUTHENTICATED.
	ErrUnauthenticated = errors.New("mlflow: unauthenticated")
	// ErrPermissionDenied: 403 or PERMISSION_DENIED.
	ErrPermissionDenied = errors.New("mlflow: permission denied")
	// ErrPathEscape: an artifact path that is absolute, holds "..", a
	// backslash or a NUL, or otherwise leaves its root. Refused before any
	// request is made.
	ErrPathEscape = errors.New("mlflow: path escapes its root")
	// ErrUnavailable: the server could not be reached or did not answer in
	// time, or answered 502, 503, 504 or TEMPORARILY_UNAVAILABLE.
	ErrUnavailable = errors.New("mlflow: server unavailable")
)

// MLflow error codes this package interprets (from databricks.proto).
const (
	codeNotFound           = "RESOURCE_DOES_NOT_EXIST"
	codeAlreadyExists      = "RESOURCE_ALREADY_EXISTS"
	codeInvalidParameter   = "INVALID_PARAMETER_VALUE"
	codeUnauthenticated    = "UNAUTHENTICATED"
	codePermissionDenied   = "PERMISSION_DENIED"
	codeTemporarilyUnavail = "TEMPORARILY_UNAVAILABLE"
)

// APIError is the error of a call that failed at the server or on the way to
// it. StatusCode is 0 when no reply arrived (connection refused, timeout,
// cancelled context); Err then holds the cause.
type APIError struct {
	StatusCode int    // HTTP status, 0 when no reply arrived
	Code       string // MLflow error_code, e.g. RESOURCE_DOES_NOT_EXIST; "" for non-JSON replies
	Message    string // MLflow's message, or the start of a plain-text body
	Method     string // HTTP method
	Endpoint   string // URL path only: no host, no query, no secrets
	Server     string // the tracking server, credentials removed (see RedactURL)
	Err        error  // the cause when there is no usable reply; nil otherwise
	// MayHaveApplied says that an attempt of this change (any method but
	// GET and HEAD) went out and got no usable reply — the connection
	// broke after the request was sent, or a gateway answered 502, 503 or
	// 504 — so the server may have applied it, whatever the last
	// attempt's outcome.
	MayHaveApplied bool

	// also is one more sentinel the error matches, set by the call that knows
	// better than the status code (a missing alias is "not found").
	also error
}

// Error returns, e.g.,
// `mlflow: GET /api/2.0/mlflow/registered-models/get: 404 RESOURCE_DOES_NOT_EXIST: ...`.
// When no reply arrived, it names the server: `mlflow: GET http://host:5000/api/...: dial tcp ...`.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("mlflow: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	if e.StatusCode == 0 {
		b.WriteString(e.Server)
	}
	b.WriteString(e.Endpoint)
	b.WriteString(": ")
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, "%d ", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(e.Code)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Unwrap returns the cause of an error without a usable reply.
func (e *APIError) Unwrap() error { return e.Err }

// Is reports whether e matches one of the package's sentinel errors.
func (e *APIError) Is(target error) bool {
	if target != nil && target == e.also {
		return true
	}
	switch target {
	case ErrNotFound:
		return e.Code == codeNotFound || e.StatusCode == http.StatusNotFound
	case ErrAlreadyExists:
		return e.Code == codeAlreadyExists || e.StatusCode == http.StatusConflict
	case ErrInvalidParameter:
		return e.Code == codeInvalidParameter || (e.Code == "" && e.StatusCode == http.StatusBadRequest)
	case ErrUnauthenticated:
		return e.Code == codeUnauthenticated || e.StatusCode == http.StatusUnauthorized
	case ErrPermissionDenied:
		return e.Code == codePermissionDenied || e.StatusCode == http.StatusForbidden
	case ErrUnavailable:
		switch e.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return e.Code == codeTemporarilyUnavail
	}
	return false
}

// maxMessage bounds the Message of an error built from a reply body.
const (
	maxJSONMessage  = 4096
	maxPlainMessage = 512
)

// checkResponse turns a non-2xx reply into an *APIError: MLflow's JSON error
// body when there is one, else the start of the body as plain text. The
// caller has read body (bounded) from resp.
func (c *Client) checkResponse(resp *http.Response, body []byte) *APIError {
	e := c.newAPIError(resp.Request)
	e.StatusCode = resp.StatusCode
	var payload struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	if json.Unmarshal(body, &payload) == nil && (payload.ErrorCode != "" || payload.Message != "") {
		e.Code = payload.ErrorCode
		e.Message = textcut.Truncate(payload.Message, maxJSONMessage)
	} else {
		e.Message = textcut.Truncate(strings.Join(strings.Fields(string(body)), " "), maxPlainMessage)
		if e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
	}
	e.Message = c.scrub(e.Message)
	return e
}

// newAPIError starts an error about req.
func (c *Client) newAPIError(req *http.Request) *APIError {
	return &APIError{
		Method:   req.Method,
		Endpoint: req.URL.Path,
		Server:   c.server,
	}
}

// scrub removes the client's own secrets from text a server sent back (a
// misbehaving proxy may echo the Authorization header).
func (c *Client) scrub(s string) string {
	for _, secret := range c.creds().secrets {
		s = strings.ReplaceAll(s, secret, "REDACTED")
	}
	return s
}
