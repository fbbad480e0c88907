//! The task sandbox: runs one command in new user, mount, pid, network,
//! UTS and IPC namespaces, in a view of the host that holds only what the
//! task was given.
//!
//! The view is a fresh tmpfs root (read-only once built) holding:
//! - the host tools the task may run ([`SandboxSpec::hosttools`]), each
//!   bound read-only into one directory ([`SandboxSpec::hosttools_dir`]),
//!   with symlinks to them in `/bin` and `/usr/bin` so shebangs work; a
//!   tool not listed is not there, by name or by path;
//! - what those tools need to run: the system directories
//!   ([`DEFAULT_SYSTEM_DIRS`]: libraries, the compiler's internal
//!   programs, headers, architecture-independent data), read-only; and in
//!   `/etc` only generated `passwd`, `group`, `hosts`, `hostname`,
//!   `nsswitch.conf` plus the host's [`ETC_ENTRIES`] (and
//!   [`ETC_NETWORK_ENTRIES`] with the network);
//! - the caller's [`Mount`]s at their own paths, read-only or writable;
//! - a private `/tmp` (tmpfs), a new `/proc` for the task's pid
//!   namespace, and a minimal `/dev` ([`DEV_NODES`] bound from the host,
//!   `fd`, `stdin`, `stdout`, `stderr`, and `shm` pointing at `/tmp`).
//!
//! Not there: the host's `/usr/bin`, `/bin`, `/sbin`, `/root`, `/home`,
//! the rest of `/etc`, `/run`, `/sys`, ptys. The hostname is fixed
//! ([`SandboxSpec::hostname`]). Without [`SandboxSpec::network`] the task
//! has its own network namespace where only `lo` is up.
//!
//! How it runs: [`Sandbox::spawn`] starts the `bitzel-sandbox` helper (a
//! small binary of this crate that does not load Python) with a cleared
//! environment and sends it a [`view`] plan over a socket on its stdin. A
//! multi-threaded process must not fork without exec, so everything
//! namespace-related happens in the freshly executed, single-threaded
//! helper: it unshares the namespaces, maps the caller's uid and gid to
//! themselves, and forks the init, which is pid 1 of the new pid
//! namespace. The init builds the view, pivots into it, forks the task and
//! execs it with exactly the spec's environment, then reaps until the task
//! exits and hands its status to the helper, which exits the same way.
//! When the init exits, the kernel kills everything left in the pid
//! namespace before the helper's `wait` returns, so a task's background
//! processes never outlive it.
//!
//! Lifetime: the helper has `PR_SET_PDEATHSIG` = `SIGKILL` towards the
//! thread that spawned it, and the init towards the helper, so a killed
//! bitzel kills its sandboxes. The signal follows the spawning *thread*:
//! spawn from a thread that outlives the task (the caller waiting on it
//! is enough).
//!
//! A task whose uid inside is 0 (bitzel run as root) has every capability
//! dropped from its bounding set before exec, so it cannot undo a
//! read-only mount; other uids lose them in `execve` anyway.
//!
//! Invariant: the task's environment is exactly [`SandboxSpec::env`];
//! nothing of bitzel's own environment reaches it.
//! Invariant: failing to set up a sandbox is an `Err` from
//! [`Sandbox::spawn`] naming the step and the path; once `spawn` returns,
//! the task's own exit status is what [`Running::wait`] returns.

pub mod hosttools;
pub mod init;
mod view;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub use hosttools::{HostTool, identity};
pub use view::{DEV_NODES, ETC_ENTRIES, ETC_NETWORK_ENTRIES};

/// The name of the helper binary, installed next to `bitzel`.
pub const HELPER_NAME: &str = "bitzel-sandbox";

/// Host directories a task sees read-only by default, when they exist: the
/// libraries and loader (`/lib64/ld-linux-x86-64.so.2`), programs that
/// tools run by path (`cc1`, `git-core`), host headers for native builds,
/// and architecture-independent data (perl modules, `misc/magic`, CA
/// certificates, locales). A symlink among them (merged `/usr`) is
/// recreated as the same symlink.
pub const DEFAULT_SYSTEM_DIRS: &[&str] = &[
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/libx32",
    "/usr/libexec",
    "/usr/include",
    "/usr/share",
];

/// Where `#!` lines look for interpreters; each gets a symlink per host
/// tool.
pub const DEFAULT_SHEBANG_DIRS: &[&str] = &["/bin", "/usr/bin"];

/// A host path shown to the task at `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The host path (a directory or a file; symlinks are followed).
    pub source: PathBuf,
    /// Where the task sees it: absolute, without `.` or `..`.
    pub target: PathBuf,
    pub writable: bool,
}

