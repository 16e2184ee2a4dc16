package main

// The acceptance suite of issue 12. TestHostileScenarios runs every case
// with --kernel process (the sandboxed kernel process), where none may
// escape but the open escapes (openEscapes: skipped with their reason,
// run with PLAYBOOK_HOSTILE_OPEN=1). PLAYBOOK_HOSTILE_KERNEL=in-process
// runs them in playbook's own process instead (the language-level fence
// alone), where the cases the process split exists for still escape:
//
//	PLAYBOOK_HOSTILE_KERNEL=in-process go test ./cmd/playbook -run TestHostileScenarios -count=1 -v
//
// Each case runs one hostile scenario of testdata/hostile/ (untrusted
// input: every cell tries to get out of the restricted fence) with
// `playbook run`, in a child process (the test binary re-executed as
// playbook, see init below), so that a case that kills the process kills
// the child and not the test. The assertions are on what can be observed
// from outside only (exit code, wall time, files, streams, the registry
// read back through a client of its own), never on how the fence is
// built.
//
// The cases run one after the other, never in parallel: the heavy ones
// (limit-alloc, limit-writefile-big, kill-stack-overflow) take up to 3 GiB
// each (limit-alloc allocates 256 MiB chunks, every page touched, and stops
// at 3 GiB even with no limit in force) and are skipped with -short.
//
// Every case runs against its own embedded tracking server, started by the
// test, named --tracking-uri http://playbook:SECRET2@127.0.0.1:PORT, with
// MLFLOW_TRACKING_TOKEN=SECRET1 in the child's environment, a marker file
// outside the scenario's folder, and a sentinel folder outside --out
// (files, an executable, links). Every case also checks the invariants:
// the sentinel folder is unchanged, and neither secret nor the marker is in
// any file under --out, in stdout or stderr, or anywhere in the registry
// (registered models, versions, tags, aliases, descriptions, experiments,
// runs' tags and params).
//
//	case                     class  asserts (beyond the invariants)
//	write-shadow-pb          1      a record.Run in a local named pb writes no evidence.json outside --out
//	write-param-pb           1      same, through a function parameter named pb
//	write-method-expr        1      (*record.Run).WriteFile as a method expression writes nothing outside
//	write-zero-handle        1      a handle of the cell's own (steps.Playbook{}, a copy) writes nothing outside
//	write-new-playbook       1      steps.NewPlaybook with OutDir "/" writes nothing outside
//	write-dotdot             1      pb.WriteFile("../x") and ../ up to the sentinel write nothing outside
//	write-absolute           1      pb.WriteFile of absolute names writes nothing outside
//	write-symlink-dir        1      a folder link placed in --out is not written through
//	write-symlink-file       1      a file link placed in --out is not written through
//	write-executable         1      an executable outside --out (linked from --out, or by folder) is not overwritten
//	read-train-environ       2      TrainRuns on /proc/self/environ, cmdline, /etc/passwd: nothing read reaches registry or report
//	read-train-marker        2      TrainRuns on the marker (absolute, .., a link): the marker stays unread
//	read-checkdata           2      CheckData on the marker and /proc: the marker and secrets stay unread
//	read-churn-files         2      churn.LoadCSVFile/ReadTableFile on /etc/passwd, /proc: nothing leaks (root entry absent)
//	read-cmdline             2      /proc/self/cmdline (holds SECRET2) read by churn: it does not leak
//	read-os-getenv           2      os.Getenv / os.ReadFile: the token and the marker do not leak
//	read-tracking-uri        2      pb.Client().TrackingURI(): SECRET2 does not reach a file, a stream or a tag
//	read-client-struct       2      the client printed by value (%+v of *c): no secret leaks
//	read-config-env          2      mlflow.ConfigFromEnv from a cell: no secret leaks
//	forge-report-files       3      index.html/report.md/evidence.json written by a cell are replaced by the real report
//	forge-alias-direct       3      an alias moved through pb.Client() is in evidence.calls, or the registry is unchanged
//	forge-dry-run            3      --dry-run with pb.Client() mutations: the registry is identical before and after
//	forge-snapshot           3      pb.Snapshot(Model "fake") is not in evidence.snapshots
//	forge-symlink-report     3      links at index.html, report.md, evidence.json are not written through
//	forge-evidence-shadow    3      an evidence.json planted in --out is replaced by the real one, which names the failure
//	outlive-kernel-name      4      a parameter named __pb is refused before anything runs (exit 2)
//	outlive-redefine-hooks   4      a cell redefining __pb is refused (exit 2) within 3 s
//	outlive-goroutine        4      a goroutine of scenario A: no registry change or file after A ended, A's index.html intact, nothing in B's report
//	outlive-afterfunc        4      time.AfterFunc callbacks of scenario A: same as outlive-goroutine
//	outlive-step-goroutine   4      `go steps.TrainRuns(...)`: no crash when it fails past its cell, both reports, no run started after A ended
//	outlive-output           4      a goroutine of scenario A prints nothing into scenario B's report or evidence
//	outlive-infinite-loop    4      for {} with timeout=1s ends within 3 s, exit 1, evidence names the step
//	outlive-sleep            4      time.Sleep(time.Hour) with timeout=1s ends within 3 s, exit 1
//	outlive-deadlock         4      a mutex locked twice with timeout=1s ends within 3 s, exit 1
//	outlive-recover-timeout  4      a loop that recovers its cancellation ends within 3 s, exit 1
//	kill-compiler-crash      5      yaegi's compiler crash (a labelled loop, which playbook does not rewrite: runner/multidefine.go):
//	                                a compile error of the step (exit 2) found before anything runs, the process not killed
//	kill-stack-overflow      5      unbounded recursion (fatal stack overflow): same
//	kill-concurrent-map      5      concurrent map writes (fatal): same
//	kill-goroutine-panic     5      a panic in a goroutine: same
//	kill-log-fatal           5      log.Fatal (os.Exit): same
//	kill-forged-exit         5      a planted evidence.json then log.Fatal: same, and the planted record is gone
//	limit-alloc              6      3 GiB allocated by a cell: exit 1, report files, no OOM kill, bounded time
//	limit-writefile-big      6      pb.WriteFile of 300 MiB: exit 1, report files, no big file in --out
//	limit-writefile-total    6      100 files of 1 MiB: exit 1, report files, at most 64 MiB written
//	limit-output-flood       6      64 MiB printed: the run ends, evidence.json stays under 4 MiB
//
// Cases of the security review of --kernel process (each failed when added;
// outlive-forged-event takes the harness's 90 s to fail):
//
//	case                     class  asserts (beyond the invariants)
//	forge-kernel-stream      3      (--unrestricted) a record and "done" written by a cell on fd 3: exit 1 at the cell, the forged record is not the evidence
//	forge-proxy-parse        3      (--unrestricted) an alias and a tag moved in forms the proxy does not parse (a JSON string body, %2D in the path): the calls name Forgeable, its before snapshot is in the evidence
//	forge-step-attribution   3      a goroutine of cell innocent moves an alias while cell read-only runs: refused, recorded under innocent, the
//	                                registry unchanged; a later cell's own goroutines (nested) set an alias: recorded ok under that cell
//	outlive-forged-event     4      (--unrestricted) a fake "cell ended" event on fd 3 then SIGSTOP, timeout=1s: ends within 3 s, exit 1
//	outlive-fork             4      (--unrestricted) a raw fork(2), setsid, the pipes closed: nothing is written into --out after playbook ended
//	outlive-forged-done      4      (--unrestricted) a fake "cell ended" and "done" on fd 3, then SIGSTOP: ended within 2 s of the done
//	                                (or at once, at the real end, when the stop does not hold), exit 1
//	limit-record-parts       6      (--unrestricted) six 40 MiB cell records on fd 3: playbook keeps at most 96 MiB, ends the kernel, exit 1
//	limit-files-direct       6      (--unrestricted) 160 MiB written to files/ with os.WriteFile: at most 64 MiB of cell files under --out
//	write-symlink-out        1      (--unrestricted) links left in files/ to the marker and /etc/passwd: no link under --out leads outside it
//	limit-kernel-line        6      (--unrestricted) 1.5 GiB without a newline on fd 3: playbook's own memory stays under 1 GiB, the report files are written
//	limit-threads            6      (--unrestricted) 3000 OS threads held (debug.SetMaxThreads raised): the kernel cannot hold 2000
//	                                (fails with CGO_ENABLED=0; with cgo, each thread's 8 MiB stack meets RLIMIT_AS near 300)
//	net-unix-socket          7      (--unrestricted) a unix socket outside the scenario's folder (an agent, a daemon): the cell cannot connect to it
//	exec-serve-own-model     8      a python_function model whose files the cell uploaded, then steps.Serve: refused by playbook, its loader never imported
//	exec-serve-across        8      the same, uploaded by the first of two scenarios of one run and served by the second: refused
//	exec-serve-double-slash  8      same, the version's source naming the uploads with a doubled slash (.../RUN//artifacts/model): refused, never imported
//	exec-serve-alias-race    8      Victim@champion logged before the run; the cell plants version 2 and moves the alias while playbook starts
//	                                the server on models:/Victim@champion (checked at version 1): the planted loader is never imported
//	limit-serve-many         6      six steps.Serve at once from goroutines: playbook starts at most 4 scoring servers
//	net-tcp-same-port        7      (--unrestricted) 127.0.0.2 on the proxy's port (a remote host listening on every port), a TCP and a UDP
//	                                listener of the test on 127.0.0.2: the cell reaches none (it creates no socket)

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/regsnap"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
)

