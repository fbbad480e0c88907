//! Host tools: the programs of the build host a task may run (BitBake's
//! `HOSTTOOLS`), found in the host `PATH`, and their identity for task
//! signatures.
//!
//! A tool is the first executable regular file named after it in the
//! search path, as a shell finds it; the sandbox mounts the file that path
//! resolves to (symlinks followed) under the tool's own name, so `argv[0]`
//! is the name BitBake's symlink would give.
//!
//! Identity is the SHA-256 of that file, memoised per process by path,
//! device, inode, size and modification time (not the change time, which
//! the sandbox's own hard links to the file change), so upgrading a host
//! tool changes the signatures of the tasks that may run it. A compiler
//! driver (`gcc`, `g++`, `cc`, `c++`, `cpp`, `*-gcc`, `*-g++`) is a small
//! program that runs the real compiler, so its identity also covers the
//! program `-print-prog-name=cc1` (`cc1plus` for C++) names, as an extra
//! entry `gcc/cc1`. Not covered: the libraries a tool loads, assemblers
//! and linkers unless listed themselves, and compiler-internal headers.
//!
//! Invariant: nothing here depends on the order of the search path's
//! directory listings; the same host gives the same answers.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};

use sha2::{Digest, Sha256};

use super::SandboxError;

/// A host tool found in the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostTool {
    /// The name the task runs it by.
    pub name: String,
    /// Where the search path found it (`/usr/bin/awk`).
    pub found: PathBuf,
    /// The file that path resolves to (`/usr/bin/mawk`).
    pub resolved: PathBuf,
}

/// The search path bitzel itself runs with (`PATH`, or a conventional one
/// when unset).
pub fn default_search_path() -> OsString {
    std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into())
}

/// The first executable regular file called `name` in `search_path`, or
/// None. A name with a `/` is never found.
pub fn find(name: &str, search_path: &OsStr) -> Option<HostTool> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return None;
    }
    for dir in std::env::split_paths(search_path) {
        // An empty entry means the current directory to a shell; a build
        // must not depend on where it was started, so it is skipped.
        if dir.as_os_str().is_empty() || !dir.is_absolute() {
            continue;
        }
        let found = dir.join(name);
        let Ok(meta) = std::fs::metadata(&found) else {
            continue;
        };
        if meta.is_file() && meta.mode() & 0o111 != 0 {
            let resolved = found.canonicalize().ok()?;
            return Some(HostTool {
                name: name.to_string(),
                found,
                resolved,
            });
        }
    }
    None
}

/// Every tool of `names` (duplicates once, in the given order), or an
/// error naming all that are missing.
pub fn resolve(names: &[String], search_path: &OsStr) -> Result<Vec<HostTool>, SandboxError> {
    resolve_with(names, search_path, |name| find(name, search_path))
}

/// [`resolve`] with `find` standing in for [`find`] (a memoised one).
pub(crate) fn resolve_with(
    names: &[String],
    search_path: &OsStr,
    mut find: impl FnMut(&str) -> Option<HostTool>,
) -> Result<Vec<HostTool>, SandboxError> {
    let mut seen = std::collections::HashSet::new();
    let mut tools = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for name in names {
        if !seen.insert(name.as_str()) {
            continue;
        }
        match find(name) {
            Some(tool) => tools.push(tool),
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

/// Each tool of `names` mapped to the SHA-256 (lowercase hex) of the file
/// it resolves to in `search_path`, plus `NAME/cc1` (or `NAME/cc1plus`) for
/// compiler drivers. Errors when a tool is missing or cannot be read.
pub fn identity(
    names: &[String],
    search_path: &OsStr,
) -> Result<BTreeMap<String, String>, SandboxError> {
    let tools = resolve(names, search_path)?;
    let mut out = BTreeMap::new();
    for tool in &tools {
        out.insert(tool.name.clone(), file_digest(&tool.resolved)?);
        if let Some(part) = compiler_part(&tool.name)
            && let Some(path) = compiler_program(tool, part, search_path)?
        {
            out.insert(format!("{}/{part}", tool.name), file_digest(&path)?);
        }
    }
    Ok(out)
}

/// The compiler proper behind a driver name, if it is one.
fn compiler_part(name: &str) -> Option<&'static str> {
    match name {
        "gcc" | "cc" | "cpp" => Some("cc1"),
        "g++" | "c++" => Some("cc1plus"),
        _ if name.ends_with("-gcc") || name.ends_with("-cpp") => Some("cc1"),
        _ if name.ends_with("-g++") => Some("cc1plus"),
        _ => None,
    }
}

/// What `DRIVER -print-prog-name=PART` names, when it is an existing
/// absolute path (clang and others answer with the bare name: they are
/// the compiler themselves). Memoised by the driver's file key.
fn compiler_program(
    tool: &HostTool,
    part: &str,
    search_path: &OsStr,
) -> Result<Option<PathBuf>, SandboxError> {
    /// (driver, part) to the program, if the driver names one.
    type Programs = HashMap<(FileKey, String), Option<PathBuf>>;
    static PROGRAMS: LazyLock<Mutex<Programs>> = LazyLock::new(Default::default);
    let key = (file_key(&tool.resolved)?, part.to_string());
    if let Some(known) = lock(&PROGRAMS).get(&key) {
        return Ok(known.clone());
    }
    let output = std::process::Command::new(&tool.found)
        .arg(format!("-print-prog-name={part}"))
        .env_clear()
        .env("PATH", search_path)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|error| SandboxError::Host {
            what: format!("run `{} -print-prog-name={part}`", tool.found.display()),
            error,
        })?;
    let text = String::from_utf8_lossy(&output.stdout);
    let path = PathBuf::from(text.trim());
    let program = (output.status.success() && path.is_absolute() && path.is_file())
        .then(|| path.canonicalize().unwrap_or(path));
    lock(&PROGRAMS).insert(key, program.clone());
    Ok(program)
}

/// What identifies a file's content without reading it, within a process.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FileKey {
    path: PathBuf,
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
}

