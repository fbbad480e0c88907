//! Quoted and expansion sequences inside one shell word, as BitBake's shell
//! parser delimits them.
//!
//! A sequence starts at one of `\ ' " ` $` and is read recursively into a
//! [`Node`]: its opening delimiter, its parts (text and nested nodes) and
//! its closing delimiter. The rules are BitBake's, including the ones a real
//! shell does not share (spec §18.3):
//!
//! * `$(` ends at the first unquoted `)`: parentheses inside are not
//!   counted;
//! * `$((` is an error (arithmetic expansion is not supported);
//! * quotes and backquotes nest inside backquotes;
//! * a backslash-newline disappears everywhere except inside single quotes;
//! * a `$` that is the last character of the text is an error.
//!
//! **Invariant:** [`Node::text`] of a node read from `chars[a..b]` is that
//! text with its backslash-newlines removed, and nothing else changed.

/// Characters that stay special after a backslash inside a delimiter
/// (BitBake keeps the backslash either way; this only changes whether the
/// pair is a node or plain text, which matters when unquoting).
fn escapable_after(parent: Open, c: char) -> bool {
    match parent {
        Open::Backquote => matches!(c, '$' | '\\' | '`'),
        Open::DoubleQuote => matches!(c, '$' | '\\' | '`' | '"'),
        _ => true,
    }
}

/// The opening delimiter of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Open {
    /// Plain text that came out of a delimiter (a backslash-newline, a
    /// backslash before a character that is not escapable there, a lone
    /// `$`); folded into the enclosing text.
    Plain,
    SingleQuote,
    DoubleQuote,
    Backquote,
    /// `\c` with `c` escapable.
    Backslash,
    /// `$name` or a special parameter such as `$@`.
    Dollar,
    /// `$(`.
    Command,
    /// `${`.
    Parameter,
}

impl Open {
    fn opening(self) -> &'static str {
        match self {
            Open::Plain => "",
            Open::SingleQuote => "'",
            Open::DoubleQuote => "\"",
            Open::Backquote => "`",
            Open::Backslash => "\\",
            Open::Dollar => "$",
            Open::Command => "$(",
            Open::Parameter => "${",
        }
    }

    fn closing(self) -> &'static str {
        match self {
            Open::SingleQuote => "'",
            Open::DoubleQuote => "\"",
            Open::Backquote => "`",
            Open::Command => ")",
            Open::Parameter => "}",
            Open::Plain | Open::Backslash | Open::Dollar => "",
        }
    }

    /// Whether unquoting drops this node's delimiters.
    fn is_quote(self) -> bool {
        matches!(
            self,
            Open::Plain | Open::SingleQuote | Open::DoubleQuote | Open::Backslash
        )
    }
}

/// Text or a nested node.
#[derive(Debug, Clone)]
pub(super) enum Part {
    Text(String),
    Node(Node),
}

/// One delimited sequence.
#[derive(Debug, Clone)]
pub(super) struct Node {
    pub(super) open: Open,
    pub(super) parts: Vec<Part>,
}

impl Node {
    /// The text between the delimiters.
    pub(super) fn inner_text(&self) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Node(n) => n.write_text(&mut out),
            }
        }
        out
    }

    fn write_text(&self, out: &mut String) {
        out.push_str(self.open.opening());
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Node(n) => n.write_text(out),
            }
        }
        out.push_str(self.open.closing());
    }

    /// The node as text, delimiters included.
    pub(super) fn text(&self) -> String {
        let mut out = String::new();
        self.write_text(&mut out);
        out
    }

    /// The nested nodes that are not folded into text.
    pub(super) fn child_nodes(&self) -> impl Iterator<Item = &Node> {
        self.parts.iter().filter_map(|p| match p {
            Part::Node(n) if n.open != Open::Plain => Some(n),
            _ => None,
        })
    }

    fn write_unquoted(&self, out: &mut String) {
        if !self.open.is_quote() {
            out.push_str(self.open.opening());
        }
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Node(n) => n.write_unquoted(out),
            }
        }
        if !self.open.is_quote() {
            out.push_str(self.open.closing());
        }
    }
}

