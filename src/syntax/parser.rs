//! The parser: chunks from the lexer to a rowan green tree.
//!
//! Statement recognition follows BitBake's order exactly ([`Parser::statement`]
//! has one arm per form of spec §2.4); each form is decided by a function in
//! [`shape`] and then built by one function here, named after its node. Parts
//! of a statement are tokenised with the logos tokenizers of the lexer and
//! written through a [`LineWriter`], which maps offsets of the joined logical
//! line back to the file and puts a `LINE_CONT` token wherever BitBake joined
//! two lines, so the tree's text is always the file's text.
//!
//! Recovery is per statement: a line no form accepts becomes one `ERROR` node
//! with one error, and the next chunk is parsed normally.

use std::ops::Range;

use logos::Logos;
use rowan::{GreenNode, GreenNodeBuilder};

use super::lexer::{self, Chunk, LogicalLine, NameToken, PhysLine, WordToken};
use super::shape::{self, AssignmentShape, FlagShape, FunctionShape, QuoteRule};
use super::{FileKind, SyntaxError, SyntaxKind, SyntaxKind::*, validate};

pub(crate) fn parse(kind: FileKind, text: &str) -> (GreenNode, Vec<SyntaxError>) {
    let mut errors = Vec::new();
    let (lines, chunks) = lexer::split_chunks(text, kind, &mut errors);
    // One node cache per thread: tokens such as ` `, `=` and `\n` are
    // shared by every tree built on it, and the cache does not regrow for
    // each file.
    // The cache keeps every distinct token it has seen (function bodies
    // included), so it is started afresh after 64 MiB of input.
    thread_local! {
        static CACHE: std::cell::RefCell<(rowan::NodeCache, usize)> = std::cell::RefCell::new((rowan::NodeCache::default(), 0));
    }
    const CACHE_BYTES: usize = 64 << 20;
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        cache.1 += text.len();
        if cache.1 > CACHE_BYTES {
            *cache = (rowan::NodeCache::default(), text.len());
        }
        let cache = &mut cache.0;
        let mut parser = Parser {
            text,
            kind,
            lines: &lines,
            builder: GreenNodeBuilder::with_cache(cache),
            errors,
        };
        parser.builder.start_node(SOURCE_FILE.into());
        for chunk in &chunks {
            parser.chunk(chunk);
        }
        parser.builder.finish_node();
        (parser.builder.finish(), parser.errors)
    })
}

struct Parser<'a> {
    text: &'a str,
    kind: FileKind,
    lines: &'a [PhysLine],
    builder: GreenNodeBuilder<'a>,
    errors: Vec<SyntaxError>,
}

/// Which recipe-grammar directive a line is, for the shared builders.
#[derive(Clone, Copy)]
enum Directive {
    ExportFunctions,
    AddHandler,
    Inherit,
    InheritDefer,
    Include,
    Require,
    IncludeAll,
    AddPylib,
    AddFragments,
}

/// `addtask` or `deltask`, which share BitBake's comment-tolerant pattern.
#[derive(Clone, Copy)]
enum TaskDirective {
    AddTask,
    DelTask,
}

impl TaskDirective {
    fn keyword(self) -> &'static str {
        match self {
            TaskDirective::AddTask => "addtask",
            TaskDirective::DelTask => "deltask",
        }
    }

    fn kinds(self) -> (SyntaxKind, SyntaxKind) {
        match self {
            TaskDirective::AddTask => (ADDTASK, ADDTASK_KW),
            TaskDirective::DelTask => (DELTASK, DELTASK_KW),
        }
    }
}

