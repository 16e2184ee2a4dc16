package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/regproxy"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/report"
	"github.com/playbook-mlops/playbook/runner"
	"github.com/playbook-mlops/playbook/steps"
)

// TestKernelFrenchScenarioSameContent: the French exercise run with
// --kernel process says what it says in process: the same cells, statuses
// and outputs (kinds and titles), the same registry calls (steps,
// endpoints, arguments but times and identifiers), the same validation
// metrics, the same registry before and after; the calls and snapshots
// are the proxy's, and the audit block says how the cells were isolated,
// the token of the proxy nowhere.
func TestKernelFrenchScenarioSameContent(t *testing.T) {
	records := map[string]*record.Run{}
	for _, k := range []string{kernelInProcess, kernelProcess} {
		uri := mlflowtest.Embedded(t)
		c, err := mlflow.New(mlflow.DefaultConfig(uri))
		require.NoError(t, err)
		e := &e2e{t: t, uri: uri, c: c, model: "ChurnPredictor"}
		e.train("churn-training", 2, 3000, 7)
		code, stderr, rec := e.promote("churn-training", "-p", "serve=off", "--kernel", k)
		require.Equal(t, ExitOK, code, stderr)
		records[k] = rec
	}
	in, kp := records[kernelInProcess], records[kernelProcess]
	assert.Nil(t, in.Environment.Isolation)
	iso := kp.Environment.Isolation
	require.NotNil(t, iso)
	assert.Equal(t, "kernel process", iso.Mode)
	assert.Equal(t, "exit status 0", iso.Exit)
	assert.True(t, iso.CleanEnv)
	if testenv.InCI() || iso.LandlockFS {
		// CI's kernel answers Landlock ABI 7.
		assert.True(t, iso.Sandboxed && iso.LandlockFS && iso.LandlockTCP, "%+v", iso)
		assert.Contains(t, iso.Seccomp, "execve refused")
		assert.NotEmpty(t, iso.Rlimits)
		// The French report words the sandbox in French.
		var md strings.Builder
		_, err := report.Markdown(&md, kp)
		require.NoError(t, err)
		assert.Contains(t, md.String(), fmt.Sprintf("ABI %d : règles sur les fichiers", iso.LandlockABI))
		assert.Contains(t, md.String(), "execve refusé ; ")
		assert.Contains(t, md.String(), "aucune socket créée")
		assert.NotContains(t, md.String(), "filesystem")
		assert.NotContains(t, md.String(), "execve refused")
	}

	require.Len(t, kp.Cells, len(in.Cells))
	for i := range in.Cells {
		a, b := in.Cells[i], kp.Cells[i]
		assert.Equal(t, a.Step, b.Step)
		assert.Equal(t, a.Status, b.Status, a.Step)
		require.Len(t, b.Outputs, len(a.Outputs), a.Step)
		for j := range a.Outputs {
			assert.Equal(t, a.Outputs[j].Kind, b.Outputs[j].Kind, "%s output %d", a.Step, j)
			assert.Equal(t, a.Outputs[j].Title, b.Outputs[j].Title, "%s output %d", a.Step, j)
		}
	}
	stable := func(c record.Call) string {
		args := map[string]any{}
		for k, v := range c.Args {
			switch k {
			case "run_id", "model_id", "source", "run_link":
				v = "…"
			case "value":
				if key, _ := c.Args["key"].(string); strings.HasSuffix(key, "_at") || key == "source_run_id" {
					v = "…"
				} else if strings.HasPrefix(key, steps.TagIntentPrefix) || key == steps.TagValidation {
					v = regexp.MustCompile(`"at":"[^"]*"`).ReplaceAllString(fmt.Sprint(v), `"at":"…"`)
				}
			}
			args[k] = v
		}
		return fmt.Sprintf("%s %s %s %v %s %v", c.Step, c.Method, c.Endpoint, args, c.Outcome, c.DryRun)
	}
	require.Len(t, kp.Evidence.Calls, len(in.Evidence.Calls))
	for i := range in.Evidence.Calls {
		assert.Equal(t, stable(in.Evidence.Calls[i]), stable(kp.Evidence.Calls[i]), "call %d", i)
	}
	assert.Equal(t, in.Evidence.Validation.Candidate, kp.Evidence.Validation.Candidate)
	require.Len(t, kp.Evidence.Snapshots, 2)
	assert.Equal(t, "before", kp.Evidence.Snapshots[0].Label)
	assert.Equal(t, "after", kp.Evidence.Snapshots[1].Label)
	last := in.Evidence.Snapshots[len(in.Evidence.Snapshots)-1]
	assert.Equal(t, last.Aliases, kp.Evidence.Snapshots[1].Aliases)
	assert.Equal(t, in.Environment.User, kp.Environment.User, "the parent says who ran it")
	for _, c := range kp.Evidence.Calls {
		assert.NotContains(t, fmt.Sprint(c.Args), "/k/", "no proxy address in the registry")
	}
}

