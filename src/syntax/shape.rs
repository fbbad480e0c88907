//! Statement shapes: BitBake's line recognisers, one function per form.
//!
//! BitBake recognises a statement by matching the joined, right-stripped
//! logical line against a list of regular expressions, in a fixed order (spec
//! §2.4). Each function here decides exactly what one of those expressions
//! decides, including the parts that are easy to get wrong (the shortest
//! variable name, operators tried in order, the exactly-three-quotes rule,
//! `addtask`'s backtracking on `#`), and returns the byte ranges of the parts
//! so that the parser can build a tree over them. Ranges are relative to the
//! logical line. No allocation, no tree, no errors: a shape matches or not.
//!
//! Whitespace is Python's `\s` (`str.isspace`), identifiers are Python's
//! `\w`, because those are what BitBake's patterns use.

use std::ops::Range;

/// Python's `str.isspace`, which is what `\s` and `str.strip` use.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `\w` for `str` patterns (close enough: Unicode alphanumerics and `_`).
pub(crate) fn is_py_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Characters of a variable name in an assignment (spec §2.5).
pub(crate) fn is_var_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_+.${}/~:".contains(&b)
}

/// Characters of a name in `export NAME` and `unset NAME`: no `:`.
fn is_plain_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_+.${}/~".contains(&b)
}

fn is_flag_first_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_+.".contains(&b)
}

fn is_flag_byte(b: u8) -> bool {
    is_flag_first_byte(b) || b == b'@' || b == b'/'
}

fn is_unset_flag_byte(b: u8) -> bool {
    is_flag_first_byte(b) || b == b'@'
}

/// The end of the run of Python whitespace starting at `at`.
pub(crate) fn skip_space(s: &str, at: usize) -> usize {
    s[at..]
        .char_indices()
        .find(|&(_, c)| !is_py_space(c))
        .map_or(s.len(), |(i, _)| at + i)
}

/// The end of the run of bytes satisfying `pred` starting at `at`.
fn skip_bytes(s: &str, at: usize, pred: impl Fn(u8) -> bool) -> usize {
    s.as_bytes()[at..]
        .iter()
        .position(|&b| !pred(b))
        .map_or(s.len(), |i| at + i)
}

/// `keyword` followed by at least one whitespace character: the end of the
/// whitespace run, or `None`.
pub(crate) fn keyword_space(s: &str, keyword: &str) -> Option<usize> {
    let rest = s.strip_prefix(keyword)?;
    let first = rest.chars().next()?;
    is_py_space(first).then(|| skip_space(s, keyword.len()))
}

/// The eight assignment operators, in the order BitBake tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignOp {
    /// `:=`, immediate expansion.
    Immediate,
    /// `??=`, weak default.
    WeakDefault,
    /// `?=`, default.
    Default,
    /// `+=`, append with a space.
    Append,
    /// `=+`, prepend with a space.
    Prepend,
    /// `=.`, prepend without a space.
    PrependNoSpace,
    /// `.=`, append without a space.
    AppendNoSpace,
    /// `=`, plain assignment.
    Assign,
}

impl AssignOp {
    pub const ALL: [AssignOp; 8] = [
        AssignOp::Immediate,
        AssignOp::WeakDefault,
        AssignOp::Default,
        AssignOp::Append,
        AssignOp::Prepend,
        AssignOp::PrependNoSpace,
        AssignOp::AppendNoSpace,
        AssignOp::Assign,
    ];

    pub fn text(self) -> &'static str {
        match self {
            AssignOp::Immediate => ":=",
            AssignOp::WeakDefault => "??=",
            AssignOp::Default => "?=",
            AssignOp::Append => "+=",
            AssignOp::Prepend => "=+",
            AssignOp::PrependNoSpace => "=.",
            AssignOp::AppendNoSpace => ".=",
            AssignOp::Assign => "=",
        }
    }
}

/// `[`, a flag name, `]`: the offsets of the brackets and the name's range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FlagShape {
    pub open: usize,
    pub name: Range<usize>,
    pub close: usize,
}

/// The parts of an assignment line (spec §2.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssignmentShape {
    /// `export` and the whitespace after it.
    pub export: Option<(Range<usize>, Range<usize>)>,
    /// The variable name; may be empty, which BitBake reports as an error.
    pub name: Range<usize>,
    pub flag: Option<FlagShape>,
    pub space_before_op: Range<usize>,
    pub op: (Range<usize>, AssignOp),
    pub space_after_op: Range<usize>,
    /// The opening quote's offset; the closing quote is the line's last byte.
    pub open_quote: usize,
}

