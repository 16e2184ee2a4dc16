package pyworker_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/pyworker"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
}

// TestReadPythonEnv: the environment file the MLmodel names, else
// python_env.yaml, else requirements.txt alone; a file outside the model's
// folder, a malformed version and a model with neither are refused.
func TestReadPythonEnv(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "python_env.yaml"), "python: 3.11.7\nbuild_dependencies:\n- pip\ndependencies:\n- -r requirements.txt\n")
	pe, err := pyworker.ReadPythonEnv(dir)
	require.NoError(t, err)
	assert.Equal(t, pyworker.PythonEnv{Python: "3.11.7", BuildDependencies: []string{"pip"}, Dependencies: []string{"-r requirements.txt"}}, pe)

	writeFile(t, filepath.Join(dir, "MLmodel"), "flavors:\n  python_function:\n    env:\n      virtualenv: other_env.yaml\n")
	writeFile(t, filepath.Join(dir, "other_env.yaml"), "python: '3.12'\ndependencies:\n- numpy\n")
	pe, err = pyworker.ReadPythonEnv(dir)
	require.NoError(t, err)
	assert.Equal(t, "3.12", pe.Python)
	assert.Equal(t, []string{"numpy"}, pe.Dependencies)

	writeFile(t, filepath.Join(dir, "MLmodel"), "flavors:\n  python_function:\n    env:\n      virtualenv: ../../etc/passwd\n")
	_, err = pyworker.ReadPythonEnv(dir)
	assert.ErrorContains(t, err, `names its environment "../../etc/passwd", outside the model's folder`)

	writeFile(t, filepath.Join(dir, "MLmodel"), "flavors: {}\n")
	writeFile(t, filepath.Join(dir, "python_env.yaml"), "python: three\n")
	_, err = pyworker.ReadPythonEnv(dir)
	assert.ErrorContains(t, err, `python "three": want a version such as 3.11 or 3.11.7`)

	bare := t.TempDir()
	_, err = pyworker.ReadPythonEnv(bare)
	assert.ErrorContains(t, err, "the model has neither python_env.yaml nor requirements.txt")
	writeFile(t, filepath.Join(bare, "requirements.txt"), "numpy\n")
	pe, err = pyworker.ReadPythonEnv(bare)
	require.NoError(t, err)
	assert.Equal(t, pyworker.PythonEnv{Dependencies: []string{"-r requirements.txt"}}, pe)
}

