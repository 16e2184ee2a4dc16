package steps

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// productionFixture makes model with n versions, version 1 promoted to
// production by an earlier run, version 2 the validated candidate.
func productionFixture(t *testing.T, c *mlflow.Client, model string, n int) {
	t.Helper()
	ctx := t.Context()
	versionsFixture(t, c, model, n)
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, DefaultProductionAlias, "1"))
	for k, v := range map[string]string{TagPromotedAt: "2026-01-01T00:00:00Z", TagPromotedBy: "earlier@host", TagPreviousVersion: "none", TagValidationStatus: StatusPassed} {
		require.NoError(t, c.SetModelVersionTag(ctx, model, "1", k, v))
	}
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, DefaultCandidateAlias, "2"))
	require.NoError(t, c.SetModelVersionTag(ctx, model, "2", TagValidationStatus, StatusPassed))
}

// writeIntent leaves the intent a killed run of from→to would have left.
func writeIntent(t *testing.T, c *mlflow.Client, model, from, to string) intent {
	t.Helper()
	in := intent{Kind: record.PromotionPromote, From: from, To: to, At: "2026-02-02T02:02:02Z", By: "killed@host"}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	require.NoError(t, c.SetRegisteredModelTag(t.Context(), model, intentKey(DefaultProductionAlias), string(b)))
	return in
}

func versionTagsOf(t *testing.T, c *mlflow.Client, model, version string) map[string]string {
	t.Helper()
	mv, err := c.GetModelVersion(t.Context(), model, version)
	require.NoError(t, err)
	tags := map[string]string{}
	for _, tag := range mv.Tags {
		tags[tag.Key] = tag.Value
	}
	return tags
}

// TestPromoteCompletesAnInterruptedMove: an earlier run was killed right
// after it moved production (its intent written, no tag set). The next
// promote completes the tags, says so in the evidence, and has nothing to
// move.
func TestPromoteCompletesAnInterruptedMove(t *testing.T) {
	c, _ := newTestClient(t)
	model := fmt.Sprintf("Interrupted-%d", time.Now().UnixNano())
	productionFixture(t, c, model, 2)
	in := writeIntent(t, c, model, "1", "2")
	require.NoError(t, c.SetRegisteredModelAlias(t.Context(), model, DefaultProductionAlias, "2"))

	pb, rec := testPlaybook(t, c, "promote")
	p := Promote(pb, &Candidate{Model: model, Version: "2", Alias: DefaultCandidateAlias}, PromoteOptions{})
	assert.False(t, p.Moved, "production already held version 2")
	require.Len(t, rec.Evidence.Repairs, 1)
	rep := rec.Evidence.Repairs[0]
	assert.Equal(t, record.RepairCompleted, rep.Kind)
	assert.Equal(t, "1", rep.From)
	assert.Equal(t, "2", rep.To)
	assert.Contains(t, rep.Detail, "interrupted after the alias moved")
	v2 := versionTagsOf(t, c, model, "2")
	assert.Equal(t, in.At, v2[TagPromotedAt], "the interrupted promotion's own time")
	assert.Equal(t, in.By, v2[TagPromotedBy])
	assert.Equal(t, "1", v2[TagPreviousVersion])
	v1 := versionTagsOf(t, c, model, "1")
	assert.Equal(t, "true", v1[TagArchived])
	assert.Equal(t, "2", v1[TagSupersededBy])
	assertNoIntent(t, c, model)
}