/// How strictly to apply the exactly-three-quotes rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuoteRule {
    /// As BitBake: three quote characters from the opening quote on reject the line.
    BitBake,
    /// Ignore the rule, to explain why a line was rejected.
    Relaxed,
}

/// BitBake's assignment pattern: `[export WS] NAME [[FLAG]] WS OP WS Q VALUE Q`.
///
/// The name is the *shortest* prefix for which the rest matches, `export`
/// is tried before the bare form, the flag before no flag, and the
/// operators in `AssignOp::ALL` order, as the backtracking regex does.
pub(crate) fn assignment(s: &str, quote_rule: QuoteRule) -> Option<AssignmentShape> {
    let export = keyword_space(s, "export").map(|end| (0..6, 6..end));
    let starts = [export.clone(), None];
    let n_starts = if export.is_some() { 2 } else { 1 };
    for export in starts.into_iter().take(n_starts) {
        let name_start = export.as_ref().map_or(0, |(_, ws)| ws.end);
        let name_max = skip_bytes(s, name_start, is_var_name_byte);
        for name_end in name_start..=name_max {
            // Only a position followed by `[`, a blank, or a character that
            // can start an operator can end the name; skipping the others
            // changes nothing but the work done.
            match s.as_bytes().get(name_end) {
                Some(b'[' | b':' | b'?' | b'+' | b'=' | b'.') => {}
                Some(&b) if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => continue,
                _ => {}
            }
            if s.as_bytes().get(name_end) == Some(&b'[')
                && let Some((flag, close)) = flag_at(s, name_end + 1)
                && let Some(shape) = op_and_value(s, close + 1, quote_rule)
            {
                return Some(AssignmentShape {
                    export,
                    name: name_start..name_end,
                    flag: Some(FlagShape {
                        open: name_end,
                        name: flag,
                        close,
                    }),
                    ..shape
                });
            }
            if let Some(shape) = op_and_value(s, name_end, quote_rule) {
                return Some(AssignmentShape {
                    export,
                    name: name_start..name_end,
                    flag: None,
                    ..shape
                });
            }
        }
    }
    None
}

/// A flag name starting at `at` and the offset of its closing `]`.
fn flag_at(s: &str, at: usize) -> Option<(Range<usize>, usize)> {
    let first = *s.as_bytes().get(at)?;
    if !is_flag_first_byte(first) {
        return None;
    }
    let end = skip_bytes(s, at + 1, is_flag_byte);
    (s.as_bytes().get(end) == Some(&b']')).then_some((at..end, end))
}

/// `WS OP WS QUOTED` from `at` to the end of the line.
fn op_and_value(s: &str, at: usize, quote_rule: QuoteRule) -> Option<AssignmentShape> {
    let op_start = skip_space(s, at);
    let rest = &s[op_start..];
    for op in AssignOp::ALL {
        if !rest.starts_with(op.text()) {
            continue;
        }
        let op_end = op_start + op.text().len();
        let value_start = skip_space(s, op_end);
        if quoted_value_ok(s, value_start, quote_rule) {
            return Some(AssignmentShape {
                export: None,
                name: 0..0,
                flag: None,
                space_before_op: at..op_start,
                op: (op_start..op_end, op),
                space_after_op: op_end..value_start,
                open_quote: value_start,
            });
        }
    }
    None
}

/// Whether `s[at..]` is a quoted value: the same quote at `at` and at the end
/// of the line, and (unless relaxed) not exactly three of that quote.
fn quoted_value_ok(s: &str, at: usize, quote_rule: QuoteRule) -> bool {
    let bytes = s.as_bytes();
    let Some(&quote) = bytes.get(at) else {
        return false;
    };
    if quote != b'"' && quote != b'\'' {
        return false;
    }
    if bytes.len() - at < 2 || bytes[bytes.len() - 1] != quote {
        return false;
    }
    // spec §2.6: exactly three quote characters from the opening one on is
    // ambiguous and rejected.
    quote_rule == QuoteRule::Relaxed || bytes[at..].iter().filter(|&&b| b == quote).count() != 3
}

