package notebook

import (
	"context"
	"errors"
	"time"

	"github.com/playbook-mlops/playbook/pyworker"
)

// Parent is what a kernel process (playbook run --kernel process) asks
// playbook for, since it starts no program itself: the Python worker of a
// model's own environment, and MLflow's scoring server. Playbook starts
// them out of the kernel's sandbox, from files it downloads itself from
// the registry, and keeps their evidence.
type Parent struct {
	// EnvManager is the run's --env-manager: local, virtualenv or uv.
	EnvManager string
	// CheckEnvs says whether playbook can build models' environments
	// (--env-manager virtualenv or uv): CheckPython's answer then.
	CheckEnvs func() error
	// Worker connects to the worker playbook runs in the own environment
	// of the model whose artifacts are at artifactURI (with virtualenv or
	// uv; with local, models are scored by Options.Python's). env says
	// which one.
	Worker func(ctx context.Context, artifactURI string) (w *pyworker.Worker, env *pyworker.Env, err error)
	// Serve asks playbook to start `mlflow models serve` for req and
	// waits until it answers /ping. Playbook stops it when the run ends.
	Serve func(ctx context.Context, req ServeRequest) (*Served, error)
}

// ServeRequest is a scoring server a kernel asks playbook for.
type ServeRequest struct {
	// URI is the models:/ URI the cell asked for.
	URI string `json:"uri"`
	// Source is what the server serves: models:/NAME@ALIAS,
	// models:/NAME/VERSION, or (a dry run's planned version) the
	// version's artifact URI.
	Source string `json:"source"`
	// Model and Version name the version the source resolves to, and
	// ArtifactURI where its files are (the registry's get-download-uri):
	// the model's environment is built from them.
	Model       string `json:"model"`
	Version     string `json:"version"`
	ArtifactURI string `json:"artifact_uri"`
	// ReadyTimeout bounds the wait for /ping.
	ReadyTimeout time.Duration `json:"ready_timeout"`
}

// Served is a scoring server playbook started for a kernel.
type Served struct {
	// ID names it in the kernel's requests to playbook.
	ID string `json:"id"`
	// URL is where it listens (loopback), which the kernel cannot reach:
	// it scores through Invoke.
	URL     string        `json:"url"`
	Port    int           `json:"port"`
	PID     int           `json:"pid"`
	Command []string      `json:"command"`
	Started time.Time     `json:"started"`
	ReadyIn time.Duration `json:"ready_in"`
	// Env is the model's own environment it runs in, nil with
	// --env-manager local.
	Env *pyworker.Env `json:"env,omitempty"`
	// Invoke posts body to the server's /invocations, through playbook,
	// and returns the answer's status and body.
	Invoke func(ctx context.Context, body []byte) (status int, answer []byte, err error) `json:"-"`
}

// ErrNoParent is StartServer's error in playbook's own process: steps
// start the scoring server themselves there.
var ErrNoParent = errors.New("not a kernel process")

// InKernel reports whether pb is a kernel process's: steps then ask
// playbook for the programs they would start (Parent).
func InKernel(pb *Playbook) bool { return pb.parent != nil }

// StartServer asks playbook, from a kernel process, for a scoring server
// (see Parent.Serve); ErrNoParent elsewhere.
func StartServer(pb *Playbook, req ServeRequest) (*Served, error) {
	if pb.parent == nil || pb.parent.Serve == nil {
		return nil, ErrNoParent
	}
	return pb.parent.Serve(pb.Context(), req)
}
