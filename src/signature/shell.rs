//! The commands a shell function runs, as BitBake's shell code reader finds
//! them (spec §18.3), for the dependencies of task signatures (§18.2 rule 4).
//!
//! [`shell_execs`] takes the already-expanded body of a shell function and
//! returns every command name it may execute:
//!
//! * the first word of each simple command, skipping leading words that
//!   contain `=` (BitBake's test for assignments);
//! * the commands of `$(...)` and backquote substitutions, also directly
//!   inside double quotes, recursively; a command word that contains a
//!   substitution is not itself a command, and BitBake's list handling then
//!   also skips the substitutions of the word after it;
//! * for `eval`, the words after it joined by spaces and read again;
//! * not words starting with `$`, nor names of functions defined anywhere
//!   in the same code (including inside substitutions).
//!
//! Words are kept as written, quotes included (`"foo"` is found as
//! `"foo"`), as BitBake does. Substitutions inside `${...}`, in
//! redirections, in here-documents and in the word after `case` are not
//! read.
//!
//! The lexer ([`lexer`]), the word scanner ([`words`]) and the parser
//! ([`grammar`]) reproduce BitBake's own shell parser (a POSIX grammar with
//! quirks of its own), not a real shell: what it rejects is rejected here,
//! with a line and column. BitBake fails the parse of the recipe with such
//! an error, naming the function.
//!
//! **Invariant:** pure function of the text; no datastore, no I/O. So
//! results are memoised for the whole process, keyed by the SHA-256 of
//! the text: the same class functions, expanded alike, recur in every
//! recipe (BitBake's code parser cache does the same).

mod grammar;
mod lexer;
mod words;

use std::collections::BTreeSet;
use std::sync::{LazyLock, Mutex};

use grammar::{Failure, Sink, Word, WordRole};
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

/// Shell code BitBake's parser cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ShellParseError {
    /// 1-based line in the code given to [`shell_execs`].
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    pub message: String,
}

type Memo = FxHashMap<[u8; 32], Result<BTreeSet<String>, ShellParseError>>;

static MEMO: LazyLock<Mutex<Memo>> = LazyLock::new(|| Mutex::new(Memo::default()));

/// The commands `code` executes (see the module documentation).
pub fn shell_execs(code: &str) -> Result<BTreeSet<String>, ShellParseError> {
    let key: [u8; 32] = Sha256::digest(code.as_bytes()).into();
    // A panic elsewhere while holding the lock leaves a valid map.
    let memo = || MEMO.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(found) = memo().get(&key) {
        return found.clone();
    }
    // Not locked while reading: other threads read other code meanwhile.
    let result = read_execs(code);
    memo().insert(key, result.clone());
    result
}

fn read_execs(code: &str) -> Result<BTreeSet<String>, ShellParseError> {
    let mut reader = CommandReader::default();
    reader.read(code).map_err(|e| e.locate(code))?;
    let CommandReader {
        commands,
        functions,
    } = reader;
    Ok(commands
        .into_iter()
        .filter(|c| !functions.contains(c))
        .collect())
}

/// An error at a character index of the code being read; nested reads
/// (substitutions, `eval`) are reported at the word that holds them.
#[derive(Debug)]
struct LocatedError {
    at: usize,
    message: String,
}

impl LocatedError {
    fn locate(self, code: &str) -> ShellParseError {
        let mut line = 1;
        let mut column = 1;
        for c in code.chars().take(self.at) {
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        ShellParseError {
            line,
            column,
            message: self.message,
        }
    }
}

#[derive(Default)]
struct CommandReader {
    commands: BTreeSet<String>,
    functions: BTreeSet<String>,
}

impl CommandReader {
    fn read(&mut self, code: &str) -> Result<(), LocatedError> {
        let chars: Vec<char> = code.chars().collect();
        let tokens = lexer::tokenize(&chars).map_err(|e| LocatedError {
            at: e.at,
            message: e.message,
        })?;
        grammar::parse(&tokens, chars.len(), self).map_err(|failure| match failure {
            Failure::Syntax { at, message } => LocatedError { at, message },
            Failure::Sink(error) => error,
        })
    }

