package record

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/playbook-mlops/playbook/internal/atomicfile"
)

// Schema is the version of the run record's JSON format, written in
// Run.Schema. A change that breaks readers bumps it.
const Schema = "playbook.run/v1"

// EvidenceFile is the name of the run record's JSON file in an output folder.
const EvidenceFile = "evidence.json"

// Run is the record of one run (or check) of one scenario.
type Run struct {
	Schema      string      `json:"schema"`
	Scenario    Scenario    `json:"scenario"`
	Params      []Param     `json:"params"`
	Cells       []Cell      `json:"cells"`
	Environment Environment `json:"environment"`
	Evidence    Evidence    `json:"evidence"`
	// Error is the failure that stopped the run, if any.
	Error *Error `json:"error,omitempty"`
}

// Scenario describes the scenario file that was run.
type Scenario struct {
	Path        string `json:"path"`
	Title       string `json:"title"`
	Lang        string `json:"lang,omitempty"`
	Description string `json:"description,omitempty"`
	SHA256      string `json:"sha256"`
	// Blocks are the scenario's prose and cells in document order.
	Blocks []Block `json:"blocks"`
}

// Block kinds.
const (
	BlockProse = "prose" // Markdown text, fenced blocks that do not run included
	BlockCell  = "cell"  // a Go cell: see Run.Cell(Block.Step)
)

// Block is one part of a scenario in document order: prose or a cell.
type Block struct {
	Kind string `json:"kind"`
	// Line is the line of the block's first line in the scenario file.
	Line int `json:"line"`
	// Markdown is the prose of a BlockProse block, as written.
	Markdown string `json:"markdown,omitempty"`
	// Step names the cell of a BlockCell block: see Run.Cell.
	Step string `json:"step,omitempty"`
}

// Parameter types.
const (
	TypeString   = "string"
	TypeNumber   = "number"   // float64
	TypeInteger  = "integer"  // int
	TypeBool     = "bool"     // bool
	TypeList     = "list"     // []string
	TypeDuration = "duration" // time.Duration
)

// Parameter sources.
const (
	SourceDefault = "default" // the front matter's default
	SourceFlag    = "flag"    // -p name=value
)

// Param is one resolved scenario parameter.
type Param struct {
	Name string `json:"name"`
	// GoName is the field cells read it by: params.GoName.
	GoName string `json:"go_name"`
	Type   string `json:"type"`
	// Value is the value cells saw: a string, float64, int, bool, []string,
	// or for a duration its text ("30s").
	Value       any    `json:"value"`
	Source      string `json:"source"`
	Description string `json:"description,omitempty"`
}

// Cell statuses.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
	StatusNotRun = "not_run"
)

// Cell is one Go cell of the scenario and what running it produced.
type Cell struct {
	Step string `json:"step"`
	File string `json:"file"`
	// Line is the line of the cell's first code line in File.
	Line    int      `json:"line"`
	Code    string   `json:"code"`
	Timeout Duration `json:"timeout"`
	Outputs []Output `json:"outputs"`
	Status  string   `json:"status"`
	// Start and Duration are zero for a cell that did not run.
	Start    time.Time `json:"start,omitzero"`
	Duration Duration  `json:"duration,omitzero"`
	Error    *Error    `json:"error,omitempty"`
}

// Output kinds.
const (
	OutputStdout   = "stdout"   // Text: what the cell printed
	OutputStderr   = "stderr"   // Text: what the cell printed to standard error
	OutputValue    = "value"    // the value of the cell's final expression: Text, and Table or KV when it has that shape
	OutputTable    = "table"    // Table
	OutputKV       = "kv"       // KV
	OutputPlot     = "plot"     // SVG
	OutputSnapshot = "snapshot" // Snapshot
	OutputMarkdown = "markdown" // Text, Markdown to render
)

// Output is one thing a cell produced, in the order it produced it.
type Output struct {
	Kind  string `json:"kind"`
	Title string `json:"title,omitempty"`
	Text  string `json:"text,omitempty"`
	// Type is the Go type of an OutputValue.
	Type  string `json:"type,omitempty"`
	Table *Table `json:"table,omitempty"`
	KV    []KV   `json:"kv,omitempty"`
	SVG   string `json:"svg,omitempty"`
	// PNG is an OutputPlot drawn as a PNG image too, for report.md: the
	// places a Markdown report is pasted into (GitHub, GitLab, Jira) take
	// PNG uploads, not SVG.
	PNG      []byte    `json:"png,omitempty"`
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	// Truncated says Text (or Table) was cut to keep the record small.
	Truncated bool `json:"truncated,omitempty"`
}

