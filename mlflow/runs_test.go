package mlflow_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
)

func TestRuns(t *testing.T) {
	t.Parallel()
	c, rec := recordingClient(t)
	ctx := t.Context()
	exp, err := c.GetOrCreateExperiment(ctx, unique("runs"))
	require.NoError(t, err)

	before := time.Now().UnixMilli()
	run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{
		ExperimentID: exp.ExperimentID,
		RunName:      "baseline",
		Tags:         map[string]string{"team": "churn"},
	})
	require.NoError(t, err)

	t.Run("CreateRun", func(t *testing.T) {
		assert.NotEmpty(t, run.Info.RunID)
		assert.Equal(t, "baseline", run.Info.RunName)
		assert.Equal(t, exp.ExperimentID, run.Info.ExperimentID)
		assert.Equal(t, mlflow.RunStatusRunning, run.Info.Status)
		assert.GreaterOrEqual(t, run.Info.StartTime, before, "StartTime defaults to now")
		assert.True(t, strings.HasPrefix(run.Info.ArtifactURI, "mlflow-artifacts:/"), run.Info.ArtifactURI)
		team, ok := run.Tag("team")
		assert.True(t, ok)
		assert.Equal(t, "churn", team)
	})

	t.Run("LogBatchSplits", func(t *testing.T) {
		const nMetrics, nParams, nTags = 1500, 150, 120
		ts := time.Now().UnixMilli()
		var (
			metrics []mlflow.Metric
			params  []mlflow.Param
			tags    []mlflow.Tag
		)
		for i := range nMetrics {
			metrics = append(metrics, mlflow.Metric{Key: fmt.Sprintf("m%04d", i), Value: float64(i) / 10, Timestamp: ts, Step: int64(i % 7)})
		}
		for i := range nParams {
			params = append(params, mlflow.Param{Key: fmt.Sprintf("p%03d", i), Value: strings.Repeat("v", i)})
		}
		for i := range nTags {
			tags = append(tags, mlflow.Tag{Key: fmt.Sprintf("t%03d", i), Value: fmt.Sprint(i)})
		}
		n0 := rec.count()
		require.NoError(t, c.LogBatch(ctx, run.Info.RunID, metrics, params, tags))

		// Every request stayed within MLflow's limits, and all went.
		var sent [3]int
		batches := 0
		for _, r := range rec.all()[n0:] {
			if !strings.HasSuffix(r.Path, "/runs/log-batch") {
				continue
			}
			batches++
			var body struct {
				RunID   string            `json:"run_id"`
				Metrics []json.RawMessage `json:"metrics"`
				Params  []json.RawMessage `json:"params"`
				Tags    []json.RawMessage `json:"tags"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &body))
			assert.Equal(t, run.Info.RunID, body.RunID)
			assert.LessOrEqual(t, len(body.Metrics), 1000)
			assert.LessOrEqual(t, len(body.Params), 100)
			assert.LessOrEqual(t, len(body.Tags), 100)
			assert.LessOrEqual(t, len(body.Metrics)+len(body.Params)+len(body.Tags), 1000)
			assert.LessOrEqual(t, len(r.Body), 1_000_000)
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			sent[0] += len(body.Metrics)
			sent[1] += len(body.Params)
			sent[2] += len(body.Tags)
		}
		assert.GreaterOrEqual(t, batches, 2)
		assert.Equal(t, [3]int{nMetrics, nParams, nTags}, sent)

		got, err := c.GetRun(ctx, run.Info.RunID)
		require.NoError(t, err)
		assert.Len(t, got.Data.Metrics, nMetrics)
		assert.Len(t, got.Data.Params, nParams)
		v, ok := got.Metric("m1499")
		assert.True(t, ok)
		assert.InDelta(t, 149.9, v, 1e-9)
		p, ok := got.Param("p149")
		assert.True(t, ok)
		assert.Equal(t, strings.Repeat("v", 149), p)
		tag, ok := got.Tag("t119")
		assert.True(t, ok)
		assert.Equal(t, "119", tag)
	})

	t.Run("LogBatchLargeBodies", func(t *testing.T) {
		// 100 params of 5000 bytes and 100 tags of 7000 bytes: 1.2 MB, which
		// fits the count limits in one request but not the byte limit.
		var params []mlflow.Param
		var tags []mlflow.Tag
		for i := range 100 {
			params = append(params, mlflow.Param{Key: fmt.Sprintf("big%03d", i), Value: strings.Repeat("x", 5000)})
			tags = append(tags, mlflow.Tag{Key: fmt.Sprintf("bigtag%03d", i), Value: strings.Repeat("y", 7000)})
		}
		n0 := rec.count()
		require.NoError(t, c.LogBatch(ctx, run.Info.RunID, nil, params, tags))
		reqs := rec.all()[n0:]
		assert.GreaterOrEqual(t, len(reqs), 2)
		for _, r := range reqs {
			assert.LessOrEqual(t, len(r.Body), 1_000_000)
		}
		got, err := c.GetRun(ctx, run.Info.RunID)
		require.NoError(t, err)
		v, ok := got.Tag("bigtag099")
		assert.True(t, ok)
		assert.Len(t, v, 7000)
	})

	t.Run("LogBatchIdempotent", func(t *testing.T) {
		// A resent batch (what a retry does) is accepted: same values.
		m := []mlflow.Metric{{Key: "f1", Value: 0.8, Timestamp: 1700000000000, Step: 1}}
		p := []mlflow.Param{{Key: "solver", Value: "lbfgs"}}
		require.NoError(t, c.LogBatch(ctx, run.Info.RunID, m, p, nil))
		require.NoError(t, c.LogBatch(ctx, run.Info.RunID, m, p, nil))
		// A different value for a logged param is refused by the server.
		err := c.LogBatch(ctx, run.Info.RunID, nil, []mlflow.Param{{Key: "solver", Value: "saga"}}, nil)
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
	})

	t.Run("LogBatchEmptySendsNothing", func(t *testing.T) {
		n0 := rec.count()
		require.NoError(t, c.LogBatch(ctx, run.Info.RunID, nil, nil, nil))
		assert.Equal(t, n0, rec.count())
	})

	t.Run("NonFiniteMetrics", func(t *testing.T) {
		ts := time.Now().UnixMilli()
		require.NoError(t, c.LogBatch(ctx, run.Info.RunID, []mlflow.Metric{
			{Key: "nan", Value: math.NaN(), Timestamp: ts},
			{Key: "posinf", Value: math.Inf(1), Timestamp: ts},
			{Key: "neginf", Value: math.Inf(-1), Timestamp: ts},
		}, nil, nil))
		got, err := c.GetRun(ctx, run.Info.RunID)
		require.NoError(t, err)
		v, ok := got.Metric("nan")
		require.True(t, ok)
		assert.True(t, math.IsNaN(v), "NaN comes back as NaN, got %v", v)
		// MLflow's SQL store keeps ±Inf as ±MaxFloat64.
		v, _ = got.Metric("posinf")
		assert.GreaterOrEqual(t, v, math.MaxFloat64)
		v, _ = got.Metric("neginf")
		assert.LessOrEqual(t, v, -math.MaxFloat64)
	})

	t.Run("UpdateRun", func(t *testing.T) {
		info, err := c.UpdateRun(ctx, run.Info.RunID, mlflow.RunStatusFinished, 0)
		require.NoError(t, err)
		assert.Equal(t, mlflow.RunStatusFinished, info.Status)
		assert.GreaterOrEqual(t, info.EndTime, run.Info.StartTime, "endTime 0 means now for a terminal status")

		got, err := c.GetRun(ctx, run.Info.RunID)
		require.NoError(t, err)
		assert.Equal(t, mlflow.RunStatusFinished, got.Info.Status)
		assert.Equal(t, info.EndTime, got.Info.EndTime)
	})

	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := c.GetRun(ctx, "0123456789abcdef0123456789abcdef")
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		err = c.LogBatch(ctx, "0123456789abcdef0123456789abcdef", []mlflow.Metric{{Key: "x", Value: 1, Timestamp: 1}}, nil, nil)
		require.ErrorIs(t, err, mlflow.ErrNotFound)
		_, err = c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: "987654321"})
		require.ErrorIs(t, err, mlflow.ErrNotFound)
	})
}

func TestSearchRuns(t *testing.T) {
	t.Parallel()
	c := serverClient(t)
	ctx := t.Context()
	exp, err := c.GetOrCreateExperiment(ctx, unique("search"))
	require.NoError(t, err)

	f1s := []float64{0.3, 0.55, 0.7, 0.9, 0.6}
	ids := map[float64]string{}
	for i, f1 := range f1s {
		run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: fmt.Sprintf("run-%d", i)})
		require.NoError(t, err)
		require.NoError(t, c.LogBatch(ctx, run.Info.RunID,
			[]mlflow.Metric{{Key: "f1", Value: f1, Timestamp: time.Now().UnixMilli()}},
			[]mlflow.Param{{Key: "i", Value: fmt.Sprint(i)}}, nil))
		ids[f1] = run.Info.RunID
	}
	f1Of := func(runs []mlflow.Run) []float64 {
		var out []float64
		for _, r := range runs {
			v, ok := r.Metric("f1")
			require.True(t, ok)
			out = append(out, v)
		}
		return out
	}

	t.Run("FilterOrderBy", func(t *testing.T) {
		page, err := c.SearchRuns(ctx, mlflow.SearchRunsRequest{
			ExperimentIDs: []string{exp.ExperimentID},
			Filter:        "metrics.f1 > 0.5",
			OrderBy:       []string{"metrics.f1 DESC"},
		})
		require.NoError(t, err)
		assert.Equal(t, []float64{0.9, 0.7, 0.6, 0.55}, f1Of(page.Runs))
		assert.Equal(t, ids[0.9], page.Runs[0].Info.RunID)
		assert.Empty(t, page.NextPageToken)
		i, ok := page.Runs[0].Param("i")
		assert.True(t, ok)
		assert.Equal(t, "3", i)
	})

	t.Run("Pages", func(t *testing.T) {
		req := mlflow.SearchRunsRequest{
			ExperimentIDs: []string{exp.ExperimentID},
			MaxResults:    2,
			OrderBy:       []string{"metrics.f1 DESC"},
			RunViewType:   mlflow.ViewActiveOnly,
		}
		var got []float64
		var sizes []int
		for {
			page, err := c.SearchRuns(ctx, req)
			require.NoError(t, err)
			sizes = append(sizes, len(page.Runs))
			got = append(got, f1Of(page.Runs)...)
			if page.NextPageToken == "" {
				break
			}
			req.PageToken = page.NextPageToken
		}
		assert.Equal(t, []int{2, 2, 1}, sizes)
		assert.Equal(t, []float64{0.9, 0.7, 0.6, 0.55, 0.3}, got)
	})

	t.Run("SearchAllRuns", func(t *testing.T) {
		runs, err := c.SearchAllRuns(ctx, mlflow.SearchRunsRequest{
			ExperimentIDs: []string{exp.ExperimentID},
			MaxResults:    2,
			OrderBy:       []string{"metrics.f1 DESC"},
		})
		require.NoError(t, err)
		assert.Equal(t, []float64{0.9, 0.7, 0.6, 0.55, 0.3}, f1Of(runs))
	})

	t.Run("ErrInvalidParameter", func(t *testing.T) {
		_, err := c.SearchRuns(ctx, mlflow.SearchRunsRequest{
			ExperimentIDs: []string{exp.ExperimentID},
			Filter:        "metrics.f1 >>> 0.5 OR",
		})
		require.ErrorIs(t, err, mlflow.ErrInvalidParameter)
	})
}
