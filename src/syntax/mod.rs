//! The front end: metadata text to a lossless concrete syntax tree.
//!
//! `parse(kind, text)` never fails and never panics: it returns a
//! [`Parse`], a rowan tree whose text is exactly `text`, byte for byte, plus
//! the errors BitBake would report for the same file. A rejected statement
//! becomes an `ERROR` node and parsing resumes with the next line.
//!
//! Pipeline inside this module: [`lexer`] splits physical lines and joins
//! them as BitBake does, [`shape`] recognises each statement exactly as
//! BitBake's patterns would, [`parser`] builds the tree (tokenising the
//! parts with logos) and calls [`validate`] for the checks that need a
//! whole statement,
//! and [`ast`] / [`ast_ext`] give typed access.
//!
//! Invariants: no I/O, no datastore, no Python; this is the only code in the
//! crate that reads metadata text; one tree per file, so files parse in
//! parallel.

pub mod ast;
pub mod ast_ext;
mod kind;
mod lexer;
mod parser;
mod shape;
mod validate;

use std::marker::PhantomData;
use std::path::Path;

pub use kind::{BitbakeLanguage, SyntaxElement, SyntaxKind, SyntaxNode, SyntaxToken};
pub use rowan::{TextRange, TextSize};
pub use shape::AssignOp;

/// Which of BitBake's two grammars a file is read with (spec §1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `.bb`, `.bbappend`, `.bbclass`, `.inc`.
    Recipe,
    /// `.conf`.
    Conf,
}

impl FileKind {
    /// The grammar for a path, by its extension; `None` for files that are
    /// not BitBake metadata.
    pub fn from_path(path: &Path) -> Option<FileKind> {
        match path.extension()?.to_str()? {
            "bb" | "bbappend" | "bbclass" | "inc" => Some(FileKind::Recipe),
            "conf" => Some(FileKind::Conf),
            _ => None,
        }
    }
}

/// A syntax error: what is wrong and where, as a byte range of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub message: String,
    pub range: TextRange,
}

impl SyntaxError {
    pub(crate) fn new(message: impl Into<String>, range: std::ops::Range<usize>) -> SyntaxError {
        SyntaxError {
            message: message.into(),
            range: TextRange::new(to_size(range.start), to_size(range.end)),
        }
    }
}

pub(crate) fn to_size(offset: usize) -> TextSize {
    // Files are read whole into memory and rowan addresses them with u32;
    // the CLI refuses files of 4 GiB or more before parsing.
    TextSize::try_from(offset).unwrap_or(TextSize::new(u32::MAX))
}

/// The result of parsing: a tree (always) and errors (maybe).
#[derive(Debug, Clone)]
pub struct Parse<T> {
    green: rowan::GreenNode,
    errors: Vec<SyntaxError>,
    _ty: PhantomData<fn() -> T>,
}

impl<T: rowan::ast::AstNode<Language = BitbakeLanguage>> Parse<T> {
    pub fn syntax_node(&self) -> SyntaxNode {
        SyntaxNode::new_root(self.green.clone())
    }

    /// The typed root.
    pub fn tree(&self) -> T {
        // The parser always produces a SOURCE_FILE root, which is what
        // every `T` used with `Parse` casts from.
        T::cast(self.syntax_node()).expect("parse root has the expected kind")
    }

    /// Errors in source order.
    pub fn errors(&self) -> &[SyntaxError] {
        &self.errors
    }

    pub fn green(&self) -> &rowan::GreenNode {
        &self.green
    }
}

/// Parses one metadata file with the grammar for `kind`.
pub fn parse(kind: FileKind, text: &str) -> Parse<ast::SourceFile> {
    let (green, mut errors) = parser::parse(kind, text);
    errors.sort_by_key(|e| (e.range.start(), e.range.end()));
    Parse {
        green,
        errors,
        _ty: PhantomData,
    }
}
