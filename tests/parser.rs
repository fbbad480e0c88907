//! Parser tests as data: every file under `tests/data/parser/{ok,err}` (recipe
//! grammar) and `tests/data/conf/{ok,err}` (configuration grammar) is parsed,
//! and its errors and tree are compared with a reviewed snapshot. Files in
//! `ok` must parse without errors, files in `err` with at least one, and every
//! file must round-trip byte for byte.

use std::fmt::Write;
use std::path::Path;

use bitzel::diag::LineIndex;
use bitzel::syntax::{self, FileKind};

/// Errors (with 1-based line:column and byte range), then the tree.
fn render(path: &Path, expect_errors: bool) -> String {
    let text = std::fs::read_to_string(path).expect("test data is UTF-8");
    let kind = FileKind::from_path(path).expect("test data has a metadata extension");
    let parse = syntax::parse(kind, &text);
    let tree = parse.syntax_node();
    assert_eq!(tree.to_string(), text, "{}: round trip", path.display());
    let errors = parse.errors();
    if expect_errors {
        assert!(
            !errors.is_empty(),
            "{}: expected errors, found none",
            path.display()
        );
    } else {
        assert!(
            errors.is_empty(),
            "{}: unexpected errors: {errors:?}",
            path.display()
        );
    }
    let index = LineIndex::new(&text);
    let mut out = String::new();
    for error in errors {
        let start: usize = error.range.start().into();
        let end: usize = error.range.end().into();
        let pos = index.line_col(&text, start);
        writeln!(
            out,
            "error {}:{} ({start}..{end}): {}",
            pos.line, pos.column, error.message
        )
        .unwrap();
    }
    write!(out, "{tree:#?}").unwrap();
    out
}

#[test]
fn recipe_grammar_ok() {
    insta::glob!("data/parser/ok/*", |path| {
        insta::assert_snapshot!(render(path, false));
    });
}

#[test]
fn recipe_grammar_err() {
    insta::glob!("data/parser/err/*", |path| {
        insta::assert_snapshot!(render(path, true));
    });
}

#[test]
fn conf_grammar_ok() {
    insta::glob!("data/conf/ok/*", |path| {
        insta::assert_snapshot!(render(path, false));
    });
}

#[test]
fn conf_grammar_err() {
    insta::glob!("data/conf/err/*", |path| {
        insta::assert_snapshot!(render(path, true));
    });
}
