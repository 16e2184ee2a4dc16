package main

import (
	"errors"
	"os"

	"github.com/playbook-mlops/playbook/mlflow"
)

// errNoTrackingURI is returned when a command needs an MLflow server and
// none is named.
var errNoTrackingURI = errors.New("no tracking server: pass --tracking-uri or set MLFLOW_TRACKING_URI")

// newClient returns an MLflow client configured from MLflow's environment
// variables, the tracking URI taken from flagURI when it is not empty.
func newClient(flagURI string) (*mlflow.Client, error) {
	cfg, err := mlflow.ConfigFromEnv(os.Getenv)
	if err != nil {
		return nil, errUsage(err)
	}
	if flagURI != "" {
		cfg.TrackingURI = flagURI
	}
	if cfg.TrackingURI == "" {
		return nil, errUsage(errNoTrackingURI)
	}
	c, err := mlflow.New(cfg, mlflow.WithUserAgent("playbook/"+Version()))
	if err != nil {
		return nil, errUsage(err)
	}
	return c, nil
}

// isTerminal reports whether f is a terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