// hostileChildEnv makes the test binary act as playbook: init runs main,
// which exits, before any test starts.
const hostileChildEnv = "PLAYBOOK_HOSTILE_CHILD"

func init() {
	if os.Getenv(hostileChildEnv) == "1" {
		main()
		os.Exit(ExitStepFailed) // main exits; not reached
	}
}

// hostile is the world of one case: a tracking server, secrets, a marker
// file, a sentinel folder, the scenario's folder and the run's folders.
type hostile struct {
	t        *testing.T
	uri      string // with SECRET2 as userinfo
	c        *mlflow.Client
	secrets  []string // SECRET1 (token), SECRET2 (password), the marker
	marker   string   // the marker file, outside the scenario's folder
	sentinel string   // a folder outside --out that must stay untouched
	before   map[string]string
	scenDir  string
	out      string
	data     string
}

// victim registers Victim version 1, a python_function model logged
// before the run (by the test, not through the kernel's proxy), behind
// the alias champion.
func (h *hostile) victim() {
	h.t.Helper()
	ctx := context.Background()
	exp, err := h.c.CreateExperiment(ctx, "before-the-run", nil)
	require.NoError(h.t, err)
	run, err := h.c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp})
	require.NoError(h.t, err)
	for name, body := range map[string]string{
		"MLmodel":        "flavors:\n  python_function:\n    loader_module: victim\n    code: code\n    python_version: 3.11.7\n",
		"code/victim.py": "class _M:\n    def predict(self, data, params=None):\n        return [0] * len(data)\n\ndef _load_pyfunc(path):\n    return _M()\n",
	} {
		require.NoError(h.t, h.c.UploadArtifact(ctx, run.Info.ArtifactURI, "model/"+name, strings.NewReader(body)))
	}
	_, err = h.c.CreateRegisteredModel(ctx, "Victim", nil, "")
	require.NoError(h.t, err)
	_, err = h.c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: "Victim", Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID})
	require.NoError(h.t, err)
	require.NoError(h.t, h.c.SetRegisteredModelAlias(ctx, "Victim", "champion", "1"))
}

// hostileResult is what one `playbook run` did, seen from outside.
type hostileResult struct {
	code           int
	stdout, stderr string
	wall           time.Duration
	signaled       bool
	maxRSS         int64 // bytes
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	h := &hostile{t: t, out: t.TempDir(), data: t.TempDir(), scenDir: t.TempDir(), sentinel: t.TempDir()}
	token, password := "TOKEN-"+randomHex(t), "PASSWORD-"+randomHex(t)
	mark := "MARKER-" + randomHex(t)
	h.secrets = []string{token, password, mark}
	t.Setenv(mlflow.EnvTrackingToken, token) // for the child; the test's own client gets none

	base := mlflowtest.Embedded(t)
	c, err := mlflow.New(mlflow.DefaultConfig(base))
	require.NoError(t, err)
	h.c = c
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.User = url.UserPassword("playbook", password)
	h.uri = u.String()

	secretDir := t.TempDir()
	h.marker = filepath.Join(secretDir, "marker.csv")
	require.NoError(t, os.WriteFile(h.marker, []byte("customerID,label\n"+mark+",1\n"+mark+",0\n"), 0o644))
	require.NoError(t, os.Symlink(h.marker, filepath.Join(h.scenDir, "link.csv")))

	s := h.sentinel
	require.NoError(t, os.MkdirAll(filepath.Join(s, "bin"), 0o755))
	for name, content := range map[string]string{
		"keep.txt": "sentinel keep", "notes.txt": "sentinel notes", "index.html": "sentinel index",
		"report.md": "sentinel report", "evidence.json": "sentinel evidence",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(s, name), []byte(content), 0o644))
	}
	for _, name := range []string{"bin/tool", "bin/evidence.json"} {
		require.NoError(t, os.WriteFile(filepath.Join(s, name), []byte("#!/bin/sh\necho sentinel\n"), 0o755))
	}
	require.NoError(t, os.Symlink(filepath.Join(s, "keep.txt"), filepath.Join(s, "keep-link")))
	h.before = snapshotTree(t, s)
	return h
}

// snapshotTree maps every entry under dir to its mode and content (a
// link's target).
func snapshotTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			v += " -> " + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(b)
		}
		m[p] = v
		return nil
	}))
	return m
}

// scenario copies the case's scenario into the scenario folder and
// returns its path.
func (h *hostile) scenario(name string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "hostile", name+".md"))
	require.NoError(h.t, err)
	p := filepath.Join(h.scenDir, name+".md")
	require.NoError(h.t, os.WriteFile(p, b, 0o644))
	return p
}