impl Directive {
    fn keyword(self) -> &'static str {
        match self {
            Directive::ExportFunctions => "EXPORT_FUNCTIONS",
            Directive::AddHandler => "addhandler",
            Directive::Inherit => "inherit",
            Directive::InheritDefer => "inherit_defer",
            Directive::Include => "include",
            Directive::Require => "require",
            Directive::IncludeAll => "include_all",
            Directive::AddPylib => "addpylib",
            Directive::AddFragments => "addfragments",
        }
    }

    fn kinds(self) -> (SyntaxKind, SyntaxKind) {
        match self {
            Directive::ExportFunctions => (EXPORT_FUNCTIONS, EXPORT_FUNCTIONS_KW),
            Directive::AddHandler => (ADDHANDLER, ADDHANDLER_KW),
            Directive::Inherit => (INHERIT, INHERIT_KW),
            Directive::InheritDefer => (INHERIT_DEFER, INHERIT_DEFER_KW),
            Directive::Include => (INCLUDE, INCLUDE_KW),
            Directive::Require => (REQUIRE, REQUIRE_KW),
            Directive::IncludeAll => (INCLUDE_ALL, INCLUDE_ALL_KW),
            Directive::AddPylib => (ADDPYLIB, ADDPYLIB_KW),
            Directive::AddFragments => (ADDFRAGMENTS, ADDFRAGMENTS_KW),
        }
    }

    /// Whether a joined line has this directive's shape.
    fn matches(self, s: &str) -> Option<usize> {
        match self {
            Directive::AddPylib => shape::word_groups(s, "addpylib", 2),
            Directive::AddFragments => shape::word_groups(s, "addfragments", 4),
            other => shape::directive(s, other.keyword()),
        }
    }
}

impl<'a> Parser<'a> {
    fn error(&mut self, range: Range<usize>, message: impl Into<String>) {
        self.errors.push(SyntaxError::new(message, range));
    }

    fn token(&mut self, kind: SyntaxKind, range: Range<usize>) {
        if !range.is_empty() {
            self.builder.token(kind.into(), &self.text[range]);
        }
    }

    /// Trailing whitespace and newline of physical line `idx`.
    fn line_end(&mut self, idx: usize) {
        let line = self.lines[idx];
        self.token(WHITESPACE, line.content_end..line.text_end);
        self.token(NEWLINE, line.text_end..line.end);
    }

    fn chunk(&mut self, chunk: &Chunk) {
        match chunk {
            Chunk::Blank(idx) => self.line_end(*idx),
            Chunk::Comment(line) => {
                let mut writer = LineWriter::new(self.text, self.lines, line);
                let end = writer.joined_len();
                writer.emit(&mut self.builder, COMMENT, end);
                writer.finish(&mut self.builder);
            }
            Chunk::Statement(line) => self.statement(line),
            Chunk::Rejected(line) => {
                let joined = line.joined(self.text);
                self.error_line(line, &joined);
            }
            Chunk::Function {
                header,
                shape,
                body,
                close,
            } => self.function(header, shape, body.clone(), *close),
            Chunk::Def { header, body } => self.def_function(header, body.clone()),
        }
    }

    /// Recognises one logical line in BitBake's order (spec §2.4) and builds it.
    fn statement(&mut self, line: &LogicalLine) {
        let joined = line.joined(self.text);
        let s: &str = &joined;
        let recipe = self.kind == FileKind::Recipe;
        if recipe {
            if let Some(args) = Directive::ExportFunctions.matches(s) {
                return self.directive(line, s, Directive::ExportFunctions, args, None);
            }
            for task_kind in [TaskDirective::AddTask, TaskDirective::DelTask] {
                if let Some(parts) = shape::task_directive(s, task_kind.keyword()) {
                    return self.task_directive(line, s, task_kind, parts, None);
                }
            }
            for directive in [
                Directive::AddHandler,
                Directive::Inherit,
                Directive::InheritDefer,
            ] {
                if let Some(args) = directive.matches(s) {
                    return self.directive(line, s, directive, args, None);
                }
            }
        }
        if let Some(assignment) = shape::assignment(s, QuoteRule::BitBake) {
            return self.assignment(line, s, &assignment);
        }
        for directive in [
            Directive::Include,
            Directive::Require,
            Directive::IncludeAll,
        ] {
            if let Some(args) = directive.matches(s) {
                return self.directive(line, s, directive, args, None);
            }
        }
        if let Some(name) = shape::export_name(s) {
            return self.export(line, name);
        }
        if let Some((name, flag)) = shape::unset(s) {
            return self.unset(line, name, flag);
        }
        if let Some(args) = Directive::AddPylib.matches(s) {
            // spec §14.4: only configuration files may add Python libraries
            // (and only top-level ones, which the evaluator checks).
            let rejected = recipe
                .then_some("unparsed line: `addpylib` is only allowed in configuration files");
            return self.directive(line, s, Directive::AddPylib, args, rejected);
        }
        if let Some(args) = Directive::AddFragments.matches(s) {
            return self.directive(line, s, Directive::AddFragments, args, None);
        }
        if !recipe {
            // Recipe-only forms in a configuration file: say so, keep the shape.
            for directive in [
                Directive::ExportFunctions,
                Directive::AddHandler,
                Directive::Inherit,
                Directive::InheritDefer,
            ] {
                if let Some(args) = directive.matches(s) {
                    let message = format!(
                        "unparsed line: `{}` is not allowed in a configuration file",
                        directive.keyword()
                    );
                    return self.directive(line, s, directive, args, Some(&message));
                }
            }
            for task_kind in [TaskDirective::AddTask, TaskDirective::DelTask] {
                if let Some(parts) = shape::task_directive(s, task_kind.keyword()) {
                    let message = format!(
                        "unparsed line: `{}` is not allowed in a configuration file",
                        task_kind.keyword()
                    );
                    return self.task_directive(line, s, task_kind, parts, Some(&message));
                }
            }
        }
        let message = explain_unparsed(s, self.kind);
        self.error(self.last_line_range(line), message);
        self.error_line(line, s)
    }

