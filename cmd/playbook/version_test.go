package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestVersionFrom: -ldflags first, then the module version, then the VCS
// stamps, then a sentence; never the bare word "dev".
func TestVersionFrom(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	rev := "16dc9dadce33a985cc06e39dd53593f56012b1c5"
	for _, c := range []struct {
		name, ldflags string
		bi            *debug.BuildInfo
		want          string
	}{
		{"ldflags", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}}, "v1.2.3"},
		{"module version", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}}, "v0.1.0"},
		{"vcs stamps", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", rev, "vcs.time", "2026-12-03T12:49:48Z", "vcs.modified", "false")}, "devel 16dc9dadce33 2026-12-03T12:49:48Z"},
		{"dirty", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", rev, "vcs.modified", "true")}, "devel 16dc9dadce33+dirty"},
		{"nothing stamped", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, unstamped},
		{"no build info", "", nil, unstamped},
	} {
		assert.Equal(t, c.want, versionFrom(c.ldflags, c.bi), c.name)
	}
	assert.NotEqual(t, "dev", Version())
	assert.NotContains(t, userAgentVersion(), " ")
}
