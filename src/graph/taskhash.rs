//! Task hashes (spec §18.5): a task's base hash, the hashes of the tasks
//! it depends on, and the checksums of the files it names in
//! `[file-checksums]`; the key under which a task's result is cached.
//!
//! Invariants: hashes do not depend on where the build directory or the
//! layers are (paths enter only as the part after a `/./` marker), on time
//! or on hash-map order; dependencies are taken in order of their
//! `pn.do_task` names. `[nostamp]` tasks are the exception, as in BitBake:
//! they get a fresh random taint, so they and everything after them run
//! every time.
//!
//! Difference from BitBake (documented in BAZEL_BITBAKE_ANALYSIS.md):
//! every graph dependency counts; oe-core's signature generator drops some
//! (for example most native dependencies of target recipes), so Bitzel
//! rebuilds in cases where BitBake would reuse, never the other way round.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use md5::Md5;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{RecipeSet, TaskGraph, TaskId};

/// One file's contribution to a task hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChecksum {
    /// `./relative` for a file found by walking a directory (this part is
    /// hashed, as BitBake hashes what follows its `/./` marker), else the
    /// file's full path (not hashed; kept for reporting).
    pub path: String,
    pub md5: String,
}

impl FileChecksum {
    /// The name it is ordered by, and never where the layer is:
    /// `./relative` inside a walked directory, else the base name.
    pub fn clean_name(&self) -> String {
        if self.path.starts_with("./") {
            return self.path.clone();
        }
        Path::new(&self.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// What went into one task's hash: enough to explain a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHashInputs {
    pub basehash: String,
    /// `(pn.do_task, its hash)`, in the order hashed.
    pub deps: Vec<(String, String)>,
    pub files: Vec<FileChecksum>,
    /// Set for `[nostamp]` tasks.
    pub taint: Option<String>,
    pub taskhash: String,
}

/// Memoised MD5 of files, keyed by path, size and modification time.
#[derive(Default)]
pub struct FileChecksums {
    memo: Mutex<HashMap<String, (u64, i64, i64, String)>>,
}

impl FileChecksums {
    fn md5(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        let key = path.display().to_string();
        if let Ok(memo) = self.memo.lock()
            && let Some((size, secs, nanos, sum)) = memo.get(&key)
            && *size == meta.size()
            && *secs == meta.mtime()
            && *nanos == meta.mtime_nsec()
        {
            return Some(sum.clone());
        }
        let bytes = std::fs::read(path).ok()?;
        let sum = hex(&Md5::digest(&bytes));
        if let Ok(mut memo) = self.memo.lock() {
            memo.insert(
                key,
                (meta.size(), meta.mtime(), meta.mtime_nsec(), sum.clone()),
            );
        }
        Some(sum)
    }

    /// The checksums `[file-checksums]` asks for, sorted by their cleaned
    /// paths. Entries marked `False`, and files that cannot be read, are
    /// skipped (as BitBake does).
    pub fn for_flag(&self, flag: &str) -> Vec<FileChecksum> {
        let mut files: Vec<FileChecksum> = Vec::new();
        for entry in flag.split_whitespace() {
            let Some((path, exists)) = entry.rsplit_once(':') else {
                continue;
            };
            if exists != "True" {
                continue;
            }
            let paths: Vec<String> = if path.contains('*') {
                glob_paths(path)
            } else {
                vec![path.to_string()]
            };
            for path in paths {
                let p = Path::new(&path);
                if p.is_dir() {
                    for entry in walkdir::WalkDir::new(p)
                        .sort_by_file_name()
                        .into_iter()
                        .filter_entry(|e| !is_excluded_dir(e))
                        .filter_map(Result::ok)
                        .filter(|e| e.file_type().is_file())
                    {
                        let Ok(rel) = entry.path().strip_prefix(p) else {
                            continue;
                        };
                        if let Some(md5) = self.md5(entry.path()) {
                            let path = format!("./{}", rel.display());
                            files.push(FileChecksum { path, md5 });
                        }
                    }
                } else if let Some(md5) = self.md5(p) {
                    files.push(FileChecksum { path, md5 });
                }
            }
        }
        files.sort_by_cached_key(FileChecksum::clean_name);
        files
    }
}

/// BitBake's default `BB_SIGNATURE_LOCAL_DIRS_EXCLUDE`.
fn is_excluded_dir(entry: &walkdir::DirEntry) -> bool {
    entry.file_type().is_dir()
        && ["CVS", ".bzr", ".git", ".hg", ".osc", ".p4", ".repo", ".svn"]
            .contains(&entry.file_name().to_string_lossy().as_ref())
}

/// Files matching a `*` pattern in its last component.
fn glob_paths(pattern: &str) -> Vec<String> {
    let path = Path::new(pattern);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    let Some((prefix, suffix)) = name.split_once('*') else {
        return Vec::new();
    };
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with(prefix) && n.ends_with(suffix) && n.len() >= prefix.len() + suffix.len()
        })
        .map(|n| dir.join(n).display().to_string())
        .collect();
    found.sort();
    found
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of every task of `graph`, with what went into it; `names`
/// are the tasks' `pn.do_task` names ([`super::output::node_names`]).
pub fn task_hashes(
    set: &RecipeSet,
    graph: &TaskGraph,
    names: &[String],
    files: &FileChecksums,
) -> Vec<TaskHashInputs> {
    let mut hashes: Vec<Option<TaskHashInputs>> = vec![None; graph.len()];
    for id in graph.topological_order() {
        let node = &graph.tasks[id as usize];
        let task = &set.recipe(node.recipe).info.tasks[node.task as usize];
        let mut deps: Vec<(String, String)> = graph
            .deps(id)
            .iter()
            .map(|&d: &TaskId| {
                let hash = hashes[d as usize]
                    .as_ref()
                    .map(|h| h.taskhash.clone())
                    .unwrap_or_default();
                (names[d as usize].clone(), hash)
            })
            .collect();
        deps.sort();
        let checksums = files.for_flag(&task.file_checksums);
        let taint = (task.flag("nostamp") == Some("1")).then(|| uuid::Uuid::new_v4().to_string());
        let mut hasher = Sha256::new();
        hasher.update(task.basehash.as_bytes());
        for (_, hash) in &deps {
            hasher.update(hash.as_bytes());
        }
        for file in &checksums {
            if file.path.starts_with("./") {
                hasher.update(file.path.as_bytes());
            }
            hasher.update(file.md5.as_bytes());
        }
        if let Some(taint) = &taint {
            hasher.update(taint.as_bytes());
        }
        hashes[id as usize] = Some(TaskHashInputs {
            basehash: task.basehash.clone(),
            deps,
            files: checksums,
            taint,
            taskhash: hex(&hasher.finalize()),
        });
    }
    hashes.into_iter().flatten().collect()
}