/// Why a sequence could not be read; `at` is the index of the character
/// where the failing sequence starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WordError {
    pub(super) at: usize,
    pub(super) message: String,
}

fn unterminated(open: Open, at: usize) -> WordError {
    let what = match open {
        Open::SingleQuote => "single quote",
        Open::DoubleQuote => "double quote",
        Open::Backquote => "backquote",
        Open::Command => "command substitution `$(`",
        Open::Parameter => "parameter expansion `${`",
        Open::Backslash | Open::Plain => "backslash at the end of the code",
        Open::Dollar => "`$` at the end of the code",
    };
    let message = match open {
        Open::Backslash | Open::Plain | Open::Dollar => what.to_string(),
        _ => format!("unterminated {what}"),
    };
    WordError { at, message }
}

/// Reads the sequence starting at `chars[start]` (one of `\ ' " ` $`).
/// Returns the node and the index just past it.
pub(super) fn read_sequence(chars: &[char], start: usize) -> Result<(Node, usize), WordError> {
    read_nested(chars, start, None)
}

fn read_nested(
    chars: &[char],
    start: usize,
    parent: Option<Open>,
) -> Result<(Node, usize), WordError> {
    let first = chars[start];
    match first {
        '\'' => {
            let Some(end) = chars[start + 1..].iter().position(|&c| c == '\'') else {
                return Err(unterminated(Open::SingleQuote, start));
            };
            let text: String = chars[start + 1..start + 1 + end].iter().collect();
            let node = Node {
                open: Open::SingleQuote,
                parts: vec![Part::Text(text)],
            };
            Ok((node, start + end + 2))
        }
        '\\' => {
            let Some(&next) = chars.get(start + 1) else {
                return Err(unterminated(Open::Backslash, start));
            };
            let node = if next == '\n' {
                Node {
                    open: Open::Plain,
                    parts: Vec::new(),
                }
            } else if parent.is_none_or(|p| escapable_after(p, next)) {
                Node {
                    open: Open::Backslash,
                    parts: vec![Part::Text(next.to_string())],
                }
            } else {
                Node {
                    open: Open::Plain,
                    parts: vec![Part::Text(format!("\\{next}"))],
                }
            };
            Ok((node, start + 2))
        }
        '"' => read_delimited(chars, start, start + 1, Open::DoubleQuote),
        '`' => read_delimited(chars, start, start + 1, Open::Backquote),
        '$' => {
            let Some(&next) = chars.get(start + 1) else {
                return Err(unterminated(Open::Dollar, start));
            };
            match next {
                '(' => match chars.get(start + 2) {
                    None => Err(unterminated(Open::Command, start)),
                    Some('(') => Err(WordError {
                        at: start,
                        message:
                            "arithmetic expansion `$((` is not supported by BitBake's shell parser"
                                .into(),
                    }),
                    Some(_) => read_delimited(chars, start, start + 2, Open::Command),
                },
                '{' => read_delimited(chars, start, start + 2, Open::Parameter),
                '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0' => Ok((
                    Node {
                        open: Open::Dollar,
                        parts: vec![Part::Text(next.to_string())],
                    },
                    start + 2,
                )),
                _ => {
                    let len = chars[start + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                        .count();
                    if len == 0 {
                        let node = Node {
                            open: Open::Plain,
                            parts: vec![Part::Text("$".into())],
                        };
                        Ok((node, start + 1))
                    } else {
                        let name: String = chars[start + 1..start + 1 + len].iter().collect();
                        let node = Node {
                            open: Open::Dollar,
                            parts: vec![Part::Text(name)],
                        };
                        Ok((node, start + 1 + len))
                    }
                }
            }
        }
        _ => Err(WordError {
            at: start,
            message: format!("`{first}` does not start a quoted sequence"),
        }),
    }
}

/// Reads the body of a delimited node from `from` up to its closing
/// delimiter, recursing into nested sequences.
fn read_delimited(
    chars: &[char],
    start: usize,
    from: usize,
    open: Open,
) -> Result<(Node, usize), WordError> {
    let specials: &[char] = match open {
        Open::DoubleQuote => &['$', '\\', '`', '"'],
        Open::Backquote => &['$', '\\', '`', '"', '\''],
        Open::Command => &['$', '\\', '`', '"', '\'', ')'],
        _ => &['$', '\\', '`', '"', '\'', '}'],
    };
    let close = match open {
        Open::DoubleQuote => '"',
        Open::Backquote => '`',
        Open::Command => ')',
        _ => '}',
    };
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut i = from;
    loop {
        let Some(offset) = chars[i..].iter().position(|c| specials.contains(c)) else {
            return Err(unterminated(open, start));
        };
        text.extend(&chars[i..i + offset]);
        i += offset;
        if chars[i] == close {
            parts.push(Part::Text(std::mem::take(&mut text)));
            return Ok((Node { open, parts }, i + 1));
        }
        let (node, end) = read_nested(chars, i, Some(open))?;
        parts.push(Part::Text(std::mem::take(&mut text)));
        parts.push(Part::Node(node));
        i = end;
    }
}

/// A whole word read as BitBake re-reads it: the top-level nodes (text
/// between them dropped, folded nodes skipped).
pub(super) fn top_level_nodes(word: &str) -> Result<Vec<Node>, WordError> {
    let chars: Vec<char> = word.chars().collect();
    let mut nodes = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if matches!(chars[i], '\\' | '$' | '`' | '\'' | '"') {
            let (node, end) = read_sequence(&chars, i)?;
            if node.open != Open::Plain {
                nodes.push(node);
            }
            i = end;
        } else {
            i += 1;
        }
    }
    Ok(nodes)
}