// TestKernelSandboxHoldsUnrestricted: with --unrestricted (the whole
// standard library) a kernel's cells still cannot read the environment's
// secrets, files outside the scenario's folder, start a program or
// connect anywhere (it creates no socket: its connections to the proxy
// are handed to it); the same cells in process can.
func TestKernelSandboxHoldsUnrestricted(t *testing.T) {
	secret := "kernel-secret-" + fmt.Sprint(os.Getpid())
	t.Setenv("PLAYBOOK_TEST_SECRET", secret)
	outside := filepath.Join(t.TempDir(), "outside.txt")
	require.NoError(t, os.WriteFile(outside, []byte("outside-marker"), 0o644))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dir := t.TempDir()
	sc := filepath.Join(dir, "probe.md")
	require.NoError(t, os.WriteFile(sc, []byte(fmt.Sprintf("---\ntitle: probe\nlang: en\n---\n\n"+
		"```go step=probe\n"+
		"import (\n\t\"net\"\n\t\"os\"\n\t\"os/exec\"\n\t\"strings\"\n)\n\n"+
		"func probe() {\n"+
		"\tfmt.Println(\"env-secret:\", strings.Contains(strings.Join(os.Environ(), \" \"), %q))\n"+
		"\t_, rerr := os.ReadFile(%q)\n\tfmt.Println(\"read-outside:\", rerr)\n"+
		"\trerr = exec.Command(\"/bin/true\").Run()\n\tfmt.Println(\"exec:\", rerr)\n"+
		"\tconn, derr := net.Dial(\"tcp\", %q)\n\tif conn != nil {\n\t\tconn.Close()\n\t}\n\tfmt.Println(\"dial:\", derr)\n"+
		"}\n\nprobe()\n```\n", secret, outside, ln.Addr().String())), 0o644))

	outputs := map[string]string{}
	for _, k := range []string{kernelInProcess, kernelProcess} {
		out := t.TempDir()
		code, _, stderr := runCLI(t, "run", "--quiet", "--unrestricted", "--data-dir", t.TempDir(), "--out", out, "--kernel", k, sc)
		require.Equal(t, ExitOK, code, stderr)
		rec := readRecord(t, out)
		require.NotEmpty(t, rec.Cells[0].Outputs)
		outputs[k] = rec.Cells[0].Outputs[0].Text
	}
	in := outputs[kernelInProcess]
	assert.Contains(t, in, "env-secret: true")
	assert.Contains(t, in, "read-outside: <nil>")
	assert.Contains(t, in, "exec: <nil>")
	assert.Contains(t, in, "dial: <nil>")

	kp := outputs[kernelProcess]
	assert.Contains(t, kp, "env-secret: false")
	assert.Contains(t, kp, "exec: fork/exec /bin/true: operation not permitted")
	// No socket at all (seccomp), whatever Landlock allows.
	assert.Contains(t, kp, "dial: dial tcp "+ln.Addr().String()+": socket: address family not supported by protocol")
	if !testenv.InCI() && !strings.Contains(kp, "read-outside: open") {
		t.Skip("no Landlock on this kernel: the filesystem and network rules are not enforced")
	}
	assert.Contains(t, kp, "read-outside: open "+outside+": permission denied")
}

