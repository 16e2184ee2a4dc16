package mlflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
)

// BenchmarkSearchAllRuns10k measures SearchAllRuns over an experiment of
// PLAYBOOK_BENCH_RUNS runs (10000 for the name's promise) in pages of 1000,
// against the real server, beside the server's own time: the same page
// requests sent with plain net/http, bodies read but not decoded. It reports
// both per walk and their ratio (the client's decoding overhead).
//
// The runs are created once and kept: experiment "bench-10k-runs" for
// 10000, "bench-<n>-runs" otherwise. Skipped unless PLAYBOOK_BENCH_RUNS is
// set, so ordinary test runs do not pay for it:
//
//	PLAYBOOK_BENCH_RUNS=10000 MLFLOW_TRACKING_URI=$(scripts/mlflow-server uri) \
//	  go test -run '^$' -bench SearchAllRuns10k -benchtime 5x ./mlflow/
func BenchmarkSearchAllRuns10k(b *testing.B) {
	uri := testenv.RealMLflow(b)
	v := os.Getenv("PLAYBOOK_BENCH_RUNS")
	if v == "" {
		b.Skip("set PLAYBOOK_BENCH_RUNS to the number of runs (10000) to run this benchmark")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("PLAYBOOK_BENCH_RUNS=%q: want a positive number of runs", v)
	}
	name := fmt.Sprintf("bench-%d-runs", n)
	if n == 10000 {
		name = "bench-10k-runs"
	}
	c, err := mlflow.NewFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	exp, err := c.GetOrCreateExperiment(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	req := mlflow.SearchRunsRequest{ExperimentIDs: []string{exp.ExperimentID}, MaxResults: 1000}
	ensureRuns(b, c, req, n)

	// The page tokens, for the raw requests.
	tokens := []string{""}
	for {
		page, err := c.SearchRuns(ctx, mlflow.SearchRunsRequest{ExperimentIDs: req.ExperimentIDs, MaxResults: 1000, PageToken: tokens[len(tokens)-1]})
		if err != nil {
			b.Fatal(err)
		}
		if page.NextPageToken == "" {
			break
		}
		tokens = append(tokens, page.NextPageToken)
	}
	endpoint := strings.TrimSuffix(uri, "/") + "/api/2.0/mlflow/runs/search"
	raw := func() int64 {
		var total int64
		for _, tok := range tokens {
			body, _ := json.Marshal(map[string]any{"experiment_ids": req.ExperimentIDs, "max_results": 1000, "page_token": tok})
			resp, err := http.Post(endpoint, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			k, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("raw page: status %d, %v", resp.StatusCode, err)
			}
			total += k
		}
		return total
	}

	var (
		iters             int
		clientDur, rawDur time.Duration
		bytesPerWalk      int64
	)
	for b.Loop() {
		t0 := time.Now()
		runs, err := c.SearchAllRuns(ctx, req)
		clientDur += time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if len(runs) != n {
			b.Fatalf("SearchAllRuns returned %d runs, want %d", len(runs), n)
		}
		t1 := time.Now()
		bytesPerWalk = raw()
		rawDur += time.Since(t1)
		iters++
	}
	clientMs := float64(clientDur.Milliseconds()) / float64(iters)
	rawMs := float64(rawDur.Milliseconds()) / float64(iters)
	b.ReportMetric(clientMs, "client-ms/walk")
	b.ReportMetric(rawMs, "raw-ms/walk")
	b.ReportMetric(clientMs/rawMs, "client/raw")
	b.ReportMetric(float64(bytesPerWalk)/1e6, "MB/walk")
}

// ensureRuns tops the experiment up to n runs, each with a few metrics,
// creating them with 8 goroutines.
func ensureRuns(b *testing.B, c *mlflow.Client, req mlflow.SearchRunsRequest, n int) {
	b.Helper()
	ctx := b.Context()
	have, err := c.SearchAllRuns(ctx, req)
	if err != nil {
		b.Fatal(err)
	}
	missing := n - len(have)
	if missing <= 0 {
		return
	}
	b.Logf("creating %d runs in %s", missing, req.ExperimentIDs[0])
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= missing && ctx.Err() == nil; i = int(next.Add(1)) {
				if err := createBenchRun(ctx, c, req.ExperimentIDs[0], len(have)+i); err != nil {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		b.Fatal(err)
	}
	b.Logf("created %d runs in %s", missing, time.Since(start).Round(time.Millisecond))
}

func createBenchRun(ctx context.Context, c *mlflow.Client, experimentID string, i int) error {
	run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: experimentID, RunName: fmt.Sprintf("bench-%05d", i)})
	if err != nil {
		return err
	}
	ts := time.Now().UnixMilli()
	x := float64(i%1000) / 1000
	return c.LogBatch(ctx, run.Info.RunID, []mlflow.Metric{
		{Key: "f1", Value: x, Timestamp: ts},
		{Key: "auc", Value: 1 - x/2, Timestamp: ts},
		{Key: "accuracy", Value: 0.5 + x/2, Timestamp: ts},
	}, []mlflow.Param{{Key: "i", Value: strconv.Itoa(i)}}, nil)
}
