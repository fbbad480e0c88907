//! CAS restore and capture rates, in files per second, on a generated tree
//! of 10,000 files (20 × 10 directories of 50 files, 64 B to 16 KiB, one in
//! ten executable, one in twenty a duplicate), like a sysroot or an image
//! staging directory.
//!
//! - `restore/hardlink` and `restore/copy`: materialise the whole tree from
//!   a warm cache into a new directory (seal checks included; the target
//!   is 50,000 files/s). The executable twins exist after the warm-up.
//!   Deleting the results is not timed.
//! - `capture/unchanged`: capture the tree again when every blob is
//!   already stored (the executor's cost for a task whose outputs did not
//!   change): read, hash, find, build the directory messages.
//!
//! `cargo bench --bench cas`. The cache and the trees live under
//! `BITZEL_BENCH_DIR` (default: the system temporary directory), so put it
//! on the file system the cache will use.

use std::fs;
use std::hint::black_box;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bitzel::cas::{Cache, RestoreMode, RestoreOptions, Verify};
use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const TOP_DIRS: usize = 20;
const SUB_DIRS: usize = 10;
const FILES_PER_DIR: usize = 50;
const FILES: usize = TOP_DIRS * SUB_DIRS * FILES_PER_DIR;

/// A small deterministic generator (xorshift), so every run builds the
/// same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn generate_tree(root: &Path) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut n = 0usize;
    for top in 0..TOP_DIRS {
        for sub in 0..SUB_DIRS {
            let dir = root.join(format!("top{top:02}/sub{sub}"));
            fs::create_dir_all(&dir).unwrap();
            for file in 0..FILES_PER_DIR {
                n += 1;
                let size = 64 + (rng.next() % (16 << 10)) as usize;
                // One file in twenty repeats an earlier content.
                let seed = if n.is_multiple_of(20) { n / 2 } else { n };
                let mut content = format!("file {seed}\n").into_bytes();
                content.resize(size.max(content.len()), b'a' + (seed % 26) as u8);
                let path = dir.join(format!("f{file:02}.dat"));
                fs::write(&path, &content).unwrap();
                let mode = if n.is_multiple_of(10) { 0o755 } else { 0o644 };
                fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let base = std::env::var_os("BITZEL_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let work = tempfile::tempdir_in(base).unwrap();
    let src = work.path().join("src");
    generate_tree(&src);
    let cache = Cache::open(work.path().join("cache")).unwrap();
    let captured = cache.capture(&src).unwrap();
    assert_eq!(captured.files, FILES as u64);

    let mut group = c.benchmark_group("restore");
    group.throughput(Throughput::Elements(FILES as u64));
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_secs(1));
    let mut counter = 0u64;
    for (name, mode) in [
        ("hardlink", RestoreMode::Hardlink),
        ("copy", RestoreMode::Copy),
    ] {
        let options = RestoreOptions {
            mode,
            verify: Verify::Metadata,
        };
        // Restored trees are removed after the group: ext4 without a
        // journal allocates inodes slowly right after many were freed,
        // which would charge one iteration's cleanup to the next.
        let mut restored = Vec::new();
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    counter += 1;
                    work.path().join(format!("restore-{counter}"))
                },
                |dest| {
                    let stats = cache.restore(&captured.root, &dest, &options).unwrap();
                    restored.push(dest);
                    stats.files
                },
                BatchSize::PerIteration,
            )
        });
        for dest in restored {
            fs::remove_dir_all(dest).unwrap();
        }
    }
    group.finish();

    let mut group = c.benchmark_group("capture");
    group.throughput(Throughput::Elements(FILES as u64));
    group.sample_size(10);
    group.bench_function("unchanged", |b| {
        b.iter(|| black_box(cache.capture(&src).unwrap().root))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