/// A function definition header (spec §11.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionShape {
    /// `python` and `fakeroot` keywords, in order, with whether each is python.
    pub keywords: Vec<(Range<usize>, bool)>,
    pub name: Option<Range<usize>>,
    pub l_paren: usize,
    pub r_paren: usize,
    pub l_curly: usize,
}

#[cfg(test)]
impl FunctionShape {
    pub fn is_python(&self) -> bool {
        self.keywords.iter().any(|&(_, python)| python)
    }
    pub fn is_fakeroot(&self) -> bool {
        self.keywords.iter().any(|&(_, python)| !python)
    }
}

fn is_function_name_char(c: char) -> bool {
    is_py_word(c) || ".-+{}$:".contains(c)
}

/// `{ python | fakeroot } [NAME] ( ) {` with `{` ending the line.
pub(crate) fn function_start(s: &str) -> Option<FunctionShape> {
    if !s.ends_with('{') {
        return None;
    }
    let mut keywords = Vec::new();
    let mut at = 0;
    loop {
        let rest = &s[at..];
        let next_is = |len: usize, paren_ok: bool| {
            rest[len..]
                .chars()
                .next()
                .is_some_and(|c| is_py_space(c) || (paren_ok && c == '('))
        };
        if rest.starts_with("python") && next_is(6, true) {
            keywords.push((at..at + 6, true));
            at = skip_space(s, at + 6);
        } else if rest.starts_with("fakeroot") && next_is(8, false) {
            keywords.push((at..at + 8, false));
            at = skip_space(s, at + 8);
        } else {
            break;
        }
    }
    let name_end = s[at..]
        .char_indices()
        .find(|&(_, c)| !is_function_name_char(c))
        .map_or(s.len(), |(i, _)| at + i);
    let name = (name_end > at).then_some(at..name_end);
    let l_paren = skip_space(s, name_end);
    if s.as_bytes().get(l_paren) != Some(&b'(') {
        return None;
    }
    let r_paren = skip_space(s, l_paren + 1);
    if s.as_bytes().get(r_paren) != Some(&b')') {
        return None;
    }
    let l_curly = skip_space(s, r_paren + 1);
    (l_curly == s.len() - 1).then_some(FunctionShape {
        keywords,
        name,
        l_paren,
        r_paren,
        l_curly,
    })
}

/// A `def NAME...:` line (spec §11.3): the name's range.
pub(crate) fn def_start(s: &str) -> Option<(Range<usize>, Range<usize>)> {
    let name_start = keyword_space(s, "def")?;
    let name_end = s[name_start..]
        .char_indices()
        .find(|&(_, c)| !is_py_word(c))
        .map_or(s.len(), |(i, _)| name_start + i);
    if name_end == name_start || !s[name_end..].contains(':') {
        return None;
    }
    Some((3..name_start, name_start..name_end))
}

/// Whether a line continues a `def` body: it starts with whitespace, is empty
/// or starts with `#` (BitBake's `(\s+.*)|(^$)|(^#)` on the stripped line).
pub(crate) fn continues_def(stripped_line: &str) -> bool {
    stripped_line
        .chars()
        .next()
        .is_none_or(|c| c == '#' || is_py_space(c))
}

/// A keyword directive `KEYWORD WS ARGS` with at least one argument
/// character (`include\s+(.+)` and friends). Returns the start of the
/// arguments.
pub(crate) fn directive(s: &str, keyword: &str) -> Option<usize> {
    let space_end = keyword_space(s, keyword)?;
    if space_end < s.len() {
        return Some(space_end);
    }
    // A joined line can end in blanks (those before a `\` are kept); then
    // `\s+` gives back its last character so that `.+` can match it.
    let last_space = s[..space_end].char_indices().next_back()?.0;
    (last_space > keyword.len()).then_some(last_space)
}

/// `addtask`/`deltask`: `KEYWORD\s+([^#\n]+)(#.*|.*?)`. Returns the start of
/// the task text and the start of the comment (or the line's end).
pub(crate) fn task_directive(s: &str, keyword: &str) -> Option<(usize, usize)> {
    let space_end = keyword_space(s, keyword)?;
    let mut args_start = space_end;
    if matches!(s.as_bytes().get(space_end), Some(&b'#') | None) {
        // `\s+` gives back its last character so that `[^#]+` can match it;
        // with only one whitespace character there is nothing to give back.
        let last_space = s[..space_end].char_indices().next_back()?.0;
        if last_space <= keyword.len() {
            return None;
        }
        args_start = last_space;
    }
    let comment = s[args_start..]
        .find('#')
        .map_or(s.len(), |i| args_start + i);
    Some((args_start, comment))
}

