//! Reading variables: variant selection, queued operations, expansion and
//! removal, in BitBake's order (spec §3.5, §5, §6).

use std::sync::{Arc, LazyLock};

use regex::{Captures, Regex};

use super::overrides::{Overrides, select_variant};
use super::{DataStore, FlagValue};

/// A reference: `${` + name characters + `}` (spec §6.1).
pub static VAR_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{[a-zA-Z0-9\-_+./~:]+\}").expect("valid regex"));

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'.' | b'/' | b'~' | b':')
}

/// The references in `text`, left to right, exactly as [`VAR_REF`] finds
/// them: `(whole reference, name, byte offset)`. A scan rather than the
/// regex: expansion runs it millions of times per parse.
pub fn var_refs(text: &str) -> impl Iterator<Item = (&str, &str, usize)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    std::iter::from_fn(move || {
        while let Some(found) = memchr::memmem::find(&bytes[from..], b"${") {
            let start = from + found;
            let name_start = start + 2;
            let mut end = name_start;
            while end < bytes.len() && is_name_byte(bytes[end]) {
                end += 1;
            }
            if end > name_start && bytes.get(end) == Some(&b'}') {
                from = end + 1;
                return Some((&text[start..=end], &text[name_start..end], start));
            }
            from = start + 1;
        }
        None
    })
}

/// Whether `text` holds a reference ([`VAR_REF`] matches).
pub fn has_var_ref(text: &str) -> bool {
    var_refs(text).next().is_some()
}

/// `text` with each reference replaced by what `replace` appends for it
/// (given the whole reference and the name), as `VAR_REF.replace_all`.
pub fn replace_var_refs(text: &str, mut replace: impl FnMut(&str, &str, &mut String)) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (whole, name, start) in var_refs(text) {
        out.push_str(&text[last..start]);
        replace(whole, name, &mut out);
        last = start + whole.len();
    }
    out.push_str(&text[last..]);
    out
}

/// Inline python: from `${@` to the first `}` outside one level of `{...}`,
/// matched lazily (spec §6.3). The regex crate's leftmost-first semantics
/// give the same match as Python's `re` for this pattern.
pub static PY_REF: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{@(?:\{.*?\}|.)+?\}").expect("valid regex"));

/// Reading a variable failed: a reference cycle, inline python that raised,
/// or overrides that never settle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failure expanding variable {variable}: {message}")]
pub struct ExpansionError {
    /// The variable whose expansion failed (the outermost one being read).
    pub variable: String,
    pub message: String,
}

impl ExpansionError {
    fn new(variable: &str, message: impl Into<String>) -> ExpansionError {
        ExpansionError {
            variable: variable.to_string(),
            message: message.into(),
        }
    }
}

/// A read before expansion: the assembled value and the removals carried
/// over from a selected variant.
struct Assembled {
    value: Option<String>,
    carried_removes: Vec<String>,
}

/// What reading with removals produced.
struct Read {
    expanded: Option<String>,
    /// The remove texts that matched a word (carried to a base read, §3.5).
    matched_removes: Vec<String>,
}

/// How a failed inline python expression is treated.
pub enum InlineFailure {
    /// An unterminated string literal: BitBake leaves the text unexpanded.
    UnterminatedString,
    Error(String),
}

