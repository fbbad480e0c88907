//! The datastore: BitBake's variables, flags, operators, overrides and
//! expansion, evaluated exactly as BitBake does (spec §3 to §8).
//!
//! A [`DataStore`] maps names to [`VarRecord`]s. Writes come in the two
//! flavours of spec §3.6: *parse-time* writes (metadata statements), which
//! keep queued operations and variants, and *python-time* writes
//! (`d.setVar` from python code), which discard them. Reading a variable
//! ([`DataStore::get_var`]) applies variant selection, queued appends,
//! prepends and removes, and `${...}` expansion, in BitBake's order (spec
//! §3.5). Inline python (`${@...}`) goes through the [`PythonHost`] hook,
//! so this module runs without an interpreter (reads that need one fail
//! with an expansion error).
//!
//! Invariants: the only home of operator, override and expansion
//! semantics; no I/O (files come through the evaluator's `Loader`); a
//! datastore created with [`DataStore::child`] never changes its parent.

mod eval;
mod expand;
mod overrides;
mod parse;
pub mod python;
mod store;

use std::cell::RefCell;

use rustc_hash::FxHashMap;
use std::sync::Arc;

pub use eval::{EvalError, Evaluator, FsLoader, Loader, MemoryLoader, Outcome, expand_keys};
pub use expand::{
    ExpansionError, InlineFailure, PY_REF, VAR_REF, has_var_ref, replace_var_refs, var_refs,
};
pub use overrides::{Overrides, select_variant};
pub use parse::{
    ConfigInput, FinalisedRecipe, ParsedRecipe, parse_configuration, parse_recipe,
    parse_recipe_each,
};
pub use store::{FlagValue, ForeignValue, Layer, Queued, VarRecord, python_repr, to_boolean};

use crate::syntax::ast_ext::{OperationKeyword, split_operation};

/// The embedded interpreter, as the datastore and evaluator see it. The
/// datastore passes itself so that python code can use `d`.
pub trait PythonHost: Send + Sync {
    /// Evaluates `code` (the text between `${@` and `}`) as an expression
    /// and returns `str()` of the result, or the error message.
    fn eval_inline(&self, code: &str, d: &DataStore) -> Result<String, String>;

    /// Compiles a `def` function and makes it visible to inline python and
    /// python functions (spec §11.3).
    fn define_function(
        &self,
        name: &str,
        text: &str,
        file: &str,
        line: usize,
    ) -> Result<(), String>;

    /// Runs the python function `name` of `d` with `d`, as a python task
    /// runs (spec §19).
    fn exec_python_function(&self, name: &str, d: &mut DataStore) -> Result<(), PythonFailure>;

    /// Runs the anonymous functions in order with `d` (spec §11.4).
    fn run_anonymous(
        &self,
        functions: &[AnonymousFunction],
        d: &mut DataStore,
    ) -> Result<(), PythonFailure>;

    /// Fires a parse event (`ConfigParsed`, `RecipePreFinalise`, ...) to the
    /// datastore's handlers (spec §12.5, §16.2).
    fn fire_event(
        &self,
        event: &str,
        recipe: &str,
        args: &[String],
        d: &mut DataStore,
    ) -> Result<(), PythonFailure>;

    /// Task set-up at the end of finalisation (`[task]`, `_task_deps`).
    fn add_tasks(&self, tasks: &[String], d: &mut DataStore) -> Result<(), PythonFailure>;

    /// Applies a value filter (`d.setVarFilter`): evaluates `expression`
    /// with `val` bound to `value` among the `bb.filter` functions.
    fn apply_filter(&self, expression: &str, value: &str) -> Result<String, String>;

    /// A number that changes whenever the python globals (`def`
    /// functions, libraries) change: an expanded value whose inline python
    /// ran under another is computed again.
    fn globals_version(&self) -> u64 {
        0
    }

    /// A datastore object holding `env`, for `BB_ORIGENV` (spec §14.1).
    fn environment_object(&self, env: &[(String, String)]) -> Result<ForeignValue, String>;

    /// `addpylib DIR NAMESPACE` (spec §14.4).
    fn add_pylib(
        &self,
        dir: &str,
        namespace: &str,
        global_modules: &[String],
    ) -> Result<(), String>;
}

