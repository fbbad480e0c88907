//! Task signatures end to end, on small layers of our own: base hashes
//! and dependency sets (`bitzel env --json`), task hashes (`bitzel graph
//! --format json`) and `bitzel explain`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{bitzel, build_dir, graph_json, write};

const CONF: &str = r#"
PN = "${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[0] or 'defaultpkgname'}"
PV = "${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[1] or '1.0'}"
PR = "r0"
BB_DEFAULT_TASK ?= "build"
BB_BASEHASH_IGNORE_VARS = "PATH HOME TOPDIR FILE FILE_DIRNAME PWD BBPATH LAYERDIR"
export PATH
include conf/extra.conf
"#;

/// Task name -> task hash, from the graph of `target`.
fn task_hashes(dir: &Path, target: &str) -> BTreeMap<String, String> {
    let json = graph_json(dir, &[target]);
    json["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["taskhash"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The names whose hashes differ between two runs.
fn changed(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    a.iter()
        .filter(|(k, v)| b[*k] != **v)
        .map(|(k, _)| k.clone())
        .collect()
}

const RECIPE: &str = r#"
OPT = "1"
UNHASHED = "x"
do_compile() {
    echo ${OPT} ${UNHASHED}
}
do_compile[vardepsexclude] = "UNHASHED"
"#;

fn layer() -> tempfile::TempDir {
    build_dir(&[
        ("conf/bitbake.conf", CONF),
        ("conf/extra.conf", ""),
        ("recipes/app_1.0.bb", RECIPE),
    ])
}

fn edit_recipe(dir: &Path, from: &str, to: &str) {
    let path = dir.join("layer/recipes/app_1.0.bb");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from));
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn base_hash_and_dependencies_match_bitbake_for_the_spec_example() {
    // Spec §18.4: with BitBake, taskdeps(do_compile) = {A} and this hash.
    let dir = build_dir(&[
        ("conf/bitbake.conf", CONF),
        ("conf/extra.conf", ""),
        (
            "recipes/ex_1.0.bb",
            "A = \"a\"\ndo_compile() {\n    echo ${A}\n}\naddtask compile\n",
        ),
        ("classes/base.bbclass", ""),
    ]);
    let out = bitzel(&["env", "--json", "ex"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let compile = &json["tasks"]["do_compile"];
    assert_eq!(compile["vardeps"], serde_json::json!(["A"]));
    assert_eq!(
        compile["basehash"],
        "6b2b5f9428e3c55bf254e9afdb466cf6e9ad53c95e4315ddd869854e5f084242"
    );
}

#[test]
fn dependencies_are_found_in_shell_python_and_flags() {
    // Spec §18.4's second example, verified with BitBake.
    let recipe = r#"
A = "a"
B = "${A}"
export EXP = "e"
IGN = "i"
do_compile() {
    echo ${B} ${IGN}
    helper
    notafunc --x
}
helper() {
    echo ${C}
}
python do_py() {
    d.getVar("PYV")
    d.getVarFlag("PYF", "flag")
    bb.utils.contains("CONT", "x", "1", "0", d)
    bb.build.exec_func("helper", d)
    pyhelp(d)
}
def pyhelp(d):
    return d.getVar("PYH")
addtask compile
addtask py
"#;
    let dir = build_dir(&[
        ("conf/bitbake.conf", CONF),
        ("conf/extra.conf", "BB_BASEHASH_IGNORE_VARS += \"IGN\"\n"),
        ("recipes/ex_1.0.bb", recipe),
        ("classes/base.bbclass", ""),
    ]);
    let out = bitzel(&["env", "--json", "ex"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["tasks"]["do_compile"]["vardeps"],
        serde_json::json!(["A", "B", "C", "EXP", "helper"])
    );
    assert_eq!(
        json["tasks"]["do_py"]["vardeps"],
        serde_json::json!(["C", "EXP", "PYF[flag]", "PYH", "PYV", "helper", "pyhelp"])
    );
}

#[test]
fn a_variable_change_reruns_the_task_and_what_follows_only() {
    let dir = layer();
    let before = task_hashes(dir.path(), "app");
    edit_recipe(dir.path(), "OPT = \"1\"", "OPT = \"2\"");
    let after = task_hashes(dir.path(), "app");
    assert_eq!(
        changed(&before, &after),
        ["app.do_build", "app.do_compile", "app.do_install"]
    );
}

#[test]
fn an_excluded_variable_or_a_comment_changes_nothing() {
    let dir = layer();
    let before = task_hashes(dir.path(), "app");
    edit_recipe(dir.path(), "UNHASHED = \"x\"", "UNHASHED = \"y\"");
    assert_eq!(
        changed(&before, &task_hashes(dir.path(), "app")),
        Vec::<String>::new()
    );
    edit_recipe(dir.path(), "OPT = \"1\"", "# a comment\nOPT = \"1\"");
    assert_eq!(
        changed(&before, &task_hashes(dir.path(), "app")),
        Vec::<String>::new()
    );
}

#[test]
fn the_same_layer_elsewhere_gives_the_same_hashes() {
    let first = layer();
    let second = tempfile::tempdir().unwrap();
    let moved = second.path().join("somewhere/else");
    for entry in walkdir::WalkDir::new(first.path()) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(first.path()).unwrap();
        if entry.file_type().is_file() && !rel.starts_with("cache") {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            write(&moved, &rel.display().to_string(), &text);
        }
    }
    let a = task_hashes(first.path(), "app");
    let b = task_hashes(&moved, "app");
    assert_eq!(a, b);
}

#[test]
fn explain_names_the_changed_variable() {
    let dir = layer();
    let out = bitzel(&["graph", "--write-signatures", "app"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bitzel(&["explain", "app:do_install"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("app.do_install will not run"), "{text}");

    edit_recipe(dir.path(), "OPT = \"1\"", "OPT = \"2\"");
    let out = bitzel(&["explain", "app:do_install"], dir.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("app.do_install will run again"), "{text}");
    assert!(
        text.contains("the hash of dependency app.do_compile changed"),
        "{text}"
    );
    assert!(text.contains("OPT changed from \"1\" to \"2\""), "{text}");

    let out = bitzel(&["explain", "--json", "app:do_compile"], dir.path());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "changed");
    assert_eq!(
        json["changes"][0],
        serde_json::json!({"kind": "value", "key": "OPT", "old": "1", "new": "2"})
    );
    // Fetch does not read OPT.
    let out = bitzel(&["explain", "app:do_fetch"], dir.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains("will not run"));
}

#[test]
fn a_task_never_recorded_will_run() {
    let dir = layer();
    let out = bitzel(&["explain", "app:do_compile"], dir.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains("never built"));
}
