//! The content-addressed store and action cache on a real file system:
//! capture and restore round trips, REAPI encoding, deduplication,
//! corruption detection, the action cache, gc, and concurrent writers
//! (threads and processes).

use std::collections::BTreeMap;
use std::fs::{self, File, FileTimes, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use bitzel::cas::{Cache, CasError, Digest, RestoreMode, RestoreOptions, Verify, reapi};
use prost::Message;

/// What a path in a tree is, as compared across round trips.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File { content: Vec<u8>, mode: u32 },
    Dir { mode: u32 },
    Symlink { target: PathBuf },
}

/// Every path below `root` (and `root` itself as ""), with what it is.
fn snapshot(root: &Path) -> BTreeMap<String, Node> {
    let mut nodes = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.unwrap();
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let meta = entry.path().symlink_metadata().unwrap();
        let mode = meta.mode() & 0o7777;
        let node = if meta.file_type().is_symlink() {
            Node::Symlink {
                target: fs::read_link(entry.path()).unwrap(),
            }
        } else if meta.is_dir() {
            Node::Dir { mode }
        } else {
            Node::File {
                content: fs::read(entry.path()).unwrap(),
                mode,
            }
        };
        nodes.insert(rel, node);
    }
    nodes
}

fn write(path: &Path, content: &[u8], mode: u32) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, content).unwrap();
    fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
}

/// A tree with what the issue lists: regular and executable files,
/// symlinks (relative, absolute, dangling, to a directory), empty and
/// nested directories, identical contents under several names, an empty
/// file, and unusual modes.
fn sample_tree(root: &Path) {
    fs::create_dir_all(root).unwrap();
    fs::set_permissions(root, Permissions::from_mode(0o755)).unwrap();
    write(&root.join("README"), b"hello\n", 0o644);
    write(&root.join("bin/tool"), b"#!/bin/sh\necho tool\n", 0o755);
    write(&root.join("bin/same-as-readme"), b"hello\n", 0o644);
    write(&root.join("bin/readme-but-executable"), b"hello\n", 0o755);
    write(&root.join("usr/include/a.h"), b"int a;\n", 0o644);
    write(&root.join("usr/include/sub/b.h"), b"int a;\n", 0o644);
    write(&root.join("usr/share/empty-file"), b"", 0o644);
    write(&root.join("usr/lib/private.key"), b"secret", 0o600);
    write(&root.join("usr/bin/setuid"), b"\x7fELF...", 0o4755);
    fs::create_dir_all(root.join("var/empty")).unwrap();
    fs::create_dir_all(root.join("var/restricted")).unwrap();
    write(&root.join("var/restricted/log"), b"log line\n", 0o644);
    fs::set_permissions(root.join("var/restricted"), Permissions::from_mode(0o700)).unwrap();
    symlink("tool", root.join("bin/link-to-tool")).unwrap();
    symlink("/usr/bin/env", root.join("bin/absolute")).unwrap();
    symlink("does/not/exist", root.join("dangling")).unwrap();
    symlink("usr/include", root.join("include")).unwrap();
    fs::write(root.join("ünïcode name"), b"utf-8 names are fine").unwrap();
    fs::set_permissions(root.join("ünïcode name"), Permissions::from_mode(0o644)).unwrap();
}

fn blob_count(cache: &Cache) -> u64 {
    cache.stats().unwrap().blobs
}

fn hardlink() -> RestoreOptions {
    RestoreOptions {
        mode: RestoreMode::Hardlink,
        verify: Verify::Metadata,
    }
}

#[test]
fn copy_restore_reproduces_the_tree_exactly() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let src = work.path().join("src");
    sample_tree(&src);

    let captured = cache.capture(&src).unwrap();
    assert_eq!(captured.files, 11);
    assert_eq!(captured.symlinks, 4);
    // root, bin, usr, usr/include, usr/include/sub, usr/share, usr/lib,
    // usr/bin, var, var/empty, var/restricted
    assert_eq!(captured.directories, 11);

    let dest = work.path().join("restored");
    let stats = cache
        .restore(&captured.root, &dest, &RestoreOptions::default())
        .unwrap();
    assert_eq!(stats.files, 11);
    assert_eq!(stats.hardlinked, 0);
    assert_eq!(stats.symlinks, 4);
    assert_eq!(stats.directories, 11);
    assert_eq!(snapshot(&dest), snapshot(&src));
    // Copies are independent of the CAS: writing one changes no blob.
    fs::write(dest.join("README"), b"changed").unwrap();
    let again = work.path().join("again");
    cache
        .restore(
            &captured.root,
            &again,
            &RestoreOptions {
                mode: RestoreMode::Copy,
                verify: Verify::Content,
            },
        )
        .unwrap();
    assert_eq!(fs::read(again.join("README")).unwrap(), b"hello\n");
}

