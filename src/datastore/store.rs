//! Variable records and their copy-on-write storage.
//!
//! A variable's record holds what BitBake keeps per name (spec §3.1): the
//! raw value, the weak default, ordinary flags (in insertion order, as a
//! Python dict keeps them), weak flag defaults, the queues of `:append`,
//! `:prepend` and `:remove` operations, and the variant index (which
//! variables are override variants of this one, in registration order).
//!
//! Storage is layered: a [`Layer`] is an immutable, shareable map; a
//! [`DataStore`](super::DataStore) writes into its own local map and falls
//! through to its frozen parent layers on a miss, copying a record into the
//! local map before changing it. So the configuration datastore is built
//! once and every recipe starts from it for the cost of a pointer.

// Variable names are hashed on every read through every layer: FxHash
// (rustc-hash) measured cheaper than the default SipHash there.
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A flag's value. BitBake flags are Python objects; metadata statements
/// store text, while BitBake's own bookkeeping stores numbers (`[func] = 1`)
/// and lists (`[deps]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FlagValue {
    Text(String),
    Int(i64),
    List(Vec<String>),
    /// Python's `None`, as `d.setVarFlag(v, f, None)` stores it: reads as
    /// unset, but the flag exists.
    None,
}

impl FlagValue {
    /// The value as Python's `str()` renders it.
    pub fn to_python_str(&self) -> String {
        match self {
            FlagValue::Text(text) => text.clone(),
            FlagValue::Int(n) => n.to_string(),
            FlagValue::List(items) => {
                let quoted: Vec<String> = items.iter().map(|i| python_repr(i)).collect();
                format!("[{}]", quoted.join(", "))
            }
            FlagValue::None => "None".to_string(),
        }
    }

    /// Python truthiness.
    pub fn is_truthy(&self) -> bool {
        match self {
            FlagValue::Text(text) => !text.is_empty(),
            FlagValue::Int(n) => *n != 0,
            FlagValue::List(items) => !items.is_empty(),
            FlagValue::None => false,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            FlagValue::Text(text) => Some(text),
            _ => None,
        }
    }
}

/// BitBake's `bb.utils.to_boolean` of a flag's text, as the `export` and
/// `unexport` flags are read (an unknown word counts as false here;
/// BitBake raises).
pub fn to_boolean(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "1" | "yes" | "y" | "true" | "t"
    )
}

/// Python's `repr()` of a string, as used inside `str(list)`.
pub fn python_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// One queued `:append`, `:prepend` or `:remove` (spec §3.2): the text and
/// the overrides that must all be active for it to apply (empty: always).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Queued {
    pub text: String,
    pub condition: String,
}

/// Everything BitBake keeps for one variable name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarRecord {
    pub value: Option<String>,
    pub weak_default: Option<String>,
    /// Ordinary flags in insertion order.
    pub flags: Vec<(String, FlagValue)>,
    /// `NAME[flag] ??= "..."` defaults.
    pub flag_weak_defaults: Vec<(String, String)>,
    pub appends: Vec<Queued>,
    pub prepends: Vec<Queued>,
    pub removes: Vec<Queued>,
    /// `(variant variable, override suffix)` in registration order (§5.2).
    pub variants: Vec<(String, String)>,
}

