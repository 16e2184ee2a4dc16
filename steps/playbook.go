package steps

import "github.com/playbook-mlops/playbook/notebook"

// Playbook is the run's handle, which cells hold as pb and every step
// function takes first: the current cell's context (pb.Context()), the
// MLflow client (pb.Client()), the output folder (pb.WriteFile), and what
// the cell prints and shows (pb.Printf, pb.Table, pb.KV, pb.Plot,
// pb.Markdown, pb.Snapshot). It is defined by package notebook, the cell
// runtime; the steps record their evidence through it.
type Playbook = notebook.Playbook

// The errors of pb's methods, for errors.Is in a cell.
var (
	// ErrNoServer is pb.Client's error when the run has no tracking server.
	ErrNoServer = notebook.ErrNoServer
	// ErrNoOutDir is pb.WriteFile's error when the run has no output folder.
	ErrNoOutDir = notebook.ErrNoOutDir
	// ErrOutsideOutDir is pb.WriteFile's error for a name that would leave
	// the run's output folder.
	ErrOutsideOutDir = notebook.ErrOutsideOutDir
	// ErrFileTooLarge is pb.WriteFile's error for a file over
	// notebook.MaxFileSize (16 MiB), or one that would take the files the
	// run's cells wrote over notebook.MaxRunFilesSize (64 MiB).
	ErrFileTooLarge = notebook.ErrFileTooLarge
	// ErrDisplay is the cause of a display method's panic (pb.Table,
	// pb.KV, pb.Plot) when it is given a value it cannot show.
	ErrDisplay = notebook.ErrDisplay
)