/// A word with its quotes removed (here-document delimiters): quote
/// delimiters and escaping backslashes go, expansions stay as written.
pub(super) fn unquote(word: &str) -> Result<String, WordError> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if matches!(chars[i], '\\' | '$' | '`' | '\'' | '"') {
            let (node, end) = read_sequence(&chars, i)?;
            node.write_unquoted(&mut out);
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<(String, usize), WordError> {
        let chars: Vec<char> = text.chars().collect();
        read_sequence(&chars, 0).map(|(node, end)| (node.text(), end))
    }

    #[test]
    fn sequences_end_where_bitbake_ends_them() {
        assert_eq!(read("'a b' c").unwrap(), ("'a b'".into(), 5));
        assert_eq!(read("\"a $(b \"c\") d\" e").unwrap().1, 14);
        // `$(` closes at the first `)`, nesting or not.
        assert_eq!(read("$(a (b)) c").unwrap(), ("$(a (b)".into(), 7));
        assert_eq!(read("`a \"`b`\"` c").unwrap().1, 9);
        assert_eq!(read("${a:-'}'} x").unwrap().1, 9);
        assert_eq!(read("$name+x").unwrap(), ("$name".into(), 5));
        assert_eq!(read("$0abc").unwrap(), ("$0".into(), 2));
        assert_eq!(read("$ x").unwrap(), ("$".into(), 1));
    }

    #[test]
    fn backslash_newline_disappears_outside_single_quotes() {
        assert_eq!(read("\"a\\\nb\"").unwrap().0, "\"ab\"");
        assert_eq!(read("'a\\\nb'").unwrap().0, "'a\\\nb'");
        assert_eq!(read("\\\n").unwrap().0, "");
    }

    #[test]
    fn unterminated_and_unsupported_sequences_fail() {
        for text in ["'a", "\"a", "`a", "$(a", "${a", "\\", "$", "$("] {
            assert!(read(text).is_err(), "{text:?} should fail");
        }
        let error = read("$((1))").unwrap_err();
        assert!(error.message.contains("arithmetic"), "{error:?}");
    }

    #[test]
    fn unquoting_keeps_expansions() {
        assert_eq!(unquote("'E O'").unwrap(), "E O");
        assert_eq!(unquote("\\EOF").unwrap(), "EOF");
        assert_eq!(unquote("\"a\\x\"").unwrap(), "a\\x");
        assert_eq!(unquote("a$(\"b\")").unwrap(), "a$(b)");
    }
}
