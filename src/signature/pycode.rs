//! What python code reads and calls, as BitBake's code parser finds it
//! (spec §18.3), for the dependencies of task signatures (§18.2 rule 3 and
//! inline python everywhere).
//!
//! The analysis is our python module `_bitzel_codeparser` (next to the
//! other embedded python, `src/datastore/python/`), run in the process's
//! interpreter: it walks python's own syntax tree, so the code is read
//! exactly as python reads it. [`python_code_deps`] takes a python function
//! body (a `python name () {...}` body or a whole `def`) or the code of an
//! inline `${@...}` expression, raw (unexpanded).
//!
//! Results are memoised by code text for the whole process, as BitBake's
//! code parser cache does: the same class functions recur in every recipe.
//!
//! **Invariant:** a result depends only on the code text and on the
//! `addpylib` modules already loaded (their `visitorcode` hooks); the
//! configuration loads those before any signature is computed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rustc_hash::FxHashMap;

use crate::datastore::python::with_interpreter;

/// What one piece of python code reads and calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PythonCodeDeps {
    /// Variables read: the literal first argument of calls whose dotted
    /// name ends with `.getVar`, `.appendVar`, `.prependVar` or
    /// `oe.utils.conditional` (also `d.getVar("X", False)`), and of
    /// `bb.utils.contains`/`base_contains`/`contains_any`/`filter` when
    /// their item argument is not a literal.
    pub refs: BTreeSet<String>,
    /// `(VAR, flag)` for `.getVarFlag`/`.appendVarFlag`/`.prependVarFlag`
    /// with both arguments literal; BitBake's key is `VAR[flag]`.
    pub flag_refs: BTreeSet<(String, String)>,
    /// Variable -> tested items, from `bb.utils.contains`/`base_contains`
    /// (the item as written) and `bb.utils.contains_any`/`filter` (each
    /// word of it), and from `visitorcode` hooks. These are not
    /// dependencies; they become contains annotations (§18.2).
    pub contains: BTreeMap<String, BTreeSet<String>>,
    /// Literal arguments of calls whose name ends with `.expand`, in the
    /// order of python's `ast.walk`. BitBake expands each in an empty
    /// datastore, with the analysed function's name as the variable being
    /// expanded, and adds every variable referenced (set or not), the
    /// names called and the contains tests of inline python in it.
    pub expands: Vec<String>,
    /// Every other called dotted name, and the literal first argument of
    /// `bb.build.exec_func`/`exec_task` (a dependency only if it is a key).
    pub execs: BTreeSet<String>,
}

/// Why code could not be analysed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PythonCodeErrorKind {
    /// Python cannot compile the code.
    Syntax,
    /// BitBake's analysis itself fails on it (e.g. `d.getVar()` without
    /// arguments, or a failing `visitorcode` hook).
    Rejected,
    /// The embedded interpreter failed (not memoised).
    Interpreter,
}

/// Python code BitBake's code parser cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if *line > 0 { format!("line {line}: ") } else { String::new() })]
pub struct PythonCodeError {
    pub kind: PythonCodeErrorKind,
    /// 1-based line in the code given, 0 when unknown.
    pub line: usize,
    pub message: String,
}

type Memo = FxHashMap<String, Result<Arc<PythonCodeDeps>, PythonCodeError>>;

static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(|| Mutex::new(Memo::default()));

/// Analyses python code (see the module documentation).
pub fn python_code_deps(code: &str) -> Result<Arc<PythonCodeDeps>, PythonCodeError> {
    if let Some(found) = memo().get(code) {
        return found.clone();
    }
    // The lock is not held while python runs: other threads may analyse
    // other code meanwhile, and the same code twice at worst.
    let result = analyse(code);
    if !matches!(&result, Err(e) if e.kind == PythonCodeErrorKind::Interpreter) {
        memo().insert(code.to_string(), result.clone());
    }
    result
}

fn memo() -> std::sync::MutexGuard<'static, Memo> {
    // A panic elsewhere while holding the lock leaves a valid map.
    MEMO.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn interpreter_error(message: String) -> PythonCodeError {
    PythonCodeError {
        kind: PythonCodeErrorKind::Interpreter,
        line: 0,
        message,
    }
}

type OkTuple = (
    String,
    Vec<String>,
    Vec<(String, String)>,
    BTreeMap<String, Vec<String>>,
    Vec<String>,
    Vec<String>,
);

