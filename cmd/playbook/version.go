package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=..."; when
// empty, the build information says the version (see Version).
var version = ""

// unstamped is the version of a binary that carries none: go run and go
// test stamp neither a module version nor the VCS state by default.
const unstamped = "devel (no version stamped: built with go run, go test or -buildvcs=false, or not in a git clone; go build in a clone or go install stamps one)"

func init() {
	register(command{name: "version", summary: "print playbook's version", run: runVersion})
}

// Version returns playbook's version, as the evidence records it: the
// version set with -ldflags, else the module version in the build
// information (go install module@v1.2.3 records v1.2.3; go build in a git
// clone records a pseudo-version naming the commit,
// v0.0.0-20261203124948-16dc9dadce33, "+dirty" when the work tree had
// changes), else the VCS stamps alone ("devel 16dc9dadce33
// 2026-12-03T12:49:48Z"), else a sentence that says none was stamped: go
// run and go test stamp nothing by default.
func Version() string {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(version, bi)
}

// versionFrom is Version for a given -ldflags value and build information.
func versionFrom(ldflags string, bi *debug.BuildInfo) string {
	if ldflags != "" {
		return ldflags
	}
	if bi == nil {
		return unstamped
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, at string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return unstamped
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "+dirty"
	}
	return strings.TrimSpace("devel " + rev + " " + at)
}

// userAgentVersion is Version as one token, for a User-Agent header.
func userAgentVersion() string {
	v := Version()
	if v == unstamped {
		return "devel"
	}
	return strings.ReplaceAll(v, " ", "-")
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "playbook %s\n", Version())
	return err
}
