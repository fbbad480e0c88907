//! The remote cache: the local CAS and action cache shared across
//! machines through any server implementing REAPI v2's Capabilities,
//! ContentAddressableStorage, ActionCache and ByteStream services
//! (BuildGrid, buildbox-casd, Buildbarn, bazel-remote, …), and Remote
//! Asset's Fetch and Push for downloads where the server has them.
//!
//! The scheduler asks [`RemoteCache::lookup`] for the results of tasks
//! the local cache lacks, [`RemoteCache::download`] for the blobs of the
//! results it actually restores (nothing else is downloaded), and hands
//! every result it produced to [`RemoteCache::upload`]. Each task key is
//! wrapped in a REAPI Action to become an ActionCache key (`key.rs`).
//! Results found but not downloaded are remembered locally (`memo.rs`),
//! so that later builds know them without asking.
//!
//! Threading: one tokio runtime with one worker thread, owned here.
//! Lookups, downloads and Remote Asset fetches block the calling thread
//! (`block_on`); uploads are spawned on the worker and run while tasks
//! build; [`RemoteCache::finish`] waits for them.
//!
//! Invariants:
//! - A server never fails a build. Every RPC has a deadline and a bounded
//!   number of retries with backoff (`client.rs`); when they are spent the
//!   remote cache is off for the rest of the build (one warning) and tasks
//!   run locally.
//! - Nothing the server sends is used unchecked: digests are parsed, every
//!   blob is hashed against the digest it was asked for before it enters
//!   the local CAS, trees are checked to hold every directory they name,
//!   and a result enters the local action cache only once all its blobs
//!   are local. A result that fails any check is refused for this build
//!   ([`Failure::Rejected`]) and its task runs; the server stays in use.
//! - Protocol types and conversions stay in this module: the scheduler
//!   sees task keys ([`Digest`]) and `ActionResult`s, the local cache's
//!   own vocabulary.

mod assets;
mod client;
mod key;
mod memo;
mod transfer;

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::cas::{Cache, Digest, reapi};
pub use client::Rpc;
use client::{Client, Counters};
pub use key::{ACTION_KEY_SCHEME, action_digest, task_action};

/// Batch size used when the server sets no limit
/// (`max_batch_total_size_bytes` = 0): gRPC's default message size.
const DEFAULT_BATCH_BYTES: u64 = 4 << 20;
/// GetActionResult calls in flight at once.
const PARALLEL_LOOKUPS: usize = 32;

/// How to reach the server and what to do with it.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// `grpc://HOST:PORT`, or `grpcs://HOST:PORT` for TLS.
    pub url: String,
    /// The REAPI instance name (often empty).
    pub instance: String,
    /// Upload results (false: read-only, for developers' machines).
    pub upload: bool,
    /// Sent as `authorization: Bearer TOKEN`.
    pub token: Option<String>,
    /// PEM certificates trusted for `grpcs://` besides the system's.
    pub ca_cert: Option<PathBuf>,
    /// Deadline of an RPC (transfers get more, by size), and of
    /// connecting.
    pub timeout: Duration,
    /// Attempts after the first for an RPC that failed transiently.
    pub retries: u32,
}

impl RemoteConfig {
    /// The defaults for `url`: uploads on, no instance name, no token, a
    /// 10 s deadline, 2 retries (100 ms and 400 ms apart).
    pub fn new(url: impl Into<String>) -> RemoteConfig {
        RemoteConfig {
            url: url.into(),
            instance: String::new(),
            upload: true,
            token: None,
            ca_cert: None,
            timeout: Duration::from_secs(10),
            retries: 2,
        }
    }
}

/// What the server allows, from its Capabilities.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// The most bytes of blobs in one batch request.
    batch_bytes: u64,
    /// The largest blob the server stores, if it says.
    max_blob: Option<u64>,
}

/// Why a remote operation did not succeed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server cannot be used: unreachable, failing, refusing us.
    Unavailable(String),
    /// The server answered with something that is not right (a blob that
    /// does not match its digest, a missing blob, an invalid tree).
    Rejected(String),
    /// The server does not let us do this (permission, authentication,
    /// an unimplemented method): a token that may read but not write.
    Forbidden(String),
    /// The local cache failed.
    Local(String),
}

