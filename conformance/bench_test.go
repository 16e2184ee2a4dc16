package conformance_test

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playbook-mlops/playbook/mlflow"
)

// requestsPerMix is how many requests one mix makes (see mix).
const requestsPerMix = 13

// mix is the request mix of the throughput benchmark: what playbook's
// training and promotion steps send, in proportion. One mix is
// requestsPerMix requests.
func mix(b *testing.B, s *target, exp, model string, i int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	ctx := b.Context()
	c := s.c
	run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp, RunName: fmt.Sprintf("mix-%d", i)}) // 1
	must(err)
	id := run.Info.RunID
	must(c.LogBatch(ctx, id, []mlflow.Metric{ // 2
		{Key: "f1", Value: 0.5 + float64(i%50)/100, Timestamp: 1}, {Key: "roc_auc", Value: 0.8, Timestamp: 1}, {Key: "accuracy", Value: 0.7, Timestamp: 1},
	}, []mlflow.Param{{Key: "l2", Value: "0.01"}, {Key: "threshold", Value: "0.4"}, {Key: "seed", Value: "1"}}, nil))
	must(c.UploadArtifact(ctx, run.Info.ArtifactURI, "model/weights.json", bytes.NewReader(bytes.Repeat([]byte("0.123,"), 170)))) // 3
	_, err = c.UpdateRun(ctx, id, mlflow.RunStatusFinished, 0)                                                                    // 4
	must(err)
	page, err := c.SearchRuns(ctx, mlflow.SearchRunsRequest{ // 5
		ExperimentIDs: []string{exp}, Filter: "attributes.status = 'FINISHED' AND metrics.f1 > 0.1",
		OrderBy: []string{"metrics.f1 DESC"}, MaxResults: 10,
	})
	must(err)
	if len(page.Runs) == 0 {
		return fmt.Errorf("search found no run")
	}
	_, err = c.GetRegisteredModel(ctx, model) // 6
	must(err)
	mv, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: model, Source: run.Info.ArtifactURI + "/model", RunID: id}) // 7
	must(err)
	must(c.SetModelVersionTag(ctx, model, mv.Version, "validation_status", "pending"))        // 8
	must(c.SetRegisteredModelAlias(ctx, model, fmt.Sprintf("candidate-%d", i%8), mv.Version)) // 9
	got, err := c.GetModelVersionByAlias(ctx, model, fmt.Sprintf("candidate-%d", i%8))        // 10
	must(err)
	_, err = c.GetModelVersionDownloadURI(ctx, model, got.Version) // 11
	must(err)
	rc, err := c.DownloadArtifact(ctx, run.Info.ArtifactURI, "model/weights.json") // 12
	must(err)
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	_, err = c.GetRun(ctx, id) // 13
	return err
}

// must stops a mix at its first error (RunParallel's goroutines cannot
// call b.Fatal).
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// BenchmarkRequestMix measures the throughput of the embedded server and
// of the real MLflow server on the same request mix, in the same run:
// eight clients at once, each running mixes back to back. It reports
// requests per second.
func BenchmarkRequestMix(b *testing.B) {
	for _, name := range targetNames {
		b.Run(name, func(b *testing.B) {
			s := startTarget(b, name)
			exp, err := s.c.CreateExperiment(b.Context(), unique("bench"), nil)
			if err != nil {
				b.Fatal(err)
			}
			model := unique("BenchModel")
			if _, err := s.c.CreateRegisteredModel(b.Context(), model, nil, ""); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			start := time.Now()
			b.SetParallelism(4) // 4 × GOMAXPROCS clients
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := mix(b, s, exp, model, int(n.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			elapsed := time.Since(start)
			b.ReportMetric(float64(n.Load()*requestsPerMix)/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(elapsed.Microseconds())/float64(n.Load()*requestsPerMix)/1000, "ms/req")
		})
	}
}