func TestParseEnvManager(t *testing.T) {
	for in, want := range map[string]string{"": "local", "local": "local", "virtualenv": "virtualenv", "uv": "uv"} {
		got, err := pyworker.ParseEnvManager(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
	_, err := pyworker.ParseEnvManager("conda")
	assert.ErrorContains(t, err, "conda is not supported")
	_, err = pyworker.ParseEnvManager("venv")
	assert.ErrorContains(t, err, `env manager "venv": want local, virtualenv or uv`)
}

// TestEnvsWithoutTheirTools: with no uv, the uv manager says what to
// install; with no interpreter of the model's version, the virtualenv
// manager names the version and what it found; a requirements file
// outside the model's folder is refused. Nothing is built.
func TestEnvsWithoutTheirTools(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("PYENV_ROOT", t.TempDir())
	root := t.TempDir()
	model := t.TempDir()
	writeFile(t, filepath.Join(model, "python_env.yaml"), "python: 3.4.1\ndependencies:\n- -r requirements.txt\n")
	writeFile(t, filepath.Join(model, "requirements.txt"), "numpy\n")

	uv := &pyworker.Envs{Manager: pyworker.EnvUV, Root: root}
	assert.ErrorContains(t, uv.Check(), "--env-manager uv: no uv on PATH (install it: pip install uv")

	venv := &pyworker.Envs{Manager: pyworker.EnvVirtualenv, Root: root}
	require.NoError(t, venv.Check())
	_, err := venv.For(context.Background(), model)
	assert.ErrorContains(t, err, "the model wants Python 3.4.1 (its python_env.yaml): none found; install it (pyenv install 3.4.1, or your system's python3.4)")

	writeFile(t, filepath.Join(model, "python_env.yaml"), "python: 3.4.1\ndependencies:\n- -r ../requirements.txt\n")
	_, err = venv.For(context.Background(), model)
	assert.ErrorContains(t, err, `the model's environment names "../requirements.txt", outside the model's folder`)

	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing was built")
}

// TestModelEnvironments: for each manager, a scikit-learn model saved with
// mlflow-skinny in its requirements gets its own environment: the Python
// version of its python_env.yaml, its requirements, pyarrow added for the
// worker; a worker started there loads the model with that environment's
// MLflow and gives scikit-learn's own probabilities; the next run reuses
// it. A requirement that cannot be installed fails with the installer's
// words and leaves no environment behind. The virtualenv manager (pip)
// takes about a minute: a slow test.
func TestModelEnvironments(t *testing.T) {
	py := testenv.Python(t)
	dir, ref := sklearnModel(t, py, 200, "--requirements", "skinny")
	for _, mgr := range []string{pyworker.EnvUV, pyworker.EnvVirtualenv} {
		t.Run(mgr, func(t *testing.T) {
			if mgr == pyworker.EnvVirtualenv {
				testenv.Slow(t)
			}
			root := t.TempDir()
			var log strings.Builder
			envs := &pyworker.Envs{Manager: mgr, Root: root, Base: func() (string, error) { return py, nil }, Log: &log}
			require.NoError(t, envs.Check())
			env, err := envs.For(t.Context(), dir)
			require.NoError(t, err, "%s", log.String())
			t.Logf("%s built the model's environment in %s", mgr, env.BuildTime)
			assert.Equal(t, mgr, env.Manager)
			assert.False(t, env.Reused)
			assert.Positive(t, env.BuildTime)
			assert.Equal(t, "3.11.7", env.Version)
			assert.Contains(t, env.Requirements, "mlflow-skinny<4,>=3")
			assert.Equal(t, []string{"pyarrow"}, env.Added)
			assert.True(t, strings.HasPrefix(env.MLflow, "3."), env.MLflow)
			assert.Equal(t, filepath.Join(root, mgr+"-"+env.Key, "bin", "python"), env.Python)

			// The environment is its own: not the project's virtualenv.
			out, err := exec.Command(env.Python, "-c", "import sys, mlflow; print(sys.prefix); print(mlflow.__file__)").Output()
			require.NoError(t, err)
			assert.Contains(t, string(out), filepath.Join(root, mgr+"-"+env.Key))
			assert.NotContains(t, string(out), filepath.Dir(filepath.Dir(py)))

			w, err := pyworker.Start(env.Python, os.Stderr, pyworker.Environ())
			require.NoError(t, err)
			defer w.Close()
			assert.Equal(t, env.MLflow, w.Info().MLflow)
			m, err := w.Load(dir)
			require.NoError(t, err)
			proba, err := m.PredictProba(ref.frame(), "1")
			require.NoError(t, err)
			require.Len(t, proba, len(ref.Proba))
			for i := range proba {
				require.InDelta(t, ref.Proba[i], proba[i], 1e-12, "row %d", i)
			}

			start := time.Now()
			again, err := envs.For(t.Context(), dir)
			require.NoError(t, err)
			t.Logf("%s found it built in %s", mgr, time.Since(start))
			assert.True(t, again.Reused)
			assert.Equal(t, env.Python, again.Python)

			// A requirement nobody can install.
			bad := filepath.Join(t.TempDir(), "model")
			require.NoError(t, os.CopyFS(bad, os.DirFS(dir)))
			f, err := os.OpenFile(filepath.Join(bad, "requirements.txt"), os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.WriteString("\nplaybook-no-such-package==0.0.1\n")
			require.NoError(t, err)
			require.NoError(t, f.Close())
			_, err = envs.For(t.Context(), bad)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "building the model's environment ("+mgr+", Python 3.11.7")
			assert.Contains(t, err.Error(), "installing the model's requirements (")
			assert.Contains(t, err.Error(), "playbook-no-such-package")
			entries, err := os.ReadDir(root)
			require.NoError(t, err)
			var dirs []string
			for _, e := range entries {
				if e.IsDir() {
					dirs = append(dirs, e.Name())
				}
			}
			assert.Equal(t, []string{mgr + "-" + env.Key}, dirs, "the failed environment was removed")
		})
	}
}
