package record_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/record"
)

func sample() *record.Run {
	start := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	pass := true
	threshold := 0.55
	return &record.Run{
		Schema: record.Schema,
		Scenario: record.Scenario{
			Path: "scenarios/churn-promotion.en.md", Title: "Promotion", Lang: "en", SHA256: strings.Repeat("a", 64),
			Blocks: []record.Block{{Kind: record.BlockProse, Line: 5, Markdown: "# Promotion\n"}, {Kind: record.BlockCell, Line: 9, Step: "identify"}},
		},
		Params: []record.Param{{Name: "min_f1", GoName: "MinF1", Type: record.TypeNumber, Value: 0.6, Source: record.SourceFlag}},
		Cells: []record.Cell{{
			Step: "identify", File: "scenarios/churn-promotion.en.md", Line: 10, Code: "best := 1", Timeout: record.Duration(5 * time.Minute),
			Outputs: []record.Output{{Kind: record.OutputTable, Table: &record.Table{Columns: []string{"run"}, Rows: [][]string{{"r1"}}}}},
			Status:  record.StatusFailed, Start: start, Duration: record.Duration(1500 * time.Millisecond),
			Error: &record.Error{Kind: record.ErrStep, File: "scenarios/churn-promotion.en.md", Line: 10, Step: "identify", Message: "no runs"},
		}},
		Environment: record.Environment{User: "ada", Host: "h", PlaybookVersion: "v1", GoVersion: "go1.26", Start: start, End: start.Add(2 * time.Second),
			Exit: record.Exit{Status: record.OutcomeFailed, Code: 1}},
		Evidence: record.Evidence{
			Calls:     []record.Call{{Time: start, Step: "promote", Method: "POST", Endpoint: "/api/2.0/mlflow/registered-models/alias", Args: map[string]any{"alias": "production-live"}, Outcome: "ok"}},
			Snapshots: []record.Snapshot{{Label: "before", Model: "ChurnPredictor", Aliases: map[string]string{"production-live": "1"}, Versions: []record.VersionSnapshot{{Version: "1", Tags: map[string]string{}, Aliases: []string{"production-live"}}}}},
			Metrics:   []record.Metric{{Step: "validate", Name: "f1", Value: 0.61, Threshold: &threshold, Pass: &pass}},
			Files:     []record.File{{Name: "roc.svg", Size: 10, SHA256: strings.Repeat("b", 64)}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	want := sample()
	var buf bytes.Buffer
	require.NoError(t, want.WriteJSON(&buf))
	got, err := record.Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, want, got)
}

func TestJSONShape(t *testing.T) {
	b, err := json.Marshal(sample())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, record.Schema, m["schema"])
	cell := m["cells"].([]any)[0].(map[string]any)
	assert.Equal(t, "5m0s", cell["timeout"], "durations are Go duration text")
	assert.Equal(t, "1.5s", cell["duration"])
	assert.Equal(t, "2025-03-04T10:00:00Z", cell["start"])

	notRun, err := json.Marshal(record.Cell{Step: "s", Status: record.StatusNotRun})
	require.NoError(t, err)
	assert.NotContains(t, string(notRun), `"start"`, "a cell that did not run has no start")
	assert.NotContains(t, string(notRun), `"duration"`)
	assert.NotContains(t, string(notRun), `"error"`)
}

func TestRead(t *testing.T) {
	tests := []struct {
		name, json, err string
	}{
		{name: "OtherSchema", json: `{"schema": "playbook.run/v0"}`, err: `record: schema "playbook.run/v0", want "playbook.run/v1"`},
		{name: "NotJSON", json: `nope`, err: "record: invalid character"},
		{name: "BadDuration", json: `{"schema": "playbook.run/v1", "cells": [{"timeout": "soon"}]}`, err: "record: record: duration: time: invalid duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := record.Read(strings.NewReader(tt.json))
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.err), "got %q", err)
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, record.WriteFile(dir, sample()))
	f, err := os.Open(filepath.Join(dir, record.EvidenceFile))
	require.NoError(t, err)
	defer f.Close()
	got, err := record.Read(f)
	require.NoError(t, err)
	assert.Equal(t, sample(), got)
}

func TestCell(t *testing.T) {
	r := sample()
	c := r.Cell("identify")
	require.NotNil(t, c)
	c.Status = record.StatusOK
	assert.Equal(t, record.StatusOK, r.Cells[0].Status, "Cell returns a pointer into Cells")
	assert.Nil(t, r.Cell("nope"))
}