    /// Reads code nested in the word at `at`; its errors are reported there.
    fn read_nested(&mut self, code: &str, at: usize, what: &str) -> Result<(), LocatedError> {
        self.read(code).map_err(|inner| {
            let located = inner.locate(code);
            LocatedError {
                at,
                message: format!(
                    "in {what} `{}`: {} (line {}, column {} there)",
                    abbreviate(code),
                    located.message,
                    located.line,
                    located.column
                ),
            }
        })
    }

    /// BitBake's reading of one command's words: substitutions first (a
    /// command word holding one is dropped from the list), then the first
    /// word that is not an assignment.
    fn words(&mut self, mut words: Vec<Word>) -> Result<(), LocatedError> {
        // Indexed on purpose: removing the current word shifts the next one
        // into its place, and it is then skipped, as in BitBake.
        let mut index = 0;
        while index < words.len() {
            let word = words[index].clone();
            let nodes = words::top_level_nodes(&word.text).map_err(|e| LocatedError {
                at: word.at,
                message: e.message,
            })?;
            for node in &nodes {
                let mut candidates = vec![node];
                if node.open == words::Open::DoubleQuote {
                    candidates.extend(node.child_nodes());
                }
                for candidate in candidates {
                    if !matches!(
                        candidate.open,
                        words::Open::Backquote | words::Open::Command
                    ) {
                        continue;
                    }
                    let inner = candidate.inner_text();
                    self.read_nested(&inner, word.at, "the command substitution")?;
                    if matches!(word.role.tag(), "cmd_name" | "cmd_word")
                        && let Some(found) = words.iter().position(|w| *w == word)
                    {
                        words.remove(found);
                    }
                }
            }
            index += 1;
        }

        let mut after_assignment = false;
        for word in &words {
            let tag = word.role.tag();
            if !(matches!(tag, "cmd_name" | "cmd_word") || (after_assignment && tag == "TOKEN")) {
                continue;
            }
            if word.text.contains('=') {
                after_assignment = true;
                continue;
            }
            if word.text.starts_with('$') {
                // Not a name BitBake can follow.
            } else if word.text == "eval" {
                let rest: Vec<&str> = words.iter().skip(1).map(|w| w.text.as_str()).collect();
                self.read_nested(&rest.join(" "), word.at, "the eval'd code")?;
            } else {
                self.commands.insert(word.text.clone());
            }
            break;
        }
        Ok(())
    }
}

fn abbreviate(code: &str) -> String {
    let one_line: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 40 {
        format!("{}...", one_line.chars().take(40).collect::<String>())
    } else {
        one_line
    }
}

impl Sink for CommandReader {
    type Error = LocatedError;

    fn simple_command(&mut self, words: Vec<Word>) -> Result<(), LocatedError> {
        self.words(words)
    }

    fn function(&mut self, name: &str) {
        self.functions.insert(name.to_string());
    }

    fn plain_words(&mut self, words: Vec<Word>) -> Result<(), LocatedError> {
        debug_assert!(words.iter().all(|w| w.role == WordRole::Token));
        self.words(words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execs(code: &str) -> Vec<String> {
        shell_execs(code)
            .unwrap_or_else(|e| panic!("{code:?}: {e}"))
            .into_iter()
            .collect()
    }

    #[test]
    fn first_words_and_substitutions() {
        assert_eq!(execs("FOO=bar cmd arg\n"), ["cmd"]);
        assert_eq!(execs("echo $(a) `b` \"$(c)\"\n"), ["a", "b", "c", "echo"]);
        assert_eq!(execs("x=$(foo) bar\n"), ["foo"]);
        assert_eq!(execs("x=$(a) $(b) c\n"), ["a"]);
        assert_eq!(execs("eval \"foo bar\"\n"), ["\"foo bar\""]);
        assert_eq!(execs("helper() { inner; }\nhelper\n"), ["inner"]);
        assert_eq!(execs("$CMD arg\n"), Vec::<String>::new());
    }

    #[test]
    fn errors_have_positions() {
        let error = shell_execs("echo ok\necho $((1 + 2))\n").unwrap_err();
        assert_eq!((error.line, error.column), (2, 6));
        assert!(error.message.contains("arithmetic"), "{error}");
        let error = shell_execs("echo $(a; })\n").unwrap_err();
        assert_eq!((error.line, error.column), (1, 6));
        assert!(error.message.contains("command substitution"), "{error}");
    }
}
