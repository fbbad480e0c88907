//! Archive members written into a destination directory, safely: tar
//! (any compression, as a stream) and zip.
//!
//! Member names are relative: a leading `/` is dropped (as GNU tar does),
//! and a name with a `..` component is an error. `striplevel` drops that
//! many leading components (GNU tar's `--strip-components`, on hard link
//! targets too); a member with nothing left is skipped. Before anything
//! is written its parent directory is checked to lie inside the
//! destination once symbolic links are resolved, so a symbolic link from
//! the archive (which is extracted as it is, wherever it points) is
//! followed only when it leads to a directory inside the destination,
//! never out of it. An existing file (or link) at a member's name is
//! replaced, never written through.
//!
//! Permission bits are kept without group and other write (the 022 umask
//! BitBake's `do_unpack` runs under), modification times are kept;
//! ownership is not (GNU tar's `--no-same-owner`). Directory modes and
//! times are set last, deepest first, so that read-only directories can
//! still be filled.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The mode bits kept from an archive.
const MODE_MASK: u32 = 0o777 & !0o022;

/// `name` relative to the destination with `strip` leading components
/// removed; `None` when nothing is left (or the name is the destination
/// itself, `./`).
pub fn member_path(name: &Path, strip: usize) -> Result<Option<PathBuf>, String> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    let text = name.as_os_str().as_encoded_bytes();
    // Split by hand rather than with `components()`, which would drop a
    // leading `.` that GNU tar counts when stripping.
    for part in text.split(|b| *b == b'/') {
        if part.is_empty() {
            continue;
        }
        if part == b".." {
            return Err(format!(
                "the member `{}` has a `..` component (it would leave the directory it is \
                 unpacked into)",
                name.display()
            ));
        }
        parts.push(os_str(part));
    }
    let kept: Vec<&std::ffi::OsStr> = parts
        .into_iter()
        .skip(strip)
        .filter(|p| p.as_encoded_bytes() != b".")
        .collect();
    if kept.is_empty() {
        return Ok(None);
    }
    Ok(Some(kept.iter().collect()))
}

fn os_str(bytes: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(bytes)
}

/// Writes members under one destination directory.
pub struct Extractor {
    root: PathBuf,
    root_real: PathBuf,
    /// Directories (absolute, as written) known to be inside the root.
    safe_dirs: HashSet<PathBuf>,
    /// Directory entries whose mode and time are set at the end.
    directories: Vec<(PathBuf, u32, Option<i64>)>,
    buffer: Vec<u8>,
}

impl Extractor {
    pub fn new(root: &Path) -> Result<Extractor, String> {
        std::fs::create_dir_all(root)
            .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        let root_real = root
            .canonicalize()
            .map_err(|e| format!("cannot resolve {}: {e}", root.display()))?;
        let mut safe_dirs = HashSet::new();
        safe_dirs.insert(root.to_path_buf());
        Ok(Extractor {
            root: root.to_path_buf(),
            root_real,
            safe_dirs,
            directories: Vec::new(),
            buffer: vec![0u8; 1 << 18],
        })
    }