impl DataStore {
    /// The expanded value of `name`, or `None` when unset (spec §3.5).
    pub fn get_var(&self, name: &str) -> Result<Option<String>, ExpansionError> {
        self.note_read(name);
        // BitBake's list-valued bookkeeping variables are not strings, so
        // they are returned as they are, never expanded.
        if let Some(list) = self.record(name).and_then(|r| r.flag("_list"))
            && self.record(name).is_some_and(|r| r.value.is_none())
        {
            return Ok(Some(list.to_python_str()));
        }
        let hash = super::name_hash(name);
        {
            let mut caches = self.caches.borrow_mut();
            if let Some(cached) = caches.expanded.get(&hash)
                && &*cached.name == name
                && cached
                    .python
                    .is_none_or(|v| Some(v) == self.globals_version())
            {
                let (result, python) = (cached.result.clone(), cached.python);
                // Whoever reads this ran its python.
                if let (Some(v), Some(frame)) = (python, caches.frames.last_mut()) {
                    frame.ran_python(v);
                }
                return result;
            }
            caches.frames.push(super::Frame::default());
        }
        let result = self
            .read(name)
            .map(|r| r.expanded)
            .and_then(|value| self.filter(name, value));
        let mut caches = self.caches.borrow_mut();
        let frame = caches.frames.pop().unwrap_or_default();
        for read in frame.reads {
            if read != hash {
                caches.readers.entry(read).or_default().push(hash);
            }
        }
        if frame.reads_any {
            caches
                .readers
                .entry(super::ANY_NAME)
                .or_default()
                .push(hash);
        }
        // Its reader ran the same python. (Its reader also read its name,
        // so anything that drops it drops the reader too.)
        if let (Some(parent), Some(v)) = (caches.frames.last_mut(), frame.python) {
            parent.ran_python(v);
        }
        caches.expanded.insert(
            hash,
            super::Expanded {
                name: name.into(),
                result: result.clone(),
                python: frame.python,
            },
        );
        result
    }

    /// The version of the python globals (`None` without python).
    fn globals_version(&self) -> Option<u64> {
        self.python.as_ref().map(|p| p.globals_version())
    }

    /// A value filter set on the variable's base name (`d.setVarFilter`),
    /// applied to non-empty expanded values as BitBake does.
    fn filter(&self, name: &str, value: Option<String>) -> Result<Option<String>, ExpansionError> {
        let Some(text) = value.as_deref().filter(|v| !v.is_empty()) else {
            return Ok(value);
        };
        let base = name.split(':').next().unwrap_or(name);
        // Setting a filter on the base (a write of the base) changes this.
        if base != name {
            self.note_read(base);
        }
        let Some(FlagValue::Text(expression)) = self.record(base).and_then(|r| r.flag("_filter"))
        else {
            return Ok(value);
        };
        let Some(python) = &self.python else {
            return Err(ExpansionError::new(
                name,
                "value filters need the embedded interpreter",
            ));
        };
        python
            .apply_filter(expression, text)
            .map(Some)
            .map_err(|message| ExpansionError::new(name, message))
    }

    /// What a task signature hashes for a variable (spec §18.2 rule 5):
    /// the unexpanded value (variant, appends, prepends applied) and the
    /// `:remove` texts that removed a word from the expanded value.
    pub fn read_for_signature(
        &self,
        name: &str,
    ) -> Result<(Option<String>, Vec<String>), ExpansionError> {
        let assembled = self.assemble(name)?;
        let raw = assembled.value.clone();
        // Only removals need the expanded value here: the caller expands
        // the raw value itself, recording references.
        let removes = !assembled.carried_removes.is_empty()
            || self.record(name).is_some_and(|r| !r.removes.is_empty());
        if !removes {
            return Ok((raw, Vec::new()));
        }
        let read = self.finish_read(name, assembled.value, assembled.carried_removes)?;
        Ok((raw, read.matched_removes))
    }

    /// Expands the text of `name[flag]` as `getVarFlags` with expansion
    /// does (the flag's name guards against self-reference).
    pub fn expand_named_flag(
        &self,
        name: &str,
        flag: &str,
        text: &str,
    ) -> Result<String, ExpansionError> {
        self.expand_guarded(text, &format!("{name}[{flag}]"))
    }

    /// Runs inline python (the code of a `${@...}`) and returns its value.
    pub fn eval_inline_python(&self, code: &str) -> Result<String, InlineFailure> {
        self.eval_inline(code)
    }

