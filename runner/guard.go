package runner

import (
	"errors"
	"fmt"
	"go/ast"

	"github.com/playbook-mlops/playbook/record"
)

// The import allow-list keeps os, net and the like out of cells, but a few
// functions and methods of the cell API itself reach the file system or the
// network: without --unrestricted, cells may not call them.
//
// Package-level functions are left out of the restricted symbol tables
// (deniedSymbols). Methods cannot be: yaegi calls a compiled value's methods
// through reflection whatever the tables say, so a call to a method of one
// of these names is refused before the cell is compiled (deniedMethods). The
// check is by name, so it also refuses a cell's own method of that name:
// conservative, and the error says how to get past it.

// deniedSymbols are the package-level functions missing from the restricted
// symbol tables, by table key.
var deniedSymbols = map[string][]string{
	modulePath + "/mlflow/mlflow": {"New", "NewFromEnv"}, // a client for any server: the network
	// SaveModel writes a folder anywhere; LoadCSVFile, ReadTableFile and
	// LoadModel read a file or folder anywhere (/proc/self/environ, a
	// secret), which their errors would quote: cells name data files to
	// steps, which read them inside the scenario's folder only, and read
	// what they hold themselves with churn.LoadCSV and churn.ReadTable.
	modulePath + "/churn/churn": {"SaveModel", "LoadCSVFile", "ReadTableFile", "LoadModel"},
	// WriteFile writes a run record, an evidence.json, into any folder.
	modulePath + "/record/record": {"WriteFile"},
}

// deniedMethods are the method names a restricted cell may not call, and
// why.
var deniedMethods = map[string]string{
	"Save":        "writes a file anywhere (gonum/plot's Plot.Save): show plots with pb.Plot",
	"SaveModel":   "writes a folder anywhere",
	"DownloadDir": "writes files anywhere",
	// mlflow's Client.DownloadLoggedModelArtifacts: a logged model's artifacts into a local folder.
	"DownloadLoggedModelArtifacts": "writes files anywhere",
	"UploadDir":                    "reads a local folder and uploads it",
	"WriteFile":                    "writes a file anywhere: use pb.WriteFile, confined to the run's output folder",
}

// checkKernelName refuses, in every mode, a cell that names the package
// through which the runner instruments cells (kernelName): calling its
// functions would fake the line running, the value shown or the handle pb.
func (k *kernel) checkKernelName(c Cell, nodes ...ast.Node) error {
	var err error
	for _, n := range nodes {
		if n == nil || err != nil {
			continue
		}
		ast.Inspect(n, func(x ast.Node) bool {
			if id, ok := x.(*ast.Ident); ok && id.Name == kernelName && err == nil {
				line := k.in.FileSet().Position(id.Pos()).Line
				err = &Error{Kind: record.ErrCompile, File: k.file, Line: line, Step: c.Step,
					Err: fmt.Errorf("%s is the runner's name: a cell cannot use it", kernelName)}
			}
			return err == nil
		})
	}
	return err
}

// ErrCallRefused is the cause of a refused call.
var ErrCallRefused = errors.New("call not allowed")

// checkCalls refuses, in restricted mode, the calls of deniedMethods, except
// pb.WriteFile.
func (k *kernel) checkCalls(c Cell, nodes ...ast.Node) error {
	if k.unrestricted {
		return nil
	}
	var err error
	for _, n := range nodes {
		if n == nil || err != nil {
			continue
		}
		ast.Inspect(n, func(x ast.Node) bool {
			if err != nil {
				return false
			}
			if id := boundPb(x); id != nil {
				// pb.WriteFile is allowed because pb is the runner's
				// Playbook: no other value may take the name, whatever
				// its type.
				line := k.in.FileSet().Position(id.Pos()).Line
				err = &Error{Kind: record.ErrImport, File: k.file, Line: line, Step: c.Step,
					Err: fmt.Errorf("pb: %w in a cell: pb is the runner's Playbook, and a cell cannot declare or assign another value of that name", ErrCallRefused)}
				return false
			}
			sel, ok := x.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			why, denied := deniedMethods[sel.Sel.Name]
			if !denied {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "pb" && sel.Sel.Name == "WriteFile" {
				return true
			}
			line := k.in.FileSet().Position(sel.Sel.Pos()).Line
			err = &Error{Kind: record.ErrImport, File: k.file, Line: line, Step: c.Step,
				Err: fmt.Errorf(".%s: %w in a cell: it %s; run with --unrestricted to allow it", sel.Sel.Name, ErrCallRefused, why)}
			return false
		})
	}
	return err
}

// boundPb returns the identifier pb when node n declares or assigns it (a
// variable, a parameter or result, a range variable, an assignment), nil
// otherwise.
func boundPb(n ast.Node) *ast.Ident {
	isPb := func(e ast.Expr) *ast.Ident {
		if id, ok := e.(*ast.Ident); ok && id.Name == "pb" {
			return id
		}
		return nil
	}
	switch n := n.(type) {
	case *ast.AssignStmt:
		for _, e := range n.Lhs {
			if id := isPb(e); id != nil {
				return id
			}
		}
	case *ast.RangeStmt:
		for _, e := range []ast.Expr{n.Key, n.Value} {
			if id := isPb(e); id != nil {
				return id
			}
		}
	case *ast.ValueSpec:
		for _, id := range n.Names {
			if id.Name == "pb" {
				return id
			}
		}
	case *ast.Field:
		for _, id := range n.Names {
			if id.Name == "pb" {
				return id
			}
		}
	case *ast.FuncDecl:
		if n.Name.Name == "pb" {
			return n.Name
		}
	case *ast.TypeSpec:
		if n.Name.Name == "pb" {
			return n.Name
		}
	}
	return nil
}
