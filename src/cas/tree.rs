//! Directory trees: capturing a directory into the CAS as REAPI
//! `Directory` messages, producing `Tree` messages, and restoring a tree
//! onto disk.
//!
//! Capture stores each regular file as a blob, each symlink as a
//! `SymlinkNode`, and each directory as a canonical `Directory` blob whose
//! children are sorted by name. `is_executable` is the owner's execute
//! bit. A permission mode other than the one `is_executable` implies (0755
//! or 0644 for files, 0755 for directories) is kept in `node_properties`
//! as `unix_mode`, so setuid bits and private files survive; mtimes are
//! not recorded, so the digest depends on names, contents and modes only.
//!
//! Restore has two modes ([`RestoreMode`]):
//! - `Copy` (default): every file is a new inode (a reflink where the file
//!   system can, else `copy_file_range`) with its exact mode; the task may
//!   modify it freely.
//! - `Hardlink`: files with a standard mode are hardlinks to the blob
//!   (0444) or to its executable twin (0555, a copy kept next to the blob
//!   because one inode has one mode), so they are read-only. The executor
//!   must only use it for trees that tasks do not write, and should mount
//!   them read-only in the sandbox: an in-place write through a hardlink
//!   would change the blob (root ignores the 0444 mode). Such a write still
//!   cannot go unnoticed: it moves the blob's mtime off the seal, and the
//!   next use reports the blob corrupt. Empty files, files with special
//!   modes, and links the file system refuses (another file system, too
//!   many links) are copied.
//!
//! Invariants: a restore writes only below its destination (names are
//! checked: no `/`, `.`, `..`, duplicates); every directory message is
//! hashed before use; every file blob's seal is checked ([`Verify`]).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::fs::{self, Permissions};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use bazel_remote_apis::google::protobuf::UInt32Value;
use prost::Message;
use rayon::prelude::*;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::blob::{Area, BLOB_MODE, BlobBatch, check_seal, copy_file_contents};
use super::digest::{DigestWriter, hex_into};
use super::{Cache, CasError, Digest, Result, reapi};

/// How restored files relate to the blobs they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestoreMode {
    /// Independent copies (reflinks where possible) with their exact modes.
    #[default]
    Copy,
    /// Read-only hardlinks into the CAS where possible; for trees no task
    /// writes (see the module documentation).
    Hardlink,
}

/// How much of each file blob a restore checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// The seal: the blob exists with the right size, mode and seal mtime
    /// (one `stat` per distinct blob). Catches missing, truncated and
    /// in-place modified blobs.
    #[default]
    Metadata,
    /// The seal and the SHA-256 of every distinct blob: also catches
    /// corruption that left the metadata intact (bit rot, tampering).
    Content,
}

/// Options of [`Cache::restore`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    pub mode: RestoreMode,
    pub verify: Verify,
}

/// What [`Cache::capture`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The digest of the root `Directory` message.
    pub root: Digest,
    pub files: u64,
    /// Directories, the root included.
    pub directories: u64,
    pub symlinks: u64,
    /// Bytes of file content (before deduplication).
    pub bytes: u64,
}

/// What a restore created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreStats {
    pub files: u64,
    /// Files that are hardlinks into the CAS.
    pub hardlinked: u64,
    /// Directories, the destination included.
    pub directories: u64,
    pub symlinks: u64,
    /// Bytes of file content.
    pub bytes: u64,
}

/// A directory as read from disk, before its files are stored.
struct ScannedDir {
    mode: u32,
    files: Vec<ScannedFile>,
    dirs: Vec<(String, ScannedDir)>,
    symlinks: Vec<(String, String)>,
}

struct ScannedFile {
    name: String,
    mode: u32,
    /// Index into the capture's list of distinct inodes.
    content: usize,
}

/// Distinct inodes met during a scan (hardlinked files are hashed once).
#[derive(Default)]
struct Inodes {
    paths: Vec<PathBuf>,
    by_id: HashMap<(u64, u64), usize>,
}