/// `export NAME` (name without `:`).
pub(crate) fn export_name(s: &str) -> Option<Range<usize>> {
    let start = keyword_space(s, "export")?;
    let end = skip_bytes(s, start, is_plain_name_byte);
    (end > start && end == s.len()).then_some(start..end)
}

/// `unset NAME` or `unset NAME[flag]` (flag of two or more characters).
pub(crate) fn unset(s: &str) -> Option<(Range<usize>, Option<FlagShape>)> {
    let start = keyword_space(s, "unset")?;
    let end = skip_bytes(s, start, is_plain_name_byte);
    if end == start {
        return None;
    }
    if end == s.len() {
        return Some((start..end, None));
    }
    if s.as_bytes()[end] != b'[' || !s.ends_with(']') {
        return None;
    }
    let flag_start = end + 1;
    let flag_end = s.len() - 1;
    let flag = &s.as_bytes()[flag_start..flag_end];
    // spec §2.5: the pattern wants a first character and at least one more.
    let ok = flag.len() >= 2
        && is_flag_first_byte(flag[0])
        && flag[1..].iter().all(|&b| is_unset_flag_byte(b));
    let flag = FlagShape {
        open: end,
        name: flag_start..flag_end,
        close: flag_end,
    };
    ok.then_some((start..end, Some(flag)))
}

