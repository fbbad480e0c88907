//! Diagnostics: what went wrong with the user's input, and where.
//!
//! Stages return [`Diagnostic`]s; they never print. A diagnostic always has
//! a place: a file of the [`SourceMap`] and a byte range in it. Rendering
//! (source line, caret, colour) is the CLI's job. [`LineIndex`] turns byte
//! offsets into the 1-based `line:column` users and BitBake speak of, with
//! lines split at Python's universal newlines as BitBake reads them.

use std::path::{Path, PathBuf};

use rowan::TextRange;

/// A file of a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: FileId,
    pub range: TextRange,
    pub message: String,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(file: FileId, range: TextRange, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file,
            range,
            message: message.into(),
            notes: Vec::new(),
        }
    }
}

/// Byte offsets of line starts, for `line:column` positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

/// A 1-based position: line, and column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineCol {
    pub line: usize,
    pub column: usize,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let bytes = text.as_bytes();
        let mut line_starts = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => line_starts.push(i + 1),
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    line_starts.push(i + 2);
                    i += 1;
                }
                b'\r' => line_starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        LineIndex { line_starts }
    }

    /// The 0-based line holding byte `offset` (offsets past the end are on
    /// the last line).
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        }
    }

    /// The byte range of 0-based line `line`, newline included; `None` past
    /// the last line.
    pub fn line_range(&self, line: usize, text_len: usize) -> Option<std::ops::Range<usize>> {
        let start = *self.line_starts.get(line)?;
        let end = self.line_starts.get(line + 1).copied().unwrap_or(text_len);
        Some(start..end)
    }

    pub fn line_col(&self, text: &str, offset: usize) -> LineCol {
        let offset = offset.min(text.len());
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let column = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        LineCol {
            line: line + 1,
            column,
        }
    }
}

/// One loaded file: its path as the user named it, its text and line index.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
    pub lines: LineIndex,
}

/// The files diagnostics refer to.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: &Path, text: String) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        let lines = LineIndex::new(&text);
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            text,
            lines,
        });
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_with_universal_newlines() {
        let text = "ab\r\ncd\ref\nä x";
        let index = LineIndex::new(text);
        assert_eq!(index.line_col(text, 0), LineCol { line: 1, column: 1 });
        assert_eq!(index.line_col(text, 4), LineCol { line: 2, column: 1 });
        assert_eq!(index.line_col(text, 7), LineCol { line: 3, column: 1 });
        // Columns count characters, not bytes.
        assert_eq!(
            index.line_col(text, text.len() - 1),
            LineCol { line: 4, column: 3 }
        );
        assert_eq!(index.line_range(1, text.len()), Some(4..7));
        assert_eq!(index.line_range(4, text.len()), None);
    }
}
