//! The `bitzel` binary end to end: output, JSON and exit codes.

use std::path::Path;
use std::process::{Command, Output};

fn bitzel(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bitzel"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("bitzel runs")
}

fn write(dir: &Path, name: &str, text: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn check_clean_tree_exits_zero_with_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "conf/layer.conf",
        b"BBPATH .= \":${LAYERDIR}\"\n",
    );
    write(
        dir.path(),
        "recipes-x/a/a_1.0.bb",
        b"A = \"1\"\ndo_x() {\n    :\n}\n",
    );
    write(
        dir.path(),
        "recipes-x/a/files/notes.txt",
        b"not metadata = at all\n",
    );
    write(dir.path(), ".hidden/b.bb", b"B = broken\n");
    let out = bitzel(&["check", "."], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("checked 2 files ("), "{stdout}");
    assert!(stdout.trim_end().ends_with(": 0 errors"), "{stdout}");
}

#[test]
fn check_reports_file_line_column_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "x.bb",
        b"A = \"1\"\n\nB = unquoted\nC = \"3\"\n  D = \"4\"\n",
    );
    let out = bitzel(&["check", "x.bb"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("x.bb:3:1: error: unparsed line: `B = unquoted`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("x.bb:5:1: error: unparsed line"),
        "{stdout}"
    );
    // The source line and a caret under it.
    assert!(stdout.contains("B = unquoted\n"), "{stdout}");
    assert!(stdout.contains("^^^^^^^^^^^^"), "{stdout}");
    assert!(stdout.contains(": 2 errors"), "{stdout}");
    // Not a terminal: no colour codes.
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
}

#[test]
fn check_json_has_files_bytes_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.conf", b"inherit foo\n");
    write(dir.path(), "b.bb", b"inherit foo\n");
    let out = bitzel(&["check", "--json", "."], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["files"], 2);
    assert_eq!(json["bytes"], 24);
    let errors = json["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{json}");
    assert_eq!(errors[0]["file"], "./a.conf");
    assert_eq!(errors[0]["line"], 1);
    assert_eq!(errors[0]["column"], 1);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("not allowed in a configuration file")
    );
}

#[test]
fn check_rejects_invalid_utf8_like_bitbake() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.bb", b"A = \"1\"\nB = \"\xff\"\n");
    let out = bitzel(&["check", "--json", "bad.bb"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["errors"][0]["line"], 2);
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8")
    );
}

#[test]
fn bad_paths_and_arguments_exit_two_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let out = bitzel(&["check", "missing-dir"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`missing-dir`"));
    write(dir.path(), "notes.txt", b"x");
    let out = bitzel(&["check", "notes.txt"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a BitBake metadata file"));
    let out = bitzel(&["check", "--no-such-flag"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let out = bitzel(&["--help"], dir.path());
    assert_eq!(out.status.code(), Some(0));
}

/// A build directory with one layer: configuration, a class and a recipe.
fn build_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    let root = dir.path();
    write(
        root,
        "build/conf/bblayers.conf",
        format!("BBLAYERS = \"{}\"\n", layer.display()).as_bytes(),
    );
    write(
        root,
        "layer/conf/layer.conf",
        b"BBPATH .= \":${LAYERDIR}\"\nBBFILES += \"${LAYERDIR}/recipes/*.bb\"\nBBFILE_COLLECTIONS += \"demo\"\nBBFILE_PATTERN_demo = \"^${LAYERDIR}/\"\n",
    );
    write(
        root,
        "layer/conf/bitbake.conf",
        b"PN = \"${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[0] or 'defaultpkgname'}\"\nPV = \"${@bb.parse.vars_from_file(d.getVar('FILE', False),d)[1] or '1.0'}\"\nexport GREETING = \"hello\"\nOVERRIDES = \"demo\"\n",
    );
    write(
        root,
        "layer/classes/base.bbclass",
        b"do_build() {\n    echo ${GREETING}\n}\naddtask build\n",
    );
    write(
        root,
        "layer/recipes/greet_2.0.bb",
        b"SUMMARY = \"say \\\"hi\\\" for $5\"\nX = \"base\"\nX:demo = \"demo\"\nBBCLASSEXTEND = \"native\"\n",
    );
    write(
        root,
        "layer/classes/native.bbclass",
        b"X:demo = \"native\"\n",
    );
    write(
        root,
        "layer/recipes/broken_1.0.bb",
        b"A = \"1\"\nB = unquoted\n",
    );
    dir
}

#[test]
fn env_prints_a_recipe_as_bitbake_e_does() {
    let dir = build_dir();
    let build = dir.path().join("build");
    let recipe = dir.path().join("layer/recipes/greet_2.0.bb");
    let out = bitzel(&["env", "-b", &recipe.display().to_string()], &build);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\nPN=\"greet\"\n"), "{stdout}");
    assert!(stdout.contains("\nPV=\"2.0\"\n"), "{stdout}");
    assert!(stdout.contains("\nX=\"demo\"\n"), "{stdout}");
    assert!(stdout.contains("export GREETING=\"hello\"\n"), "{stdout}");
    // The value holds `\"`; BitBake escapes both characters.
    assert!(
        stdout.contains(r#"SUMMARY="say \\"hi\\" for \$5""#),
        "{stdout}"
    );
    assert!(
        stdout.contains("do_build() {\n    echo hello\n}\n"),
        "{stdout}"
    );

    let out = bitzel(&["env", "--json", "greet-native", "PN", "X"], &build);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["variables"]["PN"], "greet-native");
    assert_eq!(json["variables"]["X"], "native");
    assert_eq!(json["skipped"], serde_json::Value::Null);

    let out = bitzel(&["env", "--json", "--conf", "GREETING"], &build);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["variables"]["GREETING"], "hello");
    assert_eq!(json["flags"]["GREETING"]["export"], "1");
}

#[test]
fn env_of_broken_metadata_exits_one_with_nothing_on_stdout() {
    let dir = build_dir();
    let build = dir.path().join("build");
    let recipe = dir.path().join("layer/recipes/broken_1.0.bb");
    let out = bitzel(&["env", "-b", &recipe.display().to_string()], &build);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken_1.0.bb:2: error: unparsed line"),
        "{stderr}"
    );
}

