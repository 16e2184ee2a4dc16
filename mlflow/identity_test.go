package mlflow_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

// jwt returns an unsigned JWT of the claims (a JSON object).
func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + "." + enc([]byte("signature"))
}

// TestJWTSubject: the sub claim of a JWT, "" for anything else.
func TestJWTSubject(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "alice@example.com", mlflow.JWTSubject(jwt(`{"sub":"alice@example.com","exp":1}`)))
	assert.Equal(t, "bob", mlflow.JWTSubject(jwt(`{"sub":" bob "}`)), "trimmed")
	padded := strings.Split(jwt(`{"sub":"carol"}`), ".")
	padded[1] += strings.Repeat("=", (4-len(padded[1])%4)%4)
	assert.Equal(t, "carol", mlflow.JWTSubject(strings.Join(padded, ".")), "base64url with padding")
	for _, tok := range []string{
		"", "opaque-token", "dapi0123456789abcdef", "a.b", "a.b.c.d",
		jwt(`{"name":"no sub"}`), jwt(`{"sub":42}`), jwt(`not json`), jwt(`["sub"]`),
		"x." + base64.StdEncoding.EncodeToString([]byte(`{"sub":"+/"}`)) + "+/.y", // not base64url
	} {
		assert.Empty(t, mlflow.JWTSubject(tok), tok)
	}
}

// identityServer answers MLflow's user endpoints as handlers says (path →
// handler); the others 404, as a server without the auth app does.
func identityServer(t *testing.T, handlers map[string]http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := handlers[r.URL.Path]; ok {
			h(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// userIs answers {"user": {"username": the request's basic-auth user}}
// when its password is pw, 401 otherwise.
func userIs(pw string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || p != pw {
			http.Error(w, "You are not authenticated.", http.StatusUnauthorized)
			return
		}
		if q := r.URL.Query().Get("username"); q != "" && q != u {
			http.Error(w, "Permission denied", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"user":{"id":2,"is_admin":false,"username":"` + u + `"}}`))
	}
}

func identityOf(t *testing.T, uri, user, pw, token string) (*mlflow.Identity, error) {
	t.Helper()
	cfg := mlflow.DefaultConfig(uri)
	cfg.Username, cfg.Password, cfg.Token = user, pw, token
	cfg.MaxRetries = 0
	c, err := mlflow.New(cfg)
	require.NoError(t, err)
	return c.Identity(t.Context())
}

// TestIdentity: who the server knows the credentials as: the basic-auth
// user verified by users/current (MLflow 3.18's basic-auth app) or
// users/get (older ones), unverified on a server without them; a JWT's
// sub, never verified; no one for no credentials or an opaque token.
func TestIdentity(t *testing.T) {
	t.Parallel()
	const pw = "s3cret-pw"

	current := identityServer(t, map[string]http.HandlerFunc{"/api/2.0/mlflow/users/current": userIs(pw)})
	id, err := identityOf(t, current, "alice", pw, "")
	require.NoError(t, err)
	assert.Equal(t, &mlflow.Identity{Name: "alice", Via: mlflow.ViaBasicAuth, Verified: true,
		Note: "the server's GET /api/2.0/mlflow/users/current answers this user to these credentials"}, id)

	older := identityServer(t, map[string]http.HandlerFunc{"/api/2.0/mlflow/users/get": userIs(pw)})
	id, err = identityOf(t, older, "alice", pw, "")
	require.NoError(t, err)
	assert.True(t, id.Verified)
	assert.Contains(t, id.Note, "users/get")

	other := identityServer(t, map[string]http.HandlerFunc{"/api/2.0/mlflow/users/current": func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"user":{"username":"mallory"}}`))
	}})
	id, err = identityOf(t, other, "alice", pw, "")
	require.NoError(t, err)
	assert.Equal(t, "alice", id.Name)
	assert.False(t, id.Verified, "the server answers another user")

	none := identityServer(t, nil)
	id, err = identityOf(t, none, "alice", pw, "")
	require.NoError(t, err)
	assert.Equal(t, "alice", id.Name)
	assert.False(t, id.Verified)
	assert.Contains(t, id.Note, "no user API")

	_, err = identityOf(t, current, "alice", "wrong", "")
	require.Error(t, err, "credentials refused")
	assert.NotContains(t, err.Error(), "wrong")

	// Basic auth wins over the token, as in MLflow.
	id, err = identityOf(t, current, "alice", pw, jwt(`{"sub":"bob"}`))
	require.NoError(t, err)
	assert.Equal(t, "alice", id.Name)

	id, err = identityOf(t, none, "", "", jwt(`{"sub":"bob@example.com"}`))
	require.NoError(t, err)
	assert.Equal(t, &mlflow.Identity{Name: "bob@example.com", Via: mlflow.ViaBearerJWT,
		Note: "the sub claim of the bearer token (a JWT), its signature not verified"}, id)

	for _, tok := range []string{"", "opaque-token"} {
		id, err = identityOf(t, none, "", "", tok)
		require.NoError(t, err)
		assert.Nil(t, id, "no one: %q", tok)
	}
}