#[test]
fn hardlink_restore_links_standard_files_read_only() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let src = work.path().join("src");
    sample_tree(&src);
    let captured = cache.capture(&src).unwrap();

    let dest = work.path().join("restored");
    let stats = cache.restore(&captured.root, &dest, &hardlink()).unwrap();
    // Everything but the empty file and the two files with special modes.
    assert_eq!(stats.hardlinked, 8);

    let readme = Digest::of_bytes(b"hello\n");
    let blob = fs::metadata(cache.blob_path(&readme)).unwrap();
    let restored = fs::metadata(dest.join("README")).unwrap();
    assert_eq!(restored.ino(), blob.ino());
    assert_eq!(restored.mode() & 0o7777, 0o444);
    // Same content, executable: a different inode (the twin), mode 0555.
    let exec = fs::metadata(dest.join("bin/readme-but-executable")).unwrap();
    assert_ne!(exec.ino(), blob.ino());
    assert_eq!(exec.mode() & 0o7777, 0o555);
    assert_eq!(
        fs::metadata(dest.join("bin/tool")).unwrap().mode() & 0o7777,
        0o555
    );
    // Special modes are copies with the exact mode.
    let setuid = fs::metadata(dest.join("usr/bin/setuid")).unwrap();
    assert_eq!(setuid.mode() & 0o7777, 0o4755);
    assert_eq!(setuid.nlink(), 1);
    assert_eq!(
        fs::metadata(dest.join("usr/lib/private.key"))
            .unwrap()
            .mode()
            & 0o7777,
        0o600
    );
    // Contents, symlinks and directory modes are as captured; file modes
    // differ only by the write bits.
    let mut expected = snapshot(&src);
    for node in expected.values_mut() {
        if let Node::File { mode, content } = node
            && !content.is_empty()
            && (*mode == 0o644 || *mode == 0o755)
        {
            *mode &= 0o555;
        }
    }
    assert_eq!(snapshot(&dest), expected);
    assert_eq!(cache.stats().unwrap().exec_twins, 2);
}

#[test]
fn identical_contents_are_stored_once_and_never_rewritten() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let src = work.path().join("src");
    for i in 0..20 {
        write(&src.join(format!("copy{i}")), b"same bytes", 0o644);
    }
    write(&src.join("other"), b"other bytes", 0o644);
    let captured = cache.capture(&src).unwrap();
    // Two file contents and one directory.
    assert_eq!(blob_count(&cache), 3);

    let blob = cache.blob_path(&Digest::of_bytes(b"same bytes"));
    let inode = fs::metadata(&blob).unwrap().ino();
    let again = cache.capture(&src).unwrap();
    assert_eq!(again.root, captured.root);
    assert_eq!(blob_count(&cache), 3);
    assert_eq!(fs::metadata(&blob).unwrap().ino(), inode);
    assert_eq!(cache.put_bytes(b"same bytes").unwrap().size_bytes, 10);
    assert_eq!(fs::metadata(&blob).unwrap().ino(), inode);
}

#[test]
fn directory_digest_ignores_location_and_creation_order() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let names = ["b", "a", "c", "z", "m", "A", "_", "0"];
    let first = work.path().join("one/place");
    let second = work.path().join("somewhere/else/entirely");
    for (root, order) in [
        (&first, names.to_vec()),
        (&second, names.iter().rev().copied().collect::<Vec<_>>()),
    ] {
        fs::create_dir_all(root).unwrap();
        fs::set_permissions(root, Permissions::from_mode(0o755)).unwrap();
        for name in &order {
            write(&root.join(name), name.as_bytes(), 0o644);
            write(&root.join("dir").join(name), name.as_bytes(), 0o755);
            symlink(name, root.join(format!("link-{name}"))).unwrap();
        }
    }
    let one = cache.capture(&first).unwrap().root;
    let two = cache.capture(&second).unwrap().root;
    assert_eq!(one, two);
    // Contents matter: one byte more changes the digest.
    fs::set_permissions(second.join("a"), Permissions::from_mode(0o644)).unwrap();
    fs::write(second.join("a"), b"a!").unwrap();
    assert_ne!(cache.capture(&second).unwrap().root, one);
}

#[test]
fn an_empty_directory_has_the_empty_digest() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let empty = work.path().join("empty");
    fs::create_dir(&empty).unwrap();
    fs::set_permissions(&empty, Permissions::from_mode(0o755)).unwrap();
    // An empty Directory message encodes to no bytes, as every REAPI
    // implementation computes it.
    assert_eq!(cache.capture(&empty).unwrap().root, Digest::EMPTY);
}

