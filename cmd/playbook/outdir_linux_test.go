package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

// mountTmpfs mounts a tmpfs of size (mount's size=, "1m") on a new folder
// and unmounts it when the test ends. It skips the test when it cannot (not
// root, no mount in this sandbox), except with CI=true, where the test
// must run: it fails.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	cannot := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf("a full disk cannot be tested: %s (CI=true: this test must run)", why)
		}
		t.Skipf("a full disk cannot be tested: %s", why)
	}
	if os.Geteuid() != 0 {
		cannot("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "tmpfs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		cannot("mount -t tmpfs -o size=" + size + ": " + err.Error())
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("umount %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fill writes dir/filler.bin until the file system is full, then gives
// back leave bytes of it; the filler is the user's file.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	name := filepath.Join(dir, "filler.bin")
	f, err := os.Create(name)
	require.NoError(t, err)
	defer f.Close()
	block := make([]byte, 4096)
	var n int64
	for {
		w, err := f.Write(block)
		n += int64(w)
		if err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling %s: %v", dir, err)
			break
		}
	}
	require.NoError(t, f.Truncate(max(0, n-leave)))
	return name
}

// TestRunRefusesFullTmpfs: on a tmpfs of 1 MiB, less than the room a report
// needs, playbook run refuses before anything runs, naming the folder.
func TestRunRefusesFullTmpfs(t *testing.T) {
	noExternalBackend(t)
	out := mountTmpfs(t, "1m")
	data := filepath.Join(t.TempDir(), "data")
	sc := scenarioFile(t, "register.md", registerScenario)
	code, stdout, stderr := runCLI(t, "run", "--data-dir", data, "--out", out, sc)
	assert.Equal(t, ExitUsage, code)
	lines := errorLines(t, stderr)
	assert.True(t, strings.HasPrefix(lines[0], "playbook run: --out "+out+": the file system of "+out+" has "), lines[0])
	assert.Contains(t, lines[0], "less than the 4.0 MiB a report needs: nothing was run, the registry is unchanged")
	assert.Empty(t, stdout)
	assert.NoDirExists(t, data, "no registry was started")
}

// TestRunReportOnFullDisk: the report is written to a 1 MiB tmpfs that
// fills while it is written (the room check lowered to let the run
// start), after the cell changed the embedded registry. However little
// room is left, the run exits 1 saying the report could not be written
// and the registry WAS changed, lists the call, and names where the whole
// run record is; evidence.json is absent or whole, never half written.
func TestRunReportOnFullDisk(t *testing.T) {
	noExternalBackend(t)
	old := minOutFree
	minOutFree = 0
	t.Cleanup(func() { minOutFree = old })
	// The cell prints 300 KB: evidence.json and index.html take as much
	// each.
	big := registerScenario + "\n```go step=print\nfmt.Print(strings.Repeat(\"full disk \", 30000))\n```\n"
	sc := scenarioFile(t, "register.md", big)
	for _, tt := range []struct {
		name  string
		leave int64
		// record says where the whole record must be: "out" (evidence.json
		// was written before the page failed) or "temp".
		record string
	}{
		{name: "NoRoom", leave: 0, record: "temp"},
		{name: "EvidenceDoesNotFit", leave: 100 << 10, record: "temp"},
		{name: "PageDoesNotFit", leave: 450 << 10, record: "out"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			out := mountTmpfs(t, "1m")
			data := filepath.Join(t.TempDir(), "data")
			filler := fill(t, out, tt.leave)
			code, stdout, stderr := runCLI(t, "run", "--quiet", "--data-dir", data, "--out", out, sc)
			assert.Equal(t, ExitStepFailed, code, stderr)
			assert.NotContains(t, stdout, "report in")
			rec := assertReportFailure(t, out, sc, stderr)
			assert.Equal(t, record.OutcomeOK, rec.Environment.Exit.Status, "the run itself went well")
			assert.FileExists(t, filler, "the user's file stays")
			_, err := os.Stat(filepath.Join(out, record.EvidenceFile))
			if tt.record == "out" {
				assert.NoError(t, err, "evidence.json fits: written whole before the page failed")
			} else {
				assert.ErrorIs(t, err, os.ErrNotExist, "evidence.json does not fit: absent")
				entries, err := os.ReadDir(tmp)
				require.NoError(t, err)
				var copies []string
				for _, e := range entries {
					if strings.HasPrefix(e.Name(), "playbook-evidence-") {
						copies = append(copies, e.Name())
					}
				}
				assert.Len(t, copies, 1, "one copy of the record in TMPDIR")
			}
		})
	}
}