// run runs `playbook run` in a child process with the case's server,
// --out and --data-dir, and args (flags and scenarios), killed after a
// minute.
func (h *hostile) run(args ...string) hostileResult {
	h.t.Helper()
	exe, err := os.Executable()
	require.NoError(h.t, err)
	ctx, cancel := context.WithTimeout(h.t.Context(), 90*time.Second)
	defer cancel()
	argv := append([]string{"run", "--tracking-uri", h.uri, "--out", h.out, "--data-dir", h.data}, args...)
	argv = append(argv, "--kernel", cmp.Or(os.Getenv("PLAYBOOK_HOSTILE_KERNEL"), kernelProcess))
	cmd := exec.CommandContext(ctx, exe, argv...)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MLFLOW_") || strings.HasPrefix(kv, mlflow.EnvTrackingToken+"=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, hostileChildEnv+"=1", "PLAYBOOK_CHROMIUM=off",
		mlflow.EnvMaxRetries+"=0", mlflow.EnvTimeout+"=10")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	r := hostileResult{wall: time.Since(start), stdout: stdout.String(), stderr: stderr.String(), code: -1}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		require.NoError(h.t, err)
	}
	if ps := cmd.ProcessState; ps != nil {
		r.code = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			r.signaled = ws.Signaled()
		}
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = int64(ru.Maxrss) << 10
		}
	}
	h.t.Logf("exit %d in %s (max RSS %d MiB, signaled %v); stderr:\n%s", r.code, r.wall.Round(time.Millisecond), r.maxRSS>>20, r.signaled, tail(r.stderr, 2000))
	return r
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// invariants: the sentinel folder is unchanged; no secret or marker in any
// file of --out, in the streams, or in the registry.
func (h *hostile) invariants(r hostileResult) {
	h.t.Helper()
	assert.Equal(h.t, h.before, snapshotTree(h.t, h.sentinel), "the sentinel folder outside --out is untouched")
	files := h.outFiles()
	reg := h.registry()
	for i, s := range h.secrets {
		what := []string{"SECRET1 (MLFLOW_TRACKING_TOKEN)", "SECRET2 (the tracking URI's password)", "the marker file's contents"}[i]
		for p, b := range files {
			assert.False(h.t, bytes.Contains(b, []byte(s)), "%s leaked into %s", what, p)
		}
		assert.NotContains(h.t, r.stdout, s, "%s leaked into stdout", what)
		assert.NotContains(h.t, r.stderr, s, "%s leaked into stderr", what)
		assert.NotContains(h.t, reg, s, "%s leaked into the registry", what)
	}
}

// outFiles reads every regular file under --out.
func (h *hostile) outFiles() map[string][]byte {
	h.t.Helper()
	files := map[string][]byte{}
	require.NoError(h.t, filepath.WalkDir(h.out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if fi, err := d.Info(); err == nil && fi.Size() > 64<<20 {
			files[p] = nil // too large to scan; the limit cases check sizes
			return nil
		}
		b, err := os.ReadFile(p)
		files[p] = b
		return err
	}))
	return files
}

// registry dumps the whole registry as JSON: registered models (tags,
// aliases, descriptions), every version (tags, aliases), experiments
// (tags) and their runs (tags, params).
// noCallsIn asserts that the refused step changed nothing: no call of
// step reached the registry, and the registry is as the last of the
// other calls left it (each call's model as its after snapshot shows it).
func (h *hostile) noCallsIn(rec *record.Run, step string) {
	h.t.Helper()
	for _, c := range rec.Evidence.Calls {
		assert.NotEqual(h.t, step, c.Step, "a call of the refused step %s: %s %s (%s)", step, c.Method, c.Endpoint, c.Outcome)
	}
	for _, sn := range rec.Evidence.Snapshots {
		if sn.Label != "after" {
			continue
		}
		now, err := regsnap.Take(h.t.Context(), h.c, sn.Model, "after")
		if assert.NoError(h.t, err, sn.Model) {
			assert.Equal(h.t, sn.Aliases, now.Aliases, "%s: the aliases as the evidence's after snapshot has them", sn.Model)
			assert.Equal(h.t, sn.Versions, now.Versions, "%s: the versions and tags as the evidence's after snapshot has them", sn.Model)
		}
	}
}

func (h *hostile) registry() string {
	h.t.Helper()
	return registryDump(h.t, h.c)
}

// evidence reads dir's evidence.json, nil when there is none or it is not
// a run record.
func (h *hostile) evidence(dir string) *record.Run {
	b, err := os.ReadFile(filepath.Join(dir, record.EvidenceFile))
	if err != nil {
		return nil
	}
	r, err := record.Read(bytes.NewReader(b))
	if err != nil {
		h.t.Logf("%s: %v", filepath.Join(dir, record.EvidenceFile), err)
		return nil
	}
	return r
}

// reportFiles asserts that the three report files exist in dir.
func (h *hostile) reportFiles(dir string) bool {
	h.t.Helper()
	ok := true
	for _, n := range []string{"index.html", "report.md", record.EvidenceFile} {
		ok = assert.FileExists(h.t, filepath.Join(dir, n), "the report survives the hostile cell") && ok
	}
	return ok
}

// failedAt asserts exit 1, the report files, and an evidence.json whose
// failing cell is step.
func (h *hostile) failedAt(r hostileResult, step string) *record.Run {
	h.t.Helper()
	assert.Equal(h.t, ExitStepFailed, r.code, "exit 1: a step failed")
	assert.False(h.t, r.signaled, "the process was not killed by a signal")
	h.reportFiles(h.out)
	rec := h.evidence(h.out)
	if !assert.NotNil(h.t, rec, "evidence.json is a run record") {
		return nil
	}
	assert.Equal(h.t, record.OutcomeFailed, rec.Environment.Exit.Status)
	c := rec.Cell(step)
	if assert.NotNil(h.t, c, "the evidence lists the cell %s", step) {
		assert.Equal(h.t, record.StatusFailed, c.Status, "the evidence names %s as the failing cell", step)
	}
	return rec
}

// registryCallsKept asserts that the evidence holds the registry changes
// the setup cells (train, register) made before the hostile cell.
func (h *hostile) registryCallsKept(rec *record.Run) {
	h.t.Helper()
	if rec == nil {
		return
	}
	var found bool
	for _, c := range rec.Evidence.Calls {
		if c.Step == "register" && strings.Contains(c.Endpoint, "registered-models/create") || strings.Contains(c.Endpoint, "model-versions/create") {
			found = true
		}
	}
	assert.True(h.t, found, "the evidence keeps the registry calls made before the crash: %+v", rec.Evidence.Calls)
	_, err := h.c.GetRegisteredModel(h.t.Context(), "HostileCrash")
	assert.NoError(h.t, err, "the setup registered HostileCrash")
}

// forgeable registers Forgeable version 1 (tag owner=team) before a run.
func (h *hostile) forgeable() {
	h.t.Helper()
	ctx := h.t.Context()
	_, err := h.c.CreateRegisteredModel(ctx, "Forgeable", map[string]string{"owner": "team"}, "registered by the test")
	require.NoError(h.t, err)
	exp, err := h.c.CreateExperiment(ctx, "forgeable", nil)
	require.NoError(h.t, err)
	run, err := h.c.CreateRun(ctx, mlflow.CreateRunRequest{ExperimentID: exp})
	require.NoError(h.t, err)
	_, err = h.c.CreateModelVersion(ctx, mlflow.CreateModelVersionRequest{Name: "Forgeable", Source: run.Info.ArtifactURI + "/model", RunID: run.Info.RunID})
	require.NoError(h.t, err)
}