/// Appends a length-delimited field (wire type 2) by hand.
fn field(out: &mut Vec<u8>, number: u8, bytes: &[u8]) {
    out.push((number << 3) | 2);
    assert!(bytes.len() < 128, "one-byte varint lengths only");
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn digest_bytes(digest: &Digest) -> Vec<u8> {
    let mut out = Vec::new();
    field(&mut out, 1, digest.hex().as_bytes());
    // size_bytes, a varint, omitted when 0 (the default).
    assert!(digest.size_bytes < 128);
    if digest.size_bytes > 0 {
        out.push(2 << 3);
        out.push(digest.size_bytes as u8);
    }
    out
}

#[test]
fn directory_blobs_are_canonical_reapi_messages() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::set_permissions(&src, Permissions::from_mode(0o755)).unwrap();
    write(&src.join("b"), b"x", 0o644);
    write(&src.join("a"), b"y", 0o755);
    fs::create_dir(src.join("d")).unwrap();
    fs::set_permissions(src.join("d"), Permissions::from_mode(0o755)).unwrap();
    symlink("a", src.join("l")).unwrap();
    let root = cache.capture(&src).unwrap().root;

    // Decoded with the REAPI type: children sorted, fields as captured.
    let bytes = cache.read_blob(&root).unwrap();
    let dir = reapi::Directory::decode(bytes.as_slice()).unwrap();
    let names: Vec<_> = dir.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(dir.files[0].is_executable);
    assert!(!dir.files[1].is_executable);
    assert_eq!(
        dir.files[0].digest.as_ref().unwrap(),
        &Digest::of_bytes(b"y").to_proto()
    );
    assert_eq!(dir.directories.len(), 1);
    assert_eq!(dir.directories[0].name, "d");
    assert_eq!(
        dir.directories[0].digest.as_ref().unwrap(),
        &Digest::EMPTY.to_proto()
    );
    assert_eq!(dir.symlinks.len(), 1);
    assert_eq!(
        (
            dir.symlinks[0].name.as_str(),
            dir.symlinks[0].target.as_str()
        ),
        ("l", "a")
    );
    assert!(dir.node_properties.is_none());

    // Byte for byte what the protobuf canonical encoding gives, built by
    // hand: files (1), directories (2), symlinks (3) in field order, each
    // node's fields in field order, defaults (false, no properties)
    // omitted.
    let mut expected = Vec::new();
    let mut file_a = Vec::new();
    field(&mut file_a, 1, b"a");
    field(&mut file_a, 2, &digest_bytes(&Digest::of_bytes(b"y")));
    file_a.extend_from_slice(&[4 << 3, 1]); // is_executable = true
    let mut file_b = Vec::new();
    field(&mut file_b, 1, b"b");
    field(&mut file_b, 2, &digest_bytes(&Digest::of_bytes(b"x")));
    let mut dir_d = Vec::new();
    field(&mut dir_d, 1, b"d");
    field(&mut dir_d, 2, &digest_bytes(&Digest::EMPTY));
    let mut link = Vec::new();
    field(&mut link, 1, b"l");
    field(&mut link, 2, b"a");
    field(&mut expected, 1, &file_a);
    field(&mut expected, 1, &file_b);
    field(&mut expected, 2, &dir_d);
    field(&mut expected, 3, &link);
    assert_eq!(bytes, expected);
    assert_eq!(root, Digest::of_bytes(&expected));
}

#[test]
fn unusual_modes_are_node_properties() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::set_permissions(&src, Permissions::from_mode(0o750)).unwrap();
    write(&src.join("key"), b"k", 0o600);
    let root = cache.capture(&src).unwrap().root;
    let dir = cache.read_directory(&root).unwrap();
    let mode_of = |p: Option<&reapi::NodeProperties>| p.unwrap().unix_mode.unwrap().value;
    assert_eq!(mode_of(dir.node_properties.as_ref()), 0o750);
    assert_eq!(mode_of(dir.files[0].node_properties.as_ref()), 0o600);
    assert!(!dir.files[0].is_executable);
}

