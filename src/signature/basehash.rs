//! Base hashes (spec §18.2, §18.4): for each task of a finalised recipe,
//! the keys (variables, functions, `VAR[flag]`s, `addpylib` functions) it
//! depends on, found by reading its code the way BitBake does, and the
//! SHA-256 over the task's value and each key's name and value.
//!
//! Invariants: the result depends only on the datastore's contents: keys
//! are visited in sorted order, sets are ordered, and no path, time or
//! hash-map order enters a hash. A key's dependencies and value are
//! computed once per recipe.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::OnceLock;

use rustc_hash::{FxHashMap, FxHashSet};

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
    /// `key_names` (so sorted by name).
    taskdep_ids: BTreeMap<String, Vec<u32>>,
    /// Every key visited, sorted.
    key_names: Vec<String>,
    /// Per key of `key_names`: its direct dependencies, as sorted indexes
    /// into `key_names`.
    key_deps: Vec<Vec<u32>>,
    /// Per key of `key_names`: the value hashed for it (`None`: unset;
    /// only its name is hashed). `addpylib` functions' sources are
    /// borrowed, not copied per recipe.
    key_values: Vec<Option<Cow<'static, str>>>,
    pub basehash: BTreeMap<String, String>,
}

impl RecipeSignatures {
    fn index_of(&self, key: &str) -> Option<usize> {
        self.key_names
            .binary_search_by(|name| name.as_str().cmp(key))
            .ok()
    }

    /// Every key `task` depends on, sorted.
    pub fn taskdeps(&self, task: &str) -> Vec<String> {
        self.taskdep_ids
            .get(task)
            .into_iter()
            .flatten()
            .map(|&id| self.key_names[id as usize].clone())
            .collect()
    }

    /// The direct dependencies of `key`, sorted (empty for a key no task
    /// depends on).
    pub fn key_deps(&self, key: &str) -> Vec<String> {
        self.index_of(key)
            .into_iter()
            .flat_map(|i| &self.key_deps[i])
            .map(|&id| self.key_names[id as usize].clone())
            .collect()
    }

    /// The value hashed for `key` (`None`: unset, or not a key of any task).
    pub fn value(&self, key: &str) -> Option<&str> {
        self.index_of(key)
            .and_then(|i| self.key_values[i].as_deref())
    }

    /// The values hashed for `task`: its own and each key's.
    pub fn task_values(&self, task: &str) -> BTreeMap<String, Option<String>> {
        let mut values = BTreeMap::new();
        let keys = self.taskdeps(task);
        for key in std::iter::once(&task.to_string()).chain(&keys) {
            values.insert(key.clone(), self.value(key).map(str::to_string));
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

/// Key names as dense ids, for one recipe's signatures: dependency sets
/// are lists of ids rather than sets of strings, which were most of the
/// cost of signatures.
#[derive(Default)]
struct Interner {
    ids: FxHashMap<Rc<str>, u32>,
    names: Vec<Rc<str>>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        let name: Rc<str> = Rc::from(name);
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }
}

/// A key's direct dependencies being collected, as interned ids.
type Deps = Vec<u32>;

/// What [`Context::key_data`] gives: dependencies and the hashed value.
type KeyData = (Deps, Option<Cow<'static, str>>);

struct Context<'d> {
    d: &'d DataStore,
    /// The datastore shell functions are read in: `d` with
    /// `BB_HASH_CODEPARSER_VALS` applied.
    codeparser: DataStore,
    /// Exported variables (every shell function depends on them).
    shelldeps: Vec<String>,
    exclude_flags: Vec<String>,
    ignored: FxHashSet<String>,
    modules: &'static BTreeMap<String, PylibFunctionDeps>,
    interner: RefCell<Interner>,
}

impl Context<'_> {
    /// Whether `name` is a key: BitBake's set of every datastore name
    /// that does not start with `__` (those with content) and every
    /// `addpylib` function. Asked per name rather than built: a recipe
    /// has thousands of names and asks about a few hundred.
    fn is_key(&self, name: &str) -> bool {
        self.modules.contains_key(name) || (!name.starts_with("__") && self.d.has_content(name))
    }

    fn add(&self, deps: &mut Deps, name: &str) {
        deps.push(self.interner.borrow_mut().intern(name));
    }

    fn add_all<'a>(&self, deps: &mut Deps, names: impl IntoIterator<Item = &'a String>) {
        let mut interner = self.interner.borrow_mut();
        deps.extend(names.into_iter().map(|n| interner.intern(n)));
    }

