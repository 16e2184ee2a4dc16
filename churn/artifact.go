package churn

import (
	"bytes"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The model artifact's fixed names. SaveModel and LoadModel read and write
// these files only, directly in the model folder.
const (
	// Flavor is the MLflow flavor name of playbook's churn models.
	Flavor = "playbook_churn"
	// FormatVersion is the version of model.json this package writes and
	// the only one it reads.
	FormatVersion = 1

	MLmodelFile        = "MLmodel"
	ModelFile          = "model.json"
	InputExampleFile   = "input_example.json"
	ServingExampleFile = "serving_input_example.json"

	// DefaultArtifactPath is the artifact_path written when ArtifactMeta
	// gives none: the model folder of a run is "model".
	DefaultArtifactPath = "model"
)

// The python_function flavor: MLflow's mlflow.pyfunc.load_model loads the
// model with the loader module in CodeDir, which reads model.json with
// numpy and pandas only.
const (
	// PyfuncFlavor is MLflow's generic flavor name.
	PyfuncFlavor = "python_function"
	// PyfuncLoaderModule is the module pyfunc imports from CodeDir.
	PyfuncLoaderModule = "playbook_churn_pyfunc"
	// CodeDir is the model folder's code folder, which pyfunc puts on
	// sys.path.
	CodeDir = "code"
	// PythonVersion is the Python of the model's environment files.
	PythonVersion = "3.11"

	PythonEnvFile   = "python_env.yaml"
	CondaEnvFile    = "conda.yaml"
	RequirementFile = "requirements.txt"
)

// pyfuncLoader is the loader module, written to CodeDir.
//
//go:embed pyfunc/playbook_churn_pyfunc.py
var pyfuncLoader []byte

// pyfuncRequirements are the loader's Python requirements.
const pyfuncRequirements = "mlflow>=3,<4\nnumpy\npandas\n"

// pythonEnv and condaEnv are MLflow's two environment files for them.
const (
	pythonEnv = "python: " + PythonVersion + `
build_dependencies:
- pip
- setuptools
- wheel
dependencies:
- -r requirements.txt
`
	condaEnv = `channels:
- conda-forge
dependencies:
- python=` + PythonVersion + `
- pip
- pip:
  - mlflow>=3,<4
  - numpy
  - pandas
name: mlflow-env
`
)

// mlflowTimeLayout is the format of MLmodel's utc_time_created (Python's
// str(datetime)).
const mlflowTimeLayout = "2006-01-02 15:04:05"

// ArtifactMeta is what an MLmodel file says about a model besides the model
// itself.
type ArtifactMeta struct {
	// RunID is the MLflow run that logged the model (may be empty).
	RunID string `json:"run_id,omitempty"`
	// ModelUUID identifies the saved model; SaveModel draws a random one
	// (32 hex digits, like MLflow) when it is empty.
	ModelUUID string `json:"model_uuid"`
	// ModelID is the MLflow 3 logged model (m-...) whose files these are,
	// empty for a model logged as run artifacts (MLflow 2).
	ModelID string `json:"model_id,omitempty"`
	// ArtifactPath is the model's folder within the run's artifacts, or
	// for a logged model its artifact location, as MLflow 3 writes it;
	// DefaultArtifactPath when empty.
	ArtifactPath string `json:"artifact_path"`
	// Created is the time of saving (UTC); SaveModel uses the current time
	// when it is zero. MLmodel keeps microseconds.
	Created time.Time `json:"utc_time_created"`
	// InputExample is saved as input_example.json (MLflow's pandas "split"
	// orientation of the 19 feature columns). When empty SaveModel saves
	// the first 3 customers of Generate(3, 0).
	InputExample []Customer `json:"input_example,omitempty"`
	// Flavors lists the flavors of the MLmodel file read by LoadModel.
	Flavors []string `json:"flavors,omitempty"`
}

// FlavorError is returned by LoadModel for an MLmodel file without the
// playbook_churn flavor.
type FlavorError struct {
	Flavors []string // the flavors present, sorted
}

func (e *FlavorError) Error() string {
	return fmt.Sprintf("MLmodel has flavors [%s]; playbook can load only %q", strings.Join(e.Flavors, " "), Flavor)
}

// mlmodel is the MLmodel file, its keys sorted as MLflow writes them.
type mlmodel struct {
	ArtifactPath            string                    `yaml:"artifact_path,omitempty"`
	Flavors                 map[string]map[string]any `yaml:"flavors"`
	IsSignatureFromTypeHint bool                      `yaml:"is_signature_from_type_hint"`
	ModelID                 string                    `yaml:"model_id,omitempty"`
	ModelUUID               string                    `yaml:"model_uuid"`
	RunID                   string                    `yaml:"run_id,omitempty"`
	SavedInputExampleInfo   *inputExampleInfo         `yaml:"saved_input_example_info,omitempty"`
	Signature               *mlmodelSignature         `yaml:"signature,omitempty"`
	TypeHintFromExample     bool                      `yaml:"type_hint_from_example"`
	UTCTimeCreated          string                    `yaml:"utc_time_created"`
}

type inputExampleInfo struct {
	ArtifactPath     string `yaml:"artifact_path"`
	PandasOrient     string `yaml:"pandas_orient"`
	ServingInputPath string `yaml:"serving_input_path"`
	Type             string `yaml:"type"`
}

// mlmodelSignature holds MLflow's column specs as JSON strings.
type mlmodelSignature struct {
	Inputs  string  `yaml:"inputs"`
	Outputs string  `yaml:"outputs"`
	Params  *string `yaml:"params"`
}

// flavorConf is the playbook_churn flavor's configuration in MLmodel.
type flavorConf struct {
	ModelFile     string `yaml:"model_file"`
	FormatVersion int    `yaml:"format_version"`
	ModelType     string `yaml:"model_type"`
}

// modelFile is model.json.
type modelFile struct {
	FormatVersion int    `json:"format_version"`
	Flavor        string `json:"flavor"`
	Model         *Model `json:"model"`
}

// mlflowType returns the MLflow column type of a feature column.
func mlflowType(k Kind) string {
	switch k {
	case KindFlag, KindInteger:
		return "long"
	case KindNumber:
		return "double"
	}
	return "string"
}

// SignatureInputs returns the model's MLflow input signature: the JSON
// column specs of the 19 feature columns, as MLflow writes them.
func SignatureInputs() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, name := range FeatureColumns() {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, `{"type": %q, "name": %q, "required": true}`, mlflowType(schema[columnIndex(name)].Kind), name)
	}
	b.WriteByte(']')
	return b.String()
}

