//! Cache statistics and garbage collection.
//!
//! gc keeps the most recently used action results whose footprint fits in
//! the size limit and deletes the rest, least recently used first (strict
//! LRU: once one result does not fit, every older one goes too). The
//! footprint of the kept results is their own files plus every blob they
//! reach (files, directories, trees, logs, executable twins), each blob
//! counted once however many results share it. Then every blob no kept
//! result reaches is deleted, and so is everything in `tmp/`. Sizes are
//! file sizes (`st_size`), not allocated blocks.
//!
//! Invariants: gc runs under the exclusive lock, so no build is between
//! writing blobs and writing the result that names them; a blob reachable
//! from a kept result is never deleted; results are deleted before blobs,
//! so a gc killed midway leaves only results whose blobs are all present.
//! A result that names a missing or corrupt blob cannot be restored and is
//! deleted whatever its age.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use prost::Message;

use super::action_cache::direct_references;
use super::blob::Area;
use super::digest::parse_hex;
use super::{Cache, CasError, Digest, ExclusiveLock, Result, reapi};

/// What the cache holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub blobs: u64,
    pub blob_bytes: u64,
    pub exec_twins: u64,
    pub exec_twin_bytes: u64,
    pub action_results: u64,
    pub action_result_bytes: u64,
    /// Files in `tmp/`: writes in progress, or left by killed processes.
    pub temp_files: u64,
    pub temp_bytes: u64,
}

impl CacheStats {
    /// Every byte counted above.
    pub fn total_bytes(&self) -> u64 {
        self.blob_bytes + self.exec_twin_bytes + self.action_result_bytes + self.temp_bytes
    }
}

/// What a gc did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    pub kept_results: u64,
    pub removed_results: u64,
    /// Removed because they name a missing or corrupt blob (included in
    /// `removed_results`).
    pub broken_results: u64,
    pub kept_blobs: u64,
    /// Bytes of the kept blobs, twins and results.
    pub kept_bytes: u64,
    /// Blobs and twins removed.
    pub removed_blobs: u64,
    pub removed_bytes: u64,
    pub removed_temp_files: u64,
}

/// One object file found by a scan.
struct Entry {
    hash: [u8; 32],
    path: PathBuf,
    size: u64,
    modified: SystemTime,
}

impl Cache {
    /// Counts blobs, twins, action results and temporary files.
    pub fn stats(&self) -> Result<CacheStats> {
        let mut stats = CacheStats::default();
        for entry in self.scan(Area::Blobs, &mut Vec::new())? {
            stats.blobs += 1;
            stats.blob_bytes += entry.size;
        }
        for entry in self.scan(Area::ExecTwins, &mut Vec::new())? {
            stats.exec_twins += 1;
            stats.exec_twin_bytes += entry.size;
        }
        for entry in self.scan(Area::ActionResults, &mut Vec::new())? {
            stats.action_results += 1;
            stats.action_result_bytes += entry.size;
        }
        for (_, size) in self.temp_files()? {
            stats.temp_files += 1;
            stats.temp_bytes += size;
        }
        Ok(stats)
    }