impl Cache {
    /// Stores the directory at `dir` (files, symlinks, subdirectories) and
    /// returns the digest of its root `Directory` message. Fails on
    /// anything REAPI cannot represent (sockets, devices, FIFOs, names or
    /// symlink targets that are not UTF-8).
    pub fn capture(&self, dir: &Path) -> Result<Captured> {
        let meta = fs::symlink_metadata(dir).map_err(|e| CasError::io(dir, e))?;
        if !meta.is_dir() {
            return Err(CasError::Unsupported {
                path: dir.to_path_buf(),
                reason: "not a directory".into(),
            });
        }
        let mut inodes = Inodes::default();
        let mut captured = Captured {
            root: Digest::EMPTY,
            files: 0,
            directories: 0,
            symlinks: 0,
            bytes: 0,
        };
        let scanned = scan_dir(dir, meta.mode(), &mut inodes, &mut captured)?;

        let batch = BlobBatch::new(self);
        let contents: Vec<Digest> = inodes
            .paths
            .par_iter()
            .map(|path| batch.put_file(path))
            .collect::<Result<_>>()?;
        captured.root = store_dir(&scanned, &contents, &batch, &mut captured.bytes)?;
        batch.commit()?;
        Ok(captured)
    }

    /// The `Tree` message of the tree rooted at `root`: the root directory
    /// and every other directory once, parents before children (a
    /// depth-first order, children by name), as
    /// `OutputDirectory.is_topologically_sorted` describes.
    pub fn tree(&self, root: &Digest) -> Result<reapi::Tree> {
        fn visit(
            cache: &Cache,
            digest: &Digest,
            seen: &mut HashSet<Digest>,
            postorder: &mut Vec<reapi::Directory>,
        ) -> Result<()> {
            let dir = cache.read_directory(digest)?;
            for node in &dir.directories {
                let child = node_digest(node.digest.as_ref(), digest)?;
                if seen.insert(child) {
                    visit(cache, &child, seen, postorder)?;
                }
            }
            postorder.push(dir);
            Ok(())
        }
        let mut seen = HashSet::from([*root]);
        let mut postorder = Vec::new();
        visit(self, root, &mut seen, &mut postorder)?;
        let root_dir = postorder.pop();
        postorder.reverse();
        Ok(reapi::Tree {
            root: root_dir,
            children: postorder,
        })
    }

    /// Stores the `Tree` message of `root` as a blob; returns its digest.
    pub fn put_tree(&self, root: &Digest) -> Result<Digest> {
        let tree = self.tree(root)?;
        self.put_bytes(&tree.encode_to_vec())
    }

    /// An `OutputDirectory` for an `ActionResult`: `path` relative to the
    /// task's working directory, the tree stored as a `Tree` blob
    /// (`tree_digest`) and its root `Directory` digest.
    pub fn output_directory(&self, path: &str, root: &Digest) -> Result<reapi::OutputDirectory> {
        check_relative_path(path)?;
        Ok(reapi::OutputDirectory {
            path: path.to_string(),
            tree_digest: Some(self.put_tree(root)?.to_proto()),
            is_topologically_sorted: true,
            root_directory_digest: Some(root.to_proto()),
        })
    }

    /// Reads a `Directory` blob: hash checked, decoded, validated.
    pub fn read_directory(&self, digest: &Digest) -> Result<reapi::Directory> {
        let bytes = self.read_blob(digest)?;
        let dir = reapi::Directory::decode(bytes.as_slice()).map_err(|e| CasError::Corrupt {
            what: "directory",
            digest: *digest,
            reason: e.to_string(),
        })?;
        validate_directory(&dir, digest)?;
        Ok(dir)
    }

    /// Materialises the tree whose root `Directory` is `root` at `dest`,
    /// which must not exist or be an empty directory. On error the
    /// destination is left partly written; the caller removes it.
    pub fn restore(
        &self,
        root: &Digest,
        dest: &Path,
        options: &RestoreOptions,
    ) -> Result<RestoreStats> {
        let root_dir = self.read_directory(root)?;
        let restorer = Restorer::new(self, *options, DirSource::Cas);
        restorer.run(&root_dir, root, dest)?;
        Ok(restorer.stats())
    }

