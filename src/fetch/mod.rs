//! Fetching, unpacking and patching sources: the work behind BitBake's
//! `bb.fetch2` API (`Fetch.download()`, `Fetch.unpack()`), done in Rust.
//!
//! Inputs are plain values the python side reads from the datastore
//! ([`FetchConfig`]: `DL_DIR`, `FILESPATH`, `PREMIRRORS`/`MIRRORS`,
//! `BB_NO_NETWORK`, ...; [`Source`]: one SRC_URI entry with its expected
//! checksums and revision). Methods: `file://` (found through `FILESPATH`),
//! `http(s)://` ([`download`]), `git://` with the git command line
//! ([`git`]). Archives are unpacked in-process ([`unpack`]); patches are
//! applied in SRC_URI order ([`patch`]).
//!
//! **Invariant:** no global state and no use of the current directory:
//! everything a call needs is in its arguments, so it runs the same from
//! any thread or process.
//! **Invariant:** a download gets its final name in `DL_DIR` only when it
//! is complete and its checksums match: it is written under a temporary
//! name, synced, verified, then renamed; a failure removes it. A git
//! clone is made in a temporary directory and renamed likewise.

pub mod checksum;
pub mod download;
pub mod extract;
pub mod git;
pub mod mirror;
pub mod patch;
pub mod unpack;
pub mod url;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub use checksum::Expected;
pub use mirror::MirrorRule;
pub use url::Url;

/// What went wrong, by the `bb.fetch2` exception it becomes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the URL `{url}` is malformed: {message}")]
    Malformed { url: String, message: String },
    #[error("URL `{url}`: {message}")]
    Parameter { url: String, message: String },
    #[error("no fetcher in bitzel handles `{url}` ({scheme}:// URLs are not supported yet)")]
    NoMethod { url: String, scheme: String },
    #[error("{message}")]
    Checksum { url: String, message: String },
    #[error("{message}")]
    NetworkAccess { url: String, message: String },
    #[error("fetching {url} failed: {message}")]
    Fetch { url: String, message: String },
    #[error("unpacking {url} failed: {message}")]
    Unpack { url: String, message: String },
    #[error("{message}")]
    Patch { patch: String, message: String },
}

impl FetchError {
    /// The `bb.fetch2` exception class this error becomes in python.
    pub fn python_class(&self) -> &'static str {
        match self {
            FetchError::Malformed { .. } => "MalformedUrl",
            FetchError::Parameter { .. } => "ParameterError",
            FetchError::NoMethod { .. } => "NoMethodError",
            FetchError::Checksum { .. } => "ChecksumError",
            FetchError::NetworkAccess { .. } => "NetworkAccess",
            FetchError::Fetch { .. } => "FetchError",
            FetchError::Unpack { .. } => "UnpackError",
            FetchError::Patch { .. } => "PatchError",
        }
    }

    /// The URL (or patch) the error is about.
    pub fn subject(&self) -> &str {
        match self {
            FetchError::Malformed { url, .. }
            | FetchError::Parameter { url, .. }
            | FetchError::NoMethod { url, .. }
            | FetchError::Checksum { url, .. }
            | FetchError::NetworkAccess { url, .. }
            | FetchError::Fetch { url, .. }
            | FetchError::Unpack { url, .. } => url,
            FetchError::Patch { patch, .. } => patch,
        }
    }
}

/// `BB_STRICT_CHECKSUM`: what a network download without any expected
/// checksum gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingChecksum {
    /// A warning showing the line to add (BitBake's default).
    #[default]
    Warn,
    /// An error (`"1"`).
    Fail,
    /// Nothing (`"ignore"`).
    Ignore,
}

impl MissingChecksum {
    pub fn from_setting(value: &str) -> MissingChecksum {
        match value {
            "1" => MissingChecksum::Fail,
            "ignore" => MissingChecksum::Ignore,
            _ => MissingChecksum::Warn,
        }
    }
}