    /// The statement's first physical line, where whole-statement checks
    /// point.
    fn first_line_range(&self, line: &LogicalLine) -> Range<usize> {
        let first = self.lines[line.lines.start];
        first.start..first.content_end
    }

    /// BitBake reports a statement's errors at its last physical line.
    fn last_line_range(&self, line: &LogicalLine) -> Range<usize> {
        let last = self.lines[line.lines.end - 1];
        last.start..last.content_end
    }

    /// A rejected line: one `ERROR` node holding words and blanks.
    fn error_line(&mut self, line: &LogicalLine, s: &str) {
        self.builder.start_node(ERROR.into());
        let mut writer = LineWriter::new(self.text, self.lines, line);
        words(&mut writer, &mut self.builder, s, 0, s.len(), TEXT);
        writer.finish(&mut self.builder);
        self.builder.finish_node();
    }

    fn assignment(&mut self, line: &LogicalLine, s: &str, shape: &AssignmentShape) {
        self.builder.start_node(ASSIGNMENT.into());
        let mut w = LineWriter::new(self.text, self.lines, line);
        if let Some((kw, space)) = &shape.export {
            w.emit(&mut self.builder, EXPORT_KW, kw.end);
            w.emit(&mut self.builder, WHITESPACE, space.end);
        }
        self.var_name(&mut w, s, shape.name.clone(), VAR_NAME);
        validate::assignment(
            &s[shape.name.clone()],
            shape.flag.is_some(),
            self.first_line_range(line),
            &mut self.errors,
        );
        if shape.name.is_empty() {
            self.error(
                self.last_line_range(line),
                format!("empty variable name in assignment: `{s}`"),
            );
        }
        if let Some(flag) = &shape.flag {
            self.flag(&mut w, flag);
        }
        w.emit(&mut self.builder, WHITESPACE, shape.space_before_op.end);
        let (op_range, op) = &shape.op;
        w.emit(&mut self.builder, op_kind(*op), op_range.end);
        w.emit(&mut self.builder, WHITESPACE, shape.space_after_op.end);
        self.builder.start_node(VALUE.into());
        w.emit(&mut self.builder, QUOTE, shape.open_quote + 1);
        w.emit(&mut self.builder, TEXT, s.len() - 1);
        w.emit(&mut self.builder, QUOTE, s.len());
        self.builder.finish_node();
        w.finish(&mut self.builder);
        self.builder.finish_node();
    }

    /// A `VAR_NAME` (or `FUNCTION_NAME`) node: identifier runs and colons.
    fn var_name(&mut self, w: &mut LineWriter, s: &str, range: Range<usize>, node: SyntaxKind) {
        self.builder.start_node(node.into());
        let base = range.start;
        for (token, span) in NameToken::lexer(&s[range.clone()]).spanned() {
            let kind = match token {
                Ok(NameToken::Colon) => COLON,
                Ok(NameToken::Ident) => IDENT,
                // Function names may hold any Python word character.
                Err(()) => IDENT,
            };
            w.emit(&mut self.builder, kind, base + span.end);
        }
        w.emit(&mut self.builder, IDENT, range.end);
        self.builder.finish_node();
    }