    /// The absolute path of member `rel`, its parent directories made and
    /// checked to be inside the root.
    fn prepare(&mut self, rel: &Path) -> Result<PathBuf, String> {
        let path = self.root.join(rel);
        let Some(parent) = path.parent() else {
            return Ok(path);
        };
        if self.safe_dirs.contains(parent) {
            return Ok(path);
        }
        let mut current = self.root.clone();
        for component in rel.parent().unwrap_or(Path::new("")).components() {
            let Component::Normal(part) = component else {
                continue;
            };
            current.push(part);
            if self.safe_dirs.contains(&current) {
                continue;
            }
            match std::fs::symlink_metadata(&current) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) if meta.file_type().is_symlink() => {
                    let resolved = current.canonicalize().map_err(|_| {
                        format!(
                            "`{}` would be written through the symbolic link `{}`, which does not \
                             lead to a directory",
                            rel.display(),
                            current.display()
                        )
                    })?;
                    if !resolved.starts_with(&self.root_real) || !resolved.is_dir() {
                        return Err(format!(
                            "`{}` would be written through the symbolic link `{}`, which leads \
                             out of the directory it is unpacked into",
                            rel.display(),
                            current.display()
                        ));
                    }
                }
                Ok(_) => {
                    return Err(format!(
                        "`{}` needs `{}` to be a directory, but it is a file",
                        rel.display(),
                        current.display()
                    ));
                }
                Err(_) => std::fs::create_dir(&current)
                    .map_err(|e| format!("cannot create {}: {e}", current.display()))?,
            }
            self.safe_dirs.insert(current.clone());
        }
        Ok(path)
    }

    /// Makes room for a non-directory at `path`: an existing file or link
    /// is removed (never written through).
    fn clear(path: &Path) -> Result<(), String> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir(path)
                .map_err(|e| format!("cannot replace the directory {}: {e}", path.display())),
            Ok(_) => std::fs::remove_file(path)
                .map_err(|e| format!("cannot replace {}: {e}", path.display())),
            Err(_) => Ok(()),
        }
    }

    pub fn directory(&mut self, rel: &Path, mode: u32, mtime: Option<i64>) -> Result<(), String> {
        let path = self.prepare(rel)?;
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                Self::clear(&path)?;
                self.safe_dirs.clear();
                std::fs::create_dir(&path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            }
            Err(_) => std::fs::create_dir(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        }
        self.safe_dirs.insert(path.clone());
        self.directories.push((path, mode, mtime));
        Ok(())
    }

    pub fn file(
        &mut self,
        rel: &Path,
        mode: u32,
        mtime: Option<i64>,
        data: &mut dyn Read,
    ) -> Result<(), String> {
        let path = self.prepare(rel)?;
        Self::clear(&path)?;
        let mode = mode & MODE_MASK;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode | 0o200)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        loop {
            let n = match data.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("reading `{}` from the archive: {e}", rel.display())),
            };
            file.write_all(&self.buffer[..n])
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
        }
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))?;
        if let Some(time) = mtime.map(system_time) {
            file.set_times(
                std::fs::FileTimes::new()
                    .set_modified(time)
                    .set_accessed(time),
            )
            .map_err(|e| format!("cannot set the time of {}: {e}", path.display()))?;
        }
        Ok(())
    }

    pub fn symlink(&mut self, rel: &Path, target: &Path, mtime: Option<i64>) -> Result<(), String> {
        let path = self.prepare(rel)?;
        Self::clear(&path)?;
        std::os::unix::fs::symlink(target, &path)
            .map_err(|e| format!("cannot create the symbolic link {}: {e}", path.display()))?;
        // A later member may be meant to go through this link: check again.
        self.safe_dirs.clear();
        self.safe_dirs.insert(self.root.clone());
        if let Some(time) = mtime {
            set_time_nofollow(&path, time);
        }
        Ok(())
    }

    /// A hard link to the earlier member `target_rel`.
    pub fn hardlink(&mut self, rel: &Path, target_rel: &Path) -> Result<(), String> {
        let target = self.prepare(target_rel)?;
        match std::fs::symlink_metadata(&target) {
            Ok(meta) if !meta.is_dir() => {}
            _ => {
                return Err(format!(
                    "`{}` is a hard link to `{}`, which is not a file unpacked before it",
                    rel.display(),
                    target_rel.display()
                ));
            }
        }
        let path = self.prepare(rel)?;
        if path == target {
            return Ok(());
        }
        Self::clear(&path)?;
        std::fs::hard_link(&target, &path).map_err(|e| {
            format!(
                "cannot link {} to {}: {e}",
                path.display(),
                target.display()
            )
        })
    }

    pub fn fifo(&mut self, rel: &Path, mode: u32) -> Result<(), String> {
        let path = self.prepare(rel)?;
        Self::clear(&path)?;
        nix::unistd::mkfifo(
            &path,
            nix::sys::stat::Mode::from_bits_truncate(mode & MODE_MASK),
        )
        .map_err(|e| format!("cannot create the FIFO {}: {e}", path.display()))
    }

    /// Sets the directories' modes and times, deepest first.
    pub fn finish(mut self) -> Result<(), String> {
        self.directories
            .sort_by_key(|(p, _, _)| std::cmp::Reverse(p.components().count()));
        for (path, mode, mtime) in &self.directories {
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => {}
                _ => continue,
            }
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & MODE_MASK))
                .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))?;
            if let Some(time) = mtime {
                set_time_nofollow(path, *time);
            }
        }
        Ok(())
    }
}

fn system_time(seconds: i64) -> SystemTime {
    if seconds >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
    }
}

fn set_time_nofollow(path: &Path, seconds: i64) {
    let time = rustix::fs::Timespec {
        tv_sec: seconds,
        tv_nsec: 0,
    };
    let times = rustix::fs::Timestamps {
        last_access: time,
        last_modification: time,
    };
    let _ = rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    );
}

/// Extracts a tar stream into `dest`.
pub fn extract_tar(reader: impl Read, dest: &Path, strip: usize) -> Result<(), String> {
    use tar::EntryType;
    let mut archive = tar::Archive::new(reader);
    let mut extractor = Extractor::new(dest)?;
    let entries = archive
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("reading the archive: {e}"))?;
        let name = entry
            .path()
            .map_err(|e| format!("a member's name: {e}"))?
            .into_owned();
        let Some(rel) = member_path(&name, strip)? else {
            continue;
        };
        let header = entry.header();
        let mode = header.mode().unwrap_or(0o644);
        let mtime = header.mtime().ok().map(|t| t as i64);
        let kind = header.entry_type();
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                extractor.file(&rel, mode, mtime, &mut entry)?
            }
            EntryType::Directory => extractor.directory(&rel, mode, mtime)?,
            EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| format!("`{}`: {e}", name.display()))?
                    .ok_or_else(|| format!("the symbolic link `{}` has no target", name.display()))?
                    .into_owned();
                extractor.symlink(&rel, &target, mtime)?
            }
            EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| format!("`{}`: {e}", name.display()))?
                    .ok_or_else(|| format!("the hard link `{}` has no target", name.display()))?
                    .into_owned();
                let Some(target_rel) = member_path(&target, strip)? else {
                    return Err(format!(
                        "the hard link `{}` points at `{}`, which striplevel removes",
                        name.display(),
                        target.display()
                    ));
                };
                extractor.hardlink(&rel, &target_rel)?
            }
            EntryType::Fifo => extractor.fifo(&rel, mode)?,
            EntryType::Char | EntryType::Block => {
                return Err(format!(
                    "`{}` is a device node, which an unprivileged unpack cannot create",
                    name.display()
                ));
            }
            // Metadata records (pax globals, GNU volume labels, ...).
            _ => {}
        }
    }
    extractor.finish()
}

