//! The task sandbox: runs one command in new user, mount, pid, network,
//! UTS and IPC namespaces, in a view of the host that holds only what the
//! task was given.
//!
//! The view is a fresh tmpfs root (read-only once built) holding:
//! - the host tools the task may run ([`SandboxSpec::hosttools`]),
//!   read-only in one directory ([`SandboxSpec::hosttools_dir`], which the
//!   caller puts on `PATH`), with `/bin` and `/usr/bin` as symlinks to it
//!   so shebangs work; a tool not listed is not there, by name or by path;
//! - what those tools need to run: the system directories
//!   ([`DEFAULT_SYSTEM_DIRS`]: libraries, the compiler's internal
//!   programs, headers, architecture-independent data), read-only; and an
//!   `/etc` of generated `passwd`, `group`, `hosts`, `hostname`,
//!   `nsswitch.conf`, `mtab` plus copies of the host's [`ETC_ENTRIES`] (and
//!   [`ETC_NETWORK_ENTRIES`] and the live `resolv.conf` with the network);
//! - the caller's [`Mount`]s at their own paths, read-only or writable;
//! - a private `/tmp` (tmpfs), a new `/proc` for the task's pid
//!   namespace, and a minimal `/dev` ([`DEV_NODES`] bound from the host,
//!   `fd`, `stdin`, `stdout`, `stderr`, and `shm` pointing at `/tmp`).
//!
//! Not there: the host's `/usr/bin`, `/sbin`, `/root`, `/home`, the rest
//! of `/etc`, `/run`, `/sys`, ptys. The hostname is fixed
//! ([`SandboxSpec::hostname`]). Without [`SandboxSpec::network`] the task
//! has its own network namespace where only `lo` is up. The task runs as
//! the caller's uid and gid, mapped to themselves; as uid 0 (bitzel run as
//! root) it has no capability, so it cannot undo a read-only mount.
//!
//! How it runs: a multi-threaded process must not fork without exec, and
//! exec'ing a process costs about a millisecond here, so each [`Sandbox`]
//! starts one *zygote*, the `bitzel-sandbox` binary of this crate (small,
//! without Python), with a cleared environment. For each task,
//! [`Sandbox::spawn`] sends the zygote a socket and the task's stdout and
//! stderr, and writes the plan (`view.rs`) to the socket. The zygote hands
//! them to an init it cloned ahead into fresh namespaces, and clones the
//! next. The init, pid 1 of the task's pid namespace, builds the view,
//! enters it, starts the task with exactly the spec's environment, reaps
//! until the task exits, kills and reaps what the task left, and reports
//! the exit status; so a task's background processes never outlive it.
//! See [`init`] for the processes.
//!
//! Lifetime: the zygote has its own process group and each init its own
//! session, so a terminal's Ctrl-C reaches only bitzel, which decides what
//! to kill. Bitzel ending (even by SIGKILL) or dropping the [`Sandbox`]
//! closes the zygote's socket, and the zygote exits; each init has
//! `PR_SET_PDEATHSIG` = `SIGKILL` towards the zygote, so every task dies
//! with it. Dropping a [`Running`] without waiting kills its task.
//!
//! Host tools and `/etc` are prepared once per `Sandbox` as directories
//! on the host (see `prepared.rs`), so each is one bind mount.
//!
//! Invariant: the task's environment is exactly [`SandboxSpec::env`];
//! nothing of bitzel's own environment reaches it.
//! Invariant: failing to set up a sandbox is an `Err` from
//! [`Sandbox::spawn`] naming the step and the path; once `spawn` returns,
//! the task's own exit status is what [`Running::wait`] returns, and
//! nothing the task started is alive when it does.

pub mod hosttools;
pub mod init;
mod prepared;
mod protocol;
mod view;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};

pub use hosttools::{HostTool, identity};
pub use prepared::{ETC_ENTRIES, ETC_NETWORK_ENTRIES};
pub use view::DEV_NODES;

use prepared::PreparedDirs;
use protocol::{ISOLATED, KILL, NETWORK, NoSigPipe, Reply, read_frame, write_frame};

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

/// Starts sandboxes. Share one between threads: it holds the zygote, the
/// prepared directories and where host tools are. Dropping it kills every
/// task it started that is still running.
#[derive(Debug)]
pub struct Sandbox {
    helper: PathBuf,
    legacy_remount: bool,
    cache_dir: Option<PathBuf>,
    prepared: OnceLock<PreparedDirs>,
    tools: Mutex<BTreeMap<(OsString, String), Option<HostTool>>>,
    zygote: Mutex<Option<Zygote>>,
}

