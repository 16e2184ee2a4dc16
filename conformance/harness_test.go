package conformance_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
)

// target is one server under test.
type target struct {
	name string // "embedded" or "mlflow"
	uri  string
	c    *mlflow.Client
	hc   *http.Client
}

// Targets: every case runs against each.
const (
	embedded = "embedded"
	real     = "mlflow"
)

var targetNames = []string{embedded, real}

// startTarget returns the named server: an embedded one on a fresh data
// directory, stopped at the end of the test, or the real MLflow server of
// MLFLOW_TRACKING_URI (skipping without one, failing under CI=true).
func startTarget(t testing.TB, name string) *target {
	t.Helper()
	var uri string
	switch name {
	case embedded:
		uri = mlflowtest.Embedded(t)
	case real:
		uri = strings.TrimRight(testenv.RealMLflow(t), "/")
	default:
		t.Fatalf("unknown target %q", name)
	}
	cfg := mlflow.DefaultConfig(uri)
	cfg.MaxRetries = 0
	cfg.Timeout = 60 * time.Second
	c, err := mlflow.New(cfg)
	require.NoError(t, err)
	return &target{name: name, uri: uri, c: c, hc: &http.Client{Timeout: 60 * time.Second}}
}

// unique returns prefix with a random suffix: the real server is shared
// by every test and every run.
func unique(prefix string) string {
	return prefix + "-" + strings.ToLower(rand.Text()[:10])
}

// reply is a raw HTTP reply.
type reply struct {
	Status      int
	ContentType string
	Body        []byte
}

// JSON decodes the body as a JSON object, failing the test otherwise.
func (r reply) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// do sends a raw request: a GET with query, anything else with body
// encoded as JSON (unless it is already []byte or nil).
func (s *target) do(t testing.TB, method, path string, query url.Values, body any) reply {
	t.Helper()
	u := s.uri + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		require.NoError(t, err)
		rd, contentType = bytes.NewReader(buf), "application/json"
	}
	req, err := http.NewRequestWithContext(t.Context(), method, u, rd)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.hc.Do(req)
	require.NoError(t, err, "%s %s", method, path)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Body: out}
}

// api calls an endpoint under /api/2.0/mlflow/: GET with query, others
// with a JSON body.
func (s *target) api(t testing.TB, method, endpoint string, in any) reply {
	t.Helper()
	if method == http.MethodGet {
		q := url.Values{}
		if in != nil {
			for k, v := range in.(map[string]any) {
				switch x := v.(type) {
				case []string:
					q[k] = x
				default:
					q.Set(k, fmt.Sprint(x))
				}
			}
		}
		return s.do(t, method, "/api/2.0/mlflow/"+endpoint, q, nil)
	}
	if in == nil {
		in = map[string]any{}
	}
	return s.do(t, method, "/api/2.0/mlflow/"+endpoint, nil, in)
}

// ok calls an endpoint and requires a 200 with a JSON object.
func (s *target) ok(t testing.TB, method, endpoint string, in any) map[string]any {
	t.Helper()
	r := s.api(t, method, endpoint, in)
	require.Equal(t, http.StatusOK, r.Status, "%s %s: %s", method, endpoint, r.Body)
	return r.JSON(t)
}

// wantError checks an MLflow error reply: status, error_code, and the
// message (exactly, or its start when msg ends with "…").
func wantError(t testing.TB, r reply, status int, code, msg string) {
	t.Helper()
	require.Equal(t, status, r.Status, "body: %s", r.Body)
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &body), "an MLflow error is JSON, got: %s", r.Body)
	assert.Equal(t, code, body.ErrorCode, "message: %s", body.Message)
	if prefix, ok := strings.CutSuffix(msg, "…"); ok {
		assert.True(t, strings.HasPrefix(body.Message, prefix), "message %q does not start with %q", body.Message, prefix)
	} else if msg != "" {
		assert.Equal(t, msg, body.Message)
	}
}

// errCase is a request to an endpoint and the MLflow error it answers.
type errCase struct {
	in     map[string]any
	status int
	code   string
	msg    string
}

// keys returns the sorted keys of a JSON object.
func keys(m any) []string {
	obj, _ := m.(map[string]any)
	out := make([]string, 0, len(obj))
	for k := range obj {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// obj walks a decoded JSON value: obj(m, "run", "info") is m["run"]["info"].
func obj(v any, path ...string) map[string]any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	m, _ := v.(map[string]any)
	return m
}

// list returns v[key] as a list of objects.
func list(v map[string]any, key string) []map[string]any {
	raw, _ := v[key].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		m, _ := x.(map[string]any)
		out = append(out, m)
	}
	return out
}

// fixture is a run with a model registered from it, for registry cases.
type fixture struct {
	exp    string
	run    *mlflow.Run
	source string
}

// newRun creates an experiment and a run in it through the client.
func (s *target) newRun(t testing.TB, prefix string) fixture {
	t.Helper()
	exp, err := s.c.GetOrCreateExperiment(t.Context(), unique(prefix))
	require.NoError(t, err)
	run, err := s.c.CreateRun(t.Context(), mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: prefix})
	require.NoError(t, err)
	return fixture{exp: exp.ExperimentID, run: run, source: run.Info.ArtifactURI + "/model"}
}

// newModel creates a registered model with n versions from one run.
func (s *target) newModel(t testing.TB, prefix string, n int) (string, fixture) {
	t.Helper()
	f := s.newRun(t, prefix)
	name := unique(prefix)
	_, err := s.c.CreateRegisteredModel(t.Context(), name, nil, "")
	require.NoError(t, err)
	for range n {
		_, err := s.c.CreateModelVersion(t.Context(), mlflow.CreateModelVersionRequest{Name: name, Source: f.source, RunID: f.run.Info.RunID})
		require.NoError(t, err)
	}
	return name, f
}
