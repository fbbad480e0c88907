//! Task signatures (spec §18): what each task's hash depends on.
//!
//! So far the two code readers the dependency graph needs:
//! [`shell`] lists the commands a shell function runs, and [`pycode`]
//! lists what python code reads and calls. Both answer exactly as
//! BitBake's code parser does, quirks included, since any difference
//! changes signatures.
//!
//! **Invariant:** the readers are pure functions of the code text (the
//! python one also of the `addpylib` modules loaded in the interpreter);
//! results are memoised by text.

pub mod pycode;
pub mod shell;
