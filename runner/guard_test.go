package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

// TestRestrictedCalls: the functions and methods of the cell API that reach
// the file system or the network are refused without --unrestricted, at the
// line that calls them, before the cell runs.
func TestRestrictedCalls(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "escaped")
	tests := []struct {
		name string
		code string
		err  string // error after "testdata/inline.md:N: step s: "; "" when allowed
		line int
	}{
		{name: "PlotSave", code: "import (\n\t\"gonum.org/v1/plot\"\n\t\"gonum.org/v1/plot/vg\"\n)\np := plot.New()\n_ = p.Save(vg.Inch, vg.Inch, %q)",
			err: ".Save: call not allowed in a cell: it writes a file anywhere (gonum/plot's Plot.Save): show plots with pb.Plot; run with --unrestricted to allow it", line: 9},
		{name: "MethodValue", code: "import \"gonum.org/v1/plot\"\nsave := (*plot.Plot).Save\n_ = save\n_ = %q",
			err: ".Save: call not allowed in a cell", line: 5},
		{name: "DownloadDir", code: "c, _ := pb.Client()\n_ = c.DownloadDir(pb.Context(), \"mlflow-artifacts:/x\", \"\", %q)",
			err: ".DownloadDir: call not allowed in a cell: it writes files anywhere", line: 5},
		{name: "DownloadLoggedModelArtifacts", code: "c, _ := pb.Client()\n_ = c.DownloadLoggedModelArtifacts(pb.Context(), \"m-1\", \"\", %q)",
			err: ".DownloadLoggedModelArtifacts: call not allowed in a cell: it writes files anywhere", line: 5},
		{name: "RecordWriteFile", code: "var r record.Run\n_ = r.WriteFile(%q)",
			err: ".WriteFile: call not allowed in a cell: it writes a file anywhere: use pb.WriteFile", line: 5},
		{name: "RecordWriteFileFunc", code: "var r record.Run\n_ = record.WriteFile(%q, &r)",
			err: ".WriteFile: call not allowed in a cell", line: 5},
		{name: "SaveModel", code: "_ = churn.SaveModel(%q, nil, churn.ArtifactMeta{})",
			err: ".SaveModel: call not allowed in a cell", line: 4},
		{name: "InFunc", code: "func keep(p interface{ Save(a, b float64, f string) error }) error { return p.Save(1, 1, %q) }",
			err: ".Save: call not allowed in a cell", line: 4},
		{name: "ShadowPbVar", code: "var pb record.Run\n_ = pb.WriteFile(%q)",
			err: "pb: call not allowed in a cell: pb is the runner's Playbook", line: 4},
		{name: "ShadowPbDefine", code: "pb := &record.Run{}\n_ = pb.WriteFile(%q)",
			err: "pb: call not allowed in a cell: pb is the runner's Playbook", line: 4},
		{name: "ShadowPbParam", code: "func w(pb interface{ WriteFile(string) error }) error { return pb.WriteFile(%q) }",
			err: "pb: call not allowed in a cell: pb is the runner's Playbook", line: 4},
		{name: "ShadowPbRange", code: "for _, pb := range []*record.Run{{}} {\n\t_ = pb.WriteFile(%q)\n}",
			err: "pb: call not allowed in a cell: pb is the runner's Playbook", line: 4},
		{name: "PbWriteFileAllowed", code: "_ = %q\n_ = pb.WriteFile(\"ok.txt\", nil)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "# Calls\n\n```go step=s\n" + sprintf(tt.code, target) + "\n```\n"
			rec, err := run(t, src, Options{OutDir: t.TempDir()})
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), sprintf("testdata/inline.md:%d: step s: %s", tt.line, tt.err))
			assert.ErrorIs(t, err, ErrCallRefused)
			assert.Equal(t, record.ErrImport, rec.Cells[0].Error.Kind)
			_, statErr := os.Stat(target)
			assert.True(t, os.IsNotExist(statErr), "nothing was written")
		})
	}

	t.Run("Unrestricted", func(t *testing.T) {
		src := "```go step=s\nimport (\n\t\"gonum.org/v1/plot\"\n\t\"gonum.org/v1/plot/vg\"\n)\np := plot.New()\nif err := p.Save(vg.Inch, vg.Inch, " + sprintf("%q", target+".png") + "); err != nil { panic(err) }\n```\n"
		_, err := run(t, src, Options{Unrestricted: true})
		require.NoError(t, err)
		_, statErr := os.Stat(target + ".png")
		assert.NoError(t, statErr, "--unrestricted allows it")
	})
}

// TestRestrictedSymbols: package functions that reach outside are missing
// from the restricted tables, present with --unrestricted.
func TestRestrictedSymbols(t *testing.T) {
	// LoadCSVFile, ReadTableFile and LoadModel would read a file anywhere
	// (/etc/shadow, /proc/self/environ) and quote it in their errors.
	for _, code := range []string{"_ = mlflow.NewFromEnv", "_ = mlflow.New", "_ = churn.SaveModel",
		"_ = churn.LoadCSVFile", "_ = churn.ReadTableFile", "_ = churn.LoadModel"} {
		src := "```go step=s\n" + code + "\n```\n"
		_, err := run(t, src, Options{})
		require.Error(t, err, code)
		if code != "_ = churn.SaveModel" {
			assert.Contains(t, err.Error(), "has no symbol "+code[strings.Index(code, ".")+1:], code)
		}
		_, err = run(t, src, Options{Unrestricted: true})
		if code != "_ = churn.SaveModel" { // SaveModel is also refused by name
			assert.NoError(t, err, code)
		}
	}
}

// TestTextTemplateRefused: text/template calls methods by name at run time,
// past the check of calls, so cells may not import it.
func TestTextTemplateRefused(t *testing.T) {
	_, err := run(t, "```go step=s\nimport \"text/template\"\n_ = template.New\n```\n", Options{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrImportRefused)
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// TestRestrictedTablesHoldNoRuntimeInternals: the restricted symbol tables
// expose no package of the runtime's internals, the file system, the
// process or the runner's kernel, by import path and by package name.
func TestRestrictedTablesHoldNoRuntimeInternals(t *testing.T) {
	denied := []string{"unsafe", "reflect", "runtime", "runtime/debug", "os", "os/exec", "os/signal",
		"syscall", "plugin", "net", "net/http", "io/ioutil", "path/filepath", "text/template", kernelPath}
	restricted := importable(false)
	require.NotEmpty(t, restricted)
	for _, p := range denied {
		assert.NotContains(t, restricted, p, "import path")
	}
	for p, name := range restricted {
		assert.NotEqual(t, kernelName, name, p)
		for _, d := range denied {
			assert.False(t, strings.HasPrefix(p, d+"/"), "%s is under %s", p, d)
		}
	}
	for key := range restrictedSymbols {
		assert.NotContains(t, key, "traefik/yaegi/stdlib/unrestricted", key)
	}
}
