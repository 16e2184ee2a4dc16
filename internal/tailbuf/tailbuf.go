// Package tailbuf keeps the end of a child process's output, for the
// error that says why the process stopped.
package tailbuf

import (
	"strings"
	"sync"
)

// Buffer is an io.Writer that keeps the last Max bytes written to it. It
// is safe for concurrent use (a process's stdout and stderr, a reader).
type Buffer struct {
	Max int

	mu sync.Mutex
	b  []byte
}

// Write keeps p, dropping what falls more than Max bytes back.
func (t *Buffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.Max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// String returns what is kept.
func (t *Buffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// Lines returns what is kept, split into lines, without the final newline.
func (t *Buffer) Lines() []string {
	return strings.Split(strings.TrimRight(t.String(), "\n"), "\n")
}

// Last returns the last n non-empty lines kept, trimmed, joined by " | ":
// a child's last words on one line of an error.
func (t *Buffer) Last(n int) string {
	var lines []string
	for _, l := range t.Lines() {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}
