//! Decoders over the typed AST: values, names and bodies as BitBake reads them.
//!
//! Shallow but exact: continuation lines joined (spec §2.2), a name split
//! into its base and operation keyword (spec §3.2), `addtask`'s clauses
//! (spec §12.1), function bodies as BitBake stores them (spec §11). No
//! variable lookups, no expansion, no I/O.

use super::ast::{AddTask, DefFunction, Function, HasArgs, Value, joined_text};
use super::{SyntaxKind::*, SyntaxNode};

impl Value {
    /// The text between the quotes, continuation lines joined.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for token in self
            .syntax_node()
            .children_with_tokens()
            .filter_map(|it| it.into_token())
        {
            if token.kind() == TEXT {
                text.push_str(token.text());
            }
        }
        text
    }

    fn syntax_node(&self) -> &SyntaxNode {
        rowan::ast::AstNode::syntax(self)
    }
}

/// The operation keywords of spec §3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKeyword {
    Append,
    Prepend,
    Remove,
}

impl OperationKeyword {
    pub fn text(self) -> &'static str {
        match self {
            OperationKeyword::Append => ":append",
            OperationKeyword::Prepend => ":prepend",
            OperationKeyword::Remove => ":remove",
        }
    }
}

/// A name that queues an operation: `BASE:append[:COND]` and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedOperation<'a> {
    pub base: &'a str,
    pub keyword: OperationKeyword,
    /// The `:`-separated overrides that must all be active; empty means always.
    pub condition: &'a str,
}

/// Splits `name` as BitBake's `setVar` does: the *shortest* base followed by
/// `:append`, `:prepend` or `:remove`, then optionally `:COND` where COND has
/// no upper-case letter, then the end. `None` for an ordinary name.
pub fn split_operation(name: &str) -> Option<QueuedOperation<'_>> {
    let keywords = [
        OperationKeyword::Append,
        OperationKeyword::Prepend,
        OperationKeyword::Remove,
    ];
    for (colon, _) in name.match_indices(':') {
        for keyword in keywords {
            let Some(rest) = name[colon..].strip_prefix(keyword.text()) else {
                continue;
            };
            let condition = match rest.strip_prefix(':') {
                Some(cond) if !cond.bytes().any(|b| b.is_ascii_uppercase()) => cond,
                _ if rest.is_empty() => "",
                _ => continue,
            };
            return Some(QueuedOperation {
                base: &name[..colon],
                keyword,
                condition,
            });
        }
    }
    None
}

impl AddTask {
    /// The text BitBake's pattern captured: from the task names up to a `#`.
    fn clause_text(&self) -> String {
        self.args_text()
    }

    /// The task names, before any ` before ` / ` after ` clause, unprefixed.
    pub fn task_names(&self) -> Vec<String> {
        let text = self.clause_text();
        let names = text.split(" before ").next().unwrap_or("");
        let names = names.split(" after ").next().unwrap_or("");
        names.split_whitespace().map(str::to_string).collect()
    }

    /// The `after` names. As in BitBake, repeated clauses are concatenated
    /// without a separator (spec §12.1: `after b before y after c` gives `bc`).
    pub fn after(&self) -> Vec<String> {
        clause(&self.clause_text(), " before ", " after ")
    }

    /// The `before` names, built the same way as [`AddTask::after`].
    pub fn before(&self) -> Vec<String> {
        clause(&self.clause_text(), " after ", " before ")
    }
}

fn clause(text: &str, other: &str, this: &str) -> Vec<String> {
    let mut joined = String::new();
    for piece in text.split(other) {
        let mut parts = piece.split(this);
        parts.next();
        let rest: Vec<&str> = parts.collect();
        if !rest.is_empty() {
            joined.push_str(&rest.join(" "));
        }
    }
    joined.split_whitespace().map(str::to_string).collect()
}