// Table is a rectangular table of text cells.
type Table struct {
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
}

// KV is one key-value pair of a key-value block.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Error kinds.
const (
	ErrSyntax    = "syntax"    // the cell is not valid Go
	ErrCompile   = "compile"   // type errors, undefined names
	ErrImport    = "import"    // an import that is not allowed
	ErrPanic     = "panic"     // the cell panicked
	ErrStep      = "step"      // a step function failed (returned or panicked with an error)
	ErrGate      = "gate"      // a gate refused (validation failed, promotion refused)
	ErrTimeout   = "timeout"   // the cell ran out of time
	ErrCancelled = "cancelled" // the run was interrupted
	ErrKernel    = "kernel"    // the kernel process died while the cell ran (a crash, a signal, out of memory)
	ErrScenario  = "scenario"  // the scenario file itself (front matter, parameters)
)

// Error is where and why a cell (or the scenario) failed.
type Error struct {
	Kind    string `json:"kind"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Step    string `json:"step,omitempty"`
	Message string `json:"message"`
}

// Isolation is how a run's cells were isolated: the kernel process and
// the protections put on it (internal/sandbox's report).
type Isolation struct {
	// Mode is "kernel process".
	Mode string `json:"mode"`
	// CleanEnv says the kernel's environment held no credentials;
	// TimeoutGrace how long past a cell's timeout playbook ends the
	// kernel.
	CleanEnv     bool     `json:"clean_env"`
	TimeoutGrace Duration `json:"timeout_grace"`
	// Sandboxed says the sandbox was applied; Landlock describes
	// Landlock's rules ("ABI 7: ..." or "unavailable: ..."), LandlockFS
	// and LandlockTCP which parts held; Seccomp the seccomp filter
	// ("" when none); Rlimits the limits set; Capabilities what became
	// of the process's capabilities.
	Sandboxed   bool   `json:"sandboxed"`
	Landlock    string `json:"landlock,omitempty"`
	LandlockFS  bool   `json:"landlock_fs"`
	LandlockTCP bool   `json:"landlock_tcp"`
	Seccomp     string `json:"seccomp,omitempty"`
	// LandlockABI (0: not applied) and LandlockScoped, and the seccomp
	// filter's parts (ExecRefused, NoProcesses, PrivilegedRefused, Sockets:
	// "none", "tcp" or "unix+tcp"), say in data what Landlock and Seccomp
	// say in English: the report words them in its own language.
	LandlockABI       int      `json:"landlock_abi,omitempty"`
	LandlockScoped    bool     `json:"landlock_scoped,omitempty"`
	ExecRefused       bool     `json:"exec_refused,omitempty"`
	NoProcesses       bool     `json:"no_processes,omitempty"`
	PrivilegedRefused int      `json:"privileged_refused,omitempty"`
	Sockets           string   `json:"sockets,omitempty"`
	Rlimits           []string `json:"rlimits,omitempty"`
	Capabilities      string   `json:"capabilities,omitempty"`
	// NoNetwork says the kernel had no network: it created no socket and
	// reached only playbook's registry proxy, over connections playbook
	// handed it. CellTokens says each registry call was attributed to the
	// cell whose code made it (a token per cell, revoked at its end), a
	// call from a goroutine that outlived its cell refused.
	NoNetwork  bool `json:"no_network,omitempty"`
	CellTokens bool `json:"cell_tokens,omitempty"`
	// KernelStart is the time from starting the kernel to its first
	// message (its sandbox applied); Exit how it ended ("exit status 0",
	// "signal: killed", ...).
	KernelStart Duration `json:"kernel_start"`
	Exit        string   `json:"exit"`
	// Problems are what playbook could not record of the kernel's run
	// (a registry snapshot it could not take).
	Problems []string `json:"problems,omitempty"`
}

// Environment says who ran what, where and when, and how it ended.
type Environment struct {
	// User is the operating system's user who ran playbook.
	User string `json:"user"`
	// Actor is the MLflow user the tracking server knows playbook's
	// credentials as, beside User; nil when the credentials name no one
	// (none, an opaque token) or there is no tracking server.
	Actor           *Actor `json:"actor,omitempty"`
	Host            string `json:"host"`
	PlaybookVersion string `json:"playbook_version"`
	GoVersion       string `json:"go_version"`
	// TrackingURI is the MLflow server, credentials removed; empty when none.
	TrackingURI   string    `json:"tracking_uri,omitempty"`
	MLflowVersion string    `json:"mlflow_version,omitempty"`
	DryRun        bool      `json:"dry_run,omitempty"`
	Unrestricted  bool      `json:"unrestricted,omitempty"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end,omitzero"`
	// Isolation says how the cells were kept apart from playbook (a
	// kernel process of their own, sandboxed) and which protections were
	// active; nil when the cells ran in playbook's own process.
	Isolation *Isolation `json:"isolation,omitempty"`
	Exit      Exit       `json:"exit"`
}

