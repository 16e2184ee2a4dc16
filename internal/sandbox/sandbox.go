package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// Policy says what the process may still do after [Apply].
type Policy struct {
	// ReadOnly lists files or directories (whole hierarchies) that stay
	// readable. Paths that do not exist are skipped (and listed in
	// Report.SkippedPaths): a missing path grants nothing.
	ReadOnly []string
	// ReadWrite lists files or directories (whole hierarchies) that stay
	// readable and writable. Files may be created, written, truncated,
	// removed; directories may be made; symbolic links, fifos, sockets and
	// device nodes may not, and files may not be renamed or linked into
	// another directory.
	ReadWrite []string
	// ConnectTCP lists the TCP ports that connect(2) may reach, on any
	// address. Empty means no TCP connection at all. TCP bind(2) (and so
	// net.Listen) is always refused.
	ConnectTCP []uint16
	// NoExec refuses execve(2) and execveat(2) with EPERM, and withholds
	// Landlock's execute right from ReadOnly and ReadWrite.
	NoExec bool
	// NoProcesses refuses fork(2), vfork(2) and clone(2) of a process
	// (without CLONE_THREAD) with EPERM: the process may make threads,
	// never a child that could outlive it or leave its process group.
	NoProcesses bool
	// NoUnixSockets refuses socket(AF_UNIX) and socketpair(2): Landlock
	// does not restrict connecting to a pathname unix socket before ABI 9
	// (the Docker daemon's, an SSH agent's, D-Bus).
	NoUnixSockets bool
	// NoSockets refuses socket(2) (whatever the family: no TCP, UDP or
	// unix socket) and socketpair(2): the process keeps only the sockets
	// it inherited, and those it receives on them (recvmsg with
	// SCM_RIGHTS creates no socket). Landlock's TCP rule is a port on any
	// address; with no socket created, the process has no IP networking
	// at all. It implies NoUnixSockets.
	NoSockets bool
	// MemoryBytes sets RLIMIT_AS (virtual address space); 0 leaves it
	// unchanged. It must exceed the process's current VmSize.
	MemoryBytes uint64
	// FileSizeBytes sets RLIMIT_FSIZE (largest file the process may
	// write); 0 leaves it unchanged. Writes beyond fail with EFBIG.
	FileSizeBytes uint64
	// OpenFiles sets RLIMIT_NOFILE (one more than the highest file
	// descriptor number); 0 leaves it unchanged.
	OpenFiles uint64
	// CPUSeconds sets RLIMIT_CPU: SIGXCPU after that much CPU time, and
	// SIGKILL one second later; 0 leaves it unchanged.
	CPUSeconds uint64
}

// DefaultReadOnly returns the minimum system paths that the Go runtime
// and a yaegi interpreter need to keep working after [Apply], to be put
// in Policy.ReadOnly:
//
//   - /dev/null: os/exec opens it for a command's missing stdin (and
//     for its missing stdout and stderr, which needs [DefaultReadWrite]).
//   - /dev/urandom and /dev/random: crypto/rand uses getrandom(2), which
//     Landlock does not restrict, but falls back to /dev/urandom on
//     kernels without it.
//   - /usr/share/zoneinfo and /etc/localtime: time.LoadLocation and the
//     lazy initialisation of time.Local read them.
//   - /etc/ssl/certs is NOT included, nor /etc/hosts, /etc/resolv.conf
//     or /etc/nsswitch.conf: a kernel that only dials an allowed
//     loopback port by IP literal does not need name resolution.
//
// The Go runtime does not need /proc or /sys after it has started (it
// reads them at start, before Apply): this package's tests run the
// garbage collector, goroutines, timers, fmt, crypto/rand, time zones
// and a yaegi interpreter after Apply, with /proc and /sys refused.
// Missing paths are skipped by Apply, so the list is safe on systems
// that lack some of them (a binary can also embed time/tzdata).
func DefaultReadOnly() []string {
	return []string{
		"/dev/null",
		"/dev/urandom",
		"/dev/random",
		"/usr/share/zoneinfo",
		"/etc/localtime",
	}
}

