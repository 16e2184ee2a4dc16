package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// cbreak puts the terminal f in non-canonical mode without echo (a key is
// read as it is typed; ^C still sends SIGINT) and returns what restores
// it. On a file that is not a terminal it does nothing.
func cbreak(f *os.File) (restore func()) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	t := *old
	t.Lflag &^= unix.ICANON | unix.ECHO
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return func() {}
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }
}

// isTTY reports whether f is a terminal (not only a character device:
// /dev/null is one too).
func isTTY(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
