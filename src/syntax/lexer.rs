//! The lexer: physical lines, BitBake's line joining, function bodies, and
//! the logos tokenizers used inside a statement.
//!
//! BitBake reads metadata a line at a time, joins lines ending in `\`, keeps
//! function bodies verbatim up to a `}` in column 0, and only then recognises
//! statements (spec §2). The driver here, [`split_chunks`], reproduces that
//! for both grammars and hands the parser a list of [`Chunk`]s: blank lines,
//! comments, logical statement lines, and functions with their bodies. The
//! two grammars join lines differently (a `#` line inside a continued value is
//! fatal in a recipe but part of the value in a `.conf`), so the driver takes
//! the grammar. Problems only visible at this level (a comment continued into
//! code, a file ending inside a function) are reported here, with recovery so
//! that the rest of the file still parses.
//!
//! Every byte of the input belongs to exactly one chunk; chunks are in order.

use std::ops::Range;

use logos::Logos;

use super::shape::{self, is_py_space};
use super::{FileKind, SyntaxError};

/// One physical line: `start..content_end` is its text after Python's
/// `rstrip`, `content_end..text_end` the stripped whitespace, `text_end..end`
/// the newline (empty on a last line without one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PhysLine {
    pub start: usize,
    pub content_end: usize,
    pub text_end: usize,
    pub end: usize,
}

impl PhysLine {
    pub fn content<'a>(&self, text: &'a str) -> &'a str {
        &text[self.start..self.content_end]
    }
}

/// Splits `text` at Python's universal newlines (`\n`, `\r\n`, lone `\r`).
pub(crate) fn physical_lines(text: &str) -> Vec<PhysLine> {
    let bytes = text.as_bytes();
    let mut lines = Vec::with_capacity(text.len() / 32 + 1);
    let mut start = 0;
    while start < bytes.len() {
        let text_end =
            memchr::memchr2(b'\n', b'\r', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        let end = match bytes.get(text_end) {
            Some(b'\r') if bytes.get(text_end + 1) == Some(&b'\n') => text_end + 2,
            Some(_) => text_end + 1,
            None => text_end,
        };
        let content_end = rstrip_end(text, start, text_end);
        lines.push(PhysLine {
            start,
            content_end,
            text_end,
            end,
        });
        start = end;
    }
    lines
}

/// The end of `text[start..end]` after removing trailing Python whitespace.
fn rstrip_end(text: &str, start: usize, end: usize) -> usize {
    let line = &text[start..end];
    // Fast path: nearly every line ends in a visible ASCII character.
    match line.as_bytes().last() {
        None => start,
        Some(&b) if b.is_ascii() && !b.is_ascii_whitespace() && !(0x1c..=0x1f).contains(&b) => end,
        _ => start + line.trim_end_matches(is_py_space).len(),
    }
}

/// A logical line: one or more physical lines joined on trailing backslashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    /// Indices into the physical lines, first to last.
    pub lines: Range<usize>,
    /// The byte ranges whose concatenation is the joined line: each line's
    /// stripped content, without the continuing backslash.
    segments: Segments,
}

/// Nearly every logical line is one physical line: no allocation for it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segments {
    One(Range<usize>),
    Many(Vec<Range<usize>>),
}

impl LogicalLine {
    fn single(line_idx: usize, line: &PhysLine) -> LogicalLine {
        LogicalLine {
            lines: line_idx..line_idx + 1,
            segments: Segments::One(line.start..line.content_end),
        }
    }

    fn joined_lines(lines: Range<usize>, segments: Vec<Range<usize>>) -> LogicalLine {
        LogicalLine {
            lines,
            segments: Segments::Many(segments),
        }
    }

    pub fn segments(&self) -> &[Range<usize>] {
        match &self.segments {
            Segments::One(range) => std::slice::from_ref(range),
            Segments::Many(ranges) => ranges,
        }
    }

    /// The joined text, borrowed when the line was not continued.
    pub fn joined<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        match self.segments() {
            [one] => std::borrow::Cow::Borrowed(&text[one.clone()]),
            many => std::borrow::Cow::Owned(many.iter().map(|r| &text[r.clone()]).collect()),
        }
    }
}

