//! Rendering diagnostics: `path:line:col: error: message`, then the source
//! line with a caret under the problem (codespan-reporting does the drawing).
//! Colour only when the output is a terminal.

use std::io::{self, Write};
use std::ops::Range;

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, Severity as CsSeverity};
use codespan_reporting::files::{self, Files};
use codespan_reporting::term::{self, Config, DisplayStyle, termcolor::Buffer};

use crate::diag::{Diagnostic, FileId, Severity, SourceMap};

/// codespan's view of our files: universal-newline line breaks, as BitBake
/// counts lines.
struct SourceFiles<'a>(&'a SourceMap);

impl<'a> Files<'a> for SourceFiles<'a> {
    type FileId = FileId;
    type Name = String;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<String, files::Error> {
        let file = self.0.get(id).ok_or(files::Error::FileMissing)?;
        Ok(file.path.display().to_string())
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, files::Error> {
        Ok(&self.0.get(id).ok_or(files::Error::FileMissing)?.text)
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, files::Error> {
        Ok(self
            .0
            .get(id)
            .ok_or(files::Error::FileMissing)?
            .lines
            .line_of(byte_index))
    }

    fn line_range(&'a self, id: FileId, line_index: usize) -> Result<Range<usize>, files::Error> {
        let file = self.0.get(id).ok_or(files::Error::FileMissing)?;
        let range = file.lines.line_range(line_index, file.text.len());
        range.ok_or(files::Error::LineTooLarge {
            given: line_index,
            max: file.lines.line_of(file.text.len()),
        })
    }
}

/// Renders diagnostics to bytes, coloured or not.
pub struct Renderer {
    pub color: bool,
}

impl Renderer {
    pub fn render(&self, sources: &SourceMap, diagnostic: &Diagnostic) -> Vec<u8> {
        let files = SourceFiles(sources);
        let severity = match diagnostic.severity {
            Severity::Error => CsSeverity::Error,
            Severity::Warning => CsSeverity::Warning,
        };
        let range: Range<usize> = diagnostic.range.into();
        let cs = CsDiagnostic::new(severity)
            .with_message(&diagnostic.message)
            .with_labels(vec![Label::primary(diagnostic.file, range)])
            .with_notes(diagnostic.notes.clone());
        let buffer = || {
            if self.color {
                Buffer::ansi()
            } else {
                Buffer::no_color()
            }
        };
        // The header in compiler style (`path:line:col: error: message`)...
        let mut header = buffer();
        let short = Config {
            display_style: DisplayStyle::Short,
            ..Config::default()
        };
        let header_ok = term::emit_to_write_style(&mut header, &short, &files, &cs).is_ok();
        // ...then the rich form's source snippet, without its own header line.
        let mut rich = buffer();
        let rich_ok = term::emit_to_write_style(&mut rich, &Config::default(), &files, &cs).is_ok();
        let mut out = Vec::new();
        if header_ok && rich_ok {
            out.extend_from_slice(header.as_slice());
            let rich = rich.as_slice();
            let body = rich
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rich, |i| &rich[i + 1..]);
            out.extend_from_slice(body);
        } else {
            // A range outside the file is a bug upstream; still say something.
            let _ = writeln!(out, "error: {}", diagnostic.message);
        }
        out
    }

    pub fn write_all(
        &self,
        out: &mut dyn Write,
        sources: &SourceMap,
        diagnostics: &[Diagnostic],
    ) -> io::Result<()> {
        for diagnostic in diagnostics {
            out.write_all(&self.render(sources, diagnostic))?;
        }
        Ok(())
    }
}