    /// Like [`Cache::restore`], with the directories taken from a `Tree`
    /// message instead of `Directory` blobs (a tree fetched from a remote
    /// cache). File blobs must be in the CAS.
    pub fn restore_tree(
        &self,
        tree: &reapi::Tree,
        dest: &Path,
        options: &RestoreOptions,
    ) -> Result<RestoreStats> {
        let root_dir = tree
            .root
            .as_ref()
            .ok_or_else(|| CasError::Invalid("tree without a root directory".into()))?;
        let children: HashMap<Digest, reapi::Directory> = tree
            .children
            .iter()
            .map(|dir| (Digest::of_bytes(&dir.encode_to_vec()), dir.clone()))
            .collect();
        let root_digest = Digest::of_bytes(&root_dir.encode_to_vec());
        validate_directory(root_dir, &root_digest)?;
        let restorer = Restorer::new(self, *options, DirSource::Tree(&children));
        restorer.run(root_dir, &root_digest, dest)?;
        Ok(restorer.stats())
    }

    /// Restores one output directory of an action result below `base`
    /// (the task's working directory), from its root `Directory` blob if
    /// the CAS has it, else from its `Tree` blob.
    pub fn restore_output_directory(
        &self,
        output: &reapi::OutputDirectory,
        base: &Path,
        options: &RestoreOptions,
    ) -> Result<RestoreStats> {
        check_relative_path(&output.path)?;
        let dest = base.join(&output.path);
        if let Some(root) = &output.root_directory_digest {
            let root = Digest::from_proto(root)?;
            if self.contains(&root)? {
                return self.restore(&root, &dest, options);
            }
        }
        let tree_digest = output.tree_digest.as_ref().ok_or_else(|| {
            CasError::Invalid(format!("output directory `{}` has no tree", output.path))
        })?;
        let tree_digest = Digest::from_proto(tree_digest)?;
        let bytes = self.read_blob(&tree_digest)?;
        let tree = reapi::Tree::decode(bytes.as_slice()).map_err(|e| CasError::Corrupt {
            what: "tree",
            digest: tree_digest,
            reason: e.to_string(),
        })?;
        self.restore_tree(&tree, &dest, options)
    }
}

/// Reads `dir` recursively; files are recorded in `inodes`, named in
/// byte order.
fn scan_dir(
    dir: &Path,
    mode: u32,
    inodes: &mut Inodes,
    captured: &mut Captured,
) -> Result<ScannedDir> {
    captured.directories += 1;
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| CasError::io(dir, e))? {
        let entry = entry.map_err(|e| CasError::io(dir, e))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| CasError::Unsupported {
                path: path.clone(),
                reason: "the name is not UTF-8".into(),
            })?;
        entries.push((name, path));
    }
    // REAPI orders children by the UTF-8 bytes of their names, which is
    // `str`'s order; readdir's order must not leak into the digest.
    entries.sort_unstable();
    let mut scanned = ScannedDir {
        mode,
        files: Vec::new(),
        dirs: Vec::new(),
        symlinks: Vec::new(),
    };
    for (name, path) in entries {
        let meta = fs::symlink_metadata(&path).map_err(|e| CasError::io(&path, e))?;
        let file_type = meta.file_type();
        if file_type.is_file() {
            captured.files += 1;
            let next = inodes.paths.len();
            let content = *inodes.by_id.entry((meta.dev(), meta.ino())).or_insert(next);
            if content == next {
                inodes.paths.push(path);
            }
            scanned.files.push(ScannedFile {
                name,
                mode: meta.mode(),
                content,
            });
        } else if file_type.is_dir() {
            let child = scan_dir(&path, meta.mode(), inodes, captured)?;
            scanned.dirs.push((name, child));
        } else if file_type.is_symlink() {
            captured.symlinks += 1;
            let target = fs::read_link(&path)
                .map_err(|e| CasError::io(&path, e))?
                .into_os_string()
                .into_string()
                .map_err(|_| CasError::Unsupported {
                    path: path.clone(),
                    reason: "the symlink target is not UTF-8".into(),
                })?;
            scanned.symlinks.push((name, target));
        } else {
            return Err(CasError::Unsupported {
                path,
                reason: "not a regular file, directory or symlink".into(),
            });
        }
    }
    Ok(scanned)
}

