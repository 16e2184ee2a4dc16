package server

import (
	"encoding/json"
	"math"
	"strconv"
)

// The JSON shapes of MLflow's protobuf messages, fields in the order of
// their protobuf field numbers, as MLflow's message_to_json writes them:
// empty repeated fields and unset optional fields left out, int64 fields
// as numbers.

type tagJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type experimentJSON struct {
	ExperimentID     string    `json:"experiment_id"`
	Name             string    `json:"name"`
	ArtifactLocation string    `json:"artifact_location"`
	LifecycleStage   string    `json:"lifecycle_stage"`
	LastUpdateTime   int64     `json:"last_update_time"`
	CreationTime     int64     `json:"creation_time"`
	Tags             []tagJSON `json:"tags,omitempty"`
	Workspace        string    `json:"workspace"`
}

type runInfoJSON struct {
	RunUUID        string `json:"run_uuid"`
	ExperimentID   string `json:"experiment_id"`
	RunName        string `json:"run_name"`
	UserID         string `json:"user_id"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time"`
	EndTime        *int64 `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri"`
	LifecycleStage string `json:"lifecycle_stage"`
	RunID          string `json:"run_id"`
}

// metricValue is a double: a JSON number, or "NaN", "Infinity",
// "-Infinity" as protobuf's JSON mapping writes them.
type metricValue float64

func (v metricValue) MarshalJSON() ([]byte, error) {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	return json.Marshal(f)
}

type metricJSON struct {
	Key       string      `json:"key"`
	Value     metricValue `json:"value"`
	Timestamp int64       `json:"timestamp"`
	Step      int64       `json:"step"`
}

type runDataJSON struct {
	Metrics []metricJSON `json:"metrics,omitempty"`
	Params  []tagJSON    `json:"params,omitempty"`
	Tags    []tagJSON    `json:"tags,omitempty"`
}

type runJSON struct {
	Info    runInfoJSON     `json:"info"`
	Data    runDataJSON     `json:"data"`
	Inputs  runInputsJSON   `json:"inputs"`
	Outputs *runOutputsJSON `json:"outputs,omitempty"`
}

type datasetJSON struct {
	Name       string  `json:"name"`
	Digest     string  `json:"digest"`
	SourceType string  `json:"source_type"`
	Source     string  `json:"source"`
	Schema     *string `json:"schema,omitempty"`
	Profile    *string `json:"profile,omitempty"`
}

type datasetInputJSON struct {
	Tags    []tagJSON   `json:"tags,omitempty"`
	Dataset datasetJSON `json:"dataset"`
}

type modelInputJSON struct {
	ModelID string `json:"model_id"`
}

type modelOutputJSON struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

type runInputsJSON struct {
	DatasetInputs []datasetInputJSON `json:"dataset_inputs,omitempty"`
	ModelInputs   []modelInputJSON   `json:"model_inputs,omitempty"`
}

type runOutputsJSON struct {
	ModelOutputs []modelOutputJSON `json:"model_outputs,omitempty"`
}

// metricWithRunJSON is a metric point of get-history-bulk-interval.
type metricWithRunJSON struct {
	Key       string      `json:"key"`
	Value     metricValue `json:"value"`
	Timestamp int64       `json:"timestamp"`
	Step      int64       `json:"step"`
	RunID     string      `json:"run_id"`
}

type aliasJSON struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

type registeredModelJSON struct {
	Name                 string             `json:"name"`
	CreationTimestamp    int64              `json:"creation_timestamp"`
	LastUpdatedTimestamp int64              `json:"last_updated_timestamp"`
	Description          string             `json:"description,omitempty"`
	LatestVersions       []modelVersionJSON `json:"latest_versions,omitempty"`
	Tags                 []tagJSON          `json:"tags,omitempty"`
	Aliases              []aliasJSON        `json:"aliases,omitempty"`
}

type modelVersionJSON struct {
	Name                 string    `json:"name"`
	Version              string    `json:"version"`
	CreationTimestamp    int64     `json:"creation_timestamp"`
	LastUpdatedTimestamp int64     `json:"last_updated_timestamp"`
	UserID               *string   `json:"user_id,omitempty"`
	CurrentStage         string    `json:"current_stage"`
	Description          string    `json:"description"`
	Source               string    `json:"source"`
	RunID                string    `json:"run_id"`
	Status               string    `json:"status"`
	StatusMessage        *string   `json:"status_message,omitempty"`
	Tags                 []tagJSON `json:"tags,omitempty"`
	RunLink              string    `json:"run_link"`
	Aliases              []string  `json:"aliases,omitempty"`
}

type fileInfoJSON struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize *int64 `json:"file_size,omitempty"`
}

// itoa formats an id.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
