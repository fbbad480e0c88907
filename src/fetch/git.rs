//! `git://` sources with the git command line, as BitBake's git fetcher
//! lays them out.
//!
//! Fetching keeps a bare mirror clone in `DL_DIR/git2/NAME` (`GITDIR`
//! overrides `DL_DIR/git2`; NAME is host and path with `.` for `/`), made
//! with `git clone --bare --mirror` into a temporary directory renamed
//! into place, later updated with `git fetch`. The revision is `SRCREV`, a
//! full commit hash; with `branch=` it must be on that branch, with
//! `nobranch=1` anywhere. `protocol=` picks how the repository is reached
//! (`git` by default, `file` for a local path, which needs no network).
//! `PREMIRRORS` and `MIRRORS` may name other git URLs or a `file://`
//! directory holding `git2_NAME.tar.gz`, a tarball of the bare clone.
//!
//! Unpacking clones the mirror into `UNPACKDIR/DESTSUFFIX` (default
//! `BB_GIT_DEFAULT_DESTSUFFIX`, else `git`; the last component of
//! `subpath=` if given; nothing with `subdir=`) and checks out the
//! revision (on a branch named after `branch=`). The checkout has its own
//! objects (no `--shared` alternates into `DL_DIR`), so a cached unpack
//! output stands alone.
//!
//! **Invariant:** the mirror clone exists under its final name only once
//! a clone into it completed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::download::lock;
use super::mirror;
use super::url::{Url, quote};
use super::{FetchConfig, FetchError, Report, Source, to_boolean};

/// A git source with BitBake's derived values.
#[derive(Debug, Clone)]
pub struct GitSource {
    pub text: String,
    pub url: Url,
    pub protocol: String,
    pub branch: Option<String>,
    pub nobranch: bool,
    pub revision: String,
    /// `DL_DIR/git2/NAME`.
    pub clonedir: PathBuf,
    /// The name of the mirror clone (`NAME`).
    pub name: String,
    pub tool_path: Option<String>,
}

impl GitSource {
    pub fn new(source: &Source, config: &FetchConfig) -> Result<GitSource, FetchError> {
        let param_error = |message: &str| FetchError::Parameter {
            url: source.text.clone(),
            message: message.to_string(),
        };
        let url = &source.url;
        let protocol = match url.params.get("protocol") {
            Some(p) => p.to_string(),
            None if url.host.is_empty() => "file".to_string(),
            None => "git".to_string(),
        };
        if !["git", "file", "ssh", "http", "https", "rsync"].contains(&protocol.as_str()) {
            return Err(param_error(&format!("invalid protocol type: `{protocol}`")));
        }
        let nobranch = to_boolean(url.params.get("nobranch"), false)
            .map_err(|e| param_error(&e))?
            || to_boolean(url.params.get("usehead"), false).map_err(|e| param_error(&e))?;
        let branch = url
            .params
            .get("branch")
            .filter(|b| !b.is_empty())
            .map(str::to_string);
        if branch.is_none() && !nobranch {
            return Err(param_error(
                "the URL sets no branch parameter (set branch=NAME, or nobranch=1)",
            ));
        }
        let mut name = format!("{}{}", url.host.replace(':', "."), url.path)
            .replace(['/', '*'], ".")
            .replace([' ', '(', ')'], "_");
        if let Some(stripped) = name.strip_prefix('.') {
            name = stripped.to_string();
        }
        let revision = source.revision.clone().unwrap_or_default();
        if to_boolean(url.params.get("rebaseable"), false).map_err(|e| param_error(&e))? {
            name = format!("{name}_{revision}");
        }
        let git_dir = config
            .git_dir
            .clone()
            .unwrap_or_else(|| config.dl_dir.join("git2"));
        Ok(GitSource {
            text: source.text.clone(),
            url: url.clone(),
            protocol,
            branch,
            nobranch,
            revision,
            clonedir: git_dir.join(&name),
            name,
            tool_path: config.tool_path.clone(),
        })
    }