    /// Shrinks the cache to at most `max_bytes` (see the module
    /// documentation for the policy).
    pub fn gc(&self, _lock: &ExclusiveLock, max_bytes: u64) -> Result<GcReport> {
        let mut report = GcReport::default();
        // Under the exclusive lock every temporary file is a leftover.
        for (path, size) in self.temp_files()? {
            remove(&path)?;
            report.removed_temp_files += 1;
            report.removed_bytes += size;
        }
        let mut strays = Vec::new();
        let blobs: HashMap<[u8; 32], Entry> = self
            .scan(Area::Blobs, &mut strays)?
            .into_iter()
            .map(|e| (e.hash, e))
            .collect();
        let twins: HashMap<[u8; 32], Entry> = self
            .scan(Area::ExecTwins, &mut strays)?
            .into_iter()
            .map(|e| (e.hash, e))
            .collect();
        let mut results = self.scan(Area::ActionResults, &mut strays)?;
        // Files that are not named like objects were not written by us.
        for path in strays {
            remove(&path)?;
            report.removed_blobs += 1;
        }
        // Most recently used first; ties in a fixed order.
        results.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.hash.cmp(&b.hash)));

        let mut marker = Marker {
            cache: self,
            blobs: &blobs,
            twins: &twins,
            kept: HashSet::new(),
            pending: Vec::new(),
            pending_set: HashSet::new(),
        };
        let mut kept_bytes = 0u64;
        let mut full = false;
        let mut evicted = Vec::new();
        for result in &results {
            if full {
                evicted.push(&result.path);
                continue;
            }
            match marker.mark_result(result) {
                Ok(cost) if kept_bytes + cost + result.size <= max_bytes => {
                    kept_bytes += cost + result.size;
                    marker.commit();
                    report.kept_results += 1;
                }
                Ok(_) => {
                    full = true;
                    marker.discard();
                    evicted.push(&result.path);
                }
                // A result naming a malformed digest is as unusable as one
                // naming a missing blob.
                Err(err) if err.is_cache_damage() || matches!(err, CasError::Invalid(_)) => {
                    marker.discard();
                    report.broken_results += 1;
                    evicted.push(&result.path);
                }
                Err(err) => return Err(err),
            }
        }
        for path in evicted {
            remove(path)?;
            report.removed_results += 1;
        }
        report.kept_blobs = blobs.keys().filter(|h| marker.kept.contains(*h)).count() as u64;
        // A twin lives and dies with its blob.
        for (hash, entry) in blobs.iter().chain(twins.iter()) {
            if !marker.kept.contains(hash) {
                remove(&entry.path)?;
                report.removed_blobs += 1;
                report.removed_bytes += entry.size;
            }
        }
        report.kept_bytes = kept_bytes;
        Ok(report)
    }

    /// Every object file of `area`, with its size and mtime; files that
    /// are not named `<ab>/<hex>` go to `strays`.
    fn scan(&self, area: Area, strays: &mut Vec<PathBuf>) -> Result<Vec<Entry>> {
        let top = self.root.join(area.dir());
        let mut entries = Vec::new();
        for shard in read_dir_or_empty(&top)? {
            let shard = shard.map_err(|e| CasError::io(&top, e))?;
            let shard_path = shard.path();
            let shard_name = shard.file_name();
            let is_dir = shard
                .file_type()
                .map_err(|e| CasError::io(&shard_path, e))?
                .is_dir();
            let Some(shard_name) = shard_name.to_str().filter(|n| n.len() == 2 && is_dir) else {
                strays.push(shard_path);
                continue;
            };
            for file in read_dir_or_empty(&shard_path)? {
                let file = file.map_err(|e| CasError::io(&shard_path, e))?;
                let path = file.path();
                let name = file.file_name();
                // `<ab>/<abcdef…>`: 64 lowercase hex digits, in the shard
                // of its first two.
                let hash = name
                    .to_str()
                    .filter(|n| n.starts_with(shard_name))
                    .and_then(|n| parse_hex(n).ok());
                let Some(hash) = hash else {
                    strays.push(path);
                    continue;
                };
                let meta = match file.metadata() {
                    Ok(meta) => meta,
                    // Removed meanwhile by another process.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(CasError::io(&path, e)),
                };
                entries.push(Entry {
                    hash,
                    path,
                    size: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
        Ok(entries)
    }

    fn temp_files(&self) -> Result<Vec<(PathBuf, u64)>> {
        let tmp = self.root.join("tmp");
        let mut files = Vec::new();
        for entry in read_dir_or_empty(&tmp)? {
            let entry = entry.map_err(|e| CasError::io(&tmp, e))?;
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            files.push((entry.path(), size));
        }
        Ok(files)
    }
}

/// Marks what one action result reaches, tentatively, on top of what the
/// results kept so far reach.
struct Marker<'a> {
    cache: &'a Cache,
    blobs: &'a HashMap<[u8; 32], Entry>,
    twins: &'a HashMap<[u8; 32], Entry>,
    kept: HashSet<[u8; 32]>,
    pending: Vec<[u8; 32]>,
    pending_set: HashSet<[u8; 32]>,
}

impl Marker<'_> {
    /// Marks the blobs `result` reaches; returns the bytes they add.
    fn mark_result(&mut self, result: &Entry) -> Result<u64> {
        let bytes = fs::read(&result.path).map_err(|e| CasError::io(&result.path, e))?;
        let action =
            reapi::ActionResult::decode(bytes.as_slice()).map_err(|e| CasError::Corrupt {
                what: "action result",
                digest: Digest {
                    hash: result.hash,
                    size_bytes: 0,
                },
                reason: e.to_string(),
            })?;
        let mut cost = 0;
        let roots: Vec<&reapi::Digest> = action
            .output_directories
            .iter()
            .filter_map(|d| d.root_directory_digest.as_ref())
            .collect();
        // Root directories are marked with their subtrees below.
        for digest in direct_references(&action) {
            if !roots.contains(&digest) {
                cost += self.mark(&Digest::from_proto(digest)?)?;
            }
        }
        for dir in &action.output_directories {
            match &dir.root_directory_digest {
                Some(root) => cost += self.mark_directory(&Digest::from_proto(root)?)?,
                None => {
                    if let Some(tree) = &dir.tree_digest {
                        cost += self.mark_tree(&Digest::from_proto(tree)?)?;
                    }
                }
            }
        }
        Ok(cost)
    }

    /// Marks one blob (and its twin); returns the bytes newly marked.
    fn mark(&mut self, digest: &Digest) -> Result<u64> {
        if self.kept.contains(&digest.hash) || self.pending_set.contains(&digest.hash) {
            return Ok(0);
        }
        let Some(blob) = self.blobs.get(&digest.hash) else {
            if digest.size_bytes == 0 {
                // Restores create empty files without the blob.
                return Ok(0);
            }
            return Err(CasError::Missing { digest: *digest });
        };
        if blob.size != digest.size_bytes {
            return Err(CasError::corrupt_blob(
                *digest,
                format!("{} bytes instead of {}", blob.size, digest.size_bytes),
            ));
        }
        self.pending.push(digest.hash);
        self.pending_set.insert(digest.hash);
        Ok(blob.size + self.twins.get(&digest.hash).map_or(0, |t| t.size))
    }

    /// Marks a `Directory` blob and everything below it. A directory
    /// already marked had its subtree marked with it.
    fn mark_directory(&mut self, digest: &Digest) -> Result<u64> {
        if self.kept.contains(&digest.hash) || self.pending_set.contains(&digest.hash) {
            return Ok(0);
        }
        let mut cost = self.mark(digest)?;
        let dir = self.cache.read_directory(digest)?;
        cost += self.mark_nodes(&dir)?;
        for node in &dir.directories {
            if let Some(child) = &node.digest {
                cost += self.mark_directory(&Digest::from_proto(child)?)?;
            }
        }
        Ok(cost)
    }

    /// Marks the files of every directory of a `Tree` blob (for results
    /// whose directories are only in the tree).
    fn mark_tree(&mut self, digest: &Digest) -> Result<u64> {
        let bytes = self.cache.read_blob(digest)?;
        let tree = reapi::Tree::decode(bytes.as_slice()).map_err(|e| CasError::Corrupt {
            what: "tree",
            digest: *digest,
            reason: e.to_string(),
        })?;
        let mut cost = 0;
        for dir in tree.root.iter().chain(&tree.children) {
            cost += self.mark_nodes(dir)?;
        }
        Ok(cost)
    }

    fn mark_nodes(&mut self, dir: &reapi::Directory) -> Result<u64> {
        let mut cost = 0;
        for file in &dir.files {
            if let Some(digest) = &file.digest {
                cost += self.mark(&Digest::from_proto(digest)?)?;
            }
        }
        Ok(cost)
    }

    fn commit(&mut self) {
        self.kept.extend(self.pending.drain(..));
        self.pending_set.clear();
    }

    fn discard(&mut self) {
        self.pending.clear();
        self.pending_set.clear();
    }
}

fn read_dir_or_empty(dir: &Path) -> Result<Box<dyn Iterator<Item = io::Result<fs::DirEntry>>>> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(Box::new(entries)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Box::new(std::iter::empty())),
        Err(e) => Err(CasError::io(dir, e)),
    }
}

fn remove(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(CasError::io(path, e)),
    }
}