    /// Adds the names that are keys.
    fn add_keys<'a>(&self, deps: &mut Deps, names: impl IntoIterator<Item = &'a String>) {
        for name in names {
            if self.is_key(name) {
                self.add(deps, name);
            }
        }
    }

    /// Adds what python code reads and calls (BitBake's references and the
    /// names called that are keys) and returns its contains tests.
    fn add_python<'p>(
        &self,
        deps: &mut Deps,
        refs: &'p BTreeSet<String>,
        flag_refs: &BTreeSet<(String, String)>,
        execs: &'p BTreeSet<String>,
        contains: &'p BTreeMap<String, BTreeSet<String>>,
        expands: &[String],
    ) -> Cow<'p, BTreeMap<String, BTreeSet<String>>> {
        self.add_all(deps, refs);
        for (var, flag) in flag_refs {
            self.add(deps, &format!("{var}[{flag}]"));
        }
        self.add_keys(deps, execs);
        if expands.is_empty() {
            return Cow::Borrowed(contains);
        }
        let mut more = Refs::default();
        more.add_expands(expands);
        self.add_all(deps, &more.references);
        self.add_keys(deps, more.execs.iter().filter(|e| !execs.contains(*e)));
        let mut all = contains.clone();
        for (var, items) in more.contains {
            all.entry(var).or_default().extend(items);
        }
        Cow::Owned(all)
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
        deps: &mut Deps,
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
            self.add_all(deps, &refs.references);
            value = self.contains_annotations(Some(value), &refs.contains, exclusions)?;
        }
        Ok(value)
    }

    /// Sorts and deduplicates `deps` and drops the excluded and ignored
    /// names.
    fn finish(&self, mut deps: Deps, exclusions: &[String]) -> Deps {
        deps.sort_unstable();
        deps.dedup();
        let interner = self.interner.borrow();
        deps.retain(|&id| {
            let name = &*interner.names[id as usize];
            !self.ignored.contains(name) && !exclusions.iter().any(|e| e == name)
        });
        deps
    }

    /// The direct dependencies and the hashed value of one key (BitBake's
    /// `build_dependencies`).
    fn key_data(&self, key: &str) -> Result<KeyData, SignatureError> {
        let mut deps = Deps::new();
        if let Some(module) = self.modules.get(key) {
            let exclude: Vec<String> = self
                .d
                .get_var_flag(key, "vardepsexclude")?
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            let contains = self.add_python(
                &mut deps,
                &module.refs,
                &BTreeSet::new(),
                &module.execs,
                &module.contains,
                &module.expands,
            );
            let value = if contains.is_empty() {
                Cow::Borrowed(module.value.as_str())
            } else {
                Cow::Owned(self.contains_annotations(Some(module.value.clone()), &contains, &[])?)
            };
            return Ok((self.finish(deps, &exclude), Some(value)));
        }
        if let Some(stripped) = key.strip_suffix(']')
            && let Some((var, flag)) = stripped.split_once('[')
        {
            if flag == "vardepvalueexclude" {
                return Ok((deps, Some(Cow::Borrowed(""))));
            }
            let raw = self.d.get_var_flag_unexpanded(var, flag);
            let refs = expand_with_refs(self.d, raw.as_deref(), key)?;
            self.add_all(&mut deps, &refs.references);
            self.add_keys(&mut deps, &refs.execs);
            return Ok((self.finish(deps, &[]), raw.map(Cow::Owned)));
        }

        // The flags as `getVarFlags` lists them: ordinary flags (not `_`
        // or `:`), then weak defaults of flags without a value. Borrowed:
        // documentation flags are long.
        let record = self.d.record(key);
        let flag = |name: &str| -> Option<Cow<'_, FlagValue>> {
            let record = record?;
            match record.flag(name) {
                Some(value) if !name.starts_with('_') && !name.starts_with(':') => {
                    Some(Cow::Borrowed(value))
                }
                _ => record
                    .flag_weak_default(name)
                    .map(|v| Cow::Owned(FlagValue::Text(v.to_string()))),
            }
        };
        let expanded_flag = |name: &str| -> Result<Option<String>, ExpansionError> {
            match flag(name).as_deref() {
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
        } else if flag("func").is_some_and(|v| raw_truthy(&v)) {
            if flag("python").is_some_and(|v| raw_truthy(&v)) {
                let body = self.codeparser.get_var_unexpanded(key)?;
                let analysed = python_code_deps(body.as_deref().unwrap_or_default())
                    .map_err(|e| SignatureError::new(key, format!("python function: {e}")))?;
                let contains = self.add_python(
                    &mut deps,
                    &analysed.refs,
                    &analysed.flag_refs,
                    &analysed.execs,
                    &analysed.contains,
                    &analysed.expands,
                );
                value = Some(self.contains_annotations(body, &contains, &exclusions)?);
            } else {
                let (raw, removes) = self.codeparser.read_for_signature(key)?;
                let parsed = expand_with_refs(&self.codeparser, raw.as_deref(), key)?;
                let execs = shell_execs(parsed.value.as_deref().unwrap_or_default())
                    .map_err(|e| SignatureError::new(key, format!("shell function: {e}")))?;
                self.add_all(&mut deps, &self.shelldeps);
                self.add_all(&mut deps, &parsed.references);
                self.add_keys(&mut deps, &execs);
                self.add_keys(&mut deps, &parsed.execs);
                let annotated = self.contains_annotations(raw, &parsed.contains, &exclusions)?;
                value =
                    Some(self.remove_annotations(annotated, &mut deps, &removes, &exclusions)?);
            }
            for name in ["prefuncs", "postfuncs", "exports"] {
                if let Some(words) = expanded_flag(name)? {
                    for word in words.split_whitespace() {
                        self.add(&mut deps, word);
                    }
                }
            }
        } else {
            let (raw, removes) = self.d.read_for_signature(key)?;
            let parsed = expand_with_refs(self.d, raw.as_deref(), key)?;
            self.add_all(&mut deps, &parsed.references);
            self.add_keys(&mut deps, &parsed.execs);
            let annotated = self.contains_annotations(raw, &parsed.contains, &exclusions)?;
            value = Some(self.remove_annotations(annotated, &mut deps, &removes, &exclusions)?);
        }

        if let Some(exclude) = expanded_flag("vardepvalueexclude")? {
            for text in exclude.split('|').filter(|t| !t.is_empty()) {
                value = value.map(|v| v.replace(text, ""));
            }
        }
        if !self.exclude_flags.is_empty()
            && let Some(record) = record
        {
            let ordinary = record
                .flags
                .iter()
                .map(|(name, _)| name.as_str())
                .filter(|name| !name.starts_with('_') && !name.starts_with(':'));
            let weak = record
                .flag_weak_defaults
                .iter()
                .map(|(name, _)| name.as_str())
                .filter(|name| {
                    record
                        .flag(name)
                        .is_none_or(|_| name.starts_with('_') || name.starts_with(':'))
                });
            for name in ordinary.chain(weak) {
                if !self.exclude_flags.iter().any(|e| e == name) {
                    self.add(&mut deps, &format!("{key}[{name}]"));
                }
            }
        }
        for word in vardeps.as_deref().unwrap_or_default().split_whitespace() {
            self.add(&mut deps, word);
        }
        Ok((self.finish(deps, &exclusions), value.map(Cow::Owned)))
    }
}

