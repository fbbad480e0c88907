//! Helpers shared by the end-to-end tests: a build directory with one
//! layer of our own metadata, and running the `bitzel` binary in it.

#![allow(dead_code)]

pub mod demo;
pub mod python;

use std::path::Path;
use std::process::{Command, Output};

pub fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A build directory with one layer holding `files` (paths relative to
/// the layer), plus a minimal configuration.
pub fn build_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path();
    write(
        top,
        "conf/bblayers.conf",
        "BBLAYERS = \"${TOPDIR}/layer\"\n",
    );
    write(
        top,
        "layer/conf/layer.conf",
        "BBPATH .= \":${LAYERDIR}\"\n\
         BBFILES += \"${LAYERDIR}/recipes/*.bb ${LAYERDIR}/recipes/*.bbappend\"\n\
         BBFILE_COLLECTIONS += \"test\"\n\
         BBFILE_PATTERN_test = \"^${LAYERDIR}/\"\n\
         BBFILE_PRIORITY_test = \"5\"\n",
    );
    let mut has_conf = false;
    for (name, text) in files {
        has_conf |= *name == "conf/bitbake.conf";
        write(&top.join("layer"), name, text);
    }
    if !has_conf {
        write(&top.join("layer"), "conf/bitbake.conf", BITBAKE_CONF);
    }
    if !files.iter().any(|(n, _)| *n == "classes/base.bbclass") {
        write(&top.join("layer"), "classes/base.bbclass", BASE_CLASS);
    }
    dir
}

pub const BITBAKE_CONF: &str = r#"
PN = "${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[0] or 'defaultpkgname'}"
PV = "${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[1] or '1.0'}"
PR = "r0"
PACKAGES = "${PN}"
BB_DEFAULT_TASK ?= "build"
BB_BASEHASH_IGNORE_VARS = "TOPDIR FILE FILE_DIRNAME PWD PATH HOME BBPATH LAYERDIR TMPDIR"
TMPDIR = "${TOPDIR}/tmp"
include conf/extra.conf
"#;

pub const BASE_CLASS: &str = r#"
do_fetch() {
    :
}
addtask fetch
do_compile() {
    :
}
addtask compile after do_fetch
do_install() {
    :
}
addtask install after do_compile
do_build[noexec] = "1"
addtask build after do_install
"#;

/// Runs bitzel in `dir` with a fixed, minimal environment, so that the
/// variables metadata imports from the environment are the same on every
/// machine.
pub fn bitzel(args: &[&str], dir: &Path) -> Output {
    bitzel_command(args, dir).output().expect("bitzel runs")
}

/// The command [`bitzel`] runs, for tests that start it themselves.
pub fn bitzel_command(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bitzel"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent");
    command
}

/// `bitzel graph --format json ARGS`, which must succeed.
pub fn graph_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["graph", "--format", "json"];
    all.extend_from_slice(args);
    let out = bitzel(&all, dir);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bitzel graph prints JSON")
}

/// Writes `text` as the demo layer's `probe` recipe (`probe_1.0.bb`).
pub fn write_probe(dir: &Path, text: &str) {
    write(dir, "layer/recipes-demo/probe/probe_1.0.bb", text);
}

/// The probe recipe's work directory.
pub fn probe_workdir(dir: &Path) -> std::path::PathBuf {
    dir.join("tmp/work/x86_64-linux/probe/1.0")
}
