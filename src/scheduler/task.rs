//! Preparing one task and starting it in its sandbox (spec §19): the
//! task's datastore (the `task-NAME` override and the worker's
//! variables), its directories, its view, and its command.
//!
//! A plain shell task runs its script `T/run.do_TASK` directly; its
//! `[cleandirs]` are emptied and its `[dirs]` created before it starts,
//! as BitBake does first thing. A python task, or any task with
//! `[prefuncs]` or `[postfuncs]`, runs through the runner (`runner.rs`,
//! `bitzel __run-task` in the sandbox), which runs each function in
//! BitBake's order with BitBake's directory handling; bitzel only creates
//! every directory the functions name beforehand, so that it can be
//! mounted. A function without `[dirs]` runs in `TOPDIR`, the directory
//! BitBake's worker runs in (present in the view as an empty, read-only
//! directory when the work directory is inside it).
//!
//! The view: writable, the recipe's `WORKDIR`, `T`, and every directory
//! the task's functions name in `[dirs]` and `[cleandirs]`; read-only,
//! the outputs (`[dirs]`, `[cleandirs]`) of the tasks it depends on that
//! are outside its `WORKDIR`, the files `[file-checksums]` names for it
//! and for those tasks (so `do_unpack` sees `DL_DIR` and the recipe's
//! `file://` sources `do_fetch` checksums, and nothing else of the
//! layers); for the runner also the bitzel binary, the python standard
//! library and libpython when they are not in the sandbox's system
//! directories, and the configuration's `addpylib` directories. Network
//! only with `[network] = "1"`.
//!
//! Invariant: a task's outputs are its own `[dirs]` and `[cleandirs]`
//! (`T` aside); what its prefuncs and postfuncs name is writable but not
//! captured.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use pyo3::types::PyAnyMethods;

use super::runner::{SUBCOMMAND, TaskFile};
use super::{BuildInput, Recipes, script};
use crate::datastore::DataStore;
use crate::graph::TaskId;
use crate::sandbox::{DEFAULT_SYSTEM_DIRS, Mount, Running, Sandbox, SandboxSpec};

/// A task that was started.
pub(super) struct Launched {
    pub running: Running,
    pub log: PathBuf,
    pub outputs: Vec<PathBuf>,
    /// The runner's task file, removed once the task succeeded.
    pub task_file: Option<PathBuf>,
}

pub(super) enum Started {
    /// `[noexec]`: nothing to run.
    NoExec,
    Running(Box<Launched>),
}

/// The expanded words of a function's flag.
pub(super) fn flag_words(d: &DataStore, func: &str, flag: &str) -> Vec<String> {
    d.get_var_flag(func, flag)
        .ok()
        .flatten()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The paths `[file-checksums]` of `func` names that exist (for a `*`
/// pattern, its directory).
/// Takes the task's `[lockfiles]` (exclusive `flock`s, the files created
/// as BitBake creates them): `Some` with every one held, `None` when one
/// is held elsewhere (nothing is kept then).
pub(super) fn take_lockfiles(
    input: &BuildInput,
    recipes: &mut Recipes,
    id: TaskId,
) -> Result<Option<Vec<std::fs::File>>, String> {
    let node = &input.graph.tasks[id as usize];
    let task = &input.set.recipe(node.recipe).info.tasks[node.task as usize];
    // (The graph's record of the task keeps only the flags the graph
    // needs: read the recipe's datastore, which running it needs anyway.)
    let d = recipes.get(node.recipe)?;
    let mut held = Vec::new();
    for path in flag_words(d, &task.name, "lockfiles") {
        let path = PathBuf::from(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        let file = crate::fetch::download::open_lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => held.push(file),
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", path.display()));
            }
        }
    }
    Ok(Some(held))
}

/// The host git's exec path (`git --exec-path`), found once.
fn git_exec_path() -> Option<&'static Path> {
    static EXEC_PATH: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    EXEC_PATH
        .get_or_init(|| {
            let out = std::process::Command::new("git")
                .arg("--exec-path")
                .output()
                .ok()?;
            let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
            (out.status.success() && path.is_dir()).then_some(path)
        })
        .as_deref()
}

