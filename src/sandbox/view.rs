//! What a task sees, decided on the host: a [`SandboxSpec`] and its
//! prepared host directories become a [`Plan`], an ordered list of
//! [`Op`]s that the init in the sandbox executes without making any
//! decision of its own.
//!
//! Paths in ops are inside the view (`/usr/lib`); bind sources are host
//! paths, canonical, so what is bound is what the caller named even if a
//! symlink on the way changes meanwhile.
//!
//! Ordering: every mount is sorted by depth, so a parent is mounted before
//! what it contains. Read-only mounts that are not nested in a writable one
//! form phase A; one recursive read-only flag on the view root then covers
//! them and the root tmpfs at once. Writable mounts, `/tmp`, `/proc` and
//! anything nested in them form phase B, after that flag.
//!
//! Invariant: a mount point is created only in the view's own tmpfs, in
//! `/tmp`, or inside a writable mount; inside a read-only mount it must
//! already exist on the host, so building a view never writes into a
//! read-only input.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use serde::{Deserialize, Serialize};

use super::{SandboxError, SandboxSpec};

/// The version a helper must have been built with to run a plan.
pub(crate) const PLAN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Device nodes bound from the host into `/dev`.
pub const DEV_NODES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// A plan for the helper: namespaces, the view, then the command.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Plan {
    pub version: String,
    pub network: bool,
    pub hostname: String,
    /// The empty host directory the view's root tmpfs is mounted on.
    pub root: String,
    /// Fall back to `MS_REMOUNT` for read-only mounts even where
    /// `mount_setattr` exists (to test the fallback).
    pub legacy_remount: bool,
    pub ops: Vec<Op>,
    pub argv: Vec<String>,
    /// `NAME=value`, exactly the task's environment.
    pub env: Vec<String>,
    /// Directories searched for `argv[0]` when it has no `/` (the task's
    /// `PATH`).
    pub search_path: Vec<String>,
    pub cwd: String,
}

/// One step of building the view. Paths are inside the view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Op {
    /// `mkdir`, fine if it exists.
    Dir {
        path: String,
    },
    /// An empty file to mount a file on, fine if it exists.
    File {
        path: String,
    },
    Symlink {
        path: String,
        target: String,
    },
    /// A recursive bind mount of a canonical host path.
    Bind {
        source: String,
        target: String,
    },
    Tmpfs {
        target: String,
    },
    Proc {
        target: String,
    },
    /// Make `target` read-only, with everything mounted under it when
    /// `recursive`. `covers` lists those mounts for kernels without
    /// `mount_setattr`, which must remount each one.
    ReadOnly {
        target: String,
        recursive: bool,
        covers: Vec<String>,
    },
}

impl Op {
    /// The step in words, for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Op::Dir { path } => format!("create directory `{path}`"),
            Op::File { path } => format!("create mount point `{path}`"),
            Op::Symlink { path, target } => format!("create symlink `{path}` -> `{target}`"),
            Op::Bind { source, target } => format!("bind-mount `{source}` on `{target}`"),
            Op::Tmpfs { target } => format!("mount a tmpfs on `{target}`"),
            Op::Proc { target } => format!("mount proc on `{target}`"),
            Op::ReadOnly { target, .. } => format!("make `{target}` read-only"),
        }
    }
}

#[derive(Debug, Clone)]
enum MountKind {
    Bind { source: PathBuf, is_dir: bool },
    Tmpfs,
    Proc,
}

/// One mount of the view before ordering.
#[derive(Debug, Clone)]
struct ViewMount {
    target: String,
    kind: MountKind,
    writable: bool,
    /// Who asked for it, for error messages.
    origin: &'static str,
}

/// The host directories prepared for one plan (see `prepared`).
pub(crate) struct Prepared {
    /// The host tools, when there are any.
    pub hosttools: Option<PathBuf>,
    pub etc: PathBuf,
    /// The empty directory to build the view on.
    pub root: PathBuf,
}

