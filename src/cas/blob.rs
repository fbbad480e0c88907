//! Blobs: writing them atomically, checking their seal, reading them back.
//!
//! A blob lives at `cas/sha256/<first two hex digits>/<64 hex digits>`:
//! one level of 256 shard directories keeps every directory small enough
//! for ext4's hashed lookups up to millions of blobs without making a
//! small cache pay for 65,536 directories, as Bazel's disk cache and
//! buildbox-casd also do. Shards are created on first use.
//!
//! Invariants: a blob appears under its final name only by `rename` from
//! `tmp/`, after its content, mode (0444) and seal mtime were written and
//! synced; an existing sealed blob is never rewritten; a blob found damaged
//! is unlinked (files hardlinked from it keep their inode), so that the
//! task's next run writes it afresh.

use std::collections::HashSet;
use std::fs::{self, File, FileTimes, OpenOptions, Permissions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use super::digest::{DigestWriter, hex_into};
use super::{Cache, CasError, Digest, Result, SEAL_MTIME};

/// Mode of a blob: read-only for everyone, so that an unprivileged task
/// cannot write through a hardlink to it.
pub(crate) const BLOB_MODE: u32 = 0o444;
/// Mode of an executable twin.
pub(crate) const EXEC_BLOB_MODE: u32 = 0o555;

/// Files up to this size are read into memory once (hash, then write from
/// the buffer); larger ones are hashed first and copied only if missing.
const IN_MEMORY_LIMIT: u64 = 1 << 20;
const COPY_BUFFER: usize = 256 << 10;

/// The kinds of object stored under a digest, each in its own tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    /// `cas/sha256`: blobs.
    Blobs,
    /// `cas/sha256-exec`: executable twins of blobs.
    ExecTwins,
    /// `ac/sha256`: action results.
    ActionResults,
}

impl Area {
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Area::Blobs => "cas/sha256",
            Area::ExecTwins => "cas/sha256-exec",
            Area::ActionResults => "ac/sha256",
        }
    }
}

/// The state of a blob's file.
pub(crate) enum BlobState {
    Sealed,
    Absent,
    Damaged,
}

/// What the seal check looks at, from `std` metadata or a raw `stat`.
pub(crate) struct FileFacts {
    pub(crate) is_file: bool,
    pub(crate) len: u64,
    pub(crate) mtime: i64,
    pub(crate) mtime_nsec: i64,
    /// Permission bits (`& 0o7777`).
    pub(crate) mode: u32,
}

impl From<&fs::Metadata> for FileFacts {
    fn from(meta: &fs::Metadata) -> FileFacts {
        FileFacts {
            is_file: meta.file_type().is_file(),
            len: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            mode: meta.mode() & 0o7777,
        }
    }
}

impl From<&rustix::fs::Stat> for FileFacts {
    // The `stat` field types differ between architectures.
    #[allow(clippy::unnecessary_cast)]
    fn from(stat: &rustix::fs::Stat) -> FileFacts {
        FileFacts {
            is_file: rustix::fs::FileType::from_raw_mode(stat.st_mode)
                == rustix::fs::FileType::RegularFile,
            len: u64::try_from(stat.st_size).unwrap_or(0),
            mtime: stat.st_mtime as i64,
            mtime_nsec: stat.st_mtime_nsec as i64,
            mode: stat.st_mode & 0o7777,
        }
    }
}

/// Checks that a file is a sealed blob of `digest` with `mode`.
pub(crate) fn check_seal(
    facts: impl Into<FileFacts>,
    digest: &Digest,
    mode: u32,
) -> Result<(), String> {
    let facts = facts.into();
    if !facts.is_file {
        return Err("not a regular file".into());
    }
    if facts.len != digest.size_bytes {
        return Err(format!(
            "{} bytes instead of {}",
            facts.len, digest.size_bytes
        ));
    }
    if facts.mtime != SEAL_MTIME as i64 || facts.mtime_nsec != 0 {
        return Err("modified in place (its mtime changed)".into());
    }
    if facts.mode != mode {
        return Err(format!("mode {:o} instead of {:o}", facts.mode, mode));
    }
    Ok(())
}