// TestKernelCaptureOnlyTheModelPage: the screenshots playbook takes for a
// kernel are of the tracking server's page of a model only; another
// address is refused before any browser starts. (The Capturer here
// stands for Chromium: TestKernelCaptureMLflow takes a real screenshot.)
func TestKernelCaptureOnlyTheModelPage(t *testing.T) {
	c, err := mlflow.New(mlflow.DefaultConfig(mlflowtest.Embedded(t)))
	require.NoError(t, err)
	px, err := regproxy.Start(regproxy.Options{Target: c})
	require.NoError(t, err)
	defer px.Close()
	var asked []string
	serveCapture(px, &runner.Capturer{Width: 10, Height: 10, ModelPage: func(_ context.Context, url, _ string, _ []string) ([]byte, error) {
		asked = append(asked, url)
		return []byte("png"), nil
	}}, func() (*mlflow.Client, error) { return c, nil })
	hc := &http.Client{Transport: prefixTransport{prefix: px.Prefix(), base: http.DefaultTransport}}
	proxy := fmt.Sprintf("http://127.0.0.1:%d", px.Port())

	page := steps.ModelURL(c, "ChurnPredictor")
	version := steps.ModelVersionURL(c, "ChurnPredictor", "12")
	for _, url := range []string{page, version} {
		png, err := askCapture(t.Context(), hc, proxy, captureRequest{URL: url, Model: "ChurnPredictor"})
		require.NoError(t, err)
		assert.Equal(t, "png", string(png))
	}
	for _, url := range []string{"http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", page + "/../../x", steps.ModelURL(c, "Other"),
		steps.ModelVersionURL(c, "Other", "1"), page + "/versions/", page + "/versions/1/../../../x", page + "/versions/1x", page + "/versions/-1",
		page + "/versions/1?x=1", page + "/versions/1#x", page + "/versions/1/", page + "/versions/%31", strings.Replace(version, "127.0.0.1", "localhost", 1),
		steps.ModelURL(c, "") + "/versions/1"} {
		_, err := askCapture(t.Context(), hc, proxy, captureRequest{URL: url, Model: "ChurnPredictor"})
		assert.ErrorContains(t, err, "playbook captures only the tracking server's page of the model", url)
	}
	_, err = askCapture(t.Context(), hc, proxy, captureRequest{URL: steps.ModelURL(c, ""), Model: ""})
	assert.ErrorContains(t, err, "playbook captures only", "no model, no page: not the list of every model")
	assert.Equal(t, []string{page, version}, asked)
}

// TestKernelCaptureMLflow: with --kernel process against MLflow itself,
// the verify step's screenshot of the model's page is taken by playbook
// for the kernel (which may start no browser) and kept in the evidence.
func TestKernelCaptureMLflow(t *testing.T) {
	testenv.Slow(t) // Chromium waits for the UI to settle
	uri := testenv.RealMLflow(t)
	t.Setenv("PLAYBOOK_CHROMIUM", testenv.Chromium(t))
	c, err := mlflow.New(mlflow.DefaultConfig(uri))
	require.NoError(t, err)
	e := &e2e{t: t, uri: uri, c: c, model: fmt.Sprintf("ChurnKernelCapture-%d", time.Now().UnixNano())}
	exp := mlflowtest.Unique("kernel-capture")
	e.train(exp, 2, 3000, 5)
	code, stderr, rec := e.promote(exp, "-p", "serve=off", "--kernel", kernelProcess)
	require.Equal(t, ExitOK, code, stderr)
	require.NotNil(t, rec.Environment.Isolation)
	require.Len(t, rec.Evidence.Captures, 1, "a first promotion archives no version")
	capture := rec.Evidence.Captures[0]
	assert.Empty(t, capture.Reason)
	assert.True(t, bytes.HasPrefix(capture.PNG, []byte("\x89PNG")), "a PNG")
	assert.Equal(t, steps.ModelURL(c, e.model), capture.URL)
}