/// An anonymous python function: its code (a `def NAME(d):` and the
/// body) and where its header is, for tracebacks and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnonymousFunction {
    pub name: String,
    pub code: String,
    pub file: String,
    pub line: usize,
}

/// How python code ended, when it did not end normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PythonFailure {
    /// `bb.parse.SkipRecipe(reason)`.
    Skip(String),
    /// Any other exception: its message, and the innermost metadata file
    /// and line of its traceback (line 0 when none).
    Error {
        message: String,
        file: Option<String>,
        line: usize,
    },
}

impl PythonFailure {
    pub fn error(message: impl Into<String>) -> PythonFailure {
        PythonFailure::Error {
            message: message.into(),
            file: None,
            line: 0,
        }
    }
}

/// Per-datastore caches: the overrides, recomputed after a write to a
/// name they read, and expanded values, dropped after a write to a name
/// they read (directly or through another value).
#[derive(Default)]
struct Caches {
    overrides: Option<Arc<Overrides>>,
    /// Set while `OVERRIDES` itself is being computed (§5.1).
    computing_overrides: bool,
    /// Why the last computation did not settle, if it did not.
    overrides_error: Option<String>,
    /// The variables read while computing the overrides: only a write to
    /// one of them can change them (BitBake's `overridevars`). Measured on
    /// oe-core: recomputing on every write instead cost 30% of a parse.
    override_deps: rustc_hash::FxHashSet<String>,
    /// Whether reads are being recorded into `override_deps`.
    recording: bool,
    /// Expanded values by the hash of their name (the name is kept to
    /// tell a collision, which is then a miss).
    expanded: FxHashMap<u64, Expanded>,
    /// Name hash -> the hashes of the cached values whose computation read
    /// that name directly ([`ANY_NAME`]: read something as broad as the
    /// list of keys). A write drops the name's readers, their readers and
    /// so on, and keeps the rest: BitBake empties its cache on every
    /// write, which made a parse expand 1.7 times as many values.
    readers: FxHashMap<u64, Vec<u64>>,
    /// The reads of the values being computed, innermost last.
    frames: Vec<Frame>,
}

/// A datastore's caches, for datastores over the same variables
/// ([`DataStore::take_caches`]).
pub struct CacheSeed(Caches);

/// A cached expanded value.
#[derive(Clone)]
struct Expanded {
    name: Box<str>,
    result: Result<Option<String>, ExpansionError>,
    /// The version of the python globals its inline python ran with, if
    /// it (or a value it read) ran any: another version recomputes it.
    python: Option<u64>,
}

/// What the computation of one expanded value has read so far.
#[derive(Default)]
struct Frame {
    reads: Vec<u64>,
    /// The version of the python globals, if inline python ran.
    python: Option<u64>,
    reads_any: bool,
}

impl Frame {
    fn ran_python(&mut self, version: u64) {
        self.python.get_or_insert(version);
    }
}

/// Stands for every name, in `readers`.
const ANY_NAME: u64 = 0;

/// Stands for the overrides, in `readers` (name hashes are odd).
const OVERRIDES_READ: u64 = 2;

/// The key of `name` in the expansion cache.
fn name_hash(name: &str) -> u64 {
    use std::hash::BuildHasher;
    // 0 is `ANY_NAME`.
    rustc_hash::FxBuildHasher.hash_one(name) | 1
}

impl Caches {
    fn clear_expanded(&mut self) {
        self.expanded.clear();
        self.readers.clear();
    }

    /// Drops the values that read any of `roots`, and their readers, and
    /// so on.
    fn drop_readers(&mut self, mut pending: Vec<u64>) {
        while let Some(hash) = pending.pop() {
            self.expanded.remove(&hash);
            if let Some(readers) = self.readers.remove(&hash) {
                pending.extend(readers);
            }
        }
    }
}

