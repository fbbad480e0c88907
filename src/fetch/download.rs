//! Single-file downloads into `DL_DIR`: `http(s)://` sources, tried from
//! `PREMIRRORS`, the URL itself, then `MIRRORS` (BitBake's order), with
//! `file://` and `http(s)://` mirrors.
//!
//! One download at a time per file: `DL_DIR/NAME.lock` is held (an
//! advisory `flock`, which BitBake takes too) from the first look at the
//! file to its rename. Bytes go to `NAME.bitzel-tmp-UUID` while their
//! checksums are computed; the file is synced, compared with every
//! expected checksum and only then renamed to `NAME`, and an empty
//! `NAME.done` (BitBake's stamp) is written. Leftover temporary files of
//! killed runs are removed under the lock.
//!
//! **Invariant:** `DL_DIR/NAME` is either absent or a complete download
//! that matched the checksums expected when it was made.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::checksum::{Hashers, Sums};
use super::mirror;
use super::url::Url;
use super::{FetchConfig, FetchError, MissingChecksum, Report, Source};

/// Fetches a single-file source into `DL_DIR`; returns its path.
pub fn fetch_file(
    source: &Source,
    config: &FetchConfig,
    report: &mut Report,
) -> Result<PathBuf, FetchError> {
    let name = source.download_name();
    let target = config.dl_dir.join(&name);
    let fail = |message: String| FetchError::Fetch {
        url: source.text.clone(),
        message,
    };
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
    }
    let _lock = lock(&target).map_err(fail)?;
    remove_stale_temporaries(&target);

    if target.exists() {
        let sums = Sums::of_file(&target, &source.checksums)
            .map_err(|e| fail(format!("cannot read {}: {e}", target.display())))?;
        match sums.verify(
            &source.checksums,
            &source.text,
            &target.display().to_string(),
        ) {
            Ok(()) => {
                mark_done(&target);
                return Ok(target);
            }
            Err(e) => {
                report.warnings.push(format!(
                    "{} in DL_DIR does not match the recipe's checksums; fetching it again\n{e}",
                    target.display()
                ));
                let _ = std::fs::remove_file(&target);
                let _ = std::fs::remove_file(done_stamp(&target));
            }
        }
    }

    let download_name = |candidate: &str| -> Option<String> {
        let url = Url::parse(candidate).ok()?;
        if url.scheme == "file" {
            let path = super::local_search(&url.path, &config.filespath).into_path();
            if path.is_dir() {
                return None;
            }
            return path.file_name().map(|n| n.to_string_lossy().into_owned());
        }
        if url.scheme == "git" {
            return None;
        }
        Some(
            Source {
                text: candidate.to_string(),
                url,
                checksums: Vec::new(),
                revision: None,
            }
            .download_name(),
        )
    };
    let premirrors = mirror::candidates(&source.text, &config.premirrors, &[], &download_name)?;
    let mirrors = mirror::candidates(&source.text, &config.mirrors, &[], &download_name)?;

    let mut attempts: Vec<(String, FetchError)> = Vec::new();
    let network_for_mirrors = !config.no_network;
    let network_after = !config.no_network && !config.premirror_only;
    let stages: [(&[String], bool); 3] = [
        (&premirrors, network_for_mirrors),
        (std::slice::from_ref(&source.text), network_after),
        (&mirrors, network_after),
    ];
    for (stage, (candidates, network)) in stages.into_iter().enumerate() {
        // MIRRORS are for when the URL itself failed, not when it was
        // never allowed to be tried (BitBake stops at the refusal).
        if stage == 2
            && attempts
                .iter()
                .any(|(u, e)| *u == source.text && matches!(e, FetchError::NetworkAccess { .. }))
        {
            break;
        }
        for candidate in candidates {
            match try_candidate(source, candidate, &target, config, network) {
                Ok(sums) => {
                    check_missing_checksum(source, config, &target, &sums, report)?;
                    mark_done(&target);
                    if candidate != &source.text {
                        report
                            .notes
                            .push(format!("fetched {} from {candidate}", source.text));
                    }
                    return Ok(target);
                }
                Err(e) => attempts.push((candidate.clone(), e)),
            }
        }
    }
    Err(summarise_failures(source, config, attempts))
}

