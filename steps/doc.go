// Package steps is the API that scenario cells call: one function (or small
// group) per step of a model promotion (identify, register, alias, validate,
// promote, load, infer, verify) plus training (TrainRuns, which calls
// package training) and rollback, each recording its evidence.
//
// A cell reads like the exercise: each step function takes the run's handle
// pb first, then what the previous step returned and its options, and
// returns only its result:
//
//	best := steps.Identify(pb, steps.IdentifyOptions{Experiment: params.Experiment, Metric: params.Metric})
//	version := steps.Register(pb, best, steps.RegisterOptions{Model: params.ModelName})
//	candidate := steps.Alias(pb, version, params.CandidateAlias)
//
// A cell cannot return an error, so a step that fails panics with an error
// value; the runner reports it at the cell's line as the step's failure
// (playbook exits 1). A gate's refusal (validation failed, promotion
// refused) is a *GateError, and playbook exits 3. Go code calling the steps
// directly recovers the panic.
//
// The run's handle is package notebook's Playbook (steps.Playbook names
// it for cells). The steps keep their evidence through notebook's
// package-level functions (notebook.RecordCall, notebook.KeepSnapshot, ...),
// which cells cannot reach: a cell cannot forge the record.
//
// Every call that changes the registry goes through one helper that records
// it (time, step, endpoint, arguments, outcome, duration) in the run
// record, and that under --dry-run records it without sending it; the steps
// after a dry-run change see the registry as it would be. The first step
// that reads a registered model keeps its state as the "before" snapshot,
// which also says which version held the production alias when the
// scenario started; verify keeps the "after" snapshot and asks the run's
// notebook.Capturer, when it has one, for a screenshot of the model's page
// in the MLflow UI (or records why there is none).
//
// The functions are not generic: yaegi cannot call generic functions.
package steps
