// Package sandbox restricts the current process irreversibly, so that a
// process about to run untrusted code (playbook's cell "kernel", a
// re-exec of playbook's own binary) can lock itself down before it
// interprets anything.
//
// [Apply] takes a [Policy] and, on Linux, stacks these protections, in
// this order, on every thread of the process:
//
//  1. no_new_privs (prctl PR_SET_NO_NEW_PRIVS), which Landlock and
//     seccomp need and which makes set-uid binaries inert.
//  2. Landlock (github.com/landlock-lsm/go-landlock, best-effort mode):
//     the whole filesystem is refused except Policy.ReadOnly (read, list)
//     and Policy.ReadWrite (read, list, create, write, truncate, remove,
//     make directories, symlinks, fifos and sockets; never device nodes,
//     never "refer" i.e. no rename or link across directories); TCP
//     bind(2) is refused and TCP connect(2) is limited to
//     Policy.ConnectTCP (ABI >= 4); connecting to abstract unix sockets
//     and sending signals outside the sandbox are refused (ABI >= 6);
//     connecting to pathname unix sockets created outside the sandbox
//     is refused (ABI >= 9); UDP is refused (ABI >= 10). An older kernel
//     enforces what it can, and [Report] says exactly what that was.
//  3. A seccomp-bpf filter (generated here from the syscall tables of
//     github.com/elastic/go-seccomp-bpf, whose own assembler mishandles
//     argument conditions; installed with SECCOMP_FILTER_FLAG_TSYNC on
//     all threads) that
//     refuses with EPERM: execve and execveat (if Policy.NoExec); the
//     privileged or attack-surface syscalls that a Go interpreter never
//     needs (module loading, kexec, reboot, mount and the new mount API,
//     chroot, pivot_root, unshare, setns, clone with namespace flags,
//     bpf, perf_event_open, userfaultfd, keyrings, ptrace,
//     process_vm_readv/writev, open_by_handle_at, io_uring, clock and
//     swap changes, prlimit64 on another process); clone3 answers
//     ENOSYS so that threads are created with the filterable clone(2);
//     socket(2) is limited to AF_UNIX and to TCP over AF_INET/AF_INET6
//     (no UDP, raw, SCTP or Multipath TCP, which Landlock's TCP rules do
//     not cover: Go's net.Listen tries MPTCP first and falls back to TCP
//     when it is refused); with Policy.NoUnixSockets, to TCP, with no
//     socketpair(2); with Policy.NoSockets, socket(2) and socketpair(2)
//     are refused whatever the family (EAFNOSUPPORT, EPERM): the process
//     has only the sockets it inherited and those it receives on them
//     (recvmsg with SCM_RIGHTS), and so no IP networking at all, whatever
//     Landlock's TCP rule allows (a port on any address). Syscalls of a foreign architecture (i386's
//     on amd64) kill the process and x32 syscalls answer ENOSYS, so the
//     filter cannot be bypassed through another syscall table.
//  4. Capabilities: if the process has any (it runs as root), the
//     securebits are locked (SECBIT_NOROOT and friends: root gains no
//     capability at execve), the bounding set is emptied (when execve
//     is not refused anyway), and the ambient, effective, permitted and
//     inheritable sets are cleared, on all threads, so that root inside
//     the sandbox cannot raise its rlimits back or use other privileges.
//  5. Resource limits (setrlimit), last so that a low RLIMIT_NOFILE
//     does not starve the steps before: address space (RLIMIT_AS), size
//     of a written file (RLIMIT_FSIZE), open files (RLIMIT_NOFILE) and
//     CPU time (RLIMIT_CPU). SIGXFSZ is ignored so that an over-long
//     write fails with EFBIG instead of killing the process.
//
// # Threat model
//
// Covered: code running inside the process (Go interpreted by yaegi,
// including code that reaches package syscall or unsafe) reading or
// writing files outside the allowed paths, following a symlink out of
// them, reading /proc (including /proc/self/environ and the /proc of
// other processes: /proc is refused as a whole unless a policy allows
// it), starting another program (os/exec, syscall.Exec, a set-uid
// binary), opening TCP connections to other ports or listening on
// TCP, talking UDP/raw/SCTP/MPTCP, reaching abstract unix sockets or
// signalling processes outside the sandbox (ABI >= 6), exhausting memory,
// disk, file descriptors or CPU beyond the limits, and using root's
// capabilities.
//
// Not covered:
//
//   - File descriptors opened before Apply keep the access they were
//     opened with (Landlock checks at open time): the caller must close
//     what the untrusted code should not reach.
//   - Operations Landlock does not restrict: stat(2), readlink(2),
//     access(2), chdir(2), getxattr, and reading an existing directory's
//     entries through an fd opened earlier. File names and metadata
//     outside the allowed paths can still be probed.
//   - Without Policy.NoSockets, connecting to an allowed TCP port on any
//     host (Landlock filters by port only, not address); with
//     Policy.NoSockets, what the inherited sockets reach (the caller
//     chooses them). Without NoSockets or NoUnixSockets, connecting to a
//     pathname unix socket that was created outside the sandbox on
//     kernels older than ABI 9.
//   - Signals and abstract unix sockets to processes outside the sandbox
//     on kernels older than ABI 6 (this kernel family: 6.12+ has it);
//     other processes of the same user may still be reached by
//     kill(2) there.
//   - Kernel bugs, side channels, and denial of service that the rlimits
//     do not bound (e.g. threads, page cache, wall-clock time: the
//     parent must keep a timeout and kill the kernel process).
//   - With Landlock unavailable (an old kernel, or disabled at boot),
//     the filesystem and network are not restricted at all: check
//     [Report.LandlockABI] and refuse to run untrusted code if a caller
//     needs it.
//
// On other operating systems [Apply] restricts nothing and says so in
// its [Report].
//
// RLIMIT_AS limits virtual address space, not resident memory: the Go
// runtime reserves several hundred MiB of address space at start, so
// Policy.MemoryBytes must be well above the process's current VmSize
// ([Apply] refuses a limit below it, which would crash the runtime at
// its next mmap). When the limit is hit, the runtime dies with "fatal
// error: out of memory": that cannot be recovered from.
package sandbox
