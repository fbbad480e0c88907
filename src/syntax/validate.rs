//! Checks that need a whole node, run after parsing.
//!
//! These are errors BitBake raises while evaluating a file's statements but
//! that depend only on the file's text, so `bitzel check` can report them
//! without a datastore: the old `_append` override syntax (spec §3.3),
//! BitBake's built-in renamed variables (spec §3.4), task names holding an
//! operation keyword (spec §12.1), `include`/`require` of a file that is not
//! metadata, and trailing comments on `include`/`require`/`inherit` (spec
//! §2.3). Words holding `${` are left alone: their meaning needs expansion.

use rowan::ast::AstNode;

use super::ast::{HasArgs, SourceFile, Stmt};
use super::{FileKind, SyntaxError, SyntaxNode, shape};

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

pub(crate) fn validate(file: &SourceFile, _kind: FileKind, errors: &mut Vec<SyntaxError>) {
    for stmt in file.statements() {
        match &stmt {
            Stmt::Assignment(assignment) => {
                let Some(name) = assignment.var_name() else {
                    continue;
                };
                let name = name.text();
                if assignment.flag().is_none() {
                    old_override_syntax(stmt.syntax(), &name, errors);
                    renamed(stmt.syntax(), name.split(':').next().unwrap_or(""), errors);
                } else {
                    renamed(stmt.syntax(), &name, errors);
                }
            }
            Stmt::Export(export) => {
                if let Some(name) = export.var_name() {
                    renamed(stmt.syntax(), &name.text(), errors);
                }
            }
            Stmt::Function(function) => {
                if let Some(name) = function.name() {
                    old_override_syntax(stmt.syntax(), &name.text(), errors);
                }
            }
            Stmt::DefFunction(def) => {
                if let Some(name) = def.name() {
                    old_override_syntax(stmt.syntax(), &name.text(), errors);
                }
            }
            Stmt::AddTask(addtask) => {
                // BitBake checks every word of the line, keyword included.
                for word in addtask.words() {
                    if [":append_", ":prepend_", ":remove_"]
                        .iter()
                        .any(|k| word.contains(k))
                    {
                        error(
                            stmt.syntax(),
                            format!(
                                "task name `{word}` contains an operation keyword \
                                 (`:append`, `:prepend`, `:remove`); rename the task"
                            ),
                            errors,
                        );
                    }
                }
            }
            Stmt::Include(include) => {
                included_files(stmt.syntax(), "include", include.words(), errors)
            }
            Stmt::Require(require) => {
                included_files(stmt.syntax(), "require", require.words(), errors)
            }
            Stmt::Inherit(inherit) => inherited(stmt.syntax(), "inherit", inherit.words(), errors),
            Stmt::InheritDefer(inherit) => {
                inherited(stmt.syntax(), "inherit_defer", inherit.words(), errors)
            }
            _ => {}
        }
    }
}

/// An error over a statement's first line (its last for BitBake's own
/// line-based errors is the parser's business; these name a whole statement).
fn error(node: &SyntaxNode, message: String, errors: &mut Vec<SyntaxError>) {
    let range = node.text_range();
    let start: usize = range.start().into();
    let text = node.text().to_string();
    let first_line = text.find(['\n', '\r']).unwrap_or(text.len());
    errors.push(SyntaxError::new(message, start..start + first_line));
}

fn old_override_syntax(node: &SyntaxNode, name: &str, errors: &mut Vec<SyntaxError>) {
    if name.starts_with("__anon_") {
        return;
    }
    for old in ["_append", "_prepend", "_remove"] {
        if name.contains(old) {
            error(
                node,
                format!(
                    "variable `{name}` contains an operation using the old override syntax \
                     `{old}`: write `:{}` for the operation, or rename the variable",
                    &old[1..]
                ),
                errors,
            );
            return;
        }
    }
}

fn renamed(node: &SyntaxNode, name: &str, errors: &mut Vec<SyntaxError>) {
    if let Some((old, new)) = RENAMED_VARIABLES.iter().find(|(old, _)| *old == name) {
        let message = if new.is_empty() {
            format!("variable `{old}` is deprecated and support for it has been removed")
        } else {
            format!("variable `{old}` has been renamed to `{new}`")
        };
        error(node, message, errors);
    }
}

fn included_files(
    node: &SyntaxNode,
    verb: &str,
    words: Vec<String>,
    errors: &mut Vec<SyntaxError>,
) {
    // BitBake splits the arguments after expanding them, so with any `${`
    // in the line the words seen here are not the files it will look for.
    if words.iter().any(|w| w.contains("${")) {
        return;
    }
    for word in words {
        if word.starts_with('#') {
            error(
                node,
                format!("`{verb}` takes no comment: `{word}` is read as a file name"),
                errors,
            );
            return;
        }
        let supported = [".bb", ".bbclass", ".inc", ".conf"];
        if !supported
            .iter()
            .any(|ext| word.ends_with(ext) && word.len() > ext.len())
        {
            error(
                node,
                format!(
                    "`{word}` is not a BitBake file: `{verb}` takes `.bb`, `.bbclass`, `.inc` \
                     or `.conf` files"
                ),
                errors,
            );
        }
    }
}

fn inherited(node: &SyntaxNode, verb: &str, words: Vec<String>, errors: &mut Vec<SyntaxError>) {
    if words.iter().any(|w| w.contains("${")) {
        return;
    }
    // spec §2.4: in a recipe `inherit = "x"` is an inherit statement, of
    // classes named `=` and `"x"`, which cannot exist.
    let operator = |w: &str| shape::AssignOp::ALL.iter().any(|op| op.text() == w);
    if let Some(word) = words
        .iter()
        .find(|w| operator(w) || w.contains(['"', '\'']))
    {
        error(
            node,
            format!(
                "`{verb}` reads `{word}` as a class name: in a recipe a line starting with \
                 `{verb} ` is always an inherit, never an assignment"
            ),
            errors,
        );
        return;
    }
    if let Some(word) = words.iter().find(|w| w.starts_with('#')) {
        error(
            node,
            format!(
                "`{verb}` takes no comment: `{word}` is read as a class name \
                 (could not inherit file classes/{word}.bbclass)"
            ),
            errors,
        );
    }
}