impl Failure {
    fn from_status(status: tonic::Status) -> Failure {
        use tonic::Code;
        let text = format!("{:?}: {}", status.code(), status.message());
        match status.code() {
            Code::NotFound | Code::InvalidArgument | Code::FailedPrecondition | Code::DataLoss => {
                Failure::Rejected(text)
            }
            Code::PermissionDenied | Code::Unauthenticated | Code::Unimplemented => {
                Failure::Forbidden(text)
            }
            _ => Failure::Unavailable(text),
        }
    }

    fn local(error: crate::cas::CasError) -> Failure {
        Failure::Local(error.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unavailable(text)
            | Failure::Rejected(text)
            | Failure::Forbidden(text)
            | Failure::Local(text) => f.write_str(text),
        }
    }
}

/// What the remote cache did in a build.
#[derive(Debug, Clone, Default)]
pub struct RemoteStats {
    pub url: String,
    /// Attempts of each RPC sent (retries included).
    pub rpcs: Vec<(&'static str, u64)>,
    /// Results asked of the server, and found there.
    pub lookups: u64,
    pub hits: u64,
    /// Results known from earlier builds' lookups, without asking.
    pub recalled: u64,
    /// Results whose blobs were downloaded and restored locally.
    pub downloaded_results: u64,
    /// Results uploaded, and the blobs the server lacked for them.
    pub uploaded_results: u64,
    pub uploaded_blobs: u64,
    pub bytes_down: u64,
    pub bytes_up: u64,
    pub assets_fetched: u64,
    pub assets_pushed: u64,
    /// Why the remote cache was turned off during the build, if it was.
    pub disabled: Option<String>,
}

impl RemoteStats {
    pub fn total_rpcs(&self) -> u64 {
        self.rpcs.iter().map(|(_, n)| n).sum()
    }
}

impl fmt::Display for RemoteStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "remote cache {}: {} of {} lookups hit",
            self.url, self.hits, self.lookups,
        )?;
        if self.recalled > 0 {
            write!(f, ", {} results known from earlier lookups", self.recalled)?;
        }
        write!(
            f,
            ", {} results downloaded ({:.1} kB), {} uploaded ({} blobs, {:.1} kB)",
            self.downloaded_results,
            self.bytes_down as f64 / 1000.0,
            self.uploaded_results,
            self.uploaded_blobs,
            self.bytes_up as f64 / 1000.0,
        )?;
        if self.assets_fetched + self.assets_pushed > 0 {
            write!(
                f,
                ", {} downloads fetched from it and {} pushed",
                self.assets_fetched, self.assets_pushed
            )?;
        }
        let rpcs: Vec<String> = self
            .rpcs
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        write!(f, "; {} RPCs", self.total_rpcs())?;
        if !rpcs.is_empty() {
            write!(f, " ({})", rpcs.join(", "))?;
        }
        if let Some(reason) = &self.disabled {
            write!(f, "; turned off: {reason}")?;
        }
        Ok(())
    }
}

/// What the build's threads and the upload tasks share.
struct Shared {
    config: RemoteConfig,
    client: Client,
    local: Cache,
    counters: Arc<Counters>,
    /// The server's limits once its capabilities were read; `None` inside
    /// when it could not be used.
    limits: OnceLock<Option<Limits>>,
    /// Set when the server failed: nothing more is asked of it.
    disabled: Mutex<Option<String>>,
    /// Uploads stopped (a refused upload, or a server refusing updates).
    uploads_off: AtomicBool,
    /// Task keys whose remote results were refused in this build.
    refused: Mutex<HashSet<Digest>>,
    /// Blobs the server sent with the wrong content.
    served_wrong: Mutex<HashSet<Digest>>,
    /// Remote Asset is not offered by the server.
    assets_off: AtomicBool,
    /// Results found on this server in earlier builds.
    memo: memo::Memo,
    lookups: AtomicU64,
    hits: AtomicU64,
    recalled: AtomicU64,
    downloaded_results: AtomicU64,
    uploaded_results: AtomicU64,
    uploaded_blobs: AtomicU64,
    assets_fetched: AtomicU64,
    assets_pushed: AtomicU64,
}