/// The blob mode of an area.
pub(crate) fn area_mode(area: Area) -> u32 {
    if area == Area::ExecTwins {
        EXEC_BLOB_MODE
    } else {
        BLOB_MODE
    }
}

impl Cache {
    /// Where the blob `digest` lives (it may not exist).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.object_path(Area::Blobs, &digest.hash)
    }

    /// Where the action result for `key` lives (it may not exist).
    pub fn action_result_path(&self, key: &Digest) -> PathBuf {
        self.object_path(Area::ActionResults, &key.hash)
    }

    pub(crate) fn object_path(&self, area: Area, hash: &[u8; 32]) -> PathBuf {
        let mut hex = [0u8; 64];
        hex_into(hash, &mut hex);
        let hex = std::str::from_utf8(&hex).unwrap_or_default();
        let mut path = self.root.join(area.dir());
        path.push(&hex[..2]);
        path.push(hex);
        path
    }

    pub(crate) fn blob_state(&self, area: Area, digest: &Digest) -> Result<BlobState> {
        let path = self.object_path(area, &digest.hash);
        let mode = area_mode(area);
        match fs::symlink_metadata(&path) {
            Ok(meta) => Ok(match check_seal(&meta, digest, mode) {
                Ok(()) => BlobState::Sealed,
                Err(_) => BlobState::Damaged,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BlobState::Absent),
            Err(e) => Err(CasError::io(&path, e)),
        }
    }

    /// True if the blob is in the cache and sealed (one `stat`).
    pub fn contains(&self, digest: &Digest) -> Result<bool> {
        Ok(matches!(
            self.blob_state(Area::Blobs, digest)?,
            BlobState::Sealed
        ))
    }

    /// The digests of `digests` that are not in the cache, in order (what
    /// a remote cache's `FindMissingBlobs` answers).
    pub fn find_missing(&self, digests: &[Digest]) -> Result<Vec<Digest>> {
        let mut missing = Vec::new();
        for digest in digests {
            if !self.contains(digest)? {
                missing.push(*digest);
            }
        }
        Ok(missing)
    }

    /// Stores `bytes` as a blob (fsynced before it appears) and returns its
    /// digest. An existing blob is not rewritten.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<Digest> {
        let batch = BlobBatch::new(self);
        let digest = batch.put_bytes(bytes)?;
        batch.commit()?;
        Ok(digest)
    }

    /// Stores the content of the file at `path` as a blob.
    pub fn put_file(&self, path: &Path) -> Result<Digest> {
        let batch = BlobBatch::new(self);
        let digest = batch.put_file(path)?;
        batch.commit()?;
        Ok(digest)
    }

    /// Stores what `reader` yields as the blob `expected` (a download from
    /// a remote cache); fails without storing anything if the content does
    /// not match.
    pub fn put_verified(&self, expected: &Digest, reader: &mut dyn Read) -> Result<()> {
        let Some(mut writer) = self.blob_writer(expected)? else {
            return Ok(());
        };
        let mut buffer = vec![0u8; COPY_BUFFER];
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CasError::Invalid(format!("reading blob {expected}: {e}"))),
            };
            writer.write(&buffer[..n])?;
        }
        writer.finish()
    }

    /// A writer for the blob `expected`, whose content arrives in pieces
    /// (a stream from a remote cache), or `None` when the cache already
    /// has it. Nothing is visible under the blob's name until
    /// [`BlobWriter::finish`] found the content right.
    pub fn blob_writer(&self, expected: &Digest) -> Result<Option<BlobWriter>> {
        if let BlobState::Sealed = self.blob_state(Area::Blobs, expected)? {
            return Ok(None);
        }
        let (temp, file) = self.create_temp()?;
        Ok(Some(BlobWriter {
            cache: self.clone(),
            expected: *expected,
            temp,
            file,
            hasher: DigestWriter::default(),
        }))
    }

    /// Stores downloaded blobs, each checked against the digest it was
    /// asked for, made durable together (one `syncfs`). A blob whose
    /// content does not match is not stored and is reported as
    /// [`CasError::Corrupt`] (the first such); the matching ones are
    /// stored all the same, being exactly what their names say.
    pub fn put_verified_many<'b>(
        &self,
        blobs: impl IntoIterator<Item = (Digest, &'b [u8])>,
    ) -> Result<()> {
        let batch = BlobBatch::new(self);
        let mut first_mismatch = None;
        for (expected, bytes) in blobs {
            let actual = Digest::of_bytes(bytes);
            if actual != expected {
                first_mismatch.get_or_insert(CasError::Corrupt {
                    what: "downloaded blob",
                    digest: expected,
                    reason: format!("content has digest {actual}"),
                });
                continue;
            }
            batch.put_bytes(bytes)?;
        }
        batch.commit()?;
        match first_mismatch {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Opens a sealed blob for reading (content not verified).
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        self.open_sealed(Area::Blobs, digest)
    }

    pub(crate) fn open_sealed(&self, area: Area, digest: &Digest) -> Result<File> {
        let path = self.object_path(area, &digest.hash);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(CasError::Missing { digest: *digest });
            }
            Err(e) => return Err(CasError::io(&path, e)),
        };
        let meta = file.metadata().map_err(|e| CasError::io(&path, e))?;
        if let Err(reason) = check_seal(&meta, digest, area_mode(area)) {
            return Err(self.discard_damaged(area, digest, reason));
        }
        Ok(file)
    }

    /// Reads a whole blob and checks its hash.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut file = self.open_blob(digest)?;
        let mut bytes = Vec::with_capacity(usize::try_from(digest.size_bytes).unwrap_or(0));
        file.read_to_end(&mut bytes)
            .map_err(|e| CasError::io(&self.blob_path(digest), e))?;
        if Digest::of_bytes(&bytes) != *digest {
            return Err(self.discard_damaged(
                Area::Blobs,
                digest,
                "content does not match its hash".into(),
            ));
        }
        Ok(bytes)
    }

    /// Hashes a blob's content: `Ok` if it matches its digest.
    pub fn verify_blob(&self, digest: &Digest) -> Result<()> {
        self.verify_area(Area::Blobs, digest)
    }

    pub(crate) fn verify_area(&self, area: Area, digest: &Digest) -> Result<()> {
        let mut file = self.open_sealed(area, digest)?;
        let mut writer = DigestWriter::default();
        io::copy(&mut file, &mut writer)
            .map_err(|e| CasError::io(&self.object_path(area, &digest.hash), e))?;
        if writer.finish() != *digest {
            return Err(self.discard_damaged(
                area,
                digest,
                "content does not match its hash".into(),
            ));
        }
        Ok(())
    }

    /// Removes a damaged blob so that the next put writes it again, and
    /// returns the error to report.
    pub(crate) fn discard_damaged(&self, area: Area, digest: &Digest, reason: String) -> CasError {
        let _ = fs::remove_file(self.object_path(area, &digest.hash));
        if area == Area::Blobs {
            // A twin copied from a damaged blob cannot be trusted either.
            let _ = fs::remove_file(self.object_path(Area::ExecTwins, &digest.hash));
        }
        CasError::corrupt_blob(*digest, reason)
    }

    /// The path of a sealed executable twin of `digest` (mode 0555),
    /// creating it from the blob if needed.
    pub(crate) fn exec_twin(&self, digest: &Digest) -> Result<PathBuf> {
        let path = self.object_path(Area::ExecTwins, &digest.hash);
        match self.blob_state(Area::ExecTwins, digest)? {
            BlobState::Sealed => return Ok(path),
            BlobState::Absent => {}
            BlobState::Damaged => {
                let _ = fs::remove_file(&path);
            }
        }
        let source = self.open_blob(digest)?;
        let (temp, file) = self.create_temp()?;
        let copied = copy_file_contents(&source, &file).map_err(|e| CasError::io(&temp.path, e))?;
        if copied != digest.size_bytes {
            return Err(self.discard_damaged(
                Area::Blobs,
                digest,
                format!("read {copied} bytes instead of {}", digest.size_bytes),
            ));
        }
        seal(&file, &temp.path, EXEC_BLOB_MODE)?;
        file.sync_all().map_err(|e| CasError::io(&temp.path, e))?;
        drop(file);
        self.rename_into_place(temp, &path)?;
        Ok(path)
    }

    /// A new, empty file in `tmp/`, removed on drop unless renamed.
    pub(crate) fn create_temp(&self) -> Result<(TempFile, File)> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = self.root.join("tmp").join(format!("{pid}-{n}"));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => return Ok((TempFile { path, armed: true }, file)),
                // Left by a dead process with our pid: take the next name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(CasError::io(&path, e)),
            }
        }
    }

    /// Renames a finished temporary file to `dest`, creating the shard
    /// directory on first use.
    pub(crate) fn rename_into_place(&self, mut temp: TempFile, dest: &Path) -> Result<()> {
        match fs::rename(&temp.path, dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(shard) = dest.parent() {
                    fs::create_dir_all(shard).map_err(|e| CasError::io(shard, e))?;
                }
                fs::rename(&temp.path, dest).map_err(|e| CasError::io(dest, e))?;
            }
            Err(e) => return Err(CasError::io(dest, e)),
        }
        temp.armed = false;
        Ok(())
    }
}

