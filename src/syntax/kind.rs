//! `SyntaxKind`: every token and node kind of the BitBake concrete syntax tree.
//!
//! Tokens come first, then nodes, so `is_token` is one comparison. Names follow
//! the conventions of STYLE_MODELS.md §3: tokens by shape (`EQ`, `COLON_EQ`),
//! keywords with `_KW`, nodes by construct, and one `ERROR` node for lines
//! BitBake would reject.

#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum SyntaxKind {
    // Trivia and layout.
    /// Spaces and tabs (any Python whitespace) inside a line, or trailing ones.
    WHITESPACE = 0,
    /// `\n`, `\r\n` or a lone `\r` (Python's universal newlines).
    NEWLINE,
    /// A continuation: the trailing `\`, the blanks after it and the newline.
    LINE_CONT,
    /// A comment: a line whose first character is `#`, or the `#...` tail of
    /// `addtask`/`deltask`.
    COMMENT,

    // Names and operators.
    /// A run of name characters (`A-Z a-z 0-9 - _ + . $ { } / ~`).
    IDENT,
    COLON,
    L_BRACK,
    R_BRACK,
    EQ,
    COLON_EQ,
    QUESTION_EQ,
    QUESTION2_EQ,
    PLUS_EQ,
    EQ_PLUS,
    DOT_EQ,
    EQ_DOT,
    /// `"` or `'` delimiting a value.
    QUOTE,
    /// Free text: a value's contents, the rest of a `def` line, junk in an error.
    TEXT,
    /// A whitespace-separated word of a directive (`include`, `inherit`, ...).
    WORD,
    L_PAREN,
    R_PAREN,
    L_CURLY,
    R_CURLY,
    /// The verbatim lines of a function body, newlines included.
    BODY,

    // Keywords.
    EXPORT_KW,
    UNSET_KW,
    INCLUDE_KW,
    REQUIRE_KW,
    INCLUDE_ALL_KW,
    INHERIT_KW,
    INHERIT_DEFER_KW,
    ADDTASK_KW,
    DELTASK_KW,
    ADDHANDLER_KW,
    EXPORT_FUNCTIONS_KW,
    ADDPYLIB_KW,
    ADDFRAGMENTS_KW,
    PYTHON_KW,
    FAKEROOT_KW,
    DEF_KW,
    AFTER_KW,
    BEFORE_KW,

    // Nodes.
    SOURCE_FILE,
    /// `[export] NAME[flag] OP "value"`.
    ASSIGNMENT,
    VAR_NAME,
    FLAG,
    VALUE,
    /// `export NAME`.
    EXPORT,
    /// `unset NAME` or `unset NAME[flag]`.
    UNSET,
    INCLUDE,
    REQUIRE,
    INCLUDE_ALL,
    INHERIT,
    INHERIT_DEFER,
    ADDTASK,
    DELTASK,
    ADDHANDLER,
    EXPORT_FUNCTIONS,
    ADDPYLIB,
    ADDFRAGMENTS,
    /// The argument words of a directive.
    ARGS,
    /// A shell, python or fakeroot function, named or anonymous.
    FUNCTION,
    FUNCTION_NAME,
    /// A `def name(...):` python function with its indented body.
    DEF_FUNCTION,
    /// A line (or function) BitBake would reject; its text is kept verbatim.
    ERROR,
}

use SyntaxKind::*;

impl SyntaxKind {
    /// The last token kind; every kind after it is a node.
    const LAST_TOKEN: SyntaxKind = BEFORE_KW;
    const LAST: SyntaxKind = ERROR;

    pub fn is_token(self) -> bool {
        self <= Self::LAST_TOKEN
    }

    /// Whitespace, newlines, continuations and comments.
    pub fn is_trivia(self) -> bool {
        matches!(self, WHITESPACE | NEWLINE | LINE_CONT | COMMENT)
    }

    pub fn is_keyword(self) -> bool {
        (EXPORT_KW..=BEFORE_KW).contains(&self)
    }

    fn from_raw(raw: u16) -> SyntaxKind {
        assert!(raw <= Self::LAST as u16, "invalid SyntaxKind {raw}");
        // SAFETY: `SyntaxKind` is `repr(u16)` with contiguous discriminants
        // starting at 0, and `raw` was just checked to be in range.
        unsafe { std::mem::transmute::<u16, SyntaxKind>(raw) }
    }
}

impl From<SyntaxKind> for rowan::SyntaxKind {
    fn from(kind: SyntaxKind) -> Self {
        rowan::SyntaxKind(kind as u16)
    }
}

/// The rowan language tag for BitBake metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BitbakeLanguage {}

impl rowan::Language for BitbakeLanguage {
    type Kind = SyntaxKind;

    fn kind_from_raw(raw: rowan::SyntaxKind) -> SyntaxKind {
        SyntaxKind::from_raw(raw.0)
    }

    fn kind_to_raw(kind: SyntaxKind) -> rowan::SyntaxKind {
        kind.into()
    }
}

pub type SyntaxNode = rowan::SyntaxNode<BitbakeLanguage>;
pub type SyntaxToken = rowan::SyntaxToken<BitbakeLanguage>;
pub type SyntaxElement = rowan::SyntaxElement<BitbakeLanguage>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_round_trip_covers_every_kind() {
        for raw in 0..=SyntaxKind::LAST as u16 {
            let kind = SyntaxKind::from_raw(raw);
            assert_eq!(kind as u16, raw);
        }
        assert!(WHITESPACE.is_token() && BEFORE_KW.is_token());
        assert!(!SOURCE_FILE.is_token() && !ERROR.is_token());
        assert!(INHERIT_KW.is_keyword() && !IDENT.is_keyword());
    }
}
