//! Helpers shared by the end-to-end tests: a build directory with one
//! layer of our own metadata, and running the `bitzel` binary in it.

#![allow(dead_code)]

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

pub fn bitzel(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bitzel"))
        .args(args)
        .current_dir(dir)
        .env_remove("BBPATH")
        .output()
        .expect("bitzel runs")
}