// TestUploadedUnder: a model whose files the run uploaded through the
// proxy is recognised by its artifact URI (the relayed worker then refuses
// to load it), another is not.
func TestUploadedUnder(t *testing.T) {
	calls := []record.Call{
		{Method: "POST", Endpoint: "/api/2.0/mlflow/registered-models/create"},
		{Method: "PUT", Endpoint: "/api/2.0/mlflow-artifacts/artifacts/1/models/m-evil/artifacts/MLmodel"},
	}
	assert.Equal(t, "PUT /api/2.0/mlflow-artifacts/artifacts/1/models/m-evil/artifacts/MLmodel",
		uploadedUnder(calls, "mlflow-artifacts:/1/models/m-evil/artifacts"))
	assert.NotEmpty(t, uploadedUnder(calls, "mlflow-artifacts:/1/models/m-evil/artifacts/"))
	assert.Empty(t, uploadedUnder(calls, "mlflow-artifacts:/1/models/m-evil2/artifacts"))
	assert.Empty(t, uploadedUnder(calls, "mlflow-artifacts:/1/models/m-good/artifacts"))
	assert.Empty(t, uploadedUnder(calls, "runs:/abc/model"))
	// The same files, spelled otherwise: MLflow and playbook's client
	// collapse "//" and ".", decode %XX, accept the tracking host.
	for _, uri := range []string{
		"mlflow-artifacts:/1/models//m-evil/artifacts",
		"mlflow-artifacts:/1/models/m-evil/./artifacts",
		"mlflow-artifacts:/1/models/m-evil%2Fartifacts",
		"mlflow-artifacts:/1/models/m-evil%252Fartifacts",
		"mlflow-artifacts://127.0.0.1:5000/1/models/m-evil/artifacts",
		"http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/models/m-evil/artifacts",
		"mlflow-artifacts:/1/models",
		"mlflow-artifacts:/",
	} {
		assert.NotEmpty(t, uploadedUnder(calls, uri), uri)
	}
	assert.NotEmpty(t, uploadedUnder([]record.Call{{Method: "PUT", Endpoint: "/api/2.0/mlflow-artifacts/artifacts/1//models/m-evil/artifacts/MLmodel"}},
		"mlflow-artifacts:/1/models/m-evil/artifacts"), "an upload spelled with //")

	// Uploads playbook made for the kernel to a store the server does not
	// proxy (mlflow.RelayPath+"/put").
	relayed := []record.Call{{Method: "PUT", Endpoint: mlflow.RelayPath + "/put",
		Args: map[string]any{"artifact_uri": "s3://bucket/mlflow/1/models/m-evil/artifacts", "path": "MLmodel"}}}
	for _, uri := range []string{"s3://bucket/mlflow/1/models/m-evil/artifacts", "s3://bucket/mlflow/1/models//m-evil/artifacts/",
		"s3://bucket/mlflow/1/models/m-evil%2Fartifacts", "s3://BUCKET/mlflow/1", "s3://bucket/mlflow/1/models/m-evil/artifacts/MLmodel"} {
		assert.NotEmpty(t, uploadedUnder(relayed, uri), uri)
	}
	for _, uri := range []string{"s3://bucket/mlflow/1/models/m-good/artifacts", "s3://other/mlflow/1/models/m-evil/artifacts",
		"file:///mlflow/1/models/m-evil/artifacts", "s3://bucket/mlflow/1/models/m-evil/artifacts2"} {
		assert.Empty(t, uploadedUnder(relayed, uri), uri)
	}
}

// TestReadLine: the kernel's messages are read whole across the reader's
// buffer, and a line past the limit is refused, the next one read.
func TestReadLine(t *testing.T) {
	long := strings.Repeat("x", 100)
	in := "short\n" + long + "\n" + strings.Repeat("y", 300) + "\nlast"
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	line, err := readLine(br, 200)
	require.NoError(t, err)
	assert.Equal(t, "short\n", string(line))
	line, err = readLine(br, 200)
	require.NoError(t, err)
	assert.Equal(t, long+"\n", string(line), "a line longer than the buffer is joined")
	_, err = readLine(br, 200)
	assert.ErrorIs(t, err, errTooLong)
	// The reader is past the refused line's start (the parent then
	// discards the rest of the stream); what follows is the line's end.
	line, err = readLine(br, 200)
	require.NoError(t, err)
	assert.Less(t, len(line), 300)
	assert.Equal(t, strings.Repeat("y", len(line)-1)+"\n", string(line), "the rest of the refused line")
	line, err = readLine(br, 200)
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, "last", string(line))
}

// TestKernelCPU: the kernel's CPU limit is its cells' timeouts on every
// core, and the start's idle limit.
func TestKernelCPU(t *testing.T) {
	sc := &runner.Scenario{Cells: []runner.Cell{{Timeout: time.Minute}, {Timeout: 2 * time.Second}}}
	want := (kernelIdle + time.Minute + 2*time.Second + 2*kernelGap).Seconds()
	assert.Equal(t, uint64(want)+1, kernelCPU(sc, 1))
	assert.Equal(t, uint64(2*want)+1, kernelCPU(sc, 2))
	assert.Equal(t, uint64(want)+1, kernelCPU(sc, 0))
}