/// Variables, flags and queued operations of one configuration or recipe.
pub struct DataStore {
    parent: Arc<Layer>,
    local: FxHashMap<String, Option<VarRecord>>,
    caches: RefCell<Caches>,
    python: Option<Arc<dyn PythonHost>>,
    /// Names being expanded right now, to report reference cycles.
    expanding: RefCell<Vec<String>>,
    /// Non-text values python code stored (BitBake keeps any python object
    /// in a variable; metadata caches tuples this way). Python reads them
    /// back; Rust reads the text stored alongside, if any. A `RefCell`
    /// because python may store them while a variable is being read.
    objects: RefCell<FxHashMap<String, Option<store::ForeignValue>>>,
}

impl Default for DataStore {
    fn default() -> Self {
        DataStore::new()
    }
}

impl Clone for DataStore {
    /// A copy with the same contents; caches start empty.
    fn clone(&self) -> Self {
        DataStore {
            parent: self.parent.clone(),
            local: self.local.clone(),
            caches: RefCell::default(),
            python: self.python.clone(),
            expanding: RefCell::default(),
            objects: RefCell::new(self.objects.borrow().clone()),
        }
    }
}

impl std::fmt::Debug for DataStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataStore")
            .field("n_local", &self.local.len())
            .finish()
    }
}

impl DataStore {
    pub fn new() -> DataStore {
        DataStore {
            parent: Arc::new(Layer::default()),
            local: FxHashMap::default(),
            caches: RefCell::default(),
            python: None,
            expanding: RefCell::default(),
            objects: RefCell::default(),
        }
    }

    pub fn set_python(&mut self, python: Option<Arc<dyn PythonHost>>) {
        self.python = python;
        self.invalidate_all();
    }

    pub fn python(&self) -> Option<&Arc<dyn PythonHost>> {
        self.python.as_ref()
    }

    /// Freezes this datastore's contents into a shareable layer.
    pub fn freeze(self) -> Arc<Layer> {
        let objects = self.objects.into_inner();
        if self.local.is_empty() && objects.is_empty() {
            return self.parent;
        }
        Arc::new(Layer {
            parent: Some(self.parent),
            vars: self.local,
            objects,
            ..Layer::default()
        })
    }