#[derive(Debug)]
struct Zygote {
    /// Requests go here (`SOCK_SEQPACKET`); closing it ends the zygote.
    control: OwnedFd,
    process: Child,
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
            cache_dir: None,
            prepared: OnceLock::new(),
            tools: Mutex::new(BTreeMap::new()),
            zygote: Mutex::new(None),
        }
    }

    /// Keep the prepared host tools and `/etc` directories in `dir` (say
    /// `TMPDIR/hosttools`, as BitBake does) instead of a private temporary
    /// directory removed on drop; runs sharing it reuse what is still
    /// current.
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Sandbox {
        self.cache_dir = Some(dir.into());
        self
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
        let prepared = self.prepared_dirs()?;
        let hosttools = match tools.is_empty() {
            true => None,
            false => Some(prepared.hosttools(&tools)?),
        };
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let etc = prepared.etc(uid, gid, &spec.hostname, spec.network)?;
        let root = prepared.view_root()?;
        let mut plan = view::plan(
            spec,
            &view::Prepared {
                hosttools,
                etc,
                root,
            },
        )?;
        plan.legacy_remount = self.legacy_remount;

        let (stdout, stderr) = output_fds(spec)?;
        let (mut socket, helper_end) = UnixStream::pair().map_err(|error| SandboxError::Host {
            what: "create a socket pair".into(),
            error,
        })?;
        let kind = if spec.network { NETWORK } else { ISOLATED };
        self.request(kind, [helper_end.into(), stdout, stderr])?;
        // The init reads it once it has the socket; one that failed early
        // has closed its end, and its reply (or its silence) says why.
        let _ = write_frame(&mut NoSigPipe(&socket), &plan);
        // The zygote answers first (the init exists, or why not), then the
        // init.
        let mut init_pid = 0;
        let mut reply = read_frame::<Reply>(&mut socket);
        // A second `Forked` replaces an init that died before its task.
        while let Ok(Some(Reply::Forked { pid })) = reply {
            init_pid = pid;
            reply = read_frame::<Reply>(&mut socket);
        }
        match reply {
            Ok(Some(Reply::Started)) => Ok(Running {
                socket,
                init_pid,
                status: None,
            }),
            Ok(Some(Reply::Failed {
                op,
                step,
                errno,
                unsupported,
            })) => {
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
            Ok(Some(Reply::Exited { .. } | Reply::Forked { .. })) => Err(SandboxError::Protocol {
                message: "the init's answers came out of order".into(),
            }),
            Ok(None) => Err(SandboxError::Protocol {
                message: format!("`{}` ended without an answer", self.helper.display()),
            }),
            Err(error) => Err(SandboxError::Protocol {
                message: format!("cannot read the helper's answer: {error}"),
            }),
        }
    }

    /// Sends a request to the zygote, starting it (again, if it died).
    fn request(&self, kind: u8, fds: [OwnedFd; 3]) -> Result<(), SandboxError> {
        use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
        let raw: Vec<i32> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        let mut zygote = self.zygote.lock().unwrap_or_else(|e| e.into_inner());
        let mut last_error = None;
        for _attempt in 0..2 {
            if zygote.is_none() {
                *zygote = Some(self.start_zygote()?);
            }
            let Some(running) = zygote.as_ref() else {
                break;
            };
            let sent = sendmsg::<()>(
                running.control.as_raw_fd(),
                &[std::io::IoSlice::new(&[kind])],
                &[ControlMessage::ScmRights(&raw)],
                MsgFlags::MSG_NOSIGNAL,
                None,
            );
            match sent {
                Ok(_) => return Ok(()),
                Err(errno) => {
                    // The zygote is gone (killed from outside); reap it
                    // and start another.
                    if let Some(mut dead) = zygote.take() {
                        drop(dead.control);
                        let _ = dead.process.wait();
                    }
                    last_error = Some(std::io::Error::from(errno));
                }
            }
        }
        Err(SandboxError::Helper {
            path: self.helper.clone(),
            error: last_error.unwrap_or_else(|| std::io::ErrorKind::BrokenPipe.into()),
        })
    }

    fn start_zygote(&self) -> Result<Zygote, SandboxError> {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
        let (control, zygote_end) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|errno| SandboxError::Host {
            what: "create a socket pair".into(),
            error: errno.into(),
        })?;
        let process = Command::new(&self.helper)
            .env_clear()
            // mimalloc (bitzel's allocator) asks for transparent huge pages
            // by default; in a process that clones for every task, each
            // first touch and copy-on-write of a huge page zeroes or copies
            // 2 MiB. Measured: 4.4 ms of CPU per sandboxed `true` with them,
            // 3.1 ms without.
            .env("MIMALLOC_ALLOW_THP", "0")
            .env("MIMALLOC_ALLOW_THP", "0")
            .stdin(Stdio::from(zygote_end))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: Ctrl-C on a terminal reaches bitzel,
            // which decides what to kill, and not the zygote (whose end
            // would kill every task before bitzel could say which ran).
            .process_group(0)
            .spawn()
            .map_err(|error| SandboxError::Helper {
                path: self.helper.clone(),
                error,
            })?;
        Ok(Zygote { control, process })
    }

    fn prepared_dirs(&self) -> Result<&PreparedDirs, SandboxError> {
        if let Some(prepared) = self.prepared.get() {
            return Ok(prepared);
        }
        let prepared = match &self.cache_dir {
            Some(dir) => PreparedDirs::in_dir(dir.clone()),
            None => PreparedDirs::private()?,
        };
        // A thread that lost the race drops its own (empty) directory.
        let _ = self.prepared.set(prepared);
        self.prepared.get().ok_or_else(|| SandboxError::Protocol {
            message: "the prepared directories vanished".into(),
        })
    }
    fn resolve_tools(&self, spec: &SandboxSpec) -> Result<Vec<HostTool>, SandboxError> {
        let search_path = spec
            .host_path
            .clone()
            .unwrap_or_else(hosttools::default_search_path);
        // Looked up once per sandbox: a tool installed during a run is
        // seen by the next one.
        let mut memo = self.tools.lock().unwrap_or_else(|e| e.into_inner());
        hosttools::resolve_with(&spec.hosttools, &search_path, |name| {
            memo.entry((search_path.clone(), name.to_string()))
                .or_insert_with(|| hosttools::find(name, &search_path))
                .clone()
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let zygote = self.zygote.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(zygote) = zygote.take() {
            // End of file tells the zygote to exit; its helpers and their
            // tasks follow through their parent-death signals.
            drop(zygote.control);
            let mut process = zygote.process;
            let _ = process.wait();
        }
    }
}

/// The task's stdout and stderr: the log file, or bitzel's own.
fn output_fds(spec: &SandboxSpec) -> Result<(OwnedFd, OwnedFd), SandboxError> {
    match &spec.log {
        Some(path) => {
            let log_error = |error| SandboxError::Log {
                path: path.clone(),
                error,
            };
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(log_error)?;
            Ok((file.try_clone().map_err(log_error)?.into(), file.into()))
        }
        None => {
            let dup = |fd: std::os::fd::BorrowedFd<'_>| {
                fd.try_clone_to_owned().map_err(|error| SandboxError::Host {
                    what: "duplicate bitzel's output".into(),
                    error,
                })
            };
            Ok((
                dup(std::io::stdout().as_fd())?,
                dup(std::io::stderr().as_fd())?,
            ))
        }
    }
}