impl Mount {
    pub fn read_only(source: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Mount {
        Mount {
            source: source.into(),
            target: target.into(),
            writable: false,
        }
    }

    pub fn writable(source: impl Into<PathBuf>, target: impl Into<PathBuf>) -> Mount {
        Mount {
            source: source.into(),
            target: target.into(),
            writable: true,
        }
    }
}

/// What to run and what it may see. Paths other than mount sources and
/// the log are inside the view.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    /// The command; `argv[0]` without a `/` is searched in the `PATH` of
    /// [`env`](Self::env) inside the view.
    pub argv: Vec<String>,
    /// The task's whole environment. Put [`hosttools_dir`](Self::hosttools_dir)
    /// on its `PATH`.
    pub env: BTreeMap<String, String>,
    /// The working directory; it must exist in the view.
    pub cwd: PathBuf,
    pub mounts: Vec<Mount>,
    /// Host tools by name (BitBake's `HOSTTOOLS`), looked up in
    /// [`host_path`](Self::host_path); a missing one is an error.
    pub hosttools: Vec<String>,
    /// Where the host tools appear in the view.
    pub hosttools_dir: PathBuf,
    /// Where host tools are looked up; None: bitzel's own `PATH`.
    pub host_path: Option<OsString>,
    /// Host directories shown read-only at the same path; default
    /// [`DEFAULT_SYSTEM_DIRS`]. Missing ones are skipped.
    pub system_dirs: Vec<PathBuf>,
    /// Directories that get a symlink to each host tool; default
    /// [`DEFAULT_SHEBANG_DIRS`].
    pub shebang_dirs: Vec<PathBuf>,
    /// Share the host's network namespace (BitBake's `[network] = "1"`).
    pub network: bool,
    pub hostname: String,
    /// Append the task's stdout and stderr to this file (created if
    /// missing); None: inherit bitzel's. Stdin is always `/dev/null`.
    pub log: Option<PathBuf>,
}

impl SandboxSpec {
    /// A spec for `argv` with the defaults: empty environment, cwd `/`, no
    /// mounts, no host tools in `/hosttools`, the default system and
    /// shebang directories, no network, hostname `bitzel`, inherited
    /// output.
    pub fn new<S: Into<String>>(argv: impl IntoIterator<Item = S>) -> SandboxSpec {
        SandboxSpec {
            argv: argv.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            cwd: PathBuf::from("/"),
            mounts: Vec::new(),
            hosttools: Vec::new(),
            hosttools_dir: PathBuf::from("/hosttools"),
            host_path: None,
            system_dirs: DEFAULT_SYSTEM_DIRS.iter().map(PathBuf::from).collect(),
            shebang_dirs: DEFAULT_SHEBANG_DIRS.iter().map(PathBuf::from).collect(),
            network: false,
            hostname: "bitzel".into(),
            log: None,
        }
    }
}

