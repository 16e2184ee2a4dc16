package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const constraintsScenario = `---
title: constraints
params:
  color: {default: red, enum: [red, green]}
  rows: {default: 10, min: 1, max: 100}
  ratio: {default: 0.5, min: 0, max: 1}
  wait: {default: 30s, max: 5m}
  code: {default: ab, pattern: '[a-z]+'}
  label: {default: x, nonempty: true}
  note: {default: x, allow_empty: true}
  alias: {default: prod, kind: alias}
  other: {default: cand, kind: alias, distinct_from: [alias]}
  model: {default: Churn, kind: model_name}
  data: {default: data.csv, kind: file}
  tags: {default: [a], enum: [a, b]}
---

` + "```go step=a\nfmt.Println(params.Color)\n```\n"

// TestConstraints: each constraint accepts what it says and refuses the
// rest, the message naming the parameter, its line, the value, where it
// came from and what is accepted.
func TestConstraints(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.md")
	require.NoError(t, os.WriteFile(path, []byte(constraintsScenario), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "data.csv"), []byte("a\n"), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "out.csv")))
	sc, err := ParseFile(path)
	require.NoError(t, err)
	check := func(overrides ...string) error {
		t.Helper()
		params, err := ResolveParams(sc.Params, overrides)
		if err != nil {
			return err
		}
		return ValidateParams(sc, params)
	}
	require.NoError(t, check(), "the defaults hold")
	for _, ok := range [][]string{
		{"color=green"}, {"rows=1"}, {"rows=100"}, {"ratio=0"}, {"wait=5m"}, {"code=xyz"},
		{"note="}, {"alias=production-live"}, {"other=staging"}, {"model=Churn Predictor"},
		{"data=data.csv"}, {"tags=a,b"},
	} {
		assert.NoError(t, check(ok...), "%v", ok)
	}
	for _, c := range []struct {
		set  string
		want []string
	}{
		{"color=blue", []string{"c.md:4: parameter color = \"blue\" (from -p)", "accepted: red, green"}},
		{"rows=0", []string{"c.md:5: parameter rows = 0", "out of range; accepted: from 1 to 100"}},
		{"rows=101", []string{"accepted: from 1 to 100"}},
		{"ratio=1.5", []string{"accepted: from 0 to 1"}},
		{"wait=6m", []string{"accepted: 5m0s or less"}},
		{"code=AB", []string{`"AB" does not match; accepted: text matching`}},
		{"label=", []string{"an explicitly empty value is not accepted"}},
		{"color=", []string{"an explicitly empty value is not accepted", `the default "red"`}},
		{"alias=latest", []string{"parameter alias", "accepted: an MLflow alias"}},
		{"alias=v3", []string{"accepted: an MLflow alias"}},
		{"alias=production live", []string{"accepted: an MLflow alias"}},
		{"alias=" + strings.Repeat("a", 300), []string{"accepted: an MLflow alias"}},
		{"other=prod", []string{"parameter other = \"prod\": must differ from parameter alias"}},
		{"model=a/b", []string{`cannot contain "/" or ":"`}},
		{"model=../x", []string{"accepted: an MLflow model name"}},
		{"data=/etc/passwd", []string{"the path leaves the scenario's folder"}},
		{"data=../c.md", []string{"the path leaves the scenario's folder"}},
		{"data=missing.csv", []string{"no such file in"}},
		{"data=sub", []string{"not a regular file"}},
		{"data=out.csv", []string{"through a symbolic link"}},
		{"tags=a,c", []string{`"c" is not accepted; accepted: a, b`}},
	} {
		err := check(c.set)
		if assert.Error(t, err, c.set) {
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w, c.set)
			}
		}
	}
	err = check("color=blue", "rows=0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "parameter color")
	assert.Contains(t, err.Error(), "parameter rows", "every violation at once")
}

// TestConstraintsDeclared: a constraint that does not fit its parameter is
// an error of the front matter, at its line.
func TestConstraintsDeclared(t *testing.T) {
	for decl, want := range map[string]string{
		"{default: 1, enum: [a]}":                         "enum, pattern, kind, nonempty and allow_empty apply to strings and lists",
		"{default: x, min: 1}":                            "min and max apply to numbers, integers and durations",
		"{default: 5, min: 3, max: 1}":                    "min 3 is more than max 1",
		"{default: x, kind: colour}":                      `kind "colour": want one of alias, model_name, file`,
		"{default: x, pattern: '('}":                      "pattern \"(\"",
		"{default: x, nonempty: true, allow_empty: true}": "nonempty and allow_empty contradict each other",
		"{default: x, colour: red}":                       `unknown key "colour"`,
	} {
		src := "---\ntitle: t\nparams:\n  p: " + decl + "\n---\n\n```go step=a\nfmt.Println(1)\n```\n"
		_, err := Parse("t.md", []byte(src))
		if assert.Error(t, err, decl) {
			assert.Contains(t, err.Error(), want, decl)
			assert.Contains(t, err.Error(), "t.md:4", decl)
		}
	}
}

// TestScenarioEncoding: a scenario that is not UTF-8 is refused, its
// encoding named or the line of its first bytes that are not UTF-8 given,
// never read as "no cells".
func TestScenarioEncoding(t *testing.T) {
	const text = "---\ntitle: t\n---\n\n```go step=a\nfmt.Println(1)\n```\n"
	utf16 := func(bigEndian bool) []byte {
		b := []byte{0xFF, 0xFE}
		if bigEndian {
			b = []byte{0xFE, 0xFF}
		}
		for _, r := range text {
			if bigEndian {
				b = append(b, 0, byte(r))
			} else {
				b = append(b, byte(r), 0)
			}
		}
		return b
	}
	for name, c := range map[string]struct {
		src  []byte
		want string
	}{
		"UTF-16LE":    {utf16(false), "t.md: the scenario is UTF-16 (little-endian); save it as UTF-8"},
		"UTF-16BE":    {utf16(true), "t.md: the scenario is UTF-16 (big-endian); save it as UTF-8"},
		"UTF-16 bare": {utf16(false)[2:], "t.md: the scenario holds NUL bytes"},
		"Latin-1":     {[]byte("---\ntitle: t\n---\n\nCaf\xe9 cr\xe8me\n\n```go step=a\nfmt.Println(1)\n```\n"), "t.md:5: column 4: bytes that are not UTF-8"},
	} {
		_, err := Parse("t.md", c.src)
		if assert.Error(t, err, name) {
			assert.Contains(t, err.Error(), c.want, name)
		}
	}
	_, err := Parse("t.md", append([]byte("\uFEFF"), text...))
	assert.NoError(t, err, "UTF-8 with a byte order mark is accepted")
}