    fn flag(&mut self, w: &mut LineWriter, flag: &FlagShape) {
        self.builder.start_node(FLAG.into());
        w.emit(&mut self.builder, L_BRACK, flag.open + 1);
        w.emit(&mut self.builder, IDENT, flag.name.end);
        w.emit(&mut self.builder, R_BRACK, flag.close + 1);
        self.builder.finish_node();
    }

    fn directive(
        &mut self,
        line: &LogicalLine,
        s: &str,
        directive: Directive,
        args_start: usize,
        rejected: Option<&str>,
    ) {
        if let Some(message) = rejected {
            self.error(self.last_line_range(line), message);
            self.builder.start_node(ERROR.into());
        } else {
            let args = &s[args_start..];
            let range = self.first_line_range(line);
            match directive {
                Directive::Include | Directive::Require => {
                    validate::included_files(directive.keyword(), args, range, &mut self.errors)
                }
                Directive::Inherit | Directive::InheritDefer => {
                    validate::inherited(directive.keyword(), args, range, &mut self.errors)
                }
                _ => {}
            }
        }
        let (node, kw) = directive.kinds();
        self.builder.start_node(node.into());
        let mut w = LineWriter::new(self.text, self.lines, line);
        w.emit(&mut self.builder, kw, directive.keyword().len());
        w.emit(&mut self.builder, WHITESPACE, args_start);
        self.builder.start_node(ARGS.into());
        words(&mut w, &mut self.builder, s, args_start, s.len(), WORD);
        self.builder.finish_node();
        w.finish(&mut self.builder);
        self.builder.finish_node();
        if rejected.is_some() {
            self.builder.finish_node();
        }
    }

    fn task_directive(
        &mut self,
        line: &LogicalLine,
        s: &str,
        task_kind: TaskDirective,
        (args_start, comment): (usize, usize),
        rejected: Option<&str>,
    ) {
        if let Some(message) = rejected {
            self.error(self.last_line_range(line), message);
            self.builder.start_node(ERROR.into());
        } else if matches!(task_kind, TaskDirective::AddTask) {
            validate::addtask(s, self.first_line_range(line), &mut self.errors);
        }
        let (node, kw) = task_kind.kinds();
        self.builder.start_node(node.into());
        let mut w = LineWriter::new(self.text, self.lines, line);
        w.emit(&mut self.builder, kw, task_kind.keyword().len());
        w.emit(&mut self.builder, WHITESPACE, args_start);
        self.builder.start_node(ARGS.into());
        // `after`/`before` are keywords only where BitBake splits on them:
        // with a single space on each side.
        let bytes = s.as_bytes();
        let mut at = args_start;
        for (token, span) in WordToken::lexer(&s[args_start..comment]).spanned() {
            let (start, end) = (args_start + span.start, args_start + span.end);
            let kind = match token {
                Ok(WordToken::Word) => {
                    let word = &s[start..end];
                    let spaced =
                        start > 0 && bytes[start - 1] == b' ' && bytes.get(end) == Some(&b' ');
                    match word {
                        "after" if spaced => AFTER_KW,
                        "before" if spaced => BEFORE_KW,
                        _ => WORD,
                    }
                }
                Ok(WordToken::Space) => WHITESPACE,
                Err(()) => WORD,
            };
            w.emit(&mut self.builder, kind, end);
            at = end;
        }
        w.emit(&mut self.builder, WORD, at.max(comment));
        self.builder.finish_node();
        w.emit(&mut self.builder, COMMENT, s.len());
        w.finish(&mut self.builder);
        self.builder.finish_node();
        if rejected.is_some() {
            self.builder.finish_node();
        }
    }

    fn export(&mut self, line: &LogicalLine, name: Range<usize>) {
        let joined = line.joined(self.text);
        self.builder.start_node(EXPORT.into());
        let mut w = LineWriter::new(self.text, self.lines, line);
        validate::export(
            &joined[name.clone()],
            self.first_line_range(line),
            &mut self.errors,
        );
        w.emit(&mut self.builder, EXPORT_KW, "export".len());
        w.emit(&mut self.builder, WHITESPACE, name.start);
        self.var_name(&mut w, &joined, name, VAR_NAME);
        w.finish(&mut self.builder);
        self.builder.finish_node();
    }

