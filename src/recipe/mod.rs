//! Recipes: finding them (`BBFILES`, `BBMASK`), matching `.bbappend` files,
//! and (with the task-graph issue) providers and variants as targets.
//!
//! Invariant: deterministic; files and layers are sorted, so the host's
//! directory order never leaks.

pub mod bbappend;
pub mod bbfiles;
pub mod info;
pub mod parse_all;
pub mod parse_worker;
pub mod target;