#[test]
fn tree_messages_list_each_directory_once_parents_first() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let src = work.path().join("src");
    // `a/same` and `b/x/same` are equal directories: stored once, after
    // both of their parents.
    write(&src.join("a/same/f"), b"f", 0o644);
    write(&src.join("b/x/same/f"), b"f", 0o644);
    write(&src.join("b/x/g"), b"g", 0o644);
    for dir in ["", "a", "a/same", "b", "b/x", "b/x/same"] {
        fs::set_permissions(src.join(dir), Permissions::from_mode(0o755)).unwrap();
    }
    let root = cache.capture(&src).unwrap().root;
    let tree = cache.tree(&root).unwrap();
    let digest_of = |d: &reapi::Directory| Digest::of_bytes(&d.encode_to_vec());
    assert_eq!(digest_of(tree.root.as_ref().unwrap()), root);
    let order: Vec<Digest> = tree.children.iter().map(digest_of).collect();
    assert_eq!(order.len(), 4, "a, b, b/x and one `same`");
    let position = |d: &Digest| order.iter().position(|o| o == d).unwrap();
    for (i, dir) in tree.children.iter().enumerate() {
        for child in &dir.directories {
            let child = Digest::from_proto(child.digest.as_ref().unwrap()).unwrap();
            assert!(position(&child) > i, "a child before its parent");
        }
    }

    // An action result's OutputDirectory, restored from the tree alone
    // after the Directory blobs are gone.
    let output = cache.output_directory("out/image", &root).unwrap();
    assert!(output.is_topologically_sorted);
    let tree_digest = Digest::from_proto(output.tree_digest.as_ref().unwrap()).unwrap();
    let stored = reapi::Tree::decode(cache.read_blob(&tree_digest).unwrap().as_slice()).unwrap();
    assert_eq!(stored, tree);
    for dir in std::iter::once(&tree.root.clone().unwrap()).chain(&tree.children) {
        let path = cache.blob_path(&digest_of(dir));
        fs::remove_file(path).unwrap();
    }
    let base = work.path().join("work");
    cache
        .restore_output_directory(&output, &base, &RestoreOptions::default())
        .unwrap();
    assert_eq!(snapshot(&base.join("out/image")), snapshot(&src));
}

#[test]
fn restore_refuses_a_non_empty_destination() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let src = work.path().join("src");
    write(&src.join("f"), b"f", 0o644);
    let root = cache.capture(&src).unwrap().root;
    let dest = work.path().join("dest");
    write(&dest.join("already"), b"", 0o644);
    let err = cache
        .restore(&root, &dest, &RestoreOptions::default())
        .unwrap_err();
    assert!(matches!(err, CasError::Invalid(_)), "{err}");
}

#[test]
fn capture_refuses_special_files() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    let fifo = std::ffi::CString::new(src.join("fifo").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let err = cache.capture(&src).unwrap_err();
    assert!(matches!(err, CasError::Unsupported { .. }), "{err}");
}

/// Captures a small tree and returns (cache, root digest, digest of the
/// file `data`).
fn cache_with_one_file(work: &Path) -> (Cache, Digest, Digest) {
    let cache = Cache::open(work.join("cache")).unwrap();
    let src = work.join("src");
    write(&src.join("data"), b"precious data", 0o644);
    let root = cache.capture(&src).unwrap().root;
    (cache, root, Digest::of_bytes(b"precious data"))
}

/// Rewrites a blob's content in place, as a careless task writing
/// through a hardlink would.
fn scribble(path: &Path, content: &[u8]) {
    fs::set_permissions(path, Permissions::from_mode(0o644)).unwrap();
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all(content).unwrap();
}

#[test]
fn a_truncated_blob_is_reported_not_restored() {
    let work = tempfile::tempdir().unwrap();
    let (cache, root, data) = cache_with_one_file(work.path());
    let blob = cache.blob_path(&data);
    fs::set_permissions(&blob, Permissions::from_mode(0o644)).unwrap();
    File::options()
        .write(true)
        .open(&blob)
        .unwrap()
        .set_len(3)
        .unwrap();
    for options in [RestoreOptions::default(), hardlink()] {
        let dest = work.path().join(format!("{:?}", options.mode));
        let err = cache.restore(&root, &dest, &options).unwrap_err();
        assert!(err.is_cache_damage(), "{err}");
        assert!(!dest.join("data").exists());
    }
    // The damaged blob was dropped; capturing the task's output again
    // repairs the cache.
    assert!(!cache.contains(&data).unwrap());
    cache.capture(&work.path().join("src")).unwrap();
    let dest = work.path().join("repaired");
    cache.restore(&root, &dest, &hardlink()).unwrap();
    assert_eq!(fs::read(dest.join("data")).unwrap(), b"precious data");
}

#[test]
fn a_write_through_a_hardlink_is_detected() {
    let work = tempfile::tempdir().unwrap();
    let (cache, root, data) = cache_with_one_file(work.path());
    let first = work.path().join("first");
    cache.restore(&root, &first, &hardlink()).unwrap();
    // Same size, different bytes, written in place by a "task".
    scribble(&first.join("data"), b"PRECIOUS DATA");
    let err = cache
        .restore(&root, &work.path().join("second"), &hardlink())
        .unwrap_err();
    assert!(err.is_cache_damage(), "{err}");
    assert!(
        matches!(&err, CasError::Corrupt { digest, .. } if *digest == data),
        "{err}"
    );
}