/// A blob being written piece by piece ([`Cache::blob_writer`]); dropped
/// unfinished, it leaves nothing behind.
pub struct BlobWriter {
    cache: Cache,
    expected: Digest,
    temp: TempFile,
    file: File,
    hasher: DigestWriter,
}

impl BlobWriter {
    /// Appends `bytes`; fails early once more bytes arrived than the
    /// digest's size.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        if self.hasher.size_bytes() > self.expected.size_bytes {
            return Err(CasError::Corrupt {
                what: "downloaded blob",
                digest: self.expected,
                reason: format!("more than {} bytes", self.expected.size_bytes),
            });
        }
        self.file
            .write_all(bytes)
            .map_err(|e| CasError::io(&self.temp.path, e))
    }

    /// Checks the content against the digest, then seals, syncs and
    /// renames the blob into place; a mismatch stores nothing.
    pub fn finish(self) -> Result<()> {
        let actual = self.hasher.finish();
        if actual != self.expected {
            return Err(CasError::Corrupt {
                what: "downloaded blob",
                digest: self.expected,
                reason: format!("content has digest {actual}"),
            });
        }
        seal(&self.file, &self.temp.path, BLOB_MODE)?;
        self.file
            .sync_all()
            .map_err(|e| CasError::io(&self.temp.path, e))?;
        drop(self.file);
        self.cache
            .rename_into_place(self.temp, &self.cache.blob_path(&self.expected))
    }
}