/// Stores the `Directory` messages of `dir` and its subdirectories,
/// children first; returns the digest of `dir`'s message.
fn store_dir(
    dir: &ScannedDir,
    contents: &[Digest],
    batch: &BlobBatch<'_>,
    bytes: &mut u64,
) -> Result<Digest> {
    let mut directories = Vec::with_capacity(dir.dirs.len());
    for (name, child) in &dir.dirs {
        let digest = store_dir(child, contents, batch, bytes)?;
        directories.push(reapi::DirectoryNode {
            name: name.clone(),
            digest: Some(digest.to_proto()),
        });
    }
    let files = dir
        .files
        .iter()
        .map(|file| {
            let digest = contents[file.content];
            *bytes += digest.size_bytes;
            let (is_executable, node_properties) = file_mode_properties(file.mode);
            reapi::FileNode {
                name: file.name.clone(),
                digest: Some(digest.to_proto()),
                is_executable,
                node_properties,
            }
        })
        .collect();
    let symlinks = dir
        .symlinks
        .iter()
        .map(|(name, target)| reapi::SymlinkNode {
            name: name.clone(),
            target: target.clone(),
            node_properties: None,
        })
        .collect();
    let message = reapi::Directory {
        files,
        directories,
        symlinks,
        node_properties: mode_properties(dir.mode & 0o7777, DIR_MODE),
    };
    batch.put_bytes(&message.encode_to_vec())
}

const DIR_MODE: u32 = 0o755;

/// `is_executable` (the owner's execute bit) and, when the mode is not
/// the one that implies, the mode as a node property.
fn file_mode_properties(mode: u32) -> (bool, Option<reapi::NodeProperties>) {
    let perm = mode & 0o7777;
    let is_executable = perm & 0o100 != 0;
    (
        is_executable,
        mode_properties(perm, default_file_mode(is_executable)),
    )
}

fn default_file_mode(is_executable: bool) -> u32 {
    if is_executable { 0o755 } else { 0o644 }
}

fn mode_properties(perm: u32, default: u32) -> Option<reapi::NodeProperties> {
    (perm != default).then(|| reapi::NodeProperties {
        properties: Vec::new(),
        mtime: None,
        unix_mode: Some(UInt32Value { value: perm }),
    })
}

fn unix_mode(properties: Option<&reapi::NodeProperties>) -> Option<u32> {
    properties
        .and_then(|p| p.unix_mode.as_ref())
        .map(|m| m.value & 0o7777)
}

/// The digest a node names, or why the directory holding it is corrupt.
fn node_digest(proto: Option<&reapi::Digest>, parent: &Digest) -> Result<Digest> {
    let proto = proto.ok_or_else(|| CasError::Corrupt {
        what: "directory",
        digest: *parent,
        reason: "a node has no digest".into(),
    })?;
    Digest::from_proto(proto).map_err(|e| CasError::Corrupt {
        what: "directory",
        digest: *parent,
        reason: e.to_string(),
    })
}

