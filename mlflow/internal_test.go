package mlflow

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitBatch(t *testing.T) {
	t.Parallel()
	mk := func(nm, np, nt, valueLen int) ([]Metric, []Param, []Tag) {
		var (
			m []Metric
			p []Param
			g []Tag
		)
		for i := range nm {
			m = append(m, Metric{Key: fmt.Sprint("m", i), Value: float64(i), Timestamp: 1})
		}
		for i := range np {
			p = append(p, Param{Key: fmt.Sprint("p", i), Value: strings.Repeat("v", valueLen)})
		}
		for i := range nt {
			g = append(g, Tag{Key: fmt.Sprint("t", i), Value: strings.Repeat("v", valueLen)})
		}
		return m, p, g
	}
	for _, tc := range []struct {
		name             string
		nm, np, nt, vlen int
		wantBatches      int
	}{
		{"Empty", 0, 0, 0, 1, 0},
		{"One", 1, 0, 0, 1, 1},
		{"ExactlyAtLimits", 1000, 0, 0, 1, 1},
		{"MetricsOverflow", 1001, 0, 0, 1, 2},
		{"ParamsOverflow", 0, 101, 0, 1, 2},
		{"EntitiesOverflow", 950, 100, 0, 1, 2},
		{"Mixed", 1500, 150, 120, 1, 4},
		{"Bytes", 0, 100, 100, 6000, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, p, g := mk(tc.nm, tc.np, tc.nt, tc.vlen)
			batches, err := splitBatch("run", m, p, g)
			require.NoError(t, err)
			assert.Len(t, batches, tc.wantBatches)
			var nm, np, nt int
			for _, b := range batches {
				assert.LessOrEqual(t, len(b.Metrics), maxMetricsPerBatch)
				assert.LessOrEqual(t, len(b.Params), maxParamsTagsPerBatch)
				assert.LessOrEqual(t, len(b.Tags), maxParamsTagsPerBatch)
				assert.LessOrEqual(t, b.entities(), maxEntitiesPerBatch)
				body, err := json.Marshal(b)
				require.NoError(t, err)
				assert.LessOrEqual(t, len(body), maxBatchBytes)
				assert.Positive(t, b.entities())
				nm, np, nt = nm+len(b.Metrics), np+len(b.Params), nt+len(b.Tags)
			}
			assert.Equal(t, [3]int{tc.nm, tc.np, tc.nt}, [3]int{nm, np, nt}, "nothing lost")
		})
	}
}

func TestMetricJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		m    Metric
		json string
	}{
		{Metric{Key: "f1", Value: 0.5, Timestamp: 1700000000000, Step: 2}, `{"key":"f1","value":0.5,"timestamp":1700000000000,"step":2}`},
		{Metric{Key: "n", Value: math.NaN()}, `{"key":"n","value":"NaN","timestamp":0,"step":0}`},
		{Metric{Key: "i", Value: math.Inf(1)}, `{"key":"i","value":"Infinity","timestamp":0,"step":0}`},
		{Metric{Key: "j", Value: math.Inf(-1)}, `{"key":"j","value":"-Infinity","timestamp":0,"step":0}`},
	} {
		b, err := json.Marshal(tc.m)
		require.NoError(t, err)
		assert.JSONEq(t, tc.json, string(b))
		var back Metric
		require.NoError(t, json.Unmarshal(b, &back))
		if math.IsNaN(tc.m.Value) {
			assert.True(t, math.IsNaN(back.Value))
			back.Value, tc.m.Value = 0, 0
		}
		assert.Equal(t, tc.m, back)
	}
	var m Metric
	require.Error(t, json.Unmarshal([]byte(`{"key":"x","value":"high"}`), &m))
	require.NoError(t, json.Unmarshal([]byte(`{"key":"x","value":"0.25","timestamp":"12","step":"1e3"}`), &m))
	assert.Equal(t, Metric{Key: "x", Value: 0.25, Timestamp: 12, Step: 1000}, m)
}

func TestQuoteNonFinite(t *testing.T) {
	t.Parallel()
	in := `{"a":NaN,"b":[Infinity,-Infinity,1],"s":"NaN Infinity \"NaN\"","k\\":NaN}`
	out, changed := quoteNonFinite([]byte(in))
	assert.True(t, changed)
	assert.Equal(t, `{"a":"NaN","b":["Infinity","-Infinity",1],"s":"NaN Infinity \"NaN\"","k\\":"NaN"}`, string(out))
	assert.True(t, json.Valid(out))
	_, changed = quoteNonFinite([]byte(`{"s":"NaN"}`))
	assert.False(t, changed)
}

func TestSplitRelPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"model", []string{"model"}, false},
		{"a//b/./c/", []string{"a", "b", "c"}, false},
		{"100% sure.txt", []string{"100% sure.txt"}, false},
		{"..", nil, true},
		{"a/..", nil, true},
		{"/abs", nil, true},
		{`a\b`, nil, true},
		{"a\x00", nil, true},
		{"%2E%2E", nil, true},
		{"%252e%252e/x", nil, true},
		{"%2fetc", nil, true},
		{"%5c", nil, true},
		{"%00", nil, true},
	} {
		got, err := splitRelPath(tc.in)
		if tc.err {
			assert.ErrorIs(t, err, ErrPathEscape, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		h    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-5", 0, true},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	} {
		got, ok := retryAfter(tc.h, now)
		assert.Equal(t, tc.ok, ok, tc.h)
		assert.Equal(t, tc.want, got, tc.h)
	}
}