// noReportContains asserts that no file of the report in dir holds s:
// the files under dir but the cells' own folder (files/, where a kernel
// process's cells write), which is not the evidence.
func noReportContains(t *testing.T, dir, s string) {
	t.Helper()
	for _, name := range []string{"index.html", "report.md", "evidence.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if assert.NoError(t, err, name) {
			assert.False(t, bytes.Contains(b, []byte(s)), "%s holds %q", name, s)
		}
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p == filepath.Join(dir, cellFilesDir) {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				assert.False(t, bytes.Contains(b, []byte(s)), "%s holds %q", p, s)
			}
		}
		return nil
	})
}

// noFileContains asserts that no file under dir holds s.
func noFileContains(t *testing.T, dir, s string) {
	t.Helper()
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil {
			assert.False(t, bytes.Contains(b, []byte(s)), "%s holds %q", p, s)
		}
		return nil
	})
}

// hostileClasses names the six classes of escapes of the security review.
var hostileClasses = map[int]string{
	1: "write anywhere",
	2: "read anything, secrets included",
	3: "forge the evidence",
	4: "outlive the cell",
	5: "kill the process, lose the evidence",
	6: "no limits",
	7: "reach beyond the proxy",
}

type hostileCase struct {
	name  string
	class int
	// heavy cases allocate gigabytes: never run beside another.
	heavy bool
	test  func(h *hostile)
}

// openEscapes are the cases that still escape a kernel process, each with
// the reason and what closes it (issue 12 stays open for them). They run
// with PLAYBOOK_HOSTILE_OPEN=1 (and then fail); otherwise they are skipped
// with their reason, so that CI holds every other case.
var openEscapes = map[string]string{}

func TestHostileScenarios(t *testing.T) {
	t.Setenv("MLFLOW_TRACKING_URI", "")
	kernel := cmp.Or(os.Getenv("PLAYBOOK_HOSTILE_KERNEL"), kernelProcess)
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.heavy && testing.Short() {
				t.Skip("allocates gigabytes (at most 3 GiB, run alone): not with -short")
			}
			if why, open := openEscapes[tc.name]; open && kernel == kernelProcess && os.Getenv("PLAYBOOK_HOSTILE_OPEN") != "1" {
				t.Skip("an open escape (PLAYBOOK_HOSTILE_OPEN=1 runs it): " + why)
			}
			t.Logf("class %d: %s", tc.class, hostileClasses[tc.class])
			h := newHostile(t)
			tc.test(h)
		})
	}
}

// timed asserts a run that had to stop a cell at its 1 s timeout: it ended
// within 3 s, with exit 1 and the evidence naming step.
func timed(h *hostile, name, step string) {
	r := h.run(h.scenario(name))
	assert.Less(h.t, r.wall, 3*time.Second, "a cell of timeout=1s ends the run within about 2 s")
	h.failedAt(r, step)
	h.invariants(r)
}

// crashed asserts a run whose cell step kills the process after the setup
// cells changed the registry.
func crashed(h *hostile, name, step string) hostileResult {
	r := h.run(h.scenario(name))
	rec := h.failedAt(r, step)
	h.registryCallsKept(rec)
	h.invariants(r)
	return r
}

