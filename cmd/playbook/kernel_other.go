//go:build !linux

package main

import (
	"os"
	"syscall"
)

// kernelSysProcAttr: no process group of its own where Linux's are
// missing; the kernel is ended alone.
func kernelSysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup ends the process p.
func killGroup(p *os.Process) { _ = p.Kill() }

// undumpable: nothing to do where Linux's prctl is missing.
func undumpable() {}
