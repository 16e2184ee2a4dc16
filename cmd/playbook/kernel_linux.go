package main

import (
	"os"
	"syscall"
)

// kernelSysProcAttr puts the kernel in a process group of its own (ended
// as one) that dies with playbook (a parent killed cannot leave it
// running).
func kernelSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// killGroup ends the process p and its process group.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
