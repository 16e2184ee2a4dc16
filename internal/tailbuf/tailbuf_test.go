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
