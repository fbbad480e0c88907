//! Results of inline python (`${@...}`) remembered with what they read.
//!
//! A parse of oe-core evaluates about 380,000 inline expressions, but
//! only about 3,100 distinct ones: the same `${@bb.utils.contains(...)}`
//! of `bitbake.conf` or a class, in every recipe, and again in one recipe
//! after every write empties the expansion cache. An evaluation's result
//! depends on the code, on what it reads from `d`, and on the metadata's
//! python globals (`def` functions). So each evaluation is recorded with
//! the reads it made through `d` (name, arguments, what came back); a
//! later evaluation of the same code first replays those reads against
//! its own datastore, in Rust, and when every one returns the same the
//! remembered result is the answer, without entering python.
//!
//! Invariants:
//! - Only evaluations that did nothing but the reads below are kept: one
//!   that wrote to `d` (even a python object, which the read-only `d`
//!   allows), copied it, listed its keys, read a python object back or
//!   saw an error is not remembered.
//! - A `def` function redefined with other code, a library added, or any
//!   change we cannot name forgets every entry; a new name defined
//!   forgets the entries of code that mentions it.
//! - No lock is held while python runs or a datastore is read (either may
//!   come back here on another thread holding the interpreter).
//!
//! Python's own state outside `d` and the globals (module attributes,
//! files, the clock) is taken to be what it was: within one parse it is,
//! and BitBake's parser processes share no more of it than that.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use rustc_hash::FxHashMap;

use crate::datastore::{DataStore, ExpansionError, FlagValue};

/// What `d.getVar` returns, short of python objects stored by python.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VarValue {
    Text(Option<String>),
    /// BitBake's list-valued bookkeeping (`__inherit_cache`, ...).
    List(Vec<String>),
}

/// How `d.getVar` reads: expanded, unexpanded, or the raw value while
/// parsing (`parsing=True`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarMode {
    Expanded,
    Unexpanded,
    Parsing,
}

/// Names BitBake keeps as python lists (bookkeeping, spec §11-§12).
pub(crate) fn is_list_var(name: &str) -> bool {
    name.starts_with("__")
}

/// `d.getVar(name, ...)` for everything but a stored python object.
pub(crate) fn read_var(
    store: &DataStore,
    name: &str,
    mode: VarMode,
) -> Result<VarValue, ExpansionError> {
    if is_list_var(name)
        && let Some(FlagValue::List(items)) = store.record(name).and_then(|r| r.flag("_list"))
    {
        return Ok(VarValue::List(items.clone()));
    }
    Ok(VarValue::Text(match mode {
        VarMode::Parsing => {
            store.note_read(name);
            store.raw_value(name).map(str::to_string)
        }
        VarMode::Expanded => store.get_var(name)?,
        VarMode::Unexpanded => store.get_var_unexpanded(name)?,
    }))
}

/// `d.getVarFlag(name, flag, expand, noweakdefault)` for a flag other
/// than `_content` (which reads the variable).
pub(crate) fn read_flag(
    store: &DataStore,
    name: &str,
    flag: &str,
    expand: bool,
    noweakdefault: bool,
) -> Result<Option<FlagValue>, ExpansionError> {
    store.note_read(name);
    let Some(record) = store.record(name) else {
        return Ok(None);
    };
    Ok(match record.flag(flag) {
        Some(FlagValue::Text(text)) if expand => Some(FlagValue::Text(
            store.expand_guarded(text, &format!("{name}[{flag}]"))?,
        )),
        Some(value) => Some(value.clone()),
        None if noweakdefault => None,
        None => match record.flag_weak_default(flag) {
            Some(default) if expand => Some(FlagValue::Text(store.expand(default)?)),
            Some(default) => Some(FlagValue::Text(default.to_string())),
            None => None,
        },
    })
}

/// One read of the datastore by inline python and what it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    Var {
        name: Box<str>,
        mode: VarMode,
        value: VarValue,
    },
    Flag {
        name: Box<str>,
        flag: Box<str>,
        expand: bool,
        noweakdefault: bool,
        value: Option<FlagValue>,
    },
    Expand {
        text: Box<str>,
        varname: Box<str>,
        value: String,
    },
    Contains {
        name: Box<str>,
        value: bool,
    },
}

