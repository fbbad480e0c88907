//! Tokens to commands: BitBake's shell grammar, read by recursive descent.
//!
//! BitBake's grammar is the POSIX one as an LALR table whose conflicts are
//! all resolved by shifting; reading greedily gives the same language:
//!
//! * a simple command keeps taking words while the next token is a word,
//!   `fi`, `for`, `do`, `done`, `until`, `if`, `then`, `!`, an assignment
//!   or a redirection; any other reserved word ends it (and where it cannot
//!   follow, is a syntax error: `echo }` fails);
//! * a word followed by `(` is always a function definition;
//! * at the top level, complete commands may follow each other without a
//!   separator when the second cannot continue the first (`echo x (y)`
//!   runs `echo` and the subshell), but not inside compound commands;
//! * BitBake also rejects a compound list ending in `&`, a function body
//!   with redirections and `for` without `in`.
//!
//! The parser reports what the command reader needs as it goes, through
//! [`Sink`]: simple commands (their words and assignments), function
//! names, `for` word lists and `case` patterns. Redirections and the word
//! after `case` are not reported (BitBake does not look at them).
//!
//! **Invariant:** the input is accepted exactly when BitBake's parser
//! accepts it; errors point at the offending token.

use super::lexer::{Tk, Token};

/// How BitBake names a word of a simple command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum WordRole {
    /// The first word of a command without assignments or redirections
    /// before it.
    CmdName,
    /// The first word after leading redirections or assignments.
    CmdWord,
    /// Any later word, `for` list item or `case` pattern.
    Token,
    /// An assignment before the command, tagged with its variable name
    /// (BitBake lists these as `(name, value)` pairs after the words).
    Assignment(String),
}

impl WordRole {
    /// The tag BitBake's command reader compares against.
    pub(super) fn tag(&self) -> &str {
        match self {
            WordRole::CmdName => "cmd_name",
            WordRole::CmdWord => "cmd_word",
            WordRole::Token => "TOKEN",
            WordRole::Assignment(name) => name,
        }
    }
}

/// One word as the command reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word {
    pub(super) role: WordRole,
    pub(super) text: String,
    /// Index of its first character in the parsed code.
    pub(super) at: usize,
}

/// What the parser reports.
pub(super) trait Sink {
    type Error;
    fn simple_command(&mut self, words: Vec<Word>) -> Result<(), Self::Error>;
    fn function(&mut self, name: &str);
    /// `for` items and `case` patterns: words read only for substitutions.
    fn plain_words(&mut self, words: Vec<Word>) -> Result<(), Self::Error>;
}

/// A parse failure: message and the character index of the token.
#[derive(Debug)]
pub(super) enum Failure<E> {
    Syntax { at: usize, message: String },
    Sink(E),
}

type Res<E> = Result<(), Failure<E>>;

struct Parser<'a, S: Sink> {
    tokens: &'a [Token],
    pos: usize,
    end: usize,
    sink: &'a mut S,
}

/// Parses `tokens` (from code `code_len` characters long), reporting to
/// `sink`.
pub(super) fn parse<S: Sink>(
    tokens: &[Token],
    code_len: usize,
    sink: &mut S,
) -> Result<(), Failure<S::Error>> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        end: code_len,
        sink,
    };
    parser.program()
}

fn starts_redirection(kind: Option<Tk>) -> bool {
    matches!(
        kind,
        Some(
            Tk::IoNumber
                | Tk::Less
                | Tk::LessAnd
                | Tk::Great
                | Tk::GreatAnd
                | Tk::DGreat
                | Tk::LessGreat
                | Tk::Clobber
                | Tk::DLess
                | Tk::DLessDash
        )
    )
}

fn starts_and_or(kind: Option<Tk>) -> bool {
    starts_redirection(kind)
        || matches!(
            kind,
            Some(
                Tk::Bang
                    | Tk::Word
                    | Tk::LBrace
                    | Tk::LParen
                    | Tk::Case
                    | Tk::While
                    | Tk::Assignment
                    | Tk::For
                    | Tk::If
                    | Tk::Until
            )
        )
}