impl Shared {
    /// Turns the remote cache off for the rest of the build, saying why
    /// (once).
    fn disable(&self, reason: String) {
        let mut disabled = lock(&self.disabled);
        if disabled.is_none() {
            eprintln!(
                "warning: remote cache {}: {reason}; building without it",
                self.config.url
            );
            *disabled = Some(reason);
        }
    }

    fn is_disabled(&self) -> bool {
        lock(&self.disabled).is_some()
    }

    fn transfer<'a>(&'a self, limits: &'a Limits) -> transfer::Transfer<'a> {
        transfer::Transfer {
            client: &self.client,
            counters: &self.counters,
            limits,
            local: &self.local,
            served_wrong: &self.served_wrong,
        }
    }

    fn warn_once(&self, flag: &AtomicBool, message: String) {
        if !flag.swap(true, Ordering::Relaxed) {
            eprintln!("warning: remote cache {}: {message}", self.config.url);
        }
    }
}

struct Inner {
    shared: Arc<Shared>,
    uploads: Mutex<Vec<JoinHandle<()>>>,
    // Only this owner drops the runtime, from the thread that drops the
    // last `RemoteCache` (never a task of the runtime: they hold
    // `Shared`, not this).
    runtime: tokio::runtime::Runtime,
}

/// A connection to a remote cache for one build. Cheap to clone.
#[derive(Clone)]
pub struct RemoteCache {
    inner: Arc<Inner>,
}

