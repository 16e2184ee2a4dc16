package steps

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
)

func TestThin(t *testing.T) {
	n := 2000
	xs, ys := make([]float64, n), make([]float64, n)
	for i := range n {
		xs[i], ys[i] = float64(i), float64(i*i)
	}
	xs[7] = math.NaN()
	tests := []struct {
		name string
		max  int
		want int
	}{
		{"Thinned", MaxCurvePoints, MaxCurvePoints},
		{"Short", 5000, n - 1},
		{"Two", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pts := thin(xs, ys, tt.max)
			require.Len(t, pts, tt.want)
			assert.Equal(t, 0.0, pts[0].X, "the first point is kept")
			assert.Equal(t, float64(n-1), pts[len(pts)-1].X, "the last point is kept")
			for i := 1; i < len(pts); i++ {
				assert.Less(t, pts[i-1].X, pts[i].X, "in order")
				assert.False(t, math.IsNaN(pts[i].X))
			}
		})
	}
}

func TestVersionLess(t *testing.T) {
	assert.True(t, versionLess("2", "10"))
	assert.False(t, versionLess("10", "2"))
	assert.True(t, versionLess("10", DryRunVersion), "a planned version comes last")
	assert.False(t, versionLess(DryRunVersion, "1"))
}

func TestModelFilter(t *testing.T) {
	f, err := modelFilter("Churn")
	require.NoError(t, err)
	assert.Equal(t, "name = 'Churn'", f)
	f, err = modelFilter("it's")
	require.NoError(t, err)
	assert.Equal(t, `name = "it's"`, f)
	_, err = modelFilter(`it's "x"`)
	assert.ErrorContains(t, err, "both kinds of quotes")
}

func TestMetricThreshold(t *testing.T) {
	ge := MetricThreshold{Threshold: Float(0.6), GreaterIsBetter: true}
	assert.True(t, atLeast(0.6, 0.6, true), "equal passes, as MLflow's >=")
	assert.True(t, atLeast(0.5+0.1, 0.6, true), "0.5 + 0.1 is 0.6, as in decimal")
	assert.False(t, atLeast(0.59, 0.6, true))
	assert.True(t, atLeast(0.3, 0.4, false))
	assert.False(t, atLeast(0.41, 0.4, false))
	assert.NoError(t, ge.validate("f1"))
}

// hookTransport calls after once a request matching match has been sent,
// as another client acting at that very moment.
type hookTransport struct {
	mu    sync.Mutex
	base  http.RoundTripper
	match func(*http.Request) bool
	// before runs before the matching request is sent, after once it was.
	before, after func(*http.Request)
	// respond, when set, answers the matching request instead of the server.
	respond func(*http.Request) *http.Response
	fired   bool
}

func (h *hookTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h.mu.Lock()
	fire := !h.fired && h.match(req)
	if fire {
		h.fired = true
	}
	h.mu.Unlock()
	if fire && h.before != nil {
		h.before(req)
	}
	if fire && h.respond != nil {
		return h.respond(req), nil
	}
	resp, err := h.base.RoundTrip(req)
	if fire && err == nil && h.after != nil {
		h.after(req)
	}
	return resp, err
}

func hooked(t *testing.T, uri string, h *hookTransport) *mlflow.Client {
	t.Helper()
	h.base = http.DefaultTransport
	c, err := mlflow.New(mlflow.DefaultConfig(uri), mlflow.WithHTTPClient(&http.Client{Transport: h}))
	require.NoError(t, err)
	return c
}

func testPlaybook(t *testing.T, c *mlflow.Client, step string) (*Playbook, *record.Run) {
	t.Helper()
	rec := &record.Run{Schema: record.Schema, Cells: []record.Cell{{Step: step}}}
	pb, ctl := notebook.New(notebook.Options{Run: rec, Connect: func() (*mlflow.Client, error) { return c, nil }})
	ctl.Begin(t.Context(), step)
	t.Cleanup(ctl.Close)
	return pb, rec
}

