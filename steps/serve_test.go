package steps_test

import (
	"errors"
	"math"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/playbook-mlops/playbook/churn"
	"github.com/playbook-mlops/playbook/internal/mlflowtest"
	"github.com/playbook-mlops/playbook/internal/testenv"
	"github.com/playbook-mlops/playbook/mlflow"
	"github.com/playbook-mlops/playbook/notebook"
	"github.com/playbook-mlops/playbook/pyworker"
	"github.com/playbook-mlops/playbook/record"
	"github.com/playbook-mlops/playbook/steps"
	"github.com/playbook-mlops/playbook/training"
)

// TestServePlaybookModel serves playbook's own model with `mlflow models
// serve` by its alias: Infer through /invocations gives the probabilities
// of the model loaded in process within 1e-12, the evidence says what was
// started, and once the run ends, after a later cell failed, the server's
// process is gone and its port closed.
func TestServePlaybookModel(t *testing.T) {
	c := newClient(t)
	r := newScenarioRun(t, c, false)
	model := uniqueName("Served")
	r.candidate(c, model)
	uri := "models:/" + model + "@staging-candidate"

	var (
		loaded *steps.LoadedModel
		served *steps.ServedModel
	)
	r.must("load", func() { loaded = steps.Load(r.pb, uri) })
	r.must("serve", func() {
		require.True(t, steps.ServeWanted(r.pb, steps.ServeOn))
		served = steps.Serve(r.pb, uri, steps.ServeOptions{})
	})
	assert.Equal(t, loaded.Version, served.Version)
	assert.True(t, served.Probabilities)
	assert.Equal(t, loaded.Threshold, served.Threshold)
	assert.Equal(t, "http://127.0.0.1:"+strconv.Itoa(served.Port), served.URL)
	t.Logf("mlflow models serve answered /ping in %s", served.ReadyIn)

	customers := churn.Generate(200, 5)
	var local, remote []steps.Prediction
	r.must("infer", func() {
		local = steps.Infer(r.pb, loaded, steps.InferOptions{Customers: customers})
		remote = steps.Infer(r.pb, served, steps.InferOptions{Customers: customers})
	})
	require.Len(t, remote, len(local))
	worst := 0.0
	for i := range local {
		worst = max(worst, math.Abs(local[i].Probability-remote[i].Probability))
		assert.Equal(t, local[i].Label, remote[i].Label, "customer %d", i)
	}
	assert.LessOrEqual(t, worst, 1e-12, "largest |served - in process|")
	t.Logf("largest |served - in process| over %d customers: %.3g", len(local), worst)
	tables := r.outputs("infer", record.OutputTable)
	require.Len(t, tables, 2)
	assert.Contains(t, tables[1].Title, ", served at "+served.URL+" (version "+served.Version)

	require.Len(t, r.rec.Evidence.Served, 1)
	ev := r.rec.Evidence.Served[0]
	assert.Equal(t, "serve", ev.Step)
	assert.Equal(t, uri, ev.URI)
	assert.Equal(t, uri, ev.Source)
	assert.Equal(t, served.Version, ev.Version)
	assert.Equal(t, served.Port, ev.Port)
	assert.Equal(t, served.PID, ev.PID)
	assert.Positive(t, time.Duration(ev.ReadyIn))
	assert.Equal(t, []string{"-m", "mlflow", "models", "serve", "-m", uri, "--env-manager", "local",
		"-h", "127.0.0.1", "-p", strconv.Itoa(served.Port)}, ev.Command[1:])
	assert.True(t, ev.Stopped.IsZero(), "still running")
	assertListening(t, served.Port)

	// A later cell fails; the run ends.
	err := r.step("verify", func() { steps.Infer(r.pb, (*steps.ServedModel)(nil), steps.InferOptions{}) })
	require.ErrorContains(t, err, "infer: no model: pass the result of steps.Load or steps.Serve")
	r.ctl.Close()
	assertGone(t, served.PID, served.Port)
	ev = r.rec.Evidence.Served[0]
	assert.False(t, ev.Stopped.IsZero())
	assert.Equal(t, "terminated", ev.StopOutcome)
}

