//go:build !unix

package pyworker

// lockFile does not lock where flock is missing: two playbooks building
// the same environment at once may then both build it.
func lockFile(string) (func(), error) { return func() {}, nil }