func catchErr(f func()) (err error) {
	defer func() {
		if v := recover(); v != nil {
			if e, ok := v.(error); ok {
				err = e
				return
			}
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	f()
	return nil
}

// versionsFixture creates a model with n versions (of a run without
// artifacts) and returns the run.
func versionsFixture(t *testing.T, c *mlflow.Client, model string, n int) *mlflow.Run {
	t.Helper()
	ctx := t.Context()
	exp, err := c.GetOrCreateExperiment(ctx, "steps-internal-fixtures")
	require.NoError(t, err)
	run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID})
	require.NoError(t, err)
	// A model folder, which Register checks for before registering.
	require.NoError(t, c.UploadArtifact(ctx, run.Info.ArtifactURI, "model/MLmodel", strings.NewReader("flavors:\n  playbook_churn: {}\n")))
	if n == 0 {
		return run
	}
	_, err = c.CreateRegisteredModel(ctx, model, nil, "")
	require.NoError(t, err)
	// Version 1 is the run's model; each other version another model (its
	// own folder, another MLmodel), so that promote does not find it the
	// same as another.
	for i := range n {
		src := run.Info.ArtifactURI + "/model"
		if i > 0 {
			dir := fmt.Sprintf("model-%d", i+1)
			require.NoError(t, c.UploadArtifact(ctx, run.Info.ArtifactURI, dir+"/MLmodel", strings.NewReader(fmt.Sprintf("flavors:\n  playbook_churn: {}\nfixture: %d\n", i+1))))
			src = run.Info.ArtifactURI + "/" + dir
		}
		_, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: model, Source: src, RunID: run.Info.RunID})
		require.NoError(t, err)
	}
	return run
}

func newTestClient(t *testing.T) (*mlflow.Client, string) {
	t.Helper()
	uri := mlflowtest.URI(t)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	return c, uri
}

// TestRegisterSurvivesCreateRace: another client creates the registered
// model between Register's read and its create.
func TestRegisterSurvivesCreateRace(t *testing.T) {
	c, uri := newTestClient(t)
	model := fmt.Sprintf("CreateRace-%d", time.Now().UnixNano())
	run := versionsFixture(t, c, model, 0)
	h := &hookTransport{
		match: func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/registered-models/create") },
		before: func(r *http.Request) {
			_, err := c.CreateRegisteredModel(r.Context(), model, nil, "the other creator")
			assert.NoError(t, err)
		},
	}
	pb, rec := testPlaybook(t, hooked(t, uri, h), "register")
	var v *Version
	err := catchErr(func() {
		v = Register(pb, &BestRun{RunID: run.Info.RunID, ModelSource: run.Info.ArtifactURI + "/model"}, RegisterOptions{Model: model})
	})
	require.NoError(t, err)
	assert.Equal(t, "1", v.Version)
	assert.False(t, v.ModelCreated, "the other client created it")
	require.Len(t, rec.Evidence.Calls, 2)
	assert.Contains(t, rec.Evidence.Calls[0].Outcome, "RESOURCE_ALREADY_EXISTS", "the refused create is recorded")
	assert.Equal(t, OutcomeOK, rec.Evidence.Calls[1].Outcome)
}

// TestPromoteLosesRace: another promotion moves the production alias right
// after this one moved it. Promote refuses, says what it saw, and tags
// nothing: the other promotion is not silently overwritten, nor is this one
// silently lost.
func TestPromoteLosesRace(t *testing.T) {
	c, uri := newTestClient(t)
	ctx := t.Context()
	model := fmt.Sprintf("PromoteRace-%d", time.Now().UnixNano())
	versionsFixture(t, c, model, 3)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, DefaultProductionAlias, "1"))
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, DefaultCandidateAlias, "2"))
	require.NoError(t, c.SetModelVersionTag(ctx, model, "2", TagValidationStatus, StatusPassed))

	h := &hookTransport{
		match: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/registered-models/alias")
		},
		after: func(r *http.Request) {
			assert.NoError(t, c.SetRegisteredModelAlias(r.Context(), model, DefaultProductionAlias, "3"))
		},
	}
	pb, rec := testPlaybook(t, hooked(t, uri, h), "promote")
	err := catchErr(func() {
		Promote(pb, &Candidate{Model: model, Version: "2", Alias: DefaultCandidateAlias}, PromoteOptions{})
	})
	var g *GateError
	require.True(t, errors.As(err, &g), "a refusal: %v", err)
	assert.Contains(t, g.Reason, "moved production-live of "+model+" from version 1 to version 2, the alias pointed to version 3")
	assert.Contains(t, g.Reason, "another promotion moved it meanwhile")

	mv, err := c.GetModelVersionByAlias(ctx, model, DefaultProductionAlias)
	require.NoError(t, err)
	assert.Equal(t, "3", mv.Version, "the other promotion's version stays")
	v2, err := c.GetModelVersion(ctx, model, "2")
	require.NoError(t, err)
	_, promoted := v2.Tag(TagPromotedAt)
	assert.False(t, promoted, "version 2 is not tagged promoted")
	v1, err := c.GetModelVersion(ctx, model, "1")
	require.NoError(t, err)
	_, archived := v1.Tag(TagArchived)
	assert.False(t, archived, "version 1 is not tagged archived by the loser")
	assert.Equal(t, []string{"POST registered-models/set-tag", "POST registered-models/alias", "DELETE registered-models/delete-tag"},
		callNames(rec), "the intent, the alias move and the intent's removal are recorded")
	assert.Nil(t, rec.Evidence.Promotion, "no promotion is claimed")
	assertNoIntent(t, c, model)
}

