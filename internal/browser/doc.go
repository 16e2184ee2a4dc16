// Package browser drives a headless Chromium through the DevTools protocol,
// over the pipe Chromium opens with --remote-debugging-pipe (no websocket,
// no port, no dependency beyond the standard library).
//
// It does two jobs: the verify step's screenshot of the MLflow UI's page of
// a model (Screenshot, Open with WaitText), and the report's browser test,
// which opens index.html from disk with the network cut off and checks that
// nothing failed to load and nothing was logged as an error (Open with
// Offline).
//
// Every Chromium gets a fresh temporary profile, removed when it exits, and
// runs in its own process group, killed when the work is done or the
// context is cancelled.
package browser
