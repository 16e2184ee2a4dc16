package server

import (
	"context"
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLikeToGlob(t *testing.T) {
	for like, glob := range map[string]string{
		"a%":    "a*",
		"_b%":   "?b*",
		"a*b?c": "a[*]b[?]c",
		"[x]%":  "[[]x]*",
	} {
		assert.Equal(t, glob, likeToGlob(like), like)
	}
}

func TestPyJSONSeparators(t *testing.T) {
	assert.Equal(t, `{"a": [1, 2], "b": "x, y: z", "c": "q\"r, s"}`, pyJSONSeparators(`{"a":[1,2],"b":"x, y: z","c":"q\"r, s"}`))
}

func TestPySliceTo(t *testing.T) {
	xs := []int{1, 2, 3}
	assert.Equal(t, []int{1, 2}, pySliceTo(xs, 2))
	assert.Equal(t, []int{1, 2, 3}, pySliceTo(xs, 5))
	assert.Equal(t, []int{1}, pySliceTo(xs, -2))
	assert.Empty(t, pySliceTo(xs, -5))
}

func TestLoggedModelSource(t *testing.T) {
	for source, id := range map[string]string{
		"models:/m-abc":         "m-abc",
		"models:/m-abc/MLmodel": "",
		"models:/Churn/1":       "",
		"models://host/m-abc":   "",
		"runs:/m-abc":           "",
	} {
		assert.Equal(t, id, loggedModelSource(source), source)
	}
}

// The store's logged model search: pages carry the search they belong to,
// and a token of another search is refused.
func TestSearchLoggedModelsPages(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	for _, n := range []string{"c", "a", "b"} {
		_, err := st.CreateLoggedModel(ctx, newLoggedModel{experimentID: "0", name: n})
		require.NoError(t, err)
	}
	a := searchLoggedModelsArgs{experimentIDs: []string{"0"}, maxResults: 2, orderBy: []loggedModelOrder{{field: "name", ascending: true}}}
	page, next, err := st.SearchLoggedModels(ctx, a)
	require.NoError(t, err)
	require.Len(t, page, 2)
	assert.Equal(t, []string{"a", "b"}, []string{page[0].name, page[1].name})
	raw, _ := base64.StdEncoding.DecodeString(next)
	assert.Equal(t, `{"experiment_ids": ["0"], "filter_string": null, "order_by": [{"field_name": "name", "ascending": true, "dataset_name": null, "dataset_digest": null}], "offset": 2}`, string(raw))
	a.pageToken = next
	page, next, err = st.SearchLoggedModels(ctx, a)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, "c", page[0].name)
	assert.Empty(t, next)

	a.filter = "name = 'a'"
	_, _, err = st.SearchLoggedModels(ctx, a)
	requireAPIError(t, err, http.StatusBadRequest, codeInvalidParameter,
		"Filter string in the page token does not match the requested filter string. Expected: name = 'a'. Found: None")
	a.pageToken = "not base64!"
	_, _, err = st.SearchLoggedModels(ctx, a)
	require.Error(t, err)

	// max_results -1, taken literally as MLflow does: LIMIT 0, no model,
	// and a token at offset -1.
	none, next, err := st.SearchLoggedModels(ctx, searchLoggedModelsArgs{experimentIDs: []string{"0"}, maxResults: -1})
	require.NoError(t, err)
	assert.Empty(t, none)
	raw, _ = base64.StdEncoding.DecodeString(next)
	assert.Contains(t, string(raw), `"offset": -1}`)
}