/// The settings of a fetch, from the datastore.
#[derive(Debug, Clone, Default)]
pub struct FetchConfig {
    /// `DL_DIR`.
    pub dl_dir: PathBuf,
    /// `FILESPATH`: `:`-separated directories searched for `file://`.
    pub filespath: String,
    /// `PREMIRRORS`, tried before the URL itself.
    pub premirrors: Vec<MirrorRule>,
    /// `MIRRORS`, tried when the URL fails.
    pub mirrors: Vec<MirrorRule>,
    /// `BB_NO_NETWORK = "1"`.
    pub no_network: bool,
    /// `BB_FETCH_PREMIRRORONLY`: the network is used for premirrors only.
    pub premirror_only: bool,
    /// `BB_STRICT_CHECKSUM`.
    pub missing_checksum: MissingChecksum,
    /// `BB_ALLOWED_NETWORKS` (for the recipe): hosts, `*.domain` patterns.
    pub allowed_networks: Option<String>,
    /// `GITDIR` (default `DL_DIR/git2`).
    pub git_dir: Option<PathBuf>,
    /// `BB_GIT_DEFAULT_DESTSUFFIX` (default `git`).
    pub git_default_destsuffix: Option<String>,
    /// `PATH` for the tools run (`git`, `patch`); the process's if unset.
    pub tool_path: Option<String>,
}

/// One SRC_URI entry to fetch.
#[derive(Debug, Clone)]
pub struct Source {
    /// The URL as written (expanded).
    pub text: String,
    pub url: Url,
    /// The checksums the download must have.
    pub checksums: Vec<Expected>,
    /// The revision (SRCREV) of an SCM URL.
    pub revision: Option<String>,
}

impl Source {
    /// `text` parsed; `checksum_flags` are the `SRC_URI` flags whose names
    /// end in `sum`.
    pub fn new(
        text: &str,
        checksum_flags: &HashMap<String, String>,
        revision: Option<String>,
    ) -> Result<Source, FetchError> {
        let url = Url::parse(text)?;
        let checksums = checksum::expected_for(&url, checksum_flags);
        Ok(Source {
            text: text.to_string(),
            url,
            checksums,
            revision,
        })
    }

    pub fn method(&self) -> Result<Method, FetchError> {
        match self.url.scheme.as_str() {
            "file" => Ok(Method::Local),
            "http" | "https" => Ok(Method::Http),
            "git" => Ok(Method::Git),
            other => Err(FetchError::NoMethod {
                url: self.text.clone(),
                scheme: other.to_string(),
            }),
        }
    }

    /// The name of a single-file download in `DL_DIR`:
    /// `downloadfilename=`, else the path's last component, else host and
    /// path with `.` for `/`.
    pub fn download_name(&self) -> String {
        if let Some(name) = self.url.params.get("downloadfilename") {
            return name.to_string();
        }
        let base = self.url.basename();
        if !base.is_empty() {
            return base.to_string();
        }
        format!("{}{}", self.url.host, self.url.path).replace('/', ".")
    }
}

/// How a source is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Local,
    Http,
    Git,
}

/// What a fetch, unpack or patch step has to say besides its result:
/// warnings for the user and notes for the task log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
}

/// Where a source is (or will be, once fetched), as BitBake's
/// `localpath`: for `file://` the first `FILESPATH` match (else the last
/// place searched), for `git://` the bare clone, else `DL_DIR/name`.
pub fn localpath(source: &Source, config: &FetchConfig) -> Result<PathBuf, FetchError> {
    match source.url.scheme.as_str() {
        "file" => Ok(local_search(&source.url.path, &config.filespath).into_path()),
        "git" => Ok(git::GitSource::new(source, config)?.clonedir),
        _ => Ok(config.dl_dir.join(source.download_name())),
    }
}

/// The result of looking a `file://` path up in `FILESPATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSearch {
    pub found: Option<PathBuf>,
    /// Every place looked at, in order, up to and including the match.
    pub searched: Vec<PathBuf>,
}

impl LocalSearch {
    /// The match, else the last place searched, else the path itself.
    pub fn into_path(self) -> PathBuf {
        self.found
            .or_else(|| self.searched.last().cloned())
            .unwrap_or_default()
    }
}