impl RemoteCache {
    /// A remote cache for `config`, backed by the local cache `local`.
    /// Nothing is sent yet: the first lookup reads the server's
    /// capabilities. Fails only on invalid settings (URL, token,
    /// certificate file); an unreachable server is found later and only
    /// warned about.
    pub fn new(config: RemoteConfig, local: Cache) -> Result<RemoteCache, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("bitzel-remote")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the remote cache's runtime: {e}"))?;
        let ca_pem = match &config.ca_cert {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("remote cache CA certificate {}: {e}", path.display()))?,
            ),
            None => None,
        };
        let client = {
            let _entered = runtime.enter();
            Client::new(&config, ca_pem)?
        };
        let memo = memo::Memo::new(local.root(), &config.url, &config.instance);
        let shared = Shared {
            memo,
            recalled: AtomicU64::new(0),
            config,
            client,
            local,
            counters: Arc::new(Counters::default()),
            limits: OnceLock::new(),
            disabled: Mutex::new(None),
            uploads_off: AtomicBool::new(false),
            refused: Mutex::new(HashSet::new()),
            served_wrong: Mutex::new(HashSet::new()),
            assets_off: AtomicBool::new(false),
            lookups: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            downloaded_results: AtomicU64::new(0),
            uploaded_results: AtomicU64::new(0),
            uploaded_blobs: AtomicU64::new(0),
            assets_fetched: AtomicU64::new(0),
            assets_pushed: AtomicU64::new(0),
        };
        Ok(RemoteCache {
            inner: Arc::new(Inner {
                shared: Arc::new(shared),
                uploads: Mutex::new(Vec::new()),
                runtime,
            }),
        })
    }

    pub fn url(&self) -> &str {
        &self.inner.shared.config.url
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.inner.runtime.block_on(future)
    }

    /// The server's limits, reading its capabilities on first use; `None`
    /// when the server cannot be used.
    fn limits(&self) -> Option<Limits> {
        let shared = self.shared();
        if shared.is_disabled() {
            return None;
        }
        shared
            .limits
            .get_or_init(|| {
                let capabilities = self.block_on(shared.client.capabilities(&shared.counters));
                let checked = capabilities
                    .map_err(|status| {
                        format!(
                            "cannot read its capabilities ({:?}: {})",
                            status.code(),
                            status.message()
                        )
                    })
                    .and_then(|c| check_capabilities(&c));
                match checked {
                    Ok((limits, update_enabled)) => {
                        if !update_enabled && shared.config.upload {
                            eprintln!(
                                "note: remote cache {}: the server does not accept results; not uploading",
                                shared.config.url
                            );
                            shared.uploads_off.store(true, Ordering::Relaxed);
                        }
                        Some(limits)
                    }
                    Err(reason) => {
                        shared.disable(reason);
                        None
                    }
                }
            })
            .clone()
    }

    /// The remote results of the task keys `keys` (in order; `None`: a
    /// miss, or the server is unusable): remembered from an earlier build
    /// ([`memo`]), else asked, concurrently.
    pub fn lookup(&self, keys: &[Digest]) -> Vec<Option<reapi::ActionResult>> {
        let shared = self.shared();
        let refused = lock(&shared.refused).clone();
        let mut found = vec![None; keys.len()];
        let mut ask = Vec::new();
        for (index, key) in keys.iter().enumerate() {
            if refused.contains(key) {
                continue;
            }
            match shared.memo.recall(key).filter(|r| check_result(r).is_ok()) {
                Some(result) => found[index] = Some(result),
                None => ask.push(index),
            }
        }
        let recalled = found.iter().filter(|r| r.is_some()).count() as u64;
        shared.recalled.fetch_add(recalled, Ordering::Relaxed);
        if ask.is_empty() || self.limits().is_none() {
            return found;
        }
        let failure = self.block_on(async {
            let mut running = tokio::task::JoinSet::new();
            let mut next = 0;
            let mut failure = None;
            loop {
                while running.len() < PARALLEL_LOOKUPS && next < ask.len() {
                    let index = ask[next];
                    next += 1;
                    let client = shared.client.clone();
                    let counters = shared.counters.clone();
                    let action = action_digest(&keys[index]);
                    running.spawn(async move {
                        (index, client.get_action_result(&counters, &action).await)
                    });
                }
                let Some(joined) = running.join_next().await else {
                    break;
                };
                match joined {
                    Ok((index, Ok(result))) => found[index] = result,
                    Ok((_, Err(status))) => {
                        failure.get_or_insert(format!(
                            "GetActionResult failed ({:?}: {})",
                            status.code(),
                            status.message()
                        ));
                    }
                    Err(e) => {
                        failure.get_or_insert(format!("lookup task: {e}"));
                    }
                }
            }
            failure
        });
        if let Some(reason) = failure {
            shared.disable(reason);
        }
        let mut hits = 0;
        for &index in &ask {
            let slot = &mut found[index];
            if let Some(result) = slot {
                match check_result(result) {
                    Ok(()) => {
                        shared.memo.remember(&keys[index], result);
                        hits += 1;
                    }
                    Err(reason) => {
                        eprintln!(
                            "warning: remote cache {}: ignoring an invalid result: {reason}",
                            shared.config.url
                        );
                        *slot = None;
                    }
                }
            }
        }
        shared
            .lookups
            .fetch_add(ask.len() as u64, Ordering::Relaxed);
        shared.hits.fetch_add(hits, Ordering::Relaxed);
        found
    }

    /// Brings into the local cache every blob the remote results
    /// `results` (task key, result) name and records them in the local
    /// action cache, so that they restore as local results. On an error
    /// the results cannot be used; the caller [`RemoteCache::refuse`]s
    /// them and runs their tasks.
    pub fn download(&self, results: &[(Digest, reapi::ActionResult)]) -> Result<(), String> {
        if results.is_empty() {
            return Ok(());
        }
        let Some(limits) = self.limits() else {
            return Err("the remote cache is off".to_string());
        };
        let shared = self.shared();
        let outcome = self.block_on(transfer::download_results(
            &shared.transfer(&limits),
            results,
        ));
        match outcome {
            Ok(()) => {
                shared
                    .downloaded_results
                    .fetch_add(results.len() as u64, Ordering::Relaxed);
                // The local action cache has them now.
                for (key, _) in results {
                    shared.memo.forget(key);
                }
                Ok(())
            }
            Err(failure) => {
                if let Failure::Unavailable(reason) | Failure::Forbidden(reason) = &failure {
                    shared.disable(format!("downloading failed ({reason})"));
                }
                Err(failure.to_string())
            }
        }
    }

    /// Never offers the remote result of `key` again in this build.
    pub fn refuse(&self, key: &Digest) {
        lock(&self.shared().refused).insert(*key);
        self.shared().memo.forget(key);
    }

    /// Uploads the result of the task `key` in the background (unless
    /// uploads are off).
    pub fn upload(&self, key: &Digest, result: &reapi::ActionResult) {
        let shared = self.shared();
        if !shared.config.upload || shared.uploads_off.load(Ordering::Relaxed) {
            return;
        }
        let Some(limits) = self.limits() else {
            return;
        };
        let shared = self.inner.shared.clone();
        let key = *key;
        let result = result.clone();
        let handle = self.inner.runtime.spawn(async move {
            if shared.uploads_off.load(Ordering::Relaxed) || shared.is_disabled() {
                return;
            }
            let outcome = transfer::upload_result(&shared.transfer(&limits), &key, &result).await;
            match outcome {
                Ok(blobs) => {
                    shared.uploaded_results.fetch_add(1, Ordering::Relaxed);
                    shared
                        .uploaded_blobs
                        .fetch_add(blobs as u64, Ordering::Relaxed);
                }
                Err(Failure::Unavailable(reason)) => {
                    shared.disable(format!("uploading failed ({reason})"));
                }
                Err(failure) => shared.warn_once(
                    &shared.uploads_off,
                    format!("uploading a result failed ({failure}); not uploading more"),
                ),
            }
        });
        lock(&self.inner.uploads).push(handle);
    }

    /// Waits for the uploads still running.
    pub fn finish(&self) {
        let handles: Vec<JoinHandle<()>> = std::mem::take(&mut *lock(&self.inner.uploads));
        self.block_on(async {
            for handle in handles {
                let _ = handle.await;
            }
        });
    }

    /// What the remote cache did so far.
    pub fn stats(&self) -> RemoteStats {
        let shared = self.shared();
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        RemoteStats {
            url: shared.config.url.clone(),
            rpcs: Rpc::ALL
                .iter()
                .map(|rpc| (rpc.name(), shared.counters.rpcs(*rpc)))
                .collect(),
            lookups: get(&shared.lookups),
            hits: get(&shared.hits),
            recalled: get(&shared.recalled),
            downloaded_results: get(&shared.downloaded_results),
            uploaded_results: get(&shared.uploaded_results),
            uploaded_blobs: get(&shared.uploaded_blobs),
            bytes_down: get(&shared.counters.bytes_down),
            bytes_up: get(&shared.counters.bytes_up),
            assets_fetched: get(&shared.assets_fetched),
            assets_pushed: get(&shared.assets_pushed),
            disabled: lock(&shared.disabled).clone(),
        }
    }
}