    fn unset(&mut self, line: &LogicalLine, name: Range<usize>, flag: Option<FlagShape>) {
        let joined = line.joined(self.text);
        self.builder.start_node(UNSET.into());
        let mut w = LineWriter::new(self.text, self.lines, line);
        w.emit(&mut self.builder, UNSET_KW, "unset".len());
        w.emit(&mut self.builder, WHITESPACE, name.start);
        self.var_name(&mut w, &joined, name, VAR_NAME);
        if let Some(flag) = &flag {
            self.flag(&mut w, flag);
        }
        w.finish(&mut self.builder);
        self.builder.finish_node();
    }

    fn function(
        &mut self,
        header: &LogicalLine,
        shape: &FunctionShape,
        body: Range<usize>,
        close: Option<usize>,
    ) {
        let joined = header.joined(self.text);
        let s: &str = &joined;
        if self.kind == FileKind::Conf {
            self.error(
                self.last_line_range(header),
                "unparsed line: functions are not allowed in a configuration file",
            );
            self.builder.start_node(ERROR.into());
        }
        self.builder.start_node(FUNCTION.into());
        let mut w = LineWriter::new(self.text, self.lines, header);
        for (range, python) in &shape.keywords {
            w.emit(&mut self.builder, WHITESPACE, range.start);
            w.emit(
                &mut self.builder,
                if *python { PYTHON_KW } else { FAKEROOT_KW },
                range.end,
            );
        }
        if let Some(name) = &shape.name {
            if self.kind == FileKind::Recipe {
                validate::function_name(
                    &s[name.clone()],
                    self.first_line_range(header),
                    &mut self.errors,
                );
            }
            w.emit(&mut self.builder, WHITESPACE, name.start);
            self.var_name(&mut w, s, name.clone(), FUNCTION_NAME);
        }
        w.emit(&mut self.builder, WHITESPACE, shape.l_paren);
        w.emit(&mut self.builder, L_PAREN, shape.l_paren + 1);
        w.emit(&mut self.builder, WHITESPACE, shape.r_paren);
        w.emit(&mut self.builder, R_PAREN, shape.r_paren + 1);
        w.emit(&mut self.builder, WHITESPACE, shape.l_curly);
        w.emit(&mut self.builder, L_CURLY, shape.l_curly + 1);
        w.finish(&mut self.builder);
        self.body(body);
        if let Some(close) = close {
            let line = self.lines[close];
            self.token(R_CURLY, line.start..line.content_end);
            self.line_end(close);
        }
        self.builder.finish_node();
        if self.kind == FileKind::Conf {
            self.builder.finish_node();
        }
    }

    /// Body lines `lines`, verbatim, as one `BODY` token.
    fn body(&mut self, lines: Range<usize>) {
        if lines.is_empty() {
            return;
        }
        let start = self.lines[lines.start].start;
        let end = self.lines[lines.end - 1].end;
        self.token(BODY, start..end);
    }

    fn def_function(&mut self, header: &LogicalLine, body: Range<usize>) {
        let joined = header.joined(self.text);
        let s: &str = &joined;
        let Some((space, name)) = shape::def_start(s) else {
            // The lexer only makes `Def` chunks of lines that match.
            return self.error_line(header, s);
        };
        if self.kind == FileKind::Conf {
            self.error(
                self.last_line_range(header),
                "unparsed line: python functions are not allowed in a configuration file",
            );
            self.builder.start_node(ERROR.into());
        }
        if self.kind == FileKind::Recipe {
            validate::function_name(
                &s[name.clone()],
                self.first_line_range(header),
                &mut self.errors,
            );
        }
        self.builder.start_node(DEF_FUNCTION.into());
        let mut w = LineWriter::new(self.text, self.lines, header);
        w.emit(&mut self.builder, DEF_KW, 3);
        w.emit(&mut self.builder, WHITESPACE, space.end);
        self.builder.start_node(FUNCTION_NAME.into());
        w.emit(&mut self.builder, IDENT, name.end);
        self.builder.finish_node();
        w.emit(&mut self.builder, TEXT, s.len());
        w.finish(&mut self.builder);
        self.body(body);
        self.builder.finish_node();
        if self.kind == FileKind::Conf {
            self.builder.finish_node();
        }
    }
}