/// Tokens a simple command takes as further words (BitBake turns the
/// reserved ones among them back into words).
fn continues_command(kind: Option<Tk>) -> bool {
    matches!(
        kind,
        Some(
            Tk::Word
                | Tk::Fi
                | Tk::For
                | Tk::Done
                | Tk::Do
                | Tk::Until
                | Tk::Assignment
                | Tk::If
                | Tk::Then
                | Tk::Bang
        )
    )
}

fn is_word(kind: Option<Tk>) -> bool {
    matches!(kind, Some(Tk::Word | Tk::Fi))
}

/// How a compound list ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    None,
    Semi,
    Amp,
    Newline,
}

impl<S: Sink> Parser<'_, S> {
    fn peek(&self) -> Option<Tk> {
        self.tokens.get(self.pos).map(|t| t.kind)
    }

    fn peek2(&self) -> Option<Tk> {
        self.tokens.get(self.pos + 1).map(|t| t.kind)
    }

    fn bump(&mut self) -> &Token {
        let token = &self.tokens[self.pos];
        self.pos += 1;
        token
    }

    fn error<T>(&self) -> Result<T, Failure<S::Error>> {
        Err(match self.tokens.get(self.pos) {
            Some(token) => {
                let shown = match token.kind {
                    Tk::Newline => "newline".to_string(),
                    _ => format!("`{}`", token.text.trim_end()),
                };
                Failure::Syntax {
                    at: token.at,
                    message: format!("syntax error near {shown}"),
                }
            }
            None => Failure::Syntax {
                at: self.end,
                message: "syntax error: unexpected end of the code".into(),
            },
        })
    }

    fn unsupported<T>(&self, at: usize, what: &str) -> Result<T, Failure<S::Error>> {
        Err(Failure::Syntax {
            at,
            message: format!("{what} (not supported by BitBake's shell parser)"),
        })
    }

    fn expect(&mut self, kind: Tk) -> Res<S::Error> {
        if self.peek() == Some(kind) {
            self.pos += 1;
            Ok(())
        } else {
            self.error()
        }
    }

    fn newlines(&mut self) {
        while self.peek() == Some(Tk::Newline) {
            self.pos += 1;
        }
    }

    fn program(&mut self) -> Res<S::Error> {
        self.newlines();
        while self.pos < self.tokens.len() {
            self.complete_command()?;
        }
        Ok(())
    }

    fn complete_command(&mut self) -> Res<S::Error> {
        if !starts_and_or(self.peek()) {
            return self.error();
        }
        self.and_or()?;
        loop {
            match self.peek() {
                Some(Tk::Semi | Tk::Amp) => {
                    self.separator_op();
                    if starts_and_or(self.peek()) {
                        self.and_or()?;
                    } else {
                        self.newlines();
                        return Ok(());
                    }
                }
                Some(Tk::Newline) => {
                    self.newlines();
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
    }

    /// `;`, `; ;` or `&`.
    fn separator_op(&mut self) -> Ending {
        if self.bump().kind == Tk::Amp {
            return Ending::Amp;
        }
        if self.peek() == Some(Tk::Semi) {
            self.pos += 1;
        }
        Ending::Semi
    }

    fn and_or(&mut self) -> Res<S::Error> {
        self.pipeline()?;
        while matches!(self.peek(), Some(Tk::AndIf | Tk::OrIf)) {
            self.pos += 1;
            self.newlines();
            self.pipeline()?;
        }
        Ok(())
    }

    fn pipeline(&mut self) -> Res<S::Error> {
        if self.peek() == Some(Tk::Bang) {
            self.pos += 1;
        }
        self.command()?;
        while self.peek() == Some(Tk::Pipe) {
            self.pos += 1;
            self.newlines();
            self.command()?;
        }
        Ok(())
    }

    fn command(&mut self) -> Res<S::Error> {
        match self.peek() {
            Some(Tk::Word) if self.peek2() == Some(Tk::LParen) => self.function_definition(),
            Some(Tk::LBrace | Tk::LParen | Tk::For | Tk::Case | Tk::If | Tk::While | Tk::Until) => {
                self.compound_command()?;
                while starts_redirection(self.peek()) {
                    self.redirection()?;
                }
                Ok(())
            }
            kind if kind == Some(Tk::Word)
                || kind == Some(Tk::Assignment)
                || starts_redirection(kind) =>
            {
                self.simple_command()
            }
            _ => self.error(),
        }
    }

    fn function_definition(&mut self) -> Res<S::Error> {
        let name = self.bump().text.clone();
        self.expect(Tk::LParen)?;
        self.expect(Tk::RParen)?;
        self.newlines();
        if !matches!(
            self.peek(),
            Some(Tk::LBrace | Tk::LParen | Tk::For | Tk::Case | Tk::If | Tk::While | Tk::Until)
        ) {
            return self.error();
        }
        self.compound_command()?;
        if starts_redirection(self.peek()) {
            let at = self.tokens[self.pos].at;
            return self.unsupported(at, "redirections of a function body");
        }
        self.sink.function(&name);
        Ok(())
    }

    fn simple_command(&mut self) -> Res<S::Error> {
        let mut words = Vec::new();
        let mut assignments = Vec::new();
        let mut prefixed = false;
        loop {
            let kind = self.peek();
            if kind == Some(Tk::Assignment) {
                let token = self.bump();
                let (name, value) = token.text.split_once('=').unwrap_or((&token.text, ""));
                assignments.push(Word {
                    role: WordRole::Assignment(name.to_string()),
                    text: value.to_string(),
                    at: token.at,
                });
            } else if starts_redirection(kind) {
                self.redirection()?;
            } else {
                break;
            }
            prefixed = true;
        }
        let first = if prefixed {
            is_word(self.peek()).then_some(WordRole::CmdWord)
        } else if self.peek() == Some(Tk::Word) {
            Some(WordRole::CmdName)
        } else {
            return self.error();
        };
        if let Some(role) = first {
            let token = self.bump();
            words.push(Word {
                role,
                text: token.text.clone(),
                at: token.at,
            });
            loop {
                let kind = self.peek();
                if starts_redirection(kind) {
                    self.redirection()?;
                } else if continues_command(kind) {
                    let token = self.bump();
                    words.push(Word {
                        role: WordRole::Token,
                        text: token.text.clone(),
                        at: token.at,
                    });
                } else {
                    break;
                }
            }
        }
        words.extend(assignments);
        self.sink.simple_command(words).map_err(Failure::Sink)
    }

    fn redirection(&mut self) -> Res<S::Error> {
        if self.peek() == Some(Tk::IoNumber) {
            self.pos += 1;
        }
        match self.peek() {
            Some(
                Tk::Less
                | Tk::LessAnd
                | Tk::Great
                | Tk::GreatAnd
                | Tk::DGreat
                | Tk::LessGreat
                | Tk::Clobber,
            ) => {
                self.pos += 1;
                self.expect(Tk::Word)
            }
            Some(Tk::DLess | Tk::DLessDash) => {
                self.pos += 1;
                self.expect(Tk::HereName)?;
                // The body is the token after the delimiter; an empty body
                // makes no token.
                if self.peek() != Some(Tk::Word) {
                    let at = self.tokens[self.pos - 1].at;
                    return Err(Failure::Syntax {
                        at,
                        message: "empty here-document (BitBake's parser rejects it)".into(),
                    });
                }
                self.pos += 1;
                Ok(())
            }
            _ => self.error(),
        }
    }

    fn compound_command(&mut self) -> Res<S::Error> {
        match self.peek() {
            Some(Tk::LBrace) => {
                self.pos += 1;
                self.compound_list()?;
                self.expect(Tk::RBrace)
            }
            Some(Tk::LParen) => {
                self.pos += 1;
                self.compound_list()?;
                self.expect(Tk::RParen)
            }
            Some(Tk::For) => self.for_clause(),
            Some(Tk::Case) => self.case_clause(),
            Some(Tk::If) => self.if_clause(),
            Some(Tk::While | Tk::Until) => {
                self.pos += 1;
                self.compound_list()?;
                self.do_group()
            }
            _ => self.error(),
        }
    }

    /// Commands separated by `;`, `&` or newlines, optionally preceded by
    /// newlines and followed by one separator (not `&`).
    fn compound_list(&mut self) -> Res<S::Error> {
        self.newlines();
        if !starts_and_or(self.peek()) {
            return self.error();
        }
        let start = self.tokens[self.pos].at;
        let mut ending;
        loop {
            self.and_or()?;
            ending = match self.peek() {
                Some(Tk::Semi | Tk::Amp) => {
                    let ending = self.separator_op();
                    self.newlines();
                    ending
                }
                Some(Tk::Newline) => {
                    self.newlines();
                    Ending::Newline
                }
                _ => Ending::None,
            };
            if ending == Ending::None || !starts_and_or(self.peek()) {
                break;
            }
        }
        if ending == Ending::Amp {
            return self.unsupported(start, "a command list ending with `&`");
        }
        Ok(())
    }

    fn do_group(&mut self) -> Res<S::Error> {
        self.expect(Tk::Do)?;
        self.compound_list()?;
        self.expect(Tk::Done)
    }

    fn for_clause(&mut self) -> Res<S::Error> {
        let at = self.bump().at;
        if !is_word(self.peek()) {
            return self.error();
        }
        self.pos += 1;
        self.newlines();
        if self.peek() != Some(Tk::In) {
            self.do_group()?;
            return self.unsupported(at, "`for` without `in`");
        }
        self.pos += 1;
        let mut items = Vec::new();
        while is_word(self.peek()) {
            let token = self.bump();
            items.push(Word {
                role: WordRole::Token,
                text: token.text.clone(),
                at: token.at,
            });
        }
        match self.peek() {
            Some(Tk::Semi) => {
                self.pos += 1;
                self.newlines();
            }
            Some(Tk::Newline) => self.newlines(),
            _ => return self.error(),
        }
        self.do_group()?;
        self.sink.plain_words(items).map_err(Failure::Sink)
    }

    fn case_clause(&mut self) -> Res<S::Error> {
        self.pos += 1;
        if !is_word(self.peek()) {
            return self.error();
        }
        self.pos += 1;
        self.newlines();
        self.expect(Tk::In)?;
        self.newlines();
        let mut patterns = Vec::new();
        loop {
            if self.peek() == Some(Tk::Esac) {
                self.pos += 1;
                break;
            }
            if self.peek() == Some(Tk::LParen) {
                self.pos += 1;
            }
            loop {
                if !is_word(self.peek()) {
                    return self.error();
                }
                let token = self.bump();
                patterns.push(Word {
                    role: WordRole::Token,
                    text: token.text.clone(),
                    at: token.at,
                });
                if self.peek() != Some(Tk::Pipe) {
                    break;
                }
                self.pos += 1;
            }
            self.expect(Tk::RParen)?;
            self.newlines();
            if !matches!(self.peek(), Some(Tk::DSemi | Tk::Esac)) {
                self.compound_list()?;
                self.newlines();
            }
            match self.peek() {
                Some(Tk::DSemi) => {
                    self.pos += 1;
                    self.newlines();
                }
                Some(Tk::Esac) => {
                    self.pos += 1;
                    break;
                }
                _ => return self.error(),
            }
        }
        self.sink.plain_words(patterns).map_err(Failure::Sink)
    }

    fn if_clause(&mut self) -> Res<S::Error> {
        self.pos += 1;
        self.compound_list()?;
        self.expect(Tk::Then)?;
        self.compound_list()?;
        while self.peek() == Some(Tk::Elif) {
            self.pos += 1;
            self.compound_list()?;
            self.expect(Tk::Then)?;
            self.compound_list()?;
        }
        if self.peek() == Some(Tk::Else) {
            self.pos += 1;
            self.compound_list()?;
        }
        self.expect(Tk::Fi)
    }
}