/// The limits of a server whose capabilities suit Bitzel (SHA-256), and
/// whether it accepts ActionCache updates.
fn check_capabilities(capabilities: &reapi::ServerCapabilities) -> Result<(Limits, bool), String> {
    let cache = capabilities
        .cache_capabilities
        .as_ref()
        .ok_or("the server offers no cache (no cache capabilities)")?;
    let sha256 = reapi::digest_function::Value::Sha256 as i32;
    if !cache.digest_functions.is_empty() && !cache.digest_functions.contains(&sha256) {
        return Err(format!(
            "the server does not use SHA-256 digests (it offers {:?})",
            cache.digest_functions
        ));
    }
    let batch_bytes = match u64::try_from(cache.max_batch_total_size_bytes) {
        Ok(0) | Err(_) => DEFAULT_BATCH_BYTES,
        Ok(limit) => limit,
    }
    // Room for the request's own framing.
    .min(client::MAX_MESSAGE as u64 - (64 << 10));
    let max_blob = u64::try_from(cache.max_cas_blob_size_bytes)
        .ok()
        .filter(|&n| n > 0);
    let update_enabled = cache
        .action_cache_update_capabilities
        .as_ref()
        .is_some_and(|u| u.update_enabled);
    Ok((
        Limits {
            batch_bytes,
            max_blob,
        },
        update_enabled,
    ))
}