    /// `d.getVar(name, False)`: variants and queues applied, no expansion
    /// and no removal (spec §3.5).
    pub fn get_var_unexpanded(&self, name: &str) -> Result<Option<String>, ExpansionError> {
        self.note_read(name);
        Ok(self.assemble(name)?.value)
    }

    /// The expanded value of `name[flag]`, falling back to the flag's weak
    /// default; no overrides or queues (spec §7).
    pub fn get_var_flag(&self, name: &str, flag: &str) -> Result<Option<String>, ExpansionError> {
        let Some(raw) = self.get_var_flag_unexpanded(name, flag) else {
            return Ok(None);
        };
        let cache_key = format!("{name}[{flag}]");
        self.expand_guarded(&raw, &cache_key).map(Some)
    }

    /// A flag's value as `str()` of what is stored (or its weak default).
    pub fn get_var_flag_unexpanded(&self, name: &str, flag: &str) -> Option<String> {
        let record = self.record(name)?;
        match record.flag(flag) {
            Some(FlagValue::None) => None,
            Some(value) => Some(value.to_python_str()),
            None => record.flag_weak_default(flag).map(str::to_string),
        }
    }

    /// Whether `name[flag]` is set and true in Python's sense.
    pub fn flag_is_true(&self, name: &str, flag: &str) -> bool {
        match self.record(name).and_then(|r| r.flag(flag)) {
            Some(FlagValue::Text(text)) => {
                self.expand_guarded(text, name).is_ok_and(|t| !t.is_empty())
            }
            Some(other) => other.is_truthy(),
            None => false,
        }
    }

    /// Expands `${...}` references and inline python in `text` (spec §6.2).
    pub fn expand(&self, text: &str) -> Result<String, ExpansionError> {
        self.expand_guarded(text, "")
    }

    /// Expansion with a guard: a reference to `guard` itself is an error.
    pub(crate) fn expand_guarded(&self, text: &str, guard: &str) -> Result<String, ExpansionError> {
        let mut text = text.to_string();
        while text.contains("${") {
            let before = text.clone();
            text = self.substitute_references(&text, guard)?;
            text = self.substitute_python(&text, guard)?;
            if text == before {
                break;
            }
        }
        Ok(text)
    }

    fn substitute_references(&self, text: &str, guard: &str) -> Result<String, ExpansionError> {
        let mut error = None;
        let replaced = replace_var_refs(text, |whole, key, out| {
            if error.is_some() {
                return out.push_str(whole);
            }
            if key == guard {
                error = Some(ExpansionError::new(
                    guard,
                    format!("variable {guard} references itself!"),
                ));
                return out.push_str(whole);
            }
            match self.get_var(key) {
                Ok(Some(value)) => out.push_str(&value),
                Ok(None) => out.push_str(whole),
                Err(e) => {
                    error = Some(e);
                    out.push_str(whole)
                }
            }
        });
        match error {
            Some(e) => Err(e),
            None => Ok(replaced),
        }
    }

    fn substitute_python(&self, text: &str, guard: &str) -> Result<String, ExpansionError> {
        if !text.contains("${@") {
            return Ok(text.to_string());
        }
        let mut error = None;
        let replaced = PY_REF.replace_all(text, |caps: &Captures| {
            let whole = &caps[0];
            let code = &whole[3..whole.len() - 1];
            // spec §6.2: code still holding a reference waits for it.
            if error.is_some() || has_var_ref(code) {
                return whole.to_string();
            }
            match self.eval_inline(code) {
                Ok(value) => value,
                Err(InlineFailure::UnterminatedString) => whole.to_string(),
                Err(InlineFailure::Error(message)) => {
                    let variable = if guard.is_empty() {
                        "<expansion>"
                    } else {
                        guard
                    };
                    error = Some(ExpansionError::new(variable, message));
                    whole.to_string()
                }
            }
        });
        match error {
            Some(e) => Err(e),
            None => Ok(replaced.into_owned()),
        }
    }

