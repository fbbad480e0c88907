//! Directories prepared once on the host and bound whole into every view
//! (the host tools and `/etc`), and the empty directory views are built on.
//!
//! One bind mount per directory instead of one per tool: a mount costs
//! about 25 µs here, and openembedded-core lists a hundred host tools.
//! The host tools directory holds a hard link to each tool's resolved file
//! (a copy where linking is refused: another file system, or
//! `fs.protected_hardlinks` for a file the caller does not own), under
//! the tool's name. The `/etc` directory holds the generated `passwd`,
//! `group`, `hosts`, `hostname`, `nsswitch.conf`, `mtab`, copies of the
//! [`ETC_ENTRIES`] and, for tasks with the network, of the
//! [`ETC_NETWORK_ENTRIES`] plus an empty `resolv.conf` over which the
//! host's is bound live.
//!
//! Each directory is named after a digest of everything it was made from
//! (names, paths, and the device, inode, size and modification time of
//! each source),
//! so a cache directory can be shared by concurrent and later runs: a
//! directory is built under a temporary name and renamed into place, and
//! a changed host tool gets a new directory.
//!
//! Invariant: a prepared directory is never modified once renamed into
//! place.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::SandboxError;
use super::hosttools::HostTool;

/// Host `/etc` entries copied into every view's `/etc` when they exist:
/// what the dynamic loader and `ld` read.
pub const ETC_ENTRIES: &[&str] = &["ld.so.cache", "ld.so.conf", "ld.so.conf.d"];

/// Host `/etc` entries copied for tasks with the network: name resolution
/// and the certificate stores that fetchers use (`resolv.conf` itself is
/// bound live, since it changes with the network).
pub const ETC_NETWORK_ENTRIES: &[&str] = &[
    "host.conf",
    "gai.conf",
    "services",
    "protocols",
    "ssl/certs",
    "ssl/openssl.cnf",
    "pki/tls/certs",
    "pki/tls/openssl.cnf",
    "pki/ca-trust/extracted",
    "ca-certificates",
    "crypto-policies",
];

/// The cache of prepared directories of one [`super::Sandbox`].
#[derive(Debug)]
pub(crate) struct PreparedDirs {
    root: PathBuf,
    /// Remove `root` when dropped (a private temporary directory).
    owned: bool,
    /// Directories by the digest key they were made from.
    made: Mutex<HashMap<String, PathBuf>>,
    /// Directories by what was asked for: after the first time, a
    /// sandbox's directories cost no system call.
    asked: Mutex<HashMap<String, PathBuf>>,
    view_root: std::sync::OnceLock<PathBuf>,
}

impl PreparedDirs {
    /// A cache in `root`, which must exist or be creatable.
    pub(crate) fn in_dir(root: PathBuf) -> PreparedDirs {
        PreparedDirs {
            root,
            owned: false,
            made: Mutex::new(HashMap::new()),
            asked: Mutex::new(HashMap::new()),
            view_root: std::sync::OnceLock::new(),
        }
    }

    /// A private cache under the system's temporary directory, removed on
    /// drop.
    pub(crate) fn private() -> Result<PreparedDirs, SandboxError> {
        let template = std::env::temp_dir().join("bitzel-sandbox-XXXXXX");
        let root = nix::unistd::mkdtemp(&template).map_err(|errno| SandboxError::Host {
            what: format!("create a directory like `{}`", template.display()),
            error: errno.into(),
        })?;
        Ok(PreparedDirs {
            root,
            owned: true,
            made: Mutex::new(HashMap::new()),
            asked: Mutex::new(HashMap::new()),
            view_root: std::sync::OnceLock::new(),
        })
    }

    /// An empty directory for views to be built on (each in its own
    /// mount namespace, so one serves every sandbox).
    pub(crate) fn view_root(&self) -> Result<PathBuf, SandboxError> {
        if let Some(dir) = self.view_root.get() {
            return Ok(dir.clone());
        }
        let dir = self.root.join("view");
        let dir = match std::fs::create_dir_all(&dir) {
            Ok(()) => dir.canonicalize(),
            Err(error) => Err(error),
        }
        .map_err(|error| SandboxError::Host {
            what: format!("create `{}`", dir.display()),
            error,
        })?;
        Ok(self.view_root.get_or_init(|| dir).clone())
    }

    /// The directory last prepared for `request`, if any.
    fn asked_before(&self, request: &str) -> Option<PathBuf> {
        let asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        asked.get(request).cloned()
    }

    fn remember(&self, request: String, dir: &Path) {
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        asked.insert(request, dir.to_path_buf());
    }