// TestServeWithoutPython: a run whose Python cannot be found fails Serve
// with an error that says what and why, starts nothing, and ServeWanted
// says no (auto) or yes (on) without failing.
func TestServeWithoutPython(t *testing.T) {
	c := newClient(t)
	for _, tc := range []struct {
		name        string
		interpreter func() (string, error)
		want        []string
		is          error
	}{
		{"NotFound", func() (string, error) { return pyworker.FindPython("/nonexistent/python3") },
			[]string{"`mlflow models serve` needs a Python with mlflow: no Python that imports mlflow: /nonexistent/python3 (from --python) cannot import mlflow"},
			pyworker.ErrNoPython},
		{"NoInterpreter", nil, []string{"`mlflow models serve` needs a Python with mlflow: this run has no Python interpreter"}, notebook.ErrNoInterpreter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newScenarioRun(t, c, false)
			pb, ctl := notebook.New(notebook.Options{Run: r.rec, Connect: func() (*mlflow.Client, error) { return c, nil }, Interpreter: tc.interpreter})
			t.Cleanup(ctl.Close)
			r.pb, r.ctl = pb, ctl
			model := uniqueName("Unserved")
			r.candidate(c, model)
			uri := "models:/" + model + "@staging-candidate"
			var auto, on bool
			r.must("serve", func() {
				auto = steps.ServeWanted(pb, steps.ServeAuto)
				on = steps.ServeWanted(pb, steps.ServeOn)
			})
			assert.False(t, auto)
			assert.True(t, on)
			kv := r.outputs("serve", record.OutputKV)
			require.NotEmpty(t, kv)
			err := r.step("infer", func() { steps.Serve(pb, uri, steps.ServeOptions{}) })
			require.Error(t, err)
			assert.True(t, errors.Is(err, tc.is), "%v", err)
			assert.Contains(t, err.Error(), "serve "+uri+" (version 1): ")
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, r.rec.Evidence.Served)
		})
	}
	r := newScenarioRun(t, c, false)
	err := r.step("serve", func() { steps.ServeWanted(r.pb, "sometimes") })
	assert.EqualError(t, err, `serve: mode "sometimes": want auto, on or off`)
}

// TestServeWantedInFrench: in a French scenario, serve=auto without a
// Python says why in French, without the interpreter's English error.
func TestServeWantedInFrench(t *testing.T) {
	r := newScenarioRun(t, nil, false)
	r.rec.Scenario.Lang = "fr"
	none := func() (string, error) { return pyworker.FindPython("/nonexistent/python3") }
	pb, ctl := notebook.New(notebook.Options{Run: r.rec, Interpreter: none})
	t.Cleanup(ctl.Close)
	r.pb, r.ctl = pb, ctl
	var auto bool
	r.must("serve", func() { auto = steps.ServeWanted(pb, steps.ServeAuto) })
	assert.False(t, auto)
	kv := r.outputs("serve", record.OutputKV)
	require.Len(t, kv, 1)
	assert.Equal(t, "Service du modèle", kv[0].Title)
	values := map[string]string{}
	for _, e := range kv[0].KV {
		values[e.Key] = e.Value
	}
	assert.Equal(t, "pas de service (serve=auto)", values["décision"])
	assert.Equal(t, "pas de Python avec mlflow et pyarrow pour lancer « mlflow models serve » (ni --python, ni $PLAYBOOK_PYTHON, ni un python3 du PATH qui les importe)", values["pourquoi"])
	assert.Equal(t, "le modèle est évalué dans le processus (steps.Load)", values["à la place"])
}

// assertListening fails unless something accepts connections on port.
func assertListening(t *testing.T, port int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	require.NoError(t, err, "the scoring server's port")
	conn.Close()
}

// assertGone fails unless process pid has exited and nothing listens on
// port.
func assertGone(t *testing.T, pid, port int) {
	t.Helper()
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "process %d is still there", pid)
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	if err == nil {
		conn.Close()
	}
	assert.Error(t, err, "something still listens on port %d", port)
}

// BenchmarkServeStart measures steps.Serve on playbook's own model: the
// alias resolved and the model's files read, `python -m mlflow models
// serve` started, and /ping answered (ready-ms/op is the part from the
// process's start to /ping). Each server is stopped (ctl.Close) outside
// the timer; stop-ms/op is that stop (SIGTERM to the group, until the
// process has exited).
func BenchmarkServeStart(b *testing.B) {
	py := testenv.Python(b)
	c := mlflowtest.Client(b)
	exp, model := uniqueName("bench-serve"), uniqueName("BenchServe")
	_, err := training.Train(b.Context(), c, training.Options{Experiment: exp, Runs: 1, Rows: 2000, Seed: 3})
	require.NoError(b, err)
	newRun := func() (*steps.Playbook, *notebook.Controller) {
		rec := &record.Run{Schema: record.Schema, Cells: []record.Cell{{Step: "register"}, {Step: "serve"}}}
		return notebook.New(notebook.Options{Run: rec, Connect: func() (*mlflow.Client, error) { return c, nil },
			Interpreter: func() (string, error) { return py, nil }})
	}
	pb, ctl := newRun()
	ctl.Begin(b.Context(), "register")
	v := steps.Register(pb, steps.Identify(pb, steps.IdentifyOptions{Experiment: exp}), steps.RegisterOptions{Model: model})
	require.NoError(b, c.SetRegisteredModelAlias(b.Context(), model, "bench", v.Version))
	ctl.End()
	ctl.Close()
	uri := "models:/" + model + "@bench"

	var ready, stop time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		pb, ctl := newRun()
		ctl.Begin(b.Context(), "serve")
		b.StartTimer()
		s := steps.Serve(pb, uri, steps.ServeOptions{})
		b.StopTimer()
		ready += s.ReadyIn
		ctl.End()
		start := time.Now()
		ctl.Close()
		stop += time.Since(start)
		b.StartTimer()
	}
	b.ReportMetric(float64(ready.Milliseconds())/float64(b.N), "ready-ms/op")
	b.ReportMetric(float64(stop.Milliseconds())/float64(b.N), "stop-ms/op")
}
