//! `parse` never panics and its tree's text is the input, for both grammars.
//!
//! Inputs that are not UTF-8 cannot reach `parse` and are skipped. A crash
//! found here is minimised (`cargo fuzz tmin parse <artifact>`) and kept
//! under `tests/data/parser/fuzz/`, where `tests/roundtrip.rs` replays it.

#![no_main]

use bitzel::syntax::{FileKind, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [FileKind::Recipe, FileKind::Conf] {
        let parse = parse(kind, text);
        assert_eq!(
            parse.syntax_node().to_string(),
            text,
            "{kind:?}: the tree's text differs from the input"
        );
        for error in parse.errors() {
            let start = usize::from(error.range.start());
            let end = usize::from(error.range.end());
            assert!(
                start <= end && end <= text.len(),
                "{kind:?}: error {error:?} lies outside the input"
            );
            assert!(
                text.is_char_boundary(start) && text.is_char_boundary(end),
                "{kind:?}: error {error:?} splits a character"
            );
        }
    }
});
