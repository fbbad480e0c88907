//! The shell script a shell task runs (spec §19): a prologue with `set
//! -e`, every exported variable, the task's function and every shell
//! function it calls, `cd` into its directory, then the call.
//!
//! Invariant: the script depends only on the task's datastore, so two
//! runs of an unchanged task write the same script.

use std::collections::BTreeSet;

use crate::datastore::{DataStore, ExpansionError, FlagValue, to_boolean};
use crate::signature::shell::shell_execs;

/// `"`, `` ` ``, `$` and `\` escaped for a double-quoted shell word, and
/// each newline continued, as BitBake emits variables.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str(" \\\n"),
            _ => out.push(c),
        }
    }
    out
}

fn truthy(d: &DataStore, name: &str, flag: &str) -> bool {
    d.raw_flag(name, flag).is_some_and(FlagValue::is_truthy)
}

/// Whether `name` is a shell function of `d`.
pub fn is_shell_function(d: &DataStore, name: &str) -> bool {
    truthy(d, name, "func") && !truthy(d, name, "python")
}

/// The script that runs shell function `func` of `d` in `dir`.
pub fn shell_script(
    d: &DataStore,
    func: &str,
    dir: Option<&str>,
) -> Result<String, ExpansionError> {
    let mut out = String::from(
        "#!/bin/sh\n\n# Emitted by bitzel: the task's exported variables and functions.\nset -e\n\n",
    );
    for name in d.keys() {
        if name.starts_with("__")
            || name.contains(['-', '.', '{', '}', '+'])
            || truthy(d, &name, "func")
        {
            continue;
        }
        let export = d
            .get_var_flag(&name, "export")?
            .is_some_and(|v| to_boolean(&v));
        let unexport = d
            .get_var_flag(&name, "unexport")?
            .is_some_and(|v| to_boolean(&v));
        if unexport {
            out.push_str(&format!("unset {name}\n"));
        } else if export && let Some(value) = d.get_var(&name)? {
            out.push_str(&format!("export {name}=\"{}\"\n", quote(&value)));
        }
    }
    out.push('\n');
    // The function and every shell function it calls, transitively.
    let mut pending = vec![func.to_string()];
    let mut seen = BTreeSet::new();
    let mut bodies = Vec::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let body = d.get_var(&name)?.unwrap_or_default();
        if let Ok(execs) = shell_execs(&body) {
            for exec in execs {
                if is_shell_function(d, &exec) && !seen.contains(&exec) {
                    pending.push(exec);
                }
            }
        }
        for dep in d
            .get_var_flag(&name, "vardeps")?
            .unwrap_or_default()
            .split_whitespace()
        {
            if is_shell_function(d, dep) && !seen.contains(dep) {
                pending.push(dep.to_string());
            }
        }
        bodies.push((name, body));
    }
    bodies.sort();
    for (name, body) in bodies {
        out.push_str(&format!(
            "{name}() {{\n{}\n}}\n\n",
            body.trim_end_matches('\n')
        ));
    }
    if let Some(dir) = dir {
        out.push_str(&format!("cd '{}'\n", dir.replace('\'', "'\\''")));
    }
    out.push_str(&format!("{func}\n"));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_as_bitbake_emits_them() {
        assert_eq!(quote("a \"b\" $c `d`"), "a \\\"b\\\" \\$c \\`d\\`");
        assert_eq!(quote("x\ny"), "x \\\ny");
    }
}
