//go:build !linux

package sandbox

import "runtime"

// Apply restricts nothing on this operating system: the sandbox is
// Linux-only. The [Report] says so, and callers that need isolation
// must refuse to run untrusted code when Report.LandlockABI is 0 and
// Report.SeccompActive is false.
func Apply(p Policy) (Report, error) {
	why := "unavailable: not supported on " + runtime.GOOS
	return Report{
		Landlock:     why,
		Seccomp:      why,
		Capabilities: why,
	}, nil
}