    fn eval_inline(&self, code: &str) -> Result<String, InlineFailure> {
        let Some(python) = &self.python else {
            return Err(InlineFailure::Error(format!(
                "inline python `${{@{code}}}` needs the embedded interpreter, which this datastore has not"
            )));
        };
        self.note_python(python.globals_version());
        python.eval_inline(code, self).map_err(|message| {
            if message.contains("unterminated string literal")
                || message.contains("EOL while scanning string literal")
            {
                InlineFailure::UnterminatedString
            } else {
                InlineFailure::Error(message)
            }
        })
    }

    /// Steps 1 to 4 of spec §3.5: variant, value or weak default, appends,
    /// prepends.
    fn assemble(&self, name: &str) -> Result<Assembled, ExpansionError> {
        let record = self.record(name);
        let mut value = None;
        let mut carried_removes = Vec::new();
        let overrides = if record.is_some_and(|r| {
            !r.variants.is_empty() || !r.appends.is_empty() || !r.prepends.is_empty()
        }) {
            Some(self.overrides_checked()?)
        } else {
            None
        };
        if let (Some(record), Some(overrides)) = (record, &overrides)
            && !record.variants.is_empty()
            && let Some(variant) = select_variant(&record.variants, overrides)
        {
            self.note_read(&variant);
            let variant_assembled = self.assemble(&variant)?;
            let variant_read = self.finish_read(
                &variant,
                variant_assembled.value.clone(),
                variant_assembled.carried_removes,
            )?;
            value = variant_assembled.value;
            carried_removes = variant_read.matched_removes;
        }
        let Some(record) = record else {
            return Ok(Assembled {
                value,
                carried_removes,
            });
        };
        if value.is_none() {
            value = record.value.clone().or_else(|| record.weak_default.clone());
        }
        if let Some(overrides) = &overrides {
            for queued in &record.appends {
                if overrides.condition_holds(&queued.condition) {
                    value.get_or_insert_with(String::new).push_str(&queued.text);
                }
            }
            for queued in &record.prepends {
                if overrides.condition_holds(&queued.condition) {
                    let current = value.take().unwrap_or_default();
                    value = Some(format!("{}{current}", queued.text));
                }
            }
        }
        Ok(Assembled {
            value,
            carried_removes,
        })
    }

    /// Steps 5 and 6: expansion, then removal of words.
    fn finish_read(
        &self,
        name: &str,
        value: Option<String>,
        carried: Vec<String>,
    ) -> Result<Read, ExpansionError> {
        let Some(value) = value else {
            return Ok(Read {
                expanded: None,
                matched_removes: Vec::new(),
            });
        };
        let expanded = self.expand_named(&value, name)?;
        let mut removes = carried;
        if let Some(record) = self.record(name)
            && !record.removes.is_empty()
            && !expanded.is_empty()
        {
            let overrides = self.overrides_checked()?;
            for queued in &record.removes {
                if overrides.condition_holds(&queued.condition) && !removes.contains(&queued.text) {
                    removes.push(queued.text.clone());
                }
            }
        }
        if removes.is_empty() || expanded.is_empty() {
            return Ok(Read {
                expanded: Some(expanded),
                matched_removes: Vec::new(),
            });
        }
        let mut drop_words: Vec<(usize, Vec<String>)> = Vec::with_capacity(removes.len());
        for (idx, remove) in removes.iter().enumerate() {
            let words = self.expand(remove)?;
            drop_words.push((idx, words.split_whitespace().map(str::to_string).collect()));
        }
        let mut matched = vec![false; removes.len()];
        let mut kept = String::with_capacity(expanded.len());
        for token in split_keeping_whitespace(&expanded) {
            let mut skip = false;
            for (idx, words) in &drop_words {
                if words.iter().any(|w| w == token) {
                    matched[*idx] = true;
                    skip = true;
                }
            }
            if !skip {
                kept.push_str(token);
            }
        }
        let matched_removes = removes
            .into_iter()
            .zip(matched)
            .filter(|(_, m)| *m)
            .map(|(r, _)| r)
            .collect();
        Ok(Read {
            expanded: Some(kept),
            matched_removes,
        })
    }