#[test]
fn content_verification_catches_what_metadata_cannot() {
    let work = tempfile::tempdir().unwrap();
    let (cache, root, data) = cache_with_one_file(work.path());
    // Same size, and the seal put back: only the hash can tell.
    let blob = cache.blob_path(&data);
    scribble(&blob, b"PRECIOUS DATA");
    fs::set_permissions(&blob, Permissions::from_mode(0o444)).unwrap();
    let seal = SystemTime::UNIX_EPOCH + Duration::from_secs(bitzel::cas::SEAL_MTIME);
    File::open(&blob)
        .unwrap()
        .set_times(FileTimes::new().set_modified(seal))
        .unwrap();
    let options = RestoreOptions {
        mode: RestoreMode::Copy,
        verify: Verify::Content,
    };
    let err = cache
        .restore(&root, &work.path().join("dest"), &options)
        .unwrap_err();
    assert!(err.is_cache_damage(), "{err}");
    assert!(cache.read_blob(&data).is_err());
}

#[test]
fn missing_and_corrupt_directory_blobs_are_reported() {
    let work = tempfile::tempdir().unwrap();
    let (cache, root, data) = cache_with_one_file(work.path());
    fs::remove_file(cache.blob_path(&data)).unwrap();
    let err = cache
        .restore(&root, &work.path().join("a"), &RestoreOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, CasError::Missing { digest } if *digest == data),
        "{err}"
    );

    // A directory blob is always hashed, even with its seal intact.
    let blob = cache.blob_path(&root);
    let mut bytes = fs::read(&blob).unwrap();
    bytes[5] ^= 1;
    scribble(&blob, &bytes);
    fs::set_permissions(&blob, Permissions::from_mode(0o444)).unwrap();
    let seal = SystemTime::UNIX_EPOCH + Duration::from_secs(bitzel::cas::SEAL_MTIME);
    File::open(&blob)
        .unwrap()
        .set_times(FileTimes::new().set_modified(seal))
        .unwrap();
    let err = cache
        .restore(&root, &work.path().join("b"), &RestoreOptions::default())
        .unwrap_err();
    assert!(err.is_cache_damage(), "{err}");
}

fn result_for(cache: &Cache, tree_root: &Digest, log: &[u8]) -> reapi::ActionResult {
    let log = cache.put_bytes(log).unwrap();
    reapi::ActionResult {
        output_directories: vec![cache.output_directory("image", tree_root).unwrap()],
        exit_code: 0,
        stdout_digest: Some(log.to_proto()),
        ..Default::default()
    }
}

#[test]
fn action_results_round_trip_and_record_their_last_use() {
    let work = tempfile::tempdir().unwrap();
    let (cache, root, _) = cache_with_one_file(work.path());
    let key = Digest::of_bytes(b"task signature of do_install");
    assert_eq!(cache.get_action_result(&key).unwrap(), None);

    let result = result_for(&cache, &root, b"build log\n");
    cache.put_action_result(&key, &result).unwrap();
    let path = cache.action_result_path(&key);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    File::open(&path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(old))
        .unwrap();
    assert_eq!(cache.get_action_result(&key).unwrap(), Some(result.clone()));
    let used = fs::metadata(&path).unwrap().modified().unwrap();
    assert!(used > old + Duration::from_secs(3600), "hit not recorded");

    // Restoring what the result names gives the tree back.
    let base = work.path().join("work");
    cache
        .restore_output_directory(&result.output_directories[0], &base, &hardlink())
        .unwrap();
    assert_eq!(fs::read(base.join("image/data")).unwrap(), b"precious data");

    // The entry is one decodable REAPI ActionResult.
    let stored = reapi::ActionResult::decode(fs::read(&path).unwrap().as_slice()).unwrap();
    assert_eq!(stored, result);
    assert!(cache.remove_action_result(&key).unwrap());
    assert_eq!(cache.get_action_result(&key).unwrap(), None);
}

#[test]
fn an_action_result_must_name_blobs_that_exist() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let absent = Digest::of_bytes(b"never stored");
    let result = reapi::ActionResult {
        stderr_digest: Some(absent.to_proto()),
        ..Default::default()
    };
    let key = Digest::of_bytes(b"key");
    let err = cache.put_action_result(&key, &result).unwrap_err();
    assert!(matches!(err, CasError::Missing { digest } if digest == absent));
    assert!(!cache.action_result_path(&key).exists());
}

#[test]
fn an_undecodable_action_result_is_reported_and_dropped() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let key = Digest::of_bytes(b"key");
    cache
        .put_action_result(&key, &reapi::ActionResult::default())
        .unwrap();
    fs::write(cache.action_result_path(&key), b"\xff\xff\xff").unwrap();
    let err = cache.get_action_result(&key).unwrap_err();
    assert!(err.is_cache_damage(), "{err}");
    assert_eq!(cache.get_action_result(&key).unwrap(), None);
}