/// What the driver found; the parser turns each into tokens and nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// A line that is empty after stripping.
    Blank(usize),
    /// A comment, possibly continued over several lines.
    Comment(LogicalLine),
    /// A statement line, recognised by the parser.
    Statement(LogicalLine),
    /// A line the driver already reported (e.g. the file ended inside its
    /// continuation); the parser keeps its text in an `ERROR` node.
    Rejected(LogicalLine),
    /// A function header line and its body lines, with the closing `}` line
    /// (`None` when the file ends first).
    Function {
        header: LogicalLine,
        shape: shape::FunctionShape,
        body: Range<usize>,
        close: Option<usize>,
    },
    /// A `def` header line and the lines that continue it.
    Def {
        header: LogicalLine,
        body: Range<usize>,
    },
}

/// Splits a file into chunks as BitBake's line reader does for `kind`.
pub(crate) fn split_chunks(
    text: &str,
    kind: FileKind,
    errors: &mut Vec<SyntaxError>,
) -> (Vec<PhysLine>, Vec<Chunk>) {
    let lines = physical_lines(text);
    let mut driver = Driver {
        text,
        lines: &lines,
        kind,
        chunks: Vec::with_capacity(lines.len()),
        errors,
    };
    driver.run();
    let chunks = driver.chunks;
    (lines, chunks)
}

struct Driver<'a, 'e> {
    text: &'a str,
    lines: &'a [PhysLine],
    kind: FileKind,
    chunks: Vec<Chunk>,
    errors: &'e mut Vec<SyntaxError>,
}

impl Driver<'_, '_> {
    fn content(&self, line_idx: usize) -> &str {
        self.lines[line_idx].content(self.text)
    }

    fn line_range(&self, line_idx: usize) -> Range<usize> {
        let line = &self.lines[line_idx];
        line.start..line.content_end
    }

    fn error(&mut self, range: Range<usize>, message: impl Into<String>) {
        self.errors.push(SyntaxError::new(message, range));
    }

    fn run(&mut self) {
        let mut idx = 0;
        while idx < self.lines.len() {
            idx = self.step(idx);
        }
    }

    /// Handles the chunk starting at physical line `idx`; returns the index
    /// of the first line after it.
    fn step(&mut self, idx: usize) -> usize {
        let content = self.content(idx);
        if content.is_empty() {
            self.chunks.push(Chunk::Blank(idx));
            return idx + 1;
        }
        let n_errors = self.errors.len();
        let logical = self.join_from(idx);
        let next = logical.lines.end;
        if self.kind == FileKind::Recipe && self.ends_file_continued(&logical) {
            // BitBake never reads a statement left pending at the end of the
            // file; it reports the unparsed lines (done while joining).
            debug_assert!(self.errors.len() > n_errors);
            self.chunks.push(Chunk::Rejected(logical));
            return next;
        }
        let joined = logical.joined(self.text);
        if joined.is_empty() {
            // Only reachable through a `\` line whose continuation is blank;
            // the recipe grammar reported it while joining.
            if self.kind == FileKind::Conf {
                self.error(
                    self.line_range(idx),
                    "unparsed line: a continued line that joins to nothing",
                );
            }
            self.chunks.push(Chunk::Rejected(logical));
            return next;
        }
        if joined.starts_with('#') {
            self.chunks.push(Chunk::Comment(logical));
            return next;
        }
        // spec §2.4: in a recipe, function headers and `def` lines are
        // recognised before anything else. In a configuration file they are
        // errors (reported by the parser), but their bodies are still
        // consumed here so that one error is reported, not one per body line.
        if let Some(shape) = shape::function_start(&joined) {
            drop(joined);
            return self.function(logical, shape);
        }
        if shape::def_start(&joined).is_some() {
            drop(joined);
            return self.def(logical);
        }
        self.chunks.push(Chunk::Statement(logical));
        next
    }