/// A task running in its sandbox. Dropping it without [`wait`](Self::wait)
/// kills the task.
#[derive(Debug)]
pub struct Running {
    socket: UnixStream,
    init_pid: u32,
    status: Option<ExitStatus>,
}

impl Running {
    /// The host pid of the sandbox's init (pid 1 of the task's pid
    /// namespace).
    pub fn pid(&self) -> u32 {
        self.init_pid
    }

    /// Waits for the task. Its exit code or fatal signal is the returned
    /// status's; when `wait` returns, nothing the task started is alive.
    /// Errors when the sandbox ended without a status (its `Sandbox` was
    /// dropped, or the helper was killed from outside).
    pub fn wait(&mut self) -> Result<ExitStatus, SandboxError> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        match read_frame::<Reply>(&mut self.socket) {
            Ok(Some(Reply::Exited { status })) => {
                let status = ExitStatus::from_raw(status);
                self.status = Some(status);
                Ok(status)
            }
            Ok(Some(_)) => Err(SandboxError::Protocol {
                message: "an unexpected message while waiting".into(),
            }),
            Ok(None) => Err(SandboxError::Protocol {
                message: "the sandbox ended without the task's status".into(),
            }),
            Err(error) => Err(SandboxError::Wait(error)),
        }
    }

    /// The task's status if it has ended, without blocking.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, SandboxError> {
        if self.status.is_some() {
            return self.wait().map(Some);
        }
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let mut fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => Ok(None),
            Ok(_) => self.wait().map(Some),
            Err(errno) => Err(SandboxError::Wait(errno.into())),
        }
    }

    /// Kills the task and everything it started. Call
    /// [`wait`](Self::wait) afterwards for its status (killed by SIGKILL,
    /// unless it ended first); killing an ended task is not an error.
    pub fn kill(&mut self) -> Result<(), SandboxError> {
        if self.status.is_some() {
            return Ok(());
        }
        match std::io::Write::write(&mut NoSigPipe(&self.socket), &[KILL]) {
            Ok(_) => Ok(()),
            // The helper already finished and closed its end.
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(SandboxError::Wait(error)),
        }
    }
}
