//! Parsing every recipe of the configured layers, with a parse cache.
//!
//! The cache (BitBake's `bb_cache.dat`, but keyed by content) remembers,
//! for each recipe, its targets and how each ended, and every file its
//! evaluation depended on: the files it read and the paths it searched
//! (`__depends`, with the configuration's `__base_depends`). An entry is
//! reused while the SHA-256 of each of those files (or their absence) is
//! unchanged, the environment that reaches the datastore is unchanged, and
//! the same files are collected; a changed file re-evaluates exactly the
//! recipes that depended on it. The configuration is parsed only when some
//! recipe has to be.
//!
//! Recipes are spread over the calling thread and worker processes
//! ([`super::parse_worker`]); each target is reduced to its result (with
//! its task signatures) as soon as it is finalised, and results are moved,
//! never copied, into what is returned and written to the cache.
//!
//! Not covered: files python code reads without recording them (BitBake
//! has the same blind spot), and environment variables that reach python
//! only through `os.environ` or `BB_ORIGENV`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::sync::Arc;

use super::bbfiles::{self, Collected};
use super::info::RecipeInfo;
use super::parse_worker::{evaluate_with_workers, worker_count};
use crate::datastore::{
    ConfigInput, DataStore, EvalError, Evaluator, FinalisedRecipe, Layer, Outcome,
    parse_configuration, parse_recipe_each,
};
use crate::signature::basehash::recipe_signatures;

/// How one target (a recipe or a `BBCLASSEXTEND` variant) ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetResult {
    /// `FILE`, or `virtual:VARIANT:FILE`.
    pub target: String,
    /// The skip reason, if skipped.
    pub skipped: Option<String>,
    /// What the task graph needs (for a skipped target: its names only).
    pub info: RecipeInfo,
}

/// What parsing one recipe gave.
#[derive(Debug, Clone)]
pub struct RecipeResult {
    pub recipe: PathBuf,
    pub appends: Vec<PathBuf>,
    pub targets: Result<Vec<TargetResult>, EvalError>,
    pub from_cache: bool,
}

/// Everything `parse_all` found.
#[derive(Debug)]
pub struct ParseAll {
    pub recipes: Vec<RecipeResult>,
    pub n_masked: usize,
    /// Appends that apply to no recipe (an error, spec §15.2).
    pub dangling: Vec<PathBuf>,
    pub n_from_cache: usize,
    /// Configuration variables the task graph reads.
    pub graph_config: BTreeMap<String, String>,
    /// `(collection, pattern, priority)` variables, for layer priorities.
    pub collection: BTreeMap<String, String>,
}

const FORMAT: u32 = 4;

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    format: u32,
    /// Bitzel's version: a new version may evaluate differently.
    bitzel: String,
    env: Vec<(String, String)>,
    /// Files the configuration depended on, with their hashes.
    config_depends: BTreeMap<String, Option<String>>,
    /// What collection needs, so recipes are collected without parsing
    /// the configuration.
    collection: BTreeMap<String, String>,
    /// What provider selection and the graph read (`PREFERRED_*`, ...).
    graph_config: BTreeMap<String, String>,
    recipes: BTreeMap<String, CachedRecipe>,
    /// `stat` stamps and hashes of the files above.
    stamps: BTreeMap<String, (Stamp, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedRecipe {
    appends: Vec<String>,
    depends: BTreeMap<String, Option<String>>,
    targets: Vec<TargetResult>,
}

/// [`CacheFile`] as it is written, borrowing what the run returns
/// (serialised exactly as a `CacheFile`).
#[derive(Serialize)]
struct CacheFileRef<'a> {
    format: u32,
    bitzel: &'a str,
    env: &'a [(String, String)],
    config_depends: &'a BTreeMap<String, Option<String>>,
    collection: &'a BTreeMap<String, String>,
    graph_config: &'a BTreeMap<String, String>,
    recipes: BTreeMap<&'a str, CachedRecipeRef<'a>>,
    stamps: &'a BTreeMap<String, (Stamp, String)>,
}

/// [`CachedRecipe`] as it is written.
#[derive(Serialize)]
struct CachedRecipeRef<'a> {
    appends: &'a [String],
    depends: &'a BTreeMap<String, Option<String>>,
    targets: &'a [TargetResult],
}

