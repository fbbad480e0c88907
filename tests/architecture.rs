//! Architecture checks: every source file documents itself, stages depend
//! only on earlier stages, and BAZEL_BITBAKE_ANALYSIS.md's code map names
//! paths that exist and every module that exists.

use std::path::{Path, PathBuf};

/// Stages in pipeline order; a stage may use only earlier ones. `cli` is
/// last and no stage may use it.
const STAGES: &[&str] = &[
    "diag",
    "fetch",
    "syntax",
    "datastore",
    "signature",
    "recipe",
    "graph",
    "sandbox",
    "cas",
    "remote",
    "scheduler",
    "cli",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| e.into_path())
        .collect()
}

/// The stage a source file belongs to: `src/syntax/x.rs` → `syntax`.
fn stage_of(path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root().join("src")).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let mut missing = Vec::new();
    for dir in ["src", "tests", "examples", "benches"] {
        for path in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&path).unwrap();
            if !text.trim_start().starts_with("//!") {
                missing.push(path.display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files without a `//!` overview: {missing:#?}"
    );
}

#[test]
fn stages_only_use_earlier_stages() {
    let mut violations = Vec::new();
    let files = rust_files(&root().join("src"));
    assert!(files.len() >= 10, "found only {} source files", files.len());
    for path in files {
        let Some(stage) = stage_of(&path) else {
            continue;
        };
        let Some(rank) = STAGES.iter().position(|s| *s == stage) else {
            // Crate roots: the library, and binaries (`main`, `src/bin/`)
            // that use it as any user would.
            if !["lib", "main", "bin"].contains(&stage.as_str()) {
                violations.push(format!(
                    "{}: module `{stage}` is not in STAGES",
                    path.display()
                ));
            }
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for (line_idx, line) in text.lines().enumerate() {
            for (at, _) in line.match_indices("crate::") {
                let used: String = line[at + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let Some(used_rank) = STAGES.iter().position(|s| *s == used) else {
                    continue;
                };
                if used_rank > rank {
                    violations.push(format!(
                        "{}:{}: `{stage}` uses later stage `{used}`",
                        path.display(),
                        line_idx + 1
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn code_map_names_existing_paths_and_every_module() {
    let doc = std::fs::read_to_string(root().join("BAZEL_BITBAKE_ANALYSIS.md")).unwrap();
    let code_map = doc
        .split("## 5. Code map")
        .nth(1)
        .expect("a `## 5. Code map` section");
    let code_map = code_map.split("\n## ").next().unwrap();
    let mut named = Vec::new();
    for piece in code_map.split('`').skip(1).step_by(2) {
        let path = piece.split_whitespace().next().unwrap_or("");
        let prefixes = [
            "src/",
            "tests/",
            "examples/",
            "benches/",
            "fuzz/",
            "scripts/",
        ];
        if prefixes.iter().any(|p| path.starts_with(p)) && !path.contains('{') {
            named.push(path.trim_end_matches(['.', ',']).to_string());
        }
    }
    assert!(named.len() >= 10, "code map names only {named:?}");
    let missing: Vec<_> = named.iter().filter(|p| !root().join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "code map names missing paths: {missing:?}"
    );
    for entry in std::fs::read_dir(root().join("src")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let module = if name.ends_with(".rs") {
            format!("src/{name}")
        } else {
            format!("src/{name}/")
        };
        assert!(
            named.iter().any(|p| p.starts_with(&module)),
            "code map does not describe `{module}`"
        );
    }
}
