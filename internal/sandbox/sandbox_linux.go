//go:build linux

package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/landlock-lsm/go-landlock/landlock"
	llsyscall "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// newestLandlockABI is the newest Landlock ABI that go-landlock v0.11
// knows (landlock.V11); a newer kernel is used at that level.
const newestLandlockABI = 11

// Landlock access rights granted on the policy's paths.
const (
	fsReadFile = llsyscall.AccessFSReadFile
	fsReadDir  = llsyscall.AccessFSReadFile | llsyscall.AccessFSReadDir
	// Writing rights for files, and for directories on top of that.
	// Never MakeChar/MakeBlock (a root process could make a node for a
	// raw disk), never Refer (renames across directories; asking for it
	// would also turn Landlock off entirely on ABI 1 in best-effort
	// mode), never IoctlDev nor ResolveUnix.
	fsWriteFile = llsyscall.AccessFSWriteFile | llsyscall.AccessFSTruncate
	fsWriteDir  = fsWriteFile | llsyscall.AccessFSRemoveDir | llsyscall.AccessFSRemoveFile |
		llsyscall.AccessFSMakeDir | llsyscall.AccessFSMakeReg
	// No symbolic links, fifos or sockets: a link made inside a writable
	// folder could point out of it for whoever reads the folder later.
)

// Apply restricts the current process, all its threads and any future
// thread or child, irreversibly, as described in the package
// documentation. Call it early, from the process that is about to run
// untrusted code, before any of that code runs.
//
// Apply degrades gracefully on kernels lacking Landlock (or part of it)
// or seccomp, and the [Report] says what is in force. It returns an
// error for an invalid policy (checked before anything changes) or a
// failure to restrict; after such an error the process may be partly
// restricted and must not run untrusted code.
func Apply(p Policy) (Report, error) {
	start := time.Now()
	var r Report

	// Everything that needs /proc is read before Landlock hides it.
	status, _ := os.ReadFile("/proc/self/status")
	if p.MemoryBytes > 0 {
		if vm := statusKB(status, "VmSize"); vm > 0 && p.MemoryBytes <= vm*1024 {
			return r, fmt.Errorf("sandbox: MemoryBytes %d is not above the current address space size %d (VmSize): the Go runtime would crash", p.MemoryBytes, vm*1024)
		}
	}
	capLast := 63
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			capLast = n
		}
	}
	rules, skipped, err := pathRules(p)
	if err != nil {
		return r, err
	}
	r.SkippedPaths = skipped

	// The whole sequence runs on one OS thread, so that what is set on
	// "the current thread" (no_new_privs before seccomp) is consistent.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	if _, _, errno := psx.Syscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); errno != 0 {
		return r, fmt.Errorf("sandbox: prctl(PR_SET_NO_NEW_PRIVS): %w", errno)
	}

	if err := applyLandlock(p, rules, &r); err != nil {
		return r, err
	}
	if err := applySeccomp(p, &r); err != nil {
		return r, err
	}
	if err := dropCapabilities(capLast, &r); err != nil {
		return r, err
	}
	// Last: a low RLIMIT_NOFILE must not starve Landlock of the file
	// descriptors it opens on the policy's paths.
	if err := applyRlimits(p, &r); err != nil {
		return r, err
	}

	if v, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0); err == nil && v == 1 {
		r.NoNewPrivs = true
	}
	r.DurationNS = time.Since(start).Nanoseconds()
	return r, nil
}

// statusKB returns a "Name:   123 kB" field of /proc/self/status, or 0.
func statusKB(status []byte, name string) uint64 {
	v := statusField(status, name)
	v = strings.TrimSuffix(v, " kB")
	n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	return n
}

// statusField returns the value of a /proc/self/status field, or "".
func statusField(status []byte, name string) string {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// pathRules turns the policy's paths into Landlock rules: a rule for a
// file may only carry file rights, so every path is looked at first.
func pathRules(p Policy) ([]landlock.Rule, []string, error) {
	var rules []landlock.Rule
	var skipped []string
	exec := llsyscall.AccessFSExecute
	if p.NoExec {
		exec = 0
	}
	add := func(paths []string, fileRights, dirRights landlock.AccessFSSet) error {
		for _, path := range paths {
			fi, err := os.Stat(path)
			if errors.Is(err, os.ErrNotExist) {
				skipped = append(skipped, path)
				continue
			}
			if err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
			rights := fileRights
			if fi.IsDir() {
				rights = dirRights
			}
			// IgnoreIfMissing covers a path removed since the Stat.
			rules = append(rules, landlock.PathAccess(rights, path).IgnoreIfMissing())
		}
		return nil
	}
	if err := add(p.ReadOnly, landlock.AccessFSSet(fsReadFile|exec), landlock.AccessFSSet(fsReadDir|exec)); err != nil {
		return nil, nil, err
	}
	if err := add(p.ReadWrite, landlock.AccessFSSet(fsReadFile|fsWriteFile|exec), landlock.AccessFSSet(fsReadDir|fsWriteDir|exec)); err != nil {
		return nil, nil, err
	}
	for _, port := range p.ConnectTCP {
		rules = append(rules, landlock.ConnectTCP(port))
	}
	return rules, skipped, nil
}

func applyRlimits(p Policy, r *Report) error {
	if p.FileSizeBytes > 0 {
		// A write past RLIMIT_FSIZE fails with EFBIG only while
		// SIGXFSZ is ignored; otherwise the signal kills the process.
		// The Go runtime ignores it by default, but a signal.Notify
		// elsewhere, or C code, may have changed that.
		signal.Ignore(syscall.SIGXFSZ)
	}
	limits := []struct {
		name     string
		resource int
		soft     uint64
		hard     uint64
	}{
		{"RLIMIT_AS", unix.RLIMIT_AS, p.MemoryBytes, p.MemoryBytes},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, p.FileSizeBytes, p.FileSizeBytes},
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, p.OpenFiles, p.OpenFiles},
		// SIGXCPU at the soft limit, SIGKILL at the hard one.
		{"RLIMIT_CPU", unix.RLIMIT_CPU, p.CPUSeconds, p.CPUSeconds + 1},
	}
	for _, l := range limits {
		if l.soft == 0 {
			continue
		}
		// syscall.Setrlimit (not unix) so that the Go runtime's own
		// bookkeeping of RLIMIT_NOFILE stays right.
		if err := syscall.Setrlimit(l.resource, &syscall.Rlimit{Cur: l.soft, Max: l.hard}); err != nil {
			return fmt.Errorf("sandbox: setrlimit(%s, %d): %w", l.name, l.soft, err)
		}
		r.Rlimits = append(r.Rlimits, fmt.Sprintf("%s=%d", l.name, l.soft))
	}
	return nil
}

