package mlflow

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// How an Identity was learnt, in Identity.Via.
const (
	// ViaBasicAuth: the user name of MLFLOW_TRACKING_USERNAME (basic
	// authentication), confirmed by the server when Verified.
	ViaBasicAuth = "basic-auth"
	// ViaBearerJWT: the "sub" claim of MLFLOW_TRACKING_TOKEN, a JWT read
	// without checking its signature: never Verified.
	ViaBearerJWT = "bearer-jwt"
)

// Identity is who the tracking server knows the client as: the MLflow
// user, beside the operating system's user who runs playbook.
type Identity struct {
	// Name is the user's name on the server.
	Name string
	// Via says where Name comes from: ViaBasicAuth or ViaBearerJWT.
	Via string
	// Verified says the server answered, to these credentials, that they
	// are Name's.
	Verified bool
	// Note says how Name was verified, or why it was not.
	Note string
}

// Identity returns who the tracking server knows the client as, or nil
// when its credentials name no one (none, or an opaque bearer token).
//
// With basic authentication it asks the server: MLflow's basic-auth app
// (mlflow server --app-name basic-auth) answers GET
// /api/2.0/mlflow/users/current with the user the credentials
// authenticate, and, before it had that endpoint, GET
// /api/2.0/mlflow/users/get?username=NAME only to NAME itself (or an
// admin). A server without those endpoints (no auth app: anyone may
// claim any name) leaves the identity unverified, and says so in Note;
// so does an answer naming someone else. Its error is the server's
// refusal of the credentials (401), or a failure to reach it.
//
// With a bearer token that is a JWT, the name is its "sub" claim, read
// without verifying the token's signature (playbook holds no key): never
// Verified.
func (c *Client) Identity(ctx context.Context) (*Identity, error) {
	cr := c.creds()
	switch {
	case strings.HasPrefix(cr.authorization, "Basic "):
		return c.basicIdentity(ctx, c.cfg.Username)
	case cr.subject != "":
		return &Identity{Name: cr.subject, Via: ViaBearerJWT,
			Note: "the sub claim of the bearer token (a JWT), its signature not verified"}, nil
	}
	return nil, nil
}

// basicIdentity verifies with the server that the basic-auth credentials
// are name's.
func (c *Client) basicIdentity(ctx context.Context, name string) (*Identity, error) {
	id := &Identity{Name: name, Via: ViaBasicAuth}
	var cur struct {
		User struct {
			Username string `json:"username"`
		} `json:"user"`
	}
	err := c.get(ctx, "users/current", nil, &cur)
	endpoint := "GET /api/2.0/mlflow/users/current"
	if notFound(err) {
		cur.User.Username = ""
		err = c.get(ctx, "users/get", url.Values{"username": {name}}, &cur)
		endpoint = "GET /api/2.0/mlflow/users/get"
	}
	switch {
	case err == nil && cur.User.Username == name:
		id.Verified, id.Note = true, "the server's "+endpoint+" answers this user to these credentials"
	case err == nil:
		id.Note = "the server's " + endpoint + " does not answer this user to these credentials"
	case notFound(err):
		id.Note = "the server has no user API (no basic-auth app): the user name is not verified"
	default:
		var ae *APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized {
			return nil, err
		}
		id.Note = "the server's user API did not answer: " + err.Error()
	}
	return id, nil
}

// notFound reports whether err is the server's 404 (an endpoint it does
// not have).
func notFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound
}

// JWTSubject returns the "sub" claim of token when token is a JWT (three
// base64url parts, the second a JSON object), "" otherwise. The signature
// is not verified.
func JWTSubject(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[1] == "" {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return ""
	}
	var claims struct {
		Sub any `json:"sub"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return ""
	}
	sub, _ := claims.Sub.(string)
	return strings.TrimSpace(sub)
}
