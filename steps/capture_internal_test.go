package steps

import (
	"bytes"
	"context"
	"fmt"
	"image"
	imagepng "image/png"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/browser"
	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/server"
)

// promotedFixture registers version 1 of a new model, points both aliases
// at it and tags it passed: the state verify expects after a first
// promotion, which it returns.
func promotedFixture(t *testing.T, c *mlflow.Client, prefix string) *Promotion {
	t.Helper()
	model := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
	versionsFixture(t, c, model, 1)
	ctx := t.Context()
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, DefaultProductionAlias, "1"))
	require.NoError(t, c.SetRegisteredModelAlias(ctx, model, DefaultCandidateAlias, "1"))
	require.NoError(t, c.SetModelVersionTag(ctx, model, "1", TagValidationStatus, StatusPassed))
	return &Promotion{Kind: record.PromotionPromote, Model: model, Alias: DefaultProductionAlias, CandidateAlias: DefaultCandidateAlias, Version: "1", Moved: true}
}

// verifyCapture runs verify on p and returns the one capture it recorded.
func verifyCapture(t *testing.T, c *mlflow.Client, p *Promotion) (*Verification, record.Capture) {
	t.Helper()
	rec := &record.Run{Schema: record.Schema, Cells: []record.Cell{{Step: "verify"}}}
	pb, ctl := notebook.New(notebook.Options{
		Run: rec, Connect: func() (*mlflow.Client, error) { return c, nil },
		// What cmd/playbook gives a run: headless Chromium, named or
		// turned off by $PLAYBOOK_CHROMIUM.
		Capture: &notebook.Capturer{Width: browser.CaptureWidth, Height: browser.CaptureHeight, ModelPage: browser.CaptureModelPage},
	})
	ctl.Begin(t.Context(), "verify")
	t.Cleanup(ctl.Close)
	var v *Verification
	require.NoError(t, catchErr(func() { v = Verify(pb, p) }))
	assert.True(t, v.Passed, "failed checks: %v", v.Failed)
	require.Len(t, rec.Evidence.Captures, 1, "a capture, or why there is none")
	return v, rec.Evidence.Captures[0]
}

// TestVerifyCapturesMLflowUI: against the real MLflow server, with
// Chromium, verify screenshots the model's page in the MLflow UI (about ten
// seconds) and records it as evidence.
func TestVerifyCapturesMLflowUI(t *testing.T) {
	c := clientOf(t, testenv.RealMLflow(t))
	t.Setenv(browser.EnvChromium, testenv.Chromium(t))
	v, capture := verifyCapture(t, c, promotedFixture(t, c, "Capture"))
	assert.Empty(t, capture.Reason)
	assert.Equal(t, v.ModelURL, capture.URL)
	require.Greater(t, len(capture.PNG), 1000, "a screenshot of the model page")
	assert.Equal(t, "\x89PNG", string(capture.PNG[:4]))
}

// TestVerifyCapturesEmbeddedPage: on the embedded server, with Chromium,
// verify screenshots the model's section of the server's read-only
// registry page, at the MLflow UI's link, and records it.
func TestVerifyCapturesEmbeddedPage(t *testing.T) {
	c := clientOf(t, mlflowtest.Embedded(t))
	t.Setenv(browser.EnvChromium, testenv.Chromium(t))
	v, capture := verifyCapture(t, c, promotedFixture(t, c, "EmbeddedCapture"))
	assert.Empty(t, capture.Reason)
	assert.Equal(t, v.ModelURL, capture.URL)
	assert.Equal(t, v.Model+" — registry page", capture.Title)
	require.Greater(t, len(capture.PNG), 1000, "a screenshot of the model page")
	assert.Equal(t, "\x89PNG", string(capture.PNG[:4]))
}

// TestVerifyNoCaptureOnEmbeddedWithoutChromium: on the embedded server,
// a Chromium that cannot start leaves no capture; verify says why, and
// passes.
func TestVerifyNoCaptureOnEmbeddedWithoutChromium(t *testing.T) {
	c := clientOf(t, mlflowtest.Embedded(t))
	t.Setenv(browser.EnvChromium, "/nonexistent/chromium")
	v, capture := verifyCapture(t, c, promotedFixture(t, c, "NoCapture"))
	assert.Contains(t, capture.Reason, "no capture of the registry page: ")
	assert.Contains(t, capture.Reason, "/nonexistent/chromium")
	assert.Nil(t, capture.PNG)
	assert.Equal(t, v.ModelURL, capture.URL)
}

