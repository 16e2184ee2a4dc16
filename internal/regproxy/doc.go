// Package regproxy is the trusted parent's door to the MLflow tracking
// server for the cell kernel, the sandboxed child process that runs a
// scenario's untrusted Go cells.
//
// # Threat model
//
// The kernel is untrusted: a scenario's cells may do anything the Go
// interpreter lets them. It holds no credentials, and its sandbox lets it
// create no socket: its only connections are those playbook hands it, to
// this proxy (Serve). The proxy is therefore the kernel's only way to the
// registry, and everything the kernel does to it passes here:
//
//   - The proxy also listens on 127.0.0.1, and answers only requests under a
//     secret prefix, /k/<128-bit random token>/ (compared in constant
//     time): another local process that finds the port cannot use it.
//     Anything else is a 404 and reaches nothing.
//   - Under the prefix, only MLflow's REST paths that package mlflow calls
//     are forwarded (see Forwarded): /api/2.0/mlflow/..., /api/2.0/mlflow-artifacts/...,
//     /health and /version; paths with "." or ".." segments, empty segments
//     or an escaped "/" are refused. Everything else is a 404, but for the
//     parent's own endpoints added with Proxy.Handle (HandleUpload: those
//     that write for the kernel, recorded as uploads are, e.g. playbook's
//     relay to an artifact store the server does not proxy).
//   - The kernel's Authorization, Proxy-Authorization and Cookie headers are
//     dropped, and only a short list of request headers is forwarded at all;
//     the parent's client (Options.Target) adds its own credentials and TLS
//     settings (mlflow.Client.Forward). Set-Cookie never comes back.
//   - Request bodies are bounded (Options.MaxBody, Options.MaxUpload):
//     beyond, the reply is 413. Replies, artifact downloads included, are
//     streamed, never held whole in memory.
//
// # What is recorded
//
// Every call that may change the server's state (see Mutating: any write
// method but MLflow's read-only POSTs, unknown POSTs included, and artifact
// uploads) is recorded as a record.Call: time, the kernel's current step,
// method, endpoint (the path after the token prefix), arguments (the JSON
// body; for an artifact upload its path and size) with the values of
// secret-looking fields redacted (see Redact), outcome ("ok", or MLflow's
// error code and message) and duration. Headers are never recorded.
//
// Before it forwards the first such call that touches a registered model
// (the name field of registered-models/* and model-versions/* calls), the
// proxy reads that model's state through the parent's client: Snapshots
// returns it labelled "before", with the state at the time Snapshots is
// called labelled "after". A call is never forwarded without its model's
// "before" snapshot: when that cannot be read, the call is refused (502).
// The snapshots cover aliases and version tags, not artifact files: the
// kernel may still overwrite files under a run's artifacts, which the
// recorded uploads show.
//
// # Which cell made a call
//
// With Options.CellTokens, a call is attributed to the cell whose code
// made it, not to the cell running when it arrives: BeginCell gives each
// cell a random token, which the kernel sends in the CellHeader of the
// calls that cell's code makes, and EndCell revokes it. A call with a
// revoked token (a goroutine the cell left behind) or a token the proxy
// never gave is refused (403), whatever its endpoint; a change with no
// token is refused too (reads without one pass: the kernel's own). A
// refused change is recorded, its outcome saying why, under the step of
// the cell whose token it carried.
//
// # Dry run
//
// With Options.DryRun, mutating calls are recorded (DryRun true, Outcome
// "not sent (dry run)") and never forwarded; the proxy answers them 200 with
// the JSON body {} so that the kernel's client goes on without an error (a
// create then returns empty identifiers, which cells in a dry run must
// expect; package steps plans its own dry-run state and does not depend on
// them). Reads are forwarded, so the kernel sees the real registry.
package regproxy
