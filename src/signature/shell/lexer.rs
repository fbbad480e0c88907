//! Shell code to tokens, as BitBake's shell lexer splits it.
//!
//! A word is everything up to a blank, a newline or an operator character,
//! with quoted and expansion sequences ([`super::words`]) taken whole.
//! BitBake's classification differs from a real shell's in ways that decide
//! which commands are found and which code is rejected, and we keep them
//! (spec §18.3):
//!
//! * reserved words (`if`, `then`, `{`, `}`, `!`, `|`, ...) are recognised
//!   in every position, not only where a command starts; `in` only as the
//!   third token after `for` or `case`;
//! * a word containing `=` is an assignment only when it ends the input;
//!   anywhere else it is an ordinary word (the command reader skips such
//!   words itself);
//! * digits directly before `<` or `>` are an I/O number;
//! * a comment that runs to the end of the input without a newline is an
//!   error, unless it is empty;
//! * here-document bodies are read at the next newline, up to a line equal
//!   to the unquoted delimiter (or the end of the input); a here-document
//!   operator whose newline ends the input is an error.
//!
//! **Invariant:** every token records the index of its first character in
//! the input, so errors point at the source.

use super::words::{WordError, read_sequence, unquote};

/// Token kinds: words, newlines, operators and reserved words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tk {
    Word,
    Newline,
    IoNumber,
    Assignment,
    HereName,
    AndIf,
    OrIf,
    DSemi,
    DLess,
    DGreat,
    LessAnd,
    GreatAnd,
    LessGreat,
    DLessDash,
    Clobber,
    Amp,
    Semi,
    Less,
    Great,
    LParen,
    RParen,
    If,
    Then,
    Else,
    Elif,
    Fi,
    Do,
    Done,
    Case,
    Esac,
    While,
    Until,
    For,
    LBrace,
    RBrace,
    Bang,
    In,
    Pipe,
    /// Raw kinds while a token is being built.
    Operator,
    Comment,
}

/// One token: kind, text and the index of its first character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) kind: Tk,
    pub(super) text: String,
    pub(super) at: usize,
}

/// A lexing failure at a character index.
pub(super) type LexError = WordError;

fn operator(text: &str) -> Option<Tk> {
    Some(match text {
        "&&" => Tk::AndIf,
        "||" => Tk::OrIf,
        ";;" => Tk::DSemi,
        "<<" => Tk::DLess,
        ">>" => Tk::DGreat,
        "<&" => Tk::LessAnd,
        ">&" => Tk::GreatAnd,
        "<>" => Tk::LessGreat,
        "<<-" => Tk::DLessDash,
        ">|" => Tk::Clobber,
        "&" => Tk::Amp,
        ";" => Tk::Semi,
        "<" => Tk::Less,
        ">" => Tk::Great,
        "(" => Tk::LParen,
        ")" => Tk::RParen,
        _ => return None,
    })
}

/// Whether `text` is a non-empty prefix of an operator (`|` is one,
/// because of `||`).
fn is_operator_prefix(text: &str) -> bool {
    matches!(
        text,
        "&" | "&&"
            | "|"
            | "||"
            | ";"
            | ";;"
            | "<"
            | "<<"
            | "<<-"
            | "<&"
            | "<>"
            | ">"
            | ">>"
            | ">&"
            | ">|"
            | "("
            | ")"
    )
}

fn reserved(text: &str) -> Option<Tk> {
    Some(match text {
        "if" => Tk::If,
        "then" => Tk::Then,
        "else" => Tk::Else,
        "elif" => Tk::Elif,
        "fi" => Tk::Fi,
        "do" => Tk::Do,
        "done" => Tk::Done,
        "case" => Tk::Case,
        "esac" => Tk::Esac,
        "while" => Tk::While,
        "until" => Tk::Until,
        "for" => Tk::For,
        "{" => Tk::LBrace,
        "}" => Tk::RBrace,
        "!" => Tk::Bang,
        "in" => Tk::In,
        "|" => Tk::Pipe,
        _ => return None,
    })
}

/// BitBake matches names and digits with `^...+$`, whose `$` also accepts
/// one final newline.
fn without_final_newline(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

fn is_name(text: &str) -> bool {
    let text = without_final_newline(text);
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_digits(text: &str) -> bool {
    let text = without_final_newline(text);
    !text.is_empty() && text.chars().all(|c| c.is_ascii_digit())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    Operator,
    Quoted,
    Comment,
    HereDocument,
}

/// A here-document being set up: its operator, then its delimiter, then
/// the tokens that follow on the operator's line (held back until the body
/// has been read, since the body's token comes first).
#[derive(Debug, Default)]
struct HereDocument {
    operator: Option<String>,
    delimiter: Option<String>,
    held: Vec<(String, Tk, String, usize)>,
}

struct Lexer<'a> {
    chars: &'a [char],
    pos: usize,
    text: String,
    kind: Tk,
    start: usize,
    state: State,
    here: HereDocument,
    /// Tokens seen since the last `for` or `case`, while fewer than three.
    for_count: Option<u8>,
    out: Vec<Token>,
}

/// Splits `chars` into tokens.
pub(super) fn tokenize(chars: &[char]) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer {
        chars,
        pos: 0,
        text: String::new(),
        kind: Tk::Word,
        start: 0,
        state: State::Normal,
        here: HereDocument::default(),
        for_count: None,
        out: Vec::new(),
    };
    lexer.run()?;
    Ok(lexer.out)
}

