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

/// Text that stays on one logical line: no newline except after a `\\`.
fn line_text(max_tokens: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(bitbake_token(), 0..max_tokens).prop_map(|tokens| {
        tokens
            .concat()
            .replace("\\\n", "\u{0}")
            .replace(['\n', '\r'], " ")
            .replace('\u{0}', "\\\n")
    })
}

/// A variable name with overrides, as BitBake's assignment pattern sees one.
fn var_name() -> impl Strategy<Value = String> {
    prop::string::string_regex("[A-Za-z0-9_${}/~.+-]{0,6}(:[a-z${}_-]{0,6}){0,3}")
        .expect("valid name regex")
}

/// Something close to an assignment, often exactly one: name, optional
/// `[flag]`, operator, quoted value (which may hold quotes, continuations
/// and `#`), sometimes with trailing junk.
fn assignment() -> impl Strategy<Value = String> {
    let flag = prop_oneof![
        3 => Just(String::new()),
        1 => prop::string::string_regex("\\[[A-Za-z0-9_.@/+-]{0,5}\\]?")
            .expect("valid flag regex"),
    ];
    let op = prop::sample::select(&["=", ":=", "?=", "??=", "+=", "=+", ".=", "=.", "==", "?"][..]);
    let space = prop::sample::select(&["", " ", "  ", "\t", " \\\n "][..]);
    let quote = prop::sample::select(&["\"", "'"][..]);
    let tail = prop_oneof![
        6 => Just(""),
        1 => prop::sample::select(&[" ", " # c", "\"", "x", "\\"][..]),
    ];
    (
        prop::option::of(Just("export ")),
        var_name(),
        flag,
        space.clone(),
        op,
        space,
        quote,
        line_text(24),
        tail,
    )
        .prop_map(|(export, name, flag, sp1, op, sp2, quote, value, tail)| {
            format!(
                "{}{name}{flag}{sp1}{op}{sp2}{quote}{value}{quote}{tail}",
                export.unwrap_or("")
            )
        })
}

/// A shell or python function, or a `def`, with a body that may or may not
/// be closed.
fn function() -> impl Strategy<Value = String> {
    let header = prop::string::string_regex(
        "(python |fakeroot |python fakeroot )?([a-z_${}:-]{0,8})? ?\\( ?\\) ?\\{",
    )
    .expect("valid header regex");
    let body = || prop::collection::vec(line_text(12), 0..4);
    let close = prop::sample::select(&["}", " }", "}}", "", "} # c"][..]);
    let shell = (header, body(), close).prop_map(|(header, body, close)| {
        let body: String = body.iter().map(|l| format!("{l}\n")).collect();
        format!("{header}\n{body}{close}")
    });
    let indent = prop::sample::select(&["    ", "\t", " ", ""][..]);
    let def = (var_name(), body(), indent).prop_map(|(name, body, indent)| {
        let body: String = body.iter().map(|l| format!("{indent}{l}\n")).collect();
        format!("def {name}(d):\n{body}")
    });
    prop_oneof![shell, def]
}

/// Statements of every kind, some broken, one per line with the odd blank
/// line, comment and CRLF.
fn statements() -> impl Strategy<Value = String> {
    let statement = prop_oneof![
        4 => assignment(),
        2 => function(),
        1 => (prop::sample::select(WORDS), line_text(16))
            .prop_map(|(head, tail)| format!("{}{tail}", head.trim_start())),
        1 => prop::sample::select(&["", "# comment", "#c \\", "  # indented", " "][..])
            .prop_map(str::to_string),
    ];
    let newline = prop::sample::select(&["\n", "\n", "\n", "\r\n", "\r", ""][..]);
    prop::collection::vec((statement, newline), 0..10).prop_map(|lines| {
        lines
            .into_iter()
            .map(|(statement, newline)| statement + newline)
            .collect()
    })
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
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn bitbake_alphabet_round_trips(text in bitbake_text()) {
        check_both(&text);
    }

    #[test]
    fn bitbake_lines_round_trip(text in bitbake_lines()) {
        check_both(&text);
    }

    #[test]
    fn statements_round_trip(text in statements()) {
        check_both(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

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
