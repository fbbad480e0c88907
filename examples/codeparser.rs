//! Runs bitzel's code readers (`bitzel::signature::{shell, pycode}`) on
//! snippets, for differential testing against BitBake's code parser
//! (`scripts/differential-codeparser.py`).
//!
//! Reads JSON lines `{"kind": "shell" | "python", "code": "..."}` (any other
//! fields, such as an `id`, are copied to the answer) from the file named
//! by the last argument, or stdin, and prints one JSON line per snippet:
//!
//! * shell: `{"ok": true, "execs": [...]}`;
//! * python: `{"ok": true, "refs", "flag_refs": [[var, flag]], "contains":
//!   {var: [items]}, "expands", "execs"}`;
//! * `{"ok": false, "line", "column", "message"}` for code that is rejected.
//!
//! `{"kind": "pylib"}` answers with every `addpylib` function's analysis
//! (`"functions": {name: {...} | {"error": ...}}`). With `--pylib DIR
//! NAMESPACE` (repeatable) those modules are loaded first, as `addpylib`
//! does, so that their `visitorcode` hooks apply to python snippets.
//!
//! ```text
//! cargo run --release --example codeparser -- [--pylib DIR NS]... [FILE]
//! ```

use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;

use bitzel::datastore::python::EmbeddedPython;
use bitzel::signature::{pycode, shell};
use serde_json::{Map, Value, json};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut pylibs = Vec::new();
    while args.first().map(String::as_str) == Some("--pylib") {
        if args.len() < 3 {
            eprintln!("--pylib needs DIR and NAMESPACE");
            return ExitCode::FAILURE;
        }
        pylibs.push((args[1].clone(), args[2].clone()));
        args.drain(..3);
    }
    if !pylibs.is_empty() {
        let host = match EmbeddedPython::start() {
            Ok(host) => host,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        for (dir, namespace) in &pylibs {
            if let Err(e) = host.add_pylib(dir, namespace, &[]) {
                eprintln!("addpylib {dir} {namespace}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let input: Box<dyn BufRead> = match args.last() {
        Some(path) => match std::fs::File::open(path) {
            Ok(file) => Box::new(BufReader::new(file)),
            Err(e) => {
                eprintln!("cannot read {path}: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Box::new(BufReader::new(std::io::stdin())),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (number, line) in input.lines().enumerate() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                eprintln!("cannot read input: {e}");
                return ExitCode::FAILURE;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let request: Map<String, Value> = match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(e) => {
                eprintln!("line {}: not a JSON object: {e}", number + 1);
                return ExitCode::FAILURE;
            }
        };
        let mut answer = request.clone();
        answer.remove("code");
        let code = request.get("code").and_then(Value::as_str).unwrap_or("");
        let result = match request.get("kind").and_then(Value::as_str) {
            Some("shell") => shell_answer(code),
            Some("python") => python_answer(code),
            Some("pylib") => pylib_answer(),
            other => {
                eprintln!("line {}: unknown kind {other:?}", number + 1);
                return ExitCode::FAILURE;
            }
        };
        if let Value::Object(fields) = result {
            answer.extend(fields);
        }
        if writeln!(out, "{}", Value::Object(answer)).is_err() {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn shell_answer(code: &str) -> Value {
    match shell::shell_execs(code) {
        Ok(execs) => json!({"ok": true, "execs": execs}),
        Err(e) => json!({"ok": false, "line": e.line, "column": e.column, "message": e.message}),
    }
}

fn python_answer(code: &str) -> Value {
    match pycode::python_code_deps(code) {
        Ok(deps) => json!({
            "ok": true,
            "refs": deps.refs,
            "flag_refs": deps.flag_refs,
            "contains": deps.contains,
            "expands": deps.expands,
            "execs": deps.execs,
        }),
        Err(e) => json!({"ok": false, "line": e.line, "column": 0, "message": e.message}),
    }
}

fn pylib_answer() -> Value {
    match pycode::pylib_function_deps() {
        Ok(functions) => {
            let functions: Map<String, Value> = functions
                .into_iter()
                .map(|(name, deps)| {
                    let value = match deps {
                        Ok(deps) => json!({
                            "refs": deps.refs,
                            "execs": deps.execs,
                            "contains": deps.contains,
                            "expands": deps.expands,
                            "value": deps.value,
                        }),
                        Err(message) => json!({"error": message}),
                    };
                    (name, value)
                })
                .collect();
            json!({"ok": true, "functions": functions})
        }
        Err(e) => json!({"ok": false, "line": 0, "column": 0, "message": e.message}),
    }
}
