//! Base hashes (spec §18.2, §18.4): for each task of a finalised recipe,
//! the keys (variables, functions, `VAR[flag]`s, `addpylib` functions) it
//! depends on, found by reading its code the way BitBake does, and the
//! SHA-256 over the task's value and each key's name and value.
//!
//! Invariants: the result depends only on the datastore's contents: keys
//! are visited in sorted order, sets are ordered, and no path, time or
//! hash-map order enters a hash. A key's dependencies and value are
//! computed once per recipe.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::datastore::{DataStore, ExpansionError, FlagValue, to_boolean};

use super::pycode::{PylibFunctionDeps, pylib_function_deps, python_code_deps};
use super::refs::{Refs, expand_with_refs};
use super::shell::shell_execs;

/// The dependency data of a recipe's tasks: for `bitzel env --json`,
/// `explain` and signature dumps.
#[derive(Debug, Clone, Default)]
pub struct RecipeSignatures {
    /// Task (with `do_`) -> every key it depends on, as indexes into
    /// `gendeps`'s keys in order (so sorted by name).
    taskdep_ids: BTreeMap<String, Vec<u32>>,
    /// `gendeps`'s keys in order.
    key_names: Vec<String>,
    pub basehash: BTreeMap<String, String>,
    /// Key -> its direct dependencies.
    pub gendeps: BTreeMap<String, BTreeSet<String>>,
    /// Key -> the value hashed for it (`None`: unset; only its name is
    /// hashed).
    pub values: BTreeMap<String, Option<String>>,
}

impl RecipeSignatures {
    /// Every key `task` depends on, sorted.
    pub fn taskdeps(&self, task: &str) -> Vec<String> {
        self.taskdep_ids
            .get(task)
            .into_iter()
            .flatten()
            .map(|&id| self.key_names[id as usize].clone())
            .collect()
    }

    /// The values hashed for `task`: its own and each key's.
    pub fn task_values(&self, task: &str) -> BTreeMap<String, Option<String>> {
        let mut values = BTreeMap::new();
        let keys = self.taskdeps(task);
        for key in std::iter::once(&task.to_string()).chain(&keys) {
            values.insert(key.clone(), self.values.get(key).cloned().flatten());
        }
        values
    }
}

/// Why signatures could not be computed (BitBake fails the parse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SignatureError {
    pub key: String,
    pub message: String,
}

impl SignatureError {
    fn new(key: &str, message: impl std::fmt::Display) -> SignatureError {
        SignatureError {
            key: key.to_string(),
            message: message.to_string(),
        }
    }
}

impl From<ExpansionError> for SignatureError {
    fn from(e: ExpansionError) -> SignatureError {
        SignatureError {
            key: e.variable.clone(),
            message: e.to_string(),
        }
    }
}