    /// The host tools directory for `tools`.
    /// Within one `PreparedDirs`, a tool list is looked at once: a host
    /// tool replaced during a run is picked up by the next run.
    pub(crate) fn hosttools(&self, tools: &[HostTool]) -> Result<PathBuf, SandboxError> {
        let mut request = String::from("hosttools\n");
        for tool in tools {
            request.push_str(&format!("{}\t{}\n", tool.name, tool.resolved.display()));
        }
        if let Some(dir) = self.asked_before(&request) {
            return Ok(dir);
        }
        let mut key = String::from("hosttools\n");
        for tool in tools {
            key.push_str(&format!(
                "{}\t{}\t{}\n",
                tool.name,
                tool.resolved.display(),
                file_stamp(&tool.resolved)?
            ));
        }
        let dir = self.prepare("hosttools", &key, |dir| {
            for tool in tools {
                let dest = dir.join(&tool.name);
                if std::fs::hard_link(&tool.resolved, &dest).is_err() {
                    std::fs::copy(&tool.resolved, &dest).map_err(|error| SandboxError::Host {
                        what: format!(
                            "copy the host tool `{}` into `{}`",
                            tool.resolved.display(),
                            dir.display()
                        ),
                        error,
                    })?;
                }
            }
            Ok(())
        })?;
        self.remember(request, &dir);
        Ok(dir)
    }

    /// The `/etc` directory for a task run as `uid`:`gid` on `hostname`,
    /// with or without the network.
    pub(crate) fn etc(
        &self,
        uid: u32,
        gid: u32,
        hostname: &str,
        network: bool,
    ) -> Result<PathBuf, SandboxError> {
        let request = format!("etc\n{uid}:{gid}\n{hostname}\n{network}\n");
        if let Some(dir) = self.asked_before(&request) {
            return Ok(dir);
        }
        let mut entries: Vec<&str> = ETC_ENTRIES.to_vec();
        if network {
            entries.extend_from_slice(ETC_NETWORK_ENTRIES);
        }
        let mut key = format!("etc\n{uid}:{gid}\n{hostname}\n{network}\n");
        for entry in &entries {
            let host = Path::new("/etc").join(entry);
            if let Ok(stamp) = file_stamp(&host) {
                key.push_str(&format!("{entry}\t{stamp}\n"));
            }
        }
        let dir = self.prepare("etc", &key, |dir| {
            let write = |name: &str, contents: &str| {
                std::fs::write(dir.join(name), contents).map_err(|error| SandboxError::Host {
                    what: format!("write `{}`", dir.join(name).display()),
                    error,
                })
            };
            for (name, contents) in generated_etc(uid, gid, hostname) {
                write(name, &contents)?;
            }
            if network {
                // The mount point for the host's live resolv.conf.
                write("resolv.conf", "")?;
            }
            std::os::unix::fs::symlink("/proc/self/mounts", dir.join("mtab")).map_err(|error| {
                SandboxError::Host {
                    what: format!("create `{}`", dir.join("mtab").display()),
                    error,
                }
            })?;
            for entry in &entries {
                let host = Path::new("/etc").join(entry);
                if std::fs::symlink_metadata(&host).is_ok() {
                    copy_tree(&host, &dir.join(entry))?;
                }
            }
            Ok(())
        })?;
        self.remember(request, &dir);
        Ok(dir)
    }