/// The local repositories of `SRC_URI`'s git URLs with `protocol=file`
/// (`git:///path;protocol=file` clones `/path`).
fn local_git_repositories(d: &DataStore) -> Vec<PathBuf> {
    let value = d.get_var("SRC_URI").ok().flatten().unwrap_or_default();
    value
        .split_whitespace()
        .filter(|url| url.split(';').skip(1).any(|p| p == "protocol=file"))
        .filter_map(|url| {
            let rest = url
                .strip_prefix("git://")
                .or_else(|| url.strip_prefix("gitsm://"))?;
            let path = rest.split(';').next()?;
            let path = if path.starts_with('/') {
                PathBuf::from(path)
            } else {
                Path::new("/").join(path)
            };
            path.is_dir().then_some(path)
        })
        .collect()
}

/// The existing local directories that `PREMIRRORS` and `MIRRORS` name
/// as `file://` replacements, each cut before its first component that
/// the mirror rewrite fills in (`TYPE`, `HOST`, `PATH`, `BASENAME`,
/// `MIRRORNAME`, a `\N` group).
fn file_mirror_dirs(d: &DataStore) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for var in ["PREMIRRORS", "MIRRORS"] {
        let value = d.get_var(var).ok().flatten().unwrap_or_default();
        let words: Vec<&str> = value.split_whitespace().collect();
        for pair in words.chunks(2) {
            let Some(replacement) = pair.get(1) else {
                continue;
            };
            let Some(path) = replacement.strip_prefix("file://") else {
                continue;
            };
            let path = path.split(';').next().unwrap_or_default();
            let mut dir = PathBuf::from("/");
            for part in path.split('/').filter(|p| !p.is_empty()) {
                if ["TYPE", "HOST", "PATH", "BASENAME", "MIRRORNAME"]
                    .iter()
                    .any(|t| part.contains(t))
                    || part.contains('\\')
                {
                    break;
                }
                dir.push(part);
            }
            while !dir.is_dir() {
                if !dir.pop() {
                    break;
                }
            }
            if dir != Path::new("/") && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs
}

fn checksummed_paths(d: &DataStore, func: &str) -> Vec<PathBuf> {
    flag_words(d, func, "file-checksums")
        .into_iter()
        .filter_map(|entry| {
            let (path, exists) = entry.rsplit_once(':')?;
            if exists != "True" {
                return None;
            }
            let path = Path::new(path);
            let path = if path.to_string_lossy().contains('*') {
                path.parent()?
            } else {
                path
            };
            path.exists().then(|| path.to_path_buf())
        })
        .collect()
}

/// What the runner needs from the host besides the task's own files.
struct RunnerFiles {
    bitzel: PathBuf,
    /// The python standard library and libpython, where the system
    /// directories do not already show them.
    python: Vec<PathBuf>,
}

/// Whether `path` is inside one of the directories every sandbox shows.
fn in_system_dirs(path: &Path) -> bool {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    DEFAULT_SYSTEM_DIRS.iter().any(|dir| {
        Path::new(dir)
            .canonicalize()
            .is_ok_and(|dir| path.starts_with(dir))
    })
}

fn runner_files(sandbox: &Sandbox) -> &'static Result<RunnerFiles, String> {
    static FILES: OnceLock<Result<RunnerFiles, String>> = OnceLock::new();
    FILES.get_or_init(|| {
        // The bitzel next to the sandbox helper, unless this is bitzel.
        let bitzel = std::env::current_exe()
            .ok()
            .filter(|exe| exe.file_name().is_some_and(|n| n == "bitzel"))
            .unwrap_or_else(|| sandbox.helper().with_file_name("bitzel"));
        if !bitzel.is_file() {
            return Err(format!(
                "the bitzel binary to run tasks with is not at {}",
                bitzel.display()
            ));
        }
        let stdlib = crate::datastore::python::with_interpreter(|py| {
            py.eval(
                c"sorted({__import__('sysconfig').get_paths()[k] for k in ('stdlib', 'platstdlib')})",
                None,
                None,
            )
            .and_then(|paths| paths.extract::<Vec<String>>())
        })?
        .map_err(|e| format!("cannot find the python standard library: {e}"))?;
        let mut python: Vec<PathBuf> = stdlib.into_iter().map(PathBuf::from).collect();
        // The libpython this process loaded.
        if let Ok(maps) = std::fs::read_to_string("/proc/self/maps") {
            for line in maps.lines() {
                if let Some(path) = line.split_whitespace().nth(5)
                    && path.contains("/libpython")
                    && !python.iter().any(|p| p == Path::new(path))
                {
                    python.push(PathBuf::from(path));
                }
            }
        }
        python.retain(|p| p.exists() && !in_system_dirs(p));
        Ok(RunnerFiles { bitzel, python })
    })
}