    /// Where the repository is: `PROTOCOL://[user@]host/path`.
    pub fn repo_url(&self) -> String {
        let user = if self.url.user.is_empty() {
            String::new()
        } else {
            format!("{}@", self.url.user)
        };
        format!(
            "{}://{user}{}{}",
            self.protocol,
            self.url.host,
            quote(&self.url.path)
        )
    }

    /// The tarball a mirror keeps the bare clone in.
    pub fn mirror_tarball(&self) -> String {
        format!("git2_{}.tar.gz", self.name)
    }

    fn fail(&self, message: String) -> FetchError {
        FetchError::Fetch {
            url: self.text.clone(),
            message,
        }
    }

    /// Checks the revision is a full hash (what bitzel can build from
    /// without asking the server).
    fn check_revision(&self) -> Result<(), FetchError> {
        let rev = &self.revision;
        let is_hash = (rev.len() == 40 || rev.len() == 64)
            && rev
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if is_hash {
            return Ok(());
        }
        let what = if rev.is_empty() || rev == "INVALID" {
            "no SRCREV is set".to_string()
        } else if rev.starts_with("AUTOINC") {
            "SRCREV is ${AUTOREV}, which bitzel does not resolve yet".to_string()
        } else {
            format!("SRCREV `{rev}` is not a full commit hash")
        };
        Err(self.fail(format!(
            "{what}; set SRCREV to the full commit hash to build (40 or 64 hex digits)"
        )))
    }

    fn git(&self, dir: Option<&Path>) -> Command {
        let mut command = Command::new("git");
        command.args([
            "-c",
            "gc.autoDetach=false",
            "-c",
            "core.pager=cat",
            "-c",
            "safe.bareRepository=all",
            "-c",
            "clone.defaultRemoteName=origin",
        ]);
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        if let Some(path) = &self.tool_path {
            command.env("PATH", path);
        }
        command
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LANG", "C")
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        command
    }

