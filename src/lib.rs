//! Bitzel runs BitBake metadata the way Bazel runs BUILD files.
//!
//! The crate is a pipeline; modules are listed in the order data flows
//! through them, and a module uses only the ones before it:
//!
//! - [`diag`]: diagnostics and source positions, used by every stage.
//! - [`syntax`]: metadata text to a lossless rowan tree with BitBake's
//!   errors, and a typed AST over it.
//! - [`sandbox`]: one task run in its own namespaces and view.
//! - [`cas`]: the local content-addressed store and action cache (REAPI
//!   objects) that task outputs are captured into and restored from.
//! - [`cli`]: the `bitzel` command line, which draws what the stages return.
//!
//! Later stages (scheduler, remote cache) are described in
//! BAZEL_BITBAKE_ANALYSIS.md and arrive with their issues.

pub mod datastore;
// Parsing builds many small tree nodes; mimalloc measured 15-20% faster
// than the system allocator on openembedded-core.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod cas;
pub mod diag;
pub mod graph;
pub mod recipe;
pub mod sandbox;
pub mod scheduler;
pub mod signature;
pub mod syntax;

pub mod cli;