// TestPromoteReversesAnInterruptedMove: the earlier run wrote its intent
// and a tag claiming the promotion but the alias never moved: the claim
// and the intent go, then this run promotes.
func TestPromoteReversesAnInterruptedMove(t *testing.T) {
	c, _ := newTestClient(t)
	ctx := t.Context()
	model := fmt.Sprintf("Reversed-%d", time.Now().UnixNano())
	productionFixture(t, c, model, 3)
	in := writeIntent(t, c, model, "1", "3")
	require.NoError(t, c.SetModelVersionTag(ctx, model, "3", TagPromotedAt, in.At))
	require.NoError(t, c.SetModelVersionTag(ctx, model, "3", TagPromotedBy, in.By))

	pb, rec := testPlaybook(t, c, "promote")
	p := Promote(pb, &Candidate{Model: model, Version: "2", Alias: DefaultCandidateAlias}, PromoteOptions{})
	assert.True(t, p.Moved)
	require.Len(t, rec.Evidence.Repairs, 1)
	assert.Equal(t, record.RepairReversed, rec.Evidence.Repairs[0].Kind)
	assert.Equal(t, "1", rec.Evidence.Repairs[0].Production)
	v3 := versionTagsOf(t, c, model, "3")
	assert.NotContains(t, v3, TagPromotedAt, "no tag claims the move that did not happen")
	assert.NotContains(t, v3, TagPromotedBy)
	assert.Equal(t, "1", versionTagsOf(t, c, model, "2")[TagPreviousVersion])
	assertNoIntent(t, c, model)
}

// TestPromoteCompletesMissingTags: production is on a version without
// promotion tags while the version before it still looks live (not
// archived): the tags are completed and the repair marked.
func TestPromoteCompletesMissingTags(t *testing.T) {
	c, _ := newTestClient(t)
	model := fmt.Sprintf("Missing-%d", time.Now().UnixNano())
	productionFixture(t, c, model, 2)
	require.NoError(t, c.SetRegisteredModelAlias(t.Context(), model, DefaultProductionAlias, "2"))

	pb, rec := testPlaybook(t, c, "promote")
	Promote(pb, &Candidate{Model: model, Version: "2", Alias: DefaultCandidateAlias}, PromoteOptions{})
	require.Len(t, rec.Evidence.Repairs, 1)
	assert.Equal(t, record.RepairCompleted, rec.Evidence.Repairs[0].Kind)
	assert.Empty(t, rec.Evidence.Repairs[0].Intent)
	v2 := versionTagsOf(t, c, model, "2")
	assert.Equal(t, "1", v2[TagPreviousVersion])
	assert.Contains(t, v2, TagPromotionRepaired)
	assert.Equal(t, "true", versionTagsOf(t, c, model, "1")[TagArchived])

	// A consistent registry needs no repair.
	pb, rec = testPlaybook(t, c, "promote")
	Promote(pb, &Candidate{Model: model, Version: "2", Alias: DefaultCandidateAlias}, PromoteOptions{})
	assert.Empty(t, rec.Evidence.Repairs)
	assert.Empty(t, rec.Evidence.Calls, "nothing to change")
}

// lostReply is a transport that sends the matching request (or not) and
// then loses the reply.
func lostReply(t *testing.T, uri string, send bool, match func(*http.Request) bool) *mlflow.Client {
	t.Helper()
	h := &hookTransport{match: match}
	cfg := mlflow.DefaultConfig(uri)
	cfg.MaxRetries = 0
	c, err := mlflow.New(cfg, mlflow.WithHTTPClient(&http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		h.mu.Lock()
		fire := !h.fired && h.match(r)
		h.fired = h.fired || fire
		h.mu.Unlock()
		if !fire {
			return http.DefaultTransport.RoundTrip(r)
		}
		if send {
			resp, err := http.DefaultTransport.RoundTrip(r)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		return nil, io.ErrUnexpectedEOF
	})}))
	require.NoError(t, err)
	return c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func isAliasMove(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/registered-models/alias")
}

// TestPromoteLostReplyApplied: the server applied the alias move but the
// reply was lost: promote says the change may have been applied, reads the
// alias back, finds it moved and goes on.
func TestPromoteLostReplyApplied(t *testing.T) {
	c, uri := newTestClient(t)
	model := fmt.Sprintf("LostApplied-%d", time.Now().UnixNano())
	productionFixture(t, c, model, 2)
	pb, rec := testPlaybook(t, lostReply(t, uri, true, isAliasMove), "promote")
	p := Promote(pb, &Candidate{Model: model, Version: "2", Alias: DefaultCandidateAlias}, PromoteOptions{})
	assert.True(t, p.Moved)
	var move record.Call
	for _, call := range rec.Evidence.Calls {
		if strings.HasSuffix(call.Endpoint, "/registered-models/alias") {
			move = call
		}
	}
	assert.True(t, strings.HasPrefix(move.Outcome, "no reply, the change may have been applied: "), move.Outcome)
	assert.Equal(t, "1", versionTagsOf(t, c, model, "2")[TagPreviousVersion])
	assertNoIntent(t, c, model)
}