    /// Joins the lines starting at `idx` as the grammar does, reporting the
    /// comment rules of spec §2.3.
    fn join_from(&mut self, idx: usize) -> LogicalLine {
        if !self.content(idx).ends_with('\\') {
            return LogicalLine::single(idx, &self.lines[idx]);
        }
        match self.kind {
            FileKind::Recipe => self.join_recipe(idx),
            FileKind::Conf => self.join_conf(idx),
        }
    }

    /// The recipe grammar joins while each *physical* line ends in `\`; the
    /// first line decides whether the whole is a comment.
    fn join_recipe(&mut self, idx: usize) -> LogicalLine {
        let is_comment = self.content(idx).starts_with('#');
        if self.content(idx) == "\\" {
            // BitBake's reader indexes the first character of the pending
            // text, which is empty here, and fails on the next line.
            self.error(
                self.line_range(idx),
                "unparsed line: a continuation cannot start with a line holding only `\\`",
            );
        }
        let mut segments = Vec::new();
        let mut line_idx = idx;
        loop {
            let line = self.lines[line_idx];
            let continued = line.content(self.text).ends_with('\\');
            let seg_end = if continued {
                line.content_end - 1
            } else {
                line.content_end
            };
            segments.push(line.start..seg_end);
            if !continued {
                break;
            }
            let Some(next) = self.lines.get(line_idx + 1) else {
                self.error(
                    line.start..line.content_end,
                    "unparsed lines: the file ends with a `\\` continuation",
                );
                break;
            };
            let next_is_comment = next.content(self.text).starts_with('#');
            if is_comment && !next_is_comment {
                self.confusing_comment(idx, line_idx);
                break;
            }
            if !is_comment && next_is_comment {
                self.error(
                    next.start..next.content_end,
                    "comment in the middle of a multiline expression: \
                     a `#` line cannot continue a value in a recipe",
                );
            }
            line_idx += 1;
        }
        LogicalLine::joined_lines(idx..line_idx + 1, segments)
    }

    /// The configuration grammar joins while the *joined text* ends in `\`,
    /// dropping one backslash each time; at the end of the file it keeps
    /// dropping them. A `#` line may continue a value.
    fn join_conf(&mut self, idx: usize) -> LogicalLine {
        let mut segments = vec![self.line_range(idx)];
        let mut line_idx = idx;
        // The last character of the joined text lives in the last non-empty
        // segment.
        while let Some(last) = segments.iter_mut().rev().find(|r| r.start != r.end) {
            if self.text.as_bytes()[last.end - 1] != b'\\' {
                break;
            }
            last.end -= 1;
            let starts_with_hash = segments
                .iter()
                .find(|r| !r.is_empty())
                .is_some_and(|r| self.text.as_bytes()[r.start] == b'#');
            let next = self.lines.get(line_idx + 1).map(|l| l.content(self.text));
            if starts_with_hash && !next.is_some_and(|n| n.starts_with('#')) {
                self.confusing_comment(idx, line_idx);
                break;
            }
            if next.is_none() {
                continue;
            }
            line_idx += 1;
            segments.push(self.line_range(line_idx));
        }
        LogicalLine::joined_lines(idx..line_idx + 1, segments)
    }

    fn confusing_comment(&mut self, first: usize, last: usize) {
        let range = self.lines[first].start..self.lines[last].content_end;
        self.error(
            range,
            "confusing multiline, partially commented expression: a comment ending \
             in `\\` continues onto a line that is not a comment",
        );
    }

    /// Whether the logical line's last physical line still ends in `\`.
    fn ends_file_continued(&self, logical: &LogicalLine) -> bool {
        let last = logical.lines.end - 1;
        last + 1 == self.lines.len() && self.content(last).ends_with('\\')
    }