/// Builds the plan for `spec` over its prepared directories.
pub(crate) fn plan(spec: &SandboxSpec, prepared: &Prepared) -> Result<Plan, SandboxError> {
    let invalid = |message: String| SandboxError::InvalidSpec { message };
    if spec.argv.is_empty() {
        return Err(invalid("the command is empty".into()));
    }
    for word in &spec.argv {
        no_nul(word, "command argument")?;
    }
    let mut env = Vec::with_capacity(spec.env.len());
    for (name, value) in &spec.env {
        if name.is_empty() || name.contains('=') {
            return Err(invalid(format!(
                "environment variable name `{name}` is empty or contains `=`"
            )));
        }
        no_nul(name, "environment variable name")?;
        no_nul(value, "environment value")?;
        env.push(format!("{name}={value}"));
    }
    let cwd = view_path(&spec.cwd, "working directory")?;
    let hostname = spec.hostname.clone();
    if hostname.is_empty() || hostname.len() > 64 || hostname.contains(['/', '\0']) {
        return Err(invalid(format!(
            "hostname `{hostname}` is not a valid host name"
        )));
    }
    let hosttools_dir = view_path(&spec.hosttools_dir, "host tools directory")?;
    if hosttools_dir == "/" {
        return Err(invalid("the host tools directory cannot be `/`".into()));
    }

    let mut ops = Vec::new();
    // Directories known to exist in the view's root tmpfs.
    let mut made: HashSet<String> = HashSet::new();
    made.insert("/".into());

    // The skeleton, all in the root tmpfs.
    for dir in ["/proc", "/dev", "/tmp"] {
        make_dirs(dir, &mut made, &mut ops);
    }
    for (path, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        // POSIX shared memory and semaphores live in /dev/shm; the
        // private /tmp is a tmpfs too and saves a mount.
        ("/dev/shm", "/tmp"),
    ] {
        ops.push(Op::Symlink {
            path: path.into(),
            target: target.into(),
        });
    }

    let mut mounts: Vec<ViewMount> = Vec::new();
    mounts.push(ViewMount {
        target: "/tmp".into(),
        kind: MountKind::Tmpfs,
        writable: true,
        origin: "the private /tmp",
    });
    mounts.push(ViewMount {
        target: "/proc".into(),
        kind: MountKind::Proc,
        writable: true,
        origin: "/proc",
    });
    for node in host_dev_nodes() {
        mounts.push(ViewMount {
            target: format!("/dev/{node}"),
            kind: MountKind::Bind {
                source: Path::new("/dev").join(node),
                is_dir: false,
            },
            writable: false,
            origin: "/dev",
        });
    }
    mounts.push(ViewMount {
        target: "/etc".into(),
        kind: MountKind::Bind {
            source: prepared.etc.clone(),
            is_dir: true,
        },
        writable: false,
        origin: "/etc",
    });
    if spec.network {
        // Live, since it changes with the host's network; a dangling one
        // (a stopped resolver) is left out.
        if let Ok(source) = Path::new("/etc/resolv.conf").canonicalize() {
            mounts.push(ViewMount {
                target: "/etc/resolv.conf".into(),
                kind: MountKind::Bind {
                    source,
                    is_dir: false,
                },
                writable: false,
                origin: "/etc",
            });
        }
    }
    for dir in &spec.system_dirs {
        let target = view_path(dir, "system directory")?;
        match host_system_dir(dir)? {
            SystemDir::Missing => {}
            SystemDir::Symlink(link) => {
                // Merged /usr: /lib -> usr/lib. The link costs nothing and
                // keeps paths such as the ELF interpreter's working.
                if let Some(parent) = parent_of(&target) {
                    make_dirs(parent, &mut made, &mut ops);
                }
                ops.push(Op::Symlink {
                    path: target,
                    target: link,
                });
            }
            SystemDir::Dir(source) => mounts.push(ViewMount {
                target,
                kind: MountKind::Bind {
                    source,
                    is_dir: true,
                },
                writable: false,
                origin: "a system directory",
            }),
        }
    }
    match &prepared.hosttools {
        Some(source) => mounts.push(ViewMount {
            target: hosttools_dir.clone(),
            kind: MountKind::Bind {
                source: source.clone(),
                is_dir: true,
            },
            writable: false,
            origin: "the host tools",
        }),
        None => make_dirs(&hosttools_dir, &mut made, &mut ops),
    }
    for mount in &spec.mounts {
        let target = view_path(&mount.target, "mount target")?;
        let source = canonical(&mount.source, "mount source")?;
        let is_dir = source.is_dir();
        mounts.push(ViewMount {
            target,
            kind: MountKind::Bind { source, is_dir },
            writable: mount.writable,
            origin: "the task's mounts",
        });
    }
    check_targets(&mounts, &hosttools_dir)?;
    let root = utf8(&prepared.root, "view root")?.to_string();
    for mount in &mounts {
        if let MountKind::Bind { source, .. } = &mount.kind
            && source.starts_with(&prepared.root)
        {
            return Err(invalid(format!(
                "mount source `{}` is inside the sandbox's own `{root}`",
                source.display()
            )));
        }
    }

    // Shebang directories: `#!/bin/sh` and `#!/usr/bin/env python3` find
    // the listed tools, and only those.
    for dir in &spec.shebang_dirs {
        let dir = view_path(dir, "shebang directory")?;
        if dir == hosttools_dir {
            continue;
        }
        if let Some(mount) = mounts
            .iter()
            .find(|m| is_within(&dir, &m.target) || is_within(&m.target, &dir))
        {
            return Err(invalid(format!(
                "shebang directory `{dir}` overlaps the mount at `{}`",
                mount.target
            )));
        }
        if let Some(parent) = parent_of(&dir) {
            make_dirs(parent, &mut made, &mut ops);
        }
        ops.push(Op::Symlink {
            path: dir,
            target: hosttools_dir.clone(),
        });
    }

    mounts.sort_by_key(|m| depth(&m.target));
    order_mounts(&mounts, &mut made, &mut ops)?;

    let search_path = spec
        .env
        .get("PATH")
        .map(|path| {
            path.split(':')
                .filter(|dir| !dir.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Plan {
        version: PLAN_VERSION.into(),
        network: spec.network,
        hostname,
        root,
        legacy_remount: false,
        ops,
        argv: spec.argv.clone(),
        env,
        search_path,
        cwd,
    })
}

/// A system directory on the host, as looked up once per process (the
/// host's layout does not change under a build).
#[derive(Debug, Clone)]
enum SystemDir {
    Missing,
    /// The link's text.
    Symlink(String),
    /// The canonical path.
    Dir(PathBuf),
}

fn host_system_dir(dir: &Path) -> Result<SystemDir, SandboxError> {
    static KNOWN: LazyLock<Mutex<HashMap<PathBuf, SystemDir>>> = LazyLock::new(Default::default);
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = known.get(dir) {
        return Ok(found.clone());
    }
    let found = match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.file_type().is_symlink() => {
            let link = std::fs::read_link(dir).map_err(|error| SandboxError::Host {
                what: format!("read the symlink `{}`", dir.display()),
                error,
            })?;
            SystemDir::Symlink(utf8(&link, "system directory symlink")?.to_string())
        }
        Ok(meta) if meta.is_dir() => SystemDir::Dir(canonical(dir, "system directory")?),
        _ => SystemDir::Missing,
    };
    known.insert(dir.to_path_buf(), found.clone());
    Ok(found)
}

/// The [`DEV_NODES`] the host has, looked up once per process.
fn host_dev_nodes() -> &'static [&'static str] {
    static NODES: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
        DEV_NODES
            .iter()
            .copied()
            .filter(|node| Path::new("/dev").join(node).exists())
            .collect()
    });
    &NODES
}

