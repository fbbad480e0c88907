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

/// A [`DownloadCache`] in another process, reached over a Unix socket: a
/// task's runner (in its sandbox) asks bitzel's process, which holds the
/// real cache (see [`DownloadServer`]).
///
/// The protocol, one request per connection: a JSON line
/// `{"op": "fetch", "url", "sha256"}` answered by `ok SIZE\n` and SIZE
/// bytes or by `miss\n`; `{"op": "push", "url", "sha256", "size"}` then
/// SIZE bytes, answered by `ok\n`. Contents travel through the socket, not
/// paths: the serving side never opens a path the task named, so a task
/// can neither make bitzel write where it could not nor upload a file it
/// could not read.
pub struct SocketDownloadCache {
    pub socket: std::path::PathBuf,
}

impl SocketDownloadCache {
    fn request(
        &self,
        header: &serde_json::Value,
    ) -> std::io::Result<std::os::unix::net::UnixStream> {
        use std::io::Write;
        let mut stream = std::os::unix::net::UnixStream::connect(&self.socket)?;
        let mut line = header.to_string();
        line.push('\n');
        stream.write_all(line.as_bytes())?;
        Ok(stream)
    }

    fn fetch_to(&self, url: &str, sha256: &str, dest: &Path) -> std::io::Result<bool> {
        use std::io::{BufRead, Read};
        let stream =
            self.request(&serde_json::json!({"op": "fetch", "url": url, "sha256": sha256}))?;
        let mut reader = std::io::BufReader::new(stream);
        let mut answer = String::new();
        reader.read_line(&mut answer)?;
        let Some(size) = answer.trim_end().strip_prefix("ok ") else {
            return Ok(false);
        };
        let size: u64 = size
            .parse()
            .map_err(|_| std::io::Error::other(format!("bad answer {answer:?}")))?;
        let mut file = std::fs::File::create(dest)?;
        let copied = std::io::copy(&mut reader.by_ref().take(size), &mut file)?;
        if copied != size {
            return Err(std::io::Error::other("the download was cut short"));
        }
        file.sync_all()?;
        Ok(true)
    }

    fn push_from(&self, url: &str, sha256: &str, path: &Path) -> std::io::Result<()> {
        use std::io::Read;
        let mut file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        let mut stream = self.request(
            &serde_json::json!({"op": "push", "url": url, "sha256": sha256, "size": size}),
        )?;
        std::io::copy(&mut file, &mut stream)?;
        stream.shutdown(std::net::Shutdown::Write)?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(())
    }
}

impl DownloadCache for SocketDownloadCache {
    fn fetch(&self, url: &str, sha256: &str, dest: &Path) -> bool {
        match self.fetch_to(url, sha256, dest) {
            Ok(found) => found,
            Err(e) => {
                eprintln!("warning: the download cache did not answer for {url}: {e}");
                let _ = std::fs::remove_file(dest);
                false
            }
        }
    }

    fn push(&self, url: &str, sha256: &str, path: &Path) {
        if let Err(e) = self.push_from(url, sha256, path) {
            eprintln!("warning: could not offer {url} to the download cache: {e}");
        }
    }
}

/// Serves a [`DownloadCache`] on a Unix socket to [`SocketDownloadCache`]s
/// until dropped (then the socket file is removed). Files in transit are
/// kept under `scratch`, each removed once answered.
pub struct DownloadServer {
    socket: std::path::PathBuf,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DownloadServer {
    pub fn start(
        socket: &Path,
        scratch: &Path,
        cache: Arc<dyn DownloadCache>,
    ) -> std::io::Result<DownloadServer> {
        std::fs::create_dir_all(scratch)?;
        if let Some(parent) = socket.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _ = std::fs::remove_file(socket);
        let listener = std::os::unix::net::UnixListener::bind(socket)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let scratch = scratch.to_path_buf();
            std::thread::Builder::new()
                .name("bitzel-downloads".to_string())
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(std::sync::atomic::Ordering::Relaxed) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        let cache = cache.clone();
                        let scratch = scratch.clone();
                        let _ = std::thread::Builder::new()
                            .name("bitzel-download".to_string())
                            .spawn(move || {
                                if let Err(e) = serve_one(stream, &scratch, cache.as_ref()) {
                                    eprintln!("warning: download cache request failed: {e}");
                                }
                            });
                    }
                })?
        };
        Ok(DownloadServer {
            socket: socket.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }

    /// The socket's path, for the tasks' views.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for DownloadServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        // Wakes the accepting thread up.
        let _ = std::os::unix::net::UnixStream::connect(&self.socket);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

fn serve_one(
    stream: std::os::unix::net::UnixStream,
    scratch: &Path,
    cache: &dyn DownloadCache,
) -> std::io::Result<()> {
    use std::io::{BufRead, Read, Write};
    let mut reader = std::io::BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let request: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| std::io::Error::other(e.to_string()))?;
    let field = |name: &str| request.get(name).and_then(|v| v.as_str()).unwrap_or("");
    let (url, sha256) = (field("url"), field("sha256"));
    // Only a checksum names a download: it is the content's identity.
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(std::io::Error::other(format!("bad sha256 {sha256:?}")));
    }
    let temp = scratch.join(uuid::Uuid::new_v4().to_string());
    let result = (|| -> std::io::Result<()> {
        let mut stream = stream;
        match field("op") {
            "fetch" => {
                if cache.fetch(url, sha256, &temp) && sha256_hex(&temp)? == sha256 {
                    let mut file = std::fs::File::open(&temp)?;
                    let size = file.metadata()?.len();
                    stream.write_all(format!("ok {size}\n").as_bytes())?;
                    std::io::copy(&mut file, &mut stream)?;
                } else {
                    stream.write_all(b"miss\n")?;
                }
            }
            "push" => {
                let size = request.get("size").and_then(|v| v.as_u64()).unwrap_or(0);
                let mut file = std::fs::File::create(&temp)?;
                let copied = std::io::copy(&mut reader.by_ref().take(size), &mut file)?;
                drop(file);
                if copied == size && sha256_hex(&temp)? == sha256 {
                    cache.push(url, sha256, &temp);
                }
                stream.write_all(b"ok\n")?;
            }
            op => return Err(std::io::Error::other(format!("unknown request {op:?}"))),
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&temp);
    result
}

/// The file's SHA-256 in hex, by the fetcher's checksum code.
fn sha256_hex(path: &Path) -> std::io::Result<String> {
    use crate::fetch::checksum::{Algorithm, Expected, Sums};
    let wanted = [Expected {
        algorithm: Algorithm::Sha256,
        flag: "sha256sum".to_string(),
        value: String::new(),
    }];
    Ok(Sums::of_file(path, &wanted)?
        .get(Algorithm::Sha256)
        .unwrap_or_default()
        .to_string())
}