    /// Runs `git ARGS` (in `dir`); Err with the command and its output.
    fn run(&self, dir: Option<&Path>, args: &[&str]) -> Result<String, String> {
        let output = self
            .git(dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e} (is git on the PATH?)"))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(format!(
            "`git {}` failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }

    /// Whether `repo` (a bare clone) has the revision, on the branch
    /// unless nobranch.
    fn contains_revision(&self, repo: &Path) -> bool {
        if !repo.is_dir() {
            return false;
        }
        let output = match &self.branch {
            Some(branch) if !self.nobranch => self.run(
                Some(repo),
                &["branch", "--contains", &self.revision, "--list", branch],
            ),
            _ => self.run(
                Some(repo),
                &["log", "--pretty=oneline", "-n", "1", &self.revision, "--"],
            ),
        };
        output.is_ok_and(|o| !o.trim().is_empty())
    }

    fn revision_missing(&self) -> String {
        match &self.branch {
            Some(branch) if !self.nobranch => format!(
                "unable to find revision {} in branch {branch} even from upstream",
                self.revision
            ),
            _ => format!(
                "unable to find revision {} even from upstream",
                self.revision
            ),
        }
    }
}

/// Fetches (clones or updates) the mirror clone of a git source.
pub fn fetch(
    source: &Source,
    config: &FetchConfig,
    report: &mut Report,
) -> Result<PathBuf, FetchError> {
    let git = GitSource::new(source, config)?;
    git.check_revision()?;
    let parent = git
        .clonedir
        .parent()
        .unwrap_or(&config.dl_dir)
        .to_path_buf();
    std::fs::create_dir_all(&parent)
        .map_err(|e| git.fail(format!("cannot create {}: {e}", parent.display())))?;
    let _lock = lock(&config.dl_dir.join(&git.name)).map_err(|e| git.fail(e))?;
    if git.contains_revision(&git.clonedir) {
        return Ok(git.clonedir.clone());
    }

    let tarball = git.mirror_tarball();
    let download_name = |_: &str| None;
    let premirrors = if git.clonedir.exists() && !config.premirror_only {
        Vec::new()
    } else {
        mirror::candidates(
            &source.text,
            &config.premirrors,
            std::slice::from_ref(&tarball),
            &download_name,
        )?
    };
    let mirrors = mirror::candidates(
        &source.text,
        &config.mirrors,
        std::slice::from_ref(&tarball),
        &download_name,
    )?;
    let network_after = !config.no_network && !config.premirror_only;
    let mut attempts: Vec<(String, String)> = Vec::new();
    let mut refused = false;
    let stages: [(&[String], bool); 3] = [
        (&premirrors, !config.no_network),
        (std::slice::from_ref(&source.text), network_after),
        (&mirrors, network_after),
    ];
    for (stage, (candidates, network)) in stages.into_iter().enumerate() {
        if stage == 2 && refused {
            break;
        }
        for candidate in candidates {
            match try_candidate(&git, candidate, &tarball, config, network) {
                Ok(()) => {
                    if git.contains_revision(&git.clonedir) {
                        if candidate != &source.text {
                            report
                                .notes
                                .push(format!("fetched {} from {candidate}", source.text));
                        }
                        return Ok(git.clonedir.clone());
                    }
                    attempts.push((candidate.clone(), git.revision_missing()));
                }
                Err(Attempt::Refused(message)) => {
                    if candidate == &source.text {
                        refused = true;
                    }
                    attempts.push((candidate.clone(), message));
                }
                Err(Attempt::Failed(message)) => attempts.push((candidate.clone(), message)),
            }
        }
    }
    if refused && attempts.len() == 1 {
        return Err(FetchError::NetworkAccess {
            url: source.text.clone(),
            message: format!(
                "network access is disabled ({}) but the git repository {} is not in DL_DIR \
                 ({}) at revision {}",
                if config.no_network {
                    "BB_NO_NETWORK = \"1\""
                } else {
                    "BB_FETCH_PREMIRRORONLY = \"1\""
                },
                git.repo_url(),
                git.clonedir.display(),
                git.revision
            ),
        });
    }
    if let [(_, only)] = attempts.as_slice() {
        return Err(git.fail(only.clone()));
    }
    let mut message = String::from("unable to fetch it from any source:");
    for (candidate, error) in &attempts {
        message.push_str(&format!("\n    {candidate}: {error}"));
    }
    Err(git.fail(message))
}

enum Attempt {
    /// Not tried: the network is off.
    Refused(String),
    Failed(String),
}

/// Brings the mirror clone up to date from one place: a git URL, or a
/// `file://` mirror tarball.
fn try_candidate(
    git: &GitSource,
    candidate: &str,
    tarball: &str,
    config: &FetchConfig,
    network: bool,
) -> Result<(), Attempt> {
    let url = Url::parse(candidate).map_err(|e| Attempt::Failed(e.to_string()))?;
    match url.scheme.as_str() {
        "git" => {
            let candidate_source = Source {
                text: candidate.to_string(),
                url: url.clone(),
                checksums: Vec::new(),
                revision: Some(git.revision.clone()),
            };
            let via = GitSource::new(&candidate_source, config)
                .map_err(|e| Attempt::Failed(e.to_string()))?;
            if via.protocol != "file" && !network {
                return Err(Attempt::Refused(format!(
                    "network access is disabled: not contacting {}",
                    via.repo_url()
                )));
            }
            if via.protocol != "file" && !super::download::trusted_network(config, &url) {
                return Err(Attempt::Failed(format!(
                    "the host `{}` is not in BB_ALLOWED_NETWORKS",
                    url.host
                )));
            }
            let mut repo = via.repo_url();
            // A local bare repository is cloned by path, which lets git
            // hard-link its objects.
            if let Some(path) = repo.strip_prefix("file://") {
                let objects = Path::new(path).join("objects");
                if objects.is_dir() && !objects.is_symlink() {
                    repo = path.to_string();
                }
            }
            if git.clonedir.is_dir() {
                let refspecs: &[&str] = if git.nobranch {
                    &["refs/*:refs/*"]
                } else {
                    &["refs/heads/*:refs/heads/*", "refs/tags/*:refs/tags/*"]
                };
                let mut args = vec!["fetch", "-f", "--prune", repo.as_str()];
                args.extend_from_slice(refspecs);
                git.run(Some(&git.clonedir), &args)
                    .map_err(Attempt::Failed)?;
                Ok(())
            } else {
                let temp = temporary_dir(&git.clonedir);
                let temp_text = temp.to_string_lossy().into_owned();
                let result = git.run(
                    None,
                    &[
                        "clone",
                        "--bare",
                        "--mirror",
                        repo.as_str(),
                        temp_text.as_str(),
                    ],
                );
                finish_temporary(result.map(|_| ()), &temp, &git.clonedir)
            }
        }
        "file" => {
            let path = super::local_search(&url.path, &config.filespath).into_path();
            let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if file_name.as_deref() != Some(tarball) || !path.is_file() {
                return Err(Attempt::Failed(format!(
                    "{} is not a mirror tarball ({tarball})",
                    path.display()
                )));
            }
            let temp = temporary_dir(&git.clonedir);
            let result = std::fs::File::open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))
                .and_then(|f| {
                    let reader = super::unpack::decompressor(super::unpack::Compression::Gzip, f)?;
                    super::extract::extract_tar(reader, &temp, 0)
                });
            if result.is_ok() && git.clonedir.exists() {
                let _ = std::fs::remove_dir_all(&git.clonedir);
            }
            finish_temporary(result, &temp, &git.clonedir)
        }
        other => Err(Attempt::Failed(format!(
            "{other}:// mirrors of git repositories are not supported by bitzel"
        ))),
    }
}