    fn function(&mut self, header: LogicalLine, shape: shape::FunctionShape) -> usize {
        let body_start = header.lines.end;
        let close = (body_start..self.lines.len()).find(|&i| self.content(i) == "}");
        let body_end = close.unwrap_or(self.lines.len());
        // In a configuration file the header itself is the error (reported
        // by the parser); the body is consumed only to recover.
        if close.is_none() && self.kind == FileKind::Recipe {
            // Reported at the header (its last line, for a joined header), as
            // BitBake does for an empty body; with a body BitBake names the
            // line after the end of the file, which helps nobody.
            let header_line = header.lines.end - 1;
            let name = shape
                .name
                .clone()
                .map(|r| header.joined(self.text)[r].to_string())
                .unwrap_or_else(|| "__anonymous".to_string());
            self.error(
                self.line_range(header_line),
                format!(
                    "unclosed function `{name}`: no line holding only `}}` follows \
                     (the closing brace must be in column 1)"
                ),
            );
        }
        self.chunks.push(Chunk::Function {
            header,
            shape,
            body: body_start..body_end,
            close,
        });
        close.map_or(self.lines.len(), |c| c + 1)
    }

    fn def(&mut self, header: LogicalLine) -> usize {
        let body_start = header.lines.end;
        let body_end = (body_start..self.lines.len())
            .find(|&i| !shape::continues_def(self.content(i)))
            .unwrap_or(self.lines.len());
        self.chunks.push(Chunk::Def {
            header,
            body: body_start..body_end,
        });
        body_end
    }
}

/// Tokens of a variable name: runs of name characters and `:` separators.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameToken {
    #[regex(r"[A-Za-z0-9\-_+.${}/~]+")]
    Ident,
    #[token(":")]
    Colon,
}

/// Tokens of directive arguments: words and the blanks between them.
#[derive(Logos, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WordToken {
    #[regex(r"[ \t\x0b\x0c\x1c-\x1f]+")]
    Space,
    #[regex(r"[^ \t\x0b\x0c\x1c-\x1f]+")]
    Word,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn universal_newlines_and_rstrip() {
        let text = "a \t\r\nb\rc\n  \nd";
        let lines = physical_lines(text);
        let contents: Vec<_> = lines.iter().map(|l| l.content(text)).collect();
        assert_eq!(contents, ["a", "b", "c", "", "d"]);
        assert_eq!(&text[lines[0].text_end..lines[0].end], "\r\n");
        assert_eq!(&text[lines[1].text_end..lines[1].end], "\r");
        assert_eq!(lines[4].text_end, lines[4].end);
    }

    fn chunks(text: &str, kind: FileKind) -> (Vec<Chunk>, Vec<SyntaxError>) {
        let mut errors = Vec::new();
        let (_, chunks) = split_chunks(text, kind, &mut errors);
        (chunks, errors)
    }

    #[test]
    fn comment_inside_continued_value() {
        let text = "L = \" \\\n#  a \\\n  two\"\n";
        let (recipe, errors) = chunks(text, FileKind::Recipe);
        assert_eq!(recipe.len(), 1);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (conf, errors) = chunks(text, FileKind::Conf);
        assert_eq!(conf.len(), 1);
        assert!(errors.is_empty());
        let Chunk::Statement(line) = &conf[0] else {
            panic!("{conf:?}")
        };
        assert_eq!(line.joined(text), "L = \" #  a   two\"");
    }

    #[test]
    fn functions_and_defs() {
        let text = "do_x() {\n  a \\\n}\n}\ndef f(d):\n    return 1\n\n# c\nA = \"1\"\n";
        let (chunks, errors) = chunks(text, FileKind::Recipe);
        assert!(errors.is_empty());
        assert!(matches!(chunks[0], Chunk::Function { close: Some(2), .. }));
        assert!(matches!(chunks[1], Chunk::Statement(_)));
        assert!(matches!(&chunks[2], Chunk::Def { body, .. } if *body == (5..8)));
        assert!(matches!(chunks[3], Chunk::Statement(_)));
    }

    #[test]
    fn unclosed_function_is_reported_at_its_header() {
        let (_, errors) = chunks("A = \"1\"\ndo_x() {\n  echo\n }\n", FileKind::Recipe);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].range,
            crate::syntax::TextRange::new(8.into(), 16.into())
        );
    }
}