/// A file in `tmp/` that is removed when dropped (an error path).
pub(crate) struct TempFile {
    pub(crate) path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Gives a written blob its final mode and the seal mtime.
pub(crate) fn seal(file: &File, path: &Path, mode: u32) -> Result<()> {
    let seal_time = SystemTime::UNIX_EPOCH + Duration::from_secs(SEAL_MTIME);
    file.set_times(
        FileTimes::new()
            .set_accessed(seal_time)
            .set_modified(seal_time),
    )
    .map_err(|e| CasError::io(path, e))?;
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(|e| CasError::io(path, e))
}

/// Copies all of `source` into the empty `dest`: a reflink where the file
/// system shares extents (btrfs, XFS), else `copy_file_range`. Returns the
/// bytes copied.
pub(crate) fn copy_file_contents(source: &File, dest: &File) -> io::Result<u64> {
    // SAFETY: FICLONE takes two open file descriptors and touches no
    // memory of ours; on failure nothing was written to `dest`.
    let cloned = unsafe { libc::ioctl(dest.as_raw_fd(), libc::FICLONE, source.as_raw_fd()) };
    if cloned == 0 {
        return Ok(source.metadata()?.len());
    }
    let mut source = source;
    let mut dest = dest;
    source.rewind()?;
    io::copy(&mut source, &mut dest)
}

/// Blobs written to `tmp/` but not yet renamed into place: a capture
/// writes all of them, makes them durable with one `syncfs` instead of an
/// fsync each (0.5 ms apiece on ext4), then renames them.
pub(crate) struct BlobBatch<'c> {
    cache: &'c Cache,
    staged: Mutex<Vec<(TempFile, Digest)>>,
    /// Staged or found sealed in this batch: not written again.
    known: Mutex<HashSet<[u8; 32]>>,
}

