//! Running a task graph (`bitzel build`): every task whose result is not
//! already in place or in the cache runs, shell tasks each in a sandbox,
//! in dependency order and in parallel; outputs are captured into the CAS
//! and recorded in the action cache.
//!
//! A task's cache key covers its base hash, its `[file-checksums]` files,
//! its `[nostamp]` taint and, for each task it depends on, the digest of
//! that task's *outputs*. So when a dependency runs again and produces
//! the same outputs, its dependents keep their keys and stay cached
//! (early cutoff; BitBake gets the same effect from its hash-equivalence
//! server). A task's outputs are the directories its `[dirs]` and
//! `[cleandirs]` name (its log directory `T` aside), as paths relative to
//! the build directory.
//!
//! A task is *current* when its stamp (`tmp/bitzel-stamps/PN/TASK`) names
//! its key: nothing is done. Otherwise a cached result is restored only
//! when something needs it: a task about to run needs its dependencies'
//! outputs, and the requested recipes' outputs are restored (as BitBake's
//! setscene restores the target's).
//!
//! With a remote cache ([`crate::remote`]), a task the local cache lacks
//! is looked up there (before the first task starts, in waves of
//! concurrent lookups, for every task whose key is known by then); a
//! remote result is treated as a cached one, and its blobs are
//! downloaded only when it is restored, together with the other results
//! restored at that moment. Results that cannot be downloaded are refused
//! and the build planned again, so their tasks run. What ran is uploaded.
//!
//! Invariants: a task runs only after all its dependencies succeeded; a
//! failed task records nothing (no stamp, no action result); the cache is
//! written only through the CAS's atomic operations.

mod interrupt;
pub mod runner;
pub mod script;
mod task;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cas::{Cache, Digest, RestoreMode, RestoreOptions, Verify, reapi};
use crate::datastore::{ConfigInput, DataStore, Evaluator};
use crate::graph::sigdata::{SigRecord, SigStore};
use crate::graph::taskhash::TaskHashInputs;
use crate::graph::{RecipeSet, TaskGraph, TaskId};
use crate::recipe::target::TargetEvaluator;
use crate::remote::{RemoteCache, RemoteConfig, RemoteStats};
use crate::sandbox::{Running, Sandbox};
use crate::signature::basehash::{RecipeSignatures, recipe_signatures};
use interrupt::Interrupt;
use task::{Started, start_task};

/// What `bitzel build` was asked.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Parallel tasks (0: one per core).
    pub jobs: usize,
    /// Run the requested tasks even when cached (`-f`).
    pub force: bool,
    /// Keep going after a failure with what does not depend on it (`-k`).
    pub keep_going: bool,
    /// Only say what would run (`-n`).
    pub dry_run: bool,
    /// The cache root (default `TOPDIR/cache`).
    pub cache_dir: Option<PathBuf>,
    /// A remote cache shared with other machines.
    pub remote: Option<RemoteConfig>,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// Its stamp named its key: nothing to do.
    Current,
    /// Its result came from the cache.
    Restored,
    /// Its result is in the cache but nothing needed it here.
    Cached,
    /// `[noexec]`: nothing to run.
    NoExec,
    Ran,
    /// `-n`: would run.
    WouldRun,
    Failed {
        log: PathBuf,
        message: String,
    },
    /// A dependency failed.
    NotRun,
    /// Stopped by SIGINT or SIGTERM while it ran; nothing recorded.
    Interrupted,
}

/// What a build did.
#[derive(Debug, Default)]
pub struct Summary {
    pub outcomes: Vec<(String, TaskOutcome)>,
    pub elapsed: Duration,
    /// What the remote cache did, when there is one.
    pub remote: Option<RemoteStats>,
    /// The signal (SIGINT, SIGTERM) that stopped the build early.
    pub interrupted: Option<i32>,
}

impl Summary {
    pub fn count(&self, f: impl Fn(&TaskOutcome) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, o)| f(o)).count()
    }

    pub fn failed(&self) -> bool {
        self.outcomes
            .iter()
            .any(|(_, o)| matches!(o, TaskOutcome::Failed { .. }))
    }
}

/// Progress events for the command line.
pub enum Event<'a> {
    Started {
        task: &'a str,
    },
    Finished {
        task: &'a str,
        outcome: &'a TaskOutcome,
    },
}

/// Why a build could not be carried out at all (a failing task is not an
/// error: it is in the summary).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Setup(String),
    #[error("cache: {0}")]
    Cache(#[from] crate::cas::CasError),
    /// A cached result turned out damaged while restoring; the build
    /// starts over without it.
    #[error("cached result {key} is damaged: {error}")]
    Damaged {
        key: Digest,
        error: crate::cas::CasError,
    },
    /// Results from the remote cache could not be brought in (a blob
    /// that does not match its digest, a server gone); the build starts
    /// over without them.
    #[error("remote results refused: {reason}")]
    RemoteRefused { keys: Vec<Digest>, reason: String },
}

