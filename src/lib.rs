//! Bitzel runs BitBake metadata the way Bazel runs BUILD files.
//!
//! The crate is a pipeline; modules are listed in the order data flows
//! through them, and a module uses only the ones before it:
//!
//! - [`diag`]: diagnostics and source positions, used by every stage.
//! - [`fetch`]: fetching, unpacking and patching sources (the work behind
//!   `bb.fetch2`), from plain values.
//! - [`syntax`]: metadata text to a lossless rowan tree with BitBake's
//!   errors, and a typed AST over it.
//! - [`datastore`]: evaluation as BitBake does it (operators, overrides,
//!   expansion, include/inherit, embedded python).
//! - [`signature`]: BitBake's code readers and the base hash of each task.
//! - [`recipe`]: finding recipes and appends, parsing them all with a
//!   cache, and the record of each target the graph needs.
//! - [`graph`]: providers, the task graph, task hashes, recorded
//!   signatures.
//! - [`sandbox`]: one task run in its own namespaces and view.
//! - [`cas`]: the local content-addressed store and action cache (REAPI
//!   objects) that task outputs are captured into and restored from.
//! - [`remote`]: the REAPI remote cache (CAS, ActionCache, ByteStream,
//!   Remote Asset) that shares the local one across machines.
//! - [`scheduler`]: `bitzel build`, running a graph's tasks from the cache
//!   or in the sandbox.
//! - [`cli`]: the `bitzel` command line, which draws what the stages return.

pub mod datastore;
// Parsing builds many small tree nodes; mimalloc measured 15-20% faster
// than the system allocator on openembedded-core.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod cas;
pub mod diag;
pub mod fetch;
pub mod graph;
pub mod recipe;
pub mod remote;
pub mod sandbox;
pub mod scheduler;
pub mod signature;
pub mod syntax;

pub mod cli;
