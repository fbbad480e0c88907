//! The parser's two promises, checked on generated input: `parse` never
//! panics, and the tree's text is the input, byte for byte.
//!
//! The properties run over BitBake's alphabet with whole keywords mixed in
//! (where the interesting line shapes are), over arbitrary Unicode, and check
//! that every error range lies inside the input on character boundaries.
//! `fuzz/fuzz_targets/parse.rs` checks the same property for longer; inputs
//! it found are kept under `tests/data/parser/fuzz/` and replayed here.

use std::path::Path;

use bitzel::syntax::{FileKind, parse};
use proptest::prelude::*;

const KINDS: [FileKind; 2] = [FileKind::Recipe, FileKind::Conf];

/// Single characters that matter to BitBake's line shapes, plus a few name
/// characters.
const CHARS: &[&str] = &[
    "\"", "'", "$", "{", "}", "@", "[", "]", ":", "=", "+", ".", "?", "\\", "#", "(", ")", "\t",
    " ", " ", " ", "\n", "\n", "\r", "A", "a", "_", "-", "x", "1", "/", "~",
];

/// Keywords and common fragments, inserted as whole tokens.
const WORDS: &[&str] = &[
    "export ",
    "unset ",
    "include ",
    "require ",
    "include_all ",
    "inherit ",
    "inherit_defer ",
    "addtask ",
    "deltask ",
    "addhandler ",
    "python ",
    "fakeroot ",
    "def ",
    "do_x() {",
    "python do_y () {\n",
    "}",
    "}\n",
    "after ",
    "before ",
    "EXPORT_FUNCTIONS ",
    "addpylib ",
    "addfragments ",
    ":append",
    ":remove",
    ":prepend",
    "_append",
    " = ",
    " := ",
    " ?= ",
    " ??= ",
    " += ",
    " =+ ",
    " .= ",
    " =. ",
    "${A}",
    "${@d.getVar('A')}",
    "[doc]",
    "\\\n",
    "\r\n",
    "    ",
    "\u{a0}",
    "\u{1c}",
    "é",
];

/// One token: a character or a keyword, characters more often.
fn bitbake_token() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        3 => prop::sample::select(CHARS),
        1 => prop::sample::select(WORDS),
    ]
}

/// Text over BitBake's alphabet: up to 96 tokens.
fn bitbake_text() -> impl Strategy<Value = String> {
    prop::collection::vec(bitbake_token(), 0..96).prop_map(|tokens| tokens.concat())
}

/// Lines that each start with a statement-ish prefix, so that more of the
/// input reaches the statement recognisers than random text would.
fn bitbake_lines() -> impl Strategy<Value = String> {
    let line = (prop::sample::select(WORDS), bitbake_text())
        .prop_map(|(head, tail)| format!("{}{tail}\n", head.trim_start()));
    prop::collection::vec(line, 0..8).prop_map(|lines| lines.concat())
}

/// Parses `text` with `kind` and checks both promises and the error ranges.
fn check(kind: FileKind, text: &str) {
    let parse = parse(kind, text);
    let tree = parse.syntax_node();
    assert_eq!(
        tree.to_string(),
        text,
        "{kind:?}: the tree's text differs from the input"
    );
    assert_eq!(usize::from(tree.text_range().end()), text.len());
    let errors = parse.errors();
    for error in errors {
        let (start, end) = (
            usize::from(error.range.start()),
            usize::from(error.range.end()),
        );
        assert!(
            start <= end && end <= text.len(),
            "{kind:?}: error {error:?} lies outside the input ({} bytes)",
            text.len()
        );
        assert!(
            text.is_char_boundary(start) && text.is_char_boundary(end),
            "{kind:?}: error {error:?} splits a character"
        );
    }
    assert!(
        errors
            .windows(2)
            .all(|w| (w[0].range.start(), w[0].range.end())
                <= (w[1].range.start(), w[1].range.end())),
        "{kind:?}: errors are not in source order: {errors:?}"
    );
}

fn check_both(text: &str) {
    for kind in KINDS {
        check(kind, text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn bitbake_alphabet_round_trips(text in bitbake_text()) {
        check_both(&text);
    }

    #[test]
    fn bitbake_lines_round_trip(text in bitbake_lines()) {
        check_both(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn any_unicode_round_trips(text in any::<String>()) {
        check_both(&text);
    }

    /// Unicode lines with BitBake's separators, so that line-level code sees
    /// multi-byte characters next to quotes, braces and continuations.
    #[test]
    fn unicode_mixed_with_bitbake_round_trips(
        parts in prop::collection::vec(
            prop_oneof![
                bitbake_token().prop_map(str::to_string),
                any::<char>().prop_map(String::from),
            ],
            0..96,
        )
    ) {
        check_both(&parts.concat());
    }
}

/// Inputs the fuzzer or the properties once broke, one file per problem,
/// named after what it exercises. Read as bytes: a file that is not UTF-8
/// cannot reach `parse` and is skipped, as the fuzz target does.
#[test]
fn fuzz_regressions_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/parser/fuzz");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut paths: Vec<_> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    for path in paths {
        let bytes = std::fs::read(&path).expect("readable regression input");
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let outcome = std::panic::catch_unwind(|| check_both(text));
        assert!(outcome.is_ok(), "{} fails", path.display());
    }
}

/// The shapes near the edges of the line reader, spelled out so that they
/// run on every `cargo test` whatever proptest happens to generate.
#[test]
fn edge_inputs_round_trip() {
    let inputs = [
        "",
        "\n",
        "\r",
        "\r\n",
        "\\",
        "\\\n",
        "\\\n\\\n",
        "A = \"1\" \\",
        "# c \\\nA = \"1\"\n",
        "A = \" \\\n# c \\\n b\"\n",
        "do_x() {\n",
        "do_x() {\n}",
        "python () {\r\n}\r\n",
        "def f(d):\n    return 1",
        "def f(d):\n\tx\n\n",
        "addtask a after b before c # c\n",
        "A[f] = \"\"\"\n",
        "unset A[f]\n",
        "export A:append\n",
        "\u{a0}A = \"1\"\u{a0}\n",
        "A = \"é\"\u{2028}B = \"1\"\u{85}",
        "\u{1c}\u{1d}\u{1e}\u{1f}\u{b}\u{c}",
    ];
    for input in inputs {
        check_both(input);
    }
}