/// `addpylib DIR NAMESPACE` / `addfragments A B C D`: the keyword followed
/// by `n_words` groups `\s+.+`. Returns the start of the arguments.
pub(crate) fn word_groups(s: &str, keyword: &str, n_words: usize) -> Option<usize> {
    let rest = s.strip_prefix(keyword)?;
    // Each group needs a whitespace character followed by at least one more
    // character; taking the earliest whitespace each time is optimal.
    let mut groups = 0;
    let mut need_space_from = 0;
    for (i, c) in rest.char_indices() {
        if groups == n_words {
            break;
        }
        if i >= need_space_from && is_py_space(c) && i + c.len_utf8() < rest.len() {
            if groups == 0 && i != 0 {
                return None;
            }
            groups += 1;
            need_space_from = i + c.len_utf8() + 1;
        } else if groups == 0 {
            return None;
        }
    }
    (groups == n_words).then(|| skip_space(s, keyword.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_op(s: &str) -> Option<(&str, &str, &str)> {
        let shape = assignment(s, QuoteRule::BitBake)?;
        let value = &s[shape.open_quote + 1..s.len() - 1];
        Some((&s[shape.name.clone()], shape.op.1.text(), value))
    }

    #[test]
    fn assignment_name_is_the_shortest_prefix() {
        // spec §2.6, name/operator split.
        assert_eq!(name_op(r#"A+="a""#), Some(("A", "+=", "a")));
        assert_eq!(name_op(r#"A+ = "b""#), Some(("A+", "=", "b")));
        assert_eq!(name_op(r#"+ = "c""#), Some(("+", "=", "c")));
        assert_eq!(name_op(r#"+= "d""#), Some(("", "+=", "d")));
        assert_eq!(name_op(r#"C.="z""#), Some(("C", ".=", "z")));
        assert_eq!(name_op(r#"A=."z""#), Some(("A", "=.", "z")));
        assert_eq!(name_op(r#"A ??= "z""#), Some(("A", "??=", "z")));
        assert_eq!(
            name_op(r#"A:append:x = "z""#),
            Some(("A:append:x", "=", "z"))
        );
    }

    #[test]
    fn assignment_values_run_to_the_last_quote() {
        assert_eq!(
            name_op(r#"A = "say "hi"""#),
            Some(("A", "=", r#"say "hi""#))
        );
        assert_eq!(name_op(r#"A = "a"b"c""#), Some(("A", "=", r#"a"b"c"#)));
        assert_eq!(name_op(r#"A = "a"b""#), None);
        assert!(assignment(r#"A = "a"b""#, QuoteRule::Relaxed).is_some());
        assert_eq!(name_op(r#"A = "abc'"#), None);
        assert_eq!(name_op("A = abc"), None);
        assert_eq!(name_op(r#"A = "x" # c"#), None);
        assert_eq!(name_op(r#"A = """#), Some(("A", "=", "")));
        assert_eq!(name_op(r#"A = ""#), None);
    }

    #[test]
    fn assignment_export_and_flags() {
        let shape = assignment(r#"export A[doc] = "d""#, QuoteRule::BitBake).unwrap();
        assert_eq!(shape.export, Some((0..6, 6..7)));
        assert_eq!(shape.name, 7..8);
        assert_eq!(
            shape.flag,
            Some(FlagShape {
                open: 8,
                name: 9..12,
                close: 12
            })
        );
        // `export = "1"` is an exported assignment with an empty name.
        let shape = assignment(r#"export = "1""#, QuoteRule::BitBake).unwrap();
        assert!(shape.export.is_some() && shape.name.is_empty());
        // The bracket must touch the name, and flags cannot start with `@`.
        assert_eq!(name_op(r#"A [f] = "1""#), None);
        assert_eq!(name_op(r#"A[@f] = "1""#), None);
        assert!(name_op(r#"A[a.b-c+d_e/x@y] = "1""#).is_some());
        assert_eq!(name_op(r#"exportD = "d""#), Some(("exportD", "=", "d")));
    }

    #[test]
    fn function_headers() {
        let f = function_start("python do_foo () {").unwrap();
        assert!(f.is_python() && !f.is_fakeroot());
        assert_eq!(f.name, Some(7..13));
        assert!(function_start("python(){").unwrap().name.is_none());
        let f = function_start("fakeroot python do_x() {").unwrap();
        assert!(f.is_python() && f.is_fakeroot());
        let f = function_start("pythonic() {").unwrap();
        assert_eq!(f.name, Some(0..8));
        assert!(function_start("do_foo() { echo hi }").is_none());
        assert!(function_start("do_foo()").is_none());
        assert!(function_start("${PN}_x:append () {").is_some());
    }

    #[test]
    fn def_lines() {
        assert_eq!(def_start("def foo(d):"), Some((3..4, 4..7)));
        assert_eq!(def_start("def foo(d)"), None);
        assert_eq!(def_start("define = \"x:\""), None);
        assert!(continues_def("    x") && continues_def("") && continues_def("# c"));
        assert!(!continues_def("A = \"1\""));
    }

    #[test]
    fn task_directives_backtrack_on_hash() {
        assert_eq!(task_directive("addtask foo # c", "addtask"), Some((8, 12)));
        assert_eq!(task_directive("addtask foo#c", "addtask"), Some((8, 11)));
        assert_eq!(task_directive("addtask #c", "addtask"), None);
        assert_eq!(task_directive("addtask  #c", "addtask"), Some((8, 9)));
        assert_eq!(task_directive("addtask", "addtask"), None);
        assert_eq!(task_directive("addtasks x", "addtask"), None);
        // Joined lines may end in blanks.
        assert_eq!(task_directive("addtask ", "addtask"), None);
        assert_eq!(task_directive("addtask  ", "addtask"), Some((8, 9)));
    }

    #[test]
    fn directives_need_an_argument_character() {
        assert_eq!(directive("include a.inc", "include"), Some(8));
        assert_eq!(directive("include ", "include"), None);
        assert_eq!(directive("include  ", "include"), Some(8));
        assert_eq!(directive("include\t \t", "include"), Some(9));
        assert_eq!(directive("includes a", "include"), None);
    }

    #[test]
    fn export_and_unset() {
        assert_eq!(export_name("export A"), Some(7..8));
        assert_eq!(export_name("export A:b"), None);
        assert_eq!(export_name("export A # c"), None);
        assert_eq!(unset("unset A"), Some((6..7, None)));
        let flag = FlagShape {
            open: 7,
            name: 8..10,
            close: 10,
        };
        assert_eq!(unset("unset A[ff]"), Some((6..7, Some(flag))));
        assert_eq!(unset("unset A[f]"), None);
        assert_eq!(unset("unset A[f/g]"), None);
        assert_eq!(unset("unset A:x"), None);
    }

    #[test]
    fn word_group_directives() {
        assert_eq!(
            word_groups("addpylib ${LAYERDIR}/lib oe", "addpylib", 2),
            Some(9)
        );
        assert_eq!(word_groups("addpylib dir", "addpylib", 2), None);
        assert_eq!(word_groups("addpylibx a b", "addpylib", 2), None);
        assert!(word_groups("addfragments a b c d", "addfragments", 4).is_some());
        assert!(word_groups("addfragments a b c", "addfragments", 4).is_none());
    }
}
