package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/runner"
)

// cliTestdata holds the scenarios of the CLI's own tests.
const cliTestdata = "testdata/cli/"

// cliResult is what one playbook command left: its exit code, its
// standard output and error, and the folder $DIR of its arguments.
type cliResult struct {
	code           int
	stdout, stderr string
	dir            string
}

// TestCLIHabits is the table of the command-line habits of issue 15 (part
// 2): help on stdout, help CMD, --version, GNU-style flags in help, 130 on
// Ctrl-C, configuration errors as usage errors, --quiet, -f params.yaml,
// --json, --junit and shell completion. In args, $DIR is a folder of the
// row's own; files are written to it first.
func TestCLIHabits(t *testing.T) {
	versionOut := func() string {
		code, out, _ := runCLI(t, "version")
		require.Equal(t, ExitOK, code)
		return out
	}()
	usageLine := func(cmd string) string { return "usage: playbook " + cmd }
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		files  map[string]string // written to $DIR before the run
		signal syscall.Signal    // sent to playbook, a process, once a cell sleeps
		code   int
		stdout []string // each in stdout
		stderr []string // each in stderr
		// quietStdout, quietStderr: nothing on stdout, on stderr.
		quietStdout, quietStderr bool
		check                    func(t *testing.T, r cliResult)
	}{
		// 1. Help on stdout with exit 0; help CMD; --version.
		{name: "Help", args: []string{"--help"}, stdout: []string{"usage: playbook COMMAND", "  run "}, quietStderr: true},
		{name: "HelpShort", args: []string{"-h"}, stdout: []string{"usage: playbook COMMAND"}, quietStderr: true},
		{name: "HelpCommand", args: []string{"help"}, stdout: []string{"usage: playbook COMMAND"}, quietStderr: true},
		{name: "HelpRun", args: []string{"help", "run"}, stdout: []string{usageLine("run"), "--tracking-uri"}, quietStderr: true},
		{name: "RunHelp", args: []string{"run", "--help"}, stdout: []string{usageLine("run"), "--tracking-uri"}, quietStderr: true},
		{name: "RunH", args: []string{"run", "-h"}, stdout: []string{usageLine("run")}, quietStderr: true},
		{name: "RunHelpAfterArgs", args: []string{"run", cliTestdata + "sleep.md", "--help"}, stdout: []string{usageLine("run")}, quietStderr: true},
		{name: "HelpExport", args: []string{"help", "export"}, stdout: []string{usageLine("export"), "  -o FILE"}, quietStderr: true},
		{name: "HelpNoSuch", args: []string{"help", "nosuch"}, code: ExitUsage, stderr: []string{`unknown command "nosuch"`}, quietStdout: true},
		{name: "VersionHelp", args: []string{"version", "-h"}, stdout: []string{"usage: playbook version\n", "version"}, quietStderr: true,
			check: func(t *testing.T, r cliResult) { assert.NotContains(t, r.stdout, "Usage of") }},
		{name: "DashDashVersion", args: []string{"--version"}, quietStderr: true,
			check: func(t *testing.T, r cliResult) { assert.Equal(t, versionOut, r.stdout) }},
		{name: "NoArgs", args: nil, code: ExitUsage, stderr: []string{"usage: playbook COMMAND"}, quietStdout: true},
		{name: "BadFlagUsageOnStderr", args: []string{"run", "--nosuch", cliTestdata + "sleep.md"}, code: ExitUsage,
			stderr: []string{"flag provided but not defined: -nosuch", usageLine("run")}, quietStdout: true},

		// 2. GNU-style flags in every command's help.
		{name: "DoubleDashEverywhere", args: []string{"--help"}, check: func(t *testing.T, r cliResult) {
			singleDashLong := regexp.MustCompile(`(?m)^\s+-[a-z][a-z-]+\b`)
			for _, n := range commandNames() {
				code, out, _ := runCLI(t, "help", n)
				require.Equal(t, ExitOK, code, n)
				assert.NotRegexp(t, singleDashLong, out, "playbook help %s", n)
				assert.Contains(t, out, usageLine(n), n)
			}
			_, out, _ := runCLI(t, "help", "run")
			assert.Contains(t, out, "\n  --out DIR\n")
			assert.Contains(t, out, "\n  -p name=value\n")
			assert.Contains(t, out, "\n  -f file\n")
		}},

		// 3. Ctrl-C and SIGTERM: the report written, exit 130 and 143.
		{name: "SIGINT", args: []string{"run", "--out", "$DIR/out", cliTestdata + "sleep.md"}, signal: syscall.SIGINT, code: ExitInterrupted,
			stderr: []string{"interrupted"}, check: checkInterrupted(ExitInterrupted)},
		{name: "SIGTERM", args: []string{"run", "--out", "$DIR/out", cliTestdata + "sleep.md"}, signal: syscall.SIGTERM, code: ExitTerminated,
			check: checkInterrupted(ExitTerminated)},
		{name: "SIGINTInProcess", args: []string{"run", "--kernel", kernelInProcess, "--out", "$DIR/out", cliTestdata + "sleep.md"}, signal: syscall.SIGINT,
			code: ExitInterrupted, stderr: []string{"interrupted"}, check: checkInterrupted(ExitInterrupted)},

		{name: "SIGINTWatch", args: []string{"watch", "--data-dir", "$DIR/data", cliTestdata + "sleep.md"}, signal: syscall.SIGINT, code: ExitInterrupted,
			check: func(t *testing.T, r cliResult) { assert.NotContains(t, r.stderr, "signal received") }},

		// 10. What a cell prints, on stderr as it prints it (the signal
		// rows above are sent only once "sleeping" has arrived, while
		// the cell sleeps): indented, control characters made visible.
		{name: "StreamedOutput", args: []string{"run", cliTestdata + "stream.md"},
			stdout: []string{"stream.md: ok"}, stderr: []string{"  | plain\n  | a \\x1b[31mred\\x1b[0m word\n  | no newline at the end\n[1/2] print ok"}},
		{name: "StreamedOutputInProcess", args: []string{"run", "--kernel", kernelInProcess, cliTestdata + "stream.md"},
			stderr: []string{"  | plain\n  | a \\x1b[31mred\\x1b[0m word\n  | no newline at the end\n[1/2] print ok"}},
		{name: "StreamedOutputQuiet", args: []string{"run", "--quiet", cliTestdata + "stream.md"}, quietStdout: true, quietStderr: true},

		// 4. MLflow's configuration checked before anything runs.
		{name: "InsecureTLSMaybe", args: []string{"run", "--out", "$DIR/out", "--tracking-uri", "http://127.0.0.1:1", cliTestdata + "sleep.md"},
			env: map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "maybe"}, code: ExitUsage, quietStdout: true,
			stderr: []string{`playbook run: mlflow: MLFLOW_TRACKING_INSECURE_TLS: "maybe" is not one of true, false, 1, 0`},
			check: func(t *testing.T, r cliResult) {
				assert.NotContains(t, r.stderr, "step ")
				assert.NoFileExists(t, filepath.Join(r.dir, "out", record.EvidenceFile))
			}},
		{name: "S3UploadExtraArgsUnknownKey", args: []string{"run", "--out", "$DIR/out", "--tracking-uri", "http://127.0.0.1:1", cliTestdata + "sleep.md"},
			env:  map[string]string{"MLFLOW_S3_UPLOAD_EXTRA_ARGS": `{"ACL": "public-read"}`, "AWS_SECRET_ACCESS_KEY": "cliSecretNeverShown0123", "AWS_ACCESS_KEY_ID": "AKIACLITEST"},
			code: ExitUsage, quietStdout: true,
			stderr: []string{`playbook run: mlflow: MLFLOW_S3_UPLOAD_EXTRA_ARGS: key "ACL" is not supported by this client`},
			check: func(t *testing.T, r cliResult) {
				assert.NotContains(t, r.stderr, "cliSecretNeverShown0123")
				assert.NoFileExists(t, filepath.Join(r.dir, "out", record.EvidenceFile))
			}},
		{name: "InsecureTLSEmbedded", args: []string{"run", cliTestdata + "sleep.md"},
			env: map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "maybe"}, code: ExitUsage, quietStdout: true,
			stderr: []string{`MLFLOW_TRACKING_INSECURE_TLS: "maybe"`}},
		{name: "InsecureTLSWatch", args: []string{"watch", "--tracking-uri", "http://127.0.0.1:1", cliTestdata + "sleep.md"},
			env: map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "maybe"}, code: ExitUsage, stderr: []string{"playbook watch: mlflow: MLFLOW_TRACKING_INSECURE_TLS"}},
		{name: "InsecureTLSTrain", args: []string{"train", "--tracking-uri", "http://127.0.0.1:1"},
			env: map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "maybe"}, code: ExitUsage, stderr: []string{"playbook train: mlflow: MLFLOW_TRACKING_INSECURE_TLS"}},
		{name: "InsecureTLSCheck", args: []string{"check", cliTestdata + "params.md"},
			env: map[string]string{"MLFLOW_TRACKING_INSECURE_TLS": "maybe", "MLFLOW_TRACKING_URI": "http://127.0.0.1:1"}, code: ExitUsage,
			stderr: []string{"playbook check: mlflow: MLFLOW_TRACKING_INSECURE_TLS"}},
		{name: "MaxRetriesText", args: []string{"run", "--tracking-uri", "http://127.0.0.1:1", cliTestdata + "sleep.md"},
			env: map[string]string{"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "many"}, code: ExitUsage, stderr: []string{`"many" is not a whole number`}},

		// 5. --quiet: only errors.
		{name: "Quiet", args: []string{"run", "--quiet", "--out", "$DIR/out", cliTestdata + "params.md"}, quietStdout: true, quietStderr: true},
		{name: "QuietError", args: []string{"run", "--quiet", "-p", "runs=x", cliTestdata + "params.md"}, code: ExitUsage, quietStdout: true,
			check: func(t *testing.T, r cliResult) {
				assert.Equal(t, 1, strings.Count(strings.TrimSpace(r.stderr), "\n")+1, "one line, the error:\n%s", r.stderr)
			}},

		// 6. -f params.yaml.
		{name: "ParamsFile", args: []string{"run", "--quiet", "--out", "$DIR/out", "-f", "$DIR/p.yaml", cliTestdata + "params.md"},
			files: map[string]string{"p.yaml": "# the parameters\nthreshold: 0.75\nname: \"from file\"\nruns: 4\n"}, quietStderr: true,
			check: func(t *testing.T, r cliResult) {
				assert.Contains(t, cellText(t, r, "show"), "threshold=0.75 name=from file runs=4")
			}},
		{name: "ParamsFileOverridden", args: []string{"run", "--quiet", "--out", "$DIR/out", "-f", "$DIR/a.yaml", "-p", "runs=9", "-f", "$DIR/b.yaml", cliTestdata + "params.md"},
			files: map[string]string{"a.yaml": "threshold: 0.1\nruns: 4\n", "b.yaml": "threshold: 0.2\n"},
			check: func(t *testing.T, r cliResult) {
				assert.Contains(t, cellText(t, r, "show"), "threshold=0.2 name=world runs=9")
			}},
		{name: "ParamsFileWrongType", args: []string{"run", "--out", "$DIR/out", "-f", "$DIR/p.yaml", cliTestdata + "params.md"},
			files: map[string]string{"p.yaml": "threshold: 0.75\nruns: many\n"}, code: ExitUsage, quietStdout: true,
			stderr: []string{`p.yaml:2: runs=many: parameter "runs" is an int`},
			check: func(t *testing.T, r cliResult) {
				assert.NoFileExists(t, filepath.Join(r.dir, "out", record.EvidenceFile))
			}},
		{name: "ParamsFileUnknown", args: []string{"run", "-f", "$DIR/p.yaml", cliTestdata + "params.md"},
			files: map[string]string{"p.yaml": "nope: 1\n"}, code: ExitUsage, stderr: []string{`p.yaml:1: nope=1: unknown parameter "nope"`}},
		{name: "ParamsFileNotMapping", args: []string{"run", "-f", "$DIR/p.yaml", cliTestdata + "params.md"},
			files: map[string]string{"p.yaml": "- threshold: 1\n"}, code: ExitUsage, stderr: []string{"p.yaml:1: want a mapping of parameter name to value, not a list"}},
		{name: "ParamsFileNested", args: []string{"run", "-f", "$DIR/p.yaml", cliTestdata + "params.md"},
			files: map[string]string{"p.yaml": "threshold: 0.5\nname:\n  first: a\n"}, code: ExitUsage,
			stderr: []string{`p.yaml:3: parameter "name": want a value, not a mapping`}},
		{name: "ParamsFileList", args: []string{"run", "--quiet", "--out", "$DIR/out", "-f", "$DIR/p.yaml", cliTestdata + "params.md"},
			files: map[string]string{"p.yaml": "tags: [a, b c]\n"},
			check: func(t *testing.T, r cliResult) { assert.Contains(t, cellText(t, r, "show"), "tags=[a b c] (2)") }},
		{name: "ParamsFileListForNumber", args: []string{"run", "-f", "$DIR/p.yaml", cliTestdata + "params.md"},
			files: map[string]string{"p.yaml": "runs:\n  - 1\n  - 2\n"}, code: ExitUsage, stderr: []string{`p.yaml:1: parameter "runs" (integer) takes one value, not a list`}},
		{name: "ParamsFileMissing", args: []string{"run", "-f", "$DIR/nosuch.yaml", cliTestdata + "params.md"}, code: ExitUsage,
			stderr: []string{"-f ", "nosuch.yaml: no such file or directory"}},
		{name: "ParamsFileCheck", args: []string{"check", "-f", "$DIR/p.yaml", cliTestdata + "params.md"},
			files: map[string]string{"p.yaml": "runs: many\n"}, code: ExitUsage, stderr: []string{`p.yaml:1: runs=many: parameter "runs" is an int`, "playbook check: 1 error\n"}},
		{name: "ParamsFileCheckOK", args: []string{"check", "-f", "$DIR/p.yaml", cliTestdata + "params.md"},
			files: map[string]string{"p.yaml": "runs: 3\n"}, stdout: []string{"params.md: ok"}, quietStderr: true},
		{name: "ParamsFileSeveralScenarios", args: []string{"run", "-f", "$DIR/p.yaml", cliTestdata + "params.md", cliTestdata + "sleep.md"},
			files: map[string]string{"p.yaml": "other: 1\n"}, code: ExitUsage, stderr: []string{`p.yaml:1: no scenario declares parameter "other"`}},

		// 7. --json.
		{name: "JSON", args: []string{"run", "--json", "--out", "$DIR/out", "-p", "runs=3", cliTestdata + "params.md"}, check: checkJSON},

		// 8. --junit.
		{name: "JUnit", args: []string{"run", "--quiet", "--out", "$DIR/out", "--junit", "$DIR/junit.xml", cliTestdata + "junit.md"},
			code: ExitStepFailed, quietStdout: true, check: checkJUnit},

		// 9. Shell completion.
		{name: "CompletionBash", args: []string{"completion", "bash"}, quietStderr: true, check: checkCompletion("bash", "-n")},
		{name: "CompletionZsh", args: []string{"completion", "zsh"}, quietStderr: true, check: checkCompletion("zsh", "-n")},
		{name: "CompletionFish", args: []string{"completion", "fish"}, quietStderr: true, check: checkCompletion("fish", "--no-execute")},
		{name: "CompletionNoShell", args: []string{"completion", "csh"}, code: ExitUsage, stderr: []string{`shell "csh": want bash, zsh or fish`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MLFLOW_TRACKING_URI", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			r := cliResult{dir: t.TempDir()}
			for name, content := range tt.files {
				require.NoError(t, writeFile(filepath.Join(r.dir, name), content))
			}
			args := make([]string, len(tt.args))
			for i, a := range tt.args {
				args[i] = strings.ReplaceAll(a, "$DIR", r.dir)
			}
			if tt.signal != 0 {
				r.code, r.stdout, r.stderr = interruptRun(t, args, tt.signal)
			} else {
				r.code, r.stdout, r.stderr = runCLI(t, args...)
			}
			assert.Equal(t, tt.code, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			for _, s := range tt.stdout {
				assert.Contains(t, r.stdout, s)
			}
			for _, s := range tt.stderr {
				assert.Contains(t, r.stderr, s)
			}
			if tt.quietStdout {
				assert.Empty(t, r.stdout)
			}
			if tt.quietStderr {
				assert.Empty(t, r.stderr)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

// interruptRun runs playbook with args as a process (the test binary,
// $PLAYBOOK_TEST_MAIN), and sends it sig once what the second cell printed
// before it sleeps has been shown on stderr.
func interruptRun(t *testing.T, args []string, sig syscall.Signal) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envTestMain+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	require.NoError(t, cmd.Start())
	started := make(chan struct{})
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pr)
		once := false
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if !once && sc.Text() == "  | sleeping" {
				once = true
				close(started)
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); pw.Close() }()
	select {
	case <-started:
		time.Sleep(500 * time.Millisecond) // the sleeping cell has started
		require.NoError(t, cmd.Process.Signal(sig))
	case <-time.After(40 * time.Second): // the cell sleeps a minute
		t.Errorf("the sleeping cell's output was not shown while it slept")
		_ = cmd.Process.Kill()
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("playbook did not end within a minute of %s", sig)
	}
	<-copied
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// checkInterrupted checks the report of an interrupted run was written,
// the sleeping cell failed as interrupted and the next not run.
func checkInterrupted(code int) func(t *testing.T, r cliResult) {
	return func(t *testing.T, r cliResult) {
		out := filepath.Join(r.dir, "out")
		assert.FileExists(t, filepath.Join(out, "index.html"))
		rec := readRecord(t, out)
		assert.Equal(t, code, rec.Environment.Exit.Code)
		require.Len(t, rec.Cells, 3)
		assert.Equal(t, record.StatusOK, rec.Cells[0].Status)
		assert.Equal(t, record.StatusFailed, rec.Cells[1].Status)
		require.NotNil(t, rec.Cells[1].Error)
		assert.Contains(t, rec.Cells[1].Error.Message, "interrupted")
		assert.Equal(t, record.StatusNotRun, rec.Cells[2].Status)
	}
}

// cellText is what the cell step printed, from the record in $DIR/out.
func cellText(t *testing.T, r cliResult, step string) string {
	t.Helper()
	rec := readRecord(t, filepath.Join(r.dir, "out"))
	for _, c := range rec.Cells {
		if c.Step == step {
			var b strings.Builder
			for _, o := range c.Outputs {
				b.WriteString(o.Text)
			}
			return b.String()
		}
	}
	t.Fatalf("no cell %q", step)
	return ""
}

func checkJSON(t *testing.T, r cliResult) {
	var s map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &s), "stdout is JSON, and only JSON:\n%s", r.stdout)
	assert.EqualValues(t, 0, s["exit_code"])
	assert.Nil(t, s["error"])
	scs, ok := s["scenarios"].([]any)
	require.True(t, ok)
	require.Len(t, scs, 1)
	sc := scs[0].(map[string]any)
	for _, k := range []string{"path", "status", "exit_code", "cells_run", "cells_total", "duration_ms", "report", "evidence", "promotion", "error"} {
		assert.Contains(t, sc, k)
	}
	assert.Equal(t, cliTestdata+"params.md", sc["path"])
	assert.Equal(t, record.OutcomeOK, sc["status"])
	assert.EqualValues(t, 1, sc["cells_run"])
	assert.EqualValues(t, 1, sc["cells_total"])
	assert.Equal(t, filepath.Join(r.dir, "out", "index.html"), sc["report"])
	assert.FileExists(t, sc["evidence"].(string))
	assert.Nil(t, sc["promotion"])
	assert.Nil(t, sc["error"])
	// A failure: the scenario's error, the exit code.
	code, stdout, _ := runCLI(t, "run", "--json", "--quiet", testdata+"panic.md")
	assert.Equal(t, ExitStepFailed, code)
	var f jsonSummary
	require.NoError(t, json.Unmarshal([]byte(stdout), &f), stdout)
	assert.Equal(t, ExitStepFailed, f.ExitCode)
	require.Len(t, f.Scenarios, 1)
	require.NotNil(t, f.Scenarios[0].Error)
	assert.Equal(t, "explode", f.Scenarios[0].Error.Step)
	assert.Equal(t, 17, f.Scenarios[0].Error.Line)
	assert.Nil(t, f.Scenarios[0].Report)
	// A usage error: nothing ran, the error said, still JSON.
	code, stdout, _ = runCLI(t, "run", "--json", "-p", "runs=x", cliTestdata+"params.md")
	assert.Equal(t, ExitUsage, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &f), stdout)
	assert.Equal(t, ExitUsage, f.ExitCode)
	require.NotNil(t, f.Error)
	assert.Equal(t, statusNotRun, f.Scenarios[0].Status)
}

// checkJUnit reads the JUnit file of junit.md as CI systems do: the
// common JUnit schema's testsuites/testsuite/testcase with their
// attributes, a failure, a skipped cell, escaped output.
func checkJUnit(t *testing.T, r cliResult) {
	b, err := os.ReadFile(filepath.Join(r.dir, "junit.xml"))
	require.NoError(t, err)
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Skipped  int      `xml:"skipped,attr"`
		Suites   []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Skipped  int    `xml:"skipped,attr"`
			Time     string `xml:"time,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Time      string `xml:"time,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Skipped   *struct{} `xml:"skipped"`
				SystemOut string    `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	require.NoError(t, d.Decode(&doc), string(b))
	assert.Equal(t, 3, doc.Tests)
	assert.Equal(t, 1, doc.Failures)
	assert.Equal(t, 1, doc.Skipped)
	require.Len(t, doc.Suites, 1)
	s := doc.Suites[0]
	assert.Equal(t, cliTestdata+"junit.md", s.Name)
	assert.Equal(t, 3, s.Tests)
	assert.Regexp(t, `^\d+\.\d{3}$`, s.Time)
	require.Len(t, s.Cases, 3)
	ok, bad, skipped := s.Cases[0], s.Cases[1], s.Cases[2]
	assert.Equal(t, "print", ok.Name)
	assert.Equal(t, s.Name, ok.Classname)
	assert.Regexp(t, `^\d+\.\d{3}$`, ok.Time)
	assert.Nil(t, ok.Failure)
	assert.Equal(t, "<b>a & b</b> \"quoted\"\n", ok.SystemOut)
	require.NotNil(t, bad.Failure)
	assert.Contains(t, bad.Failure.Message, `x < 1 & "y"`)
	assert.Nil(t, bad.Skipped)
	assert.NotNil(t, skipped.Skipped)
	assert.Nil(t, skipped.Failure)
	// The escaping was done in the file, not left to chance.
	assert.Contains(t, string(b), "&lt;b&gt;a &amp; b&lt;/b&gt;")
}

// checkCompletion checks the script for shell parses (bash always; zsh
// and fish when installed) and names every command.
func checkCompletion(shell, noExec string) func(t *testing.T, r cliResult) {
	return func(t *testing.T, r cliResult) {
		for _, n := range commandNames() {
			assert.Regexp(t, `\b`+regexp.QuoteMeta(n)+`\b`, r.stdout, n)
		}
		assert.Contains(t, r.stdout, "--tracking-uri"[2:])
		assert.Contains(t, r.stdout, ".md")
		path, err := exec.LookPath(shell)
		if err != nil {
			if shell == "bash" {
				t.Fatal("bash is not installed")
			}
			t.Skipf("%s is not installed", shell)
		}
		script := filepath.Join(r.dir, "completion."+shell)
		require.NoError(t, writeFile(script, r.stdout))
		out, err := exec.Command(path, noExec, script).CombinedOutput()
		assert.NoError(t, err, "%s %s:\n%s", shell, noExec, out)
		// And it completes: a command, a flag of it, a scenario file.
		require.NoError(t, writeFile(filepath.Join(r.dir, "a.md"), ""))
		require.NoError(t, writeFile(filepath.Join(r.dir, "b.txt"), ""))
		var probe string
		switch shell {
		case "bash":
			probe = `source ` + script + ` && complete -p playbook &&
				for line in "ru" "run --tr" "run a"; do
					read -ra COMP_WORDS <<< "playbook $line"; COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _playbook; echo "${COMPREPLY[@]}"
				done`
		case "fish":
			probe = `source ` + script + `; complete -C "playbook ru"; complete -C "playbook run --tr"; complete -C "playbook run a"`
		default:
			return // zsh's completion needs its line editor
		}
		cmd := exec.Command(path, "-c", probe)
		cmd.Dir = r.dir
		out, err = cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Regexp(t, `(?m)^run\b`, string(out))
		assert.Regexp(t, `(?m)^--tracking-uri\b`, string(out))
		assert.Regexp(t, `(?m)^a\.md\b`, string(out))
	}
}

// TestStreamKeepsProgressLine: on a terminal, a cell's output clears the
// progress line, is printed whole lines at a time, and the line is drawn
// again under it; the line not ended waits for its end or the cell's.
func TestStreamKeepsProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, terminal: true, done: make(chan struct{})}
	p.event(runner.Event{Index: 1, Total: 2, Step: "talk", Status: runner.StatusRunning})
	b.Reset()
	out := func(s string) record.Cell {
		return record.Cell{Outputs: []record.Output{{Kind: record.OutputStdout, Text: s}}}
	}
	p.cellOutput(1, out("one\ntw"), false)
	assert.Regexp(t, `^\r\x1b\[K  \| one\n\r\x1b\[K\[1/2\] talk \d+m?s$`, b.String())
	b.Reset()
	p.cellOutput(1, out("one\ntwo\x07\nthree"), false)
	assert.Regexp(t, `^\r\x1b\[K  \| two\\a\n\r\x1b\[K\[1/2\] talk `, b.String())
	b.Reset()
	p.cellOutput(1, out("one\ntwo\x07\nthree"), true)
	assert.Regexp(t, `^\r\x1b\[K  \| three\n`, b.String())
	b.Reset()
	p.cellOutput(1, out("one\ntwo\x07\nthree and more"), true)
	assert.Empty(t, b.String(), "nothing after the cell's end")
}

// TestSummaryWithoutRecord: a scenario that failed before its first cell
// (no record: the kernel could not start, ...) is "error" in --json, and
// a testcase in error in --junit; the scenarios after it, not run.
func TestSummaryWithoutRecord(t *testing.T) {
	results := []scenarioResult{{path: "a.md", err: errors.New("starting the kernel: no")}}
	var b bytes.Buffer
	require.NoError(t, writeJSONSummary(&b, []string{"a.md", "b.md"}, results, ExitStepFailed, results[0].err))
	var s jsonSummary
	require.NoError(t, json.Unmarshal(b.Bytes(), &s), b.String())
	require.Len(t, s.Scenarios, 2)
	assert.Equal(t, record.OutcomeError, s.Scenarios[0].Status)
	require.NotNil(t, s.Scenarios[0].ExitCode)
	assert.Equal(t, ExitStepFailed, *s.Scenarios[0].ExitCode)
	assert.Equal(t, "starting the kernel: no", s.Scenarios[0].Error.Message)
	assert.Equal(t, statusNotRun, s.Scenarios[1].Status)
	assert.Nil(t, s.Scenarios[1].ExitCode)

	x, err := junitXML(results)
	require.NoError(t, err)
	assert.Contains(t, string(x), `<testsuites name="playbook" tests="1" failures="0" errors="1"`)
	assert.Contains(t, string(x), `<error message="starting the kernel: no"></error>`)
}