// callNames returns the recorded calls as "METHOD endpoint" without the
// API prefix.
func callNames(rec *record.Run) []string {
	var names []string
	for _, c := range rec.Evidence.Calls {
		names = append(names, c.Method+" "+strings.TrimPrefix(c.Endpoint, "/api/2.0/mlflow/"))
	}
	return names
}

// assertNoIntent asserts model holds no promotion intent tag.
func assertNoIntent(t *testing.T, c *mlflow.Client, model string) {
	t.Helper()
	m, err := c.GetRegisteredModel(t.Context(), model)
	require.NoError(t, err)
	for _, tag := range m.Tags {
		assert.False(t, strings.HasPrefix(tag.Key, TagIntentPrefix), "intent tag left: %s=%s", tag.Key, tag.Value)
	}
}

// TestChangeRecordsFailures: a change the server refuses is recorded with
// the server's answer.
func TestChangeRecordsFailures(t *testing.T) {
	c, _ := newTestClient(t)
	pb, rec := testPlaybook(t, c, "alias")
	r := openRegistry(pb)
	err := r.setTag(fmt.Sprintf("Missing-%d", time.Now().UnixNano()), "1", "k", "v")
	require.ErrorIs(t, err, mlflow.ErrNotFound)
	require.Len(t, rec.Evidence.Calls, 1)
	call := rec.Evidence.Calls[0]
	assert.Equal(t, "alias", call.Step)
	assert.Equal(t, "/api/2.0/mlflow/model-versions/set-tag", call.Endpoint)
	assert.Contains(t, call.Outcome, "RESOURCE_DOES_NOT_EXIST")
	assert.False(t, call.DryRun)
	assert.Positive(t, time.Duration(call.Duration))
}

// TestPromoteRefusedByTheServerInARace: the server refuses this promotion's
// alias because another one created it at the same moment (MLflow answers
// 400 with a unique-constraint error): a lost race, said as such.
func TestPromoteRefusedByTheServerInARace(t *testing.T) {
	c, uri := newTestClient(t)
	ctx := t.Context()
	model := fmt.Sprintf("PromoteRace400-%d", time.Now().UnixNano())
	versionsFixture(t, c, model, 2)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, DefaultCandidateAlias, "1"))
	require.NoError(t, c.SetModelVersionTag(ctx, model, "1", TagValidationStatus, StatusPassed))
	h := &hookTransport{
		match: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/registered-models/alias")
		},
		before: func(r *http.Request) {
			assert.NoError(t, c.SetRegisteredModelAlias(r.Context(), model, DefaultProductionAlias, "2"))
		},
		respond: func(r *http.Request) *http.Response {
			body := `{"error_code": "BAD_REQUEST", "message": "(sqlite3.IntegrityError) UNIQUE constraint failed: registered_model_aliases.alias\n[SQL: INSERT ...]"}`
			return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}
		},
	}
	pb, rec := testPlaybook(t, hooked(t, uri, h), "promote")
	err := catchErr(func() {
		Promote(pb, &Candidate{Model: model, Version: "1", Alias: DefaultCandidateAlias}, PromoteOptions{})
	})
	var g *GateError
	require.True(t, errors.As(err, &g), "a refusal: %v", err)
	assert.Contains(t, g.Reason, "moving production-live of "+model+" from no version to version 1 failed (mlflow: POST /api/2.0/mlflow/registered-models/alias: 400 BAD_REQUEST: (sqlite3.IntegrityError) UNIQUE constraint failed: registered_model_aliases.alias), and the alias now points to version 2")
	assert.NotContains(t, g.Reason, "[SQL", "the server's message is cut to its first line")
	require.Equal(t, []string{"POST registered-models/set-tag", "POST registered-models/alias", "DELETE registered-models/delete-tag"}, callNames(rec))
	assert.Contains(t, rec.Evidence.Calls[1].Outcome, "UNIQUE constraint failed", "the refused call is recorded with the server's answer")
	assertNoIntent(t, c, model)
}