/// Checks what restoring relies on: names are single path components,
/// each list is sorted, and no name occurs twice.
fn validate_directory(dir: &reapi::Directory, digest: &Digest) -> Result<()> {
    let corrupt = |reason: String| CasError::Corrupt {
        what: "directory",
        digest: *digest,
        reason,
    };
    let mut names: Vec<&str> =
        Vec::with_capacity(dir.files.len() + dir.directories.len() + dir.symlinks.len());
    for list in [
        dir.files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        dir.directories.iter().map(|d| d.name.as_str()).collect(),
        dir.symlinks.iter().map(|s| s.name.as_str()).collect(),
    ] {
        for pair in list.windows(2) {
            if pair[0] >= pair[1] {
                return Err(corrupt(format!(
                    "`{}` and `{}` are not in canonical order",
                    pair[0], pair[1]
                )));
            }
        }
        names.extend(list);
    }
    for name in &names {
        if name.is_empty() || *name == "." || *name == ".." || name.contains(['/', '\0']) {
            return Err(corrupt(format!("invalid name `{name}`")));
        }
    }
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|pair| pair[0] == pair[1]) {
        return Err(corrupt(format!("`{}` occurs twice", pair[0])));
    }
    for symlink in &dir.symlinks {
        if symlink.target.is_empty() || symlink.target.contains('\0') {
            return Err(corrupt(format!(
                "symlink `{}` has an invalid target",
                symlink.name
            )));
        }
    }
    Ok(())
}

/// A relative path without `..`: where an output may be restored.
fn check_relative_path(path: &str) -> Result<()> {
    let ok = Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if ok {
        Ok(())
    } else {
        Err(CasError::Invalid(format!(
            "output path `{path}` is not relative"
        )))
    }
}

/// Where a restore finds `Directory` messages.
enum DirSource<'a> {
    Cas,
    Tree(&'a HashMap<Digest, reapi::Directory>),
}

struct Restorer<'a> {
    cache: &'a Cache,
    options: RestoreOptions,
    source: DirSource<'a>,
    /// Descriptors of the shard directories of blobs and of twins, opened
    /// on first use: links and checks name a blob relative to its shard,
    /// and a new file relative to its directory, instead of walking two
    /// long paths per file.
    blob_shards: Vec<OnceLock<OwnedFd>>,
    twin_shards: Vec<OnceLock<OwnedFd>>,
    /// Blobs checked in this restore (seal, or content with
    /// `Verify::Content`).
    checked: Mutex<HashSet<[u8; 32]>>,
    /// Executable twins checked or made in this restore.
    twins: Mutex<HashSet<[u8; 32]>>,
    /// False once a hardlink failed with EXDEV: copy from then on.
    links_work: AtomicBool,
    stats: Counters,
}

/// [`RestoreStats`], counted from several threads.
#[derive(Default)]
struct Counters {
    files: AtomicU64,
    hardlinked: AtomicU64,
    directories: AtomicU64,
    symlinks: AtomicU64,
    bytes: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// A directory being filled: its descriptor, and its path for messages.
#[derive(Clone, Copy)]
struct Target<'p> {
    fd: BorrowedFd<'p>,
    path: &'p Path,
}

impl Target<'_> {
    fn error(&self, name: &str, err: impl Into<io::Error>) -> CasError {
        CasError::io(&self.path.join(name), err.into())
    }
}

const NEW_FILE: OFlags = OFlags::WRONLY
    .union(OFlags::CREATE)
    .union(OFlags::EXCL)
    .union(OFlags::CLOEXEC);
