package regproxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/regproxy"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// TestCellTokens: with Options.CellTokens a change is the running cell's
// only with its token; the token of a cell that ended, an unknown one or
// none refuse it (recorded, with the cell that made it when known), and
// the registry is left as it was; reads with no token pass.
func TestCellTokens(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{CellTokens: true})
	model, _ := e.newVersion(t)
	ctx := t.Context()
	alias := func(tok, name string) (int, string) {
		t.Helper()
		h := http.Header{"Content-Type": {"application/json"}}
		if tok != "" {
			h.Set(regproxy.CellHeader, tok)
		}
		body := `{"name":"` + model + `","alias":"` + name + `","version":"1"}`
		resp, text := raw(t, http.MethodPost, e.proxy.URL()+"/api/2.0/mlflow/registered-models/alias", strings.NewReader(body), h)
		return resp.StatusCode, text
	}

	innocent, err := e.proxy.BeginCell("innocent")
	require.NoError(t, err)
	code, text := alias(innocent, "by-innocent")
	require.Equal(t, http.StatusOK, code, text)
	assert.Equal(t, "innocent", lastCall(t, e.proxy).Step)
	assert.Equal(t, regproxy.OutcomeOK, lastCall(t, e.proxy).Outcome)

	readOnly, err := e.proxy.BeginCell("read-only") // ends innocent
	require.NoError(t, err)
	require.NotEqual(t, innocent, readOnly)
	code, text = alias(innocent, "late")
	assert.Equal(t, http.StatusForbidden, code, text)
	c := lastCall(t, e.proxy)
	assert.Equal(t, "innocent", c.Step, "refused, under the cell that made it")
	assert.True(t, strings.HasPrefix(c.Outcome, regproxy.OutcomeEndedCell+"innocent"), c.Outcome)
	assert.Contains(t, c.Outcome, "while cell read-only ran")
	assert.Equal(t, "late", c.Args["alias"])

	code, _ = alias("", "none")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, regproxy.OutcomeNoCell, lastCall(t, e.proxy).Outcome)
	assert.Empty(t, lastCall(t, e.proxy).Step)
	code, _ = alias(strings.Repeat("0", 32), "forged")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Equal(t, regproxy.OutcomeUnknownCell, lastCall(t, e.proxy).Outcome)

	// A read with no token passes; with a revoked one it does not.
	resp, text := raw(t, http.MethodGet, e.proxy.URL()+"/api/2.0/mlflow/registered-models/get?name="+model, nil, nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode, text)
	resp, _ = raw(t, http.MethodGet, e.proxy.URL()+"/api/2.0/mlflow/registered-models/get?name="+model, nil, http.Header{regproxy.CellHeader: {innocent}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	e.proxy.EndCell()
	code, _ = alias(readOnly, "between")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, lastCall(t, e.proxy).Outcome, "between two cells")

	rm, err := e.direct.GetRegisteredModel(ctx, model)
	require.NoError(t, err)
	_, ok := rm.AliasVersion("by-innocent")
	assert.True(t, ok, "the cell's own change was made")
	for _, a := range []string{"late", "none", "forged", "between"} {
		_, ok := rm.AliasVersion(a)
		assert.False(t, ok, "refused alias %s was set", a)
	}
	assert.Len(t, e.proxy.Calls(), 5)
}