// TestPromoteLostReplyNotApplied: the alias move never reached the server
// and its reply was lost: promote fails saying it may have been applied and
// that the read-back shows it was not; the intent stays, and the next run
// reverses it and promotes.
func TestPromoteLostReplyNotApplied(t *testing.T) {
	c, uri := newTestClient(t)
	model := fmt.Sprintf("LostNotApplied-%d", time.Now().UnixNano())
	productionFixture(t, c, model, 2)
	pb, _ := testPlaybook(t, lostReply(t, uri, false, isAliasMove), "promote")
	err := catchErr(func() {
		Promote(pb, &Candidate{Model: model, Version: "2", Alias: DefaultCandidateAlias}, PromoteOptions{})
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "may have been applied")
	assert.Contains(t, err.Error(), "read back: not applied")
	var g *GateError
	assert.False(t, errors.As(err, &g), "a failure, not a refusal")

	pb, rec := testPlaybook(t, c, "promote")
	p := Promote(pb, &Candidate{Model: model, Version: "2", Alias: DefaultCandidateAlias}, PromoteOptions{})
	assert.True(t, p.Moved)
	require.Len(t, rec.Evidence.Repairs, 1)
	assert.Equal(t, record.RepairReversed, rec.Evidence.Repairs[0].Kind)
	assertNoIntent(t, c, model)
}

// TestPromoteLosesRaceAfterTagging: another promotion moves production
// after this one set its tags: the refusal takes them back, and the old
// version's archive tags name the version that holds production.
func TestPromoteLosesRaceAfterTagging(t *testing.T) {
	c, uri := newTestClient(t)
	model := fmt.Sprintf("RaceAfterTags-%d", time.Now().UnixNano())
	productionFixture(t, c, model, 3)
	h := &hookTransport{
		match: func(r *http.Request) bool {
			if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/model-versions/set-tag") || r.GetBody == nil {
				return false
			}
			body, _ := r.GetBody()
			b, _ := io.ReadAll(body)
			return strings.Contains(string(b), `"key":"`+TagPromotedBy+`"`)
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
	require.True(t, h.fired)
	v2 := versionTagsOf(t, c, model, "2")
	for _, k := range []string{TagPromotedAt, TagPromotedBy, TagPreviousVersion} {
		assert.NotContains(t, v2, k, "the loser keeps no tag claiming the promotion")
	}
	assert.Equal(t, "3", versionTagsOf(t, c, model, "1")[TagSupersededBy])
	assert.Nil(t, rec.Evidence.Promotion)
	assertNoIntent(t, c, model)
}

// TestAliasKeepsProductionStatus: pointing the candidate alias at the
// version in production does not demote it to pending.
func TestAliasKeepsProductionStatus(t *testing.T) {
	c, _ := newTestClient(t)
	model := fmt.Sprintf("KeepStatus-%d", time.Now().UnixNano())
	productionFixture(t, c, model, 2)
	pb, _ := testPlaybook(t, c, "alias")
	Alias(pb, &Version{Model: model, Version: "1"}, DefaultCandidateAlias, DefaultProductionAlias)
	assert.Equal(t, StatusPassed, versionTagsOf(t, c, model, "1")[TagValidationStatus])
	Alias(pb, &Version{Model: model, Version: "2"}, DefaultCandidateAlias, DefaultProductionAlias)
	assert.Equal(t, StatusPending, versionTagsOf(t, c, model, "2")[TagValidationStatus], "a version not in production is pending")
}
