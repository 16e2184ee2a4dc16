package pyworker

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/playbook-mlops/playbook/internal/tailbuf"
)

// The environment managers, as `mlflow models serve --env-manager` names
// them: local scores a model with the run's own interpreter; virtualenv
// and uv build the model's own environment from its python_env.yaml
// (Python's venv and pip, or uv) and score it there.
const (
	EnvLocal      = "local"
	EnvVirtualenv = "virtualenv"
	EnvUV         = "uv"
)

// ParseEnvManager checks an --env-manager value.
func ParseEnvManager(s string) (string, error) {
	switch s {
	case "", EnvLocal:
		return EnvLocal, nil
	case EnvVirtualenv, EnvUV:
		return s, nil
	case "conda":
		return "", fmt.Errorf("env manager %q: playbook builds model environments with %s or %s (conda is not supported)", s, EnvVirtualenv, EnvUV)
	}
	return "", fmt.Errorf("env manager %q: want %s, %s or %s", s, EnvLocal, EnvVirtualenv, EnvUV)
}

// PythonEnv is a model's python_env.yaml: the Python version and the pip
// requirements MLflow recorded when the model was logged.
type PythonEnv struct {
	Python            string   `yaml:"python" json:"python"`
	BuildDependencies []string `yaml:"build_dependencies" json:"build_dependencies"`
	Dependencies      []string `yaml:"dependencies" json:"dependencies"`
}

// ReadPythonEnv reads the environment of the model folder dir: the file
// its MLmodel names (flavors.python_function.env.virtualenv, else
// python_env.yaml), or, for a model logged without one, its
// requirements.txt with no Python version (the interpreter's own then), as
// MLflow does.
func ReadPythonEnv(dir string) (PythonEnv, error) {
	name := "python_env.yaml"
	if b, err := os.ReadFile(filepath.Join(dir, "MLmodel")); err == nil {
		var mlm struct {
			Flavors struct {
				Pyfunc struct {
					Env any `yaml:"env"`
				} `yaml:"python_function"`
			} `yaml:"flavors"`
		}
		if yaml.Unmarshal(b, &mlm) == nil {
			if m, ok := mlm.Flavors.Pyfunc.Env.(map[string]any); ok {
				if v, ok := m["virtualenv"].(string); ok && v != "" {
					name = v
				}
			}
		}
	}
	if !filepath.IsLocal(name) {
		return PythonEnv{}, fmt.Errorf("the model's MLmodel names its environment %q, outside the model's folder", name)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		if _, rerr := os.Stat(filepath.Join(dir, "requirements.txt")); rerr == nil {
			return PythonEnv{Dependencies: []string{"-r requirements.txt"}}, nil
		}
		return PythonEnv{}, fmt.Errorf("the model has neither %s nor requirements.txt: MLflow records them when it logs a model; log it again with MLflow, or score it with --env-manager local", name)
	}
	if err != nil {
		return PythonEnv{}, err
	}
	var pe PythonEnv
	if err := yaml.Unmarshal(b, &pe); err != nil {
		return PythonEnv{}, fmt.Errorf("the model's %s: %w", name, err)
	}
	if pe.Python != "" && !validVersion(pe.Python) {
		return PythonEnv{}, fmt.Errorf("the model's %s: python %q: want a version such as 3.11 or 3.11.7", name, pe.Python)
	}
	return pe, nil
}

// validVersion reports whether v is MAJOR.MINOR or MAJOR.MINOR.PATCH.
func validVersion(v string) bool {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

// workerRequirements are what the worker itself imports besides the
// model's requirements; an environment whose model does not require them
// gets them added (as MLflow adds mlflow to an environment it serves
// from).
var workerRequirements = []string{"pyarrow"}

// Env is a model's environment, built or found by Envs.For.
type Env struct {
	Manager      string        `json:"manager"`
	Dir          string        `json:"dir"`
	Python       string        `json:"python"` // its interpreter
	Version      string        `json:"python_version"`
	Requirements []string      `json:"requirements"` // the model's, as pip reads them
	Added        []string      `json:"added,omitempty"`
	MLflow       string        `json:"mlflow"`
	Reused       bool          `json:"reused"`
	BuildTime    time.Duration `json:"build_time"`
	Key          string        `json:"key"`
}

// Envs builds the environments of models for an env manager (virtualenv or
// uv) and keeps them under Root, one per distinct Python version and
// requirements, so that the next run reuses them.
type Envs struct {
	Manager string
	// Root is the folder of the environments; empty means
	// $XDG_CACHE_HOME/playbook/envs (os.UserCacheDir).
	Root string
	// Base returns the run's interpreter, if any (--python): the first
	// candidate for the model's Python version, and where uv is looked for
	// after PATH. Nil or failing is fine.
	Base func() (string, error)
	// Log receives what the build prints (pip's and uv's output).
	Log io.Writer
}

// DefaultEnvRoot is where Envs keeps environments when Root is empty.
func DefaultEnvRoot() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no folder for model environments: %w", err)
	}
	return filepath.Join(dir, "playbook", "envs"), nil
}

