//! Sandbox set-up time: a `true` task run to its exit in a sandbox, minus
//! the same `true` started directly with `std::process::Command`.
//!
//! - `direct`: `Command::new(<host true>).status()`, the task itself;
//! - `minimal`: one host tool, no mounts, its own network namespace;
//! - `oe_core`: the host tools of openembedded-core's `HOSTTOOLS` that
//!   this host has (about a hundred), a writable work directory and two
//!   read-only input directories, as the executor will give a task;
//! - `oe_core_network`: the same with the host's network (`do_fetch`);
//! - `set_up_minimal`, `set_up_oe_core`: each sample is one sandboxed run
//!   minus one direct run taken just before it, so load on the machine
//!   cancels out pairwise; their median is the set-up time.
//!
//! Flat sampling with 200 samples of one iteration each, so a sample is
//! one run and criterion's median is the median of 200 runs.
//! `scripts/bench-sandbox.sh` runs this and prints the medians. Each bench
//! checks that its task succeeded.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bitzel::sandbox::{Mount, Sandbox, SandboxSpec, hosttools};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};

/// openembedded-core's host tools (`HOSTTOOLS` in `bitbake.conf`, the
/// always-present part), as tool names.
const OE_CORE_TOOLS: &str = "[ ar as awk basename bash bunzip2 bzip2 cat chgrp chmod chown \
    chrpath cmp comm cp cpio cpp cut date dd diff diffstat dirname du echo egrep env expand \
    expr false fgrep file find flock g++ gawk gcc getconf getopt git grep gunzip gzip head \
    hostname iconv id install ld ldd ln ls make md5sum mkdir mkfifo mknod mktemp mv nm objcopy \
    objdump od patch perl pr printf pwd python3 pzstd ranlib readelf readlink realpath rm rmdir \
    rpcgen sed seq sh sha1sum sha224sum sha256sum sha384sum sha512sum sleep sort split stat \
    strings strip tail tar tee test timeout touch tr true truncate uname uniq unzstd wc wget \
    which xargs zstd xz";

fn minimal_spec() -> SandboxSpec {
    let mut spec = SandboxSpec::new(["true"]);
    spec.hosttools = vec!["true".into()];
    spec.env = BTreeMap::from([("PATH".to_string(), "/hosttools".to_string())]);
    spec
}

fn oe_core_spec(dirs: &[tempfile::TempDir; 3]) -> SandboxSpec {
    let search = hosttools::default_search_path();
    let mut spec = minimal_spec();
    spec.hosttools = OE_CORE_TOOLS
        .split_whitespace()
        .filter(|name| hosttools::find(name, &search).is_some())
        .map(str::to_string)
        .collect();
    spec.mounts = vec![
        Mount::writable(dirs[0].path(), "/build/work/recipe/1.0"),
        Mount::read_only(dirs[1].path(), "/build/sysroots/recipe"),
        Mount::read_only(dirs[2].path(), "/build/downloads"),
    ];
    spec.cwd = PathBuf::from("/build/work/recipe/1.0");
    spec
}

fn run(sandbox: &Sandbox, spec: &SandboxSpec) {
    let status = sandbox.spawn(spec).expect("spawn").wait().expect("wait");
    assert!(status.success(), "{status}");
}

fn run_direct(program: &Path) {
    let status = std::process::Command::new(program).status().expect("spawn");
    assert!(black_box(status).success());
}

/// `iters` pairs of (direct, sandboxed) runs: the sandboxed time minus
/// the direct time, summed. A pair where noise made the sandbox faster
/// counts as 1 ns (criterion refuses zero).
fn paired(iters: u64, sandbox: &Sandbox, spec: &SandboxSpec, program: &Path) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        run_direct(program);
        let direct = start.elapsed();
        let start = Instant::now();
        run(sandbox, spec);
        total += start
            .elapsed()
            .saturating_sub(direct)
            .max(Duration::from_nanos(1));
    }
    total
}

fn bench(c: &mut Criterion) {
    let sandbox = Sandbox::with_helper(env!("CARGO_BIN_EXE_bitzel-sandbox"));
    let direct_true = hosttools::find("true", &hosttools::default_search_path())
        .expect("`true` on the host")
        .resolved;
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let minimal = minimal_spec();
    let oe_core = oe_core_spec(&dirs);
    let mut oe_core_network = oe_core.clone();
    oe_core_network.network = true;
    // Fail before timing if namespaces are unavailable; prepares the host
    // tools and /etc directories, which every later run reuses.
    for spec in [&minimal, &oe_core, &oe_core_network] {
        run(&sandbox, spec);
    }
    eprintln!("oe_core: {} host tools", oe_core.hosttools.len());

    let mut group = c.benchmark_group("sandbox");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(200)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("direct", |b| b.iter(|| run_direct(&direct_true)));
    group.bench_function("minimal", |b| b.iter(|| run(&sandbox, &minimal)));
    group.bench_function("oe_core", |b| b.iter(|| run(&sandbox, &oe_core)));
    group.bench_function("oe_core_network", |b| {
        b.iter(|| run(&sandbox, &oe_core_network))
    });
    group.bench_function("set_up_minimal", |b| {
        b.iter_custom(|iters| paired(iters, &sandbox, &minimal, &direct_true))
    });
    group.bench_function("set_up_oe_core", |b| {
        b.iter_custom(|iters| paired(iters, &sandbox, &oe_core, &direct_true))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