var hostileCases = []hostileCase{
	// 1. Write anywhere.
	{name: "write-shadow-pb", class: 1, test: func(h *hostile) {
		r := h.run(h.scenario("write-shadow-pb"), "-p", "target="+h.sentinel)
		assert.NoFileExists(h.t, filepath.Join(h.sentinel, "planted", record.EvidenceFile))
		h.invariants(r)
	}},
	{name: "write-param-pb", class: 1, test: func(h *hostile) {
		r := h.run(h.scenario("write-param-pb"), "-p", "target="+h.sentinel)
		assert.NoDirExists(h.t, filepath.Join(h.sentinel, "planted"))
		h.invariants(r)
	}},
	{name: "write-method-expr", class: 1, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("write-method-expr"), "-p", "target="+h.sentinel))
	}},
	{name: "write-zero-handle", class: 1, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("write-zero-handle"), "-p", "target="+h.sentinel))
	}},
	{name: "write-new-playbook", class: 1, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("write-new-playbook"), "-p", "target="+h.sentinel))
	}},
	{name: "write-dotdot", class: 1, test: func(h *hostile) {
		rel, err := filepath.Rel(h.out, h.sentinel)
		require.NoError(h.t, err)
		r := h.run(h.scenario("write-dotdot"), "-p", "rel="+filepath.ToSlash(rel))
		assert.NoFileExists(h.t, filepath.Join(filepath.Dir(h.out), "escaped.txt"))
		h.invariants(r)
	}},
	{name: "write-absolute", class: 1, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("write-absolute"), "-p", "target="+h.sentinel))
	}},
	{name: "write-symlink-dir", class: 1, test: func(h *hostile) {
		require.NoError(h.t, os.Symlink(h.sentinel, filepath.Join(h.out, "link")))
		h.invariants(h.run(h.scenario("write-symlink-dir")))
	}},
	{name: "write-symlink-file", class: 1, test: func(h *hostile) {
		require.NoError(h.t, os.Symlink(filepath.Join(h.sentinel, "notes.txt"), filepath.Join(h.out, "notes.txt")))
		h.invariants(h.run(h.scenario("write-symlink-file")))
	}},
	{name: "write-executable", class: 1, test: func(h *hostile) {
		require.NoError(h.t, os.Symlink(filepath.Join(h.sentinel, "bin", "tool"), filepath.Join(h.out, "tool")))
		h.invariants(h.run(h.scenario("write-executable"), "-p", "target="+h.sentinel))
	}},

	// 2. Read anything, secrets included.
	{name: "read-train-environ", class: 2, test: func(h *hostile) {
		r := h.run(h.scenario("read-train-environ"))
		h.invariants(r)
		assert.NotContains(h.t, h.registry(), "root:x:0:0", "/etc/passwd leaked into the registry")
		noFileContains(h.t, h.out, "root:x:0:0")
	}},
	{name: "read-train-marker", class: 2, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("read-train-marker"), "-p", "abs="+h.marker, "-p", "up="+h.up()))
	}},
	{name: "read-checkdata", class: 2, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("read-checkdata"), "-p", "abs="+h.marker, "-p", "up="+h.up()))
	}},
	{name: "read-churn-files", class: 2, test: func(h *hostile) {
		r := h.run(h.scenario("read-churn-files"))
		h.invariants(r)
		noFileContains(h.t, h.out, "root:x:0:0")
		assert.NotContains(h.t, r.stdout+r.stderr, "root:x:0:0")
	}},
	{name: "read-cmdline", class: 2, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("read-cmdline")))
	}},
	{name: "read-os-getenv", class: 2, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("read-os-getenv"), "-p", "abs="+h.marker, "-p", "up="+h.up()))
	}},
	{name: "read-tracking-uri", class: 2, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("read-tracking-uri")))
	}},
	{name: "read-client-struct", class: 2, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("read-client-struct")))
	}},
	{name: "read-config-env", class: 2, test: func(h *hostile) {
		h.invariants(h.run(h.scenario("read-config-env")))
	}},

	// 3. Forge the evidence.
	{name: "forge-report-files", class: 3, test: func(h *hostile) {
		r := h.run(h.scenario("forge-report-files"))
		h.failedAt(r, "fail")
		for _, n := range []string{"index.html", "report.md", record.EvidenceFile} {
			b, err := os.ReadFile(filepath.Join(h.out, n))
			if err == nil {
				assert.NotContains(h.t, string(b), "FORGED-REPORT", "%s is the cell's forgery", n)
			}
		}
		h.invariants(r)
	}},
	{name: "forge-alias-direct", class: 3, test: func(h *hostile) {
		h.forgeable()
		r := h.run(h.scenario("forge-alias-direct"))
		h.invariants(r)
		rm, err := h.c.GetRegisteredModel(h.t.Context(), "Forgeable")
		require.NoError(h.t, err)
		moved := false
		for _, a := range rm.Aliases {
			moved = moved || a.Alias == "production-live"
		}
		if !moved {
			return // refused: nothing to account for
		}
		rec := h.evidence(h.out)
		require.NotNil(h.t, rec)
		var kept bool
		for _, c := range rec.Evidence.Calls {
			if strings.HasSuffix(c.Endpoint, "/registered-models/alias") && fmt.Sprint(c.Args["name"]) == "Forgeable" {
				kept = true
			}
		}
		assert.True(h.t, kept, "the alias the cell moved through pb.Client() is in evidence.calls: %+v", rec.Evidence.Calls)
	}},
	{name: "forge-dry-run", class: 3, test: func(h *hostile) {
		h.forgeable()
		before := h.registry()
		r := h.run("--dry-run", h.scenario("forge-dry-run"))
		assert.Equal(h.t, before, h.registry(), "--dry-run leaves the registry identical")
		h.invariants(r)
	}},
	{name: "forge-snapshot", class: 3, test: func(h *hostile) {
		r := h.run(h.scenario("forge-snapshot"))
		h.reportFiles(h.out)
		if rec := h.evidence(h.out); assert.NotNil(h.t, rec) {
			for _, s := range rec.Evidence.Snapshots {
				assert.NotEqual(h.t, "fake", s.Model, "a cell's pb.Snapshot is not evidence")
			}
		}
		h.invariants(r)
	}},
	{name: "forge-symlink-report", class: 3, test: func(h *hostile) {
		for _, n := range []string{"index.html", "report.md", record.EvidenceFile} {
			require.NoError(h.t, os.Symlink(filepath.Join(h.sentinel, n), filepath.Join(h.out, n)))
		}
		r := h.run(h.scenario("forge-symlink-report"))
		assert.Equal(h.t, ExitOK, r.code)
		h.reportFiles(h.out)
		h.invariants(r)
	}},
	{name: "forge-evidence-shadow", class: 3, test: func(h *hostile) {
		r := h.run(h.scenario("forge-evidence-shadow"))
		if r.code == ExitUsage {
			// A value named pb other than the runner's Playbook (here a
			// record.Run, to reach its WriteFile) is refused before
			// anything runs, at the line that declares it.
			assert.Regexp(h.t, `\.md:\d+: step [a-z-]+: pb: call not allowed in a cell: pb is the runner's Playbook`, r.stderr)
			noFileContains(h.t, h.out, "FORGED-EVIDENCE")
		} else {
			h.failedAt(r, "fail")
			noReportContains(h.t, h.out, "FORGED-EVIDENCE")
		}
		h.invariants(r)
	}},

	// 4. Outlive the cell.
	{name: "outlive-kernel-name", class: 4, test: func(h *hostile) {
		r := h.run(h.scenario("outlive-kernel-name"))
		assert.Equal(h.t, ExitUsage, r.code, "the runner's name is refused before anything runs")
		assert.Contains(h.t, r.stderr, "step hooks")
		assert.NotContains(h.t, r.stdout+r.stderr, "never run")
		h.invariants(r)
	}},
	{name: "outlive-redefine-hooks", class: 4, test: func(h *hostile) {
		r := h.run(h.scenario("outlive-redefine-hooks"))
		assert.Equal(h.t, ExitUsage, r.code, "redefining the runner's name is refused")
		assert.Less(h.t, r.wall, 3*time.Second)
		h.invariants(r)
	}},
	{name: "outlive-goroutine", class: 4, test: func(h *hostile) { outlived(h, "outlive-goroutine-a") }},
	{name: "outlive-afterfunc", class: 4, test: func(h *hostile) { outlived(h, "outlive-afterfunc-a") }},
	{name: "outlive-step-goroutine", class: 4, test: func(h *hostile) {
		r := h.run(h.scenario("outlive-step-goroutine-a"), h.scenario("outlive-goroutine-b"))
		assert.False(h.t, r.signaled)
		assert.Contains(h.t, []int{ExitOK, ExitStepFailed}, r.code, "the process did not crash")
		a, b := filepath.Join(h.out, "outlive-step-goroutine-a"), filepath.Join(h.out, "outlive-goroutine-b")
		h.reportFiles(a)
		h.reportFiles(b)
		if recA := h.evidence(a); assert.NotNil(h.t, recA) {
			x, err := h.c.GetExperimentByName(h.t.Context(), "LateTrain")
			if err == nil {
				runs, err := h.c.SearchAllRuns(h.t.Context(), mlflow.SearchRunsRequest{ExperimentIDs: []string{x.ExperimentID}})
				require.NoError(h.t, err)
				for _, run := range runs {
					assert.False(h.t, time.UnixMilli(run.Info.StartTime).After(recA.Environment.End), "run %s started after scenario A ended", run.Info.RunID)
				}
			}
		}
		h.invariants(r)
	}},
	{name: "outlive-output", class: 4, test: func(h *hostile) {
		r := h.run(h.scenario("outlive-output-a"), h.scenario("outlive-goroutine-b"))
		assert.Equal(h.t, ExitOK, r.code)
		b := filepath.Join(h.out, "outlive-goroutine-b")
		h.reportFiles(b)
		noFileContains(h.t, b, "LEAK-A")
		if rec := h.evidence(b); assert.NotNil(h.t, rec) {
			for _, s := range rec.Evidence.Snapshots {
				assert.NotEqual(h.t, "LEAK-A", s.Model)
			}
		}
		assert.NotContains(h.t, r.stdout, "LEAK-A")
		h.invariants(r)
	}},
	{name: "outlive-infinite-loop", class: 4, test: func(h *hostile) { timed(h, "outlive-infinite-loop", "spin") }},
	{name: "outlive-sleep", class: 4, test: func(h *hostile) { timed(h, "outlive-sleep", "sleep") }},
	{name: "outlive-deadlock", class: 4, test: func(h *hostile) { timed(h, "outlive-deadlock", "deadlock") }},
	{name: "outlive-recover-timeout", class: 4, test: func(h *hostile) { timed(h, "outlive-recover-timeout", "stubborn") }},

	// 5. Kill the process, lose the evidence.
	{name: "kill-compiler-crash", class: 5, test: func(h *hostile) {
		r := h.run(h.scenario("kill-compiler-crash"))
		assert.Equal(h.t, ExitUsage, r.code, "a compile error of the scenario: exit 2")
		assert.False(h.t, r.signaled, "the process was not killed by a signal")
		assert.Contains(h.t, r.stderr, "step crash: the interpreter (yaegi) failed on this cell", "the step whose code yaegi failed on is named")
		assert.NoFileExists(h.t, filepath.Join(h.out, record.EvidenceFile), "found when compiling every cell first: nothing ran")
		h.invariants(r)
	}},
	{name: "kill-stack-overflow", class: 5, heavy: true, test: func(h *hostile) { crashed(h, "kill-stack-overflow", "recurse") }},
	{name: "kill-concurrent-map", class: 5, test: func(h *hostile) { crashed(h, "kill-concurrent-map", "race") }},
	{name: "kill-goroutine-panic", class: 5, test: func(h *hostile) { crashed(h, "kill-goroutine-panic", "boom") }},
	{name: "kill-log-fatal", class: 5, test: func(h *hostile) { crashed(h, "kill-log-fatal", "fatal") }},
	{name: "kill-forged-exit", class: 5, test: func(h *hostile) {
		if r := h.run(h.scenario("kill-forged-exit")); r.code == ExitUsage {
			// A value named pb other than the runner's Playbook (here a
			// record.Run, to reach its WriteFile) is refused before
			// anything runs, at the line that declares it.
			assert.Regexp(h.t, `\.md:\d+: step [a-z-]+: pb: call not allowed in a cell: pb is the runner's Playbook`, r.stderr)
			noFileContains(h.t, h.out, "FORGED-EVIDENCE")
			h.invariants(r)
			return
		}
		crashed(h, "kill-forged-exit", "plant-and-exit")
		noReportContains(h.t, h.out, "FORGED-EVIDENCE")
	}},

	// 6. No limits.
	{name: "limit-alloc", class: 6, heavy: true, test: func(h *hostile) {
		r := h.run(h.scenario("limit-alloc"))
		h.failedAt(r, "alloc")
		assert.Less(h.t, r.wall, 60*time.Second)
		h.invariants(r)
	}},
	{name: "limit-writefile-big", class: 6, heavy: true, test: func(h *hostile) {
		r := h.run(h.scenario("limit-writefile-big"))
		h.failedAt(r, "big")
		assert.Less(h.t, r.wall, 60*time.Second)
		assert.NoFileExists(h.t, filepath.Join(h.out, "big.bin"))
		h.invariants(r)
	}},
	{name: "limit-writefile-total", class: 6, test: func(h *hostile) {
		r := h.run(h.scenario("limit-writefile-total"))
		h.failedAt(r, "many")
		var total int64
		_ = filepath.WalkDir(h.out, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".bin") {
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
				}
			}
			return nil
		})
		assert.LessOrEqual(h.t, total, int64(64<<20), "cells write at most 64 MiB per run")
		h.invariants(r)
	}},
	{name: "limit-output-flood", class: 6, test: func(h *hostile) {
		r := h.run(h.scenario("limit-output-flood"))
		h.reportFiles(h.out)
		if fi, err := os.Stat(filepath.Join(h.out, record.EvidenceFile)); err == nil {
			assert.Less(h.t, fi.Size(), int64(4<<20), "what a cell prints is capped")
		}
		assert.Less(h.t, r.wall, 60*time.Second)
		h.invariants(r)
	}},

	// Found by the security review of --kernel process.
	{name: "forge-kernel-stream", class: 3, test: func(h *hostile) {
		r := h.run("--unrestricted", h.scenario("forge-kernel-stream"))
		h.failedAt(r, "forge")
		noReportContains(h.t, h.out, "FORGED-RECORD")
		h.invariants(r)
	}},
	{name: "forge-proxy-parse", class: 3, test: func(h *hostile) {
		h.forgeable()
		r := h.run("--unrestricted", h.scenario("forge-proxy-parse"))
		h.invariants(r)
		rm, err := h.c.GetRegisteredModel(h.t.Context(), "Forgeable")
		require.NoError(h.t, err)
		moved, tagged := false, false
		for _, a := range rm.Aliases {
			moved = moved || a.Alias == "production-live"
		}
		for _, tg := range rm.Tags {
			tagged = tagged || tg.Key == "validation_status" && tg.Value == "passed"
		}
		if !moved && !tagged {
			return // refused: nothing to account for
		}
		rec := h.evidence(h.out)
		require.NotNil(h.t, rec)
		named := func(suffix string) bool {
			for _, c := range rec.Evidence.Calls {
				if strings.HasSuffix(c.Endpoint, suffix) && fmt.Sprint(c.Args["name"]) == "Forgeable" {
					return true
				}
			}
			return false
		}
		if moved {
			assert.True(h.t, named("/registered-models/alias"), "the alias call names the model it moved: %+v", rec.Evidence.Calls)
		}
		if tagged {
			assert.True(h.t, named("/registered-models/set-tag"), "the tag call names the model it tagged: %+v", rec.Evidence.Calls)
		}
		var before bool
		for _, sn := range rec.Evidence.Snapshots {
			before = before || sn.Model == "Forgeable" && sn.Label == "before"
		}
		assert.True(h.t, before, "the evidence has Forgeable's state before the change (snapshots: %d)", len(rec.Evidence.Snapshots))
	}},
	{name: "forge-step-attribution", class: 3, test: func(h *hostile) {
		h.forgeable()
		r := h.run(h.scenario("forge-step-attribution"))
		h.invariants(r)
		rec := h.evidence(h.out)
		require.NotNil(h.t, rec)
		var late, helper bool
		for _, c := range rec.Evidence.Calls {
			if strings.HasSuffix(c.Endpoint, "/registered-models/alias") {
				assert.NotEqual(h.t, "read-only", c.Step, "the alias was moved by a goroutine of cell innocent, not by cell read-only: %+v", c)
				switch c.Args["alias"] {
				case "production-live":
					late = true
					assert.Equal(h.t, "innocent", c.Step, "the refused call names the cell whose goroutine made it")
					assert.True(h.t, strings.HasPrefix(c.Outcome, "refused: "), "a goroutine that outlived its cell may not change the registry: %+v", c)
				case "helper-alias":
					helper = true
					assert.Equal(h.t, "helper", c.Step)
					assert.Equal(h.t, "ok", c.Outcome, "a cell's own goroutines may change the registry")
				}
			}
		}
		if iso := rec.Environment.Isolation; assert.NotNil(h.t, iso) {
			assert.True(h.t, iso.CellTokens, "the audit block says calls are attributed by cell token")
		}
		assert.True(h.t, late, "the late call is in the evidence, refused")
		assert.True(h.t, helper, "the helper's call is in the evidence")
		rm, err := h.c.GetRegisteredModel(h.t.Context(), "Forgeable")
		require.NoError(h.t, err)
		_, moved := rm.AliasVersion("production-live")
		assert.False(h.t, moved, "the late call did not reach the registry")
		_, set := rm.AliasVersion("helper-alias")
		assert.True(h.t, set, "the helper's call reached the registry")
		assert.Equal(h.t, ExitOK, r.code, r.stderr)
	}},
	{name: "outlive-forged-event", class: 4, test: func(h *hostile) {
		r := h.run("--unrestricted", h.scenario("outlive-forged-event"))
		assert.Less(h.t, r.wall, 3*time.Second, "a cell of timeout=1s ends the run within about 2 s")
		h.failedAt(r, "stop")
		h.invariants(r)
	}},
	{name: "outlive-forged-done", class: 4, test: func(h *hostile) {
		r := h.run("--unrestricted", h.scenario("outlive-forged-done"))
		assert.Less(h.t, r.wall, 6*time.Second, "a kernel stopped after a forged done is ended within about 2 s")
		// The SIGSTOP does not always hold the kernel (1 run in 10 to 30
		// here, Linux 6.18 with Landlock's signal scope; kill returns no
		// error and the cell goes on, cause not found): its real end of
		// the cell then follows the forged one, and playbook ends it for
		// that instead. Either way the forgery is caught, within seconds.
		assert.Regexp(h.t, `it did not exit within 2s of saying it was done|it told of cell 1 \(stop\) ending, which was not running`, r.stderr)
		h.failedAt(r, "stop")
		h.invariants(r)
	}},
	{name: "limit-record-parts", class: 6, heavy: true, test: func(h *hostile) {
		r := h.run("--unrestricted", h.scenario("limit-record-parts"))
		assert.Contains(h.t, r.stderr, "its record grew past 96 MiB")
		assert.Less(h.t, r.maxRSS, int64(768<<20), "playbook's memory stays bounded whatever the number of cells (max RSS %d MiB)", r.maxRSS>>20)
		h.failedAt(r, "flood")
		h.invariants(r)
	}},
	{name: "exec-serve-own-model", class: 8, test: func(h *hostile) {
		r := h.run("--python", testenv.Python(h.t), h.scenario("exec-serve-own-model"))
		rec := h.failedAt(r, "serve")
		assert.Contains(h.t, r.stderr, "a scenario of this run wrote the model's files itself", "playbook refuses to serve a model the kernel uploaded")
		assert.NoFileExists(h.t, filepath.Join(h.scenDir, "ESCAPED-SERVE"), "the planted loader module ran outside the sandbox")
		if rec != nil {
			assert.Empty(h.t, rec.Evidence.Served, "no scoring server was started")
			h.noCallsIn(rec, "serve")
		}
		h.invariants(r)
	}},
	{name: "exec-serve-across", class: 8, test: func(h *hostile) {
		r := h.run("--python", testenv.Python(h.t), h.scenario("exec-serve-across-a"), h.scenario("exec-serve-across-b"))
		assert.Equal(h.t, ExitStepFailed, r.code, "exit 1: the second scenario's serve failed")
		assert.Contains(h.t, r.stderr, "a scenario of this run wrote the model's files itself", "a model an earlier scenario of the run uploaded is refused too")
		assert.NoFileExists(h.t, filepath.Join(h.scenDir, "ESCAPED-SERVE"), "the planted loader module ran outside the sandbox")
		h.invariants(r)
	}},
	{name: "exec-serve-double-slash", class: 8, test: func(h *hostile) {
		r := h.run("--python", testenv.Python(h.t), h.scenario("exec-serve-double-slash"))
		rec := h.failedAt(r, "serve")
		assert.NoFileExists(h.t, filepath.Join(h.scenDir, "ESCAPED-SERVE"), "the planted loader module ran outside the sandbox")
		if rec != nil {
			assert.Empty(h.t, rec.Evidence.Served, "no scoring server was started")
			h.noCallsIn(rec, "serve")
		}
		h.invariants(r)
	}},
	{name: "exec-serve-alias-race", class: 8, test: func(h *hostile) {
		h.victim()
		r := h.run("--python", testenv.Python(h.t), h.scenario("exec-serve-alias-race"))
		assert.NoFileExists(h.t, filepath.Join(h.scenDir, "ESCAPED-SERVE"), "the planted loader module ran outside the sandbox: the alias was resolved again by `mlflow models serve`")
		h.invariants(r)
	}},
	{name: "limit-serve-many", class: 6, test: func(h *hostile) {
		h.victim()
		r := h.run("--python", testenv.Python(h.t), h.scenario("limit-serve-many"))
		rec := h.evidence(h.out)
		if assert.NotNil(h.t, rec, "evidence.json is a run record") {
			assert.LessOrEqual(h.t, len(rec.Evidence.Served), 4, "playbook started %d scoring servers, out of the kernel's bounds, for one run", len(rec.Evidence.Served))
		}
		h.invariants(r)
	}},
	{name: "outlive-fork", class: 4, test: func(h *hostile) {
		r := h.run("--unrestricted", h.scenario("outlive-fork"))
		time.Sleep(4 * time.Second) // the forked child writes 3 s after its cell
		assert.NoFileExists(h.t, filepath.Join(h.out, cellFilesDir, "late.txt"), "a process of the scenario wrote into --out after playbook ended")
		h.invariants(r)
	}},
	{name: "limit-files-direct", class: 6, test: func(h *hostile) {
		r := h.run("--unrestricted", h.scenario("limit-files-direct"))
		var total int64
		_ = filepath.WalkDir(h.out, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && strings.HasSuffix(p, ".bin") {
				if fi, err := d.Info(); err == nil {
					total += fi.Size()
				}
			}
			return nil
		})
		assert.LessOrEqual(h.t, total, int64(64<<20), "cells write at most 64 MiB per run (%d MiB written)", total>>20)
		h.invariants(r)
	}},
	{name: "write-symlink-out", class: 1, test: func(h *hostile) {
		r := h.run("--unrestricted", h.scenario("write-symlink-out"), "-p", "abs="+h.marker)
		out, err := filepath.EvalSymlinks(h.out)
		require.NoError(h.t, err)
		_ = filepath.WalkDir(h.out, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return err
			}
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil // dangling: leads nowhere
			}
			rel, err := filepath.Rel(out, target)
			assert.True(h.t, err == nil && filepath.IsLocal(rel), "%s links outside --out, to %s", p, target)
			if b, err := os.ReadFile(p); err == nil {
				assert.False(h.t, bytes.Contains(b, []byte(h.secrets[2])), "the marker is read through %s", p)
			}
			return nil
		})
		h.invariants(r)
	}},
	{name: "net-unix-socket", class: 7, test: func(h *hostile) {
		dir, err := os.MkdirTemp("", "pbsock")
		require.NoError(h.t, err)
		h.t.Cleanup(func() { os.RemoveAll(dir) })
		sock := filepath.Join(dir, "agent.sock")
		got := listenOnce(h.t, "unix", sock)
		r := h.run("--unrestricted", h.scenario("net-unix-socket"), "-p", "sock="+sock)
		assert.Empty(h.t, got(), "the cell reached a unix socket outside its sandbox")
		h.invariants(r)
	}},
	{name: "net-tcp-same-port", class: 7, test: func(h *hostile) {
		recv := make(chan string, 1)
		ran := make(chan struct{})
		go func() {
			// The cell writes the proxy's port in files/port.txt ("0" when
			// it finds none); the test listens on 127.0.0.2 on that port.
			deadline := time.Now().Add(60 * time.Second)
			for time.Now().Before(deadline) {
				b, err := os.ReadFile(filepath.Join(h.out, cellFilesDir, "port.txt"))
				if err == nil && len(b) > 0 && string(b) != "0" {
					ln, err := net.Listen("tcp", "127.0.0.2:"+string(b))
					if err != nil {
						recv <- ""
						return
					}
					defer ln.Close()
					_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
					c, err := ln.Accept()
					if err != nil {
						recv <- ""
						return
					}
					defer c.Close()
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					data, _ := io.ReadAll(c)
					recv <- "connected: " + string(data)
					return
				}
				select {
				case <-ran:
					recv <- "" // no port found: nothing to listen on
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
			recv <- ""
		}()
		// And a TCP and a UDP listener of the test's own, which the cell
		// is told of.
		tcp := listenAt(h.t, "tcp", "127.0.0.2:0")
		udp, err := net.ListenPacket("udp", "127.0.0.2:0")
		require.NoError(h.t, err)
		h.t.Cleanup(func() { udp.Close() })
		datagram := make(chan string, 1)
		go func() {
			b := make([]byte, 64)
			_ = udp.SetReadDeadline(time.Now().Add(60 * time.Second))
			n, _, _ := udp.ReadFrom(b)
			datagram <- string(b[:n])
		}()
		r := h.run("--unrestricted", h.scenario("net-tcp-same-port"), "-p", "tcp="+tcp.addr, "-p", "udp="+udp.LocalAddr().String())
		close(ran)
		var got string
		select {
		case got = <-recv:
		case <-time.After(35 * time.Second):
		}
		assert.Empty(h.t, got, "the cell connected to 127.0.0.2, not the proxy")
		assert.Empty(h.t, tcp.got(), "the cell connected to the test's TCP listener")
		_ = udp.SetReadDeadline(time.Now())
		assert.Empty(h.t, <-datagram, "the cell sent a UDP datagram to the test")
		if rec := h.evidence(h.out); assert.NotNil(h.t, rec) && assert.NotNil(h.t, rec.Environment.Isolation) {
			assert.True(h.t, rec.Environment.Isolation.NoNetwork, "the audit block says the kernel had no network")
		}
		h.invariants(r)
	}},
	{name: "limit-kernel-line", class: 6, heavy: true, test: func(h *hostile) {
		r := h.run("--unrestricted", h.scenario("limit-kernel-line"))
		assert.Less(h.t, r.maxRSS, int64(1<<30), "playbook's memory stays bounded whatever the kernel sends (max RSS %d MiB)", r.maxRSS>>20)
		h.reportFiles(h.out)
		h.invariants(r)
	}},
	{name: "limit-threads", class: 6, test: func(h *hostile) {
		stop := make(chan struct{})
		most := make(chan int, 1)
		go func() {
			n := 0
			for {
				select {
				case <-stop:
					most <- n
					return
				case <-time.After(100 * time.Millisecond):
					n = max(n, kernelThreads(h.out))
				}
			}
		}()
		r := h.run("--unrestricted", h.scenario("limit-threads"))
		close(stop)
		n := <-most
		assert.Less(h.t, n, 2000, "the kernel cannot start thousands of threads (%d seen)", n)
		h.invariants(r)
	}},
}

// kernelThreads returns the number of threads of the kernel process of
// the playbook run writing to out (0 when there is none): a process with
// PLAYBOOK_KERNEL=1 whose parent's command line names out.
func kernelThreads(out string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid := d.Name()
		env, err := os.ReadFile(filepath.Join("/proc", pid, "environ"))
		if err != nil || !bytes.Contains(env, []byte(envKernel+"=1\x00")) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
		if err != nil {
			continue
		}
		_, after, _ := strings.Cut(string(stat), ") ")
		fields := strings.Fields(after)
		if len(fields) < 2 {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", fields[1], "cmdline"))
		if err != nil || !bytes.Contains(cmdline, []byte(out)) {
			continue
		}
		status, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(l, "Threads:"); ok {
				var n int
				fmt.Sscan(strings.TrimSpace(v), &n)
				return n
			}
		}
	}
	return 0
}

