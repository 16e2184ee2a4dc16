package main

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// kernelSysProcAttr puts the kernel in a process group of its own (ended
// as one) that dies with playbook (a parent killed cannot leave it
// running).
func kernelSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup ends the process p and its process group.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }

// undumpable makes playbook's process not dumpable (prctl
// PR_SET_DUMPABLE 0) before it starts a kernel: its /proc files then
// belong to root, so that a kernel running as the same user, where
// Landlock is missing, cannot read /proc/PID/environ (the credentials)
// or its memory. Its command line stays readable: a password in
// --tracking-uri is seen there (use MLFLOW_TRACKING_PASSWORD).
func undumpable() { _ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) }