/// The configuration, frozen, with the files it depended on and the
/// variables collection reads.
struct LoadedConfig {
    layer: std::sync::Arc<crate::datastore::Layer>,
    depends: BTreeMap<String, Option<String>>,
    collection: BTreeMap<String, String>,
    graph_config: BTreeMap<String, String>,
}

/// The configuration as recipes are parsed on it.
pub(super) struct Configuration {
    pub(super) layer: Arc<Layer>,
    /// The files it depended on.
    depends: Vec<String>,
    collection: BTreeMap<String, String>,
    graph_config: BTreeMap<String, String>,
}

/// Parses the configuration and freezes it for recipes, with what
/// collection and the task graph read from it. Worker processes call this
/// too, so that they parse recipes on the same configuration.
pub(super) fn load_configuration(
    evaluator: &Evaluator,
    input: &ConfigInput,
) -> Result<Configuration, EvalError> {
    let mut d = parse_configuration(evaluator, input)?;
    let mut depends = d.list_var("__base_depends");
    depends.extend(d.list_var("__bitzel_python_depends"));
    let collection = collection_vars(&d);
    let graph_config = graph_config_vars(&mut d).map_err(|e| EvalError {
        path: input.topdir.clone(),
        line: 0,
        message: e.to_string(),
    })?;
    Ok(Configuration {
        layer: d.freeze_flat(),
        depends,
        collection,
        graph_config,
    })
}

/// A recipe evaluated in this run: its targets, and the files it read.
pub(super) type Evaluated = (Result<Vec<TargetResult>, EvalError>, Vec<String>);

/// Evaluates one recipe with its appends on the configuration `layer`:
/// the base recipe and its variants, with their signatures.
pub(super) fn evaluate_recipe(
    evaluator: &Evaluator,
    layer: &Arc<Layer>,
    recipe: &Path,
    appends: &[PathBuf],
) -> Evaluated {
    crate::datastore::python::with_thread_state(|| {
        evaluate_on_thread(evaluator, layer, recipe, appends)
    })
}

fn evaluate_on_thread(
    evaluator: &Evaluator,
    layer: &Arc<Layer>,
    recipe: &Path,
    appends: &[PathBuf],
) -> Evaluated {
    // Each target is reduced to its result as soon as it is finalised,
    // so that a recipe's datastores are not all alive at once.
    let mut targets = Vec::new();
    let mut depends: Vec<String> = Vec::new();
    let result = parse_recipe_each(
        evaluator,
        layer,
        recipe,
        appends,
        |variant, mut finalised| {
            for dep in finalised.datastore.list_var("__depends") {
                if !depends.contains(&dep) {
                    depends.push(dep);
                }
            }
            let name = match variant {
                None => recipe.display().to_string(),
                Some(name) => format!("virtual:{name}:{}", recipe.display()),
            };
            targets.push(target(recipe, name, &mut finalised)?);
            Ok(())
        },
    );
    match result {
        Ok(()) => (Ok(targets), depends),
        Err(error) => (Err(error), Vec::new()),
    }
}

/// A file's identity as `stat` sees it: when it is unchanged the file's
/// recorded hash is trusted without reading it (as git's index does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
    ino: u64,
}

fn stamp_of(path: &str) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        size: meta.size(),
        mtime: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
        ino: meta.ino(),
    })
}

/// Memoised SHA-256 of files (`None`: no such file), reusing the hashes of
/// the previous run for files whose `stat` is unchanged.
#[derive(Default)]
struct Hashes {
    memo: std::sync::Mutex<rustc_hash::FxHashMap<String, Option<String>>>,
    previous: BTreeMap<String, (Stamp, String)>,
    /// Stamps of the files hashed in this run, for the next.
    stamps: std::sync::Mutex<BTreeMap<String, (Stamp, String)>>,
}

impl Hashes {
    fn get(&self, path: &str) -> Option<String> {
        if let Some(hash) = self.memo.lock().ok().and_then(|m| m.get(path).cloned()) {
            return hash;
        }
        let stamp = stamp_of(path);
        let hash = match (stamp, self.previous.get(path)) {
            (Some(now), Some((then, hash))) if now == *then => Some(hash.clone()),
            (Some(_), _) => std::fs::read(path)
                .ok()
                .map(|bytes| hex(&Sha256::digest(&bytes))),
            (None, _) => None,
        };
        // A file written in the second it was hashed could change again
        // without its stamp changing; such recent stamps are not kept.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if let (Some(stamp), Some(hash)) = (stamp, &hash)
            && stamp.mtime < now - 1
            && let Ok(mut stamps) = self.stamps.lock()
        {
            stamps.insert(path.to_string(), (stamp, hash.clone()));
        }
        if let Ok(mut memo) = self.memo.lock() {
            memo.insert(path.to_string(), hash.clone());
        }
        hash
    }