/// Two mounts at one place, or a task mount where the sandbox keeps its
/// own (`/`, `/proc`, `/dev`, the host tools), are errors.
fn check_targets(mounts: &[ViewMount], hosttools_dir: &str) -> Result<(), SandboxError> {
    let mut seen = HashSet::new();
    for mount in mounts {
        if !seen.insert(mount.target.as_str()) {
            return Err(SandboxError::InvalidSpec {
                message: format!(
                    "two mounts at `{}` (one from {})",
                    mount.target, mount.origin
                ),
            });
        }
        let reserved = mount.target == "/"
            || (mount.origin == "the task's mounts"
                && ["/proc", "/dev", "/etc", hosttools_dir]
                    .iter()
                    .any(|r| is_within(&mount.target, r)));
        if reserved {
            return Err(SandboxError::InvalidSpec {
                message: format!("mount target `{}` is reserved by the sandbox", mount.target),
            });
        }
    }
    Ok(())
}

/// Emits mount points and mounts in phase order (see the module doc).
fn order_mounts(
    mounts: &[ViewMount],
    made: &mut HashSet<String>,
    ops: &mut Vec<Op>,
) -> Result<(), SandboxError> {
    // Per mount: the nearest enclosing mount (None: the root tmpfs) and
    // whether it belongs to phase A.
    let mut parent_idx: Vec<Option<usize>> = Vec::with_capacity(mounts.len());
    let mut phase_a: Vec<bool> = Vec::with_capacity(mounts.len());
    for (idx, mount) in mounts.iter().enumerate() {
        // Sorted by depth, so an enclosing mount comes earlier.
        let parent = (0..idx)
            .rev()
            .filter(|&j| is_within(&mount.target, &mounts[j].target))
            .max_by_key(|&j| depth(&mounts[j].target));
        let in_a = !mount.writable && parent.is_none_or(|p| phase_a[p]);
        parent_idx.push(parent);
        phase_a.push(in_a);
    }

    let mut later = Vec::new();
    let mut covers = Vec::new();
    for (idx, mount) in mounts.iter().enumerate() {
        let mut point_ops = Vec::new();
        mount_point(
            mount,
            parent_idx[idx].map(|p| &mounts[p]),
            made,
            &mut point_ops,
        )?;
        let mount_ops = mount_ops(mount);
        if phase_a[idx] {
            ops.extend(point_ops);
            ops.extend(mount_ops);
            covers.push(mount.target.clone());
        } else if parent_idx[idx].is_none() {
            // The mount point is in the root tmpfs, which is read-only
            // once phase A ends.
            ops.extend(point_ops);
            later.extend(mount_ops);
        } else {
            later.extend(point_ops);
            later.extend(mount_ops);
            if !mount.writable {
                later.push(Op::ReadOnly {
                    target: mount.target.clone(),
                    recursive: true,
                    covers: vec![mount.target.clone()],
                });
            }
        }
    }
    ops.push(Op::ReadOnly {
        target: "/".into(),
        recursive: true,
        covers,
    });
    ops.extend(later);
    Ok(())
}