// Actor is the MLflow user a run acted as: from the tracking server's
// identity of its credentials (see mlflow.Client.Identity).
type Actor struct {
	Name string `json:"name"`
	// Via is where Name comes from: ActorViaBasicAuth or ActorViaBearerJWT.
	Via string `json:"via"`
	// Verified says the server confirmed that the credentials are Name's;
	// a JWT's claim is never verified (its signature is not checked).
	Verified bool `json:"verified"`
	// Note says how Name was verified, or why it was not.
	Note string `json:"note,omitempty"`
}

// Where an Actor's name comes from, in Actor.Via (mlflow.ViaBasicAuth and
// mlflow.ViaBearerJWT).
const (
	ActorViaBasicAuth = "basic-auth" // MLFLOW_TRACKING_USERNAME
	ActorViaBearerJWT = "bearer-jwt" // the sub claim of MLFLOW_TRACKING_TOKEN
)

// Run outcomes, in Exit.Status.
const (
	OutcomeOK      = "ok"      // every cell ran
	OutcomeFailed  = "failed"  // a cell failed
	OutcomeRefused = "refused" // a gate refused
	OutcomeError   = "error"   // the scenario is invalid (syntax, type, parameters)
	// OutcomeStopped: the presenter stopped the run between two cells
	// (playbook run --step, q); the cells after are not run.
	OutcomeStopped = "stopped"
)

// Exit is how the run ended.
type Exit struct {
	Status string `json:"status"`
	// Code is playbook's exit code for this scenario.
	Code int `json:"code"`
}

// Evidence is what the steps recorded while the run went on. Steps add to
// it through package notebook's functions, which cells cannot call; new kinds
// of evidence are new fields.
type Evidence struct {
	// Calls are the registry calls that changed the registry, in order.
	Calls []Call `json:"calls"`
	// Snapshots are registry states captured by steps (before, after, ...).
	Snapshots []Snapshot `json:"snapshots"`
	Metrics   []Metric   `json:"metrics"`
	// Files are the files the run wrote to its output folder.
	Files []File `json:"files"`
	// Leaderboard, Validation, Checks and Promotion are kept by the
	// promotion steps: see evidence.go.
	Leaderboard *Leaderboard `json:"leaderboard,omitempty"`
	Validation  *Validation  `json:"validation,omitempty"`
	Checks      []Check      `json:"checks,omitempty"`
	Promotion   *Promotion   `json:"promotion,omitempty"`
	// Repairs are the unfinished promotions of earlier runs this run
	// completed or reversed before it changed production.
	Repairs []Repair `json:"repairs,omitempty"`
	// Captures are screenshots of the MLflow UI taken as evidence (see
	// Capture), or why none was taken.
	Captures []Capture `json:"captures,omitempty"`
	// Served are the scoring servers steps.Serve started (`mlflow models
	// serve`), and when each stopped.
	Served []Served `json:"served,omitempty"`
	// Environments are the models' own Python environments an environment
	// manager built or reused for the run (--env-manager virtualenv or uv).
	Environments []ModelEnv `json:"environments,omitempty"`
}

// ModelEnv is a model's Python environment (--env-manager virtualenv or
// uv): what it holds and whether this run built it.
type ModelEnv struct {
	Step string    `json:"step,omitempty"`
	Time time.Time `json:"time"`
	// Manager is virtualenv or uv; Key names the environment (a hash of
	// the manager, the interpreter and the requirements).
	Manager string `json:"manager"`
	Key     string `json:"key"`
	// Python and MLflow are the versions it runs.
	Python string `json:"python"`
	MLflow string `json:"mlflow"`
	// Requirements are the model's, as recorded when it was logged; Added
	// what playbook installed beside them for its worker.
	Requirements []string `json:"requirements"`
	Added        []string `json:"added,omitempty"`
	// Reused says it was found built by an earlier run; BuildTime is how
	// long this run took to build it.
	Reused    bool     `json:"reused"`
	BuildTime Duration `json:"build_time"`
}

