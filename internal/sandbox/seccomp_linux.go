//go:build linux

package sandbox

import (
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// The seccomp filter is a deny list: everything is allowed except the
// rules below. go-seccomp-bpf provides the syscall tables and audit
// architecture of every Linux architecture; the BPF program itself is
// generated here, because go-seccomp-bpf v1.6.0's assembler does not
// reload the syscall number after a group whose argument conditions
// failed, so a later group compares an argument instead of the syscall
// number and lets the syscall through (found by this package's tests:
// a UDP socket passed a rule placed after another socket rule).

// privilegedSyscalls are refused with EPERM: a Go program interpreting
// cells has no use for them, and they are either privileged (refused
// to a process without capabilities anyway, which this one may not be
// yet) or a large kernel attack surface. Names unknown on the running
// architecture are skipped.
var privilegedSyscalls = []string{
	"init_module", "finit_module", "delete_module",
	"kexec_load", "kexec_file_load", "reboot",
	"swapon", "swapoff", "acct", "quotactl", "syslog", "vhangup",
	"mount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "open_tree", "move_mount", "mount_setattr",
	"unshare", "setns",
	"bpf", "perf_event_open", "userfaultfd",
	"keyctl", "add_key", "request_key",
	"ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "pidfd_getfd",
	"migrate_pages", "move_pages",
	"open_by_handle_at", "name_to_handle_at",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"iopl", "ioperm",
}

// cloneNamespaceFlags are the clone(2) flags that make a new namespace.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWCGROUP | unix.CLONE_NEWUTS |
	unix.CLONE_NEWIPC | unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET

// Classic BPF opcodes, and the layout of struct seccomp_data.
const (
	bpfLdAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	bpfJsetK  = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
	bpfRetK   = unix.BPF_RET | unix.BPF_K

	offNr   = 0
	offArch = 4
	offArgs = 16 // args[i] at offArgs+8*i; its low 32 bits first on little-endian
)

// x32SyscallBit marks x32 syscalls on amd64, which share its audit arch.
const x32SyscallBit = 0x40000000

// condOp is how a condition compares a syscall argument.
type condOp int

const (
	opEq      condOp = iota // arg == val
	opNe                    // arg != val
	opAnySet                // arg & val != 0
	opNoneSet               // arg & val == 0
)

// cond tests the low 32 bits of argument arg. Only the low 32 bits are
// compared, because the arguments tested here are C ints, which the
// kernel truncates: comparing 64 bits would let a caller evade an
// equality test by setting the high bits. (clone's flags are an
// unsigned long whose namespace flags are all in the low word.)
type cond struct {
	arg int
	op  condOp
	val uint32
}

// rule refuses syscall nr with action when any of its condition sets
// holds (each set being a conjunction); with no sets, always.
type rule struct {
	nr     uint32
	sets   [][]cond
	action uint32
}

func retErrno(e unix.Errno) uint32 { return unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA }

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf int) unix.SockFilter {
	if jt > 255 || jf > 255 {
		panic("sandbox: seccomp jump too long")
	}
	return unix.SockFilter{Code: code, K: k, Jt: uint8(jt), Jf: uint8(jf)}
}

// assemble builds the program: kill on a foreign architecture, refuse
// x32 syscalls on amd64, then each rule, then allow. Every rule starts
// and ends with the syscall number in the accumulator.
func assemble(info *arch.Info, rules []rule) []unix.SockFilter {
	prog := []unix.SockFilter{
		stmt(bpfLdAbsW, offArch),
		jump(bpfJeqK, uint32(info.ID), 1, 0),
		stmt(bpfRetK, unix.SECCOMP_RET_KILL_PROCESS),
		stmt(bpfLdAbsW, offNr),
	}
	if info.ID == arch.X86_64.ID {
		prog = append(prog,
			jump(bpfJgeK, x32SyscallBit, 0, 1),
			stmt(bpfRetK, retErrno(unix.ENOSYS)))
	}
	for _, r := range rules {
		if len(r.sets) == 0 {
			prog = append(prog, jump(bpfJeqK, r.nr, 0, 1), stmt(bpfRetK, r.action))
			continue
		}
		var body []unix.SockFilter
		for _, set := range r.sets {
			for j, c := range set {
				// On failure, skip the rest of this set: its other
				// conditions (2 instructions each) and its return.
				skip := 2*(len(set)-1-j) + 1
				body = append(body, stmt(bpfLdAbsW, uint32(offArgs+8*c.arg)))
				switch c.op {
				case opEq:
					body = append(body, jump(bpfJeqK, c.val, 0, skip))
				case opNe:
					body = append(body, jump(bpfJeqK, c.val, skip, 0))
				case opAnySet:
					body = append(body, jump(bpfJsetK, c.val, 0, skip))
				case opNoneSet:
					body = append(body, jump(bpfJsetK, c.val, skip, 0))
				default:
					panic("sandbox: bad seccomp condition")
				}
			}
			body = append(body, stmt(bpfRetK, r.action))
		}
		// No set held: reload the syscall number for the next rules.
		body = append(body, stmt(bpfLdAbsW, offNr))
		// A different syscall skips the body, reload included: the
		// accumulator was not touched.
		prog = append(prog, jump(bpfJeqK, r.nr, 0, len(body)))
		prog = append(prog, body...)
	}
	return append(prog, stmt(bpfRetK, unix.SECCOMP_RET_ALLOW))
}

