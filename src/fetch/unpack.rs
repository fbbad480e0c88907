//! `Fetch.unpack()` for single-file and local sources, as BitBake's
//! default unpack method decides it, done in-process.
//!
//! - The destination is `UNPACKDIR`, or `UNPACKDIR/subdir` with `subdir=`
//!   (an absolute `subdir` must lie inside `UNPACKDIR`).
//! - By the name of the fetched file: `.tar`, `.tar.gz`/`.tgz`,
//!   `.tar.bz2`/`.tbz`/`.tbz2`, `.tar.xz`/`.txz`, `.tar.zst`/`.tzst` are
//!   extracted (`striplevel=` applies); `.zip`/`.jar` extracted; a lone
//!   `.gz`, `.bz2`, `.xz`, `.zst` file decompressed to `UNPACKDIR/NAME`
//!   without the suffix (into `UNPACKDIR` even with `subdir=`, as BitBake
//!   does); anything else, or anything with `unpack=0`, copied. Formats
//!   BitBake hands to other tools (`.Z`, `.lz`, `.7z`, `.rpm`, `.deb`,
//!   `.ipk`) are errors that say so.
//! - A `file://` source keeps its directories: `file://a/b.c` is copied to
//!   `UNPACKDIR/a/b.c`; a directory is copied whole, links kept as links.
//!
//! **Invariant:** nothing is written outside the destination (see
//! `extract`).

use std::io::{BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::extract::{extract_tar, extract_zip};
use super::{FetchError, Report, Source, to_boolean};

/// What the fetched file is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Tar(Compression),
    Zip,
    /// One compressed file.
    Single(Compression),
    /// Copied as it is.
    Plain,
    /// Known to BitBake, not handled by bitzel (the suffix).
    Unsupported(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

impl Format {
    /// BitBake's checks, in its order.
    pub fn of(name: &str) -> Format {
        use Compression::*;
        let ends = |suffixes: &[&str]| suffixes.iter().any(|s| name.ends_with(s));
        if ends(&[".tar"]) {
            Format::Tar(None)
        } else if ends(&[".tar.Z"]) {
            Format::Unsupported(".tar.Z")
        } else if ends(&[".tgz", ".tar.gz"]) {
            Format::Tar(Gzip)
        } else if ends(&[".tbz", ".tbz2", ".tar.bz2"]) {
            Format::Tar(Bzip2)
        } else if ends(&[".Z"]) {
            Format::Unsupported(".Z")
        } else if ends(&[".gz", ".z"]) {
            Format::Single(Gzip)
        } else if ends(&[".bz2"]) {
            Format::Single(Bzip2)
        } else if ends(&[".txz", ".tar.xz"]) {
            Format::Tar(Xz)
        } else if ends(&[".xz"]) {
            Format::Single(Xz)
        } else if ends(&[".tar.lz"]) {
            Format::Unsupported(".tar.lz")
        } else if ends(&[".lz"]) {
            Format::Unsupported(".lz")
        } else if ends(&[".tar.7z"]) {
            Format::Unsupported(".tar.7z")
        } else if ends(&[".7z"]) {
            Format::Unsupported(".7z")
        } else if ends(&[".tzst", ".tar.zst"]) {
            Format::Tar(Zstd)
        } else if ends(&[".zst"]) {
            Format::Single(Zstd)
        } else if ends(&[".zip", ".jar"]) {
            Format::Zip
        } else if ends(&[".rpm", ".srpm"]) {
            Format::Unsupported(".rpm")
        } else if ends(&[".deb", ".ipk"]) {
            Format::Unsupported(".deb")
        } else {
            Format::Plain
        }
    }
}

/// `reader` decompressed.
pub fn decompressor<'a>(
    compression: Compression,
    reader: impl Read + 'a,
) -> Result<Box<dyn Read + 'a>, String> {
    let reader = BufReader::with_capacity(1 << 16, reader);
    Ok(match compression {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(reader)),
        Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(reader)
                .map_err(|e| format!("cannot start zstd: {e}"))?,
        ),
    })
}