// TestPromoteIntentRefusedByTheServerInARace: two promotions write their
// intent at the same moment and the server refuses this one's (MLflow's
// set-tag is a read then an insert: 400 with a unique-constraint error).
// A lost race, said as such, with nothing moved and the other intent left.
func TestPromoteIntentRefusedByTheServerInARace(t *testing.T) {
	c, uri := newTestClient(t)
	ctx := t.Context()
	model := fmt.Sprintf("PromoteIntentRace400-%d", time.Now().UnixNano())
	versionsFixture(t, c, model, 2)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, DefaultCandidateAlias, "1"))
	require.NoError(t, c.SetModelVersionTag(ctx, model, "1", TagValidationStatus, StatusPassed))
	other := `{"kind":"promote","from":"","to":"2","at":"2026-12-03T14:21:20Z","by":"team-b"}`
	h := &hookTransport{
		match: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/registered-models/set-tag")
		},
		before: func(r *http.Request) {
			assert.NoError(t, c.SetRegisteredModelTag(r.Context(), model, intentKey(DefaultProductionAlias), other))
		},
		respond: func(r *http.Request) *http.Response {
			body := `{"error_code": "BAD_REQUEST", "message": "(sqlite3.IntegrityError) UNIQUE constraint failed: registered_model_tags.workspace, registered_model_tags.key, registered_model_tags.name\n[SQL: INSERT ...]"}`
			return &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}
		},
	}
	pb, rec := testPlaybook(t, hooked(t, uri, h), "promote")
	err := catchErr(func() {
		Promote(pb, &Candidate{Model: model, Version: "1", Alias: DefaultCandidateAlias}, PromoteOptions{})
	})
	var g *GateError
	require.True(t, errors.As(err, &g), "a refusal: %v", err)
	assert.Contains(t, g.Reason, "the model now holds another one (to version 2, by team-b): another promotion is moving it meanwhile; nothing was moved")
	assert.NotContains(t, g.Reason, "[SQL", "the server's message is cut to its first line")
	assert.Equal(t, []string{"POST registered-models/set-tag"}, callNames(rec), "nothing but the refused intent was sent")
	_, err = c.GetModelVersionByAlias(ctx, model, DefaultProductionAlias)
	assert.ErrorIs(t, err, mlflow.ErrNotFound, "production was not moved")
	raw, ok, err := (&registry{c: c, ctx: ctx}).modelTag(model, intentKey(DefaultProductionAlias))
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, other, raw, "the other promotion's intent stays")
}

// TestAliasRefusedByTheServerInARace: as for promote, a candidate alias the
// server refuses because another scenario set it at the same moment.
func TestAliasRefusedByTheServerInARace(t *testing.T) {
	c, uri := newTestClient(t)
	model := fmt.Sprintf("AliasRace400-%d", time.Now().UnixNano())
	run := versionsFixture(t, c, model, 2)
	h := &hookTransport{
		match: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/registered-models/alias")
		},
		before: func(r *http.Request) {
			assert.NoError(t, c.SetRegisteredModelAlias(r.Context(), model, DefaultCandidateAlias, "2"))
		},
		respond: func(r *http.Request) *http.Response {
			body := `{"error_code": "BAD_REQUEST", "message": "UNIQUE constraint failed"}`
			return &http.Response{StatusCode: http.StatusBadRequest, Body: io.NopCloser(strings.NewReader(body)), Request: r}
		},
	}
	pb, _ := testPlaybook(t, hooked(t, uri, h), "alias")
	err := catchErr(func() {
		Alias(pb, &Version{Model: model, Version: "1", RunID: run.Info.RunID}, "")
	})
	var g *GateError
	require.True(t, errors.As(err, &g), "a refusal: %v", err)
	assert.Equal(t, "alias", g.Gate)
	assert.Contains(t, g.Reason, "and it now points to version 2: someone moved it meanwhile")
	v1, err := c.GetModelVersion(t.Context(), model, "1")
	require.NoError(t, err)
	_, tagged := v1.Tag(TagValidationStatus)
	assert.False(t, tagged, "no tag is set on a candidate that lost its alias")
}