// listenOnce listens on network and address, and returns what reports
// what the first connection sent ("" when none came).
func listenOnce(t *testing.T, network, address string) func() string {
	t.Helper()
	return listenAt(t, network, address).got
}

// listener is a listener of listenAt: its address, and what it got.
type listener struct {
	addr string
	got  func() string
}

// listenAt is listenOnce, with the address it listens on.
func listenAt(t *testing.T, network, address string) listener {
	t.Helper()
	ln, err := net.Listen(network, address)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- ""
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, _ := io.ReadAll(c)
		got <- "connected: " + string(b)
	}()
	return listener{addr: ln.Addr().String(), got: func() string {
		select {
		case s := <-got:
			return s
		case <-time.After(time.Second):
			return ""
		}
	}}
}

// up is the marker's path relative to the scenario's folder (it goes up
// with "..").
func (h *hostile) up() string {
	rel, err := filepath.Rel(h.scenDir, h.marker)
	require.NoError(h.t, err)
	return filepath.ToSlash(rel)
}

// outlived asserts a run of the scenario name (its goroutines or timers
// keep going after its cell) then outlive-goroutine-b: no registry change
// nor file after the end of name's record, its index.html intact, nothing
// of it in B's report.
func outlived(h *hostile, name string) {
	r := h.run(h.scenario(name), h.scenario("outlive-goroutine-b"))
	assert.Equal(h.t, ExitOK, r.code)
	a, b := filepath.Join(h.out, name), filepath.Join(h.out, "outlive-goroutine-b")
	h.reportFiles(a)
	h.reportFiles(b)
	recA := h.evidence(a)
	require.NotNil(h.t, recA)
	// Registry: every tag the goroutine set is older than the end of
	// scenario A.
	rm, err := h.c.GetRegisteredModel(h.t.Context(), "LateModel")
	if assert.NoError(h.t, err, "scenario A created LateModel") {
		late := 0
		for _, tg := range rm.Tags {
			at, err := time.Parse(time.RFC3339Nano, tg.Value)
			if err == nil && at.After(recA.Environment.End) {
				late++
			}
		}
		assert.Zero(h.t, late, "registry changes made after scenario A ended (%d tags in all)", len(rm.Tags))
	}
	// Files: A's report is its own, every late-* file is in A's evidence.
	html, err := os.ReadFile(filepath.Join(a, "index.html"))
	require.NoError(h.t, err)
	assert.True(h.t, strings.HasPrefix(string(html), "<!DOCTYPE html>"), "A's index.html is the report, not the goroutine's: %.80q", html)
	listed := map[string]bool{}
	for _, f := range recA.Evidence.Files {
		listed[f.Name] = true
	}
	matches, _ := filepath.Glob(filepath.Join(a, "late-*"))
	for _, m := range matches {
		assert.True(h.t, listed[filepath.Base(m)], "%s was written after scenario A's record", filepath.Base(m))
	}
	// B: nothing of A's goroutine.
	noFileContains(h.t, b, "LEAK-A")
	h.invariants(r)
}