/// Everything the scheduler reads: the graph and how to evaluate recipes.
pub struct BuildInput<'a> {
    pub topdir: &'a Path,
    pub evaluator: &'a Evaluator,
    pub input: &'a ConfigInput,
    pub set: &'a RecipeSet,
    pub graph: &'a TaskGraph,
    pub hashes: &'a [TaskHashInputs],
    /// `pn.do_task` of each task.
    pub names: &'a [String],
}

/// A recipe's datastore, evaluated once per build when a task of it runs.
struct Recipes<'a> {
    input: &'a BuildInput<'a>,
    targets: TargetEvaluator<'a>,
    done: HashMap<u32, DataStore>,
    /// Signature data, computed once per recipe (`None`: it failed).
    signatures: HashMap<u32, Option<RecipeSignatures>>,
}

impl Recipes<'_> {
    fn get(&mut self, recipe: u32) -> Result<&mut DataStore, String> {
        if !self.done.contains_key(&recipe) {
            let datastore = self.targets.evaluate(&self.input.set.recipe(recipe).file)?;
            self.done.insert(recipe, datastore);
        }
        self.done
            .get_mut(&recipe)
            .ok_or_else(|| "recipe not evaluated".to_string())
    }

    /// The recipe's signature data, for the records `bitzel explain`
    /// reads.
    fn signatures(&mut self, recipe: u32) -> Option<&RecipeSignatures> {
        if !self.signatures.contains_key(&recipe) {
            let computed = self
                .get(recipe)
                .ok()
                .and_then(|d| recipe_signatures(d).ok());
            self.signatures.insert(recipe, computed);
        }
        self.signatures.get(&recipe).and_then(Option::as_ref)
    }
}

/// A task's state while the build runs.
#[derive(Clone)]
enum State {
    Waiting,
    /// Key known, result in the cache, not restored. `remote`: the
    /// result is the remote cache's, its blobs not downloaded yet.
    Cached {
        key: Digest,
        result: Box<reapi::ActionResult>,
        remote: bool,
    },
    Done {
        outputs: Digest,
    },
    Failed,
}

/// The digest naming a task's outputs: its output directories' paths and
/// tree digests, in order.
fn outputs_digest(result: &reapi::ActionResult) -> Digest {
    let mut dirs: Vec<(String, String)> = result
        .output_directories
        .iter()
        .map(|o| {
            let tree = o
                .root_directory_digest
                .as_ref()
                .or(o.tree_digest.as_ref())
                .map(|d| format!("{}/{}", d.hash, d.size_bytes))
                .unwrap_or_default();
            (o.path.clone(), tree)
        })
        .collect();
    dirs.sort();
    let text: String = dirs.iter().map(|(p, t)| format!("{p}\0{t}\n")).collect();
    Digest::of_bytes(text.as_bytes())
}

/// What a dependency contributes to a task's key: its outputs, and the
/// files its `[file-checksums]` names. Those files are read by the tasks
/// after it without being anyone's output (BitBake's `do_unpack` reads
/// the `file://` sources `do_fetch` checksums), so their contents must
/// reach the next task's key even when the outputs do not change.
fn dependency_identity(outputs: &Digest, inputs: &TaskHashInputs) -> Digest {
    if inputs.files.is_empty() {
        return *outputs;
    }
    let mut text = format!("{outputs}\n");
    for file in &inputs.files {
        text.push_str(&format!("{} {}\n", file.clean_name(), file.md5));
    }
    Digest::of_bytes(text.as_bytes())
}

/// The task's cache key (see the module documentation).
fn task_key(inputs: &TaskHashInputs, deps: &[(String, Digest)], host: &Digest) -> Digest {
    let mut text = String::from("bitzel-task-v1\n");
    text.push_str(&format!("host {host}\n"));
    text.push_str(&inputs.basehash);
    text.push('\n');
    for file in &inputs.files {
        text.push_str(&format!("file {} {}\n", file.clean_name(), file.md5));
    }
    if let Some(taint) = &inputs.taint {
        text.push_str(&format!("taint {taint}\n"));
    }
    for (name, digest) in deps {
        text.push_str(&format!("dep {name} {digest}\n"));
    }
    Digest::of_bytes(text.as_bytes())
}

fn stamp_path(topdir: &Path, name: &str) -> Option<PathBuf> {
    let (pn, task) = name.rsplit_once('.')?;
    if pn.contains('/') || task.contains('/') || pn == ".." {
        return None;
    }
    Some(topdir.join("tmp/bitzel-stamps").join(pn).join(task))
}