// DefaultReadWrite returns the system paths that may stay writable in
// Policy.ReadWrite: only /dev/null, which code discarding output opens
// for writing (os/exec for a command's missing stdout and stderr).
func DefaultReadWrite() []string {
	return []string{"/dev/null"}
}

// Report.Sockets values.
const (
	SocketsNone    = "none"     // none created: inherited and received ones only
	SocketsTCP     = "tcp"      // TCP only
	SocketsUnixTCP = "unix+tcp" // unix and TCP only
)

// Report says which protections [Apply] put in place. Its JSON field
// names are stable.
type Report struct {
	// LandlockABI is the Landlock ABI version that was enforced: 0 if
	// Landlock was not available. This is the kernel's version, lowered
	// to the newest one that go-landlock knows and to 5 on kernels
	// whose signal-scoping erratum is not fixed.
	LandlockABI int `json:"landlock_abi"`
	// Landlock describes it, e.g. "ABI 7: filesystem and TCP rules;
	// scoped: abstract unix sockets, signals", or "unavailable: <why>".
	Landlock string `json:"landlock"`
	// LandlockFS, LandlockTCP and LandlockScoped say which parts of the
	// Landlock policy are enforced.
	LandlockFS     bool `json:"landlock_fs"`
	LandlockTCP    bool `json:"landlock_tcp"`
	LandlockScoped bool `json:"landlock_scoped"`
	// Seccomp describes the seccomp filter, e.g. "execve refused;
	// 49 privileged syscalls, namespaces and other processes' rlimits
	// refused; sockets: unix and TCP only", or "unavailable: <why>".
	Seccomp string `json:"seccomp"`
	// SeccompActive says a seccomp filter is installed.
	SeccompActive bool `json:"seccomp_active"`
	// ExecRefused says execve and execveat are refused; NoProcesses that
	// no child process may be made (threads only); PrivilegedRefused how
	// many privileged syscalls are refused; Sockets which sockets may be
	// created (SocketsNone, SocketsTCP, SocketsUnixTCP). Like the
	// Landlock fields, they say in data what Seccomp says in English.
	ExecRefused       bool   `json:"exec_refused"`
	NoProcesses       bool   `json:"no_processes,omitempty"`
	PrivilegedRefused int    `json:"privileged_refused,omitempty"`
	Sockets           string `json:"sockets,omitempty"`
	// NoNewPrivs says no_new_privs is set.
	NoNewPrivs bool `json:"no_new_privs"`
	// Capabilities says what became of the process's capabilities, e.g.
	// "none held" or "dropped (had effective 000001fffeffffff,
	// permitted 000001fffeffffff)".
	Capabilities string `json:"capabilities"`
	// Rlimits lists the limits set, e.g. "RLIMIT_AS=1073741824".
	Rlimits []string `json:"rlimits"`
	// SkippedPaths lists the policy paths that did not exist.
	SkippedPaths []string `json:"skipped_paths,omitempty"`
	// DurationNS is how long Apply took, in nanoseconds.
	DurationNS int64 `json:"duration_ns"`
}

// Duration is how long Apply took.
func (r Report) Duration() time.Duration { return time.Duration(r.DurationNS) }

// String renders the report on a few lines for a human.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "landlock: %s\n", r.Landlock)
	fmt.Fprintf(&b, "seccomp: %s\n", r.Seccomp)
	fmt.Fprintf(&b, "no_new_privs: %v\n", r.NoNewPrivs)
	fmt.Fprintf(&b, "capabilities: %s\n", r.Capabilities)
	rl := "unchanged"
	if len(r.Rlimits) > 0 {
		rl = strings.Join(r.Rlimits, ", ")
	}
	fmt.Fprintf(&b, "rlimits: %s\n", rl)
	if len(r.SkippedPaths) > 0 {
		fmt.Fprintf(&b, "skipped (missing) paths: %s\n", strings.Join(r.SkippedPaths, ", "))
	}
	fmt.Fprintf(&b, "applied in %v", r.Duration())
	return b.String()
}
