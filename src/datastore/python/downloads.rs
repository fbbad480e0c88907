//! The fetcher's hook to a cache of downloads keyed by URL and checksum
//! (a later stage installs one backed by a Remote Asset server): python's
//! `bb.fetch2` asks it before downloading and offers it what it
//! downloaded, through `_bitzel.download_cache_fetch` and
//! `_bitzel.download_cache_push`.
//!
//! Invariants: without an installed cache both calls do nothing; the
//! fetcher checks whatever the cache wrote against the URL's checksum
//! before using it, so a cache can only save a download, never change
//! what is built.

use std::path::Path;
use std::sync::{Arc, RwLock};

use pyo3::prelude::*;

/// A cache of downloads, consulted by the fetcher for network URLs that
/// carry a SHA-256 checksum.
pub trait DownloadCache: Send + Sync {
    /// Writes the content of `url` whose SHA-256 is `sha256` (64 hex
    /// digits) to `dest`; false when the cache does not have it (or
    /// cannot be reached).
    fn fetch(&self, url: &str, sha256: &str, dest: &Path) -> bool;
    /// Offers the file at `path`, just downloaded from `url` and found to
    /// have the SHA-256 `sha256`.
    fn push(&self, url: &str, sha256: &str, path: &Path);
}

static INSTALLED: RwLock<Option<Arc<dyn DownloadCache>>> = RwLock::new(None);

/// Installs `cache` for this process's fetches (`None` removes it).
pub fn set_download_cache(cache: Option<Arc<dyn DownloadCache>>) {
    *INSTALLED.write().unwrap_or_else(|e| e.into_inner()) = cache;
}

fn installed() -> Option<Arc<dyn DownloadCache>> {
    INSTALLED.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `_bitzel.download_cache_fetch(url, sha256, dest)`: true when the cache
/// wrote `dest`.
#[pyfunction]
pub fn download_cache_fetch(py: Python<'_>, url: &str, sha256: &str, dest: &str) -> bool {
    let Some(cache) = installed() else {
        return false;
    };
    // The cache may wait on the network: other threads may use python
    // meanwhile.
    py.detach(|| cache.fetch(url, sha256, Path::new(dest)))
}

/// `_bitzel.download_cache_push(url, sha256, path)`.
#[pyfunction]
pub fn download_cache_push(py: Python<'_>, url: &str, sha256: &str, path: &str) {
    if let Some(cache) = installed() {
        py.detach(|| cache.push(url, sha256, Path::new(path)));
    }
}