// TestVerifyNoCaptureWhenChromiumOff: on a server that says it is MLflow
// (an embedded one answering /version as MLflow does), PLAYBOOK_CHROMIUM=off
// turns the capture off, and the record says so.
func TestVerifyNoCaptureWhenChromiumOff(t *testing.T) {
	c := clientOf(t, mlflowtest.EmbeddedWith(t, server.Config{Version: "3.18.0"}))
	t.Setenv(browser.EnvChromium, "off")
	_, capture := verifyCapture(t, c, promotedFixture(t, c, "CaptureOff"))
	assert.Contains(t, capture.Reason, "PLAYBOOK_CHROMIUM=off")
	assert.Nil(t, capture.PNG)
}

// clientOf returns a client of uri.
func clientOf(t *testing.T, uri string) *mlflow.Client {
	t.Helper()
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	return c
}

// TestActor: the tags' actor is the OS user@host, with the MLflow user the
// server knows the credentials as first when there is one, said
// unverified when the server did not confirm it.
func TestActor(t *testing.T) {
	for _, c := range []struct {
		actor *record.Actor
		want  string
	}{
		{nil, "ada@lab"},
		{&record.Actor{Name: "alice", Via: "basic-auth", Verified: true}, "alice (OS ada@lab)"},
		{&record.Actor{Name: "bob", Via: "bearer-jwt"}, "bob (unverified, OS ada@lab)"},
		{&record.Actor{}, "ada@lab"},
	} {
		rec := &record.Run{Schema: record.Schema, Cells: []record.Cell{{Step: "promote"}},
			Environment: record.Environment{User: "ada", Host: "lab", Actor: c.actor}}
		pb, ctl := notebook.New(notebook.Options{Run: rec})
		ctl.Begin(t.Context(), "promote")
		assert.Equal(t, c.want, actor(pb))
		ctl.Close()
	}
}

// TestVerifyCapturesArchivedVersion: after a promotion that archived the
// old version, verify captures the model's page and then the archived
// version's page (its URL, waiting for its archive tag), each capture the
// size of its PNG, titles in the scenario's language.
func TestVerifyCapturesArchivedVersion(t *testing.T) {
	c := clientOf(t, mlflowtest.Embedded(t))
	model := fmt.Sprintf("Archived-%d", time.Now().UnixNano())
	versionsFixture(t, c, model, 2)
	ctx := t.Context()
	for _, a := range []string{DefaultProductionAlias, DefaultCandidateAlias} {
		require.NoError(t, c.SetRegisteredModelAlias(ctx, model, a, "2"))
	}
	require.NoError(t, c.SetModelVersionTag(ctx, model, "2", TagValidationStatus, StatusPassed))
	require.NoError(t, c.SetModelVersionTag(ctx, model, "1", TagArchived, "true"))
	require.NoError(t, c.SetModelVersionTag(ctx, model, "1", TagSupersededBy, "2"))
	p := &Promotion{Kind: record.PromotionPromote, Model: model, Alias: DefaultProductionAlias, CandidateAlias: DefaultCandidateAlias,
		Version: "2", Previous: "1", Moved: true}

	var img bytes.Buffer
	require.NoError(t, imagepng.Encode(&img, image.NewGray(image.Rect(0, 0, 3, 5))))
	type asked struct {
		url  string
		want []string
	}
	var got []asked
	rec := &record.Run{Schema: record.Schema, Scenario: record.Scenario{Lang: "fr"}, Cells: []record.Cell{{Step: "verify"}}}
	pb, ctl := notebook.New(notebook.Options{
		Run: rec, Connect: func() (*mlflow.Client, error) { return c, nil },
		Capture: &notebook.Capturer{Width: browser.CaptureWidth, Height: browser.CaptureHeight,
			ModelPage: func(_ context.Context, url, m string, want []string) ([]byte, error) {
				assert.Equal(t, model, m)
				got = append(got, asked{url, want})
				return img.Bytes(), nil
			}},
	})
	ctl.Begin(ctx, "verify")
	t.Cleanup(ctl.Close)
	var v *Verification
	require.NoError(t, catchErr(func() { v = Verify(pb, p) }))
	require.True(t, v.Passed, "failed checks: %v", v.Failed)
	assert.Equal(t, "1", v.Archived)
	assert.Equal(t, ModelVersionURL(c, model, "1"), v.ArchivedURL)
	assert.Equal(t, []asked{
		{ModelURL(c, model), []string{DefaultProductionAlias, DefaultCandidateAlias}}, // sorted
		{ModelURL(c, model) + "/versions/1", []string{TagArchived}},
	}, got)
	require.Len(t, rec.Evidence.Captures, 2)
	assert.Equal(t, model+" — page du registre", rec.Evidence.Captures[0].Title)
	assert.Equal(t, model+" version 1 (archivée) — page du registre", rec.Evidence.Captures[1].Title)
	for _, capt := range rec.Evidence.Captures {
		assert.Empty(t, capt.Reason)
		assert.Equal(t, [2]int{3, 5}, [2]int{capt.Width, capt.Height}, "the PNG's size")
	}
}