impl Lexer<'_> {
    fn run(&mut self) -> Result<(), LexError> {
        loop {
            if self.pos >= self.chars.len() {
                match self.state {
                    State::Normal | State::Comment => {
                        self.push("")?;
                        break;
                    }
                    State::HereDocument => {
                        return Err(LexError {
                            at: self.chars.len(),
                            message:
                                "the code ends right after the line of a here-document operator"
                                    .into(),
                        });
                    }
                    State::Operator | State::Quoted => {}
                }
            }
            match self.state {
                State::Normal => self.normal()?,
                State::Operator => self.operator()?,
                State::Quoted => self.quoted()?,
                State::Comment => self.comment()?,
                State::HereDocument => self.here_document()?,
            }
        }
        if self.here.operator.is_some() {
            return Err(LexError {
                at: self.chars.len(),
                message: "here-document operator without a delimiter line".into(),
            });
        }
        Ok(())
    }

    fn begin(&mut self) {
        if self.text.is_empty() {
            self.start = self.pos;
        }
    }

    fn normal(&mut self) -> Result<(), LexError> {
        let c = self.chars[self.pos];
        match c {
            '\n' => {
                self.push("\n")?;
                self.text.push('\n');
                self.kind = Tk::Newline;
                self.start = self.pos;
                self.push("")?;
                self.pos += 1;
            }
            '\\' | '\'' | '"' | '`' | '$' => self.state = State::Quoted,
            '&' | '|' | ';' | '<' | '>' | '(' | ')' => {
                self.push(&c.to_string())?;
                self.kind = Tk::Operator;
                self.begin();
                self.text.push(c);
                self.pos += 1;
                self.state = State::Operator;
            }
            ' ' | '\t' => {
                self.push(&c.to_string())?;
                self.pos += 1;
            }
            '#' if self.text.is_empty() => {
                self.state = State::Comment;
                self.kind = Tk::Comment;
                self.start = self.pos;
                self.pos += 1;
            }
            _ => {
                self.begin();
                self.text.push(c);
                self.pos += 1;
            }
        }
        Ok(())
    }

    fn operator(&mut self) -> Result<(), LexError> {
        loop {
            let next = self.chars.get(self.pos).copied();
            if let Some(c) = next {
                let mut longer = self.text.clone();
                longer.push(c);
                if is_operator_prefix(&longer) {
                    self.text = longer;
                    self.pos += 1;
                    continue;
                }
            }
            let delim = next.map(String::from).unwrap_or_default();
            self.push(&delim)?;
            self.state = State::Normal;
            return Ok(());
        }
    }

    fn comment(&mut self) -> Result<(), LexError> {
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                return Err(LexError {
                    at: self.start,
                    message: "a comment ends the code without a newline".into(),
                });
            };
            if c == '\n' {
                self.state = State::Normal;
                return Ok(());
            }
            self.text.push(c);
            self.pos += 1;
        }
    }

    fn quoted(&mut self) -> Result<(), LexError> {
        self.begin();
        let (node, end) = read_sequence(self.chars, self.pos)?;
        self.text.push_str(&node.text());
        self.pos = end;
        self.state = State::Normal;
        Ok(())
    }

    fn here_document(&mut self) -> Result<(), LexError> {
        let here = std::mem::take(&mut self.here);
        let operator = here.operator.unwrap_or_default();
        let delimiter = here.delimiter.unwrap_or_default();
        if delimiter.is_empty() {
            return Err(LexError {
                at: self.pos,
                message: "empty here-document delimiter".into(),
            });
        }
        let body_start = self.pos;
        let mut body = String::new();
        loop {
            // The line ends at the first newline not escaped by a backslash.
            let mut escaped = false;
            let mut newline = None;
            for (i, &c) in self.chars[self.pos..].iter().enumerate() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '\n' {
                    newline = Some(self.pos + i);
                    break;
                }
            }
            let end = newline.unwrap_or(self.chars.len());
            let mut line: String = self.chars[self.pos..end].iter().collect();
            self.pos = newline.map_or(end, |n| n + 1);
            if operator == "<<-" {
                line = line.trim_start_matches('\t').to_string();
            }
            if line == delimiter {
                break;
            }
            body.push_str(&line);
            if newline.is_some() {
                body.push('\n');
            } else {
                break;
            }
        }
        self.state = State::Normal;
        // The body comes first, then the tokens held back from the
        // operator's line, each classified only now.
        let mut pending = vec![(body, Tk::Word, delimiter, body_start)];
        pending.extend(here.held);
        for (text, kind, delim, at) in pending {
            self.text = text;
            self.kind = kind;
            self.start = at;
            self.push(&delim)?;
        }
        Ok(())
    }

    /// Ends the current token; `delim` is the character that ended it
    /// (empty at the end of the input).
    fn push(&mut self, delim: &str) -> Result<(), LexError> {
        if self.text.is_empty() {
            return Ok(());
        }
        if self.here.operator.is_some() {
            if self.here.delimiter.is_none() {
                if self.kind != Tk::Word {
                    return Err(LexError {
                        at: self.start,
                        message: format!(
                            "expected a here-document delimiter, found `{}`",
                            self.text.trim_end()
                        ),
                    });
                }
                self.here.delimiter = Some(unquote(&self.text)?);
                self.kind = Tk::HereName;
            } else {
                if self.kind == Tk::Newline {
                    self.state = State::HereDocument;
                }
                let text = std::mem::take(&mut self.text);
                self.here
                    .held
                    .push((text, self.kind, delim.to_string(), self.start));
                self.kind = Tk::Word;
                return Ok(());
            }
        }
        if self.kind == Tk::Operator {
            match operator(&self.text) {
                None => self.kind = Tk::Word,
                Some(kind) => {
                    self.kind = kind;
                    if matches!(kind, Tk::DLess | Tk::DLessDash) {
                        self.here.operator = Some(self.text.clone());
                    }
                }
            }
        }
        match self.kind {
            Tk::Word => {
                if self.text.contains('=') && delim.is_empty() {
                    let name = &self.text[..self.text.find('=').unwrap_or(0)];
                    if !self.text.starts_with('=') && is_name(name) {
                        self.kind = Tk::Assignment;
                    }
                } else if let Some(word) = reserved(&self.text) {
                    if word != Tk::In || self.for_count == Some(2) {
                        self.kind = word;
                        if matches!(word, Tk::For | Tk::Case) {
                            self.for_count = Some(0);
                        }
                    }
                } else if is_digits(&self.text) && (delim == "<" || delim == ">") {
                    self.kind = Tk::IoNumber;
                }
            }
            Tk::Comment => {
                self.text.clear();
                self.kind = Tk::Word;
                return Ok(());
            }
            _ => {}
        }
        if let Some(count) = self.for_count {
            self.for_count = (count + 1 < 3).then_some(count + 1);
        }
        self.out.push(Token {
            kind: self.kind,
            text: std::mem::take(&mut self.text),
            at: self.start,
        });
        self.kind = Tk::Word;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(code: &str) -> Vec<(Tk, String)> {
        let chars: Vec<char> = code.chars().collect();
        tokenize(&chars)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    #[test]
    fn assignments_only_at_the_end_of_the_input() {
        assert_eq!(kinds("A=1 b")[0], (Tk::Word, "A=1".into()));
        assert_eq!(kinds("b A=1")[1], (Tk::Assignment, "A=1".into()));
        assert_eq!(kinds("b =1")[1], (Tk::Word, "=1".into()));
    }

    #[test]
    fn reserved_words_everywhere_and_in_third_after_for() {
        assert_eq!(kinds("echo done")[1].0, Tk::Done);
        assert_eq!(kinds("echo in")[1].0, Tk::Word);
        assert_eq!(kinds("for x in y")[2].0, Tk::In);
        assert_eq!(kinds("for x\nin y")[3].0, Tk::Word);
    }

    #[test]
    fn io_numbers_operators_and_comments() {
        let tokens = kinds("a 2>&1 >|b;;c # note\n");
        let found: Vec<Tk> = tokens.iter().map(|t| t.0).collect();
        assert_eq!(
            found,
            [
                Tk::Word,
                Tk::IoNumber,
                Tk::GreatAnd,
                Tk::Word,
                Tk::Clobber,
                Tk::Word,
                Tk::DSemi,
                Tk::Word,
                Tk::Newline
            ]
        );
        assert_eq!(kinds("a|b")[1].0, Tk::Pipe);
        assert_eq!(kinds("a#b")[0].1, "a#b");
    }

    #[test]
    fn here_document_body_comes_before_the_rest_of_its_line() {
        let tokens = kinds("cat <<'E O' ; x\nbody\nE O\n");
        let found: Vec<(Tk, &str)> = tokens.iter().map(|t| (t.0, t.1.as_str())).collect();
        assert_eq!(
            found,
            [
                (Tk::Word, "cat"),
                (Tk::DLess, "<<"),
                (Tk::HereName, "'E O'"),
                (Tk::Word, "body\n"),
                (Tk::Semi, ";"),
                (Tk::Word, "x"),
                (Tk::Newline, "\n"),
            ]
        );
    }

    #[test]
    fn lexing_errors() {
        for code in ["a # c", "cat <<E\n", "cat <<E", "a 'b", "cat << ;\n"] {
            let chars: Vec<char> = code.chars().collect();
            assert!(tokenize(&chars).is_err(), "{code:?} should fail");
        }
        assert!(tokenize(&['a', ' ', '#']).is_ok());
    }
}