/// The `N from the cache` count of a `bitzel parse` summary.
fn from_cache(out: &Output) -> usize {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout.lines().last().unwrap_or_default();
    let count = summary
        .split(" (")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap_or("");
    count
        .parse()
        .unwrap_or_else(|_| panic!("no cache count in {summary:?}"))
}

#[test]
fn parse_reuses_exactly_the_recipes_whose_files_are_unchanged() {
    let dir = build_dir();
    let build = dir.path().join("build");
    std::fs::remove_file(dir.path().join("layer/recipes/broken_1.0.bb")).unwrap();
    write(dir.path(), "layer/classes/tool.bbclass", b"TOOL = \"1\"\n");
    write(dir.path(), "layer/recipes/user_1.0.bb", b"inherit tool\n");
    write(dir.path(), "layer/recipes/other_1.0.bb", b"A = \"1\"\n");

    let out = bitzel(&["parse"], &build);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("parsed 3 recipes (0 from the cache): 4 targets, 0 skipped"),
        "{stdout}"
    );
    assert_eq!(from_cache(&bitzel(&["parse"], &build)), 3);

    // A class changes: only the recipe that inherits it is evaluated again.
    write(dir.path(), "layer/classes/tool.bbclass", b"TOOL = \"2\"\n");
    assert_eq!(from_cache(&bitzel(&["parse"], &build)), 2);
    // A file appears where a recipe looked for one: that recipe again.
    write(
        dir.path(),
        "layer/classes-recipe/tool.bbclass",
        b"TOOL = \"3\"\n",
    );
    assert_eq!(from_cache(&bitzel(&["parse"], &build)), 2);
    // The configuration changes: everything.
    write(
        dir.path(),
        "layer/conf/bitbake.conf",
        b"OVERRIDES = \"other\"\n",
    );
    assert_eq!(from_cache(&bitzel(&["parse"], &build)), 0);
    assert_eq!(from_cache(&bitzel(&["parse"], &build)), 3);
    // A skip is remembered with its reason.
    write(
        dir.path(),
        "layer/recipes/other_1.0.bb",
        b"python () {\n    raise bb.parse.SkipRecipe(\"not today\")\n}\n",
    );
    let out = bitzel(&["parse", "--skipped"], &build);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("other_1.0.bb: not today\n"), "{stdout}");
    let out = bitzel(&["parse", "--skipped"], &build);
    assert!(String::from_utf8_lossy(&out.stdout).contains("other_1.0.bb: not today\n"));
    assert_eq!(from_cache(&out), 3);
}

/// The JSON lines of `bitzel parse --dump-results`, each target's result.
fn dumped_results(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn parse_with_two_jobs_uses_a_worker_process_and_gives_the_same_results() {
    let dir = build_dir();
    let build = dir.path().join("build");
    std::fs::remove_file(dir.path().join("layer/recipes/broken_1.0.bb")).unwrap();
    write(
        dir.path(),
        "layer/classes/tool.bbclass",
        b"TOOL = \"${PN}-tool\"\n",
    );
    // Enough recipes for a worker (32 per extra job), each slow enough
    // that the worker gets some once it has started; each records the
    // process that parsed it, and prints, which must not reach the
    // worker's protocol.
    for i in 0..40 {
        let text = format!(
            "inherit tool\nPR = \"r${{@__import__('os').getpid()}}\"\nBBCLASSEXTEND = \"{}\"\npython () {{\n    print(\"parsing {i}\")\n    __import__('time').sleep(0.05)\n}}\n",
            if i % 3 == 0 { "native" } else { "" }
        );
        write(
            dir.path(),
            &format!("layer/recipes/r{i}_1.0.bb"),
            text.as_bytes(),
        );
    }

    let one = bitzel(
        &["parse", "--no-cache", "-j", "1", "--dump-results"],
        &build,
    );
    let two = bitzel(
        &["parse", "--no-cache", "-j", "2", "--dump-results"],
        &build,
    );
    for out in [&one, &two] {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    }
    let processes = |results: &[serde_json::Value]| -> std::collections::BTreeSet<String> {
        results
            .iter()
            .filter_map(|r| r["info"]["pr"].as_str())
            .filter(|pr| pr.starts_with('r'))
            .map(str::to_string)
            .collect()
    };
    let (mut one, mut two) = (dumped_results(&one), dumped_results(&two));
    assert_eq!(one.len(), 41 + 15, "recipes and native variants");
    assert_eq!(processes(&one).len(), 1);
    assert_eq!(processes(&two).len(), 2, "two processes parsed");
    for result in one.iter_mut().chain(two.iter_mut()) {
        result["info"]["pr"] = serde_json::Value::Null;
    }
    assert_eq!(one, two);
}
