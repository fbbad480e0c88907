//! Task signatures (spec §18): what each task's hash depends on.
//!
//! Two code readers: [`shell`] lists the commands a shell function runs,
//! and [`pycode`] lists what python code reads and calls. Both answer
//! exactly as BitBake's code parser does, quirks included, since any
//! difference changes signatures. On them, [`refs`] expands values while
//! recording what they reference, and [`basehash`] walks each task's keys
//! and hashes them.
//!
//! **Invariant:** the readers are pure functions of the code text (the
//! python one also of the `addpylib` modules loaded in the interpreter);
//! results are memoised by text for the whole process, so the class
//! functions every recipe inherits are read once.

pub mod basehash;
pub mod pycode;
pub mod refs;
pub mod shell;