/// The `addpylib` functions, analysed once per process (the modules are
/// part of the configuration, shared by every recipe).
fn module_functions() -> &'static BTreeMap<String, PylibFunctionDeps> {
    static FUNCTIONS: OnceLock<BTreeMap<String, PylibFunctionDeps>> = OnceLock::new();
    FUNCTIONS.get_or_init(|| {
        pylib_function_deps()
            .map(|all| {
                all.into_iter()
                    .filter_map(|(name, deps)| deps.ok().map(|d| (name, d)))
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Python truthiness of a stored flag, as `varflags.get(flag)` tests it.
fn raw_truthy(value: &FlagValue) -> bool {
    match value {
        FlagValue::Text(text) => !text.is_empty(),
        FlagValue::Int(n) => *n != 0,
        FlagValue::List(items) => !items.is_empty(),
        FlagValue::None => false,
    }
}

struct Context<'d> {
    d: &'d DataStore,
    /// The datastore shell functions are read in: `d` with
    /// `BB_HASH_CODEPARSER_VALS` applied.
    codeparser: DataStore,
    shelldeps: BTreeSet<String>,
    exclude_flags: Vec<String>,
    ignored: HashSet<String>,
    modules: &'static BTreeMap<String, PylibFunctionDeps>,
}

impl Context<'_> {
    /// Whether `name` is a key: BitBake's set of every datastore name
    /// that does not start with `__` (those with content) and every
    /// `addpylib` function. Asked per name rather than built: a recipe
    /// has thousands of names and asks about a few hundred.
    fn is_key(&self, name: &str) -> bool {
        self.modules.contains_key(name) || (!name.starts_with("__") && self.d.has_content(name))
    }

    fn keys_in<'a>(&self, names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        names
            .into_iter()
            .filter(|n| self.is_key(n))
            .cloned()
            .collect()
    }

    /// Contains annotations: for each tested variable, whether each tested
    /// item's words are all in its value.
    fn contains_annotations(
        &self,
        value: Option<String>,
        contains: &BTreeMap<String, BTreeSet<String>>,
        exclusions: &[String],
    ) -> Result<String, ExpansionError> {
        let mut out = value.unwrap_or_default();
        for (var, items) in contains {
            if exclusions.contains(var) || self.ignored.contains(var) {
                continue;
            }
            let current = self.d.get_var(var)?.unwrap_or_default();
            let words: Vec<&str> = current.split_whitespace().collect();
            for item in items {
                let set = item.split_whitespace().all(|w| words.contains(&w));
                let state = if set { "Set" } else { "Unset" };
                out.push_str(&format!("\n{var}{{{item}}} = {state}"));
            }
        }
        Ok(out)
    }

    /// Remove annotations: each `:remove` text that removed a word, its
    /// references added to `deps`.
    fn remove_annotations(
        &self,
        mut value: String,
        deps: &mut BTreeSet<String>,
        removes: &[String],
        exclusions: &[String],
    ) -> Result<String, ExpansionError> {
        let mut sorted = removes.to_vec();
        sorted.sort();
        for remove in sorted {
            let refs = expand_with_refs(self.d, Some(&remove), "")?;
            value.push_str(&format!("\n_remove of {remove}"));
            // BitBake adds the references only: its handling of the
            // names called is lost to a local rebinding.
            deps.extend(refs.references.iter().cloned());
            value = self.contains_annotations(Some(value), &refs.contains, exclusions)?;
        }
        Ok(value)
    }

    /// The direct dependencies and the hashed value of one key (BitBake's
    /// `build_dependencies`).
    fn key_data(&self, key: &str) -> Result<(BTreeSet<String>, Option<String>), SignatureError> {
        let mut deps: BTreeSet<String> = BTreeSet::new();
        if let Some(module) = self.modules.get(key) {
            let exclude: Vec<String> = self
                .d
                .get_var_flag(key, "vardepsexclude")?
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            let mut refs = Refs {
                references: module.refs.clone(),
                execs: module.execs.clone(),
                contains: module.contains.clone(),
                ..Refs::default()
            };
            refs.add_expands(&module.expands);
            let value =
                self.contains_annotations(Some(module.value.clone()), &refs.contains, &[])?;
            deps.extend(
                refs.references
                    .iter()
                    .filter(|r| !exclude.contains(r))
                    .cloned(),
            );
            deps.extend(
                self.keys_in(&refs.execs)
                    .into_iter()
                    .filter(|e| !exclude.contains(e)),
            );
            deps.retain(|d| !self.ignored.contains(d));
            return Ok((deps, Some(value)));
        }
        if let Some(stripped) = key.strip_suffix(']')
            && let Some((var, flag)) = stripped.split_once('[')
        {
            if flag == "vardepvalueexclude" {
                return Ok((deps, Some(String::new())));
            }
            let raw = self.d.get_var_flag_unexpanded(var, flag);
            let refs = expand_with_refs(self.d, raw.as_deref(), key)?;
            deps.extend(refs.references.iter().cloned());
            deps.extend(self.keys_in(&refs.execs));
            deps.retain(|d| !self.ignored.contains(d));
            return Ok((deps, raw));
        }

        let flags = self.d.flags(key);
        let flag = |name: &str| flags.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let expanded_flag = |name: &str| -> Result<Option<String>, ExpansionError> {
            match flag(name) {
                None | Some(FlagValue::None) => Ok(None),
                Some(value) => self
                    .d
                    .expand_named_flag(key, name, &value.to_python_str())
                    .map(Some),
            }
        };
        let vardeps = expanded_flag("vardeps")?;
        let exclusions: Vec<String> = expanded_flag("vardepsexclude")?
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();

        let mut value: Option<String>;
        if flag("vardepvalue").is_some() {
            value = expanded_flag("vardepvalue")?;
        } else if flag("func").is_some_and(raw_truthy) {
            if flag("python").is_some_and(raw_truthy) {
                let body = self.codeparser.get_var_unexpanded(key)?;
                let code = body.clone().unwrap_or_default();
                let analysed = python_code_deps(&code)
                    .map_err(|e| SignatureError::new(key, format!("python function: {e}")))?;
                let mut refs = Refs::default();
                refs.add_python(&analysed);
                deps.extend(refs.references.iter().cloned());
                deps.extend(self.keys_in(&refs.execs));
                value = Some(self.contains_annotations(body, &refs.contains, &exclusions)?);
            } else {
                let (raw, removes) = self.codeparser.read_for_signature(key)?;
                let parsed = expand_with_refs(&self.codeparser, raw.as_deref(), key)?;
                let execs = shell_execs(parsed.value.as_deref().unwrap_or_default())
                    .map_err(|e| SignatureError::new(key, format!("shell function: {e}")))?;
                deps.extend(self.shelldeps.iter().cloned());
                deps.extend(parsed.references.iter().cloned());
                deps.extend(self.keys_in(&execs));
                deps.extend(self.keys_in(&parsed.execs));
                let annotated = self.contains_annotations(raw, &parsed.contains, &exclusions)?;
                value =
                    Some(self.remove_annotations(annotated, &mut deps, &removes, &exclusions)?);
            }
            for name in ["prefuncs", "postfuncs", "exports"] {
                if let Some(words) = expanded_flag(name)? {
                    deps.extend(words.split_whitespace().map(str::to_string));
                }
            }
        } else {
            let (raw, removes) = self.d.read_for_signature(key)?;
            let parsed = expand_with_refs(self.d, raw.as_deref(), key)?;
            deps.extend(parsed.references.iter().cloned());
            deps.extend(self.keys_in(&parsed.execs));
            let annotated = self.contains_annotations(raw, &parsed.contains, &exclusions)?;
            value = Some(self.remove_annotations(annotated, &mut deps, &removes, &exclusions)?);
        }

        if let Some(exclude) = expanded_flag("vardepvalueexclude")? {
            for text in exclude.split('|').filter(|t| !t.is_empty()) {
                value = value.map(|v| v.replace(text, ""));
            }
        }
        if !self.exclude_flags.is_empty() {
            for (name, _) in &flags {
                if !self.exclude_flags.contains(name) {
                    deps.insert(format!("{key}[{name}]"));
                }
            }
        }
        deps.extend(
            vardeps
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string),
        );
        deps.retain(|d| !exclusions.contains(d) && !self.ignored.contains(d));
        Ok((deps, value))
    }
}