fn mount_ops(mount: &ViewMount) -> Vec<Op> {
    let target = mount.target.clone();
    match &mount.kind {
        MountKind::Bind { source, .. } => vec![Op::Bind {
            // Canonical sources are UTF-8: checked when they were made.
            source: source.to_string_lossy().into_owned(),
            target,
        }],
        MountKind::Tmpfs => vec![Op::Tmpfs { target }],
        MountKind::Proc => vec![Op::Proc { target }],
    }
}

/// The ops that make `mount`'s mount point exist, given the mount it is
/// nested in (None: the root tmpfs).
fn mount_point(
    mount: &ViewMount,
    parent: Option<&ViewMount>,
    made: &mut HashSet<String>,
    ops: &mut Vec<Op>,
) -> Result<(), SandboxError> {
    let is_dir = match &mount.kind {
        MountKind::Bind { is_dir, .. } => *is_dir,
        MountKind::Tmpfs | MountKind::Proc => true,
    };
    let Some(parent) = parent else {
        if let Some(dir) = parent_of(&mount.target) {
            make_dirs(dir, made, ops);
        }
        if is_dir {
            make_dirs(&mount.target, made, ops);
        } else {
            ops.push(Op::File {
                path: mount.target.clone(),
            });
        }
        return Ok(());
    };
    let rest = &mount.target[parent.target.len()..];
    match &parent.kind {
        MountKind::Bind { source, .. } if !parent.writable => {
            // Never write into a read-only input: the point must exist.
            let host = source.join(rest.trim_start_matches('/'));
            let ok = match std::fs::metadata(&host) {
                Ok(meta) => meta.is_dir() == is_dir,
                Err(_) => false,
            };
            if !ok {
                return Err(SandboxError::InvalidSpec {
                    message: format!(
                        "mount target `{}` is inside the read-only mount at `{}`, \
                         so `{}` must already exist as a {}",
                        mount.target,
                        parent.target,
                        host.display(),
                        if is_dir { "directory" } else { "file" }
                    ),
                });
            }
        }
        MountKind::Proc => {
            return Err(SandboxError::InvalidSpec {
                message: format!("mount target `{}` is inside /proc", mount.target),
            });
        }
        _ => {
            // A writable bind or a tmpfs: create what is missing (on the
            // host, for a bind; the caller gave it to us writable).
            let mut dir = parent.target.clone();
            let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
            for (idx, part) in parts.iter().enumerate() {
                dir = join(&dir, part);
                if idx + 1 < parts.len() || is_dir {
                    ops.push(Op::Dir { path: dir.clone() });
                } else {
                    ops.push(Op::File { path: dir.clone() });
                }
            }
        }
    }
    Ok(())
}