/// Checks what restoring a result relies on before it is offered: every
/// digest parses, every output directory has a tree and a relative path.
fn check_result(result: &reapi::ActionResult) -> Result<(), String> {
    if result.exit_code != 0 {
        return Err(format!("exit code {}", result.exit_code));
    }
    for output in &result.output_directories {
        let path = std::path::Path::new(&output.path);
        if output.path.is_empty()
            || !path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(format!("output directory path `{}`", output.path));
        }
        let tree = output
            .tree_digest
            .as_ref()
            .ok_or_else(|| format!("output directory `{}` has no tree", output.path))?;
        Digest::from_proto(tree).map_err(|e| e.to_string())?;
        if let Some(root) = &output.root_directory_digest {
            Digest::from_proto(root).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_must_offer_sha256_and_set_the_batch_size() {
        let mut capabilities = reapi::ServerCapabilities {
            cache_capabilities: Some(reapi::CacheCapabilities {
                digest_functions: vec![reapi::digest_function::Value::Sha256 as i32],
                max_batch_total_size_bytes: 0,
                action_cache_update_capabilities: Some(reapi::ActionCacheUpdateCapabilities {
                    update_enabled: true,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (limits, update) = check_capabilities(&capabilities).unwrap();
        assert_eq!(limits.batch_bytes, DEFAULT_BATCH_BYTES);
        assert!(update);
        if let Some(cache) = capabilities.cache_capabilities.as_mut() {
            cache.max_batch_total_size_bytes = 1000;
            cache.action_cache_update_capabilities = None;
        }
        let (limits, update) = check_capabilities(&capabilities).unwrap();
        assert_eq!(limits.batch_bytes, 1000);
        assert!(!update);
        if let Some(cache) = capabilities.cache_capabilities.as_mut() {
            cache.digest_functions = vec![reapi::digest_function::Value::Sha1 as i32];
        }
        assert!(check_capabilities(&capabilities).is_err());
        assert!(check_capabilities(&reapi::ServerCapabilities::default()).is_err());
    }

    #[test]
    fn results_escaping_the_build_directory_are_refused() {
        let output = |path: &str| reapi::OutputDirectory {
            path: path.to_string(),
            tree_digest: Some(Digest::EMPTY.to_proto()),
            ..Default::default()
        };
        let result = |path: &str| reapi::ActionResult {
            output_directories: vec![output(path)],
            ..Default::default()
        };
        assert!(check_result(&result("tmp/work/x")).is_ok());
        for bad in ["", "/etc", "../x", "a/../../b", "./a"] {
            assert!(check_result(&result(bad)).is_err(), "{bad} accepted");
        }
        let failed = reapi::ActionResult {
            exit_code: 1,
            ..Default::default()
        };
        assert!(check_result(&failed).is_err());
    }

    #[test]
    fn an_absent_server_is_a_warning_not_an_error() {
        // A port nothing listens on.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().unwrap();
        let local = Cache::open(dir.path()).unwrap();
        let mut config = RemoteConfig::new(format!("grpc://127.0.0.1:{port}"));
        config.retries = 1;
        let remote = RemoteCache::new(config, local).unwrap();
        let key = Digest::of_bytes(b"task");
        assert_eq!(remote.lookup(&[key]), vec![None]);
        remote.upload(&key, &reapi::ActionResult::default());
        remote.finish();
        let stats = remote.stats();
        assert!(stats.disabled.is_some(), "{stats}");
        // Capabilities tried twice (one retry), then nothing more.
        assert_eq!(stats.total_rpcs(), 2, "{stats}");
    }

    #[test]
    fn invalid_settings_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let local = Cache::open(dir.path()).unwrap();
        assert!(RemoteCache::new(RemoteConfig::new("localhost:1"), local.clone()).is_err());
        let mut config = RemoteConfig::new("grpc://localhost:1");
        config.token = Some("bad\ntoken".into());
        assert!(RemoteCache::new(config, local.clone()).is_err());
        let mut config = RemoteConfig::new("grpcs://localhost:1");
        config.ca_cert = Some(dir.path().join("missing.pem"));
        assert!(RemoteCache::new(config, local).is_err());
    }
}
