//! Parses every metadata file of a layer tree (e.g. an openembedded-core
//! checkout) and checks the parser against it:
//!
//! - every file round-trips byte for byte through the tree;
//! - with `--verdicts FILE` (JSON lines from `scripts/bitbake-verdict.py`,
//!   one `{"file", "ok", "line"}` per file, BitBake's own verdict), bitzel
//!   accepts exactly the files BitBake accepts, and for a rejected file its
//!   first error is on the line BitBake names.
//!
//! Every failure is reported before exiting non-zero.
//!
//! ```text
//! cargo run --release --example check_corpus -- PATH [--verdicts FILE]
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use bitzel::diag::LineIndex;
use bitzel::syntax::{self, FileKind};

struct Verdict {
    ok: bool,
    line: Option<usize>,
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(root) = args.next() else {
        eprintln!("usage: check_corpus PATH [--verdicts FILE]");
        return ExitCode::from(2);
    };
    let verdicts = match (args.next().as_deref(), args.next()) {
        (Some("--verdicts"), Some(file)) => match load_verdicts(Path::new(&file)) {
            Ok(v) => Some(v),
            Err(err) => {
                eprintln!("cannot read verdicts `{file}`: {err}");
                return ExitCode::from(2);
            }
        },
        (None, _) => None,
        _ => {
            eprintln!("usage: check_corpus PATH [--verdicts FILE]");
            return ExitCode::from(2);
        }
    };

    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && FileKind::from_path(e.path()).is_some())
        .map(|e| e.into_path())
        .collect();
    files.sort();

    let (mut n_bytes, mut n_with_errors, mut failures) = (0, 0, Vec::new());
    let (mut n_agree, mut n_compared) = (0, 0);
    for path in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            failures.push(format!("{}: not UTF-8 or unreadable", path.display()));
            continue;
        };
        n_bytes += text.len();
        let kind = FileKind::from_path(path).unwrap_or(FileKind::Recipe);
        let parse = syntax::parse(kind, &text);
        if parse.syntax_node().to_string() != text {
            failures.push(format!("{}: round trip differs", path.display()));
        }
        let first_error_line = parse.errors().first().map(|e| {
            let index = LineIndex::new(&text);
            index.line_col(&text, e.range.start().into()).line
        });
        if first_error_line.is_some() {
            n_with_errors += 1;
        }
        let Some(verdicts) = &verdicts else { continue };
        let key = path.canonicalize().unwrap_or_else(|_| path.clone());
        let Some(verdict) = verdicts.get(&key) else {
            continue;
        };
        n_compared += 1;
        match (verdict.ok, first_error_line) {
            (true, None) => n_agree += 1,
            (true, Some(line)) => {
                let message = &parse.errors()[0].message;
                failures.push(format!(
                    "{}:{line}: bitzel reports `{message}`, BitBake accepts the file",
                    path.display()
                ))
            }
            (false, None) => failures.push(format!(
                "{}:{}: BitBake rejects the file, bitzel accepts it",
                path.display(),
                verdict.line.unwrap_or(0)
            )),
            (false, Some(line)) if verdict.line.is_none_or(|l| l == line) => n_agree += 1,
            (false, Some(line)) => failures.push(format!(
                "{}: both reject, BitBake at line {}, bitzel at line {line}",
                path.display(),
                verdict.line.unwrap_or(0)
            )),
        }
    }

    for failure in &failures {
        println!("FAIL {failure}");
    }
    println!(
        "{} files, {n_bytes} bytes, {n_with_errors} with errors, {} failures",
        files.len(),
        failures.len()
    );
    if verdicts.is_some() {
        println!("verdicts: {n_agree} of {n_compared} files agree with BitBake");
    }
    if files.is_empty() || !failures.is_empty() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn load_verdicts(path: &Path) -> Result<HashMap<PathBuf, Verdict>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut verdicts = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let file = value["file"].as_str().ok_or("verdict without `file`")?;
        let ok = value["ok"].as_bool().ok_or("verdict without `ok`")?;
        let line = value["line"].as_u64().map(|l| l as usize);
        let file = Path::new(file);
        let key = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
        verdicts.insert(key, Verdict { ok, line });
    }
    Ok(verdicts)
}