fn temporary_dir(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".bitzel-tmp-{}", uuid::Uuid::new_v4().simple()));
    target.with_file_name(name)
}

/// Renames a finished temporary clone into place, or removes it.
fn finish_temporary(result: Result<(), String>, temp: &Path, target: &Path) -> Result<(), Attempt> {
    match result {
        Ok(()) => std::fs::rename(temp, target).map_err(|e| {
            let _ = std::fs::remove_dir_all(temp);
            Attempt::Failed(format!(
                "cannot rename {} to {}: {e}",
                temp.display(),
                target.display()
            ))
        }),
        Err(message) => {
            let _ = std::fs::remove_dir_all(temp);
            Err(Attempt::Failed(message))
        }
    }
}

/// Checks out a fetched git source under `root`.
pub fn unpack(
    source: &Source,
    config: &FetchConfig,
    root: &Path,
    report: &mut Report,
) -> Result<(), FetchError> {
    let git = GitSource::new(source, config)?;
    git.check_revision()?;
    let fail = |message: String| FetchError::Unpack {
        url: source.text.clone(),
        message,
    };
    let params = &source.url.params;
    let subpath = params.get("subpath").filter(|s| !s.is_empty());
    let mut default_suffix = format!(
        "{}/",
        config
            .git_default_destsuffix
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or("git")
    );
    if let Some(subpath) = subpath {
        let last = subpath
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(subpath);
        default_suffix = format!("{last}/");
    }
    let mut base = root.to_path_buf();
    if let Some(subdir) = params.get("subdir") {
        base = if subdir.starts_with('/') {
            let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
            let real = Path::new(subdir)
                .canonicalize()
                .unwrap_or_else(|_| PathBuf::from(subdir));
            if !real.starts_with(&real_root) {
                return Err(fail(format!(
                    "subdir={subdir} is not a subdirectory of the unpack root {}",
                    root.display()
                )));
            }
            PathBuf::from(subdir)
        } else {
            root.join(subdir)
        };
        default_suffix = String::new();
    }
    let suffix = params.get("destsuffix").unwrap_or(&default_suffix);
    let dest = base.join(suffix);
    if !git.contains_revision(&git.clonedir) {
        return Err(fail(format!(
            "no up to date source found: the clone {} does not have revision {} (was it fetched?)",
            git.clonedir.display(),
            git.revision
        )));
    }
    if std::fs::symlink_metadata(&dest).is_ok() {
        std::fs::remove_dir_all(&dest)
            .or_else(|_| std::fs::remove_file(&dest))
            .map_err(|e| fail(format!("cannot remove the old {}: {e}", dest.display())))?;
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
    }
    report.notes.push(format!(
        "Checking out {} at {} into {}",
        git.repo_url(),
        git.revision,
        dest.display()
    ));
    let clonedir = git.clonedir.to_string_lossy().into_owned();
    let dest_text = dest.to_string_lossy().into_owned();
    let bareclone = to_boolean(params.get("bareclone"), false).map_err(&fail)?;
    let nocheckout = bareclone || to_boolean(params.get("nocheckout"), false).map_err(&fail)?;
    let mut clone_args = vec!["clone", "-n"];
    if bareclone {
        clone_args.push("--mirror");
    }
    clone_args.extend([clonedir.as_str(), dest_text.as_str()]);
    git.run(None, &clone_args).map_err(&fail)?;
    let in_dest = Some(dest.as_path());
    let repo_url = git.repo_url();
    git.run(in_dest, &["remote", "set-url", "origin", &repo_url])
        .map_err(&fail)?;
    if let Some(tag) = params.get("tag") {
        let tagged = git
            .run(in_dest, &["rev-list", "-n", "1", tag])
            .map_err(&fail)?;
        let wanted = git
            .run(in_dest, &["rev-list", "-n", "1", &git.revision])
            .map_err(&fail)?;
        if tagged.trim() != wanted.trim() {
            return Err(fail(format!(
                "the git tag `{tag}` resolves to {} but SRCREV is {}",
                tagged.trim(),
                git.revision
            )));
        }
    }
    if nocheckout {
        return Ok(());
    }
    if let Some(subpath) = subpath {
        let spec = format!("{}:{subpath}", git.revision);
        git.run(in_dest, &["read-tree", &spec]).map_err(&fail)?;
        git.run(in_dest, &["checkout-index", "-q", "-f", "-a"])
            .map_err(&fail)?;
        git.run(
            in_dest,
            &["update-ref", "--no-deref", "HEAD", &git.revision],
        )
        .map_err(&fail)?;
        if let (Some(branch), false) = (&git.branch, git.nobranch) {
            let reference = format!("refs/heads/{branch}");
            git.run(in_dest, &["update-ref", &reference, &git.revision])
                .map_err(&fail)?;
        }
    } else if let (Some(branch), false) = (&git.branch, git.nobranch) {
        git.run(in_dest, &["checkout", "-q", "-B", branch, &git.revision])
            .map_err(&fail)?;
        let upstream = format!("origin/{branch}");
        git.run(in_dest, &["branch", branch, "--set-upstream-to", &upstream])
            .map_err(&fail)?;
    } else {
        git.run(in_dest, &["checkout", "-q", &git.revision])
            .map_err(&fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn source(url: &str, rev: &str) -> Source {
        Source::new(url, &HashMap::new(), Some(rev.to_string())).unwrap()
    }

    #[test]
    fn names_and_urls_as_bitbake() {
        let config = FetchConfig {
            dl_dir: PathBuf::from("/dl"),
            ..FetchConfig::default()
        };
        let rev = "a".repeat(40);
        let g = GitSource::new(
            &source(
                "git://git.example.com:8080/a/b c.git;branch=main;protocol=https",
                &rev,
            ),
            &config,
        )
        .unwrap();
        assert_eq!(g.name, "git.example.com.8080.a.b_c.git");
        assert_eq!(
            g.clonedir,
            PathBuf::from("/dl/git2/git.example.com.8080.a.b_c.git")
        );
        assert_eq!(g.repo_url(), "https://git.example.com:8080/a/b%20c.git");
        assert_eq!(
            g.mirror_tarball(),
            "git2_git.example.com.8080.a.b_c.git.tar.gz"
        );
        let local = GitSource::new(&source("git:///srv/repo;nobranch=1", &rev), &config).unwrap();
        assert_eq!(local.protocol, "file");
        assert_eq!(local.name, "srv.repo");
        assert_eq!(local.repo_url(), "file:///srv/repo");
        assert!(
            GitSource::new(&source("git://h/r", &rev), &config).is_err(),
            "no branch"
        );
        assert!(GitSource::new(&source("git://h/r;branch=m;protocol=ftp", &rev), &config).is_err());
        let bad = GitSource::new(&source("git://h/r;branch=m", "v1.0"), &config).unwrap();
        assert!(
            bad.check_revision()
                .unwrap_err()
                .to_string()
                .contains("full commit hash")
        );
    }

    /// Runs git for a test fixture; None when git is missing.
    fn fixture_git(dir: &Path, args: &[&str]) -> Option<String> {
        let out = Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir)
            .output()
            .ok()?;
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    #[test]
    fn fetch_updates_and_mirror_tarballs() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        if fixture_git(&repo, &["init", "-q", "-b", "main"]).is_none() {
            eprintln!("skipped: no git");
            return;
        }
        std::fs::write(repo.join("f"), "1\n").unwrap();
        fixture_git(&repo, &["add", "f"]);
        fixture_git(&repo, &["commit", "-q", "-m", "1"]);
        let first = fixture_git(&repo, &["rev-parse", "HEAD"]).unwrap();
        let url = format!("git://{};protocol=file;branch=main", repo.display());
        let config = FetchConfig {
            dl_dir: dir.path().join("dl"),
            no_network: true,
            ..FetchConfig::default()
        };
        let clonedir = fetch(&source(&url, &first), &config, &mut Report::default()).unwrap();
        assert!(clonedir.join("HEAD").exists());
        // A new commit: the existing clone is updated from the repository.
        std::fs::write(repo.join("f"), "2\n").unwrap();
        fixture_git(&repo, &["commit", "-q", "-a", "-m", "2"]);
        let second = fixture_git(&repo, &["rev-parse", "HEAD"]).unwrap();
        fetch(&source(&url, &second), &config, &mut Report::default()).unwrap();
        let root = dir.path().join("unpack");
        unpack(
            &source(&url, &second),
            &config,
            &root,
            &mut Report::default(),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(root.join("git/f")).unwrap(), "2\n");
        // destsuffix, and nobranch at the first revision.
        let nobranch = format!(
            "git://{};protocol=file;nobranch=1;destsuffix=src",
            repo.display()
        );
        unpack(
            &source(&nobranch, &first),
            &config,
            &root,
            &mut Report::default(),
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(root.join("src/f")).unwrap(), "1\n");

        // The bare clone as a mirror tarball: a PREMIRRORS file:// entry
        // serves an upstream that cannot be reached.
        let git = GitSource::new(&source(&url, &second), &config).unwrap();
        let mirror = dir.path().join("mirror");
        std::fs::create_dir(&mirror).unwrap();
        let unreachable = "git://unreachable.invalid/repo;protocol=https;branch=main".to_string();
        let upstream = GitSource::new(&source(&unreachable, &second), &config).unwrap();
        let tarball = mirror.join(upstream.mirror_tarball());
        let status = Command::new("tar")
            .arg("-czf")
            .arg(&tarball)
            .arg("-C")
            .arg(&git.clonedir)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        let mirrored = FetchConfig {
            dl_dir: dir.path().join("dl2"),
            premirrors: mirror::parse_rules(&format!("git://.*/.* file://{}/", mirror.display())).0,
            no_network: true,
            ..FetchConfig::default()
        };
        let clone = fetch(
            &source(&unreachable, &second),
            &mirrored,
            &mut Report::default(),
        )
        .unwrap();
        assert_eq!(clone, mirrored.dl_dir.join("git2/unreachable.invalid.repo"));
        // Without the mirror: refused, naming BB_NO_NETWORK.
        let bare = FetchConfig {
            dl_dir: dir.path().join("dl3"),
            no_network: true,
            ..FetchConfig::default()
        };
        let err = fetch(
            &source(&unreachable, &second),
            &bare,
            &mut Report::default(),
        )
        .unwrap_err();
        assert!(matches!(err, FetchError::NetworkAccess { .. }), "{err}");
        assert!(err.to_string().contains("BB_NO_NETWORK"), "{err}");
        assert!(!bare.dl_dir.join("git2/unreachable.invalid.repo").exists());
    }
}
