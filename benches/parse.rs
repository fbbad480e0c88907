//! Parser throughput, in bytes of metadata per second on one thread.
//!
//! `synthetic_recipe` parses a ~2 MB file generated here from statements we
//! wrote ourselves, in the proportions real layers use them. With
//! `BITZEL_BENCH_CORPUS=DIR` (an oe-core checkout, say), `corpus` also parses
//! every metadata file under `DIR`, read into memory once. Each bench checks
//! its own result before timing: round trips and, for the synthetic file,
//! zero errors and the expected number of statements.
//!
//! `cargo bench --bench parse`; `scripts/bench-parse.sh PATH` times the
//! whole `bitzel check` command instead.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use bitzel::syntax::{FileKind, parse};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The size the synthetic file grows to.
const SYNTHETIC_BYTES: usize = 2 << 20;

/// One recipe's worth of statements; `{i}` and `{j}` become numbers so that
/// no two blocks are identical. Each entry is exactly one statement.
const STATEMENTS: &[&str] = &[
    "SUMMARY = \"Package number {i} for the parse benchmark\"\n",
    "DESCRIPTION = \"A longer description of package {i}, with ${PN} and \
     ${@d.getVar('PV')} references in it.\"\n",
    "HOMEPAGE = \"https://example.org/pkg{i}\"\n",
    "LICENSE = \"MIT & GPL-2.0-only\"\n",
    "LIC_FILES_CHKSUM = \"file://COPYING;md5=0123456789abcdef0123456789abcdef \\\n\
     \x20                   file://LICENSE;md5=fedcba9876543210fedcba9876543210\"\n",
    "SRC_URI = \"git://git.example.org/pkg{i}.git;protocol=https;branch=main \\\n\
     \x20          file://0001-fix-build-{i}.patch \\\n\
     \x20          file://pkg{i}.service \\\n\
     \x20          \"\n",
    "SRCREV = \"4f3c2a1b0e9d8c7b6a5f4e3d2c1b0a9f8e7d{i}\"\n",
    "PV = \"1.{i}.0+git\"\n",
    "S = \"${WORKDIR}/git\"\n",
    "inherit autotools pkgconfig systemd update-rc.d\n",
    "DEPENDS = \"zlib openssl libpkg{j}\"\n",
    "DEPENDS:append:class-target = \" libtarget{i}\"\n",
    "RDEPENDS:${PN} += \"bash python3-core\"\n",
    "RDEPENDS:${PN}-ptest:remove = \"perl\"\n",
    "PACKAGECONFIG ??= \"foo bar\"\n",
    "PACKAGECONFIG[foo] = \"--enable-foo,--disable-foo,libfoo\"\n",
    "PACKAGECONFIG[bar] = \"--with-bar,--without-bar,,bar-runtime\"\n",
    "EXTRA_OECONF:prepend = \"--disable-static \"\n",
    "EXTRA_OECMAKE .= \" -DFOO=${@bb.utils.contains('DISTRO_FEATURES', 'x11', 'ON', 'OFF', d)}\"\n",
    "CFLAGS =+ \"-O2\"\n",
    "LDFLAGS =. \"-Wl,--as-needed \"\n",
    "FILES:${PN} += \"${datadir}/pkg{i} ${sysconfdir}/pkg{i}.conf\"\n",
    "CONFFILES:${PN} = \"${sysconfdir}/pkg{i}.conf\"\n",
    "SYSTEMD_SERVICE:${PN} = \"pkg{i}.service\"\n",
    "export PKG{i}_HOME = \"${STAGING_DIR_HOST}/pkg\"\n",
    "export BUILD_CC\n",
    "unset OLD_VAR_{i}\n",
    "unset do_compile[noexec]\n",
    "do_compile[depends] += \"virtual/kernel:do_shared_workdir\"\n",
    "do_install[doc] = \"Installs package {i}\"\n",
    "BBCLASSEXTEND = \"native nativesdk\"\n",
    "PV:pn-foo{i} := \"${PV}\"\n",
    "TUNE ?= 'single-quoted {i}'\n",
    "do_configure:prepend() {\n\
     \tmkdir -p ${B}/build-{i}\n\
     \techo \"configuring {i}\" > ${B}/config.log\n\
     }\n",
    "do_install() {\n\
     \tinstall -d ${D}${bindir} ${D}${sysconfdir}\n\
     \tinstall -m 0755 ${B}/pkg{i} ${D}${bindir}/\n\
     \tif [ \"${@bb.utils.filter('DISTRO_FEATURES', 'systemd', d)}\" ]; then\n\
     \t\tinstall -m 0644 ${UNPACKDIR}/pkg{i}.service ${D}${systemd_unitdir}/system/\n\
     \tfi\n\
     }\n",
    "python do_package:append() {\n\
     \x20   pn = d.getVar('PN')\n\
     \x20   for pkg in (d.getVar('PACKAGES') or '').split():\n\
     \x20       d.appendVar('RDEPENDS:' + pkg, ' base-files')\n\
     }\n",
    "fakeroot do_deploy() {\n\
     \tcp -a ${D} ${DEPLOYDIR}/pkg{i}\n\
     }\n",
    "python () {\n\
     \x20   if d.getVar('PN') == 'pkg{i}':\n\
     \x20       d.setVar('EXTRA', '1')\n\
     }\n",
    "def pkg{i}_version(d):\n\
     \x20   pv = d.getVar('PV')\n\
     \x20   return pv.split('+')[0]\n",
    "addtask deploy after do_install before do_build\n",
    "addtask do_check{i} after do_compile\n",
    "deltask do_fetch_{i}\n",
    "EXPORT_FUNCTIONS do_configure do_compile\n",
    "include conf/pkg{i}.inc\n",
    "require recipes/common-{j}.inc\n",
];

