// Package record defines the run record: one JSON-serialisable value holding
// everything a report needs about one run of a scenario — the scenario and
// its prose, the resolved parameters, every cell with its code, outputs,
// status and timing, the environment, and the evidence the steps recorded
// (registry calls that changed the registry, snapshots, metrics, files).
//
// The report renders a Run and recomputes nothing. The package imports only
// the standard library, so any other package may depend on it.
//
// Run is plain data: it has no lock. While a run is in progress, the steps
// package owns it and serialises writes; read or marshal it only after the
// run has ended.
package record
