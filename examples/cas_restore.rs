//! Restore rate of the CAS outside criterion, for profiling: captures
//! `SRC` into a fresh cache under `WORK`, then restores it `N` times in each
//! mode and prints files per second.
//!
//! `cargo run --release --example cas_restore -- SRC WORK [N [hardlink|copy]]`

use std::path::PathBuf;
use std::time::Instant;

use bitzel::cas::{Cache, RestoreMode, RestoreOptions, Verify};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: cas_restore SRC WORK [N]");
        std::process::exit(2);
    }
    let src = PathBuf::from(&args[1]);
    let work = PathBuf::from(&args[2]);
    let rounds: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(5);
    let cache = Cache::open(work.join("cache")).expect("cache opens");
    let started = Instant::now();
    let captured = cache.capture(&src).expect("capture");
    println!(
        "capture: {} files in {:.1} ms",
        captured.files,
        started.elapsed().as_secs_f64() * 1e3
    );
    let modes = match args.get(4).map(String::as_str) {
        Some("hardlink") => vec![RestoreMode::Hardlink],
        Some("copy") => vec![RestoreMode::Copy],
        _ => vec![RestoreMode::Hardlink, RestoreMode::Copy],
    };
    let mut restored = Vec::new();
    for mode in modes {
        let options = RestoreOptions {
            mode,
            verify: Verify::Metadata,
        };
        for round in 0..rounds {
            let dest = work.join(format!("restore-{mode:?}-{round}"));
            let cpu_before = cpu_seconds();
            let started = Instant::now();
            let stats = cache
                .restore(&captured.root, &dest, &options)
                .expect("restore");
            let seconds = started.elapsed().as_secs_f64();
            let cpu = cpu_seconds() - cpu_before;
            println!(
                "{mode:?}: {} files in {:.1} ms: {:.0} files/s ({:.1} ms CPU)",
                stats.files,
                seconds * 1e3,
                stats.files as f64 / seconds,
                cpu * 1e3
            );
            restored.push(dest);
        }
    }
    // Removed at the end: ext4 is slow to allocate inodes right after
    // freeing many (it skips recently deleted ones), which would charge
    // one round's deletion to the next round's restore.
    for dest in restored {
        std::fs::remove_dir_all(&dest).expect("cleanup");
    }
}

/// User and system CPU time of this process so far: on a busy machine a
/// steadier figure than wall time.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