/// `mkdir -p` in the root tmpfs, emitting only directories not made yet.
fn make_dirs(path: &str, made: &mut HashSet<String>, ops: &mut Vec<Op>) {
    if made.contains(path) {
        return;
    }
    if let Some(parent) = parent_of(path) {
        make_dirs(parent, made, ops);
    }
    made.insert(path.to_string());
    ops.push(Op::Dir { path: path.into() });
}

/// An absolute, normal path inside the view, as a string without a
/// trailing slash.
fn view_path(path: &Path, what: &str) -> Result<String, SandboxError> {
    let text = utf8(path, what)?;
    let invalid = |why: &str| SandboxError::InvalidSpec {
        message: format!("{what} `{text}` {why}"),
    };
    if !path.is_absolute() {
        return Err(invalid("is not absolute"));
    }
    let mut out = String::new();
    for component in path.components() {
        match component {
            Component::RootDir => {}
            Component::Normal(part) => {
                out.push('/');
                out.push_str(&part.to_string_lossy());
            }
            Component::CurDir | Component::ParentDir | Component::Prefix(_) => {
                return Err(invalid("has `.` or `..` components"));
            }
        }
    }
    no_nul(&out, what)?;
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// A host path made canonical, so it resolves the same from under the old
/// root.
fn canonical(path: &Path, what: &str) -> Result<PathBuf, SandboxError> {
    let source = path
        .canonicalize()
        .map_err(|error| SandboxError::MountSource {
            what: what.to_string(),
            path: path.to_path_buf(),
            error,
        })?;
    utf8(&source, what)?;
    Ok(source)
}

fn utf8<'a>(path: &'a Path, what: &str) -> Result<&'a str, SandboxError> {
    path.to_str().ok_or_else(|| SandboxError::InvalidSpec {
        message: format!("{what} `{}` is not valid UTF-8", path.display()),
    })
}