/// [`super::runner::prepare_bytecode`] once per process.
fn pylib_bytecode(dir: &Path, pylibs: &[super::runner::Pylib]) -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        super::runner::prepare_bytecode(dir, pylibs)
    })
    .clone()
}

/// The view's mounts, deduplicated: writable first; a read-only path
/// inside another mount adds nothing.
#[derive(Default)]
struct View {
    writable: Vec<PathBuf>,
    read_only: Vec<PathBuf>,
}

impl View {
    fn writable(&mut self, path: impl Into<PathBuf>) {
        let path = path.into();
        if !self.writable.contains(&path) {
            self.writable.push(path);
        }
    }

    fn read_only(&mut self, path: impl Into<PathBuf>) {
        let path = path.into();
        if !self.read_only.contains(&path) {
            self.read_only.push(path);
        }
    }

    fn mounts(self) -> Vec<Mount> {
        let within = |path: &Path, others: &[PathBuf]| {
            others.iter().any(|o| o != path && path.starts_with(o))
        };
        let writable: Vec<PathBuf> = self
            .writable
            .iter()
            .filter(|p| !within(p, &self.writable))
            .cloned()
            .collect();
        let mut mounts: Vec<Mount> = writable.iter().map(|p| Mount::writable(p, p)).collect();
        for path in &self.read_only {
            if writable.iter().any(|w| path.starts_with(w)) || within(path, &self.read_only) {
                continue;
            }
            mounts.push(Mount::read_only(path, path));
        }
        mounts
    }
}

