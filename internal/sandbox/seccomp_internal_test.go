//go:build linux

package sandbox

import (
	"fmt"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// simulate interprets the classic BPF subset that assemble emits on a
// struct seccomp_data, as the kernel would, and returns the action.
func simulate(t *testing.T, prog []unix.SockFilter, archID uint32, nr uint32, args ...uint64) uint32 {
	t.Helper()
	var data [16]uint32 // the 64 bytes of seccomp_data as 32-bit words
	data[0], data[1] = nr, archID
	for i, a := range args {
		data[4+2*i], data[5+2*i] = uint32(a), uint32(a>>32)
	}
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case bpfLdAbsW:
			acc = data[in.K/4]
		case bpfRetK:
			return in.K
		case bpfJeqK, bpfJgeK, bpfJsetK:
			var ok bool
			switch in.Code {
			case bpfJeqK:
				ok = acc == in.K
			case bpfJgeK:
				ok = acc >= in.K
			default:
				ok = acc&in.K != 0
			}
			if ok {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		default:
			t.Fatalf("unexpected opcode %#x at %d", in.Code, pc)
		}
	}
	t.Fatal("the program fell off its end")
	return 0
}

func TestSeccompProgram(t *testing.T) {
	info, err := arch.GetInfo("")
	if err != nil {
		t.Skip(err)
	}
	rules, _ := seccompRules(info, Policy{NoExec: true})
	prog := assemble(info, rules)
	if len(prog) > 4096 {
		t.Fatalf("program of %d instructions", len(prog))
	}
	id := uint32(info.ID)
	sys := func(name string) uint32 {
		n, ok := info.SyscallNames[name]
		if !ok {
			t.Fatalf("no syscall %s", name)
		}
		return uint32(n)
	}
	const allow = unix.SECCOMP_RET_ALLOW
	eperm, enosys := retErrno(unix.EPERM), retErrno(unix.ENOSYS)
	eproto, eafno := retErrno(unix.EPROTONOSUPPORT), retErrno(unix.EAFNOSUPPORT)
	stream := uint64(unix.SOCK_STREAM | unix.SOCK_CLOEXEC | unix.SOCK_NONBLOCK)
	cases := []struct {
		name string
		arch uint32
		nr   uint32
		args []uint64
		want uint32
	}{
		{"getpid", id, sys("getpid"), nil, allow},
		{"execve", id, sys("execve"), nil, eperm},
		{"execveat", id, sys("execveat"), nil, eperm},
		{"init_module", id, sys("init_module"), nil, eperm},
		{"io_uring_setup", id, sys("io_uring_setup"), nil, eperm},
		{"foreign arch", 0x40000003 /* AUDIT_ARCH_I386 */, 11, nil, unix.SECCOMP_RET_KILL_PROCESS},
		{"clone thread", id, sys("clone"), []uint64{unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD}, allow},
		{"clone newuser", id, sys("clone"), []uint64{unix.CLONE_NEWUSER}, eperm},
		{"clone newnet", id, sys("clone"), []uint64{unix.CLONE_VM | unix.CLONE_NEWNET}, eperm},
		{"clone3", id, sys("clone3"), nil, enosys},
		{"prlimit64 self", id, sys("prlimit64"), []uint64{0, unix.RLIMIT_NOFILE}, allow},
		{"prlimit64 other", id, sys("prlimit64"), []uint64{1, unix.RLIMIT_NOFILE}, eperm},
		{"tcp", id, sys("socket"), []uint64{unix.AF_INET, stream, 0}, allow},
		{"tcp6 IPPROTO_TCP", id, sys("socket"), []uint64{unix.AF_INET6, unix.SOCK_STREAM, unix.IPPROTO_TCP}, allow},
		{"unix dgram", id, sys("socket"), []uint64{unix.AF_UNIX, unix.SOCK_DGRAM, 0}, allow},
		// The family rule's conditions fail for AF_INET; the protocol
		// rule after it must still see the syscall number (what
		// go-seccomp-bpf v1.6.0's assembler gets wrong).
		{"udp", id, sys("socket"), []uint64{unix.AF_INET, unix.SOCK_DGRAM | unix.SOCK_CLOEXEC, 0}, eproto},
		{"udp6", id, sys("socket"), []uint64{unix.AF_INET6, unix.SOCK_DGRAM, 0}, eproto},
		{"raw", id, sys("socket"), []uint64{unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP}, eproto},
		{"seqpacket", id, sys("socket"), []uint64{unix.AF_INET, unix.SOCK_SEQPACKET, 0}, eproto},
		{"mptcp", id, sys("socket"), []uint64{unix.AF_INET, stream, 262}, eproto},
		{"sctp6", id, sys("socket"), []uint64{unix.AF_INET6, unix.SOCK_STREAM, unix.IPPROTO_SCTP}, eproto},
		{"netlink", id, sys("socket"), []uint64{unix.AF_NETLINK, unix.SOCK_RAW, 0}, eafno},
		{"packet", id, sys("socket"), []uint64{unix.AF_PACKET, unix.SOCK_RAW, 0}, eafno},
		// The kernel truncates int arguments: high bits must not evade.
		{"udp, high bits in domain", id, sys("socket"), []uint64{1<<32 | unix.AF_INET, unix.SOCK_DGRAM, 0}, eproto},
		{"mptcp, high bits in protocol", id, sys("socket"), []uint64{unix.AF_INET, unix.SOCK_STREAM, 1<<32 | 262}, eproto},
	}
	if info.ID == arch.X86_64.ID {
		cases = append(cases, struct {
			name string
			arch uint32
			nr   uint32
			args []uint64
			want uint32
		}{"x32 execve", id, x32SyscallBit | 520, nil, enosys})
	}
	for _, c := range cases {
		if got := simulate(t, prog, c.arch, c.nr, c.args...); got != c.want {
			t.Errorf("%s: action %s, want %s", c.name, action(got), action(c.want))
		}
	}
	// With NoSockets, no socket is created, whatever its family.
	rules, _ = seccompRules(info, Policy{NoSockets: true})
	noSockets := assemble(info, rules)
	for _, c := range []struct {
		name string
		nr   uint32
		args []uint64
		want uint32
	}{
		{"tcp", sys("socket"), []uint64{unix.AF_INET, stream, 0}, eafno},
		{"tcp6", sys("socket"), []uint64{unix.AF_INET6, unix.SOCK_STREAM, unix.IPPROTO_TCP}, eafno},
		{"udp", sys("socket"), []uint64{unix.AF_INET, unix.SOCK_DGRAM, 0}, eafno},
		{"unix", sys("socket"), []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, eafno},
		{"socketpair", sys("socketpair"), []uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0}, eperm},
		{"recvmsg", sys("recvmsg"), nil, allow},
		{"sendmsg", sys("sendmsg"), nil, allow},
	} {
		if got := simulate(t, noSockets, id, c.nr, c.args...); got != c.want {
			t.Errorf("NoSockets, %s: action %s, want %s", c.name, action(got), action(c.want))
		}
	}
	// Without NoExec, execve is allowed.
	rules, _ = seccompRules(info, Policy{})
	if got := simulate(t, assemble(info, rules), id, sys("execve")); got != allow {
		t.Errorf("execve without NoExec: %s", action(got))
	}
}

func action(a uint32) string {
	switch a & unix.SECCOMP_RET_ACTION_FULL {
	case unix.SECCOMP_RET_ALLOW:
		return "allow"
	case unix.SECCOMP_RET_KILL_PROCESS:
		return "kill"
	case unix.SECCOMP_RET_ERRNO:
		return "errno " + unix.ErrnoName(unix.Errno(a&unix.SECCOMP_RET_DATA))
	}
	return fmt.Sprintf("%#x", a)
}
