package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/server"
)

// The durability test re-runs this test binary as a writer: a process
// with an embedded server on a data directory and clients writing to it
// as fast as they can, printing each write the server acknowledged. The
// test kills it with SIGKILL at a random moment, many times over, then
// reads every acknowledged write back from a fresh server on the same
// data directory.

// envWriter names the data directory of a writer process.
const envWriter = "PLAYBOOK_DURABILITY_WRITER"

// Names shared by the writer and the checker.
const (
	durModel = "Durable"
	durExp   = "durability"
)

// artifactBody is the content of artifact i of round r: large enough that
// a kill can land in the middle of writing it.
func artifactBody(round, i int) []byte {
	seed := sha256.Sum256([]byte(fmt.Sprintf("%d/%d", round, i)))
	return bytes.Repeat(seed[:], 4096) // 128 KiB
}

// TestDurabilityWriter is the writer process; it does nothing in a normal
// test run.
func TestDurabilityWriter(t *testing.T) {
	dir := os.Getenv(envWriter)
	if dir == "" {
		t.Skip("the writer of TestDurabilitySIGKILL")
	}
	round, _ := strconv.Atoi(os.Getenv(envWriter + "_ROUND"))
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Config{DataDir: dir})
	if err != nil {
		fmt.Printf("open-failed %v\n", err)
		os.Exit(3)
	}
	uri, err := srv.Start("127.0.0.1:0")
	if err != nil {
		os.Exit(3)
	}
	cfg := mlflow.DefaultConfig(uri)
	cfg.MaxRetries = 0
	c, err := mlflow.New(cfg)
	if err != nil {
		os.Exit(3)
	}
	var mu sync.Mutex
	ack := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // unbuffered: one write per line
	}
	fail := func(what string, err error) {
		ack("error %s: %v", what, err)
		os.Exit(4)
	}
	exp, err := c.GetOrCreateExperiment(ctx, durExp)
	if err != nil {
		fail("experiment", err)
	}
	run, err := c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp.ExperimentID, RunName: fmt.Sprintf("round-%d", round)})
	if err != nil {
		fail("run", err)
	}
	ack("run %d %s", round, run.Info.RunID)
	if _, err := c.CreateRegisteredModel(ctx, durModel, nil, ""); err != nil && !strings.Contains(err.Error(), "already exists") {
		fail("model", err)
	}
	ack("ready")

	var wg sync.WaitGroup
	// Metrics and params, one batch at a time.
	wg.Go(func() {
		for i := 0; ; i++ {
			err := c.LogBatch(ctx, run.Info.RunID,
				[]mlflow.Metric{{Key: "m", Value: float64(i), Timestamp: int64(i), Step: int64(i)}},
				[]mlflow.Param{{Key: fmt.Sprintf("p%d", i), Value: strconv.Itoa(i)}}, nil)
			if err != nil {
				fail("batch", err)
			}
			ack("batch %d %s %d", round, run.Info.RunID, i)
		}
	})
	// Registry: a version, its tag, and the alias moved to it.
	wg.Go(func() {
		for i := 0; ; i++ {
			mv, err := c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{
				Name: durModel, Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID,
				Tags: map[string]string{"round": strconv.Itoa(round), "i": strconv.Itoa(i)},
			})
			if err != nil {
				fail("version", err)
			}
			ack("version %d %d %s", round, i, mv.Version)
			alias := fmt.Sprintf("round-%d", round)
			if err := c.SetRegisteredModelAlias(ctx, durModel, alias, mv.Version); err != nil {
				fail("alias", err)
			}
			ack("alias %s %s", alias, mv.Version)
		}
	})
	// Artifacts, each written whole or not at all.
	wg.Go(func() {
		for i := 0; ; i++ {
			name := fmt.Sprintf("r%d/f%d.bin", round, i)
			if err := c.UploadArtifact(ctx, run.Info.ArtifactURI, name, bytes.NewReader(artifactBody(round, i))); err != nil {
				fail("artifact", err)
			}
			ack("artifact %d %d %s", round, i, run.Info.ArtifactURI)
		}
	})
	wg.Wait()
}

// acked is what the writers reported, in order.
type acked struct {
	runs      map[string]int // run id → round
	batches   map[string]int // run id → highest step acknowledged
	versions  map[string]string
	aliases   map[string]string // alias → last version acknowledged
	artifacts []artifactAck
}

type artifactAck struct {
	round, i int
	uri      string
}

func TestDurabilitySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills 20 writer processes")
	}
	const rounds = 20
	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	newAcked := func() *acked {
		return &acked{runs: map[string]int{}, batches: map[string]int{}, versions: map[string]string{}, aliases: map[string]string{}}
	}
	all := newAcked()
	rng := rand.New(rand.NewPCG(1, 2))
	var lost int
	for round := range rounds {
		// A random moment: after 10 to 200 acknowledgements.
		killAfter := 10 + rng.IntN(190)
		cmd := exec.Command(exe, "-test.run=^TestDurabilityWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), envWriter+"="+dir, envWriter+"_ROUND="+strconv.Itoa(round))
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		this := newAcked()
		sc := bufio.NewScanner(stdout)
		n := 0
		deadline := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
		for sc.Scan() {
			line := sc.Text()
			require.False(t, strings.HasPrefix(line, "error") || strings.HasPrefix(line, "open-failed"), "round %d: %s\n%s", round, line, stderr.String())
			record(t, this, line)
			record(t, all, line)
			if n++; n == killAfter {
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				break
			}
		}
		// Acknowledgements already written to the pipe count too.
		rest, _ := io.ReadAll(stdout)
		for _, line := range strings.Split(strings.TrimSpace(string(rest)), "\n") {
			if line != "" && !strings.HasPrefix(line, "error") {
				record(t, this, line)
				record(t, all, line)
			}
		}
		deadline.Stop()
		err = cmd.Wait()
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr, "round %d: the writer must have been killed\n%s", round, stderr.String())
		require.Equal(t, "signal: killed", exitErr.Error(), "round %d\n%s", round, stderr.String())
		lost += verify(t, dir, this)
	}
	// Later crashes lost nothing acknowledged before them either.
	lost += verify(t, dir, all)
	t.Logf("%d rounds, %d runs, %d batches, %d versions, %d artifacts acknowledged; %d lost",
		rounds, len(all.runs), sumBatches(all.batches), len(all.versions), len(all.artifacts), lost)
	require.Zero(t, lost)
}

func sumBatches(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v + 1
	}
	return n
}

// record adds an acknowledgement line to a.
func record(t *testing.T, a *acked, line string) {
	f := strings.Fields(line)
	switch f[0] {
	case "ready":
	case "run":
		r, _ := strconv.Atoi(f[1])
		a.runs[f[2]] = r
		a.batches[f[2]] = -1
	case "batch":
		i, _ := strconv.Atoi(f[3])
		a.batches[f[2]] = max(a.batches[f[2]], i)
	case "version":
		a.versions[f[1]+"/"+f[2]] = f[3]
	case "alias":
		a.aliases[f[1]] = f[2]
	case "artifact":
		r, _ := strconv.Atoi(f[1])
		i, _ := strconv.Atoi(f[2])
		a.artifacts = append(a.artifacts, artifactAck{r, i, f[3]})
	default:
		t.Fatalf("unexpected line from the writer: %q", line)
	}
}

// verify opens a new server on dir, which must succeed, and reads every
// acknowledged write back. It returns how many are missing.
func verify(t *testing.T, dir string, a *acked) int {
	t.Helper()
	ctx := t.Context()
	srv, err := server.Open(ctx, server.Config{DataDir: dir})
	require.NoError(t, err, "the database must open after a SIGKILL")
	defer srv.Close()
	uri, err := srv.Start("127.0.0.1:0")
	require.NoError(t, err)
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	lost := 0
	miss := func(format string, args ...any) {
		t.Errorf("lost: "+format, args...)
		lost++
	}
	for id, last := range a.batches {
		run, err := c.GetRun(ctx, id)
		if err != nil {
			miss("run %s: %v", id, err)
			continue
		}
		if v, ok := run.Metric("m"); last >= 0 && (!ok || v < float64(last)) {
			miss("run %s: metric m at step %d, got %v", id, last, v)
		}
		for i := 0; i <= last; i++ {
			if p, ok := run.Param(fmt.Sprintf("p%d", i)); !ok || p != strconv.Itoa(i) {
				miss("run %s: param p%d", id, i)
			}
		}
	}
	for key, version := range a.versions {
		mv, err := c.GetModelVersion(ctx, durModel, version)
		if err != nil {
			miss("version %s (%s): %v", version, key, err)
			continue
		}
		round, i, _ := strings.Cut(key, "/")
		if r, _ := mv.Tag("round"); r != round {
			miss("version %s: tag round %q, want %q", version, r, round)
		}
		if got, _ := mv.Tag("i"); got != i {
			miss("version %s: tag i %q, want %q", version, got, i)
		}
	}
	for alias, version := range a.aliases {
		mv, err := c.GetModelVersionByAlias(ctx, durModel, alias)
		if err != nil {
			miss("alias %s: %v", alias, err)
			continue
		}
		// The alias may have moved on after the last acknowledgement.
		if n, _ := strconv.Atoi(mv.Version); n < atoi(version) {
			miss("alias %s points to %s, acknowledged at %s", alias, mv.Version, version)
		}
	}
	for _, ar := range a.artifacts {
		rc, err := c.DownloadArtifact(ctx, ar.uri, fmt.Sprintf("r%d/f%d.bin", ar.round, ar.i))
		if err != nil {
			miss("artifact r%d/f%d: %v", ar.round, ar.i, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, artifactBody(ar.round, ar.i)) {
			miss("artifact r%d/f%d: %d bytes, not the %d written", ar.round, ar.i, len(got), len(artifactBody(ar.round, ar.i)))
		}
	}
	// Artifacts never show half-written: every listed file is whole.
	listed := map[string]bool{}
	for _, ar := range a.artifacts {
		folder := fmt.Sprintf("r%d", ar.round)
		if listed[ar.uri+folder] {
			continue
		}
		listed[ar.uri+folder] = true
		files, err := c.ListArtifacts(ctx, ar.uri, folder)
		require.NoError(t, err)
		for _, f := range files {
			assert.Equal(t, int64(len(artifactBody(0, 0))), f.FileSize, "%s", f.Path)
		}
	}
	return lost
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