    fn unchanged(&self, recorded: &BTreeMap<String, Option<String>>) -> bool {
        recorded
            .par_iter()
            .all(|(path, hash)| self.get(path) == *hash)
    }

    fn record(&self, paths: &[String]) -> BTreeMap<String, Option<String>> {
        paths.iter().map(|p| (p.clone(), self.get(p))).collect()
    }
}

/// The variables collection reads.
fn collection_vars(config: &DataStore) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    let mut names = vec![
        "BBFILES".to_string(),
        "BBMASK".to_string(),
        "BBFILE_COLLECTIONS".to_string(),
    ];
    let collections = config
        .get_var("BBFILE_COLLECTIONS")
        .ok()
        .flatten()
        .unwrap_or_default();
    for collection in collections.split_whitespace() {
        names.push(format!("BBFILE_PATTERN_{collection}"));
        names.push(format!("BBFILE_PRIORITY_{collection}"));
    }
    for name in names {
        if let Ok(Some(value)) = config.get_var(&name) {
            vars.insert(name, value);
        }
    }
    vars
}

fn collect_from(
    vars: &BTreeMap<String, String>,
) -> Result<Collected, crate::datastore::ExpansionError> {
    let mut d = DataStore::new();
    for (name, value) in vars {
        // Stored expanded: expanding again changes nothing, since any
        // reference left in them names no variable.
        d.set_var_python(name, value.clone());
    }
    let collected = bbfiles::collect(&d)?;
    Ok(collected)
}