/// Body lines as BitBake reads them: split at universal newlines, each
/// right-stripped.
fn body_lines(body: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        lines.push(rest[..end].trim_end_matches(super::shape::is_py_space));
        let newline = match rest.as_bytes().get(end) {
            Some(b'\r') if rest.as_bytes().get(end + 1) == Some(&b'\n') => 2,
            Some(_) => 1,
            None => 0,
        };
        rest = &rest[end + newline..];
    }
    lines
}

impl Function {
    /// The value BitBake stores for the function: the body lines joined with
    /// `\n` plus a final `\n`, or empty for an empty body (spec §11.1).
    pub fn body(&self) -> String {
        let body = self.body_token();
        let lines = body
            .as_ref()
            .map(|t| body_lines(t.text()))
            .unwrap_or_default();
        if lines.is_empty() {
            return String::new();
        }
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }

    /// The number of body lines, as BitBake counts them (universal newlines).
    pub fn body_line_count(&self) -> usize {
        self.body_token().map_or(0, |t| body_lines(t.text()).len())
    }

    /// Whether the function is anonymous python (`python () {` or
    /// `python __anonymous () {`).
    pub fn is_anonymous(&self) -> bool {
        match self.name() {
            None => true,
            Some(name) => name.text() == "__anonymous",
        }
    }
}

impl DefFunction {
    /// The value BitBake stores: the `def` line and its body lines joined with
    /// `\n`, without a final newline (spec §11.3).
    pub fn text(&self) -> String {
        let node = rowan::ast::AstNode::syntax(self);
        let mut header = String::new();
        for token in node.children_with_tokens() {
            match token {
                rowan::NodeOrToken::Token(t) if t.kind() == BODY || t.kind() == NEWLINE => break,
                rowan::NodeOrToken::Token(t) if t.kind() == WHITESPACE && is_trailing(&t) => break,
                rowan::NodeOrToken::Token(t) if t.kind() != LINE_CONT => header.push_str(t.text()),
                rowan::NodeOrToken::Node(n) => header.push_str(&joined_text(&n)),
                _ => {}
            }
        }
        let mut lines = vec![header.as_str()];
        let body = self.body_token();
        if let Some(body) = &body {
            lines.extend(body_lines(body.text()));
        }
        lines.join("\n")
    }
}

/// Whether a whitespace token is the line's trailing whitespace (followed
/// only by a newline or nothing).
fn is_trailing(token: &super::SyntaxToken) -> bool {
    token
        .next_sibling_or_token()
        .is_none_or(|next| matches!(next.kind(), NEWLINE | BODY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_keywords_take_the_shortest_base() {
        let op = split_operation("A:append").unwrap();
        assert_eq!(
            (op.base, op.keyword, op.condition),
            ("A", OperationKeyword::Append, "")
        );
        let op = split_operation("A:foo:remove:a:b").unwrap();
        assert_eq!(
            (op.base, op.keyword, op.condition),
            ("A:foo", OperationKeyword::Remove, "a:b")
        );
        let op = split_operation("A:append:x:prepend").unwrap();
        assert_eq!((op.base, op.condition), ("A", "x:prepend"));
        assert!(split_operation("A:append:X").is_none());
        assert!(split_operation("A:appendix").is_none());
        assert!(split_operation("A").is_none());
        let op = split_operation("A:prepend:X:append").unwrap();
        assert_eq!(
            (op.base, op.keyword),
            ("A:prepend:X", OperationKeyword::Append)
        );
    }

    #[test]
    fn clauses_fuse_as_in_bitbake() {
        assert_eq!(
            clause("a before x after b before y after c", " before ", " after "),
            ["bc"]
        );
        assert_eq!(
            clause("a before x after b before y after c", " after ", " before "),
            ["xy"]
        );
    }

    #[test]
    fn body_lines_strip_and_split() {
        assert_eq!(body_lines("a  \r\n\tb\rc\n"), ["a", "\tb", "c"]);
    }
}