impl VarRecord {
    pub fn flag(&self, name: &str) -> Option<&FlagValue> {
        self.flags.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn set_flag(&mut self, name: &str, value: FlagValue) {
        match self.flags.iter_mut().find(|(n, _)| n == name) {
            Some((_, slot)) => *slot = value,
            None => self.flags.push((name.to_string(), value)),
        }
    }

    pub fn remove_flag(&mut self, name: &str) -> Option<FlagValue> {
        let idx = self.flags.iter().position(|(n, _)| n == name)?;
        Some(self.flags.remove(idx).1)
    }

    /// Whether the flag has a value (even `None`) or a weak default.
    pub fn has_flag(&self, name: &str) -> bool {
        self.flag(name).is_some() || self.flag_weak_default(name).is_some()
    }

    pub fn flag_weak_default(&self, name: &str) -> Option<&str> {
        self.flag_weak_defaults
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_flag_weak_default(&mut self, name: &str, value: String) {
        match self.flag_weak_defaults.iter_mut().find(|(n, _)| n == name) {
            Some((_, slot)) => *slot = value,
            None => self.flag_weak_defaults.push((name.to_string(), value)),
        }
    }

    /// Whether the record holds nothing at all.
    pub fn is_empty(&self) -> bool {
        *self == VarRecord::default()
    }
}

/// An immutable layer of variable records, shared between datastores.
/// `None` marks a name deleted in this layer.
#[derive(Debug, Default)]
pub struct Layer {
    pub(crate) parent: Option<Arc<Layer>>,
    pub(crate) vars: FxHashMap<String, Option<VarRecord>>,
    /// Values python code stored that are not text (see
    /// `DataStore::object`); `None` hides a parent's.
    pub(crate) objects: FxHashMap<String, Option<ForeignValue>>,
    /// The names in this layer and its parents that hold `${` (what key
    /// expansion looks at), computed once on first use.
    pub(crate) names_with_references: std::sync::OnceLock<Vec<String>>,
    /// Flag -> the names whose record in this layer itself (not a
    /// parent's) has that flag (a value or a weak default), computed once
    /// per flag on first use: task signatures look for exported variables
    /// and `bb.build.tasksbetween` for tasks in every recipe, and the
    /// configuration layer is shared by all of them.
    pub(crate) flag_index: std::sync::Mutex<FxHashMap<String, Arc<[String]>>>,
}

/// An opaque value stored by python code (a python object, to Rust).
pub type ForeignValue = Arc<dyn std::any::Any + Send + Sync>;

impl Layer {
    /// The record for `name`, looking through parent layers.
    pub fn get(&self, name: &str) -> Option<&VarRecord> {
        let mut layer = self;
        loop {
            if let Some(slot) = layer.vars.get(name) {
                return slot.as_ref();
            }
            layer = layer.parent.as_deref()?;
        }
    }

    /// The python object stored for `name`, looking through parent layers.
    pub fn object(&self, name: &str) -> Option<&ForeignValue> {
        let mut layer = self;
        loop {
            if let Some(slot) = layer.objects.get(name) {
                return slot.as_ref();
            }
            layer = layer.parent.as_deref()?;
        }
    }

    /// Names holding `${` with a live record here or in a parent, sorted.
    /// Built from the parent's list (itself computed once), so that a
    /// recipe's layers do not walk the configuration's names.
    pub fn names_with_references(&self) -> &[String] {
        self.names_with_references.get_or_init(|| {
            let mut names: Vec<String> = match &self.parent {
                Some(parent) => parent
                    .names_with_references()
                    .iter()
                    .filter(|n| !matches!(self.vars.get(n.as_str()), Some(None)))
                    .cloned()
                    .collect(),
                None => Vec::new(),
            };
            names.extend(
                self.vars
                    .iter()
                    .filter(|(name, slot)| slot.is_some() && name.contains("${"))
                    .map(|(name, _)| name.clone()),
            );
            names.sort();
            names.dedup();
            names
        })
    }

    /// See `flag_index`.
    pub(crate) fn own_names_with_flag(&self, flag: &str) -> Arc<[String]> {
        // A poisoned lock still holds a valid map.
        let mut index = self
            .flag_index
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(names) = index.get(flag) {
            return names.clone();
        }
        let names: Arc<[String]> = self
            .vars
            .iter()
            .filter(|(_, slot)| slot.as_ref().is_some_and(|r| r.has_flag(flag)))
            .map(|(name, _)| name.clone())
            .collect();
        index.insert(flag.to_string(), names.clone());
        names
    }

    /// Every name with a record, in no particular order, without duplicates.
    pub fn collect_names(&self, local: &FxHashMap<String, Option<VarRecord>>) -> Vec<String> {
        let mut seen: FxHashMap<&str, bool> = FxHashMap::default();
        for (name, slot) in local {
            seen.entry(name).or_insert(slot.is_some());
        }
        let mut layer = Some(self);
        while let Some(l) = layer {
            for (name, slot) in &l.vars {
                seen.entry(name).or_insert(slot.is_some());
            }
            layer = l.parent.as_deref();
        }
        seen.into_iter()
            .filter(|(_, live)| *live)
            .map(|(n, _)| n.to_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_str_of_lists_and_ints() {
        let list = FlagValue::List(vec!["do_fetch".into(), "it's".into()]);
        assert_eq!(list.to_python_str(), "['do_fetch', \"it's\"]");
        assert_eq!(FlagValue::Int(1).to_python_str(), "1");
        assert_eq!(python_repr("a\nb'\""), "'a\\nb\\'\"'");
    }
}