/// The running binary's size and modification time: a rebuilt bitzel
/// may evaluate differently, so its cache entries are not reused.
fn executable_stamp() -> String {
    use std::os::unix::fs::MetadataExt;
    std::env::current_exe()
        .and_then(std::fs::metadata)
        .map(|m| format!("{}.{}.{}", m.size(), m.mtime(), m.mtime_nsec()))
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn strings(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

/// Parses every recipe, reusing `cache_file`'s entries that are still
/// valid and rewriting it. `Err` is a configuration that does not parse.
///
/// `jobs` parsers (0: one per core) run at once. With
/// `worker_executable` (the running bitzel, whose `__parse-worker`
/// subcommand serves [`super::parse_worker`]'s protocol), every job after
/// the first is a worker process with its own python interpreter, which
/// is what makes parsing scale; without it, the jobs are threads of this
/// process, sharing its interpreter (for tests and library use).
pub fn parse_all(
    evaluator: &Evaluator,
    input: &ConfigInput,
    jobs: usize,
    worker_executable: Option<&Path>,
    cache_file: Option<&Path>,
) -> Result<ParseAll, EvalError> {
    let mut hashes = Hashes::default();
    let version = format!(
        "{}-{}-{}",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        executable_stamp()
    );
    let env = input.passed_through();
    let mut cached: CacheFile = cache_file
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|bytes| postcard::from_bytes(&bytes).ok())
        .filter(|c: &CacheFile| c.format == FORMAT && c.bitzel == version && c.env == env)
        .unwrap_or_default();
    hashes.previous = cached.stamps.clone();
    let hashes = hashes;
    let config_valid =
        !cached.config_depends.is_empty() && hashes.unchanged(&cached.config_depends);

    // The configuration, parsed now or only if a recipe needs it.
    let mut config: Option<LoadedConfig> = None;
    let load_config = || -> Result<_, EvalError> {
        let loaded = load_configuration(evaluator, input)?;
        Ok(LoadedConfig {
            layer: loaded.layer,
            depends: hashes.record(&loaded.depends),
            collection: loaded.collection,
            graph_config: loaded.graph_config,
        })
    };
    let collection = if config_valid {
        cached.collection.clone()
    } else {
        let loaded = load_config()?;
        let vars = loaded.collection.clone();
        config = Some(loaded);
        vars
    };
    let collected = collect_from(&collection).map_err(|e| EvalError {
        path: input.topdir.clone(),
        line: 0,
        message: e.to_string(),
    })?;

    // Which recipes can be reused.
    // Keyed by the path's bytes: hashing a `Path` walks its components.
    let mut reuse: std::collections::HashSet<&std::ffi::OsStr> = std::collections::HashSet::new();
    if config_valid {
        let candidates: Vec<(&PathBuf, &CachedRecipe)> = collected
            .recipes
            .iter()
            .filter_map(|r| cached.recipes.get(&r.display().to_string()).map(|c| (r, c)))
            .collect();
        let valid: Vec<&std::ffi::OsStr> = candidates
            .par_iter()
            .filter(|(recipe, entry)| {
                entry.appends == strings(&collected.appends_for(recipe))
                    && hashes.unchanged(&entry.depends)
            })
            .map(|(recipe, _)| recipe.as_os_str())
            .collect();
        reuse.extend(valid);
    }
    let to_parse: Vec<&PathBuf> = collected
        .recipes
        .iter()
        .filter(|r| !reuse.contains(r.as_os_str()))
        .collect();
    if !to_parse.is_empty() && config.is_none() {
        config = Some(load_config()?);
    }

    let jobs = if jobs == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        jobs
    };
    let n_workers = match worker_executable {
        Some(_) => worker_count(jobs, to_parse.len()),
        None => 0,
    };
    let mut parsed: HashMap<&PathBuf, Evaluated> = match (&config, worker_executable) {
        (Some(LoadedConfig { layer, .. }), Some(executable)) if n_workers > 0 => {
            let work: Vec<(&Path, Vec<PathBuf>)> = to_parse
                .iter()
                .map(|recipe| (recipe.as_path(), collected.appends_for(recipe)))
                .collect();
            let results =
                evaluate_with_workers(executable, n_workers, evaluator, input, layer, &work);
            to_parse.iter().copied().zip(results).collect()
        }
        (Some(LoadedConfig { layer, .. }), _) => {
            // Too few recipes for a worker: one thread, since more would
            // only take turns at the interpreter.
            let threads = if worker_executable.is_some() { 1 } else { jobs };
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .map_err(|e| EvalError {
                    path: input.topdir.clone(),
                    line: 0,
                    message: format!("cannot start the parser threads: {e}"),
                })?;
            pool.install(|| {
                to_parse
                    .par_iter()
                    .map(|recipe| {
                        let appends = collected.appends_for(recipe);
                        (*recipe, evaluate_recipe(evaluator, layer, recipe, &appends))
                    })
                    .collect()
            })
        }
        (None, _) => HashMap::new(),
    };

    let (config_depends, collection, graph_config) = match config {
        Some(loaded) => (loaded.depends, loaded.collection, loaded.graph_config),
        None => (
            std::mem::take(&mut cached.config_depends),
            std::mem::take(&mut cached.collection),
            std::mem::take(&mut cached.graph_config),
        ),
    };
    let parsed_any = !to_parse.is_empty() || !config_valid;
    // Results are moved, not copied: they are most of the memory a parse
    // keeps. The cache entries borrow them when the cache is written.
    let mut recipes = Vec::new();
    // Per recipe: its path, its appends, the hashes of what it read.
    type Entry = (String, Vec<String>, BTreeMap<String, Option<String>>);
    let mut entries: Vec<Entry> = Vec::new();
    let mut used = std::collections::HashSet::new();
    let mut n_from_cache = 0;
    for recipe in &collected.recipes {
        let appends = collected.appends_for(recipe);
        used.extend(appends.iter().cloned());
        let key = recipe.display().to_string();
        let entry = reuse
            .contains(recipe.as_os_str())
            .then(|| cached.recipes.remove(&key))
            .flatten();
        let (targets, from_cache) = match entry {
            Some(entry) => {
                n_from_cache += 1;
                entries.push((key, entry.appends, entry.depends));
                (Ok(entry.targets), true)
            }
            None => {
                let Some((result, depends)) = parsed.remove(recipe) else {
                    continue;
                };
                if result.is_ok() {
                    // Hashing the files is for the cache only.
                    let depends = match cache_file {
                        Some(_) => hashes.record(&depends),
                        None => BTreeMap::new(),
                    };
                    entries.push((key, strings(&appends), depends));
                }
                (result, false)
            }
        };
        recipes.push(RecipeResult {
            recipe: recipe.clone(),
            appends,
            targets,
            from_cache,
        });
    }
    let changed = parsed_any || n_from_cache != recipes.len();
    if let Some(file) = cache_file
        && changed
    {
        let targets: BTreeMap<&str, &[TargetResult]> = recipes
            .iter()
            .filter_map(|r| {
                let targets = r.targets.as_ref().ok()?;
                Some((r.recipe.to_str()?, targets.as_slice()))
            })
            .collect();
        let new_cache = CacheFileRef {
            format: FORMAT,
            bitzel: &version,
            env: &env,
            config_depends: &config_depends,
            collection: &collection,
            graph_config: &graph_config,
            recipes: entries
                .iter()
                .filter_map(|(key, appends, depends)| {
                    let targets = targets.get(key.as_str())?;
                    Some((
                        key.as_str(),
                        CachedRecipeRef {
                            appends,
                            depends,
                            targets,
                        },
                    ))
                })
                .collect(),
            stamps: &hashes.stamps.into_inner().unwrap_or_default(),
        };
        write_atomically(file, &new_cache);
    }
    let dangling = collected
        .appends
        .iter()
        .filter(|a| !used.contains(*a))
        .cloned()
        .collect();
    Ok(ParseAll {
        recipes,
        n_masked: collected.n_masked,
        dangling,
        n_from_cache,
        graph_config,
        collection,
    })
}