fn op_kind(op: shape::AssignOp) -> SyntaxKind {
    use shape::AssignOp::*;
    match op {
        Immediate => COLON_EQ,
        WeakDefault => QUESTION2_EQ,
        Default => QUESTION_EQ,
        Append => PLUS_EQ,
        Prepend => EQ_PLUS,
        PrependNoSpace => EQ_DOT,
        AppendNoSpace => DOT_EQ,
        Assign => EQ,
    }
}

/// Emits `s[start..end]` as `word_kind` words and `WHITESPACE` blanks.
fn words(
    w: &mut LineWriter,
    builder: &mut GreenNodeBuilder<'_>,
    s: &str,
    start: usize,
    end: usize,
    word_kind: SyntaxKind,
) {
    for (token, span) in WordToken::lexer(&s[start..end]).spanned() {
        let kind = match token {
            Ok(WordToken::Space) => WHITESPACE,
            Ok(WordToken::Word) | Err(()) => word_kind,
        };
        w.emit(builder, kind, start + span.end);
    }
    // Unicode blanks that logos' byte classes do not cover end up here.
    w.emit(builder, word_kind, end);
}

/// Why BitBake would reject a line, as precisely as we can tell. The
/// message always starts with BitBake's own words, "unparsed line".
fn explain_unparsed(s: &str, kind: FileKind) -> String {
    let quoted = format!("unparsed line: `{s}`");
    let hint = unparsed_hint(s, kind);
    match hint {
        Some(hint) => format!("{quoted}: {hint}"),
        None => quoted,
    }
}

fn unparsed_hint(s: &str, kind: FileKind) -> Option<String> {
    let first = s.chars().next()?;
    if shape::is_py_space(first) {
        let trimmed = s.trim_start_matches(shape::is_py_space);
        let what = if trimmed.starts_with('#') {
            "a comment"
        } else {
            "a statement"
        };
        return Some(format!("{what} must start in the first column"));
    }
    if kind == FileKind::Recipe && s.starts_with("addpylib") {
        return Some("`addpylib` is only allowed in configuration files".into());
    }
    if s.ends_with('}') && s.contains('{') && s.contains("()") {
        return Some(
            "a function's body starts on the line after `{`, and `}` closes it alone on a line"
                .into(),
        );
    }
    if shape::assignment(s, QuoteRule::Relaxed).is_some() {
        return Some(
            "the value holds exactly three quote characters, which BitBake rejects as ambiguous"
                .into(),
        );
    }
    let op = find_operator(s)?;
    let target = &s[..op];
    let target = target.trim_end_matches(shape::is_py_space);
    if let Some(hint) = name_hint(target) {
        return Some(hint);
    }
    let value = s[op..].trim_start_matches(shape::is_py_space);
    let value = value.trim_start_matches(|c| "=:?+.".contains(c));
    let value = value.trim_start_matches(shape::is_py_space);
    let Some(quote @ ('"' | '\'')) = value.chars().next() else {
        return Some(if value.is_empty() {
            "the value is missing".into()
        } else {
            "the value must be in quotes".into()
        });
    };
    let last = value.chars().next_back().unwrap_or(quote);
    if value.len() == 1 {
        return Some(format!("the value's closing quote `{quote}` is missing"));
    }
    if last == quote {
        return None;
    }
    let Some(close) = value[1..].rfind(quote) else {
        if last == '"' || last == '\'' {
            return Some(format!(
                "mismatched quotes: the value opens with `{quote}` and ends with `{last}`"
            ));
        }
        return Some(format!("the value's closing quote `{quote}` is missing"));
    };
    let rest = value[1 + close + 1..].trim_start_matches(shape::is_py_space);
    if rest.starts_with('#') {
        return Some("a comment cannot follow a value; put it on a line of its own".into());
    }
    Some(format!(
        "nothing may follow the value's closing quote `{quote}`"
    ))
}