/// Why a sandbox could not run a task.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid sandbox: {message}")]
    InvalidSpec { message: String },
    #[error("{what} `{}`: {error}", path.display())]
    MountSource {
        what: String,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("host tools not found in `{search_path}`: {}", quoted(names))]
    HostToolsMissing {
        names: Vec<String>,
        search_path: String,
    },
    #[error("cannot {what}: {error}")]
    Host {
        what: String,
        #[source]
        error: std::io::Error,
    },
    #[error("cannot open the task log `{}`: {error}", path.display())]
    Log {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("cannot run the sandbox helper `{}`: {error}", path.display())]
    Helper {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    /// The kernel refuses the namespaces (unprivileged user namespaces
    /// disabled, a seccomp filter, too many namespaces).
    #[error("namespaces are not available here: {step}: {error}")]
    Unsupported {
        step: String,
        #[source]
        error: std::io::Error,
    },
    #[error("sandbox set-up failed: cannot {step}: {error}")]
    Setup {
        step: String,
        #[source]
        error: std::io::Error,
    },
    #[error("sandbox helper: {message}")]
    Protocol { message: String },
    #[error("cannot wait for the sandbox: {0}")]
    Wait(#[source] std::io::Error),
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The helper's one message back: the task is running, or why not.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    Started,
    Failed {
        /// The plan op that failed, when one did.
        op: Option<usize>,
        /// Otherwise the step in words.
        step: String,
        errno: i32,
        unsupported: bool,
    },
}

/// Starts sandboxes. Cheap to share between threads; it memoises where
/// host tools are.
#[derive(Debug)]
pub struct Sandbox {
    helper: PathBuf,
    legacy_remount: bool,
    tools: Mutex<BTreeMap<(OsString, String), Option<HostTool>>>,
}

impl Sandbox {
    /// A sandbox using the `bitzel-sandbox` next to the running executable.
    pub fn new() -> Result<Sandbox, SandboxError> {
        let exe = std::env::current_exe().map_err(|error| SandboxError::Host {
            what: "find the running executable".into(),
            error,
        })?;
        let helper = exe.with_file_name(HELPER_NAME);
        if !helper.is_file() {
            return Err(SandboxError::Helper {
                path: helper,
                error: std::io::ErrorKind::NotFound.into(),
            });
        }
        Ok(Sandbox::with_helper(helper))
    }

    /// A sandbox using the helper binary at `helper`.
    pub fn with_helper(helper: impl Into<PathBuf>) -> Sandbox {
        Sandbox {
            helper: helper.into(),
            legacy_remount: false,
            tools: Mutex::new(BTreeMap::new()),
        }
    }

    /// Make mounts read-only with `MS_REMOUNT` as on kernels before 5.12,
    /// even where `mount_setattr` exists (tests the fallback).
    #[doc(hidden)]
    pub fn force_legacy_remount(mut self) -> Sandbox {
        self.legacy_remount = true;
        self
    }

    /// The helper binary this sandbox runs.
    pub fn helper(&self) -> &Path {
        &self.helper
    }

    /// Starts `spec`'s command and returns once it is running (exec'd) in
    /// its view, or with the reason it could not be.
    pub fn spawn(&self, spec: &SandboxSpec) -> Result<Running, SandboxError> {
        let tools = self.resolve_tools(spec)?;
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let mut plan = view::plan(spec, &tools, uid, gid)?;
        plan.legacy_remount = self.legacy_remount;
        let message = serde_json::to_vec(&plan).map_err(|e| SandboxError::Protocol {
            message: format!("cannot encode the plan: {e}"),
        })?;

        let (mut control, helper_end) = UnixStream::pair().map_err(|error| SandboxError::Host {
            what: "create a socket pair".into(),
            error,
        })?;
        let mut command = Command::new(&self.helper);
        command
            .env_clear()
            .stdin(Stdio::from(OwnedFd::from(helper_end)));
        if let Some(path) = &spec.log {
            let log_error = |error| SandboxError::Log {
                path: path.clone(),
                error,
            };
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(log_error)?;
            command.stdout(file.try_clone().map_err(log_error)?);
            command.stderr(file);
        }
        let mut child = command.spawn().map_err(|error| SandboxError::Helper {
            path: self.helper.clone(),
            error,
        })?;
        // The command holds the helper's end; drop it so only the helper
        // has it and its exit shows as end of file.
        drop(command);

        // A helper that dies early makes this write fail; its reply (or
        // its silence) below says why.
        let _ = control
            .write_all(&message)
            .and_then(|()| control.shutdown(std::net::Shutdown::Write));
        let mut reply = Vec::new();
        let read = control.read_to_end(&mut reply);
        let reply: Option<Reply> = serde_json::from_slice(&reply).ok();
        match reply {
            Some(Reply::Started) => Ok(Running { child }),
            Some(Reply::Failed {
                op,
                step,
                errno,
                unsupported,
            }) => {
                let _ = child.wait();
                let step = match op.and_then(|idx| plan.ops.get(idx)) {
                    Some(op) => op.describe(),
                    None => step,
                };
                let error = std::io::Error::from_raw_os_error(errno);
                Err(if unsupported {
                    SandboxError::Unsupported { step, error }
                } else {
                    SandboxError::Setup { step, error }
                })
            }
            None => {
                let status = child.wait();
                Err(SandboxError::Protocol {
                    message: format!(
                        "`{}` gave no answer ({}; {})",
                        self.helper.display(),
                        match read {
                            Ok(_) => "read ok".to_string(),
                            Err(e) => format!("read: {e}"),
                        },
                        match status {
                            Ok(status) => format!("it ended with {status}"),
                            Err(e) => format!("wait: {e}"),
                        }
                    ),
                })
            }
        }
    }

    fn resolve_tools(&self, spec: &SandboxSpec) -> Result<Vec<HostTool>, SandboxError> {
        let search_path = spec
            .host_path
            .clone()
            .unwrap_or_else(hosttools::default_search_path);
        let mut memo = self.tools.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = std::collections::HashSet::new();
        let mut tools = Vec::with_capacity(spec.hosttools.len());
        let mut missing = Vec::new();
        for name in &spec.hosttools {
            if !seen.insert(name) {
                continue;
            }
            let found = memo
                .entry((search_path.clone(), name.clone()))
                .or_insert_with(|| hosttools::find(name, &search_path));
            match found {
                Some(tool) => tools.push(tool.clone()),
                None => missing.push(name.clone()),
            }
        }
        if missing.is_empty() {
            Ok(tools)
        } else {
            Err(SandboxError::HostToolsMissing {
                names: missing,
                search_path: search_path.to_string_lossy().into_owned(),
            })
        }
    }
}

/// A task running in its sandbox.
#[derive(Debug)]
pub struct Running {
    child: Child,
}

impl Running {
    /// The host pid of the sandbox helper (the task's ancestor outside
    /// its pid namespace).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the task. Its exit code or fatal signal is the returned
    /// status's; when `wait` returns, nothing the task started is alive.
    pub fn wait(&mut self) -> Result<ExitStatus, SandboxError> {
        self.child.wait().map_err(SandboxError::Wait)
    }

    /// The task's status if it has ended, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, SandboxError> {
        self.child.try_wait().map_err(SandboxError::Wait)
    }

    /// Kills the task and everything it started (SIGKILL to the helper;
    /// the rest follows through the parent-death signals). Call
    /// [`wait`](Self::wait) afterwards; a task that already ended is not
    /// an error.
    pub fn kill(&mut self) -> Result<(), SandboxError> {
        match self.child.kill() {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::InvalidInput => Ok(()),
            Err(error) => Err(SandboxError::Wait(error)),
        }
    }
}