impl<'c> BlobBatch<'c> {
    pub(crate) fn new(cache: &'c Cache) -> BlobBatch<'c> {
        BlobBatch {
            cache,
            staged: Mutex::new(Vec::new()),
            known: Mutex::new(HashSet::new()),
        }
    }

    /// True if the blob need not be written: already in this batch, or
    /// sealed in the cache. A damaged blob is written again.
    fn is_present(&self, digest: &Digest) -> Result<bool> {
        if self.lock_known().contains(&digest.hash) {
            return Ok(true);
        }
        let present = matches!(
            self.cache.blob_state(Area::Blobs, digest)?,
            BlobState::Sealed
        );
        if present {
            self.lock_known().insert(digest.hash);
        }
        Ok(present)
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stage(&self, temp: TempFile, digest: Digest) {
        // Two threads may stage the same content; the second rename
        // replaces the first with identical bytes.
        self.lock_known().insert(digest.hash);
        self.staged
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((temp, digest));
    }

    pub(crate) fn put_bytes(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of_bytes(bytes);
        if self.is_present(&digest)? {
            return Ok(digest);
        }
        let (temp, mut file) = self.cache.create_temp()?;
        file.write_all(bytes)
            .map_err(|e| CasError::io(&temp.path, e))?;
        seal(&file, &temp.path, BLOB_MODE)?;
        self.stage(temp, digest);
        Ok(digest)
    }

    pub(crate) fn put_file(&self, path: &Path) -> Result<Digest> {
        let mut file = File::open(path).map_err(|e| CasError::io(path, e))?;
        let len = file.metadata().map_err(|e| CasError::io(path, e))?.len();
        if len <= IN_MEMORY_LIMIT {
            let mut bytes = Vec::with_capacity(len as usize + 1);
            file.read_to_end(&mut bytes)
                .map_err(|e| CasError::io(path, e))?;
            if bytes.len() as u64 != len {
                return Err(CasError::Changed {
                    path: path.to_path_buf(),
                });
            }
            return self.put_bytes(&bytes);
        }
        let mut hasher = DigestWriter::default();
        io::copy(&mut file, &mut hasher).map_err(|e| CasError::io(path, e))?;
        let digest = hasher.finish();
        if digest.size_bytes != len {
            return Err(CasError::Changed {
                path: path.to_path_buf(),
            });
        }
        if self.is_present(&digest)? {
            return Ok(digest);
        }
        // Copy and hash again: what lands in the cache is what was hashed.
        file.rewind().map_err(|e| CasError::io(path, e))?;
        let (temp, mut out) = self.cache.create_temp()?;
        let mut rehash = DigestWriter::default();
        let mut buffer = vec![0u8; COPY_BUFFER];
        loop {
            let n = match file.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(CasError::io(path, e)),
            };
            rehash.update(&buffer[..n]);
            out.write_all(&buffer[..n])
                .map_err(|e| CasError::io(&temp.path, e))?;
        }
        if rehash.finish() != digest {
            return Err(CasError::Changed {
                path: path.to_path_buf(),
            });
        }
        seal(&out, &temp.path, BLOB_MODE)?;
        self.stage(temp, digest);
        Ok(digest)
    }

    /// Makes every staged blob durable, then renames it into place.
    pub(crate) fn commit(self) -> Result<()> {
        let staged = self.staged.into_inner().unwrap_or_else(|e| e.into_inner());
        match staged.len() {
            0 => return Ok(()),
            1 => {
                let path = &staged[0].0.path;
                let file = File::open(path).map_err(|e| CasError::io(path, e))?;
                file.sync_all().map_err(|e| CasError::io(path, e))?;
            }
            _ => {
                let tmp = self.cache.root.join("tmp");
                let dir = File::open(&tmp).map_err(|e| CasError::io(&tmp, e))?;
                // SAFETY: syncfs only reads the descriptor, which `dir`
                // keeps open.
                if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
                    return Err(CasError::io(&tmp, io::Error::last_os_error()));
                }
            }
        }
        for (temp, digest) in staged {
            self.cache
                .rename_into_place(temp, &self.cache.blob_path(&digest))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_path_is_sharded_by_first_two_hex_digits() {
        let cache = Cache {
            root: PathBuf::from("/c"),
        };
        let digest = Digest::of_bytes(b"hello\n");
        assert_eq!(
            cache.blob_path(&digest),
            Path::new(
                "/c/cas/sha256/58/5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
            )
        );
        assert_eq!(
            cache.action_result_path(&digest),
            Path::new(
                "/c/ac/sha256/58/5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
            )
        );
    }

    #[test]
    fn put_seals_and_read_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let digest = cache.put_bytes(b"content").unwrap();
        let meta = fs::metadata(cache.blob_path(&digest)).unwrap();
        assert_eq!(meta.mode() & 0o7777, BLOB_MODE);
        assert_eq!(meta.mtime(), SEAL_MTIME as i64);
        assert_eq!(cache.read_blob(&digest).unwrap(), b"content");
        assert!(cache.contains(&digest).unwrap());
        // Nothing left behind in tmp/.
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn put_verified_refuses_wrong_content() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let expected = Digest::of_bytes(b"right");
        let err = cache
            .put_verified(&expected, &mut &b"wrong"[..])
            .unwrap_err();
        assert!(err.is_cache_damage(), "{err}");
        assert!(!cache.contains(&expected).unwrap());
        cache.put_verified(&expected, &mut &b"right"[..]).unwrap();
        assert_eq!(cache.read_blob(&expected).unwrap(), b"right");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn put_verified_many_stores_matching_blobs_and_reports_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let good = Digest::of_bytes(b"good");
        let bad = Digest::of_bytes(b"expected");
        let err = cache
            .put_verified_many([(good, &b"good"[..]), (bad, &b"tampered"[..])])
            .unwrap_err();
        assert!(err.to_string().contains(&bad.hex()), "{err}");
        assert!(cache.contains(&good).unwrap());
        assert!(!cache.contains(&bad).unwrap());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn large_file_goes_through_the_streaming_path() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path().join("cache")).unwrap();
        let big: Vec<u8> = (0..(IN_MEMORY_LIMIT as usize * 2 + 17))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let path = dir.path().join("big");
        fs::write(&path, &big).unwrap();
        let digest = cache.put_file(&path).unwrap();
        assert_eq!(digest, Digest::of_bytes(&big));
        cache.verify_blob(&digest).unwrap();
        // A second put finds it and does not rewrite it.
        let inode = fs::metadata(cache.blob_path(&digest)).unwrap().ino();
        cache.put_file(&path).unwrap();
        assert_eq!(fs::metadata(cache.blob_path(&digest)).unwrap().ino(), inode);
    }
}
