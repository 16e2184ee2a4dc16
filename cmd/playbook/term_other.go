//go:build !linux

package main

import "os"

// cbreak does nothing here: keys are read a line at a time (q, then
// Enter).
func cbreak(*os.File) (restore func()) { return func() {} }

// isTTY reports whether f is a terminal (a character device, here).
func isTTY(f *os.File) bool { return isTerminal(f) }