    /// Freezes into a single layer holding everything visible, so that
    /// reads from datastores built on it look in one map instead of a
    /// chain: for the configuration, which every recipe reads thousands of
    /// times.
    pub fn freeze_flat(self) -> Arc<Layer> {
        let mut chain = vec![];
        let mut layer = Some(&*self.parent);
        while let Some(l) = layer {
            chain.push(l);
            layer = l.parent.as_deref();
        }
        let mut vars: FxHashMap<String, Option<VarRecord>> = FxHashMap::default();
        let mut objects: FxHashMap<String, Option<store::ForeignValue>> = FxHashMap::default();
        // Oldest first, so that newer layers overwrite.
        for l in chain.iter().rev() {
            vars.extend(l.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
            objects.extend(l.objects.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        vars.extend(self.local);
        objects.extend(self.objects.into_inner());
        vars.retain(|_, v| v.is_some());
        objects.retain(|_, v| v.is_some());
        Arc::new(Layer {
            parent: None,
            vars,
            objects,
            ..Layer::default()
        })
    }

    /// A new datastore that starts from `layer` and writes only to itself
    /// (copy-on-write, as BitBake's `createCopy`).
    pub fn child(layer: Arc<Layer>, python: Option<Arc<dyn PythonHost>>) -> DataStore {
        DataStore {
            parent: layer,
            local: FxHashMap::default(),
            caches: RefCell::default(),
            python,
            expanding: RefCell::default(),
            objects: RefCell::default(),
        }
    }

    /// A datastore holding exactly `records` (names with their whole
    /// records, as [`DataStore::record`] returns them), in one layer: a
    /// datastore rebuilt elsewhere from another's records reads and
    /// writes as the original does.
    pub fn from_records(
        records: impl IntoIterator<Item = (String, VarRecord)>,
        python: Option<Arc<dyn PythonHost>>,
    ) -> DataStore {
        let layer = Layer {
            vars: records.into_iter().map(|(n, r)| (n, Some(r))).collect(),
            ..Layer::default()
        };
        DataStore::child(Arc::new(layer), python)
    }

    /// [`create_copy`](Self::create_copy), the copy starting with what
    /// this datastore has expanded so far (for a copy about to get a few
    /// writes, which drop only the values that read what they change).
    pub fn create_copy_with_caches(&mut self) -> DataStore {
        let copy = self.create_copy();
        copy.adopt(&self.caches.borrow());
        copy
    }

    /// A child of a snapshot of this datastore; `self` keeps working and is
    /// not affected by writes to the copy. Costs a freeze of the local map.
    pub fn create_copy(&mut self) -> DataStore {
        let local = std::mem::take(&mut self.local);
        let objects = std::mem::take(&mut *self.objects.borrow_mut());
        let layer = Arc::new(Layer {
            parent: Some(self.parent.clone()),
            vars: local,
            objects,
            ..Layer::default()
        });
        self.parent = layer.clone();
        DataStore::child(layer, self.python.clone())
    }

    // ---- records ----

    pub fn record(&self, name: &str) -> Option<&VarRecord> {
        match self.local.get(name) {
            Some(slot) => slot.as_ref(),
            None => self.parent.get(name),
        }
    }

    /// The python object python code stored for `name`, if any.
    pub fn object(&self, name: &str) -> Option<store::ForeignValue> {
        match self.objects.borrow().get(name) {
            Some(slot) => slot.clone(),
            None => self.parent.object(name).cloned(),
        }
    }

    /// Stores a python object for `name`; allowed while reading (`&self`),
    /// as BitBake's inline python may cache values this way.
    pub fn set_object(&self, name: &str, value: store::ForeignValue) {
        self.objects
            .borrow_mut()
            .insert(name.to_string(), Some(value));
        // Inline python may read it back: what was expanded from it is stale.
        self.invalidate(name);
    }

    /// Forgets the python object of `name` (any write in Rust does).
    fn forget_object(&self, name: &str) {
        let mut objects = self.objects.borrow_mut();
        if self.parent.object(name).is_some() {
            objects.insert(name.to_string(), None);
        } else {
            objects.remove(name);
        }
    }

    fn record_mut(&mut self, name: &str) -> &mut VarRecord {
        self.invalidate(name);
        self.forget_object(name);
        if !matches!(self.local.get(name), Some(Some(_))) {
            let copy = self.parent.get(name).cloned().unwrap_or_default();
            // A local tombstone (`None`) means deleted here: start afresh.
            let copy = if matches!(self.local.get(name), Some(None)) {
                VarRecord::default()
            } else {
                copy
            };
            self.local.insert(name.to_string(), Some(copy));
        }
        match self.local.get_mut(name) {
            Some(Some(record)) => record,
            _ => unreachable!("record was just inserted"),
        }
    }

    /// After a write to `name`: drops the expanded values that read it
    /// (and their readers); when the overrides read it, they are computed
    /// again and the values that consulted them dropped.
    fn invalidate(&self, name: &str) {
        let mut caches = self.caches.borrow_mut();
        let mut roots = vec![name_hash(name), ANY_NAME];
        if caches.overrides.is_some() && caches.override_deps.contains(name) {
            // The overrides may change: so may what was read with them.
            caches.overrides = None;
            roots.push(OVERRIDES_READ);
        }
        caches.drop_readers(roots);
    }

    /// Notes that the value being computed consulted the overrides.
    pub(crate) fn note_overrides_read(&self) {
        if let Some(frame) = self.caches.borrow_mut().frames.last_mut() {
            frame.reads.push(OVERRIDES_READ);
        }
    }

    /// This datastore's caches, taken out (it starts afresh): for
    /// [`adopt_caches`](Self::adopt_caches) by datastores over it frozen.
    pub fn take_caches(&mut self) -> CacheSeed {
        CacheSeed(std::mem::take(self.caches.get_mut()))
    }

    /// Starts this datastore's caches as a copy of `seed`, taken from a
    /// datastore holding the same variables.
    pub fn adopt_caches(&self, seed: &CacheSeed) {
        self.adopt(&seed.0);
    }

    fn adopt(&self, theirs: &Caches) {
        if !theirs.frames.is_empty() || theirs.computing_overrides {
            return;
        }
        let mut mine = self.caches.borrow_mut();
        mine.expanded = theirs.expanded.clone();
        mine.readers = theirs.readers.clone();
        mine.overrides = theirs.overrides.clone();
        mine.overrides_error = theirs.overrides_error.clone();
        mine.override_deps = theirs.override_deps.clone();
    }

    fn invalidate_all(&self) {
        let mut caches = self.caches.borrow_mut();
        caches.overrides = None;
        caches.clear_expanded();
    }

    /// Notes that `name` was read: by the overrides being computed, and
    /// by the expanded value being computed.
    pub(crate) fn note_read(&self, name: &str) {
        let mut caches = self.caches.borrow_mut();
        if caches.recording && !caches.override_deps.contains(name) {
            caches.override_deps.insert(name.to_string());
        }
        if let Some(frame) = caches.frames.last_mut() {
            frame.reads.push(name_hash(name));
        }
    }

    /// Notes that python read something that depends on every name (the
    /// keys, a copy of the datastore): the value being computed is
    /// dropped at any write.
    pub(crate) fn note_read_any(&self) {
        if let Some(frame) = self.caches.borrow_mut().frames.last_mut() {
            frame.reads_any = true;
        }
    }

    /// Notes that inline python ran, with the python globals at `version`.
    pub(crate) fn note_python(&self, version: u64) {
        if let Some(frame) = self.caches.borrow_mut().frames.last_mut() {
            frame.ran_python(version);
        }
    }

    /// Names written in this datastore itself (not in its parent layers).
    pub fn local_keys(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .local
            .iter()
            .filter(|(_, r)| r.is_some())
            .map(|(n, _)| n.clone())
            .collect();
        names.sort();
        names
    }

    /// The names holding `${` with a live record, sorted: the parent
    /// layers' list (computed once per layer) with this datastore's own
    /// writes applied.
    pub fn names_with_references(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .parent
            .names_with_references()
            .iter()
            .filter(|n| !matches!(self.local.get(n.as_str()), Some(None)))
            .cloned()
            .collect();
        for (name, slot) in &self.local {
            if slot.is_some() && name.contains("${") && !names.contains(name) {
                names.push(name.clone());
            }
        }
        names.sort();
        names
    }

    /// The names whose record has `flag` (a value, even `None`, or a
    /// weak default), sorted: the names of [`DataStore::keys`] that have
    /// it. Costs a walk of this datastore's own writes; each parent
    /// layer's list is computed once per flag.
    pub fn names_with_flag(&self, flag: &str) -> Vec<String> {
        let mut candidates: Vec<String> = self
            .local
            .iter()
            .filter(|(_, slot)| slot.as_ref().is_some_and(|r| r.has_flag(flag)))
            .map(|(name, _)| name.clone())
            .collect();
        let mut layer = Some(&*self.parent);
        while let Some(l) = layer {
            candidates.extend(l.own_names_with_flag(flag).iter().cloned());
            layer = l.parent.as_deref();
        }
        candidates.sort_unstable();
        candidates.dedup();
        // A nearer layer may hold the record without the flag.
        candidates.retain(|name| self.record(name).is_some_and(|r| r.has_flag(flag)));
        candidates
    }

    /// Every variable name with a record, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut names = self.parent.collect_names(&self.local);
        names.sort();
        names
    }

    // ---- writes ----

    /// `NAME = value` as a metadata statement: a parse-time write (§3.6).
    /// Names with an operation keyword queue instead (§3.2).
    pub fn set_var_parse(&mut self, name: &str, value: String) {
        self.set_var_impl(name, value, true);
    }

    /// `d.setVar(name, value)` from python: discards the queued operations
    /// and the active variants of `name` (§3.6).
    pub fn set_var_python(&mut self, name: &str, value: String) {
        self.set_var_impl(name, value, false);
    }

    fn set_var_impl(&mut self, name: &str, value: String, parsing: bool) {
        if let Some(op) = split_operation(name) {
            let queued = Queued {
                text: value,
                condition: op.condition.to_string(),
            };
            let base = op.base.to_string();
            let record = self.record_mut(&base);
            match op.keyword {
                OperationKeyword::Append => record.appends.push(queued),
                OperationKeyword::Prepend => record.prepends.push(queued),
                OperationKeyword::Remove => record.removes.push(queued),
            }
            self.register_variant(&base);
            return;
        }
        if !parsing {
            let active = self.active_variants(name);
            let record = self.record_mut(name);
            record.appends.clear();
            record.prepends.clear();
            record.removes.clear();
            record.variants.clear();
            for variant in active {
                self.del_var(&variant);
            }
        }
        if name.contains(':') {
            self.register_variant(name);
        }
        self.record_mut(name).value = Some(value);
    }

    /// The variant variables of `name` whose suffix is active now.
    fn active_variants(&self, name: &str) -> Vec<String> {
        let Some(record) = self.record(name) else {
            return Vec::new();
        };
        if record.variants.is_empty() {
            return Vec::new();
        }
        let overrides = self.overrides();
        record
            .variants
            .iter()
            .filter(|(_, suffix)| {
                overrides.contains(suffix)
                    || (suffix.contains(':') && suffix.split(':').all(|w| overrides.contains(w)))
            })
            .map(|(v, _)| v.clone())
            .collect()
    }

    /// Registers `name` as a variant of each of its bases (§5.2).
    fn register_variant(&mut self, name: &str) {
        for (base, suffix) in overrides::variant_bases(name) {
            let entry = (name.to_string(), suffix.to_string());
            if self
                .record(base)
                .is_some_and(|r| r.variants.contains(&entry))
            {
                continue;
            }
            self.record_mut(base).variants.push(entry);
        }
    }

    /// `NAME ??= value`.
    pub fn set_weak_default(&mut self, name: &str, value: String) {
        self.record_mut(name).weak_default = Some(value);
        if name.contains(':') {
            self.register_variant(name);
        }
    }

    pub fn set_var_flag(&mut self, name: &str, flag: &str, value: FlagValue) {
        self.record_mut(name).set_flag(flag, value);
    }

    /// `NAME[flag] ??= value`.
    pub fn set_flag_weak_default(&mut self, name: &str, flag: &str, value: String) {
        self.record_mut(name).set_flag_weak_default(flag, value);
    }

    /// `d.delVarFlag` / `unset NAME[flag]`: the flag, and its weak default
    /// only if the flag had a real value (spec §8.2).
    pub fn del_var_flag(&mut self, name: &str, flag: &str) {
        let Some(record) = self.record(name) else {
            return;
        };
        if record.flag(flag).is_none() && record.flag_weak_default(flag).is_none() {
            return;
        }
        let record = self.record_mut(name);
        if record.remove_flag(flag).is_some() {
            record.flag_weak_defaults.retain(|(n, _)| n != flag);
        }
    }

    /// `unset NAME` / `d.delVar`: everything of the record, and its link
    /// from its bases' variant lists (§8.2).
    pub fn del_var(&mut self, name: &str) {
        self.invalidate(name);
        self.forget_object(name);
        self.local
            .insert(name.to_string(), Some(VarRecord::default()));
        for (base, suffix) in overrides::variant_bases(name) {
            let entry = (name.to_string(), suffix.to_string());
            if self
                .record(base)
                .is_some_and(|r| r.variants.contains(&entry))
            {
                self.record_mut(base).variants.retain(|e| *e != entry);
            }
        }
    }

    /// `d.appendVar`: an unconditional queued append (§3.6).
    pub fn append_var(&mut self, name: &str, text: String) {
        self.set_var_parse(&format!("{name}:append"), text);
    }

    /// `d.prependVar`: an unconditional queued prepend (§3.6).
    pub fn prepend_var(&mut self, name: &str, text: String) {
        self.set_var_parse(&format!("{name}:prepend"), text);
    }

    /// `d.renameVar` (§3.6): moves the raw value (parse-time), the queues
    /// and the variants; ordinary flags are lost.
    pub fn rename_var(&mut self, old: &str, new: &str) {
        if old == new {
            return;
        }
        let Some(record) = self.record(old).cloned() else {
            return;
        };
        let mut found = false;
        if let Some(value) = record.value.clone() {
            self.set_var_parse(new, value);
            found = true;
        }
        if !(record.appends.is_empty() && record.prepends.is_empty() && record.removes.is_empty()) {
            let target = self.record_mut(new);
            target.appends.extend(record.appends.iter().cloned());
            target.prepends.extend(record.prepends.iter().cloned());
            target.removes.extend(record.removes.iter().cloned());
            found = true;
        }
        if !record.variants.is_empty() {
            found = true;
            let renamed: Vec<(String, String)> = record
                .variants
                .iter()
                .map(|(v, o)| (v.replace(old, new), o.clone()))
                .collect();
            self.record_mut(new).variants = renamed;
            for (variant, _) in &record.variants {
                let target = variant.replace(old, new);
                self.rename_var(variant, &target);
            }
        }
        if !found {
            return;
        }
        if new.contains(':') && record.value.is_none() {
            self.register_variant(new);
        }
        self.del_var(old);
    }

    // ---- raw reads (parse time) ----

    /// The stored value only: no weak default, variants, queues or
    /// expansion (spec §4's raw(N)).
    pub fn raw_value(&self, name: &str) -> Option<&str> {
        self.record(name)?.value.as_deref()
    }

    /// A flag's stored value, without its weak default or expansion.
    pub fn raw_flag(&self, name: &str, flag: &str) -> Option<&FlagValue> {
        self.record(name)?.flag(flag)
    }

    /// Ordinary flags of `name` (those not starting with `_` or `:`), in
    /// insertion order, unexpanded.
    pub fn flags(&self, name: &str) -> Vec<(String, FlagValue)> {
        let Some(record) = self.record(name) else {
            return Vec::new();
        };
        let mut flags: Vec<(String, FlagValue)> = record
            .flags
            .iter()
            .filter(|(n, _)| !n.starts_with('_') && !n.starts_with(':'))
            .cloned()
            .collect();
        for (flag, default) in &record.flag_weak_defaults {
            if !flags.iter().any(|(n, _)| n == flag) {
                flags.push((flag.clone(), FlagValue::Text(default.clone())));
            }
        }
        flags
    }

    /// Drops the value of `name` (python's `d.setVar(name, None)`).
    pub fn clear_value(&mut self, name: &str) {
        if self.record(name).is_some_and(|r| r.value.is_some()) {
            self.record_mut(name).value = None;
        }
    }

    /// Whether BitBake's `keys()` lists `name`: its record holds anything,
    /// or one of its variants is active.
    pub fn has_content(&self, name: &str) -> bool {
        let Some(r) = self.record(name) else {
            return false;
        };
        let own = r.value.is_some()
            || r.weak_default.is_some()
            || !r.appends.is_empty()
            || !r.prepends.is_empty()
            || !r.removes.is_empty()
            || !r.flags.is_empty()
            || !r.flag_weak_defaults.is_empty();
        own || !self.active_variants(name).is_empty()
    }

    /// An internal list (BitBake keeps such bookkeeping in `__` variables:
    /// `__BBTASKS`, `__BBANONFUNCS`, `__inherit_cache`, ...).
    pub fn list_var(&self, name: &str) -> Vec<String> {
        match self.record(name).and_then(|r| r.flag("_list")) {
            Some(FlagValue::List(items)) => items.clone(),
            _ => Vec::new(),
        }
    }

    pub fn set_list_var(&mut self, name: &str, items: Vec<String>) {
        self.record_mut(name)
            .set_flag("_list", FlagValue::List(items));
    }

    /// A flag holding a list (`[deps]`), empty when unset.
    pub fn list_flag(&self, name: &str, flag: &str) -> Vec<String> {
        match self.raw_flag(name, flag) {
            Some(FlagValue::List(items)) => items.clone(),
            _ => Vec::new(),
        }
    }

    /// The active overrides, computed on demand (§5.1). When they never
    /// settle, the last list computed (reads report the error).
    pub fn overrides(&self) -> Arc<Overrides> {
        self.note_overrides_read();
        if let Some(cached) = &self.caches.borrow().overrides {
            return cached.clone();
        }
        self.compute_overrides()
    }
}

#[cfg(test)]
mod tests;