fn analyse(code: &str) -> Result<Arc<PythonCodeDeps>, PythonCodeError> {
    with_interpreter(|py| -> Result<Arc<PythonCodeDeps>, PythonCodeError> {
        let failed = |e: PyErr| interpreter_error(format!("code analysis failed: {e}"));
        let module = py.import("_bitzel_codeparser").map_err(failed)?;
        let answer = module.call_method1("code_deps", (code,)).map_err(failed)?;
        let tuple = answer.cast::<PyTuple>().map_err(|e| failed(e.into()))?;
        let tag: String = tuple
            .get_item(0)
            .and_then(|t| t.extract())
            .map_err(failed)?;
        if tag == "error" {
            let (_, kind, line, message): (String, String, usize, String) =
                answer.extract().map_err(failed)?;
            return Err(PythonCodeError {
                kind: if kind == "syntax" {
                    PythonCodeErrorKind::Syntax
                } else {
                    PythonCodeErrorKind::Rejected
                },
                line,
                message,
            });
        }
        let (_, refs, flag_refs, contains, expands, execs): OkTuple =
            answer.extract().map_err(failed)?;
        Ok(Arc::new(PythonCodeDeps {
            refs: refs.into_iter().collect(),
            flag_refs: flag_refs.into_iter().collect(),
            contains: contains
                .into_iter()
                .map(|(var, items)| (var, items.into_iter().collect()))
                .collect(),
            expands,
            execs: execs.into_iter().collect(),
        }))
    })
    .map_err(interpreter_error)?
}

/// One `addpylib` function as a signature key (spec §18.2: keys include
/// `namespace.module.function`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PylibFunctionDeps {
    /// Variables and `VAR[flag]` keys read, with the function's
    /// `@bb.parse.vardeps` added and `@bb.parse.vardepsexclude` removed
    /// (the caller also removes the key's own `[vardepsexclude]` words).
    pub refs: BTreeSet<String>,
    /// Names called; functions of the same module carry its prefix
    /// (`oe.utils.helper`).
    pub execs: BTreeSet<String>,
    /// Contains tests, as in [`PythonCodeDeps::contains`].
    pub contains: BTreeMap<String, BTreeSet<String>>,
    /// Literal `.expand` arguments, as in [`PythonCodeDeps::expands`].
    pub expands: Vec<String>,
    /// The key's hashed value: sha256 of the function's source, preceded
    /// by one newline per line above it in its file.
    pub value: String,
}

type PylibTuple = (
    Vec<String>,
    Vec<String>,
    BTreeMap<String, Vec<String>>,
    Vec<String>,
    String,
);

/// Every function of the loaded `addpylib` namespaces that BitBake makes a
/// signature key (public callables of the modules a namespace lists in
/// `BBIMPORTS`, defined in that module's file), analysed as BitBake does
/// when it loads them. A function whose source cannot be read or compiled
/// maps to its error message.
pub fn pylib_function_deps()
-> Result<BTreeMap<String, Result<PylibFunctionDeps, String>>, PythonCodeError> {
    with_interpreter(|py| -> Result<_, PythonCodeError> {
        let failed = |e: PyErr| interpreter_error(format!("code analysis failed: {e}"));
        let module = py.import("_bitzel_codeparser").map_err(failed)?;
        let answer = module.call_method0("pylib_function_deps").map_err(failed)?;
        let entries: BTreeMap<String, Bound<'_, PyAny>> = answer.extract().map_err(failed)?;
        let mut result = BTreeMap::new();
        for (name, entry) in entries {
            if let Ok((tag, message)) = entry.extract::<(String, String)>()
                && tag == "error"
            {
                result.insert(name, Err(message));
                continue;
            }
            let (refs, execs, contains, expands, value): PylibTuple =
                entry.extract().map_err(failed)?;
            result.insert(
                name,
                Ok(PylibFunctionDeps {
                    refs: refs.into_iter().collect(),
                    execs: execs.into_iter().collect(),
                    contains: contains
                        .into_iter()
                        .map(|(var, items)| (var, items.into_iter().collect()))
                        .collect(),
                    expands,
                    value,
                }),
            );
        }
        Ok(result)
    })
    .map_err(interpreter_error)?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn reads_calls_and_literals() {
        let deps = python_code_deps(
            "    x = d.getVar('A', False)\n    d.getVarFlag('B', 'doc')\n    bb.utils.contains('C', 'x y', '1', '', d)\n    d.expand('${E}')\n    bb.build.exec_func('f', d)\n    helper(d)\n",
        )
        .unwrap();
        assert_eq!(deps.refs, set(&["A"]));
        assert_eq!(
            deps.flag_refs,
            [("B".to_string(), "doc".to_string())].into_iter().collect()
        );
        assert_eq!(deps.contains["C"], set(&["x y"]));
        assert_eq!(deps.expands, ["${E}"]);
        assert_eq!(deps.execs, set(&["f", "helper"]));
    }

    #[test]
    fn syntax_errors_name_the_line_of_the_code() {
        let error = python_code_deps("    a = 1\n    b = (\n").unwrap_err();
        assert_eq!(error.kind, PythonCodeErrorKind::Syntax);
        assert_eq!(error.line, 2, "{error}");
        let error = python_code_deps("x = 1\nd.getVar()\n").unwrap_err();
        assert_eq!(error.kind, PythonCodeErrorKind::Rejected);
        assert_eq!(error.line, 2, "{error}");
    }
}