fn set_last_use(cache: &Cache, key: &Digest, seconds: u64) {
    File::open(cache.action_result_path(key))
        .unwrap()
        .set_times(
            FileTimes::new().set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)),
        )
        .unwrap();
}

/// A task output of `size` bytes of `fill`, captured, with a result
/// stored under `key`.
fn task_output(cache: &Cache, work: &Path, name: &str, fill: u8, size: usize) -> (Digest, Digest) {
    let src = work.join(name);
    write(&src.join("big"), &vec![fill; size], 0o644);
    write(&src.join("shared"), b"shared by every task", 0o644);
    let root = cache.capture(&src).unwrap().root;
    let key = Digest::of_bytes(name.as_bytes());
    let result = result_for(cache, &root, format!("log of {name}").as_bytes());
    cache.put_action_result(&key, &result).unwrap();
    (key, Digest::of_bytes(&vec![fill; size]))
}

#[test]
fn gc_evicts_least_recently_used_results_and_their_blobs_only() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let (old_key, old_big) = task_output(&cache, work.path(), "old", b'o', 100_000);
    let (mid_key, mid_big) = task_output(&cache, work.path(), "mid", b'm', 100_000);
    let (new_key, new_big) = task_output(&cache, work.path(), "new", b'n', 100_000);
    let stray = cache.put_bytes(b"referenced by nothing").unwrap();
    set_last_use(&cache, &old_key, 1_600_000_000);
    set_last_use(&cache, &new_key, 1_600_000_100);
    set_last_use(&cache, &mid_key, 1_600_000_200);
    // A leftover of a killed writer.
    fs::write(cache.root().join("tmp/12345-0"), b"partial").unwrap();

    let lock = cache.lock_exclusive().unwrap();
    // Room for two results of ~100 kB each: `old`, least recently used,
    // goes.
    let report = cache.gc(&lock, 250_000).unwrap();
    drop(lock);
    assert_eq!(report.kept_results, 2);
    assert_eq!(report.removed_results, 1);
    assert_eq!(report.broken_results, 0);
    assert_eq!(report.removed_temp_files, 1);
    assert!(report.kept_bytes <= 250_000);
    assert_eq!(cache.get_action_result(&old_key).unwrap(), None);
    assert!(!cache.contains(&old_big).unwrap());
    assert!(!cache.contains(&stray).unwrap());
    assert!(cache.contains(&mid_big).unwrap());
    assert!(cache.contains(&new_big).unwrap());
    assert!(
        cache
            .contains(&Digest::of_bytes(b"shared by every task"))
            .unwrap()
    );
    assert_eq!(cache.stats().unwrap().temp_files, 0);

    // Every kept result still restores completely.
    for (i, key) in [mid_key, new_key].iter().enumerate() {
        let result = cache.get_action_result(key).unwrap().unwrap();
        let base = work.path().join(format!("check{i}"));
        let options = RestoreOptions {
            mode: RestoreMode::Copy,
            verify: Verify::Content,
        };
        cache
            .restore_output_directory(&result.output_directories[0], &base, &options)
            .unwrap();
        let log = Digest::from_proto(result.stdout_digest.as_ref().unwrap()).unwrap();
        cache.read_blob(&log).unwrap();
    }
    let stats = cache.stats().unwrap();
    assert_eq!(stats.action_results, 2);
    assert_eq!(stats.total_bytes(), report.kept_bytes);

    // A limit below the newest result's footprint empties the cache.
    let lock = cache.lock_exclusive().unwrap();
    let report = cache.gc(&lock, 1000).unwrap();
    assert_eq!(report.kept_results, 0);
    assert_eq!(cache.stats().unwrap().total_bytes(), 0);
}

#[test]
fn gc_drops_results_whose_blobs_are_gone() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let (good, _) = task_output(&cache, work.path(), "good", b'g', 1000);
    let (broken, broken_big) = task_output(&cache, work.path(), "broken", b'b', 1000);
    fs::remove_file(cache.blob_path(&broken_big)).unwrap();
    let lock = cache.lock_exclusive().unwrap();
    let report = cache.gc(&lock, u64::MAX).unwrap();
    assert_eq!(report.broken_results, 1);
    assert_eq!(report.kept_results, 1);
    assert!(cache.get_action_result(&good).unwrap().is_some());
    assert!(cache.get_action_result(&broken).unwrap().is_none());
}