/// The error of a source no candidate could provide: a checksum mismatch
/// first (it is what the user must act on), then the network refusal,
/// else every attempt.
fn summarise_failures(
    source: &Source,
    config: &FetchConfig,
    attempts: Vec<(String, FetchError)>,
) -> FetchError {
    if let Some((_, e)) = attempts
        .iter()
        .find(|(_, e)| matches!(e, FetchError::Checksum { .. }))
    {
        return e.clone();
    }
    let refused: Vec<&String> = attempts
        .iter()
        .filter(|(_, e)| matches!(e, FetchError::NetworkAccess { .. }))
        .map(|(u, _)| u)
        .collect();
    if !refused.is_empty() && refused.len() == attempts.len() {
        let setting = if config.no_network {
            "BB_NO_NETWORK = \"1\""
        } else {
            "BB_FETCH_PREMIRRORONLY = \"1\""
        };
        return FetchError::NetworkAccess {
            url: source.text.clone(),
            message: format!(
                "network access is disabled ({setting}) but {} is not in DL_DIR ({}) and no \
                 file:// mirror has it; it would be downloaded from {}",
                source.text,
                config.dl_dir.display(),
                refused
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    // The URL itself was the only place: its error as it is.
    if let [(_, error)] = attempts.as_slice() {
        return error.clone();
    }
    let mut message = String::from("unable to fetch it from any source:");
    for (candidate, error) in &attempts {
        let why = match error {
            FetchError::Fetch { message, .. } => message.clone(),
            other => other.to_string(),
        };
        message.push_str(&format!("\n    {candidate}: {why}"));
    }
    FetchError::Fetch {
        url: source.text.clone(),
        message,
    }
}

/// Warns (or fails, `BB_STRICT_CHECKSUM = "1"`) when a network download
/// has no expected checksum, showing the line to add.
fn check_missing_checksum(
    source: &Source,
    config: &FetchConfig,
    target: &Path,
    sums: &Sums,
    report: &mut Report,
) -> Result<(), FetchError> {
    if !source.checksums.is_empty() || config.missing_checksum == MissingChecksum::Ignore {
        return Ok(());
    }
    let flag = match source.url.params.get("name") {
        Some(name) => format!("{name}.sha256sum"),
        None => "sha256sum".to_string(),
    };
    let line = format!(
        "SRC_URI[{flag}] = \"{}\"",
        sums.get(super::checksum::Algorithm::Sha256)
            .unwrap_or_default()
    );
    if config.missing_checksum == MissingChecksum::Fail {
        // Under BB_STRICT_CHECKSUM the download is not kept.
        let _ = std::fs::remove_file(target);
        return Err(FetchError::Checksum {
            url: source.text.clone(),
            message: format!(
                "{} has no checksum in the recipe (BB_STRICT_CHECKSUM = \"1\"); add:\n    {line}",
                source.text
            ),
        });
    }
    report.warnings.push(format!(
        "missing checksum for {}; consider adding at least one to the recipe:\n    {line}",
        target.display()
    ));
    Ok(())
}

/// Fetches `candidate` (the URL or a mirror of it) into `target`.
fn try_candidate(
    source: &Source,
    candidate: &str,
    target: &Path,
    config: &FetchConfig,
    network: bool,
) -> Result<Sums, FetchError> {
    let url = Url::parse(candidate)?;
    let fail = |message: String| FetchError::Fetch {
        url: candidate.to_string(),
        message,
    };
    match url.scheme.as_str() {
        "file" => {
            let path = super::local_search(&url.path, &config.filespath).into_path();
            if !path.is_file() {
                return Err(fail(format!("{} does not exist", path.display())));
            }
            if path == target {
                return Sums::of_file(target, &source.checksums)
                    .map_err(|e| fail(format!("cannot read {}: {e}", path.display())));
            }
            let mut input = File::open(&path)
                .map_err(|e| fail(format!("cannot open {}: {e}", path.display())))?;
            write_verified(source, candidate, target, |out, hashers| {
                copy_hashing(&mut input, out, hashers)
                    .map(|_| ())
                    .map_err(|e| format!("reading {}: {e}", path.display()))
            })
        }
        "http" | "https" => {
            if !network {
                return Err(FetchError::NetworkAccess {
                    url: candidate.to_string(),
                    message: format!("network access is disabled: not downloading {candidate}"),
                });
            }
            if !trusted_network(config, &url) {
                return Err(fail(format!(
                    "the host `{}` is not in BB_ALLOWED_NETWORKS",
                    url.host
                )));
            }
            // What is sent is the URL as written, up to its parameters.
            let location = candidate.split(';').next().unwrap_or(candidate);
            write_verified(source, candidate, target, |out, hashers| {
                http_get(location, out, hashers)
            })
        }
        other => Err(FetchError::NoMethod {
            url: candidate.to_string(),
            scheme: other.to_string(),
        }),
    }
}

/// Writes a temporary file next to `target` with `fill`, syncs it, checks
/// its sums against the source's expected ones and renames it to
/// `target`. On any failure the temporary file is removed.
fn write_verified(
    source: &Source,
    candidate: &str,
    target: &Path,
    fill: impl FnOnce(&mut File, &mut Hashers) -> Result<(), String>,
) -> Result<Sums, FetchError> {
    let fail = |message: String| FetchError::Fetch {
        url: candidate.to_string(),
        message,
    };
    let from = candidate.split(';').next().unwrap_or(candidate);
    let temp = TempFile::new(target).map_err(|e| fail(e.to_string()))?;
    let mut file = temp.file.try_clone().map_err(|e| fail(e.to_string()))?;
    let mut hashers = Hashers::new(&source.checksums);
    fill(&mut file, &mut hashers).map_err(fail)?;
    file.sync_all()
        .map_err(|e| fail(format!("syncing {}: {e}", temp.path.display())))?;
    let sums = hashers.finish();
    sums.verify(&source.checksums, &source.text, from)?;
    temp.persist(target).map_err(|e| fail(e.to_string()))?;
    Ok(sums)
}

/// A file being written next to its final name, removed on drop unless
/// persisted.
struct TempFile {
    path: PathBuf,
    file: File,
    persisted: bool,
}

impl TempFile {
    fn new(target: &Path) -> std::io::Result<TempFile> {
        let path = temporary_name(target);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("creating {}: {e}", path.display()))
            })?;
        Ok(TempFile {
            path,
            file,
            persisted: false,
        })
    }

    fn persist(mut self, target: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, target).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "renaming {} to {}: {e}",
                    self.path.display(),
                    target.display()
                ),
            )
        })?;
        self.persisted = true;
        // The rename itself reaches the disk with the directory.
        if let Some(parent) = target.parent()
            && let Ok(dir) = File::open(parent)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

