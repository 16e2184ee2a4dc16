package tailbuf

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBufferKeepsTheEnd(t *testing.T) {
	b := &Buffer{Max: 16}
	for i := range 10 {
		n, err := b.Write([]byte("line " + strconv.Itoa(i) + "\n"))
		require.NoError(t, err)
		assert.Equal(t, 7, n)
	}
	assert.Len(t, b.String(), 16)
	assert.Equal(t, "7\nline 8\nline 9\n", b.String())
	lines := b.Lines()
	assert.Equal(t, []string{"7", "line 8", "line 9"}, lines)
}

// TestBufferLast: the last non-empty lines, trimmed, on one line.
func TestBufferLast(t *testing.T) {
	b := &Buffer{Max: 64}
	_, _ = b.Write([]byte("one\n  two  \n\n\tthree\n\n"))
	assert.Equal(t, "two | three", b.Last(2))
	assert.Equal(t, "one | two | three", b.Last(5))
	assert.Equal(t, "", (&Buffer{Max: 8}).Last(3))
}