// landlockABI returns the ABI that go-landlock enforces on this kernel
// (see Report.LandlockABI), or 0 and why Landlock is unavailable.
func landlockABI() (int, string) {
	v, err := llsyscall.LandlockGetABIVersion()
	switch {
	case errors.Is(err, unix.ENOSYS):
		return 0, "unavailable: the kernel has no Landlock support"
	case errors.Is(err, unix.EOPNOTSUPP):
		return 0, "unavailable: Landlock is disabled at boot (lsm= parameter)"
	case err != nil:
		return 0, "unavailable: " + err.Error()
	case v <= 0:
		return 0, "unavailable: the kernel answers ABI " + strconv.Itoa(v)
	}
	v = min(v, newestLandlockABI)
	if v >= 6 {
		// go-landlock downgrades to ABI 5 when the signal scoping
		// erratum is not fixed: mirror it to report the truth.
		if e, err := llsyscall.LandlockGetErrata(); err != nil || e&0x2 == 0 {
			v = 5
		}
	}
	return v, ""
}

func applyLandlock(p Policy, rules []landlock.Rule, r *Report) error {
	abi, why := landlockABI()
	if abi == 0 {
		r.Landlock = why
		return nil
	}
	if err := landlock.V11.BestEffort().Restrict(rules...); err != nil {
		return fmt.Errorf("sandbox: landlock: %w", err)
	}
	r.LandlockABI = abi
	r.LandlockFS = true
	r.LandlockTCP = abi >= 4
	r.LandlockScoped = abi >= 6
	what := "filesystem"
	if abi < 3 {
		what += " (truncate not restricted)"
	}
	if r.LandlockTCP {
		what += " and TCP"
	}
	if abi >= 10 {
		what += " and UDP"
	}
	desc := fmt.Sprintf("ABI %d: %s rules", abi, what)
	if r.LandlockScoped {
		desc += "; scoped: abstract unix sockets, signals"
	}
	if abi >= 9 {
		desc += "; pathname unix sockets"
	}
	r.Landlock = desc
	return nil
}

// Securebits (linux/securebits.h) that keep a uid-0 process from ever
// regaining capabilities: no capabilities for root at execve, none
// kept or lost on uid changes, no ambient raise, each one locked.
const lockedSecurebits = 1<<0 | 1<<1 | // SECBIT_NOROOT, _LOCKED
	1<<2 | 1<<3 | // SECBIT_NO_SETUID_FIXUP, _LOCKED
	1<<5 | // SECBIT_KEEP_CAPS_LOCKED (KEEP_CAPS itself off)
	1<<6 | 1<<7 // SECBIT_NO_CAP_AMBIENT_RAISE, _LOCKED

// dropCapabilities clears the capability sets on every thread, if the
// process holds any capability (it runs as root, typically): the
// securebits are locked first, then the bounding set is emptied (only
// when execve is not refused: the bounding set only matters at execve,
// and each drop costs a signal to every thread), the ambient set
// cleared, and the effective, permitted and inheritable sets zeroed.
func dropCapabilities(capLast int, r *Report) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("sandbox: capget: %w", err)
	}
	eff := uint64(data[1].Effective)<<32 | uint64(data[0].Effective)
	prm := uint64(data[1].Permitted)<<32 | uint64(data[0].Permitted)
	if eff == 0 && prm == 0 {
		r.Capabilities = "none held"
		return nil
	}
	// Needs CAP_SETPCAP; a process without it holds little to drop.
	if _, _, errno := psx.Syscall3(unix.SYS_PRCTL, unix.PR_SET_SECUREBITS, lockedSecurebits, 0); errno != 0 && errno != unix.EPERM {
		return fmt.Errorf("sandbox: prctl(PR_SET_SECUREBITS): %w", errno)
	}
	if !r.ExecRefused {
		for c := 0; c <= capLast; c++ {
			if _, _, errno := psx.Syscall3(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); errno != 0 && errno != unix.EINVAL && errno != unix.EPERM {
				return fmt.Errorf("sandbox: prctl(PR_CAPBSET_DROP, %d): %w", c, errno)
			}
		}
	}
	if _, _, errno := psx.Syscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); errno != 0 && errno != unix.EINVAL {
		return fmt.Errorf("sandbox: prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", errno)
	}
	data = [2]unix.CapUserData{}
	if _, _, errno := psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); errno != 0 {
		return fmt.Errorf("sandbox: capset: %w", errno)
	}
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	r.Capabilities = fmt.Sprintf("dropped (had effective %016x, permitted %016x)", eff, prm)
	return nil
}