// signatureOutputs is the output signature of the model's pyfunc predict:
// one label (0 or 1) per row, as MLflow writes a classifier's.
const signatureOutputs = `[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]`

// signatureParams declares pyfunc predict's one parameter: MLflow passes
// only declared params to the model.
const signatureParams = `[{"name": "predict_method", "default": "predict", "shape": null, "type": "string"}]`

// SaveModel writes m as an MLflow model folder dir (created if needed):
//
//   - MLmodel: artifact_path, two flavors (playbook_churn: model_file
//     model.json, format_version 1; python_function: the loader module in
//     code/, data model.json, the environment files), model_id (when set),
//     model_uuid, run_id, utc_time_created, the signature (19 typed input
//     columns, an int64 label output, the predict_method parameter) and
//     saved_input_example_info;
//   - model.json: the encoder, coefficients, threshold and training
//     options, which LoadModel reads back bit for bit;
//   - input_example.json and serving_input_example.json: meta.InputExample
//     in MLflow's pandas split format;
//   - code/playbook_churn_pyfunc.py, python_env.yaml, conda.yaml and
//     requirements.txt: what mlflow.pyfunc.load_model and `mlflow models
//     serve` need to score the model in Python (numpy and pandas only).
//
// It writes those names only, inside dir (through os.Root, so a symbolic
// link cannot lead it elsewhere).
func SaveModel(dir string, m *Model, meta ArtifactMeta) error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("churn: save model: %w", err)
	}
	if meta.ModelUUID == "" {
		meta.ModelUUID = newUUIDHex()
	}
	if meta.ArtifactPath == "" {
		meta.ArtifactPath = DefaultArtifactPath
	}
	if meta.Created.IsZero() {
		meta.Created = time.Now()
	}
	if len(meta.InputExample) == 0 {
		meta.InputExample = Generate(3, 0)
	}
	modelJSON, err := json.MarshalIndent(modelFile{FormatVersion: FormatVersion, Flavor: Flavor, Model: m}, "", "  ")
	if err != nil {
		return fmt.Errorf("churn: save model: %w", err)
	}
	example := exampleSplit(meta.InputExample)
	exampleJSON, err := json.Marshal(example)
	if err != nil {
		return fmt.Errorf("churn: save model: %w", err)
	}
	servingJSON, err := json.MarshalIndent(map[string]any{"dataframe_split": example}, "", "  ")
	if err != nil {
		return fmt.Errorf("churn: save model: %w", err)
	}
	params := signatureParams
	mlm := mlmodel{
		ArtifactPath: meta.ArtifactPath,
		Flavors: map[string]map[string]any{
			Flavor: {
				"model_file":     ModelFile,
				"format_version": FormatVersion,
				"model_type":     "logistic_regression",
			},
			PyfuncFlavor: {
				"loader_module":  PyfuncLoaderModule,
				"code":           CodeDir,
				"data":           ModelFile,
				"env":            map[string]string{"conda": CondaEnvFile, "virtualenv": PythonEnvFile},
				"python_version": PythonVersion,
			},
		},
		ModelID:   meta.ModelID,
		ModelUUID: meta.ModelUUID,
		RunID:     meta.RunID,
		SavedInputExampleInfo: &inputExampleInfo{
			ArtifactPath:     InputExampleFile,
			PandasOrient:     "split",
			ServingInputPath: ServingExampleFile,
			Type:             "dataframe",
		},
		Signature:      &mlmodelSignature{Inputs: SignatureInputs(), Outputs: signatureOutputs, Params: &params},
		UTCTimeCreated: formatMLflowTime(meta.Created),
	}
	var mlmodelYAML bytes.Buffer
	enc := yaml.NewEncoder(&mlmodelYAML)
	enc.SetIndent(2)
	if err := enc.Encode(mlm); err != nil {
		return fmt.Errorf("churn: save model: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("churn: save model: %w", err)
	}

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("churn: save model: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("churn: save model: %w", err)
	}
	defer root.Close()
	if err := root.Mkdir(CodeDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("churn: save model: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{ModelFile, append(modelJSON, '\n')},
		{InputExampleFile, exampleJSON},
		{ServingExampleFile, servingJSON},
		{CodeDir + "/" + PyfuncLoaderModule + ".py", pyfuncLoader},
		{PythonEnvFile, []byte(pythonEnv)},
		{CondaEnvFile, []byte(condaEnv)},
		{RequirementFile, []byte(pyfuncRequirements)},
		{MLmodelFile, mlmodelYAML.Bytes()}, // last: a folder with MLmodel is complete
	} {
		if err := root.WriteFile(f.name, f.data, 0o644); err != nil {
			return fmt.Errorf("churn: save model: %w", err)
		}
	}
	return nil
}

// split is MLflow's pandas "split" orientation of a data frame.
type split struct {
	Columns []string `json:"columns"`
	Data    [][]any  `json:"data"`
}

// exampleSplit returns the feature columns of customers in split form.
func exampleSplit(customers []Customer) split {
	cols := FeatureColumns()
	s := split{Columns: cols, Data: make([][]any, len(customers))}
	for i := range customers {
		c := &customers[i]
		row := make([]any, len(cols))
		for j, name := range cols {
			col := columnIndex(name)
			if p := c.str(col); p != nil {
				row[j] = *p
			} else if schema[col].Kind == KindNumber {
				row[j] = numericValue(c, col)
			} else {
				row[j] = int(numericValue(c, col))
			}
		}
		s.Data[i] = row
	}
	return s
}

// FeatureFrame returns the model's 19 input columns of customers in
// MLflow's pandas "split" form: the column names, and one row of values
// (strings, integers for SeniorCitizen and tenure, floats for the charges)
// per customer, as MLflow's pyfunc and scoring server take them.
func FeatureFrame(customers []Customer) (columns []string, rows [][]any) {
	s := exampleSplit(customers)
	return s.Columns, s.Data
}

// customersFromSplit reads customers back from split form (columns may be
// in any order; missing ones stay zero).
func customersFromSplit(s split) ([]Customer, error) {
	out := make([]Customer, len(s.Data))
	for i, row := range s.Data {
		if len(row) != len(s.Columns) {
			return nil, fmt.Errorf("row %d has %d values for %d columns", i, len(row), len(s.Columns))
		}
		c := &out[i]
		for j, name := range s.Columns {
			col := columnIndex(name)
			if col < 0 {
				return nil, fmt.Errorf("unknown column %q", name)
			}
			switch v := row[j].(type) {
			case string:
				p := c.str(col)
				if p == nil {
					return nil, fmt.Errorf("row %d: column %q: want a number, got %q", i, name, v)
				}
				*p = v
			case float64:
				switch col {
				case colSeniorCitizen:
					c.SeniorCitizen = int(v)
				case colTenure:
					c.Tenure = int(v)
				case colMonthlyCharges:
					c.MonthlyCharges = v
				case colTotalCharges:
					c.TotalCharges = v
				default:
					return nil, fmt.Errorf("row %d: column %q: want a string, got %v", i, name, v)
				}
			default:
				return nil, fmt.Errorf("row %d: column %q: unexpected value %v", i, name, v)
			}
		}
	}
	return out, nil
}

// formatMLflowTime formats t in UTC as Python's str(datetime) does.
func formatMLflowTime(t time.Time) string {
	t = t.UTC()
	s := t.Format(mlflowTimeLayout)
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s
}

// newUUIDHex returns a random (version 4) UUID as 32 hex digits, as MLflow's
// uuid.uuid4().hex.
func newUUIDHex() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// LoadModel reads a model folder written by SaveModel (or downloaded from
// MLflow). It reads MLmodel, refuses a folder without the playbook_churn
// flavor with a [*FlavorError] naming the flavors present, reads and
// validates model.json (format version, encoder, coefficients, threshold),
// and reads the input example when MLmodel names one. It opens only those
// fixed names, inside dir.
func LoadModel(dir string) (*Model, *ArtifactMeta, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("churn: load model: %w", err)
	}
	defer root.Close()
	m, meta, err := LoadModelFS(root.FS())
	if err != nil {
		return nil, nil, fmt.Errorf("churn: load model %s: %w", dir, err)
	}
	return m, meta, nil
}