/// Prepares a task's datastore and directories and starts it; on failure
/// the log (if there is one yet) and why.
pub(super) fn start_task(
    input: &BuildInput,
    recipes: &mut Recipes,
    sandbox: &Sandbox,
    downloads: Option<&Path>,
    id: TaskId,
    name: &str,
) -> Result<Started, (PathBuf, String)> {
    let node = &input.graph.tasks[id as usize];
    let recipe_id = node.recipe;
    let recipe = input.set.recipe(recipe_id);
    let task = &recipe.info.tasks[node.task as usize];
    if task
        .flag("noexec")
        .is_some_and(|v| !v.is_empty() && v != "0")
    {
        return Ok(Started::NoExec);
    }
    let fail = |message: String| (PathBuf::new(), message);
    let d = recipes.get(recipe_id).map_err(fail)?;
    // The task's datastore, as BitBake's worker makes it (spec §19):
    // OVERRIDES gains task-NAME.
    let mut local = d.create_copy();
    let overrides = local
        .get_var_unexpanded("OVERRIDES")
        .ok()
        .flatten()
        .unwrap_or_default();
    let short = task.name.trim_start_matches("do_").replace('_', "-");
    local.set_var_python("OVERRIDES", format!("task-{short}:{overrides}"));
    local.set_var_python(
        "BB_CURRENTTASK",
        task.name.trim_start_matches("do_").to_string(),
    );
    local.set_var_python("BB_TASKHASH", input.hashes[id as usize].taskhash.clone());
    local.set_var_python("BB_WORKERCONTEXT", "1".to_string());
    local.set_var_python("BB_FILENAME", recipe.file.clone());
    let var = |d: &DataStore, n: &str| d.get_var(n).ok().flatten().unwrap_or_default();
    let t_dir = PathBuf::from(var(&local, "T"));
    let workdir = PathBuf::from(var(&local, "WORKDIR"));
    let log = t_dir.join(format!("log.{}", task.name));
    local.set_var_python("BB_LOGFILE", log.display().to_string());
    let fail_log = |message: String| (log.clone(), message);
    std::fs::create_dir_all(&t_dir).map_err(|e| fail_log(format!("cannot create T: {e}")))?;

    let prefuncs = flag_words(&local, &task.name, "prefuncs");
    let postfuncs = flag_words(&local, &task.name, "postfuncs");
    let python = local
        .raw_flag(&task.name, "python")
        .is_some_and(crate::datastore::FlagValue::is_truthy);
    let use_runner = python || !prefuncs.is_empty() || !postfuncs.is_empty();
    let cleandirs = flag_words(&local, &task.name, "cleandirs");
    let dirs = flag_words(&local, &task.name, "dirs");
    if !use_runner {
        for dir in &cleandirs {
            let path = Path::new(dir);
            if path.exists() {
                std::fs::remove_dir_all(path)
                    .map_err(|e| fail_log(format!("cannot empty {dir}: {e}")))?;
            }
        }
    }
    // Every function's directories exist before the sandbox starts (they
    // are mounted); the runner empties `[cleandirs]` when each function
    // starts.
    let mut function_dirs: Vec<String> = Vec::new();
    for func in prefuncs.iter().chain(&postfuncs) {
        function_dirs.extend(flag_words(&local, func, "cleandirs"));
        function_dirs.extend(flag_words(&local, func, "dirs"));
    }
    for dir in dirs.iter().chain(&cleandirs).chain(&function_dirs) {
        std::fs::create_dir_all(dir).map_err(|e| fail_log(format!("cannot create {dir}: {e}")))?;
    }
    let mut outputs: Vec<PathBuf> = Vec::new();
    for dir in dirs.iter().chain(&cleandirs) {
        let path = PathBuf::from(dir);
        if path != t_dir && !outputs.contains(&path) {
            outputs.push(path);
        }
    }
    // Where BitBake's worker runs a function without [dirs].
    let base_cwd = if workdir.starts_with(input.topdir) {
        input.topdir.to_path_buf()
    } else {
        workdir.clone()
    };
    let _ = std::fs::write(&log, format!("bitzel: {name}\n"));
    let umask = task
        .flag("umask")
        .and_then(|u| u32::from_str_radix(u.trim(), 8).ok());

    let mut view = View::default();
    view.writable(&workdir);
    view.writable(&t_dir);
    for dir in dirs.iter().chain(&cleandirs).chain(&function_dirs) {
        view.writable(dir);
    }
    for path in checksummed_paths(&local, &task.name) {
        view.read_only(path);
    }
    for &dep in input.graph.deps(id) {
        let dep_node = &input.graph.tasks[dep as usize];
        let dep_task = &input.set.recipe(dep_node.recipe).info.tasks[dep_node.task as usize].name;
        let Ok(dep_d) = recipes.get(dep_node.recipe) else {
            continue;
        };
        for flag in ["dirs", "cleandirs"] {
            for dir in flag_words(dep_d, dep_task, flag) {
                let path = PathBuf::from(&dir);
                if path.exists() {
                    view.read_only(path);
                }
            }
        }
        for path in checksummed_paths(dep_d, dep_task) {
            view.read_only(path);
        }
    }

    let network = local
        .get_var_flag(&task.name, "network")
        .ok()
        .flatten()
        .is_some_and(|v| v == "1");
    let (argv, task_file) = if use_runner {
        let files = runner_files(sandbox)
            .as_ref()
            .map_err(|e| fail_log(e.clone()))?;
        let mut task_file = TaskFile::capture(&local, &recipe.file, &task.name, umask)
            .map_err(|e| fail_log(format!("cannot capture the task's datastore: {e}")))?;
        if !task_file.pylibs.is_empty() {
            let pycache = input.topdir.join("cache/bitzel/pycache");
            match pylib_bytecode(&pycache, &task_file.pylibs) {
                Ok(()) => {
                    view.read_only(&pycache);
                    task_file.pycache = Some(pycache.display().to_string());
                }
                // Slower without, not wrong.
                Err(message) => eprintln!("warning: {message}"),
            }
        }
        // A task that may use the network may also use the remote
        // cache's copies of downloads (see DownloadServer).
        if let Some(socket) = downloads
            && network
            && let Some(dir) = socket.parent()
        {
            view.read_only(dir);
            task_file.download_socket = Some(socket.display().to_string());
        }
        let path = t_dir.join(format!("bitzel-task.{}", task.name));
        task_file.write(&path).map_err(fail_log)?;
        if !in_system_dirs(&files.bitzel) {
            view.read_only(&files.bitzel);
        }
        for path in &files.python {
            view.read_only(path);
        }
        for lib in &task_file.pylibs {
            if Path::new(&lib.dir).exists() {
                view.read_only(&lib.dir);
            }
        }
        let argv = vec![
            files.bitzel.display().to_string(),
            SUBCOMMAND.to_string(),
            path.display().to_string(),
        ];
        (argv, Some(path))
    } else {
        let mut text = script::shell_script(&local, &task.name, dirs.last().map(String::as_str))
            .map_err(|e| fail_log(e.to_string()))?;
        // [umask] (octal) applies to the task's processes.
        if let Some(umask) = umask {
            text = text.replacen("set -e\n", &format!("set -e\numask {umask:o}\n"), 1);
        }
        let run = t_dir.join(format!("run.{}", task.name));
        std::fs::write(&run, &text)
            .map_err(|e| fail_log(format!("cannot write {}: {e}", run.display())))?;
        (vec!["sh".to_string(), run.display().to_string()], None)
    };

    let d = recipes.get(recipe_id).map_err(fail)?;
    let hosttools: Vec<String> = var(d, "HOSTTOOLS")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let hosttools_dir = PathBuf::from(var(d, "HOSTTOOLS_DIR"));
    let mut spec = SandboxSpec::new(argv);
    spec.env
        .insert("PATH".to_string(), hosttools_dir.display().to_string());
    spec.env.insert("HOME".to_string(), "/tmp".to_string());
    // Host tools are hard links in the view, not symlinks, so gcc cannot
    // find its internal programs relative to where it was found; point it
    // at the host's (mounted read-only as a system directory).
    if hosttools
        .iter()
        .any(|t| t == "gcc" || t == "cc" || t.ends_with("-gcc"))
    {
        spec.env
            .insert("GCC_EXEC_PREFIX".to_string(), "/usr/lib/gcc/".to_string());
    }
    // git runs its helpers (git-upload-pack, git-remote-https, ...) from
    // its exec path, which may lie outside the system directories (a git
    // in /usr/local): make it visible, as the compiler's internals are.
    if hosttools.iter().any(|t| t == "git")
        && let Some(exec_path) = git_exec_path()
        && !in_system_dirs(exec_path)
    {
        view.read_only(exec_path);
    }
    // A task that may fetch reads the local (`file://`) mirrors it names.
    if network {
        for dir in file_mirror_dirs(&local)
            .into_iter()
            .chain(local_git_repositories(&local))
        {
            view.read_only(dir);
        }
    }
    if task_file.is_some() {
        // Transparent huge pages make the allocator zero 2 MiB pages
        // for a few kilobytes: a quarter of the runner's start-up. The
        // runner removes it from its environment first thing.
        let (name, value) = super::runner::RUNNER_ENV;
        spec.env.insert(name.to_string(), value.to_string());
    }
    spec.cwd = base_cwd;
    spec.mounts = view.mounts();
    spec.hosttools = hosttools;
    spec.hosttools_dir = hosttools_dir;
    spec.network = network;
    spec.log = Some(log.clone());
    let running = sandbox
        .spawn(&spec)
        .map_err(|e| fail_log(format!("cannot start the sandbox: {e}")))?;
    Ok(Started::Running(Box::new(Launched {
        running,
        log,
        outputs,
        task_file,
    })))
}