#[test]
fn gc_waits_for_builds() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let build = cache.lock_shared().unwrap();
    let other_build = cache.lock_shared().unwrap();
    assert!(cache.try_lock_exclusive().unwrap().is_none());
    drop(build);
    assert!(cache.try_lock_exclusive().unwrap().is_none());
    drop(other_build);
    let gc = cache.try_lock_exclusive().unwrap().unwrap();
    assert!(cache.try_lock_exclusive().unwrap().is_none());
    drop(gc);
}

/// Blobs every writer stores: shared contents and a shared tree.
fn concurrent_writes(cache: &Cache, src: &Path, worker: usize) -> Digest {
    let _lock = cache.lock_shared().unwrap();
    for i in 0..200u32 {
        let content = format!("blob {i}").repeat(i as usize % 50 + 1);
        cache.put_bytes(content.as_bytes()).unwrap();
    }
    cache
        .put_bytes(format!("only worker {worker}").as_bytes())
        .unwrap();
    cache.capture(src).unwrap().root
}

fn shared_source(work: &Path) -> PathBuf {
    let src = work.join("src");
    for i in 0..100 {
        write(
            &src.join(format!("d{}/f{i}", i % 7)),
            format!("file {i}").repeat(i * 13 + 1).as_bytes(),
            if i % 3 == 0 { 0o755 } else { 0o644 },
        );
    }
    src
}

fn check_consistent(cache: &Cache, root: &Digest, src: &Path, work: &Path) {
    let stats = cache.stats().unwrap();
    assert_eq!(stats.temp_files, 0, "temporary files left behind");
    // 200 shared blobs, one per worker, 100 files and 8 directories.
    let dest = work.join("check");
    cache
        .restore(
            root,
            &dest,
            &RestoreOptions {
                mode: RestoreMode::Copy,
                verify: Verify::Content,
            },
        )
        .unwrap();
    assert_eq!(snapshot(&dest), snapshot(src));
    for i in 0..200u32 {
        let content = format!("blob {i}").repeat(i as usize % 50 + 1);
        cache
            .verify_blob(&Digest::of_bytes(content.as_bytes()))
            .unwrap();
    }
}

#[test]
fn threads_writing_the_same_blobs_agree() {
    let work = tempfile::tempdir().unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let src = shared_source(work.path());
    let roots: Vec<Digest> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|worker| {
                let cache = cache.clone();
                let src = &src;
                scope.spawn(move || concurrent_writes(&cache, src, worker))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(roots.windows(2).all(|w| w[0] == w[1]));
    assert_eq!(blob_count(&cache), 200 + 4 + 100 + 8);
    check_consistent(&cache, &roots[0], &src, work.path());
}

/// Not a test by itself: the body of each process spawned by
/// `processes_writing_the_same_blobs_agree`.
#[test]
#[ignore = "run as a child process by processes_writing_the_same_blobs_agree"]
fn concurrent_writer_process() {
    let (Ok(root), Ok(src), Ok(worker)) = (
        std::env::var("BITZEL_CAS_TEST_ROOT"),
        std::env::var("BITZEL_CAS_TEST_SRC"),
        std::env::var("BITZEL_CAS_TEST_WORKER"),
    ) else {
        return;
    };
    let cache = Cache::open(root).unwrap();
    let digest = concurrent_writes(&cache, Path::new(&src), worker.parse().unwrap());
    println!("ROOT {digest}");
}

#[test]
fn processes_writing_the_same_blobs_agree() {
    let work = tempfile::tempdir().unwrap();
    let cache_dir = work.path().join("cache");
    let src = shared_source(work.path());
    let children: Vec<_> = (0..3)
        .map(|worker| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "concurrent_writer_process",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("BITZEL_CAS_TEST_ROOT", &cache_dir)
                .env("BITZEL_CAS_TEST_SRC", &src)
                .env("BITZEL_CAS_TEST_WORKER", worker.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut roots = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success());
        let stdout = String::from_utf8(output.stdout).unwrap();
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("ROOT ").map(|(_, digest)| digest))
            .expect("the child printed its root digest");
        roots.push(line.parse::<Digest>().unwrap());
    }
    assert!(roots.windows(2).all(|w| w[0] == w[1]));
    let cache = Cache::open(&cache_dir).unwrap();
    assert_eq!(blob_count(&cache), 200 + 3 + 100 + 8);
    check_consistent(&cache, &roots[0], &src, work.path());
}

