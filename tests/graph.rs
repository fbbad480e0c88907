//! The task graph end to end (`bitzel graph --format json` on small layers
//! of our own): each dependency mechanism with its edges written out,
//! provider selection, and missing-provider errors.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{bitzel, build_dir, graph_json};

/// The graph's edges as `a.do_x -> b.do_y` strings.
fn edges(dir: &Path, args: &[&str]) -> BTreeSet<String> {
    let json = graph_json(dir, args);
    json["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| format!("{} -> {}", e[0].as_str().unwrap(), e[1].as_str().unwrap()))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn addtask_order_and_the_default_task() {
    let dir = build_dir(&[("recipes/a_1.0.bb", "")]);
    assert_eq!(
        edges(dir.path(), &["a"]),
        set(&[
            "a.do_build -> a.do_install",
            "a.do_compile -> a.do_fetch",
            "a.do_install -> a.do_compile",
        ])
    );
    // -c picks another task; only what it needs is kept.
    assert_eq!(
        edges(dir.path(), &["a", "-c", "compile"]),
        set(&["a.do_compile -> a.do_fetch"])
    );
    assert_eq!(
        edges(dir.path(), &["a:do_install"]),
        set(&["a.do_compile -> a.do_fetch", "a.do_install -> a.do_compile"])
    );
}

#[test]
fn deptask_follows_depends_and_deltask_removes_a_task() {
    let dir = build_dir(&[
        (
            "recipes/app_1.0.bb",
            "DEPENDS = \"lib\"\ndo_compile[deptask] = \"do_install\"\n",
        ),
        (
            "recipes/lib_2.0.bb",
            "deltask build\naddtask build after do_compile\n",
        ),
    ]);
    assert_eq!(
        edges(dir.path(), &["app"]),
        set(&[
            "app.do_build -> app.do_install",
            "app.do_compile -> app.do_fetch",
            "app.do_compile -> lib.do_install",
            "app.do_install -> app.do_compile",
            "lib.do_compile -> lib.do_fetch",
            "lib.do_install -> lib.do_compile",
        ])
    );
    assert_eq!(
        edges(dir.path(), &["lib"]),
        set(&[
            "lib.do_build -> lib.do_compile",
            "lib.do_compile -> lib.do_fetch"
        ])
    );
}

#[test]
fn depends_flag_names_a_task_of_another_recipe() {
    let dir = build_dir(&[
        (
            "recipes/a_1.0.bb",
            "do_fetch[depends] = \"tool:do_install\"\n",
        ),
        ("recipes/tool_1.0.bb", ""),
    ]);
    assert_eq!(
        edges(dir.path(), &["a", "-c", "fetch"]),
        set(&[
            "a.do_fetch -> tool.do_install",
            "tool.do_compile -> tool.do_fetch",
            "tool.do_install -> tool.do_compile",
        ])
    );
}

#[test]
fn malformed_depends_flag_is_an_error() {
    let dir = build_dir(&[("recipes/a_1.0.bb", "do_fetch[depends] = \"tool\"\n")]);
    let out = bitzel(&["graph", "a"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("a_1.0.bb"), "{stderr}");
}

#[test]
fn rdeptask_follows_rdepends_through_packages_and_rprovides() {
    let dir = build_dir(&[
        (
            "recipes/img_1.0.bb",
            "RDEPENDS:${PN} = \"libfoo-tools virtual-shell\"\n\
             do_build[rdeptask] = \"do_install\"\n",
        ),
        ("recipes/foo_1.0.bb", "PACKAGES = \"libfoo libfoo-tools\"\n"),
        ("recipes/sh_1.0.bb", "RPROVIDES:${PN} = \"virtual-shell\"\n"),
    ]);
    let got = edges(dir.path(), &["img"]);
    assert!(got.contains("img.do_build -> foo.do_install"), "{got:?}");
    assert!(got.contains("img.do_build -> sh.do_install"), "{got:?}");
    assert!(
        !got.iter().any(|e| e.starts_with("foo.do_build")),
        "{got:?}"
    );
}

#[test]
fn recrdeptask_reaches_every_recipe_below() {
    let dir = build_dir(&[
        (
            "recipes/top_1.0.bb",
            "DEPENDS = \"mid\"\n\
             do_compile[deptask] = \"do_install\"\n\
             addtask report after do_compile\n\
             do_report[recrdeptask] = \"do_report\"\n\
             do_report() {\n    :\n}\n",
        ),
        (
            "recipes/mid_1.0.bb",
            "DEPENDS = \"low\"\ndo_compile[deptask] = \"do_install\"\n\
             addtask report after do_compile\ndo_report() {\n    :\n}\n",
        ),
        (
            "recipes/low_1.0.bb",
            "addtask report after do_compile\ndo_report() {\n    :\n}\n",
        ),
    ]);
    let got = edges(dir.path(), &["top", "-c", "report"]);
    // Directly and through mid, to low: every recipe's do_report.
    assert!(got.contains("top.do_report -> mid.do_report"), "{got:?}");
    assert!(got.contains("top.do_report -> low.do_report"), "{got:?}");
    assert!(got.contains("top.do_report -> top.do_compile"), "{got:?}");
    // A task listing itself does not depend on itself.
    assert!(!got.contains("top.do_report -> top.do_report"), "{got:?}");
}

#[test]
fn preferred_provider_and_preferred_version_choose() {
    let dir = build_dir(&[
        (
            "conf/extra.conf",
            "PREFERRED_PROVIDER_virtual/greeter = \"hola\"\nPREFERRED_VERSION_lib = \"1.%\"\n",
        ),
        (
            "recipes/app_1.0.bb",
            "DEPENDS = \"virtual/greeter lib\"\ndo_compile[deptask] = \"do_install\"\n",
        ),
        ("recipes/hello_1.0.bb", "PROVIDES = \"virtual/greeter\"\n"),
        ("recipes/hola_1.0.bb", "PROVIDES = \"virtual/greeter\"\n"),
        ("recipes/lib_1.2.bb", ""),
        ("recipes/lib_2.0.bb", ""),
    ]);
    let json = graph_json(dir.path(), &["app"]);
    let nodes = json["nodes"].as_array().unwrap();
    let version = |pn: &str| {
        nodes
            .iter()
            .find(|n| n["pn"] == pn)
            .map(|n| n["version"].as_str().unwrap().to_string())
    };
    assert!(version("hola").is_some());
    assert!(version("hello").is_none());
    assert_eq!(version("lib").as_deref(), Some(":1.2-r0"));
}

#[test]
fn highest_version_wins_without_a_preference() {
    let dir = build_dir(&[("recipes/lib_1.10.bb", ""), ("recipes/lib_1.9.bb", "")]);
    let json = graph_json(dir.path(), &["lib"]);
    assert_eq!(json["nodes"][0]["version"], ":1.10-r0");
}

#[test]
fn assume_provided_drops_a_dependency_and_variants_are_recipes() {
    let dir = build_dir(&[
        ("conf/extra.conf", "ASSUME_PROVIDED = \"hostthing\"\n"),
        (
            "recipes/app_1.0.bb",
            "DEPENDS = \"hostthing tool-native\"\ndo_compile[deptask] = \"do_install\"\n",
        ),
        ("recipes/tool_1.0.bb", "BBCLASSEXTEND = \"native\"\n"),
        (
            "classes/native.bbclass",
            "PN = \"${BPN}-native\"\nBPN = \"tool\"\n",
        ),
    ]);
    let got = edges(dir.path(), &["app", "-c", "compile"]);
    assert!(
        got.contains("app.do_compile -> tool-native.do_install"),
        "{got:?}"
    );
    assert!(!got.iter().any(|e| e.contains("hostthing")), "{got:?}");
}

#[test]
fn a_missing_provider_names_the_chain() {
    let dir = build_dir(&[("recipes/greet-app_1.0.bb", "DEPENDS = \"libgreet\"\n")]);
    let out = bitzel(&["graph", "greet-app"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("greet-app -> DEPENDS libgreet: nothing provides libgreet"),
        "{stderr}"
    );
    let out = bitzel(&["graph", "nosuchthing"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Nothing PROVIDES 'nosuchthing'"),
        "{stderr}"
    );
}

#[test]
fn a_skipped_recipe_is_named_as_the_reason() {
    let dir = build_dir(&[
        ("recipes/app_1.0.bb", "DEPENDS = \"gone\"\n"),
        (
            "recipes/gone_1.0.bb",
            "python () {\n    raise bb.parse.SkipRecipe(\"not for this machine\")\n}\n",
        ),
    ]);
    let out = bitzel(&["graph", "app"], dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("gone was skipped: not for this machine"),
        "{stderr}"
    );
}

#[test]
fn dot_output_has_bitbake_labels_and_a_buildlist() {
    let dir = build_dir(&[("recipes/a_1.0.bb", "")]);
    let out = bitzel(&["graph", "a"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dot = std::fs::read_to_string(dir.path().join("task-depends.dot")).unwrap();
    let recipe = dir.path().join("layer/recipes/a_1.0.bb");
    let recipe = recipe.canonicalize().unwrap_or(recipe);
    assert!(dot.starts_with("digraph depends {\n"), "{dot}");
    assert!(
        dot.contains(&format!(
            "\"a.do_build\" [label=\"a do_build\\n:1.0-r0\\n{}\"]\n\"a.do_build\" -> \"a.do_install\"\n",
            recipe.display()
        )),
        "{dot}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pn-buildlist")).unwrap(),
        "a\n"
    );
}
