//! `bitzel check`: parse every metadata file under some paths, in parallel,
//! and report what BitBake would reject.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use serde::Serialize;
use walkdir::WalkDir;

use super::args::CheckArgs;
use super::render::Renderer;
use crate::diag::{Diagnostic, SourceMap};
use crate::syntax::{self, FileKind, SyntaxError, TextRange, TextSize};

/// What checking one file found.
struct FileReport {
    path: PathBuf,
    n_bytes: usize,
    /// The text, kept only when there is something to show in it.
    text: Option<String>,
    errors: Vec<SyntaxError>,
}

#[derive(Serialize)]
struct JsonReport {
    files: usize,
    bytes: usize,
    errors: Vec<JsonError>,
}

#[derive(Serialize)]
struct JsonError {
    file: String,
    line: usize,
    column: usize,
    message: String,
}

/// Runs the command; `Ok(true)` when no file has an error.
pub fn run(args: &CheckArgs, out: &mut dyn Write, color: bool) -> Result<bool> {
    let started = Instant::now();
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let files = collect_files(&paths)?;
    let reports: Vec<FileReport> = files
        .par_iter()
        .map(|path| check_file(path))
        .collect::<Result<_>>()?;
    let elapsed = started.elapsed();

    let n_files = reports.len();
    let n_bytes: usize = reports.iter().map(|r| r.n_bytes).sum();
    let mut sources = SourceMap::default();
    let mut diagnostics = Vec::new();
    for report in reports {
        let Some(text) = report.text else { continue };
        let file = sources.add(&report.path, text);
        diagnostics.extend(
            report
                .errors
                .into_iter()
                .map(|e| Diagnostic::error(file, e.range, e.message)),
        );
    }
    let n_errors = diagnostics.len();

    if args.json {
        let errors = diagnostics
            .iter()
            .filter_map(|d| {
                let source = sources.get(d.file)?;
                let pos = source.lines.line_col(&source.text, d.range.start().into());
                Some(JsonError {
                    file: source.path.display().to_string(),
                    line: pos.line,
                    column: pos.column,
                    message: d.message.clone(),
                })
            })
            .collect();
        let report = JsonReport {
            files: n_files,
            bytes: n_bytes,
            errors,
        };
        serde_json::to_writer(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        Renderer { color }.write_all(out, &sources, &diagnostics)?;
        let plural = if n_errors == 1 { "" } else { "s" };
        writeln!(
            out,
            "checked {n_files} files ({n_bytes} bytes) in {:.3} s: {n_errors} error{plural}",
            elapsed.as_secs_f64()
        )?;
    }
    Ok(n_errors == 0)
}

/// Every metadata file under `paths`, in a stable order: each path in the
/// order given, directories walked sorted by name, hidden directories skipped.
fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let metadata =
            std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        if !metadata.is_dir() {
            if FileKind::from_path(path).is_none() {
                bail!(
                    "`{}` is not a BitBake metadata file (.bb, .bbappend, .bbclass, .inc or .conf)",
                    path.display()
                );
            }
            files.push(path.clone());
            continue;
        }
        let walker = WalkDir::new(path)
            .follow_links(true)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in walker {
            let entry = entry.with_context(|| format!("cannot read `{}`", path.display()))?;
            if entry.file_type().is_file() && FileKind::from_path(entry.path()).is_some() {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}

fn check_file(path: &Path) -> Result<FileReport> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let n_bytes = bytes.len();
    let kind = FileKind::from_path(path).unwrap_or(FileKind::Recipe);
    let (text, errors) = match String::from_utf8(bytes) {
        Ok(text) => {
            let parse = syntax::parse(kind, &text);
            let errors = parse.errors().to_vec();
            (text, errors)
        }
        Err(err) => {
            // BitBake reads metadata as UTF-8 and fails on anything else.
            let offset = err.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
            let at = TextSize::try_from(offset).unwrap_or_default();
            let error = SyntaxError {
                message: format!("file is not valid UTF-8 (invalid byte at offset {offset})"),
                range: TextRange::empty(at),
            };
            (text, vec![error])
        }
    };
    Ok(FileReport {
        path: path.to_path_buf(),
        n_bytes,
        text: (!errors.is_empty()).then_some(text),
        errors,
    })
}