/// A metadata file of at least `min_bytes`, and how many statements it holds.
///
/// Blocks of `STATEMENTS` separated by a comment and blank lines, which are
/// trivia under the file node rather than statements.
fn synthetic_recipe(min_bytes: usize) -> (String, usize) {
    let mut text = String::with_capacity(min_bytes + 8192);
    let mut statements = 0;
    let mut i = 0usize;
    while text.len() < min_bytes {
        let j = i % 17;
        text.push_str(&format!(
            "# Synthetic recipe {i}: the statements real layers use.\n\n"
        ));
        for (n, statement) in STATEMENTS.iter().enumerate() {
            let statement = statement
                .replace("{i}", &i.to_string())
                .replace("{j}", &j.to_string());
            text.push_str(&statement);
            if n % 8 == 7 {
                text.push('\n');
            }
        }
        text.push('\n');
        statements += STATEMENTS.len();
        i += 1;
    }
    (text, statements)
}

/// Parses once outside the timer and checks what the bench relies on.
fn check_round_trip(kind: FileKind, name: &str, text: &str) -> usize {
    let parse = parse(kind, text);
    assert!(
        parse.syntax_node().to_string() == text,
        "{name}: the tree's text differs from the input"
    );
    parse.errors().len()
}

fn bench_synthetic(c: &mut Criterion) {
    let (text, expected_statements) = synthetic_recipe(SYNTHETIC_BYTES);
    let parsed = parse(FileKind::Recipe, &text);
    assert!(
        parsed.errors().is_empty(),
        "the synthetic file has errors: {:?}",
        &parsed.errors()[..parsed.errors().len().min(5)]
    );
    assert!(parsed.syntax_node().to_string() == text, "no round trip");
    let statements = parsed.syntax_node().children().count();
    assert_eq!(statements, expected_statements, "statement count");
    drop(parsed);

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("synthetic_recipe", |b| {
        b.iter(|| parse(FileKind::Recipe, black_box(&text)))
    });
    group.finish();
}

/// Every metadata file under `root`, in path order, skipping dot directories.
fn metadata_files(root: &Path) -> Vec<(PathBuf, FileKind)> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("BITZEL_BENCH_CORPUS: {}: {e}", dir.display()));
        for entry in entries {
            let entry = entry.expect("readable directory entry");
            let path = entry.path();
            let file_type = entry.file_type().expect("file type");
            if file_type.is_dir() {
                if !entry.file_name().to_string_lossy().starts_with('.') {
                    dirs.push(path);
                }
            } else if file_type.is_file()
                && let Some(kind) = FileKind::from_path(&path)
            {
                files.push((path, kind));
            }
        }
    }
    files.sort();
    files
}

fn bench_corpus(c: &mut Criterion) {
    let Some(root) = std::env::var_os("BITZEL_BENCH_CORPUS") else {
        return;
    };
    let root = PathBuf::from(root);
    let files: Vec<(FileKind, String)> = metadata_files(&root)
        .into_iter()
        .filter_map(|(path, kind)| {
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("BITZEL_BENCH_CORPUS: {}: {e}", path.display()));
            // BitBake cannot read a file that is not UTF-8 either.
            String::from_utf8(bytes).ok().map(|text| (kind, text))
        })
        .collect();
    assert!(
        !files.is_empty(),
        "BITZEL_BENCH_CORPUS={} holds no metadata files",
        root.display()
    );
    let bytes: usize = files.iter().map(|(_, text)| text.len()).sum();
    let errors: usize = files
        .iter()
        .map(|(kind, text)| check_round_trip(*kind, "corpus file", text))
        .sum();
    eprintln!(
        "corpus {}: {} files, {bytes} bytes, {errors} errors",
        root.display(),
        files.len()
    );

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(30);
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for (kind, text) in &files {
                black_box(parse(*kind, black_box(text)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_synthetic, bench_corpus);
criterion_main!(benches);