fn file_key(path: &Path) -> Result<FileKey, SandboxError> {
    let meta = std::fs::metadata(path).map_err(|error| SandboxError::Host {
        what: format!("read `{}`", path.display()),
        error,
    })?;
    Ok(FileKey {
        path: path.to_path_buf(),
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
    })
}

/// SHA-256 of a file, memoised by its [`FileKey`].
fn file_digest(path: &Path) -> Result<String, SandboxError> {
    static DIGESTS: LazyLock<Mutex<HashMap<FileKey, String>>> = LazyLock::new(Default::default);
    let key = file_key(path)?;
    if let Some(digest) = lock(&DIGESTS).get(&key) {
        return Ok(digest.clone());
    }
    let read_error = |error| SandboxError::Host {
        what: format!("read `{}`", path.display()),
        error,
    };
    let mut file = std::fs::File::open(path).map_err(read_error)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(read_error)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = hex(&hasher.finalize());
    lock(&DIGESTS).insert(key, digest.clone());
    Ok(digest)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A poisoned memo is still a valid memo: entries are inserted whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tool_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str, mode: u32| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write("tool", "#!/bin/sh\necho one\n", 0o755);
        write("data", "not a program", 0o644);
        std::os::unix::fs::symlink("tool", dir.path().join("alias")).unwrap();
        dir
    }

    #[test]
    fn finds_executables_in_path_order_and_follows_symlinks() {
        let first = tool_dir();
        let second = tool_dir();
        let path = std::env::join_paths([first.path(), second.path()]).unwrap();
        let tool = find("alias", &path).unwrap();
        assert_eq!(tool.found, first.path().join("alias"));
        assert_eq!(
            tool.resolved,
            first.path().join("tool").canonicalize().unwrap()
        );
        assert_eq!(find("data", &path), None, "not executable");
        assert_eq!(find("../tool", &path), None);
        let err = resolve(&["tool".into(), "nope".into(), "data".into()], &path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`nope`, `data`"), "{err}");
    }

    #[test]
    fn identity_is_the_content_digest_and_follows_changes() {
        let dir = tool_dir();
        let path = dir.path().as_os_str().to_owned();
        let names = vec!["tool".to_string(), "alias".to_string()];
        let before = identity(&names, &path).unwrap();
        // sha256 of "#!/bin/sh\necho one\n"
        let expected = hex(&Sha256::digest(b"#!/bin/sh\necho one\n"));
        assert_eq!(before["tool"], expected);
        assert_eq!(before["alias"], expected);
        std::fs::write(dir.path().join("tool"), "#!/bin/sh\necho two\n").unwrap();
        let after = identity(&names, &path).unwrap();
        assert_ne!(before["tool"], after["tool"]);
    }

    #[test]
    fn compiler_drivers_name_their_compiler() {
        assert_eq!(compiler_part("gcc"), Some("cc1"));
        assert_eq!(compiler_part("x86_64-linux-gnu-g++"), Some("cc1plus"));
        assert_eq!(compiler_part("clang"), None);
        // With a real gcc on the host, cc1 is part of its identity.
        let search = default_search_path();
        if find("gcc", &search).is_some() {
            let ids = identity(&["gcc".to_string()], &search).unwrap();
            assert!(ids.contains_key("gcc/cc1"), "{ids:?}");
        }
    }
}
