//! Checks on a whole statement, beyond its shape, called by the parser
//! with the statement's parts.
//!
//! These are errors BitBake raises while evaluating a file's statements but
//! that depend only on the file's text, so `bitzel check` can report them
//! without a datastore: the old `_append` override syntax (spec §3.3),
//! BitBake's built-in renamed variables (spec §3.4), task names holding an
//! operation keyword (spec §12.1), `include`/`require` of a file that is not
//! metadata, and trailing comments on `include`/`require`/`inherit` (spec
//! §2.3). Words holding `${` are left alone: their meaning needs expansion.
//! Each error covers the statement's first line.

use std::ops::Range;

use super::{SyntaxError, shape};

/// BitBake's built-in table of renamed variables (spec §3.4).
const RENAMED_VARIABLES: &[(&str, &str)] = &[
    ("BB_ENV_WHITELIST", "BB_ENV_PASSTHROUGH"),
    ("BB_ENV_EXTRAWHITE", "BB_ENV_PASSTHROUGH_ADDITIONS"),
    ("BB_HASHBASE_WHITELIST", "BB_BASEHASH_IGNORE_VARS"),
    ("BB_HASHCONFIG_WHITELIST", "BB_HASHCONFIG_IGNORE_VARS"),
    ("BB_HASHTASK_WHITELIST", "BB_TASKHASH_IGNORE_TASKS"),
    (
        "BB_SETSCENE_ENFORCE_WHITELIST",
        "BB_SETSCENE_ENFORCE_IGNORE_TASKS",
    ),
    ("MULTI_PROVIDER_WHITELIST", "BB_MULTI_PROVIDER_ALLOWED"),
    ("BB_STAMP_WHITELIST", ""),
    ("BB_STAMP_POLICY", ""),
];

/// An assignment to `name` (a `[flag]` one when `has_flag`).
pub(crate) fn assignment(
    name: &str,
    has_flag: bool,
    range: Range<usize>,
    errors: &mut Vec<SyntaxError>,
) {
    if has_flag {
        // BitBake checks flag writes against the full name.
        renamed(name, range, errors);
    } else {
        old_override_syntax(name, range.clone(), errors);
        renamed(name.split(':').next().unwrap_or(""), range, errors);
    }
}

/// `export NAME`: a flag write.
pub(crate) fn export(name: &str, range: Range<usize>, errors: &mut Vec<SyntaxError>) {
    renamed(name, range, errors);
}

/// A function definition, which BitBake stores with a variable write.
pub(crate) fn function_name(name: &str, range: Range<usize>, errors: &mut Vec<SyntaxError>) {
    old_override_syntax(name, range, errors);
}

/// `addtask`: BitBake checks every word of the line, keyword included.
pub(crate) fn addtask(line: &str, range: Range<usize>, errors: &mut Vec<SyntaxError>) {
    for word in words(line) {
        if [":append_", ":prepend_", ":remove_"]
            .iter()
            .any(|k| word.contains(k))
        {
            errors.push(SyntaxError::new(
                format!(
                    "task name `{word}` contains an operation keyword (`:append`, `:prepend`, \
                     `:remove`); rename the task"
                ),
                range.clone(),
            ));
        }
    }
}

fn old_override_syntax(name: &str, range: Range<usize>, errors: &mut Vec<SyntaxError>) {
    if name.starts_with("__anon_") {
        return;
    }
    for old in ["_append", "_prepend", "_remove"] {
        if name.contains(old) {
            errors.push(SyntaxError::new(
                format!(
                    "variable `{name}` contains an operation using the old override syntax \
                     `{old}`: write `:{}` for the operation, or rename the variable",
                    &old[1..]
                ),
                range,
            ));
            return;
        }
    }
}

fn renamed(name: &str, range: Range<usize>, errors: &mut Vec<SyntaxError>) {
    if let Some((old, new)) = RENAMED_VARIABLES.iter().find(|(old, _)| *old == name) {
        let message = if new.is_empty() {
            format!("variable `{old}` is deprecated and support for it has been removed")
        } else {
            format!("variable `{old}` has been renamed to `{new}`")
        };
        errors.push(SyntaxError::new(message, range));
    }
}

fn words(args: &str) -> impl Iterator<Item = &str> {
    args.split(shape::is_py_space).filter(|w| !w.is_empty())
}

/// `include`/`require` arguments (spec §9.1).
pub(crate) fn included_files(
    verb: &str,
    args: &str,
    range: Range<usize>,
    errors: &mut Vec<SyntaxError>,
) {
    // BitBake splits the arguments after expanding them, so with any `${`
    // in the line the words seen here are not the files it will look for.
    if args.contains("${") {
        return;
    }
    for word in words(args) {
        if word.starts_with('#') {
            errors.push(SyntaxError::new(
                format!("`{verb}` takes no comment: `{word}` is read as a file name"),
                range,
            ));
            return;
        }
        let supported = [".bb", ".bbclass", ".inc", ".conf"];
        if !supported
            .iter()
            .any(|ext| word.ends_with(ext) && word.len() > ext.len())
        {
            errors.push(SyntaxError::new(
                format!(
                    "`{word}` is not a BitBake file: `{verb}` takes `.bb`, `.bbclass`, `.inc` \
                     or `.conf` files"
                ),
                range.clone(),
            ));
        }
    }
}

/// `inherit`/`inherit_defer` arguments (spec §2.3, §2.4).
pub(crate) fn inherited(
    verb: &str,
    args: &str,
    range: Range<usize>,
    errors: &mut Vec<SyntaxError>,
) {
    if args.contains("${") {
        return;
    }
    // spec §2.4: in a recipe `inherit = "x"` is an inherit statement, of
    // classes named `=` and `"x"`, which cannot exist.
    let operator = |w: &str| shape::AssignOp::ALL.iter().any(|op| op.text() == w);
    if let Some(word) = words(args).find(|w| operator(w) || w.contains(['"', '\''])) {
        errors.push(SyntaxError::new(
            format!(
                "`{verb}` reads `{word}` as a class name: in a recipe a line starting with \
                 `{verb} ` is always an inherit, never an assignment"
            ),
            range,
        ));
        return;
    }
    if let Some(word) = words(args).find(|w| w.starts_with('#')) {
        errors.push(SyntaxError::new(
            format!(
                "`{verb}` takes no comment: `{word}` is read as a class name \
                 (could not inherit file classes/{word}.bbclass)"
            ),
            range,
        ));
    }
}