// Served is one scoring server a step started for the run: what it serves,
// how it was started, how long it took to answer /ping, and its end.
type Served struct {
	Step string    `json:"step,omitempty"`
	Time time.Time `json:"time"`
	// URI is the models:/ URI the cell asked for; Model and Version what
	// it resolved to when the server started.
	URI     string `json:"uri"`
	Model   string `json:"model"`
	Version string `json:"version"`
	// Source is what the server was given (-m): URI, or the planned
	// version's source in a dry run.
	Source string `json:"source"`
	// Command is the command line (the environment is not kept: it holds
	// the tracking URI only, without credentials).
	Command []string `json:"command"`
	// URL is where it listens (loopback); Port its port; PID its process,
	// the leader of its own process group.
	URL  string `json:"url"`
	Port int    `json:"port"`
	PID  int    `json:"pid"`
	// ReadyIn is the time from the start to the first /ping answered 200.
	ReadyIn Duration `json:"ready_in"`
	// Stopped is when the run stopped it; StopOutcome how ("terminated",
	// "killed", or the error met).
	Stopped     time.Time `json:"stopped,omitzero"`
	StopOutcome string    `json:"stop_outcome,omitempty"`
}

// Call is one registry call that changed (or tried to change) the registry.
type Call struct {
	Time     time.Time      `json:"time"`
	Step     string         `json:"step,omitempty"`
	Method   string         `json:"method"`   // HTTP method
	Endpoint string         `json:"endpoint"` // e.g. /api/2.0/mlflow/registered-models/alias
	Args     map[string]any `json:"args,omitempty"`
	// Outcome is "ok", or the error the server answered.
	Outcome  string   `json:"outcome"`
	Duration Duration `json:"duration,omitzero"`
	// DryRun says the call was not sent (--dry-run).
	DryRun bool `json:"dry_run,omitempty"`
}

// Snapshot is the state of one registered model at one moment: where its
// aliases point and each version's tags.
type Snapshot struct {
	// Label says which moment: "before", "after", ...
	Label string    `json:"label,omitempty"`
	Step  string    `json:"step,omitempty"`
	Time  time.Time `json:"time,omitzero"`
	Model string    `json:"model"`
	// Aliases maps each alias to the version it points to.
	Aliases  map[string]string `json:"aliases"`
	Versions []VersionSnapshot `json:"versions"`
}

// VersionSnapshot is one model version in a Snapshot.
type VersionSnapshot struct {
	Version string            `json:"version"`
	Tags    map[string]string `json:"tags"`
	Aliases []string          `json:"aliases"`
}

// Metric is one named measure a step computed (validation F1, fairness gap).
type Metric struct {
	Step  string  `json:"step,omitempty"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Threshold and Pass are set when the metric gates something.
	Threshold *float64 `json:"threshold,omitempty"`
	Pass      *bool    `json:"pass,omitempty"`
}

// File is a file the run wrote to its output folder.
type File struct {
	Step   string `json:"step,omitempty"`
	Name   string `json:"name"` // slash-separated, relative to the output folder
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Duration is a time.Duration written in JSON as Go duration text ("1.5s").
type Duration time.Duration

// String returns the duration as Go writes it.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string such as "1.5s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("record: duration: %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("record: duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Cell returns the cell named step, or nil.
func (r *Run) Cell(step string) *Cell {
	for i := range r.Cells {
		if r.Cells[i].Step == step {
			return &r.Cells[i]
		}
	}
	return nil
}

// WriteJSON writes r as indented JSON.
func (r *Run) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteFile writes r as indented JSON to EvidenceFile in dir, creating dir.
// It writes atomically (internal/atomicfile): a reader never sees half a
// record, and a symbolic link at dir/evidence.json is replaced, not
// written through. It is a function, not a method of Run, so that cells,
// which reach every method of a value they hold, cannot call it: the
// restricted symbol tables leave it out.
func WriteFile(dir string, r *Run) error {
	return atomicfile.Write(dir, EvidenceFile, 0o644, r.WriteJSON)
}

// Read reads a run record written by WriteJSON, refusing another schema.
func Read(rd io.Reader) (*Run, error) {
	var r Run
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	if r.Schema != Schema {
		return nil, fmt.Errorf("record: schema %q, want %q", r.Schema, Schema)
	}
	return &r, nil
}