/// Not a test by itself: stores blobs and trees until it is killed, for
/// `a_killed_writer_leaves_a_usable_cache`.
#[test]
#[ignore = "run as a child process by a_killed_writer_leaves_a_usable_cache"]
fn endless_writer_process() {
    let (Ok(root), Ok(scratch)) = (
        std::env::var("BITZEL_CAS_TEST_ROOT"),
        std::env::var("BITZEL_CAS_TEST_SCRATCH"),
    ) else {
        return;
    };
    let cache = Cache::open(root).unwrap();
    let _lock = cache.lock_shared().unwrap();
    println!("WRITING");
    for round in 0u64.. {
        let src = Path::new(&scratch).join(format!("round{round}"));
        for i in 0..50u64 {
            let content = format!("round {round} file {i}\n").repeat((i as usize + 1) * 30);
            write(
                &src.join(format!("d{}/f{i}", i % 5)),
                content.as_bytes(),
                0o644,
            );
        }
        let root = cache.capture(&src).unwrap().root;
        let result = result_for(&cache, &root, format!("round {round}").as_bytes());
        cache
            .put_action_result(&Digest::of_bytes(&round.to_le_bytes()), &result)
            .unwrap();
        cache.put_bytes(&vec![round as u8; 300_000]).unwrap();
    }
}

#[test]
fn a_killed_writer_leaves_a_usable_cache() {
    let work = tempfile::tempdir().unwrap();
    let cache_dir = work.path().join("cache");
    let scratch = work.path().join("scratch");
    fs::create_dir(&scratch).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "endless_writer_process",
            "--ignored",
            "--nocapture",
        ])
        .env("BITZEL_CAS_TEST_ROOT", &cache_dir)
        .env("BITZEL_CAS_TEST_SCRATCH", &scratch)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Let it get well into writing, then SIGKILL it wherever it is.
    let cache = Cache::open(&cache_dir).unwrap();
    let started = std::time::Instant::now();
    while cache.stats().unwrap().action_results < 3 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(37));
    child.kill().unwrap();
    child.wait().unwrap();

    // Every blob under a final name is complete and sealed.
    let mut blobs = 0;
    for shard in fs::read_dir(cache_dir.join("cas/sha256")).unwrap() {
        for file in fs::read_dir(shard.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let digest = Digest::of_bytes(&fs::read(&path).unwrap());
            assert_eq!(path.file_name().unwrap().to_str().unwrap(), digest.hex());
            cache.verify_blob(&digest).unwrap();
            blobs += 1;
        }
    }
    assert!(blobs > 0);
    // Every action result restores completely.
    for shard in fs::read_dir(cache_dir.join("ac/sha256")).unwrap() {
        for file in fs::read_dir(shard.unwrap().path()).unwrap() {
            let name = file.unwrap().file_name();
            let key = Digest {
                hash: Digest::from_proto(&reapi::Digest {
                    hash: name.to_str().unwrap().to_string(),
                    size_bytes: 0,
                })
                .unwrap()
                .hash,
                size_bytes: 8,
            };
            let result = cache.get_action_result(&key).unwrap().unwrap();
            let dest = work.path().join(format!("check-{}", key.hex()));
            cache
                .restore_output_directory(&result.output_directories[0], &dest, &hardlink())
                .unwrap();
        }
    }
    // The next run works, and gc clears what the killed one left in tmp/.
    let src = work.path().join("after");
    write(&src.join("f"), b"after the crash", 0o644);
    cache.capture(&src).unwrap();
    let lock = cache.lock_exclusive().unwrap();
    cache.gc(&lock, u64::MAX).unwrap();
    assert_eq!(cache.stats().unwrap().temp_files, 0);
}

fn bitzel(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_bitzel"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("bitzel runs")
}

#[test]
fn cli_reports_and_collects_the_cache() {
    let work = tempfile::tempdir().unwrap();
    // The default cache is ./cache, as from a build directory.
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let (key, _) = task_output(&cache, work.path(), "task", b't', 3000);

    let out = bitzel(&["cache", "stats"], work.path());
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stats = cache.stats().unwrap();
    assert!(
        stdout.contains(&format!("blobs: {} (", stats.blobs)),
        "{stdout}"
    );
    assert!(stdout.contains("action results: 1 ("), "{stdout}");

    let elsewhere = tempfile::tempdir().unwrap();
    let dir = work.path().join("cache");
    let dir = dir.to_str().unwrap();
    let out = bitzel(
        &["cache", "gc", "--max-size", "1M", "--cache", dir],
        elsewhere.path(),
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("kept 1 action results"), "{stdout}");
    assert!(cache.get_action_result(&key).unwrap().is_some());

    let out = bitzel(
        &["cache", "--cache", dir, "gc", "--max-size", "0"],
        elsewhere.path(),
    );
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("removed 1 action results"), "{stdout}");
    assert_eq!(cache.stats().unwrap().total_bytes(), 0);

    let out = bitzel(&["cache", "gc", "--max-size", "lots"], work.path());
    assert_eq!(out.status.code(), Some(2));
    let out = bitzel(&["cache", "stats"], elsewhere.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no cache at cache"));
}