/// The identity of the host tools (`HOSTTOOLS`): the SHA-256 of each
/// binary and of the compiler behind each compiler driver, so that a
/// toolchain upgrade changes every task key. Remembered in
/// `cache/bitzel/hosttools.json` with the tools' `stat`s, so an unchanged
/// host costs a `stat` per tool.
fn host_identity(topdir: &Path, hosttools: &str) -> Result<Digest, BuildError> {
    use std::os::unix::fs::MetadataExt;
    let names: Vec<String> = hosttools.split_whitespace().map(str::to_string).collect();
    let search = std::env::var_os("PATH").unwrap_or_default();
    let tools = crate::sandbox::hosttools::resolve(&names, &search)
        .map_err(|e| BuildError::Setup(format!("host tools: {e}")))?;
    let stats: Vec<String> = tools
        .iter()
        .map(|t| {
            let m = std::fs::metadata(&t.resolved).ok();
            format!(
                "{} {} {} {} {}",
                t.name,
                t.resolved.display(),
                m.as_ref().map_or(0, |m| m.size()),
                m.as_ref().map_or(0, |m| m.mtime()),
                m.as_ref().map_or(0, |m| m.ino())
            )
        })
        .collect();
    let memo_path = topdir.join("cache/bitzel/hosttools.json");
    let memo: Option<(Vec<String>, BTreeMap<String, String>)> = std::fs::read(&memo_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let identity = match memo {
        Some((seen, identity)) if seen == stats => identity,
        _ => {
            let identity = crate::sandbox::hosttools::identity(&names, &search)
                .map_err(|e| BuildError::Setup(format!("host tools: {e}")))?;
            if let Some(dir) = memo_path.parent() {
                let _ = std::fs::create_dir_all(dir);
                let temp = memo_path.with_extension(format!("tmp.{}", std::process::id()));
                if let Ok(bytes) = serde_json::to_vec(&(&stats, &identity))
                    && std::fs::write(&temp, bytes).is_ok()
                {
                    let _ = std::fs::rename(&temp, &memo_path);
                }
            }
            identity
        }
    };
    let text: String = identity.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    Ok(Digest::of_bytes(text.as_bytes()))
}

/// `KEY OUTPUTS` of the task's last successful run or restore here.
fn read_stamp(topdir: &Path, name: &str) -> Option<(String, Digest)> {
    let text = std::fs::read_to_string(stamp_path(topdir, name)?).ok()?;
    let (key, outputs) = text.trim().split_once(' ')?;
    Some((key.to_string(), outputs.parse().ok()?))
}

fn write_stamp(topdir: &Path, name: &str, key: &Digest, outputs: &Digest) -> std::io::Result<()> {
    let Some(path) = stamp_path(topdir, name) else {
        return Ok(());
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&temp, format!("{key} {outputs}\n"))?;
    std::fs::rename(&temp, &path)
}

/// A task running in a sandbox.
struct InFlight {
    id: TaskId,
    running: Running,
    key: Digest,
    log: PathBuf,
    outputs: Vec<PathBuf>,
    task_file: Option<PathBuf>,
    /// Its `[lockfiles]`, held (flock) until it ended.
    _locks: Vec<std::fs::File>,
}

/// The build directory-relative form of an output path (`None` when it is
/// outside the build directory and cannot be cached).
fn relative(topdir: &Path, path: &Path) -> Option<String> {
    path.strip_prefix(topdir)
        .ok()
        .map(|p| p.display().to_string())
        .filter(|p| !p.is_empty())
}

/// Runs the graph. `on_event` sees tasks start and finish. A damaged
/// cached result is dropped and the build planned again, so its task runs.
/// SIGINT and SIGTERM stop the build (see `interrupt.rs`): the running
/// tasks are killed and reported [`TaskOutcome::Interrupted`], and
/// [`Summary::interrupted`] names the signal.
pub fn build(
    input: &BuildInput,
    options: &BuildOptions,
    on_event: &mut dyn FnMut(Event),
) -> Result<Summary, BuildError> {
    let started = Instant::now();
    let cache_root = options
        .cache_dir
        .clone()
        .unwrap_or_else(|| input.topdir.join("cache"));
    let cache = Cache::open(&cache_root)?;
    // Held until the uploads finished too: gc must not remove what they
    // read.
    let _lock = cache.lock_shared()?;
    let remote = match &options.remote {
        Some(config) => {
            Some(RemoteCache::new(config.clone(), cache.clone()).map_err(BuildError::Setup)?)
        }
        None => None,
    };
    let interrupt = Interrupt::install();
    let result = build_attempts(input, options, remote.as_ref(), &interrupt, on_event);
    let remote_stats = remote.map(|remote| {
        remote.finish();
        remote.stats()
    });
    result.map(|outcomes| Summary {
        outcomes,
        elapsed: started.elapsed(),
        remote: remote_stats,
        interrupted: interrupt.received().map(|signal| signal as i32),
    })
}

/// Runs the graph until a plan goes through: a damaged cached result is
/// dropped, refused remote results are not offered again, and the build
/// is planned again, so that their tasks run.
fn build_attempts(
    input: &BuildInput,
    options: &BuildOptions,
    remote: Option<&RemoteCache>,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(Event),
) -> Result<Vec<(String, TaskOutcome)>, BuildError> {
    let mut attempts = 0;
    loop {
        match build_once(input, options, remote, interrupt, on_event) {
            Err(BuildError::RemoteRefused { keys, reason }) if attempts < input.graph.len() => {
                attempts += 1;
                eprintln!(
                    "warning: not using {} result(s) of the remote cache ({reason}); their tasks will run",
                    keys.len()
                );
                if let Some(remote) = remote {
                    for key in &keys {
                        remote.refuse(key);
                    }
                }
            }
            Err(BuildError::Damaged { key, error }) if attempts < input.graph.len() => {
                attempts += 1;
                eprintln!("warning: dropping a damaged cache entry ({error}); its task will run");
                let cache_root = options
                    .cache_dir
                    .clone()
                    .unwrap_or_else(|| input.topdir.join("cache"));
                Cache::open(&cache_root)?.remove_action_result(&key)?;
            }
            Ok(outcomes) => return Ok(outcomes),
            Err(error) => return Err(error),
        }
    }
}

/// One planned run of the graph: each task's name and outcome.
fn build_once(
    input: &BuildInput,
    options: &BuildOptions,
    remote: Option<&RemoteCache>,
    interrupt: &Interrupt,
    on_event: &mut dyn FnMut(Event),
) -> Result<Vec<(String, TaskOutcome)>, BuildError> {
    let topdir = input.topdir;
    let cache_root = options
        .cache_dir
        .clone()
        .unwrap_or_else(|| topdir.join("cache"));
    let cache = Cache::open(&cache_root)?;
    let _lock = cache.lock_shared()?;
    let sandbox = Sandbox::new().map_err(|e| BuildError::Setup(e.to_string()))?;
    let sigs = SigStore::new(topdir);
    let host = host_identity(
        topdir,
        input.set.config.get("HOSTTOOLS").map_or("", String::as_str),
    )?;
    let graph = input.graph;
    let n = graph.len();
    let jobs = if options.jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.jobs
    };
    let order = graph.topological_order();
    let mut dependents: Vec<Vec<TaskId>> = vec![Vec::new(); n];
    for t in 0..n as TaskId {
        for &d in graph.deps(t) {
            dependents[d as usize].push(t);
        }
    }
    let requested_recipes: Vec<u32> = graph
        .roots
        .iter()
        .map(|&r| graph.tasks[r as usize].recipe)
        .collect();
    let forced: Vec<TaskId> = if options.force {
        graph.roots.clone()
    } else {
        Vec::new()
    };

    // Tasks with network access (do_fetch) ask the remote cache for
    // downloads before the network (Remote Asset), from their sandboxes,
    // through this socket; bitzel's process does the RPCs.
    let downloads = match remote {
        Some(remote) if !options.dry_run => {
            let dir = cache_root.join("bitzel/downloads");
            let socket = dir.join(format!("{}.sock", std::process::id()));
            match crate::datastore::python::DownloadServer::start(
                &socket,
                &dir.join("scratch"),
                std::sync::Arc::new(remote.clone()),
            ) {
                Ok(server) => Some(server),
                Err(e) => {
                    eprintln!("warning: downloads are not shared through the remote cache: {e}");
                    None
                }
            }
        }
        _ => None,
    };
    let downloads_socket = downloads.as_ref().map(|server| server.socket());

    let mut recipes = Recipes {
        input,
        targets: TargetEvaluator::new(input.evaluator, input.input),
        done: HashMap::new(),
        signatures: HashMap::new(),
    };
    let mut state: Vec<State> = vec![State::Waiting; n];
    let mut outcomes: Vec<Option<TaskOutcome>> = vec![None; n];
    let mut in_flight: Vec<InFlight> = Vec::new();
    let mut stop = false;
    let mut prefetched = match remote {
        Some(remote) => remote_prefetch(input, &cache, &host, &forced, remote)?,
        None => Prefetched::default(),
    };

    // Tasks are taken in topological order; a task whose dependencies are
    // not all finished waits for the running ones.
    let mut next = 0usize;
    loop {
        if interrupt.received().is_some() {
            stop = true;
        }
        // Start whatever is ready, up to the job limit.
        while next < order.len() && !stop {
            let id = order[next];
            let deps = graph.deps(id);
            let mut dep_outputs: Vec<(String, Digest)> = Vec::new();
            let mut blocked = false;
            let mut failed_dep = false;
            for &d in deps {
                match &state[d as usize] {
                    State::Done { outputs } => {
                        dep_outputs.push((
                            input.names[d as usize].clone(),
                            dependency_identity(outputs, &input.hashes[d as usize]),
                        ));
                    }
                    State::Cached { result, .. } => {
                        dep_outputs.push((
                            input.names[d as usize].clone(),
                            dependency_identity(&outputs_digest(result), &input.hashes[d as usize]),
                        ));
                    }
                    State::Failed => failed_dep = true,
                    State::Waiting => blocked = true,
                }
            }
            if failed_dep {
                state[id as usize] = State::Failed;
                record_outcome(
                    &mut state,
                    &mut outcomes,
                    id,
                    TaskOutcome::NotRun,
                    on_event,
                    &input.names[id as usize],
                );
                next += 1;
                continue;
            }
            if blocked {
                break;
            }
            dep_outputs.sort();
            let name = input.names[id as usize].clone();
            let key = task_key(&input.hashes[id as usize], &dep_outputs, &host);
            let is_forced = forced.contains(&id);
            if !is_forced
                && input.hashes[id as usize].taint.is_none()
                && let Some((stamp_key, outputs)) = read_stamp(topdir, &name)
                && stamp_key == key.to_string()
            {
                state[id as usize] = State::Done { outputs };
                record_outcome(
                    &mut state,
                    &mut outcomes,
                    id,
                    TaskOutcome::Current,
                    on_event,
                    &input.names[id as usize],
                );
                next += 1;
                continue;
            }
            let noexec = is_noexec(input, id);
            let cacheable = !is_forced && input.hashes[id as usize].taint.is_none();
            let local_result = if cacheable {
                cache.get_action_result(&key)?.map(|r| (r, false))
            } else {
                None
            };
            // Then the remote cache (not for noexec tasks: they cost
            // nothing).
            let found = match (local_result, remote) {
                (Some(found), _) => Some(found),
                (None, Some(remote)) if cacheable && !noexec => {
                    match prefetched.results.remove(&key) {
                        Some(result) => Some(result),
                        None if prefetched.asked.contains(&key) => None,
                        None => remote.lookup(&[key]).pop().flatten(),
                    }
                    .map(|r| (r, true))
                }
                _ => None,
            };
            if let Some((result, from_remote)) = found {
                state[id as usize] = State::Cached {
                    key,
                    result: Box::new(result),
                    remote: from_remote,
                };
                record_outcome(
                    &mut state,
                    &mut outcomes,
                    id,
                    TaskOutcome::Cached,
                    on_event,
                    &input.names[id as usize],
                );
                next += 1;
                continue;
            }
            if options.dry_run {
                state[id as usize] = State::Done {
                    outputs: Digest::of_bytes(name.as_bytes()),
                };
                record_outcome(
                    &mut state,
                    &mut outcomes,
                    id,
                    TaskOutcome::WouldRun,
                    on_event,
                    &input.names[id as usize],
                );
                next += 1;
                continue;
            }
            if noexec {
                // Nothing to run, so nothing to put in place first.
                let outputs = record_noexec(&cache, topdir, &name, &key)?;
                state[id as usize] = State::Done { outputs };
                record_outcome(
                    &mut state,
                    &mut outcomes,
                    id,
                    TaskOutcome::NoExec,
                    on_event,
                    &name,
                );
                next += 1;
                continue;
            }
            if in_flight.len() >= jobs {
                break;
            }
            // `[lockfiles]`: BitBake holds them for the task's duration, so
            // tasks naming the same file never run at once, in this build
            // or another process. One held elsewhere: wait for it.
            let locks = match task::take_lockfiles(input, &mut recipes, id) {
                Ok(Some(locks)) => locks,
                Ok(None) => {
                    if in_flight.is_empty() {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    break;
                }
                Err(message) => {
                    eprintln!("warning: {name}: {message}");
                    Vec::new()
                }
            };
            // It must run: its dependencies' outputs must be in place,
            // downloaded first if they are the remote cache's.
            fetch_remote(remote, &mut state, deps)?;
            for &d in deps {
                if let State::Cached { key, result, .. } = state[d as usize].clone() {
                    restore(&cache, topdir, &input.names[d as usize], &key, &result)?;
                    state[d as usize] = State::Done {
                        outputs: outputs_digest(&result),
                    };
                    record_outcome(
                        &mut state,
                        &mut outcomes,
                        d,
                        TaskOutcome::Restored,
                        on_event,
                        &input.names[d as usize],
                    );
                }
            }
            // ([noexec] tasks were settled above.)
            on_event(Event::Started { task: &name });
            // From here on its outputs change: a stamp from an earlier
            // run (kept by -f) must not survive an interrupted one.
            if let Some(stamp) = stamp_path(topdir, &name) {
                let _ = std::fs::remove_file(stamp);
            }
            match start_task(input, &mut recipes, &sandbox, downloads_socket, id, &name) {
                Ok(Started::NoExec) => {
                    let outputs = record_noexec(&cache, topdir, &name, &key)?;
                    state[id as usize] = State::Done { outputs };
                    record_outcome(
                        &mut state,
                        &mut outcomes,
                        id,
                        TaskOutcome::NoExec,
                        on_event,
                        &input.names[id as usize],
                    );
                }
                Ok(Started::Running(launched)) => {
                    let launched = *launched;
                    in_flight.push(InFlight {
                        id,
                        running: launched.running,
                        key,
                        log: launched.log,
                        outputs: launched.outputs,
                        task_file: launched.task_file,
                        _locks: locks,
                    });
                }
                Err((log, message)) => {
                    let outcome = TaskOutcome::Failed { log, message };
                    record_outcome(&mut state, &mut outcomes, id, outcome, on_event, &name);
                    if !options.keep_going {
                        stop = true;
                    }
                }
            }
            next += 1;
        }
        if in_flight.is_empty() {
            break;
        }
        // Wait for one running task to finish.
        let mut finished = None;
        while finished.is_none() {
            if interrupt.received().is_some() {
                stop_all(
                    input,
                    &cache,
                    remote,
                    &sigs,
                    &mut recipes,
                    &mut state,
                    &mut outcomes,
                    std::mem::take(&mut in_flight),
                    on_event,
                )?;
                stop = true;
                break;
            }
            for (i, flight) in in_flight.iter_mut().enumerate() {
                if let Some(status) = flight
                    .running
                    .try_wait()
                    .map_err(|e| BuildError::Setup(e.to_string()))?
                {
                    finished = Some((i, status));
                    break;
                }
            }
            if finished.is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let Some((i, status)) = finished else { break };
        let flight = in_flight.swap_remove(i);
        let outcome = ended(
            input,
            &cache,
            remote,
            &sigs,
            &mut recipes,
            &mut state,
            &flight,
            status,
        )?;
        if matches!(outcome, TaskOutcome::Failed { .. }) && !options.keep_going {
            stop = true;
        }
        record_outcome(
            &mut state,
            &mut outcomes,
            flight.id,
            outcome,
            on_event,
            &input.names[flight.id as usize],
        );
    }

    // The requested recipes' results are put in place, as BitBake's
    // setscene restores the target's.
    if !options.dry_run && !stop {
        let wanted: Vec<TaskId> = order
            .iter()
            .copied()
            .filter(|&id| requested_recipes.contains(&graph.tasks[id as usize].recipe))
            .collect();
        // One download for all of them.
        fetch_remote(remote, &mut state, &wanted)?;
        for id in wanted {
            if let State::Cached { key, result, .. } = state[id as usize].clone() {
                restore(&cache, topdir, &input.names[id as usize], &key, &result)?;
                state[id as usize] = State::Done {
                    outputs: outputs_digest(&result),
                };
                record_outcome(
                    &mut state,
                    &mut outcomes,
                    id,
                    TaskOutcome::Restored,
                    on_event,
                    &input.names[id as usize],
                );
            }
        }
    }
    Ok((0..n)
        .map(|i| {
            (
                input.names[i].clone(),
                outcomes[i].clone().unwrap_or(TaskOutcome::NotRun),
            )
        })
        .collect())
}

fn is_noexec(input: &BuildInput, id: TaskId) -> bool {
    let node = &input.graph.tasks[id as usize];
    input.set.recipe(node.recipe).info.tasks[node.task as usize]
        .flag("noexec")
        .is_some_and(|v| !v.is_empty() && v != "0")
}

/// Records a `[noexec]` task's (empty) result and stamp; returns its
/// outputs digest.
fn record_noexec(
    cache: &Cache,
    topdir: &Path,
    name: &str,
    key: &Digest,
) -> Result<Digest, BuildError> {
    let result = reapi::ActionResult::default();
    cache.put_action_result(key, &result)?;
    let outputs = outputs_digest(&result);
    let _ = write_stamp(topdir, name, key, &outputs);
    Ok(outputs)
}

/// The remote results found before the build started, and every key
/// asked (hit or miss), so that nothing is asked twice.
#[derive(Default)]
struct Prefetched {
    results: HashMap<Digest, reapi::ActionResult>,
    asked: HashSet<Digest>,
}

/// Asks the remote cache, in waves of concurrent lookups, for every task
/// whose key can be known before anything runs: a task's key needs its
/// dependencies' outputs, known from their stamps, the local cache, the
/// remote cache (an earlier wave) or, for `[noexec]` tasks, without
/// anything. A task missed everywhere stops the walk below it: its
/// outputs are known only once it ran. So a build whose results are all
/// remote costs one round trip per level of the graph, not per task.
fn remote_prefetch(
    input: &BuildInput,
    cache: &Cache,
    host: &Digest,
    forced: &[TaskId],
    remote: &RemoteCache,
) -> Result<Prefetched, BuildError> {
    let graph = input.graph;
    let order = graph.topological_order();
    let n = graph.len();
    // Each task's outputs digest once settled; `None` when unknowable.
    let mut outputs: Vec<Option<Digest>> = vec![None; n];
    let mut settled = vec![false; n];
    let mut prefetched = Prefetched::default();
    loop {
        let mut wave: Vec<(TaskId, Digest)> = Vec::new();
        for &id in &order {
            let i = id as usize;
            if settled[i] {
                continue;
            }
            let mut deps = Vec::new();
            let mut ready = true;
            let mut unknowable = false;
            for &d in graph.deps(id) {
                let d = d as usize;
                match (settled[d], outputs[d]) {
                    (true, Some(o)) => deps.push((
                        input.names[d].clone(),
                        dependency_identity(&o, &input.hashes[d]),
                    )),
                    (true, None) => unknowable = true,
                    (false, _) => ready = false,
                }
            }
            if unknowable || forced.contains(&id) || input.hashes[i].taint.is_some() {
                settled[i] = true;
                continue;
            }
            if !ready {
                continue;
            }
            deps.sort();
            let key = task_key(&input.hashes[i], &deps, host);
            if let Some((stamp_key, stamped)) = read_stamp(input.topdir, &input.names[i])
                && stamp_key == key.to_string()
            {
                outputs[i] = Some(stamped);
                settled[i] = true;
            } else if let Some(result) = cache.get_action_result(&key)? {
                outputs[i] = Some(outputs_digest(&result));
                settled[i] = true;
            } else if is_noexec(input, id) {
                outputs[i] = Some(outputs_digest(&reapi::ActionResult::default()));
                settled[i] = true;
            } else {
                wave.push((id, key));
            }
        }
        if wave.is_empty() {
            return Ok(prefetched);
        }
        let keys: Vec<Digest> = wave.iter().map(|(_, key)| *key).collect();
        for ((id, key), result) in wave.into_iter().zip(remote.lookup(&keys)) {
            settled[id as usize] = true;
            prefetched.asked.insert(key);
            if let Some(result) = result {
                outputs[id as usize] = Some(outputs_digest(&result));
                prefetched.results.insert(key, result);
            }
        }
    }
}

/// Brings into the local cache the blobs of those of `ids` whose cached
/// result is the remote cache's, in one download, so that they restore
/// as local results. Results that cannot be brought in are refused
/// ([`BuildError::RemoteRefused`]), each found by trying alone.
fn fetch_remote(
    remote: Option<&RemoteCache>,
    state: &mut [State],
    ids: &[TaskId],
) -> Result<(), BuildError> {
    let pending: Vec<(TaskId, Digest, reapi::ActionResult)> = ids
        .iter()
        .filter_map(|&id| match &state[id as usize] {
            State::Cached {
                key,
                result,
                remote: true,
            } => Some((id, *key, (**result).clone())),
            _ => None,
        })
        .collect();
    if pending.is_empty() {
        return Ok(());
    }
    let pairs: Vec<(Digest, reapi::ActionResult)> = pending
        .iter()
        .map(|(_, key, result)| (*key, result.clone()))
        .collect();
    let outcome = match remote {
        Some(remote) => remote.download(&pairs),
        None => Err("no remote cache".to_string()),
    };
    if let Err(reason) = outcome {
        let refused: Vec<Digest> = match remote {
            Some(remote) if pairs.len() > 1 => pairs
                .iter()
                .filter(|pair| remote.download(std::slice::from_ref(pair)).is_err())
                .map(|(key, _)| *key)
                .collect(),
            _ => pairs.iter().map(|(key, _)| *key).collect(),
        };
        if !refused.is_empty() {
            return Err(BuildError::RemoteRefused {
                keys: refused,
                reason,
            });
        }
    }
    for (id, _, _) in pending {
        if let State::Cached { remote, .. } = &mut state[id as usize] {
            *remote = false;
        }
    }
    Ok(())
}

/// A task's outcome once its sandbox reported `status`: a success is
/// captured and recorded (see [`finish`]).
#[allow(clippy::too_many_arguments)]
fn ended(
    input: &BuildInput,
    cache: &Cache,
    remote: Option<&RemoteCache>,
    sigs: &SigStore,
    recipes: &mut Recipes,
    state: &mut [State],
    flight: &InFlight,
    status: std::process::ExitStatus,
) -> Result<TaskOutcome, BuildError> {
    if !status.success() {
        return Ok(TaskOutcome::Failed {
            log: flight.log.clone(),
            message: format!("{status}"),
        });
    }
    let (outcome, digest) = finish(
        input,
        cache,
        remote,
        sigs,
        recipes,
        flight.id,
        &flight.key,
        &flight.outputs,
    )?;
    state[flight.id as usize] = State::Done { outputs: digest };
    if let Some(file) = &flight.task_file {
        let _ = std::fs::remove_file(file);
    }
    Ok(outcome)
}

/// After SIGINT or SIGTERM: kills every running task (each sandbox's
/// whole pid namespace) and waits for them. A task that had finished
/// successfully in the meantime keeps its result; the others are
/// [`TaskOutcome::Interrupted`] and record nothing.
#[allow(clippy::too_many_arguments)]
fn stop_all(
    input: &BuildInput,
    cache: &Cache,
    remote: Option<&RemoteCache>,
    sigs: &SigStore,
    recipes: &mut Recipes,
    state: &mut [State],
    outcomes: &mut [Option<TaskOutcome>],
    mut in_flight: Vec<InFlight>,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), BuildError> {
    for flight in &mut in_flight {
        let _ = flight.running.kill();
    }
    for mut flight in in_flight {
        let outcome = match flight.running.wait() {
            Ok(status) if status.success() => {
                ended(input, cache, remote, sigs, recipes, state, &flight, status)?
            }
            _ => TaskOutcome::Interrupted,
        };
        if outcome == TaskOutcome::Interrupted {
            state[flight.id as usize] = State::Failed;
        }
        record_outcome(
            state,
            outcomes,
            flight.id,
            outcome,
            on_event,
            &input.names[flight.id as usize],
        );
    }
    Ok(())
}

fn record_outcome(
    state: &mut [State],
    outcomes: &mut [Option<TaskOutcome>],
    id: TaskId,
    outcome: TaskOutcome,
    on_event: &mut dyn FnMut(Event),
    name: &str,
) {
    if matches!(outcome, TaskOutcome::Failed { .. }) {
        state[id as usize] = State::Failed;
    }
    on_event(Event::Finished {
        task: name,
        outcome: &outcome,
    });
    outcomes[id as usize] = Some(outcome);
}

/// Restores a cached result's output directories (replacing what is
/// there) and stamps the task.
fn restore(
    cache: &Cache,
    topdir: &Path,
    name: &str,
    key: &Digest,
    result: &reapi::ActionResult,
) -> Result<(), BuildError> {
    let options = RestoreOptions {
        mode: RestoreMode::Copy,
        verify: Verify::Metadata,
    };
    for output in &result.output_directories {
        let dest = topdir.join(&output.path);
        if dest.exists() {
            std::fs::remove_dir_all(&dest)
                .map_err(|e| BuildError::Setup(format!("cannot clear {}: {e}", dest.display())))?;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                BuildError::Setup(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        cache
            .restore_output_directory(output, topdir, &options)
            .map_err(|error| {
                // The output directory is now half restored: no stamp of
                // the recipe can be trusted any more.
                if let Some((pn, _)) = name.rsplit_once('.')
                    && let Some(dir) = stamp_path(topdir, name).and_then(|p| {
                        p.parent()
                            .filter(|d| d.ends_with(pn))
                            .map(Path::to_path_buf)
                    })
                {
                    let _ = std::fs::remove_dir_all(dir);
                }
                if error.is_cache_damage() {
                    BuildError::Damaged { key: *key, error }
                } else {
                    BuildError::Cache(error)
                }
            })?;
    }
    let _ = write_stamp(topdir, name, key, &outputs_digest(result));
    Ok(())
}

/// After a successful run: captures the outputs, records the result, the
/// stamp and the signature.
#[allow(clippy::too_many_arguments)]
fn finish(
    input: &BuildInput,
    cache: &Cache,
    remote: Option<&RemoteCache>,
    sigs: &SigStore,
    recipes: &mut Recipes,
    id: TaskId,
    key: &Digest,
    outputs: &[PathBuf],
) -> Result<(TaskOutcome, Digest), BuildError> {
    let name = &input.names[id as usize];
    let mut result = reapi::ActionResult::default();
    for dir in outputs {
        let Some(rel) = relative(input.topdir, dir) else {
            continue;
        };
        if !dir.is_dir() {
            continue;
        }
        let captured = cache.capture(dir)?;
        result
            .output_directories
            .push(cache.output_directory(&rel, &captured.root)?);
    }
    result.exit_code = 0;
    cache.put_action_result(key, &result)?;
    // Shared, unless tainted ([nostamp]): such a key never hits.
    if let Some(remote) = remote
        && input.hashes[id as usize].taint.is_none()
    {
        remote.upload(key, &result);
    }
    let outputs = outputs_digest(&result);
    let _ = write_stamp(input.topdir, name, key, &outputs);
    // The signature as it ran, for `bitzel explain`.
    let node = &input.graph.tasks[id as usize];
    let task_name = &input.set.recipe(node.recipe).info.tasks[node.task as usize].name;
    if let Some(signatures) = recipes.signatures(node.recipe) {
        let _ = sigs.save(&SigRecord {
            task: name.clone(),
            inputs: input.hashes[id as usize].clone(),
            values: signatures.task_values(task_name),
        });
    }
    Ok((TaskOutcome::Ran, outputs))
}