fn target(
    recipe: &Path,
    name: String,
    finalised: &mut FinalisedRecipe,
) -> Result<TargetResult, EvalError> {
    let skipped = match &finalised.outcome {
        Outcome::Skipped(reason) => Some(reason.clone()),
        Outcome::Parsed => None,
    };
    let error = |message: String| EvalError {
        path: recipe.to_path_buf(),
        line: 0,
        message,
    };
    let mut info = RecipeInfo::from_datastore(&finalised.datastore, skipped.is_some())
        .map_err(|e| error(e.to_string()))?;
    if skipped.is_none() {
        // BitBake computes signatures while parsing, so an error in them
        // (shell it cannot read, say) fails the parse.
        let signatures = recipe_signatures(&mut finalised.datastore)
            .map_err(|e| error(format!("task signatures: {e}")))?;
        for task in &mut info.tasks {
            if let Some(hash) = signatures.basehash.get(&task.name) {
                task.basehash = hash.clone();
            }
        }
    }
    Ok(TargetResult {
        target: name,
        skipped,
        info,
    })
}

/// The configuration variables provider selection and the task graph
/// read, from a copy with its keys expanded (as BitBake's provider code
/// reads them), and the remote cache settings (`BITZEL_REMOTE_*`) `bitzel
/// build` reads.
fn graph_config_vars(
    config: &mut DataStore,
) -> Result<BTreeMap<String, String>, crate::datastore::ExpansionError> {
    let mut copy = config.create_copy();
    crate::datastore::expand_keys(&mut copy)?;
    let mut vars = BTreeMap::new();
    for name in copy.keys() {
        let wanted = name.starts_with("PREFERRED_")
            || name.starts_with("REQUIRED_VERSION")
            || name.starts_with("BITZEL_REMOTE_")
            || GRAPH_CONFIG_VARS.contains(&name.as_str());
        if wanted && let Some(value) = copy.get_var(&name)? {
            vars.insert(name, value);
        }
    }
    Ok(vars)
}

/// Configuration variables the graph reads besides `PREFERRED_*`.
const GRAPH_CONFIG_VARS: &[&str] = &[
    "ASSUME_PROVIDED",
    "BB_DEFAULT_TASK",
    "BB_MULTI_PROVIDER_ALLOWED",
    "BB_TASKHASH_IGNORE_TASKS",
    "HOSTTOOLS",
];

/// Writes the cache to a temporary file and renames it into place, so a
/// reader never sees half a cache. A cache that cannot be written only
/// costs the next run its speed.
fn write_atomically(file: &Path, cache: &CacheFileRef<'_>) {
    let Some(dir) = file.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let temp = file.with_extension(format!("tmp.{}", std::process::id()));
    // Streamed: the cache is tens of megabytes.
    let written = std::fs::File::create(&temp).is_ok_and(|f| {
        postcard::to_io(cache, std::io::BufWriter::new(f))
            .is_ok_and(|mut out| std::io::Write::flush(&mut out).is_ok())
    });
    if !written || std::fs::rename(&temp, file).is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}