/// Signatures of every task of a finalised recipe (BitBake's
/// `generate_dependencies` and `generate_dependency_hash`).
pub fn recipe_signatures(d: &mut DataStore) -> Result<RecipeSignatures, SignatureError> {
    let mut codeparser = d.create_copy();
    let d: &DataStore = d;
    let modules = module_functions();
    let mut shelldeps = BTreeSet::new();
    for name in d.names_with_flag("export") {
        if name.starts_with("__") || d.raw_flag(&name, "export").is_none() {
            continue;
        }
        let export = d.get_var_flag(&name, "export")?;
        let unexport = d.get_var_flag(&name, "unexport")?;
        if export.as_deref().is_some_and(to_boolean) && !unexport.as_deref().is_some_and(to_boolean)
        {
            shelldeps.insert(name);
        }
    }
    let words = |name: &str| -> Result<Vec<String>, ExpansionError> {
        Ok(d.get_var(name)?
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect())
    };
    for forced in words("BB_HASH_CODEPARSER_VALS")? {
        if let Some((name, value)) = forced.split_once('=') {
            codeparser.set_var_python(name, value.to_string());
        }
    }
    let context = Context {
        d,
        codeparser,
        shelldeps,
        exclude_flags: words("BB_SIGNATURE_EXCLUDE_FLAGS")?,
        ignored: words("BB_BASEHASH_IGNORE_VARS")?.into_iter().collect(),
        modules,
    };

    let mut result = RecipeSignatures::default();
    let tasks = d.list_var("__BBTASKS");
    for task in &tasks {
        let mut pending: Vec<String> = vec![task.clone()];
        while let Some(key) = pending.pop() {
            if result.gendeps.contains_key(&key) {
                continue;
            }
            let (deps, value) = context.key_data(&key)?;
            pending.extend(
                deps.iter()
                    .filter(|d| !result.gendeps.contains_key(*d))
                    .cloned(),
            );
            result.gendeps.insert(key.clone(), deps);
            result.values.insert(key, value);
        }
    }
    // Keys as dense ids in name order, so a task's closure is a bit set
    // whose set bits come out sorted.
    result.key_names = result.gendeps.keys().cloned().collect();
    let index: rustc_hash::FxHashMap<&str, u32> = result
        .key_names
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i as u32))
        .collect();
    let values: Vec<&Option<String>> = result.values.values().collect();
    let direct: Vec<Vec<u32>> = result
        .gendeps
        .values()
        .map(|deps| {
            deps.iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let words = result.key_names.len().div_ceil(64);
    for task in &tasks {
        let Some(&root) = index.get(task.as_str()) else {
            continue;
        };
        let mut seen = vec![0u64; words];
        let mut pending: Vec<u32> = direct[root as usize].clone();
        while let Some(key) = pending.pop() {
            let (word, bit) = (key as usize / 64, key % 64);
            if seen[word] & (1 << bit) == 0 {
                seen[word] |= 1 << bit;
                pending.extend(&direct[key as usize]);
            }
        }
        let ids: Vec<u32> = (0..result.key_names.len() as u32)
            .filter(|&k| seen[k as usize / 64] & (1 << (k % 64)) != 0)
            .collect();
        let mut hasher = Sha256::new();
        if let Some(value) = values[root as usize] {
            hasher.update(value.as_bytes());
        }
        for &id in &ids {
            hasher.update(result.key_names[id as usize].as_bytes());
            if let Some(value) = values[id as usize] {
                hasher.update(value.as_bytes());
            }
        }
        result
            .basehash
            .insert(task.clone(), hex(&hasher.finalize()));
        result.taskdep_ids.insert(task.clone(), ids);
    }
    Ok(result)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
