package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/playbook-mlops/playbook/server"
)

func init() {
	register(command{name: "server", summary: "serve an embedded MLflow-compatible tracking server", run: runServer})
}

// serverOptions holds the flags of playbook server.
type serverOptions struct {
	Host    string
	Port    int
	DataDir string
	Verbose bool
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o serverOptions
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: playbook server [flags]")
		fmt.Fprintln(stderr, "\nServes the part of MLflow's REST API that playbook and the churn exercise use")
		fmt.Fprintln(stderr, "(experiments, runs, the model registry, proxied artifacts), keeping its state")
		fmt.Fprintln(stderr, "in a data directory: mlflow.db (SQLite) and artifacts/. Point MLflow clients at")
		fmt.Fprintln(stderr, "the URI it prints: MLFLOW_TRACKING_URI=http://127.0.0.1:5000. In a browser, that")
		fmt.Fprintln(stderr, "address shows a read-only page of the registry, where the links of playbook's")
		fmt.Fprintln(stderr, "reports lead.")
		fmt.Fprintln(stderr, "\nflags:")
		printDefaults(fs)
	}
	fs.StringVar(&o.Host, "host", "127.0.0.1", "address to listen on (0.0.0.0 exposes the server to the network, without authentication)")
	fs.IntVar(&o.Port, "port", 5000, "port to listen on (0 picks a free one)")
	fs.StringVar(&o.DataDir, "data-dir", server.DefaultDataDir, "data `directory` (database and artifacts), created if missing")
	fs.BoolVar(&o.Verbose, "v", false, "log every request to stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errUsage(fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if o.Port < 0 || o.Port > 65535 {
		return errUsage(fmt.Errorf("--port %d: want 0 to 65535", o.Port))
	}
	return serve(ctx, o, stdout, stderr)
}

// serve runs the server until ctx ends (SIGINT, SIGTERM), then lets the
// requests in flight finish.
func serve(ctx context.Context, o serverOptions, stdout, stderr io.Writer) error {
	level := slog.LevelInfo
	if o.Verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.Open(ctx, server.Config{DataDir: o.DataDir, Version: server.DefaultVersion, Logger: logger})
	if err != nil {
		return err
	}
	uri, err := srv.Start(net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		srv.Close()
		return err
	}
	fmt.Fprintf(stderr, "playbook server: MLflow %s-compatible tracking server, data in %s; registry page (read-only) at %s/\n", server.MLflowVersion, srv.DataDir(), uri)
	fmt.Fprintln(stdout, uri)
	wait := make(chan error, 1)
	go func() { wait <- srv.Wait() }()
	select {
	case err = <-wait:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := srv.Shutdown(sctx); err == nil {
		err = serr
	}
	return err
}