/// Unpacks the fetched file `file` of `source` into `root`.
pub fn unpack(
    source: &Source,
    file: &Path,
    root: &Path,
    report: &mut Report,
) -> Result<(), FetchError> {
    let fail = |message: String| FetchError::Unpack {
        url: source.text.clone(),
        message,
    };
    let params = &source.url.params;
    let do_unpack =
        to_boolean(params.get("unpack"), true).map_err(|e| fail(format!("unpack=: {e}")))?;
    if to_boolean(params.get("dos"), false).map_err(|e| fail(format!("dos=: {e}")))? {
        return Err(fail(
            "dos=1 (line-ending conversion of zip members) is not supported by bitzel".into(),
        ));
    }
    let dest = match params.get("subdir") {
        Some(subdir) if subdir.starts_with('/') => {
            let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
            let real_subdir = Path::new(subdir)
                .canonicalize()
                .unwrap_or_else(|_| PathBuf::from(subdir));
            if !real_subdir.starts_with(&real_root) {
                return Err(fail(format!(
                    "subdir={subdir} is not a subdirectory of the unpack root {}",
                    root.display()
                )));
            }
            PathBuf::from(subdir)
        }
        Some(subdir) => root.join(subdir),
        None => root.to_path_buf(),
    };
    std::fs::create_dir_all(&dest)
        .map_err(|e| fail(format!("cannot create {}: {e}", dest.display())))?;
    let strip = match params.get("striplevel") {
        Some(level) if !level.is_empty() && level.bytes().all(|b| b.is_ascii_digit()) => level
            .parse::<usize>()
            .map_err(|e| fail(format!("striplevel={level}: {e}")))?,
        Some(level) => return Err(fail(format!("invalid striplevel parameter: {level}"))),
        None => 0,
    };
    let name = file.to_string_lossy();
    let format = if do_unpack && file.is_file() {
        Format::of(&name)
    } else {
        Format::Plain
    };
    let open = || {
        std::fs::File::open(file).map_err(|e| fail(format!("cannot open {}: {e}", file.display())))
    };
    match format {
        Format::Tar(compression) => {
            report.notes.push(format!(
                "Unpacking {} to {}/",
                file.display(),
                dest.display()
            ));
            let reader = decompressor(compression, open()?).map_err(&fail)?;
            extract_tar(reader, &dest, strip).map_err(|e| fail(format!("{}: {e}", file.display())))
        }
        Format::Zip => {
            report.notes.push(format!(
                "Unpacking {} to {}/",
                file.display(),
                dest.display()
            ));
            extract_zip(file, &dest).map_err(|e| fail(format!("{}: {e}", file.display())))
        }
        Format::Single(compression) => {
            // BitBake writes these to the unpack root, whatever subdir= says.
            let stem = file
                .file_stem()
                .map(|s| s.to_os_string())
                .unwrap_or_default();
            let out_path = root.join(stem);
            report.notes.push(format!(
                "Unpacking {} to {}",
                file.display(),
                out_path.display()
            ));
            let mut reader = decompressor(compression, open()?).map_err(&fail)?;
            let _ = std::fs::remove_file(&out_path);
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(&out_path)
                .map_err(|e| fail(format!("cannot create {}: {e}", out_path.display())))?;
            std::io::copy(&mut reader, &mut out)
                .and_then(|_| out.flush())
                .map_err(|e| fail(format!("decompressing {}: {e}", file.display())))?;
            Ok(())
        }
        Format::Unsupported(suffix) => Err(fail(format!(
            "bitzel cannot unpack {suffix} files yet; add unpack=0 to the URL and unpack it \
             in the recipe"
        ))),
        Format::Plain => copy_source(source, file, &dest).map_err(fail),
    }
}

/// Copies a file or directory that is not unpacked, keeping a `file://`
/// URL's directories below `dest`.
fn copy_source(source: &Source, file: &Path, dest: &Path) -> Result<(), String> {
    let base = file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    let direct = dest.join(&base);
    if direct.exists() && same_file(file, &direct) {
        return Ok(());
    }
    let mut target_dir = dest.to_path_buf();
    if source.url.scheme == "file" {
        let rel = source
            .url
            .path
            .trim_end_matches('/')
            .trim_start_matches('/');
        if let Some((dirs, _)) = rel.rsplit_once('/') {
            target_dir = dest.join(dirs);
            std::fs::create_dir_all(&target_dir)
                .map_err(|e| format!("cannot create {}: {e}", target_dir.display()))?;
        }
    }
    let target = target_dir.join(&base);
    // The source itself is followed if it is a link (cp -H); links inside
    // a directory are copied as links.
    let meta = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if meta.is_dir() {
        copy_tree(file, &target)
    } else {
        copy_file(file, &target, &meta)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Copies one file: content, mode (without group/other write), time. An
/// existing file or link at `target` is replaced, not written through.
fn copy_file(file: &Path, target: &Path, meta: &std::fs::Metadata) -> Result<(), String> {
    match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => {
            return Err(format!(
                "cannot copy {} over the directory {}",
                file.display(),
                target.display()
            ));
        }
        Ok(_) => std::fs::remove_file(target)
            .map_err(|e| format!("cannot replace {}: {e}", target.display()))?,
        Err(_) => {}
    }
    std::fs::copy(file, target).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            file.display(),
            target.display()
        )
    })?;
    let mode = meta.permissions().mode() & 0o7777 & !0o022;
    std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("cannot set the mode of {}: {e}", target.display()))?;
    if let Ok(modified) = meta.modified() {
        let out = std::fs::OpenOptions::new()
            .write(true)
            .open(target)
            .map_err(|e| format!("{}: {e}", target.display()))?;
        let _ = out.set_modified(modified);
    }
    Ok(())
}

