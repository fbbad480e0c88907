//! Expansion that records what it read (BitBake's `expandWithRefs`): every
//! `${NAME}` met (set or not), and the variables read, names called and
//! contains tests of each inline python expression run.
//!
//! Invariant: the expanded value is the one `DataStore::expand` gives; the
//! records are a side result and never change it.

use std::collections::{BTreeMap, BTreeSet};

use crate::datastore::{
    DataStore, ExpansionError, InlineFailure, PY_REF, has_var_ref, replace_var_refs, var_refs,
};

use super::pycode::{PythonCodeDeps, python_code_deps};

/// What an expansion referenced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs {
    pub value: Option<String>,
    pub references: BTreeSet<String>,
    pub execs: BTreeSet<String>,
    pub contains: BTreeMap<String, BTreeSet<String>>,
}

impl Refs {
    /// Adds what a piece of python code reads and calls.
    pub fn add_python(&mut self, deps: &PythonCodeDeps) {
        self.references.extend(deps.refs.iter().cloned());
        for (var, flag) in &deps.flag_refs {
            self.references.insert(format!("{var}[{flag}]"));
        }
        self.execs.extend(deps.execs.iter().cloned());
        for (var, items) in &deps.contains {
            self.contains
                .entry(var.clone())
                .or_default()
                .extend(items.iter().cloned());
        }
        self.add_expands(&deps.expands);
    }

    /// Adds what `d.expand("literal")` arguments reference: BitBake
    /// expands them in an empty datastore, so every reference in them
    /// counts, set or not.
    pub fn add_expands(&mut self, expands: &[String]) {
        for text in expands {
            let empty = Refs::literal(text);
            self.references.extend(empty.references);
            self.execs.extend(empty.execs);
            for (var, items) in empty.contains {
                self.contains.entry(var).or_default().extend(items);
            }
        }
    }

    /// The references of a text as an empty datastore sees them: each
    /// `${NAME}` and what inline python reads (nothing expands).
    pub fn literal(text: &str) -> Refs {
        let mut refs = Refs::default();
        for (_, name, _) in var_refs(text) {
            refs.references.insert(name.to_string());
        }
        for m in PY_REF.find_iter(text) {
            let whole = m.as_str();
            let code = &whole[3..whole.len() - 1];
            if has_var_ref(code) {
                continue;
            }
            if let Ok(deps) = python_code_deps(code) {
                refs.add_python(&deps);
            }
        }
        refs
    }
}

/// Expands `text` in `d` as the value of `varname` (empty for none),
/// recording references.
pub fn expand_with_refs(
    d: &DataStore,
    text: Option<&str>,
    varname: &str,
) -> Result<Refs, ExpansionError> {
    let mut refs = Refs::default();
    let Some(text) = text else {
        return Ok(refs);
    };
    let fail = |message: String| ExpansionError {
        variable: if varname.is_empty() {
            "<expansion>".to_string()
        } else {
            varname.to_string()
        },
        message,
    };
    let mut s = text.to_string();
    while s.contains("${") {
        let before = s.clone();
        let mut error = None;
        let replaced = replace_var_refs(&s, |whole, key, out| {
            if error.is_some() {
                return out.push_str(whole);
            }
            if !varname.is_empty() && key == varname {
                error = Some(fail(format!("variable {varname} references itself!")));
                return out.push_str(whole);
            }
            if !refs.references.contains(key) {
                refs.references.insert(key.to_string());
            }
            match d.get_var(key) {
                Ok(Some(value)) => out.push_str(&value),
                Ok(None) => out.push_str(whole),
                Err(e) => {
                    error = Some(e);
                    out.push_str(whole)
                }
            }
        });
        s = replaced;
        if let Some(e) = error {
            return Err(e);
        }
        if s.contains("${@") {
            let mut error = None;
            let replaced = PY_REF.replace_all(&s, |caps: &regex::Captures| {
                let whole = &caps[0];
                let code = &whole[3..whole.len() - 1];
                if error.is_some() || has_var_ref(code) {
                    return whole.to_string();
                }
                match d.eval_inline_python(code) {
                    Ok(value) => {
                        match python_code_deps(code) {
                            Ok(deps) => refs.add_python(&deps),
                            Err(e) => error = Some(fail(e.to_string())),
                        }
                        value
                    }
                    Err(InlineFailure::UnterminatedString) => whole.to_string(),
                    Err(InlineFailure::Error(message)) => {
                        error = Some(fail(message));
                        whole.to_string()
                    }
                }
            });
            s = replaced.into_owned();
            if let Some(e) = error {
                return Err(e);
            }
        }
        if s == before {
            break;
        }
    }
    refs.value = Some(s);
    Ok(refs)
}