// TestHandleInCell: an endpoint of the parent's added with HandleInCell
// answers only a call with the running cell's token; one added with
// Handle answers a call with none too; a revoked token is refused by both.
func TestHandleInCell(t *testing.T) {
	t.Parallel()
	e := newEnv(t, regproxy.Options{CellTokens: true})
	started := 0
	e.proxy.HandleInCell("POST /rpc/start", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { started++ }))
	e.proxy.Handle("POST /rpc/info", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	call := func(path, tok string) (int, string) {
		t.Helper()
		h := http.Header{"Content-Type": {"application/json"}}
		if tok != "" {
			h.Set(regproxy.CellHeader, tok)
		}
		resp, text := raw(t, http.MethodPost, e.proxy.URL()+path, strings.NewReader("{}"), h)
		return resp.StatusCode, text
	}
	code, text := call("/rpc/start", "")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, text, "/rpc/start is served only for a running cell's code")
	code, _ = call("/rpc/info", "")
	assert.Equal(t, http.StatusOK, code, "an endpoint added with Handle answers code of no cell")

	tok, err := e.proxy.BeginCell("serve")
	require.NoError(t, err)
	code, text = call("/rpc/start", tok)
	assert.Equal(t, http.StatusOK, code, text)
	e.proxy.EndCell()
	for _, path := range []string{"/rpc/start", "/rpc/info"} {
		code, _ = call(path, tok)
		assert.Equal(t, http.StatusForbidden, code, "%s with the token of a cell that ended", path)
	}
	assert.Equal(t, 1, started, "started once: for the running cell")
}

// TestHandleUpload: a parent's endpoint that writes for the kernel is served
// only for a running cell, and each call is recorded as an upload, under
// that cell's step, with what the handler says; in a dry run the handler
// is not called and the call is recorded as not sent.
func TestHandleUpload(t *testing.T) {
	t.Parallel()
	const secretURI = "s3://user:hunter2@bucket/1/run/artifacts?X-Amz-Signature=c0ffee&X-Amz-Credential=AKIAX"
	for _, dry := range []bool{false, true} {
		e := newEnv(t, regproxy.Options{CellTokens: true, DryRun: dry, MaxUpload: 8})
		var got []string
		args := func(r *http.Request) map[string]any {
			return map[string]any{"uri": mlflow.RedactURL(r.URL.Query().Get("uri")), "path": r.URL.Query().Get("path")}
		}
		e.proxy.HandleUpload("PUT /rpc/put", args, func(w http.ResponseWriter, r *http.Request, call *record.Call) {
			b, err := io.ReadAll(r.Body)
			got = append(got, string(b))
			call.Args["bytes"] = len(b)
			if err != nil {
				call.Outcome = err.Error()
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			call.Outcome = "ok"
		})
		put := func(tok, body string) int {
			t.Helper()
			h := http.Header{}
			if tok != "" {
				h.Set(regproxy.CellHeader, tok)
			}
			q := url.Values{"path": {"a/MLmodel"}, "uri": {secretURI}}
			resp, _ := raw(t, http.MethodPut, e.proxy.URL()+"/rpc/put?"+q.Encode(), strings.NewReader(body), h)
			return resp.StatusCode
		}
		assert.Equal(t, http.StatusForbidden, put("", "x"), "no cell")
		tok, err := e.proxy.BeginCell("train")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, put(tok, "model"))
		assert.NotEqual(t, http.StatusOK, put(tok, "far more than eight bytes"))
		e.proxy.EndCell()
		calls := e.proxy.Calls()
		require.Len(t, calls, 2, "dry run %t", dry)
		for _, c := range calls {
			assert.Equal(t, "train", c.Step)
			assert.Equal(t, http.MethodPut, c.Method)
			assert.Equal(t, "/rpc/put", c.Endpoint)
			assert.Equal(t, dry, c.DryRun)
			// The same Args in a dry run as in a real one: args's, the
			// URI's credentials and signature redacted.
			assert.Equal(t, "a/MLmodel", c.Args["path"])
			assert.Equal(t, mlflow.RedactURL(secretURI), c.Args["uri"], "dry run %t", dry)
			assert.NotContains(t, fmt.Sprint(c.Args), "hunter2", "dry run %t", dry)
			assert.NotContains(t, fmt.Sprint(c.Args), "c0ffee", "dry run %t", dry)
		}
		if dry {
			assert.Empty(t, got, "a dry run calls no handler")
			assert.Equal(t, regproxy.OutcomeNotSent, calls[0].Outcome)
		} else {
			assert.Equal(t, []string{"model"}, got, "a body beyond MaxUpload reaches no handler")
			assert.Equal(t, "ok", calls[0].Outcome)
			assert.NotEqual(t, "ok", calls[1].Outcome)
		}
	}
}