// seccompRules returns the rules for p and a description of them.
func seccompRules(info *arch.Info, p Policy) ([]rule, []string) {
	nr := func(name string) (uint32, bool) {
		n, ok := info.SyscallNames[name]
		return uint32(n | info.SeccompMask), ok
	}
	eperm := retErrno(unix.EPERM)
	var rules []rule
	var desc []string
	if p.NoExec {
		for _, name := range []string{"execve", "execveat"} {
			if n, ok := nr(name); ok {
				rules = append(rules, rule{nr: n, action: eperm})
			}
		}
		desc = append(desc, "execve refused")
	}
	count := 0
	for _, name := range privilegedSyscalls {
		if n, ok := nr(name); ok {
			rules = append(rules, rule{nr: n, action: eperm})
			count++
		}
	}
	if n, ok := nr("clone"); ok {
		rules = append(rules, rule{nr: n, action: eperm, sets: [][]cond{{{0, opAnySet, cloneNamespaceFlags}}}})
	}
	if n, ok := nr("prlimit64"); ok {
		// Another process's limits: pid != 0.
		rules = append(rules, rule{nr: n, action: eperm, sets: [][]cond{{{0, opNe, 0}}}})
	}
	desc = append(desc, fmt.Sprintf("%d privileged syscalls, namespaces and other processes' rlimits refused", count))
	if p.NoProcesses {
		for _, name := range []string{"fork", "vfork"} {
			if n, ok := nr(name); ok {
				rules = append(rules, rule{nr: n, action: eperm})
			}
		}
		if n, ok := nr("clone"); ok {
			rules = append(rules, rule{nr: n, action: eperm, sets: [][]cond{{{0, opNoneSet, unix.CLONE_THREAD}}}})
		}
		desc = append(desc, "no child process (threads only)")
	}
	if n, ok := nr("clone3"); ok {
		// clone3's flags are in memory, out of a filter's reach: make
		// the C library and the Go runtime fall back to clone(2).
		rules = append(rules, rule{nr: n, action: retErrno(unix.ENOSYS)})
	}
	if n, ok := nr("socket"); ok {
		switch {
		case p.NoSockets:
			rules = append(rules, rule{nr: n, action: retErrno(unix.EAFNOSUPPORT)})
			desc = append(desc, "sockets: none created (inherited and received ones only)")
		case p.NoUnixSockets:
			rules = append(rules, socketRules(n, true)...)
			desc = append(desc, "sockets: TCP only")
		default:
			rules = append(rules, socketRules(n, false)...)
			desc = append(desc, "sockets: unix and TCP only")
		}
	}
	if n, ok := nr("socketpair"); ok && (p.NoUnixSockets || p.NoSockets) {
		rules = append(rules, rule{nr: n, action: eperm})
	}
	return rules, desc
}

// socketRules limit socket(2) to AF_UNIX and to TCP over AF_INET and
// AF_INET6: Landlock's TCP rules do not cover UDP (before ABI 10), raw
// sockets, SCTP or Multipath TCP (which Go's net.Listen tries first,
// falling back to TCP when it is refused).
func socketRules(nr uint32, noUnix bool) []rule {
	const (
		domain, typ, proto = 0, 1, 2
		typeMask           = 0xf // SOCK_TYPE_MASK; above are SOCK_NONBLOCK, SOCK_CLOEXEC
	)
	allowed := []cond{{domain, opNe, unix.AF_UNIX}, {domain, opNe, unix.AF_INET}, {domain, opNe, unix.AF_INET6}}
	if noUnix {
		allowed = allowed[1:]
	}
	families := rule{nr: nr, action: retErrno(unix.EAFNOSUPPORT), sets: [][]cond{allowed}}
	notTCP := rule{nr: nr, action: retErrno(unix.EPROTONOSUPPORT)}
	for _, family := range []uint32{unix.AF_INET, unix.AF_INET6} {
		notTCP.sets = append(notTCP.sets,
			// A protocol other than 0 or IPPROTO_TCP (MPTCP, SCTP...).
			[]cond{{domain, opEq, family}, {proto, opNe, 0}, {proto, opNe, unix.IPPROTO_TCP}},
			// type & SOCK_TYPE_MASK != SOCK_STREAM, as two tests.
			[]cond{{domain, opEq, family}, {typ, opNoneSet, unix.SOCK_STREAM}},
			[]cond{{domain, opEq, family}, {typ, opAnySet, typeMask &^ unix.SOCK_STREAM}},
		)
	}
	return []rule{families, notTCP}
}

func applySeccomp(p Policy, r *Report) error {
	info, err := arch.GetInfo("")
	if err != nil {
		r.Seccomp = "unavailable: " + err.Error()
		return nil
	}
	rules, desc := seccompRules(info, p)
	filter := assemble(info, rules)
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	ret, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(filter)
	switch {
	case errno == unix.ENOSYS:
		r.Seccomp = "unavailable: " + errno.Error()
		return nil
	case errno != 0:
		return fmt.Errorf("sandbox: seccomp: %w", errno)
	case ret != 0:
		// With TSYNC, a positive result names a thread that could not
		// be synchronised.
		return fmt.Errorf("sandbox: seccomp: thread %d could not be synchronised", ret)
	}
	r.SeccompActive = true
	r.ExecRefused, r.NoProcesses = p.NoExec, p.NoProcesses
	for _, name := range privilegedSyscalls {
		if _, ok := info.SyscallNames[name]; ok {
			r.PrivilegedRefused++
		}
	}
	switch {
	case p.NoSockets:
		r.Sockets = SocketsNone
	case p.NoUnixSockets:
		r.Sockets = SocketsTCP
	default:
		r.Sockets = SocketsUnixTCP
	}
	r.Seccomp = strings.Join(desc, "; ")
	return nil
}