impl Read {
    /// Whether `store` gives the same answer.
    fn holds(&self, store: &DataStore) -> bool {
        match self {
            Read::Var { name, mode, value } => {
                store.object(name).is_none() && read_var(store, name, *mode).as_ref() == Ok(value)
            }
            Read::Flag {
                name,
                flag,
                expand,
                noweakdefault,
                value,
            } => read_flag(store, name, flag, *expand, *noweakdefault).as_ref() == Ok(value),
            Read::Expand {
                text,
                varname,
                value,
            } => store.expand_guarded(text, varname).as_ref() == Ok(value),
            Read::Contains { name, value } => {
                store.note_read(name);
                store.has_content(name) == *value
            }
        }
    }
}

/// The reads of one evaluation in progress.
struct Frame {
    /// The datastore the evaluation reads (compared, never dereferenced).
    store: *const DataStore,
    reads: Vec<Read>,
    /// False once the evaluation did anything other than a recorded read.
    pure: bool,
}

thread_local! {
    /// Evaluations in progress on this thread, innermost last (inline
    /// python reading a variable may evaluate other inline python).
    static FRAMES: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
}

/// Notes a read of `store` by the evaluation in progress, if any.
pub(crate) fn note(store: &DataStore, read: impl FnOnce() -> Read) {
    FRAMES.with_borrow_mut(|frames| {
        if let Some(frame) = frames.last_mut() {
            if std::ptr::eq(frame.store, store) {
                if frame.pure {
                    frame.reads.push(read());
                }
            } else {
                frame.pure = false;
            }
        }
    });
}

/// Notes that the evaluation in progress did something other than a
/// read this module replays: it will not be remembered.
pub(crate) fn taint() {
    FRAMES.with_borrow_mut(|frames| {
        if let Some(frame) = frames.last_mut() {
            frame.pure = false;
        }
    });
}

/// What an evaluation read, to remember its result by.
pub(crate) struct Recording {
    reads: Vec<Read>,
    /// How many changes to the globals had been made when it started.
    changes_before: usize,
}

/// Runs `evaluate` recording its reads of `store`; gives them back if it
/// did nothing else.
pub(crate) fn record<R>(store: &DataStore, evaluate: impl FnOnce() -> R) -> (R, Option<Recording>) {
    let changes_before = CHANGES.lock().unwrap_or_else(PoisonError::into_inner).len();
    FRAMES.with_borrow_mut(|frames| {
        frames.push(Frame {
            store,
            reads: Vec::new(),
            pure: true,
        })
    });
    let result = evaluate();
    let frame = FRAMES.with_borrow_mut(|frames| frames.pop());
    let recording = frame.filter(|f| f.pure).map(|f| Recording {
        reads: f.reads,
        changes_before,
    });
    (result, recording)
}

/// A change to the metadata's python globals.
enum Change {
    /// A name defined that was not defined before.
    Defined(Box<str>),
    /// A redefinition, a library, or anything else.
    Any,
}

/// Every change so far; an entry is checked against those after it.
static CHANGES: LazyLock<Mutex<Vec<Change>>> = LazyLock::new(Mutex::default);

/// How many changes other than new names so far (readable without the
/// lock).
static VERSION: AtomicU64 = AtomicU64::new(0);

/// A number that changes whenever the metadata's python globals change
/// other than by a new name. A new name can only change what code that
/// looked the name up sees, and inline python looks an unknown name up
/// as a variable (`d.getVar(name)`), which a `def` writes: the values
/// that did are dropped by that write.
pub fn globals_version() -> u64 {
    VERSION.load(Ordering::Acquire)
}

/// Notes a change to the metadata's python globals: `Some(name)` for a
/// name newly defined, `None` for any other.
pub fn context_changed(new_name: Option<&str>) {
    let change = match new_name {
        Some(name) => Change::Defined(name.into()),
        None => {
            VERSION.fetch_add(1, Ordering::AcqRel);
            Change::Any
        }
    };
    CHANGES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(change);
}