/// What is wrong with the part of an assignment before its operator.
fn name_hint(target: &str) -> Option<String> {
    let target = target
        .strip_prefix("export")
        .filter(|t| t.starts_with(shape::is_py_space))
        .map_or(target, |t| t.trim_start_matches(shape::is_py_space));
    let (name, flag) = match target.find('[') {
        Some(open) => (&target[..open], Some(&target[open..])),
        None => (target, None),
    };
    if name.ends_with(shape::is_py_space) && flag.is_some() {
        return Some("no space may come between a name and its `[flag]`".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii() && shape::is_var_name_byte(c as u8)))
    {
        return Some(format!("`{bad}` cannot appear in a variable name"));
    }
    let flag = flag?;
    let inner = flag.strip_prefix('[')?.strip_suffix(']')?;
    match inner.chars().next() {
        None => Some("a flag name cannot be empty".into()),
        Some(c) if !(c.is_ascii_alphanumeric() || "-_+.".contains(c)) => {
            Some(format!("a flag name cannot start with `{c}`"))
        }
        _ => inner
            .chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || "-_+.@/".contains(c)))
            .map(|c| format!("`{c}` cannot appear in a flag name")),
    }
}

/// The offset of the first assignment operator after a name-like prefix.
fn find_operator(s: &str) -> Option<usize> {
    let end = s.find(['=', '"', '\''])?;
    if s.as_bytes()[end] != b'=' {
        return None;
    }
    // Back up over the operator's first characters (`?`, `+`, `.`, `:`).
    let start = s[..end].trim_end_matches(['?', '+', '.', ':']).len();
    Some(start)
}

/// Writes the tokens of one logical line: callers give token kinds and
/// end offsets in the joined line; the writer slices the file's text,
/// splitting a token where BitBake joined two lines and putting the
/// `LINE_CONT` between, then the line's trailing blanks and newline.
pub(crate) struct LineWriter<'a> {
    text: &'a str,
    lines: &'a [PhysLine],
    logical: &'a LogicalLine,
    /// Current position in the joined line.
    pos: usize,
    /// Index of the current segment and the joined offset where it starts.
    seg_idx: usize,
    seg_joined_start: usize,
}

impl<'a> LineWriter<'a> {
    fn new(text: &'a str, lines: &'a [PhysLine], logical: &'a LogicalLine) -> LineWriter<'a> {
        LineWriter {
            text,
            lines,
            logical,
            pos: 0,
            seg_idx: 0,
            seg_joined_start: 0,
        }
    }

    fn joined_len(&self) -> usize {
        self.logical.segments().iter().map(|r| r.len()).sum()
    }

    fn segment(&self) -> &Range<usize> {
        &self.logical.segments()[self.seg_idx]
    }

    /// Emits the joined range `pos..end` as `kind` (nothing if empty).
    fn emit(&mut self, builder: &mut GreenNodeBuilder<'_>, kind: SyntaxKind, end: usize) {
        while self.pos < end {
            self.cross_joins(builder);
            let seg = self.segment().clone();
            let seg_joined_end = self.seg_joined_start + seg.len();
            let take = end.min(seg_joined_end);
            let from = seg.start + (self.pos - self.seg_joined_start);
            let to = seg.start + (take - self.seg_joined_start);
            builder.token(kind.into(), &self.text[from..to]);
            self.pos = take;
        }
    }

    /// At the end of a segment with more to come, emits the continuation.
    fn cross_joins(&mut self, builder: &mut GreenNodeBuilder<'_>) {
        while self.seg_idx + 1 < self.logical.segments().len()
            && self.pos == self.seg_joined_start + self.segment().len()
        {
            let end = self.segment().end;
            self.seg_joined_start += self.segment().len();
            self.seg_idx += 1;
            let next_start = self.segment().start;
            builder.token(LINE_CONT.into(), &self.text[end..next_start]);
        }
    }

    /// Emits whatever follows the last segment: remaining joins, then a
    /// final continuation or the trailing blanks and newline.
    fn finish(mut self, builder: &mut GreenNodeBuilder<'_>) {
        debug_assert_eq!(
            self.pos,
            self.joined_len(),
            "statement left text unconsumed"
        );
        self.cross_joins(builder);
        let last = self.lines[self.logical.lines.end - 1];
        let seg_end = self.segment().end;
        let rest = &self.text[seg_end..last.end];
        if rest.starts_with('\\') {
            builder.token(LINE_CONT.into(), rest);
            return;
        }
        if last.text_end > seg_end {
            builder.token(WHITESPACE.into(), &self.text[seg_end..last.text_end]);
        }
        if last.end > last.text_end {
            builder.token(NEWLINE.into(), &self.text[last.text_end..last.end]);
        }
    }
}