    fn read(&self, name: &str) -> Result<Read, ExpansionError> {
        let assembled = self.assemble(name)?;
        self.finish_read(name, assembled.value, assembled.carried_removes)
    }

    /// Expansion of a variable's own value, guarding against cycles.
    fn expand_named(&self, value: &str, name: &str) -> Result<String, ExpansionError> {
        if !value.contains("${") {
            return Ok(value.to_string());
        }
        {
            let mut stack = self.expanding.borrow_mut();
            if stack.iter().any(|n| n == name) {
                let chain = stack.join(" -> ");
                return Err(ExpansionError::new(
                    name,
                    format!(
                        "reference cycle: {chain} -> {name} (BitBake exceeds its recursion limit)"
                    ),
                ));
            }
            if stack.len() > 400 {
                return Err(ExpansionError::new(
                    name,
                    "maximum recursion depth exceeded",
                ));
            }
            stack.push(name.to_string());
        }
        let result = self.expand_guarded(value, name);
        self.expanding.borrow_mut().pop();
        result
    }

    pub(crate) fn overrides_checked(&self) -> Result<Arc<Overrides>, ExpansionError> {
        self.note_overrides_read();
        if let Some(cached) = &self.caches.borrow().overrides {
            return Ok(cached.clone());
        }
        let overrides = self.compute_overrides();
        if let Some(message) = &self.caches.borrow().overrides_error {
            return Err(ExpansionError::new("OVERRIDES", message.clone()));
        }
        Ok(overrides)
    }

    /// Fixed-point iteration of `OVERRIDES` from an empty list (spec §5.1):
    /// x1 = f([]), x2 = f(x1), ... until two successive lists agree, at
    /// most five comparisons.
    pub(crate) fn compute_overrides(&self) -> Arc<Overrides> {
        if self.caches.borrow().computing_overrides {
            return self.caches.borrow().overrides.clone().unwrap_or_default();
        }
        {
            let mut caches = self.caches.borrow_mut();
            caches.computing_overrides = true;
            caches.recording = true;
            caches.override_deps.clear();
            caches.override_deps.insert("OVERRIDES".to_string());
        }
        // The computation may start in the middle of expanding OVERRIDES
        // itself; it reads OVERRIDES afresh, which is no cycle.
        let saved_stack = std::mem::take(&mut *self.expanding.borrow_mut());
        let mut current = Arc::new(Overrides::default());
        let mut stable = false;
        let mut history = Vec::new();
        for round in 0..6 {
            {
                let mut caches = self.caches.borrow_mut();
                caches.overrides = Some(current.clone());
                caches.drop_readers(vec![super::OVERRIDES_READ]);
            }
            let value = self.read("OVERRIDES").ok().and_then(|r| r.expanded);
            let next = Arc::new(Overrides::from_value(value.as_deref()));
            if round > 0 && next == current {
                stable = true;
                break;
            }
            history.push(next.list.join(":"));
            current = next;
        }
        *self.expanding.borrow_mut() = saved_stack;
        let mut caches = self.caches.borrow_mut();
        caches.computing_overrides = false;
        caches.recording = false;
        caches.overrides = Some(current.clone());
        caches.overrides_error = (!stable).then(|| {
            format!(
                "Overrides could not be expanded into a stable state after 5 iterations: {}",
                history.join(", ")
            )
        });
        current
    }
}

/// Splits at every single whitespace character, keeping each one as its
/// own token (Python's `re.split(r'(\s)', s)`).
fn split_keeping_whitespace(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = 0;
    for (idx, c) in text.char_indices() {
        if c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c) {
            tokens.push(&text[start..idx]);
            tokens.push(&text[idx..idx + c.len_utf8()]);
            start = idx + c.len_utf8();
        }
    }
    tokens.push(&text[start..]);
    tokens
}
