package scenarios

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEmbeddedAreTheFolder: every scenario of the folder is embedded,
// byte for byte, and nothing else.
func TestEmbeddedAreTheFolder(t *testing.T) {
	onDisk, err := filepath.Glob("*.md")
	require.NoError(t, err)
	assert.Equal(t, onDisk, Names())
	for _, n := range onDisk {
		want, err := os.ReadFile(n)
		require.NoError(t, err)
		got, err := fs.ReadFile(FS(), n)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), n)
		b, err := Read(n)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(b), n)
	}
}

func TestLookup(t *testing.T) {
	for _, name := range []string{"churn-promotion.fr", "churn-promotion.fr.md"} {
		n, ok := Lookup(name)
		assert.True(t, ok, name)
		assert.Equal(t, "churn-promotion.fr.md", n, name)
	}
	for _, name := range []string{"churn-promotion", "", "scenarios/churn-training.md", "./churn-training.md", "embed.go"} {
		_, ok := Lookup(name)
		assert.False(t, ok, name)
	}
	_, err := Read("../go.mod")
	assert.ErrorIs(t, err, fs.ErrNotExist)
}