/// `path` looked up in the `:`-separated `filespath` (BitBake's
/// `bb.utils.which(FILESPATH, path, history=True)`); an absolute path is
/// itself.
pub fn local_search(path: &str, filespath: &str) -> LocalSearch {
    if path.starts_with('/') {
        let p = PathBuf::from(path);
        return LocalSearch {
            found: p.exists().then(|| p.clone()),
            searched: vec![p],
        };
    }
    let mut searched = Vec::new();
    if filespath.is_empty() {
        return LocalSearch {
            found: None,
            searched: vec![PathBuf::from(path)],
        };
    }
    for dir in filespath.split(':') {
        let candidate = Path::new(dir).join(path);
        searched.push(candidate.clone());
        if candidate.exists() {
            return LocalSearch {
                found: Some(candidate),
                searched,
            };
        }
    }
    LocalSearch {
        found: None,
        searched,
    }
}

/// Brings `source` into `DL_DIR` (or checks a `file://` source exists);
/// returns where it is.
pub fn fetch(
    source: &Source,
    config: &FetchConfig,
    report: &mut Report,
) -> Result<PathBuf, FetchError> {
    match source.method()? {
        Method::Local => {
            let search = local_search(&source.url.path, &config.filespath);
            match search.found {
                Some(path) => Ok(path),
                None => Err(FetchError::Fetch {
                    url: source.text.clone(),
                    message: format!(
                        "file `{}` was not found; the places searched (FILESPATH) were:\n    {}",
                        source.url.path,
                        search
                            .searched
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join("\n    ")
                    ),
                }),
            }
        }
        Method::Http => download::fetch_file(source, config, report),
        Method::Git => git::fetch(source, config, report),
    }
}

/// Unpacks a fetched `source` into `root` (the recipe's `UNPACKDIR`):
/// archives extracted, other files copied, git checked out.
pub fn unpack_source(
    source: &Source,
    config: &FetchConfig,
    root: &Path,
    report: &mut Report,
) -> Result<(), FetchError> {
    match source.method()? {
        Method::Git => git::unpack(source, config, root, report),
        _ => {
            let path = localpath(source, config)?;
            if !path.exists() && std::fs::symlink_metadata(&path).is_err() {
                return Err(FetchError::Unpack {
                    url: source.text.clone(),
                    message: format!("{} does not exist (was it fetched?)", path.display()),
                });
            }
            unpack::unpack(source, &path, root, report)
        }
    }
}

/// `bb.utils.to_boolean`: `y`/`yes`/`1`/`true` and `n`/`no`/`0`/`false`
/// in any case; empty is `default`; anything else is an error.
pub fn to_boolean(value: Option<&str>, default: bool) -> Result<bool, String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    match value.to_ascii_lowercase().as_str() {
        "y" | "yes" | "1" | "true" => Ok(true),
        "n" | "no" | "0" | "false" => Ok(false),
        _ => Err(format!("invalid boolean value `{value}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_search_follows_filespath_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(b.join("sub")).unwrap();
        std::fs::write(b.join("sub/x.c"), "").unwrap();
        let filespath = format!("{}:{}", a.display(), b.display());
        let found = local_search("sub/x.c", &filespath);
        assert_eq!(found.found, Some(b.join("sub/x.c")));
        assert_eq!(found.searched, vec![a.join("sub/x.c"), b.join("sub/x.c")]);
        let missing = local_search("y.c", &filespath);
        assert_eq!(missing.found, None);
        assert_eq!(missing.clone().into_path(), b.join("y.c"));
        let absolute = local_search("/nonexistent/z", &filespath);
        assert_eq!(absolute.into_path(), PathBuf::from("/nonexistent/z"));
    }

    #[test]
    fn download_names() {
        let none = HashMap::new();
        let name = |u: &str| Source::new(u, &none, None).unwrap().download_name();
        assert_eq!(name("https://h/a/b-1.0.tar.gz"), "b-1.0.tar.gz");
        assert_eq!(
            name("https://h/a/v1.0;downloadfilename=b-1.0.tgz"),
            "b-1.0.tgz"
        );
        assert_eq!(name("https://h/a/"), "h.a.");
    }

    #[test]
    fn booleans_as_bitbake() {
        assert_eq!(to_boolean(Some("Yes"), false), Ok(true));
        assert_eq!(to_boolean(Some("0"), true), Ok(false));
        assert_eq!(to_boolean(Some(""), true), Ok(true));
        assert!(to_boolean(Some("maybe"), true).is_err());
    }
}
