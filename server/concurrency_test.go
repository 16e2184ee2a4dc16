package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/server"
)

// start opens an embedded server on a new data directory and returns a
// client of it.
func start(t testing.TB) (*server.Server, *mlflow.Client) {
	t.Helper()
	srv, err := server.Open(context.Background(), server.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	uri, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, srv.Close()) })
	cfg := mlflow.DefaultConfig(uri)
	cfg.MaxRetries = 0 // a refused write must show, not be retried away
	c, err := mlflow.New(cfg)
	require.NoError(t, err)
	return srv, c
}

// TestConcurrentClients: many clients writing at once, to the same
// experiment, model and alias, all succeed, and the result is what the
// writes add up to.
func TestConcurrentClients(t *testing.T) {
	_, c := start(t)
	ctx := t.Context()
	const clients, each = 16, 8
	_, err := c.CreateRegisteredModel(ctx, "Shared", nil, "")
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make([]error, clients)
	versions := make([][]string, clients)
	expIDs := make([]string, clients)
	begin := make(chan struct{})
	for w := range clients {
		wg.Go(func() {
			<-begin
			errs[w] = func() error {
				exp, err := c.GetOrCreateExperiment(ctx, "shared-experiment")
				if err != nil {
					return fmt.Errorf("experiment: %w", err)
				}
				expIDs[w] = exp.ExperimentID
				run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: fmt.Sprintf("w%d", w)})
				if err != nil {
					return fmt.Errorf("run: %w", err)
				}
				for i := range each {
					if err := c.LogBatch(ctx, run.Info.RunID,
						[]mlflow.Metric{{Key: "f1", Value: float64(w*each + i), Timestamp: int64(i), Step: int64(i)}},
						[]mlflow.Param{{Key: "p" + strconv.Itoa(i), Value: "v"}}, nil); err != nil {
						return fmt.Errorf("batch: %w", err)
					}
					mv, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: "Shared", Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID})
					if err != nil {
						return fmt.Errorf("version: %w", err)
					}
					versions[w] = append(versions[w], mv.Version)
					if err := c.SetRegisteredModelAlias(ctx, "Shared", "champion", mv.Version); err != nil {
						return fmt.Errorf("alias: %w", err)
					}
					if err := c.SetModelVersionTag(ctx, "Shared", mv.Version, "writer", strconv.Itoa(w)); err != nil {
						return fmt.Errorf("tag: %w", err)
					}
					if err := c.UploadArtifact(ctx, run.Info.ArtifactURI, fmt.Sprintf("f%d.txt", i), bytes.NewReader([]byte(strconv.Itoa(w*each+i)))); err != nil {
						return fmt.Errorf("artifact: %w", err)
					}
					if _, err := c.SearchRuns(ctx, mlflow.SearchRunsRequest{ExperimentIDs: []string{exp.ExperimentID}, OrderBy: []string{"metrics.f1 DESC"}}); err != nil {
						return fmt.Errorf("search: %w", err)
					}
				}
				return nil
			}()
		})
	}
	close(begin)
	wg.Wait()
	require.NoError(t, errors.Join(errs...))

	for _, id := range expIDs {
		assert.Equal(t, expIDs[0], id, "one experiment for every racer")
	}
	var all []int
	for w, vs := range versions {
		for _, v := range vs {
			n, err := strconv.Atoi(v)
			require.NoError(t, err)
			all = append(all, n)
			mv, err := c.GetModelVersion(ctx, "Shared", v)
			require.NoError(t, err)
			tag, _ := mv.Tag("writer")
			assert.Equal(t, strconv.Itoa(w), tag, "version %s", v)
		}
	}
	slices.Sort(all)
	want := make([]int, clients*each)
	for i := range want {
		want[i] = i + 1
	}
	assert.Equal(t, want, all, "version numbers are unique and without gaps")

	champion, err := c.GetModelVersionByAlias(ctx, "Shared", "champion")
	require.NoError(t, err)
	assert.Contains(t, all, atoi(champion.Version))

	runs, err := c.SearchAllRuns(ctx, mlflow.SearchRunsRequest{ExperimentIDs: []string{expIDs[0]}, OrderBy: []string{"metrics.f1 DESC"}, MaxResults: 5})
	require.NoError(t, err)
	require.Len(t, runs, clients)
	best, _ := runs[0].Metric("f1")
	assert.Equal(t, float64(clients*each-1), best)
	for _, r := range runs {
		assert.Len(t, r.Data.Params, each)
		rc, err := c.DownloadArtifact(ctx, r.Info.ArtifactURI, "f0.txt")
		require.NoError(t, err)
		b, _ := io.ReadAll(rc)
		rc.Close()
		assert.NotEmpty(t, b)
	}
}

// TestTwoServersOneDataDir: two servers (two playbook processes) on one
// data directory share it: each sees the other's writes.
func TestTwoServersOneDataDir(t *testing.T) {
	dir := t.TempDir()
	open := func() *mlflow.Client {
		srv, err := server.Open(t.Context(), server.Config{DataDir: dir})
		require.NoError(t, err)
		t.Cleanup(func() { srv.Close() })
		uri, err := srv.Start("127.0.0.1:0")
		require.NoError(t, err)
		c, err := mlflow.New(mlflow.DefaultConfig(uri))
		require.NoError(t, err)
		return c
	}
	a, b := open(), open()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []*mlflow.Client{a, b} {
		wg.Go(func() {
			for j := range 20 {
				if _, err := c.CreateRegisteredModel(t.Context(), fmt.Sprintf("m-%d-%d", i, j), nil, ""); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	page, err := b.SearchRegisteredModels(t.Context(), "name LIKE 'm-%'", 100, nil, "")
	require.NoError(t, err)
	assert.Len(t, page.RegisteredModels, 40)
}

// TestCloseWithSpareConnection: a connection that never sent a request
// (an HTTP client's spare one) does not hold Close for http.Server's 5 s.
func TestCloseWithSpareConnection(t *testing.T) {
	srv, err := server.Open(t.Context(), server.Config{DataDir: t.TempDir()})
	require.NoError(t, err)
	uri, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	conn, err := net.Dial("tcp", strings.TrimPrefix(uri, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	time.Sleep(50 * time.Millisecond) // let the server accept it
	start := time.Now()
	require.NoError(t, srv.Close())
	assert.Less(t, time.Since(start), 2*time.Second)
}