fn no_nul(text: &str, what: &str) -> Result<(), SandboxError> {
    if text.contains('\0') {
        return Err(SandboxError::InvalidSpec {
            message: format!("{what} `{}` contains a NUL byte", text.escape_debug()),
        });
    }
    Ok(())
}

fn depth(path: &str) -> usize {
    path.split('/').filter(|p| !p.is_empty()).count()
}

/// `path` is `dir` or below it (whole components).
fn is_within(path: &str, dir: &str) -> bool {
    dir == "/"
        || path == dir
        || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

fn parent_of(path: &str) -> Option<&str> {
    match path.rfind('/') {
        Some(0) if path.len() > 1 => Some("/"),
        Some(0) | None => None,
        Some(at) => Some(&path[..at]),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The mount targets of a plan, in order (for tests and diagnostics).
#[cfg(test)]
fn mount_targets(ops: &[Op]) -> Vec<&str> {
    ops.iter()
        .filter_map(|op| match op {
            Op::Bind { target, .. } | Op::Tmpfs { target } | Op::Proc { target } => {
                Some(target.as_str())
            }
            _ => None,
        })
        .collect()
}

/// The set of view paths an op list writes to before the root becomes
/// read-only (for tests).
#[cfg(test)]
fn phase_a_paths(ops: &[Op]) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for op in ops {
        match op {
            Op::ReadOnly { target, .. } if target == "/" => break,
            Op::Dir { path } | Op::File { path } => {
                out.insert(path.clone());
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::Mount;

    fn spec_with(mounts: Vec<Mount>) -> SandboxSpec {
        let mut spec = SandboxSpec::new(["true"]);
        spec.system_dirs = Vec::new();
        spec.mounts = mounts;
        spec
    }

    fn plan(spec: &SandboxSpec) -> Result<Plan, SandboxError> {
        let prepared = Prepared {
            hosttools: None,
            etc: PathBuf::from("/etc"),
            root: PathBuf::from("/nonexistent/bitzel-view"),
        };
        super::plan(spec, &prepared)
    }

    #[test]
    fn view_paths_are_normalised_and_checked() {
        assert_eq!(view_path(Path::new("/a/b/"), "x").unwrap(), "/a/b");
        assert_eq!(view_path(Path::new("/"), "x").unwrap(), "/");
        assert!(view_path(Path::new("a/b"), "x").is_err());
        assert!(view_path(Path::new("/a/../b"), "x").is_err());
        assert!(is_within("/a/b", "/a"));
        assert!(!is_within("/ab", "/a"));
        assert!(is_within("/a", "/"));
        assert_eq!(parent_of("/a"), Some("/"));
        assert_eq!(parent_of("/a/b"), Some("/a"));
        assert_eq!(parent_of("/"), None);
    }

    #[test]
    fn a_writable_mount_nested_in_a_read_only_one_needs_its_mount_point() {
        let outer = tempfile::tempdir().unwrap();
        let inner = tempfile::tempdir().unwrap();
        let spec = spec_with(vec![
            Mount::read_only(outer.path(), "/deps"),
            Mount::writable(inner.path(), "/deps/work"),
        ]);
        let err = plan(&spec).unwrap_err().to_string();
        assert!(err.contains("must already exist"), "{err}");

        std::fs::create_dir(outer.path().join("work")).unwrap();
        let plan = plan(&spec).unwrap();
        let targets = mount_targets(&plan.ops);
        let deps = targets.iter().position(|t| *t == "/deps").unwrap();
        let work = targets.iter().position(|t| *t == "/deps/work").unwrap();
        assert!(deps < work);
        // The read-only input is never written to: no op creates a path
        // below /deps.
        assert!(!plan.ops.iter().any(|op| matches!(op,
            Op::Dir { path } | Op::File { path } if path.starts_with("/deps/"))));
    }

    #[test]
    fn read_only_mounts_inside_writable_ones_come_after_the_root_is_sealed() {
        let work = tempfile::tempdir().unwrap();
        let deps = tempfile::tempdir().unwrap();
        let spec = spec_with(vec![
            Mount::read_only(deps.path(), "/work/build/deps"),
            Mount::writable(work.path(), "/work/build"),
        ]);
        let plan = plan(&spec).unwrap();
        let seal = plan
            .ops
            .iter()
            .position(|op| matches!(op, Op::ReadOnly { target, .. } if target == "/"))
            .unwrap();
        let bind_at = |t: &str| {
            plan.ops
                .iter()
                .position(|op| matches!(op, Op::Bind { target, .. } if target == t))
                .unwrap()
        };
        assert!(seal < bind_at("/work/build"));
        assert!(bind_at("/work/build") < bind_at("/work/build/deps"));
        // The nested read-only mount gets its own flag, and its mount
        // point is made inside the writable mount, after it is mounted.
        assert!(
            plan.ops[bind_at("/work/build/deps") + 1..].iter().any(
                |op| matches!(op, Op::ReadOnly { target, .. } if target == "/work/build/deps")
            )
        );
        assert!(phase_a_paths(&plan.ops).contains("/work/build"));
        assert!(!phase_a_paths(&plan.ops).contains("/work/build/deps"));
    }

    #[test]
    fn reserved_and_duplicate_targets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for target in ["/proc/x", "/dev", "/hosttools/sh", "/"] {
            let spec = spec_with(vec![Mount::writable(dir.path(), target)]);
            let err = plan(&spec).unwrap_err().to_string();
            assert!(err.contains("reserved"), "{target}: {err}");
        }
        let spec = spec_with(vec![
            Mount::writable(dir.path(), "/w"),
            Mount::read_only(dir.path(), "/w/"),
        ]);
        let err = plan(&spec).unwrap_err().to_string();
        assert!(err.contains("two mounts at `/w`"), "{err}");
    }

    #[test]
    fn shebang_directories_link_to_the_host_tools_and_everything_read_only_is_sealed() {
        let tools = tempfile::tempdir().unwrap();
        let spec = spec_with(Vec::new());
        let prepared = Prepared {
            hosttools: Some(tools.path().to_path_buf()),
            etc: PathBuf::from("/etc"),
            root: PathBuf::from("/nonexistent/bitzel-view"),
        };
        let plan = super::plan(&spec, &prepared).unwrap();
        for dir in ["/bin", "/usr/bin"] {
            assert!(plan.ops.contains(&Op::Symlink {
                path: dir.into(),
                target: "/hosttools".into(),
            }));
        }
        let seal = plan
            .ops
            .iter()
            .find_map(|op| match op {
                Op::ReadOnly { target, covers, .. } if target == "/" => Some(covers.clone()),
                _ => None,
            })
            .unwrap();
        for target in ["/etc", "/hosttools", "/dev/null"] {
            assert!(seal.iter().any(|c| c == target), "{target} in {seal:?}");
        }
        for target in ["/tmp", "/proc"] {
            assert!(!seal.iter().any(|c| c == target), "{target} in {seal:?}");
        }
    }

    #[test]
    fn a_source_inside_the_sandboxs_own_directory_is_refused() {
        let own = tempfile::tempdir().unwrap();
        let inside = own.path().join("view/x");
        std::fs::create_dir_all(&inside).unwrap();
        let spec = spec_with(vec![Mount::read_only(&inside, "/x")]);
        let prepared = Prepared {
            hosttools: None,
            etc: PathBuf::from("/etc"),
            root: own.path().join("view").canonicalize().unwrap(),
        };
        let err = super::plan(&spec, &prepared).unwrap_err().to_string();
        assert!(err.contains("inside the sandbox's own"), "{err}");
    }

    #[test]
    fn a_missing_mount_source_names_the_path() {
        let spec = spec_with(vec![Mount::read_only("/nonexistent/bitzel-src", "/src")]);
        let err = plan(&spec).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/bitzel-src"), "{err}");
    }
}