    /// The directory `KIND-DIGEST(key)`, made by `fill` if not there yet.
    fn prepare(
        &self,
        kind: &str,
        key: &str,
        fill: impl FnOnce(&Path) -> Result<(), SandboxError>,
    ) -> Result<PathBuf, SandboxError> {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = made.get(key) {
            return Ok(dir.clone());
        }
        let digest: String = Sha256::digest(key.as_bytes())[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = self.root.join(format!("{kind}-{digest}"));
        if !dir.is_dir() {
            let host_error = |what: String| move |error| SandboxError::Host { what, error };
            std::fs::create_dir_all(&self.root)
                .map_err(host_error(format!("create `{}`", self.root.display())))?;
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let staging = self.root.join(format!(
                ".{kind}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir(&staging)
                .map_err(host_error(format!("create `{}`", staging.display())))?;
            let filled = fill(&staging);
            let renamed = filled.and_then(|()| {
                match std::fs::rename(&staging, &dir) {
                    Ok(()) => Ok(()),
                    // Another run made it first; theirs is as good.
                    Err(_) if dir.is_dir() => Ok(()),
                    Err(error) => Err(SandboxError::Host {
                        what: format!("rename `{}` to `{}`", staging.display(), dir.display()),
                        error,
                    }),
                }
            });
            if staging.exists() {
                let _ = std::fs::remove_dir_all(&staging);
            }
            renamed?;
        }
        made.insert(key.to_string(), dir.clone());
        Ok(dir)
    }
}

impl Drop for PreparedDirs {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// What identifies a file's content without reading it. Not the change
/// time: linking a tool here changes it.
fn file_stamp(path: &Path) -> Result<String, SandboxError> {
    let meta = std::fs::metadata(path).map_err(|error| SandboxError::Host {
        what: format!("read `{}`", path.display()),
        error,
    })?;
    Ok(format!(
        "{}:{}:{}:{}.{}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
    ))
}

/// Copies a file, a symlink (as a symlink) or a directory tree. Entries
/// the caller cannot read are left out: they are not for tasks either.
fn copy_tree(from: &Path, to: &Path) -> Result<(), SandboxError> {
    let host_error = |what: String| move |error| SandboxError::Host { what, error };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)
            .map_err(host_error(format!("create `{}`", parent.display())))?;
    }
    let meta = std::fs::symlink_metadata(from)
        .map_err(host_error(format!("read `{}`", from.display())))?;
    if meta.file_type().is_symlink() {
        let target =
            std::fs::read_link(from).map_err(host_error(format!("read `{}`", from.display())))?;
        std::os::unix::fs::symlink(&target, to)
            .map_err(host_error(format!("create `{}`", to.display())))?;
    } else if meta.is_dir() {
        std::fs::create_dir(to).map_err(host_error(format!("create `{}`", to.display())))?;
        let Ok(entries) = std::fs::read_dir(from) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else if meta.is_file() {
        match std::fs::copy(from, to) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            Err(error) => {
                return Err(SandboxError::Host {
                    what: format!("copy `{}`", from.display()),
                    error,
                });
            }
        }
    }
    Ok(())
}

/// The generated `/etc` files: who the task is, and names resolved from
/// files only.
fn generated_etc(uid: u32, gid: u32, hostname: &str) -> Vec<(&'static str, String)> {
    let mut passwd = String::from("root:x:0:0:root:/root:/bin/sh\n");
    let mut group = String::from("root:x:0:\n");
    if uid != 0 {
        passwd.push_str(&format!(
            "bitzel:x:{uid}:{gid}:bitzel:/nonexistent:/bin/sh\n"
        ));
    }
    if gid != 0 {
        group.push_str(&format!("bitzel:x:{gid}:\n"));
    }
    // Host ids outside the user namespace's map show as the overflow id.
    passwd.push_str("nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
    group.push_str("nogroup:x:65534:\n");
    let hosts = format!("127.0.0.1\tlocalhost {hostname}\n::1\tlocalhost ip6-localhost\n");
    let nsswitch = "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n\
                    networks: files\nprotocols: files\nservices: files\n"
        .to_string();
    vec![
        ("passwd", passwd),
        ("group", group),
        ("hosts", hosts),
        ("hostname", format!("{hostname}\n")),
        ("nsswitch.conf", nsswitch),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prepared_directory_is_reused_and_keyed_by_its_sources() {
        let cache = tempfile::tempdir().unwrap();
        let tools = tempfile::tempdir().unwrap();
        let tool = tools.path().join("t");
        std::fs::write(&tool, "one").unwrap();
        let host_tool = |resolved: &Path| HostTool {
            name: "t".into(),
            found: resolved.to_path_buf(),
            resolved: resolved.to_path_buf(),
        };
        let first = PreparedDirs::in_dir(cache.path().to_path_buf());
        let dir = first.hosttools(&[host_tool(&tool)]).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("t")).unwrap(), "one");
        // Another cache object over the same directory finds it.
        let second = PreparedDirs::in_dir(cache.path().to_path_buf());
        assert_eq!(second.hosttools(&[host_tool(&tool)]).unwrap(), dir);
        // A new file at the same path is a new directory.
        std::fs::remove_file(&tool).unwrap();
        std::fs::write(&tool, "two").unwrap();
        let third = PreparedDirs::in_dir(cache.path().to_path_buf());
        let changed = third.hosttools(&[host_tool(&tool)]).unwrap();
        assert_ne!(changed, dir);
        assert_eq!(std::fs::read_to_string(changed.join("t")).unwrap(), "two");
        // No staging directory is left behind.
        let names: Vec<String> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    }

    #[test]
    fn the_etc_directory_is_generated_plus_the_loader_files() {
        let cache = PreparedDirs::private().unwrap();
        let root = cache.root.clone();
        let etc = cache.etc(1000, 1001, "bitzel", false).unwrap();
        let passwd = std::fs::read_to_string(etc.join("passwd")).unwrap();
        assert!(passwd.contains("bitzel:x:1000:1001:"), "{passwd}");
        assert!(!etc.join("resolv.conf").exists());
        assert_eq!(
            etc.join("ld.so.cache").exists(),
            Path::new("/etc/ld.so.cache").exists()
        );
        let with_network = cache.etc(1000, 1001, "bitzel", true).unwrap();
        assert_ne!(etc, with_network);
        assert!(with_network.join("resolv.conf").exists());
        drop(cache);
        assert!(!root.exists(), "a private cache is removed");
    }
}
