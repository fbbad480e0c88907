//! The local content-addressed store (CAS) and action cache: where the
//! executor keeps every task's outputs, and how it gets them back.
//!
//! One [`Cache`] is a directory (`$TOPDIR/cache` by default) laid out as:
//!
//! ```text
//! cache/
//!   cas/sha256/ab/abcdef…       blobs, named by the full hex hash, sharded
//!                               by its first two hex digits; mode 0444
//!   cas/sha256-exec/ab/abcdef…  executable twins (mode 0555) of blobs that
//!                               were restored as executables by hardlink
//!   ac/sha256/ab/abcdef…        action results (REAPI `ActionResult`),
//!                               named by the task key; mtime = last use
//!   tmp/                        temporary files, renamed into place
//!   lock                        flock: builds shared, gc exclusive
//!   remote/                     the remote cache's records of results
//!                               it found on a server (src/remote/memo.rs)
//! ```
//!
//! The object model is REAPI v2's, through the `bazel-remote-apis` types
//! (re-exported as [`reapi`]): a file is a blob, a directory is a
//! canonical `Directory` message stored as a blob, an output tree is a
//! `Tree` message, a task's result is an `ActionResult`. A later stage
//! uploads these objects unchanged to a remote cache.
//!
//! Invariants:
//! - A blob is only ever visible under its final name with its full,
//!   fsynced content: it is written to `tmp/`, made read-only, given the
//!   seal mtime ([`SEAL_MTIME`]), fsynced and renamed. A process killed at
//!   any moment leaves at most stray files in `tmp/` (gc removes them).
//! - A blob is *sealed* when it is a regular file of the digest's size,
//!   with the seal mtime and its mode (0444, twins 0555). Every use checks
//!   the seal (one `stat`); anything else is reported as
//!   [`CasError::Corrupt`] or [`CasError::Missing`], never restored.
//!   Any in-place write to a blob sets its mtime to the present, so a task
//!   writing through a hardlinked file is caught at the next use. Blobs
//!   read into memory (directories, trees) are always fully hashed;
//!   [`Verify::Content`] hashes file blobs too.
//! - Writers take [`Cache::lock_shared`], gc takes
//!   [`Cache::lock_exclusive`]; gc never removes a blob reachable from an
//!   action result it keeps.
//! - Directory messages are in REAPI canonical form: children sorted by
//!   name (UTF-8 bytes), default fields omitted, encoded by prost in field
//!   order, so a tree's digest depends only on its names, contents and
//!   modes.

mod action_cache;
mod blob;
mod digest;
mod gc;
mod tree;

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

pub use bazel_remote_apis::build::bazel::remote::execution::v2 as reapi;
pub use blob::BlobWriter;
pub use digest::{Digest, DigestError};
pub use gc::{CacheStats, GcReport};
pub use tree::{Captured, RestoreMode, RestoreOptions, RestoreStats, Verify};

/// The modification time every blob carries once sealed (2001-09-09
/// 01:46:40 UTC, seconds since the epoch). Fixed so that a changed mtime
/// reveals an in-place write; after 1980 so that restored files can go
/// into zip archives.
pub const SEAL_MTIME: u64 = 1_000_000_000;

/// Why a cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CasError {
    /// The file system refused an operation on `path`.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// A blob a tree or result refers to is not in the cache.
    #[error("blob {digest} is missing from the cache")]
    Missing { digest: Digest },
    /// A blob or action result is in the cache but is not what its name
    /// says (size, hash, seal, or an undecodable or invalid message).
    #[error("{what} {digest} in the cache is corrupt: {reason}")]
    Corrupt {
        what: &'static str,
        digest: Digest,
        reason: String,
    },
    /// A directory to capture holds something REAPI cannot represent.
    #[error("{}: cannot capture: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
    /// A file changed while it was being captured.
    #[error("{}: changed while it was being captured", path.display())]
    Changed { path: PathBuf },
    /// A caller's argument is invalid (a digest, a path, a non-empty
    /// restore destination).
    #[error("{0}")]
    Invalid(String),
}

impl CasError {
    /// True when the cache itself is damaged (a blob is missing or
    /// corrupt): the executor should treat the action result as a miss,
    /// remove it ([`Cache::remove_action_result`]) and run the task again.
    pub fn is_cache_damage(&self) -> bool {
        matches!(self, CasError::Missing { .. } | CasError::Corrupt { .. })
    }

    pub(crate) fn io(path: &Path, source: io::Error) -> CasError {
        CasError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt_blob(digest: Digest, reason: impl Into<String>) -> CasError {
        CasError::Corrupt {
            what: "blob",
            digest,
            reason: reason.into(),
        }
    }
}

impl From<DigestError> for CasError {
    fn from(err: DigestError) -> CasError {
        CasError::Invalid(err.to_string())
    }
}

pub type Result<T, E = CasError> = std::result::Result<T, E>;

/// A cache directory. Cheap to clone; safe to share between threads and
/// between processes (see the module invariants).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// A shared lock on the cache, held by a build while it reads and writes
/// the cache; gc waits until no build holds one. Released on drop.
#[derive(Debug)]
pub struct SharedLock {
    _file: File,
}

/// The exclusive lock gc holds: no build is using the cache meanwhile.
/// Released on drop.
#[derive(Debug)]
pub struct ExclusiveLock {
    _file: File,
}

impl Cache {
    /// Opens the cache at `root`, creating its directories if needed.
    pub fn open(root: impl Into<PathBuf>) -> Result<Cache> {
        let cache = Cache { root: root.into() };
        for dir in [
            cache.root.join("cas/sha256"),
            cache.root.join("ac/sha256"),
            cache.root.join("tmp"),
        ] {
            fs::create_dir_all(&dir).map_err(|e| CasError::io(&dir, e))?;
        }
        Ok(cache)
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Blocks until no gc runs, then holds a shared lock.
    pub fn lock_shared(&self) -> Result<SharedLock> {
        let file = self.lock_file()?;
        file.lock_shared()
            .map_err(|e| CasError::io(&self.lock_path(), e))?;
        Ok(SharedLock { _file: file })
    }

    /// Blocks until no build or gc holds a lock, then holds the exclusive
    /// one.
    pub fn lock_exclusive(&self) -> Result<ExclusiveLock> {
        let file = self.lock_file()?;
        file.lock()
            .map_err(|e| CasError::io(&self.lock_path(), e))?;
        Ok(ExclusiveLock { _file: file })
    }

    /// The exclusive lock if nobody holds a lock now, `None` otherwise.
    pub fn try_lock_exclusive(&self) -> Result<Option<ExclusiveLock>> {
        let file = self.lock_file()?;
        match file.try_lock() {
            Ok(()) => Ok(Some(ExclusiveLock { _file: file })),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(CasError::io(&self.lock_path(), e)),
        }
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    fn lock_file(&self) -> Result<File> {
        let path = self.lock_path();
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| CasError::io(&path, e))
    }
}