/// Extracts a zip archive into `dest` (no striplevel: BitBake's `unzip`
/// has none).
pub fn extract_zip(path: &Path, dest: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("not a zip archive: {e}"))?;
    let mut extractor = Extractor::new(dest)?;
    for index in 0..archive.len() {
        let mut member = archive
            .by_index(index)
            .map_err(|e| format!("reading member {index}: {e}"))?;
        let raw_name = member.name().map(|n| n.to_string()).unwrap_or_default();
        let Some(enclosed) = member.enclosed_name() else {
            return Err(format!(
                "the member `{raw_name}` would leave the directory it is unpacked into"
            ));
        };
        let Some(rel) = member_path(&enclosed, 0)? else {
            continue;
        };
        let mtime = zip_mtime(&member);
        let mode = member.unix_mode();
        if member.is_dir() {
            extractor.directory(&rel, mode.unwrap_or(0o755), mtime)?;
        } else if member.is_symlink() {
            let mut target = Vec::new();
            member
                .read_to_end(&mut target)
                .map_err(|e| format!("reading `{raw_name}`: {e}"))?;
            let target = PathBuf::from(os_str(&target));
            extractor.symlink(&rel, &target, mtime)?;
        } else {
            extractor.file(&rel, mode.unwrap_or(0o644), mtime, &mut member)?;
        }
    }
    extractor.finish()
}

/// A zip member's time: the Unix time of its extended timestamp if it has
/// one (as `unzip` prefers), else its DOS time read as UTC.
fn zip_mtime<R: Read>(member: &zip::read::ZipFile<'_, R>) -> Option<i64> {
    for field in member.extra_data_fields() {
        if let zip::ExtraField::ExtendedTimestamp(ts) = field
            && let Some(t) = ts.mod_time()
        {
            return Some(i64::from(t));
        }
    }
    let dos = member.last_modified()?;
    Some(
        days_from_civil(
            i64::from(dos.year()),
            u32::from(dos.month()),
            u32::from(dos.day()),
        ) * 86400
            + i64::from(dos.hour()) * 3600
            + i64::from(dos.minute()) * 60
            + i64::from(dos.second()),
    )
}

/// Days from 1970-01-01 to a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names() {
        let p = |s: &str, n| member_path(Path::new(s), n);
        assert_eq!(p("a/b/c", 0), Ok(Some(PathBuf::from("a/b/c"))));
        assert_eq!(p("/abs/x", 0), Ok(Some(PathBuf::from("abs/x"))));
        assert_eq!(p("a/b/c", 1), Ok(Some(PathBuf::from("b/c"))));
        assert_eq!(p("./a/b", 1), Ok(Some(PathBuf::from("a/b"))));
        assert_eq!(p("a/", 1), Ok(None));
        assert_eq!(p("./", 0), Ok(None));
        assert!(p("a/../../x", 0).is_err());
        assert!(p("../x", 1).is_err());
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        assert_eq!(days_from_civil(1980, 1, 1), 3652);
    }

    #[test]
    fn symlinks_are_made_but_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let dest = dir.path().join("dest");
        let mut ex = Extractor::new(&dest).unwrap();
        ex.symlink(Path::new("evil"), &outside, None).unwrap();
        ex.directory(Path::new("real"), 0o755, Some(0)).unwrap();
        ex.symlink(Path::new("inside"), Path::new("real"), None)
            .unwrap();
        let err = ex
            .file(Path::new("evil/x"), 0o644, None, &mut &b"x"[..])
            .unwrap_err();
        assert!(err.contains("leads out"), "{err}");
        assert!(!outside.join("x").exists());
        // A link inside the destination may be used, as GNU tar does.
        ex.file(Path::new("inside/y"), 0o644, Some(5), &mut &b"y"[..])
            .unwrap();
        assert_eq!(std::fs::read(dest.join("real/y")).unwrap(), b"y");
        // A file over an existing link replaces the link.
        ex.file(Path::new("evil"), 0o600, None, &mut &b"z"[..])
            .unwrap();
        assert!(
            std::fs::symlink_metadata(dest.join("evil"))
                .unwrap()
                .is_file()
        );
        ex.finish().unwrap();
        let meta = std::fs::metadata(dest.join("real/y")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.mtime(), 5);
        assert_eq!(meta.mode() & 0o777, 0o644);
    }
}