/// Signatures of every task of a finalised recipe (BitBake's
/// `generate_dependencies` and `generate_dependency_hash`).
pub fn recipe_signatures(d: &mut DataStore) -> Result<RecipeSignatures, SignatureError> {
    // Most values do not depend on the few names forced for the code
    // parser; those that do are dropped by the writes.
    let mut codeparser = d.create_copy_with_caches();
    let d: &DataStore = d;
    let modules = module_functions();
    let mut shelldeps = Vec::new();
    for name in d.names_with_flag("export") {
        if name.starts_with("__") || d.raw_flag(&name, "export").is_none() {
            continue;
        }
        let export = d.get_var_flag(&name, "export")?;
        let unexport = d.get_var_flag(&name, "unexport")?;
        if export.as_deref().is_some_and(to_boolean) && !unexport.as_deref().is_some_and(to_boolean)
        {
            shelldeps.push(name);
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
        interner: RefCell::new(Interner::default()),
    };

    // Every key reachable from a task, by id: its dependencies and value.
    let mut computed: Vec<Option<KeyData>> = Vec::new();
    let tasks = d.list_var("__BBTASKS");
    let mut roots = Vec::with_capacity(tasks.len());
    for task in &tasks {
        let root = context.interner.borrow_mut().intern(task);
        roots.push(root);
        let mut pending = vec![root];
        while let Some(id) = pending.pop() {
            if computed.get(id as usize).is_some_and(Option::is_some) {
                continue;
            }
            let name = context.interner.borrow().names[id as usize].clone();
            let data = context.key_data(&name)?;
            pending.extend(
                data.0
                    .iter()
                    .filter(|&&dep| !computed.get(dep as usize).is_some_and(Option::is_some)),
            );
            if computed.len() <= id as usize {
                computed.resize_with(id as usize + 1, || None);
            }
            computed[id as usize] = Some(data);
        }
    }

    // Keys renumbered in name order, so that a task's closure is a bit set
    // whose set bits come out sorted.
    let interner = context.interner.into_inner();
    let mut order: Vec<u32> = (0..computed.len() as u32)
        .filter(|&id| computed[id as usize].is_some())
        .collect();
    order.sort_unstable_by(|&a, &b| interner.names[a as usize].cmp(&interner.names[b as usize]));
    let mut rank = vec![u32::MAX; interner.names.len()];
    for (r, &id) in order.iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    let mut result = RecipeSignatures::default();
    for &id in &order {
        let Some((deps, value)) = computed[id as usize].take() else {
            continue;
        };
        let mut ranks: Vec<u32> = deps.iter().map(|&dep| rank[dep as usize]).collect();
        ranks.sort_unstable();
        result
            .key_names
            .push(interner.names[id as usize].to_string());
        result.key_deps.push(ranks);
        result.key_values.push(value);
    }
    let words = result.key_names.len().div_ceil(64);
    for (task, &root) in tasks.iter().zip(&roots) {
        let root = rank[root as usize];
        if root == u32::MAX {
            continue;
        }
        let mut seen = vec![0u64; words];
        let mut pending: Vec<u32> = result.key_deps[root as usize].clone();
        while let Some(key) = pending.pop() {
            let (word, bit) = (key as usize / 64, key % 64);
            if seen[word] & (1 << bit) == 0 {
                seen[word] |= 1 << bit;
                pending.extend(&result.key_deps[key as usize]);
            }
        }
        let ids: Vec<u32> = (0..result.key_names.len() as u32)
            .filter(|&k| seen[k as usize / 64] & (1 << (k % 64)) != 0)
            .collect();
        let mut hasher = Sha256::new();
        if let Some(value) = &result.key_values[root as usize] {
            hasher.update(value.as_bytes());
        }
        for &id in &ids {
            hasher.update(result.key_names[id as usize].as_bytes());
            if let Some(value) = &result.key_values[id as usize] {
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