// Check says whether e can build environments at all: uv is found for
// the uv manager; the virtualenv manager needs only an interpreter of the
// model's version, looked for when building.
func (e *Envs) Check() error {
	if e.Manager == EnvUV {
		_, err := e.uv()
		return err
	}
	return nil
}

// uv returns the uv program: on PATH, else beside the base interpreter
// (a virtualenv with uv installed).
func (e *Envs) uv() (string, error) {
	if p, err := exec.LookPath("uv"); err == nil {
		return p, nil
	}
	if base := e.base(); base != "" {
		p := filepath.Join(filepath.Dir(base), "uv")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("--env-manager uv: no uv on PATH (install it: pip install uv, or https://docs.astral.sh/uv/), or use --env-manager virtualenv")
}

func (e *Envs) base() string {
	if e.Base == nil {
		return ""
	}
	p, err := e.Base()
	if err != nil {
		return ""
	}
	return p
}

// envMarker is the file that says an environment was built completely
// (written last; an environment without it is built again).
const envMarker = ".playbook-env.json"

// For returns the environment of the model folder dir, building it on
// first use: a virtual environment of the Python version its
// python_env.yaml names, its build dependencies and requirements installed
// (from dir, so `-r requirements.txt` and constraints resolve), and
// pyarrow for the worker when the model does not require it. It is kept
// under Root by a key of the manager, the interpreter and the
// requirements' contents; a build interrupted is started again.
func (e *Envs) For(ctx context.Context, dir string) (Env, error) {
	pe, err := ReadPythonEnv(dir)
	if err != nil {
		return Env{}, err
	}
	reqs, err := expandRequirements(dir, pe.Dependencies)
	if err != nil {
		return Env{}, err
	}
	interp, version, err := e.interpreter(ctx, pe.Python)
	if err != nil {
		return Env{}, err
	}
	root := e.Root
	if root == "" {
		if root, err = DefaultEnvRoot(); err != nil {
			return Env{}, err
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return Env{}, fmt.Errorf("the folder of model environments: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "playbook env 1\n%s\n%s\n%s\n", e.Manager, interp, version)
	for _, l := range pe.BuildDependencies {
		fmt.Fprintf(h, "build %s\n", l)
	}
	for _, l := range reqs {
		fmt.Fprintf(h, "req %s\n", l)
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	env := Env{Manager: e.Manager, Dir: filepath.Join(root, e.Manager+"-"+key), Version: version, Requirements: reqs, Key: key}
	env.Python = filepath.Join(env.Dir, "bin", "python")

	unlock, err := lockFile(filepath.Join(root, e.Manager+"-"+key+".lock"))
	if err != nil {
		return Env{}, fmt.Errorf("locking the model's environment %s: %w", env.Dir, err)
	}
	defer unlock()
	if b, err := os.ReadFile(filepath.Join(env.Dir, envMarker)); err == nil {
		var kept Env
		if json.Unmarshal(b, &kept) == nil && kept.Key == key {
			kept.Reused, kept.BuildTime = true, 0
			return kept, nil
		}
	}
	start := time.Now()
	if err := os.RemoveAll(env.Dir); err != nil {
		return Env{}, err
	}
	b := &builder{e: e, ctx: ctx, dir: dir}
	if err := b.build(&env, interp, pe); err != nil {
		_ = os.RemoveAll(env.Dir)
		return Env{}, fmt.Errorf("building the model's environment (%s, Python %s, in %s): %w", e.Manager, version, env.Dir, err)
	}
	env.BuildTime = time.Since(start)
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return Env{}, err
	}
	if err := os.WriteFile(filepath.Join(env.Dir, envMarker), out, 0o644); err != nil {
		return Env{}, err
	}
	return env, nil
}

// expandRequirements returns the requirement lines deps names, the files
// they refer to (-r, -c) read from dir, for the environment's key and the
// evidence.
func expandRequirements(dir string, deps []string) ([]string, error) {
	var out []string
	for _, d := range deps {
		d = strings.TrimSpace(d)
		name, ok := strings.CutPrefix(d, "-r ")
		if !ok {
			name, ok = strings.CutPrefix(d, "-c ")
		}
		if !ok {
			out = append(out, d)
			continue
		}
		name = strings.TrimSpace(name)
		if !filepath.IsLocal(name) {
			return nil, fmt.Errorf("the model's environment names %q, outside the model's folder", name)
		}
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("the model's environment: %w", err)
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			if l := strings.TrimSpace(s.Text()); l != "" && !strings.HasPrefix(l, "#") {
				if strings.HasPrefix(d, "-c ") {
					l = "constraint " + l
				}
				out = append(out, l)
			}
		}
		f.Close()
		if err := s.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// interpreter finds a Python of version want (MAJOR.MINOR[.PATCH]; empty
// means the base interpreter's, or a python3 on PATH): the base
// interpreter, pyenv's installed versions, pythonMAJOR.MINOR on PATH, in
// that order, each checked by asking it its version. For the virtualenv
// manager a version pyenv can install is installed (as MLflow does);
// for uv, when none is found, uv is given the version to find or download.
func (e *Envs) interpreter(ctx context.Context, want string) (path, version string, err error) {
	var candidates []string
	if b := e.base(); b != "" {
		candidates = append(candidates, b)
	}
	if want == "" {
		if p, err := exec.LookPath("python3"); err == nil {
			candidates = append(candidates, p)
		}
	} else {
		candidates = append(candidates, pyenvVersions(want)...)
		mm := strings.Join(strings.Split(want, ".")[:2], ".")
		if p, err := exec.LookPath("python" + mm); err == nil {
			candidates = append(candidates, p)
		}
	}
	var seen []string
	for _, c := range candidates {
		v, err := pythonVersion(ctx, c)
		if err != nil {
			continue
		}
		seen = append(seen, fmt.Sprintf("%s (%s)", c, v))
		if want == "" || v == want || strings.HasPrefix(v, want+".") {
			return c, v, nil
		}
	}
	if want != "" && e.Manager == EnvUV {
		return want, want, nil // uv finds it among its own, or downloads it
	}
	if want != "" {
		if pyenv, err := exec.LookPath("pyenv"); err == nil {
			out, err := runLogged(ctx, e.Log, "", nil, pyenv, "install", "--skip-existing", want)
			if err != nil {
				return "", "", fmt.Errorf("the model wants Python %s, which is not installed, and `pyenv install %s` failed (%v): %s", want, want, err, out)
			}
			for _, c := range pyenvVersions(want) {
				if v, err := pythonVersion(ctx, c); err == nil {
					return c, v, nil
				}
			}
		}
	}
	tried := "none found"
	if len(seen) > 0 {
		tried = "found " + strings.Join(seen, ", ")
	}
	if want == "" {
		return "", "", fmt.Errorf("no Python to build the model's environment with (%s): install Python 3 or pass --python", tried)
	}
	return "", "", fmt.Errorf("the model wants Python %s (its python_env.yaml): %s; install it (pyenv install %s, or your system's python%s) or use --env-manager uv, which can download it",
		want, tried, want, strings.Join(strings.Split(want, ".")[:2], "."))
}

// pyenvVersions returns the interpreters of pyenv's installed versions
// matching want (exact, or the newest patch of MAJOR.MINOR).
func pyenvVersions(want string) []string {
	root := os.Getenv("PYENV_ROOT")
	if root == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil
		}
		root = filepath.Join(home, ".pyenv")
	}
	entries, err := os.ReadDir(filepath.Join(root, "versions"))
	if err != nil {
		return nil
	}
	var out []string
	for _, en := range entries {
		if n := en.Name(); n == want || strings.HasPrefix(n, want+".") {
			out = append(out, filepath.Join(root, "versions", n, "bin", "python"))
		}
	}
	slices.Reverse(out) // newest patch first, as ReadDir sorts by name
	return out
}

// pythonVersion asks the interpreter p its version.
func pythonVersion(ctx context.Context, p string) (string, error) {
	cmd := exec.CommandContext(ctx, p, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])")
	cmd.Env = Environ()
	out, err := cmd.Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// builder runs the commands that build one environment.
type builder struct {
	e   *Envs
	ctx context.Context
	dir string // the model's folder: the commands' working directory
}

func (b *builder) build(env *Env, interp string, pe PythonEnv) error {
	var install []string // the command that installs into env, before its arguments
	switch b.e.Manager {
	case EnvUV:
		uv, err := b.e.uv()
		if err != nil {
			return err
		}
		if out, err := b.run("creating it with uv", uv, "venv", "--python", interp, env.Dir); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		install = []string{uv, "pip", "install", "--python", env.Python}
	case EnvVirtualenv:
		if out, err := b.run("creating it with venv", interp, "-m", "venv", env.Dir); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		install = []string{env.Python, "-m", "pip", "install", "--disable-pip-version-check"}
	default:
		return fmt.Errorf("env manager %q builds no environment", b.e.Manager)
	}
	if v, err := pythonVersion(b.ctx, env.Python); err == nil {
		env.Version = v
	}
	if len(pe.BuildDependencies) > 0 {
		if out, err := b.run("installing its build dependencies ("+strings.Join(pe.BuildDependencies, ", ")+")", append(install, pe.BuildDependencies...)...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
	}
	if len(pe.Dependencies) > 0 {
		// As MLflow does: the dependencies in a file of the model's folder,
		// so that the files they name resolve.
		f, err := os.CreateTemp(b.dir, "playbook-requirements-*.txt")
		if err != nil {
			return err
		}
		_, werr := f.WriteString(strings.Join(pe.Dependencies, "\n") + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		defer os.Remove(f.Name())
		if werr != nil {
			return werr
		}
		what := "installing the model's requirements (" + strings.Join(env.Requirements, ", ") + ")"
		if out, err := b.run(what, append(install, "-r", filepath.Base(f.Name()))...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
	}
	for _, r := range workerRequirements {
		if _, err := b.run("", env.Python, "-c", "import "+r); err == nil {
			continue
		}
		if out, err := b.run("installing "+r+" for playbook's worker", append(install, r)...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		env.Added = append(env.Added, r)
	}
	out, err := b.run("", env.Python, "-c", "import mlflow; print(mlflow.__version__)")
	if err != nil {
		return fmt.Errorf("the environment does not import mlflow (does the model require mlflow or mlflow-skinny?): %s", out)
	}
	env.MLflow = strings.TrimSpace(out)
	return nil
}

// run runs a build command in the model's folder, its output to the log;
// on failure the error says what it was doing and returns the output's
// last lines.
func (b *builder) run(what string, args ...string) (string, error) {
	log := b.e.Log
	if what == "" {
		log = nil
	} else if log != nil {
		fmt.Fprintf(log, "env: %s\n", what)
	}
	out, err := runLogged(b.ctx, log, b.dir, buildEnviron(), args[0], args[1:]...)
	if err != nil && what != "" {
		return out, fmt.Errorf("%s: %w", what, err)
	}
	return out, err
}

// runLogged runs a program, its output copied to log (when not nil); it
// returns the output's last lines (all of it when short).
func runLogged(ctx context.Context, log io.Writer, dir string, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	if env == nil {
		cmd.Env = Environ()
	}
	tail := &tailbuf.Buffer{Max: 8 << 10}
	var w io.Writer = tail
	if log != nil {
		w = io.MultiWriter(log, tail)
	}
	cmd.Stdout, cmd.Stderr = w, w
	err := cmd.Run()
	return tail.Last(8), err
}

// buildVars are the variables of playbook's environment that pip and uv
// keep when building a model's environment: where to find packages, through
// which proxy and with which certificates, and uv's cache.
var buildVars = []string{
	"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST", "PIP_CERT", "PIP_CONFIG_FILE", "PIP_NO_INDEX",
	"UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX", "UV_DEFAULT_INDEX", "UV_FIND_LINKS", "UV_CACHE_DIR", "UV_NATIVE_TLS",
	"UV_PYTHON_DOWNLOADS", "UV_PYTHON_INSTALL_DIR", "UV_OFFLINE",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
}

// buildEnviron is the environment of build commands: the worker's, and
// buildVars. The virtualenv variables of playbook's own interpreter are
// left out, so pip installs into the new environment.
func buildEnviron() []string {
	var env []string
	for _, kv := range Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "VIRTUAL_ENV" && k != "CONDA_PREFIX" && k != "PYTHONPATH" && k != "PYTHONHOME" {
			env = append(env, kv)
		}
	}
	for _, k := range buildVars {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
