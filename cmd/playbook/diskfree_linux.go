package main

import "syscall"

// diskFree returns the bytes an unprivileged process may still write on
// the file system of dir, and its free inodes (-1 when it does not count
// them); ok is false when the system cannot say.
func diskFree(dir string) (bytes uint64, inodes int64, ok bool, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, false, err
	}
	inodes = -1
	if st.Files > 0 {
		inodes = int64(st.Ffree)
	}
	return st.Bavail * uint64(st.Bsize), inodes, true, nil
}