const DIR_HANDLE: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl<'a> Restorer<'a> {
    fn new(cache: &'a Cache, options: RestoreOptions, source: DirSource<'a>) -> Restorer<'a> {
        Restorer {
            cache,
            options,
            source,
            blob_shards: (0..256).map(|_| OnceLock::new()).collect(),
            twin_shards: (0..256).map(|_| OnceLock::new()).collect(),
            checked: Mutex::new(HashSet::new()),
            twins: Mutex::new(HashSet::new()),
            links_work: AtomicBool::new(options.mode == RestoreMode::Hardlink),
            stats: Counters::default(),
        }
    }

    fn stats(&self) -> RestoreStats {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RestoreStats {
            files: get(&self.stats.files),
            hardlinked: get(&self.stats.hardlinked),
            directories: get(&self.stats.directories),
            symlinks: get(&self.stats.symlinks),
            bytes: get(&self.stats.bytes),
        }
    }

    fn run(&self, root: &reapi::Directory, digest: &Digest, dest: &Path) -> Result<()> {
        match fs::symlink_metadata(dest) {
            Ok(meta) if meta.is_dir() => {
                let mut entries = fs::read_dir(dest).map_err(|e| CasError::io(dest, e))?;
                if entries.next().is_some() {
                    return Err(CasError::Invalid(format!(
                        "{}: restore destination is not empty",
                        dest.display()
                    )));
                }
            }
            Ok(_) => {
                return Err(CasError::Invalid(format!(
                    "{}: restore destination exists and is not a directory",
                    dest.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dest).map_err(|e| CasError::io(dest, e))?;
            }
            Err(e) => return Err(CasError::io(dest, e)),
        }
        let fd = rustix::fs::open(dest, DIR_HANDLE, Mode::empty())
            .map_err(|e| CasError::io(dest, e.into()))?;
        let target = Target {
            fd: fd.as_fd(),
            path: dest,
        };
        self.restore_dir(root, digest, target)?;
        // Last, so that a read-only directory was writable while filled.
        let mode = unix_mode(root.node_properties.as_ref()).unwrap_or(DIR_MODE);
        fs::set_permissions(dest, Permissions::from_mode(mode)).map_err(|e| CasError::io(dest, e))
    }

    fn load(&self, digest: &Digest, parent: &Digest) -> Result<Cow<'a, reapi::Directory>> {
        match self.source {
            DirSource::Cas => self.cache.read_directory(digest).map(Cow::Owned),
            DirSource::Tree(children) => {
                let dir = children.get(digest).ok_or_else(|| CasError::Corrupt {
                    what: "tree",
                    digest: *parent,
                    reason: format!("directory {digest} is not in the tree"),
                })?;
                validate_directory(dir, digest)?;
                Ok(Cow::Borrowed(dir))
            }
        }
    }

    /// The shard directory of `digest` in `area`.
    fn shard(&self, area: Area, digest: &Digest) -> Result<BorrowedFd<'_>> {
        let shards = match area {
            Area::ExecTwins => &self.twin_shards,
            _ => &self.blob_shards,
        };
        let slot = &shards[usize::from(digest.hash[0])];
        if let Some(fd) = slot.get() {
            return Ok(fd.as_fd());
        }
        let blob = self.cache.object_path(area, &digest.hash);
        let shard = blob.parent().unwrap_or(&blob);
        let fd = match rustix::fs::open(shard, DIR_HANDLE, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Err(CasError::Missing { digest: *digest }),
            Err(e) => return Err(CasError::io(shard, e.into())),
        };
        // Another thread may have opened it meanwhile; either will do.
        Ok(slot.get_or_init(|| fd).as_fd())
    }

    /// Fills the directory `target`; subdirectories are restored in
    /// parallel.
    fn restore_dir(&self, dir: &reapi::Directory, own: &Digest, target: Target<'_>) -> Result<()> {
        add(&self.stats.directories, 1);
        for file in &dir.files {
            let digest = node_digest(file.digest.as_ref(), own)?;
            self.restore_file(file, digest, target)?;
        }
        for symlink in &dir.symlinks {
            rustix::fs::symlinkat(symlink.target.as_str(), target.fd, symlink.name.as_str())
                .map_err(|e| target.error(&symlink.name, e))?;
            add(&self.stats.symlinks, 1);
        }
        let one = |node: &reapi::DirectoryNode| {
            let digest = node_digest(node.digest.as_ref(), own)?;
            let child = self.load(&digest, own)?;
            let name = node.name.as_str();
            rustix::fs::mkdirat(target.fd, name, Mode::from_raw_mode(0o700))
                .map_err(|e| target.error(name, e))?;
            let fd = rustix::fs::openat(target.fd, name, DIR_HANDLE, Mode::empty())
                .map_err(|e| target.error(name, e))?;
            let path = target.path.join(name);
            let child_target = Target {
                fd: fd.as_fd(),
                path: &path,
            };
            self.restore_dir(&child, &digest, child_target)?;
            // Last, so that a read-only directory was writable while
            // filled.
            let mode = unix_mode(child.node_properties.as_ref()).unwrap_or(DIR_MODE);
            rustix::fs::chmodat(target.fd, name, Mode::from_raw_mode(mode), AtFlags::empty())
                .map_err(|e| target.error(name, e))
        };
        dir.directories.par_iter().try_for_each(one)
    }

    fn restore_file(
        &self,
        node: &reapi::FileNode,
        digest: Digest,
        target: Target<'_>,
    ) -> Result<()> {
        let name = node.name.as_str();
        let special = unix_mode(node.node_properties.as_ref());
        let mode = special.unwrap_or(default_file_mode(node.is_executable));
        add(&self.stats.files, 1);
        add(&self.stats.bytes, digest.size_bytes);
        if digest.size_bytes == 0 {
            if digest != Digest::EMPTY {
                return Err(CasError::corrupt_blob(
                    digest,
                    "empty but not the empty hash",
                ));
            }
            let file = rustix::fs::openat(target.fd, name, NEW_FILE, Mode::from_raw_mode(0o600))
                .map_err(|e| target.error(name, e))?;
            return rustix::fs::fchmod(&file, Mode::from_raw_mode(mode))
                .map_err(|e| target.error(name, e));
        }
        if special.is_none() && self.links_work.load(Ordering::Relaxed) {
            let area = if node.is_executable {
                self.twin(&digest)?;
                Area::ExecTwins
            } else {
                self.check_blob(&digest)?;
                Area::Blobs
            };
            let mut hex = [0u8; 64];
            hex_into(&digest.hash, &mut hex);
            let shard = self.shard(area, &digest)?;
            match rustix::fs::linkat(shard, &hex[..], target.fd, name, AtFlags::empty()) {
                Ok(()) => {
                    add(&self.stats.hardlinked, 1);
                    return Ok(());
                }
                Err(Errno::XDEV) => self.links_work.store(false, Ordering::Relaxed),
                // Too many links to one inode, or protected_hardlinks for
                // a blob of another user: this file is copied.
                Err(Errno::MLINK | Errno::PERM) => {}
                Err(Errno::NOENT) => return Err(CasError::Missing { digest }),
                Err(e) => return Err(target.error(name, e)),
            }
        }
        self.copy_file(&digest, target, name, mode)
    }

    fn is_checked(&self, digest: &Digest) -> bool {
        lock(&self.checked).contains(&digest.hash)
    }

    /// Checks a blob's seal once per restore (and its hash with
    /// `Verify::Content`).
    fn check_blob(&self, digest: &Digest) -> Result<()> {
        if self.is_checked(digest) {
            return Ok(());
        }
        match self.options.verify {
            Verify::Content => self.cache.verify_blob(digest)?,
            Verify::Metadata => {
                let mut hex = [0u8; 64];
                hex_into(&digest.hash, &mut hex);
                let shard = self.shard(Area::Blobs, digest)?;
                match rustix::fs::statat(shard, &hex[..], AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(stat) => {
                        if let Err(reason) = check_seal(&stat, digest, BLOB_MODE) {
                            return Err(self.cache.discard_damaged(Area::Blobs, digest, reason));
                        }
                    }
                    Err(Errno::NOENT) => return Err(CasError::Missing { digest: *digest }),
                    Err(e) => return Err(CasError::io(&self.cache.blob_path(digest), e.into())),
                }
            }
        }
        lock(&self.checked).insert(digest.hash);
        Ok(())
    }

    /// Makes sure the executable twin of `digest` exists and is sealed.
    fn twin(&self, digest: &Digest) -> Result<()> {
        if lock(&self.twins).contains(&digest.hash) {
            return Ok(());
        }
        self.check_blob(digest)?;
        self.cache.exec_twin(digest)?;
        if self.options.verify == Verify::Content {
            self.cache.verify_area(Area::ExecTwins, digest)?;
        }
        lock(&self.twins).insert(digest.hash);
        Ok(())
    }

    fn copy_file(&self, digest: &Digest, target: Target<'_>, name: &str, mode: u32) -> Result<()> {
        let source = self.cache.open_blob(digest)?;
        if self.options.verify == Verify::Content && !self.is_checked(digest) {
            let mut writer = DigestWriter::default();
            io::copy(&mut &source, &mut writer)
                .map_err(|e| CasError::io(&self.cache.blob_path(digest), e))?;
            if writer.finish() != *digest {
                return Err(self.cache.discard_damaged(
                    Area::Blobs,
                    digest,
                    "content does not match its hash".into(),
                ));
            }
            lock(&self.checked).insert(digest.hash);
        }
        let file = File::from(
            rustix::fs::openat(target.fd, name, NEW_FILE, Mode::from_raw_mode(0o600))
                .map_err(|e| target.error(name, e))?,
        );
        let copied = copy_file_contents(&source, &file).map_err(|e| target.error(name, e))?;
        if copied != digest.size_bytes {
            return Err(self.cache.discard_damaged(
                Area::Blobs,
                digest,
                format!("read {copied} bytes instead of {}", digest.size_bytes),
            ));
        }
        // fchmod, not the creation mode: the umask must not apply.
        rustix::fs::fchmod(&file, Mode::from_raw_mode(mode)).map_err(|e| target.error(name, e))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[&str], dirs: &[&str], symlinks: &[&str]) -> reapi::Directory {
        let digest = Some(Digest::of_bytes(b"x").to_proto());
        reapi::Directory {
            files: files
                .iter()
                .map(|n| reapi::FileNode {
                    name: n.to_string(),
                    digest: digest.clone(),
                    ..Default::default()
                })
                .collect(),
            directories: dirs
                .iter()
                .map(|n| reapi::DirectoryNode {
                    name: n.to_string(),
                    digest: digest.clone(),
                })
                .collect(),
            symlinks: symlinks
                .iter()
                .map(|n| reapi::SymlinkNode {
                    name: n.to_string(),
                    target: "t".into(),
                    node_properties: None,
                })
                .collect(),
            node_properties: None,
        }
    }

    #[test]
    fn validation_accepts_canonical_directories() {
        let dir = dir_with(&["a", "b"], &["c"], &["d"]);
        validate_directory(&dir, &Digest::EMPTY).unwrap();
    }

    #[test]
    fn validation_rejects_escaping_duplicate_and_unsorted_names() {
        for dir in [
            dir_with(&[".."], &[], &[]),
            dir_with(&["a/b"], &[], &[]),
            dir_with(&[], &["."], &[]),
            dir_with(&[""], &[], &[]),
            dir_with(&["b", "a"], &[], &[]),
            dir_with(&["a", "a"], &[], &[]),
            dir_with(&["a"], &["a"], &[]),
            dir_with(&[], &["x"], &["x"]),
        ] {
            assert!(
                validate_directory(&dir, &Digest::EMPTY).is_err(),
                "{dir:?} accepted"
            );
        }
    }

    #[test]
    fn modes_become_properties_only_when_unusual() {
        assert_eq!(file_mode_properties(0o100644), (false, None));
        assert_eq!(file_mode_properties(0o100755), (true, None));
        let (exec, props) = file_mode_properties(0o104755);
        assert!(exec);
        assert_eq!(unix_mode(props.as_ref()), Some(0o4755));
        let (exec, props) = file_mode_properties(0o100600);
        assert!(!exec);
        assert_eq!(unix_mode(props.as_ref()), Some(0o600));
    }

    #[test]
    fn output_paths_must_stay_below_the_working_directory() {
        assert!(check_relative_path("").is_ok());
        assert!(check_relative_path("image/deploy").is_ok());
        assert!(check_relative_path("/etc").is_err());
        assert!(check_relative_path("a/../../b").is_err());
    }
}