const TEMP_MARK: &str = ".bitzel-tmp-";

fn temporary_name(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!("{TEMP_MARK}{}", uuid::Uuid::new_v4().simple()));
    target.with_file_name(name)
}

/// Removes `NAME.bitzel-tmp-*` left by killed runs (the lock is held, so
/// no live run is writing one).
fn remove_stale_temporaries(target: &Path) {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let prefix = format!("{}{TEMP_MARK}", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Opens (creating it) the lock file `path`, for `flock`.
pub(crate) fn open_lock_file(path: &Path) -> Result<File, String> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open the lock file {}: {e}", path.display()))
}

/// Holds `TARGET.lock` until dropped.
pub(crate) fn lock(target: &Path) -> Result<File, String> {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let path = target.with_file_name(name);
    let file = open_lock_file(&path)?;
    file.lock()
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    Ok(file)
}

fn done_stamp(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".done");
    target.with_file_name(name)
}

/// The empty stamp BitBake writes next to a complete download (BitBake
/// reads an empty one as "checksums not cached yet").
fn mark_done(target: &Path) {
    let stamp = done_stamp(target);
    if !stamp.exists() {
        let _ = File::create(stamp);
    }
}

/// `BB_ALLOWED_NETWORKS`: with a list, only its hosts (`*.domain` for a
/// domain and its subdomains) may be contacted.
pub(crate) fn trusted_network(config: &FetchConfig, url: &Url) -> bool {
    let Some(allowed) = config.allowed_networks.as_deref().filter(|a| !a.is_empty()) else {
        return true;
    };
    if url.host.is_empty() {
        return true;
    }
    let host = url
        .host
        .split(':')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    allowed.split(' ').any(|entry| {
        let entry = entry.to_lowercase();
        match entry.strip_prefix('*') {
            Some(domain) if entry.starts_with("*.") => format!(".{host}").ends_with(domain),
            _ => entry == host,
        }
    })
}

fn copy_hashing(
    input: &mut impl Read,
    out: &mut File,
    hashers: &mut Hashers,
) -> std::io::Result<u64> {
    let mut buffer = vec![0u8; 1 << 18];
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hashers.update(&buffer[..n]);
        out.write_all(&buffer[..n])?;
        total += n as u64;
    }
}