struct Entry {
    reads: Box<[Read]>,
    value: String,
    /// How many changes of [`CHANGES`] the entry is known to survive.
    checked: AtomicUsize,
}

#[derive(Default)]
struct Code {
    /// The names the code's bytecode mentions (`co_names`, nested code
    /// included): a new global of another name cannot change its result.
    names: Arc<[Box<str>]>,
    /// Most recent first.
    entries: Vec<Arc<Entry>>,
}

/// Entries kept per distinct code: the variants of a recipe (target,
/// native, nativesdk) and the few configurations a value takes.
const ENTRIES_PER_CODE: usize = 8;

static MEMO: LazyLock<Mutex<FxHashMap<Box<str>, Code>>> = LazyLock::new(Mutex::default);

/// Counts for benchmarks and tests: remembered results used, evaluations
/// run and remembered, evaluations run and not remembered.
static HITS: AtomicU64 = AtomicU64::new(0);
static KEPT: AtomicU64 = AtomicU64::new(0);
static NOT_KEPT: AtomicU64 = AtomicU64::new(0);

/// `(hits, evaluations remembered, evaluations not remembered)` so far in
/// this process.
pub fn stats() -> (u64, u64, u64) {
    (
        HITS.load(Ordering::Relaxed),
        KEPT.load(Ordering::Relaxed),
        NOT_KEPT.load(Ordering::Relaxed),
    )
}

/// Whether no change since the entry's last check can affect code that
/// mentions `names`.
fn survives_changes(entry: &Entry, names: &[Box<str>]) -> bool {
    let changes = CHANGES.lock().unwrap_or_else(PoisonError::into_inner);
    let from = entry.checked.load(Ordering::Relaxed);
    if from == changes.len() {
        return true;
    }
    let affected = changes[from..].iter().any(|change| match change {
        Change::Any => true,
        Change::Defined(name) => names.binary_search(name).is_ok(),
    });
    if !affected {
        entry.checked.store(changes.len(), Ordering::Relaxed);
    }
    !affected
}

/// The remembered result of `code` whose reads all hold in `store`.
pub(crate) fn lookup(code: &str, store: &DataStore) -> Option<String> {
    let (names, entries) = {
        let memo = MEMO.lock().unwrap_or_else(PoisonError::into_inner);
        let known = memo.get(code)?;
        (known.names.clone(), known.entries.clone())
    };
    let hit = entries.iter().find(|entry| {
        survives_changes(entry, &names) && entry.reads.iter().all(|read| read.holds(store))
    })?;
    HITS.fetch_add(1, Ordering::Relaxed);
    Some(hit.value.clone())
}

/// Remembers that `code`, as `recording` saw it (`None`: it did more
/// than read), gave `value`. `names` gives the code's global names when
/// the code is new here; it is called without any lock held.
pub(crate) fn remember(
    code: &str,
    recording: Option<Recording>,
    value: &str,
    names: impl FnOnce() -> Option<Vec<String>>,
) {
    let Some(Recording {
        reads,
        changes_before,
    }) = recording
    else {
        NOT_KEPT.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let known = MEMO
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .contains_key(code);
    let names: Option<Arc<[Box<str>]>> = if known {
        None
    } else {
        let Some(mut names) = names() else {
            NOT_KEPT.fetch_add(1, Ordering::Relaxed);
            return;
        };
        names.sort();
        names.dedup();
        Some(names.into_iter().map(String::into_boxed_str).collect())
    };
    let entry = Arc::new(Entry {
        reads: reads.into_boxed_slice(),
        value: value.to_string(),
        // A change made while the evaluation ran is checked at its next use.
        checked: AtomicUsize::new(changes_before),
    });
    let mut memo = MEMO.lock().unwrap_or_else(PoisonError::into_inner);
    let slot = memo.entry(code.into()).or_default();
    if let Some(names) = names {
        slot.names = names;
    }
    slot.entries.insert(0, entry);
    slot.entries.truncate(ENTRIES_PER_CODE);
    KEPT.fetch_add(1, Ordering::Relaxed);
}
