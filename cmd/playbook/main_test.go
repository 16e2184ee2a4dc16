package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

func TestUsage(t *testing.T) {
	code, _, stderr := runCLI(t)
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, "usage: playbook COMMAND")

	code, _, stderr = runCLI(t, "frobnicate")
	assert.Equal(t, ExitUsage, code)
	assert.Contains(t, stderr, `unknown command "frobnicate"`)
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCLI(t, "version")
	assert.Equal(t, ExitOK, code)
	// One line; a go test binary has no version stamped, and says so.
	assert.Regexp(t, regexp.MustCompile(`^playbook \S.*\n$`), stdout)
	assert.NotEqual(t, "playbook dev\n", stdout)
}

// TestMain turns verify's screenshot of the MLflow UI off for the command's
// tests, which run the promotion many times (it takes about ten seconds a
// page); steps and report test the capture itself.
// envTestMain makes the test binary run as playbook itself.
const envTestMain = "PLAYBOOK_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envKernel) == "1" { // the test binary started as a kernel (--kernel process)
		os.Exit(kernelMain())
	}
	if os.Getenv(envTestMain) == "1" { // the test binary started as playbook (a process a test can kill)
		os.Exit(mainExit(os.Args[1:])) // as main does: Ctrl-C and SIGTERM cancel the run
	}
	if os.Getenv("PLAYBOOK_CHROMIUM") == "" {
		os.Setenv("PLAYBOOK_CHROMIUM", "off")
	}
	os.Exit(m.Run())
}