// LoadModelFS is LoadModel for a model folder that is the root of fsys.
func LoadModelFS(fsys fs.FS) (*Model, *ArtifactMeta, error) {
	data, err := fs.ReadFile(fsys, MLmodelFile)
	if err != nil {
		return nil, nil, err
	}
	var mlm struct {
		ArtifactPath          string               `yaml:"artifact_path"`
		Flavors               map[string]yaml.Node `yaml:"flavors"`
		ModelID               string               `yaml:"model_id"`
		ModelUUID             string               `yaml:"model_uuid"`
		RunID                 string               `yaml:"run_id"`
		UTCTimeCreated        string               `yaml:"utc_time_created"`
		SavedInputExampleInfo *inputExampleInfo    `yaml:"saved_input_example_info"`
	}
	if err := yaml.Unmarshal(data, &mlm); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", MLmodelFile, err)
	}
	meta := &ArtifactMeta{RunID: mlm.RunID, ModelID: mlm.ModelID, ModelUUID: mlm.ModelUUID, ArtifactPath: mlm.ArtifactPath}
	for name := range mlm.Flavors {
		meta.Flavors = append(meta.Flavors, name)
	}
	slices.Sort(meta.Flavors)
	node, ok := mlm.Flavors[Flavor]
	if !ok {
		return nil, nil, &FlavorError{Flavors: meta.Flavors}
	}
	var conf flavorConf
	if err := node.Decode(&conf); err != nil {
		return nil, nil, fmt.Errorf("%s: flavor %s: %w", MLmodelFile, Flavor, err)
	}
	if conf.ModelFile != ModelFile {
		return nil, nil, fmt.Errorf("%s: flavor %s: model_file %q: playbook reads only %q", MLmodelFile, Flavor, conf.ModelFile, ModelFile)
	}
	if conf.FormatVersion != FormatVersion {
		return nil, nil, fmt.Errorf("%s: flavor %s: format_version %d: playbook reads only version %d", MLmodelFile, Flavor, conf.FormatVersion, FormatVersion)
	}
	if mlm.UTCTimeCreated != "" {
		t, err := time.ParseInLocation(mlflowTimeLayout, mlm.UTCTimeCreated, time.UTC)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: utc_time_created %q: %w", MLmodelFile, mlm.UTCTimeCreated, err)
		}
		meta.Created = t
	}

	m, err := readModelJSON(fsys)
	if err != nil {
		return nil, nil, err
	}
	if info := mlm.SavedInputExampleInfo; info != nil && info.ArtifactPath == InputExampleFile &&
		info.Type == "dataframe" && info.PandasOrient == "split" {
		data, err := fs.ReadFile(fsys, InputExampleFile)
		if err != nil {
			return nil, nil, err
		}
		var s split
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", InputExampleFile, err)
		}
		if meta.InputExample, err = customersFromSplit(s); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", InputExampleFile, err)
		}
	}
	return m, meta, nil
}

// readModelJSON reads and validates model.json.
func readModelJSON(fsys fs.FS) (*Model, error) {
	data, err := fs.ReadFile(fsys, ModelFile)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var mf modelFile
	if err := dec.Decode(&mf); err != nil {
		return nil, fmt.Errorf("%s: %w", ModelFile, err)
	}
	switch {
	case mf.FormatVersion != FormatVersion:
		return nil, fmt.Errorf("%s: format_version %d: playbook reads only version %d", ModelFile, mf.FormatVersion, FormatVersion)
	case mf.Flavor != Flavor:
		return nil, fmt.Errorf("%s: flavor %q, want %q", ModelFile, mf.Flavor, Flavor)
	case mf.Model == nil:
		return nil, fmt.Errorf("%s: %w", ModelFile, ErrNotFitted)
	}
	if err := mf.Model.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", ModelFile, err)
	}
	return mf.Model, nil
}