/// Copies a directory tree, links as links, times kept.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let mut directories = Vec::new();
    for entry in walkdir::WalkDir::new(from).follow_links(false) {
        let entry = entry.map_err(|e| format!("reading {}: {e}", from.display()))?;
        let rel = entry.path().strip_prefix(from).unwrap_or(Path::new(""));
        let target = to.join(rel);
        let meta = if entry.depth() == 0 {
            std::fs::metadata(entry.path())
        } else {
            std::fs::symlink_metadata(entry.path())
        }
        .map_err(|e| format!("{}: {e}", entry.path().display()))?;
        if meta.is_dir() {
            if !target.is_dir() {
                if std::fs::symlink_metadata(&target).is_ok() {
                    std::fs::remove_file(&target)
                        .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
                }
                std::fs::create_dir_all(&target)
                    .map_err(|e| format!("cannot create {}: {e}", target.display()))?;
            }
            directories.push((target, meta));
        } else if meta.file_type().is_symlink() {
            let link = std::fs::read_link(entry.path())
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
            if std::fs::symlink_metadata(&target).is_ok() {
                std::fs::remove_file(&target)
                    .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
            }
            std::os::unix::fs::symlink(&link, &target)
                .map_err(|e| format!("cannot create {}: {e}", target.display()))?;
        } else {
            copy_file(entry.path(), &target, &meta)?;
        }
    }
    for (dir, meta) in directories.iter().rev() {
        let mode = meta.permissions().mode() & 0o7777 & !0o022;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode));
        if let Ok(modified) = meta.modified()
            && let Ok(handle) = std::fs::File::open(dir)
        {
            let _ = handle.set_modified(modified);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt;

    fn source(url: &str) -> Source {
        Source::new(url, &HashMap::new(), None).unwrap()
    }

    /// A tar of `top/a.txt` (mode 0755, mtime 1000000), `top/sub/b.txt`,
    /// `top/link -> a.txt`, `top/hard` (hard link to a.txt).
    fn sample_tar() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut add =
            |path: &str, kind: tar::EntryType, mode: u32, data: &[u8], link: Option<&str>| {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(kind);
                header.set_mode(mode);
                header.set_mtime(1_000_000);
                header.set_size(data.len() as u64);
                if let Some(link) = link {
                    header.set_link_name(link).unwrap();
                }
                builder.append_data(&mut header, path, data).unwrap();
            };
        add("top/", tar::EntryType::Directory, 0o755, b"", None);
        add("top/a.txt", tar::EntryType::Regular, 0o755, b"alpha", None);
        add(
            "top/sub/b.txt",
            tar::EntryType::Regular,
            0o644,
            b"beta",
            None,
        );
        add(
            "top/link",
            tar::EntryType::Symlink,
            0o777,
            b"",
            Some("a.txt"),
        );
        add(
            "top/hard",
            tar::EntryType::Link,
            0o644,
            b"",
            Some("top/a.txt"),
        );
        builder.into_inner().unwrap()
    }

    fn compress(kind: Compression, data: &[u8]) -> Vec<u8> {
        match kind {
            Compression::None => data.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Bzip2 => {
                let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Xz => {
                let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
                e.write_all(data).unwrap();
                e.finish().unwrap()
            }
            Compression::Zstd => zstd::encode_all(data, 1).unwrap(),
        }
    }

    fn check_tree(top: &Path, stripped: bool) {
        assert_eq!(std::fs::read(top.join("a.txt")).unwrap(), b"alpha");
        assert_eq!(std::fs::read(top.join("sub/b.txt")).unwrap(), b"beta");
        assert_eq!(
            std::fs::read_link(top.join("link")).unwrap(),
            Path::new("a.txt")
        );
        let a = std::fs::metadata(top.join("a.txt")).unwrap();
        assert_eq!(a.mode() & 0o777, 0o755);
        assert_eq!(a.mtime(), 1_000_000);
        assert_eq!(std::fs::metadata(top.join("hard")).unwrap().ino(), a.ino());
        if !stripped {
            assert_eq!(std::fs::metadata(top).unwrap().mtime(), 1_000_000);
        }
    }

    #[test]
    fn every_tar_compression_unpacks_with_and_without_striplevel() {
        let tar = sample_tar();
        for (suffix, kind) in [
            ("tar", Compression::None),
            ("tar.gz", Compression::Gzip),
            ("tgz", Compression::Gzip),
            ("tar.bz2", Compression::Bzip2),
            ("tar.xz", Compression::Xz),
            ("txz", Compression::Xz),
            ("tar.zst", Compression::Zstd),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join(format!("x.{suffix}"));
            std::fs::write(&file, compress(kind, &tar)).unwrap();
            let root = dir.path().join("unpack");
            std::fs::create_dir(&root).unwrap();
            let url = format!("https://h/x.{suffix}");
            unpack(&source(&url), &file, &root, &mut Report::default()).unwrap();
            check_tree(&root.join("top"), false);
            unpack(
                &source(&format!("{url};striplevel=1;subdir=s")),
                &file,
                &root,
                &mut Report::default(),
            )
            .unwrap();
            check_tree(&root.join("s"), true);
        }
    }

    #[test]
    fn traversal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(4);
        header.set_mode(0o644);
        // set_path refuses `..`; write the name bytes directly.
        let name = b"../escaped";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_cksum();
        builder.append(&header, &b"evil"[..]).unwrap();
        let file = dir.path().join("evil.tar");
        std::fs::write(&file, builder.into_inner().unwrap()).unwrap();
        let root = dir.path().join("unpack");
        let err = unpack(
            &source("https://h/evil.tar"),
            &file,
            &root,
            &mut Report::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(".."), "{err}");
        assert!(!dir.path().join("escaped").exists());
    }

    #[test]
    fn zip_single_files_and_plain_copies() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("unpack");
        std::fs::create_dir(&root).unwrap();
        // zip
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        zip.add_directory("z/", options).unwrap();
        zip.start_file("z/run.sh", options).unwrap();
        zip.write_all(b"#!/bin/sh\n").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let file = dir.path().join("z.zip");
        std::fs::write(&file, bytes).unwrap();
        unpack(
            &source("https://h/z.zip"),
            &file,
            &root,
            &mut Report::default(),
        )
        .unwrap();
        assert_eq!(
            std::fs::read(root.join("z/run.sh")).unwrap(),
            b"#!/bin/sh\n"
        );
        assert_eq!(
            std::fs::metadata(root.join("z/run.sh")).unwrap().mode() & 0o777,
            0o755
        );
        // A single compressed file goes to the root without its suffix.
        for (suffix, kind) in [
            ("gz", Compression::Gzip),
            ("bz2", Compression::Bzip2),
            ("xz", Compression::Xz),
            ("zst", Compression::Zstd),
        ] {
            let file = dir.path().join(format!("data.txt.{suffix}"));
            std::fs::write(&file, compress(kind, b"payload")).unwrap();
            unpack(
                &source(&format!("https://h/data.txt.{suffix};subdir=ignored")),
                &file,
                &root,
                &mut Report::default(),
            )
            .unwrap();
            assert_eq!(std::fs::read(root.join("data.txt")).unwrap(), b"payload");
        }
        // unpack=0: copied as is.
        let file = dir.path().join("keep.tar.gz");
        std::fs::write(&file, b"not really").unwrap();
        unpack(
            &source("https://h/keep.tar.gz;unpack=0"),
            &file,
            &root,
            &mut Report::default(),
        )
        .unwrap();
        assert_eq!(
            std::fs::read(root.join("keep.tar.gz")).unwrap(),
            b"not really"
        );
        // file:// keeps its directories; a directory is copied whole.
        let files = dir.path().join("files");
        std::fs::create_dir_all(files.join("conf/d")).unwrap();
        std::fs::write(files.join("conf/d/x.cfg"), b"x").unwrap();
        std::os::unix::fs::symlink("x.cfg", files.join("conf/d/y.cfg")).unwrap();
        unpack(
            &source("file://conf/d/x.cfg"),
            &files.join("conf/d/x.cfg"),
            &root,
            &mut Report::default(),
        )
        .unwrap();
        assert_eq!(std::fs::read(root.join("conf/d/x.cfg")).unwrap(), b"x");
        unpack(
            &source("file://conf;subdir=copy"),
            &files.join("conf"),
            &root,
            &mut Report::default(),
        )
        .unwrap();
        assert_eq!(
            std::fs::read_link(root.join("copy/conf/d/y.cfg")).unwrap(),
            Path::new("x.cfg")
        );
        // Formats BitBake hands to other tools are named.
        let file = dir.path().join("a.7z");
        std::fs::write(&file, b"7z").unwrap();
        let err = unpack(
            &source("https://h/a.7z"),
            &file,
            &root,
            &mut Report::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains(".7z"), "{err}");
        // striplevel must be a number.
        let file = dir.path().join("x.tar");
        std::fs::write(&file, sample_tar()).unwrap();
        assert!(
            unpack(
                &source("https://h/x.tar;striplevel=one"),
                &file,
                &root,
                &mut Report::default()
            )
            .is_err()
        );
    }
}
