//! Code reader tests as data: every case of `tests/data/codeparser/*.sh`
//! is read by `signature::shell` and every case of `*.py` by
//! `signature::pycode`, and the results are compared with reviewed
//! snapshots. The expected results are BitBake's own (checked with
//! `scripts/differential-codeparser.py --cases`, see the README there).

use std::fmt::Write;
use std::path::Path;

use bitzel::signature::{pycode, shell};

/// `(name, code)` of each `#### name` case of a file.
fn cases(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("test data is UTF-8");
    let mut cases: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("#### ") {
            cases.push((name.trim_end().to_string(), String::new()));
        } else if let Some((_, code)) = cases.last_mut() {
            code.push_str(line);
        }
    }
    for (name, code) in &mut cases {
        if name.ends_with("[no final newline]") && code.ends_with('\n') {
            code.pop();
        }
    }
    assert!(!cases.is_empty(), "{}: no cases", path.display());
    cases
}

fn words<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items.into_iter().cloned().collect::<Vec<_>>().join(" ")
}

fn render_shell(path: &Path) -> String {
    let mut out = String::new();
    for (name, code) in cases(path) {
        writeln!(out, "#### {name}").unwrap();
        match shell::shell_execs(&code) {
            Ok(execs) if execs.is_empty() => writeln!(out, "(no commands)").unwrap(),
            Ok(execs) => writeln!(out, "execs: {}", words(&execs)).unwrap(),
            Err(e) => writeln!(out, "error {}:{}: {}", e.line, e.column, e.message).unwrap(),
        }
    }
    out
}

fn render_python(path: &Path) -> String {
    let mut out = String::new();
    for (name, code) in cases(path) {
        writeln!(out, "#### {name}").unwrap();
        let deps = match pycode::python_code_deps(&code) {
            Ok(deps) => deps,
            Err(e) => {
                writeln!(out, "error line {} ({:?}): {}", e.line, e.kind, e.message).unwrap();
                continue;
            }
        };
        if *deps == pycode::PythonCodeDeps::default() {
            writeln!(out, "(nothing)").unwrap();
        }
        if !deps.refs.is_empty() {
            writeln!(out, "refs: {}", words(&deps.refs)).unwrap();
        }
        if !deps.flag_refs.is_empty() {
            let flags: Vec<String> = deps
                .flag_refs
                .iter()
                .map(|(v, f)| format!("{v}[{f}]"))
                .collect();
            writeln!(out, "flag_refs: {}", flags.join(" ")).unwrap();
        }
        for (var, items) in &deps.contains {
            let items: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
            writeln!(out, "contains: {var} {}", items.join(" ")).unwrap();
        }
        for expand in &deps.expands {
            writeln!(out, "expands: {expand:?}").unwrap();
        }
        if !deps.execs.is_empty() {
            writeln!(out, "execs: {}", words(&deps.execs)).unwrap();
        }
    }
    out
}

#[test]
fn shell_cases() {
    insta::glob!("data/codeparser/*.sh", |path| {
        insta::assert_snapshot!(render_shell(path));
    });
}

#[test]
fn python_cases() {
    insta::glob!("data/codeparser/*.py", |path| {
        insta::assert_snapshot!(render_python(path));
    });
}