/// GETs `location` into `out`. The body must be as long as the server
/// said (`Content-Length`); redirects are followed; a status of 400 or
/// more is an error.
fn http_get(location: &str, out: &mut File, hashers: &mut Hashers) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(100)))
        .user_agent(concat!("bitzel/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let response = agent.get(location).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => format!("the server answered HTTP {code}"),
        other => other.to_string(),
    })?;
    let expected_length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let mut body = response.into_body().into_reader();
    let got = copy_hashing(&mut body, out, hashers).map_err(|e| {
        format!(
            "the download broke off{}: {e}",
            expected_length.map_or(String::new(), |n| format!(" before its {n} bytes arrived"))
        )
    })?;
    if let Some(expected) = expected_length
        && got != expected
    {
        return Err(format!(
            "the connection ended after {got} of {expected} bytes"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_siblings_and_stale_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.tar.gz");
        let temp = temporary_name(&target);
        assert_eq!(temp.parent(), Some(dir.path()));
        assert!(temp.to_string_lossy().contains("x.tar.gz.bitzel-tmp-"));
        std::fs::write(&temp, "partial").unwrap();
        std::fs::write(dir.path().join("y.tar.gz.bitzel-tmp-1"), "other").unwrap();
        remove_stale_temporaries(&target);
        assert!(!temp.exists());
        assert!(dir.path().join("y.tar.gz.bitzel-tmp-1").exists());
    }

    #[test]
    fn allowed_networks() {
        let mut config = FetchConfig {
            allowed_networks: Some("*.example.com git.other.org".to_string()),
            ..FetchConfig::default()
        };
        let trusted = |c: &FetchConfig, u: &str| trusted_network(c, &Url::parse(u).unwrap());
        assert!(trusted(&config, "https://example.com/x"));
        assert!(trusted(&config, "https://a.b.example.com:8080/x"));
        assert!(trusted(&config, "https://git.other.org/x"));
        assert!(!trusted(&config, "https://other.org/x"));
        assert!(!trusted(&config, "https://badexample.com/x"));
        config.allowed_networks = None;
        assert!(trusted(&config, "https://other.org/x"));
    }

    #[test]
    fn file_mirrors_and_the_checksum_gate() {
        use std::collections::HashMap;
        let dir = tempfile::tempdir().unwrap();
        let mirror = dir.path().join("mirror");
        std::fs::create_dir_all(&mirror).unwrap();
        std::fs::write(mirror.join("x-1.0.tar.gz"), b"abc").unwrap();
        let sha_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let mut flags = HashMap::new();
        flags.insert("sha256sum".to_string(), "00".repeat(32));
        let config = FetchConfig {
            dl_dir: dir.path().join("downloads"),
            premirrors: mirror::parse_rules(&format!(
                "https?://.*/.* file://{}/",
                mirror.display()
            ))
            .0,
            no_network: true,
            ..FetchConfig::default()
        };
        let url = "https://unreachable.invalid/x-1.0.tar.gz";
        // Wrong checksum: an error naming both sums, nothing in DL_DIR.
        let source = Source::new(url, &flags, None).unwrap();
        let err = fetch_file(&source, &config, &mut Report::default()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, FetchError::Checksum { .. }), "{text}");
        assert!(
            text.contains(&"00".repeat(32)) && text.contains(sha_abc),
            "{text}"
        );
        let names: Vec<_> = std::fs::read_dir(&config.dl_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| n.ends_with(".lock")), "{names:?}");
        // Right checksum: copied from the premirror with no network.
        flags.insert("sha256sum".to_string(), sha_abc.to_string());
        let source = Source::new(url, &flags, None).unwrap();
        let path = fetch_file(&source, &config, &mut Report::default()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"abc");
        assert!(config.dl_dir.join("x-1.0.tar.gz.done").exists());
        // Without the mirror and without the file: the network refusal.
        std::fs::remove_file(&path).unwrap();
        let bare = FetchConfig {
            premirrors: Vec::new(),
            ..config.clone()
        };
        let err = fetch_file(&source, &bare, &mut Report::default()).unwrap_err();
        assert!(matches!(err, FetchError::NetworkAccess { .. }), "{err}");
        assert!(err.to_string().contains("BB_NO_NETWORK"), "{err}");
    }
}
