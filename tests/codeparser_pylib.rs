//! The python code reader with an `addpylib` namespace loaded
//! (`tests/data/codeparser/pylib`, namespace `bzltest`): `visitorcode`
//! hooks replace the ordinary reading of calls to their function, and the
//! namespace's functions are analysed as signature keys. A test binary of
//! its own, since loading a namespace changes what every later analysis
//! sees. Expected results are BitBake's (scripts/differential-codeparser.py
//! with `--pylib`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use bitzel::datastore::python::EmbeddedPython;
use bitzel::signature::pycode::{self, PylibFunctionDeps};

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn load() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/codeparser/pylib");
    let host = EmbeddedPython::start().expect("interpreter starts");
    host.add_pylib(dir.to_str().unwrap(), "bzltest", &[])
        .expect("test namespace loads");
}

#[test]
fn visitor_hooks_and_pylib_keys() {
    load();

    // The hook turns a literal first argument into a contains test.
    let deps = pycode::python_code_deps(
        "    bzltest.checks.report('warn-x', d)\n    bzltest.checks.report(kind, d)\n    bzltest.checks.helper(d)\n",
    )
    .unwrap();
    assert_eq!(deps.contains["REPORT_LEVELS"], set(&["warn-x"]));
    assert_eq!(
        deps.execs,
        set(&["bzltest.checks.helper", "bzltest.checks.report"])
    );
    assert!(deps.refs.is_empty());

    let functions = pycode::pylib_function_deps().unwrap();
    let names: Vec<&str> = functions.keys().map(String::as_str).collect();
    // Imported (`join`), private and non-callable names are not keys.
    assert_eq!(
        names,
        [
            "bzltest.checks.Thing",
            "bzltest.checks.decorated",
            "bzltest.checks.helper",
            "bzltest.checks.report",
            "bzltest.checks.report_visitorcode",
        ]
    );
    let decorated = functions["bzltest.checks.decorated"].as_ref().unwrap();
    assert_eq!(decorated.refs, set(&["EXTRA_DEP", "KEPT"]));
    // Calls of the module's own functions carry its prefix.
    assert!(
        decorated.execs.contains("bzltest.checks.helper"),
        "{decorated:?}"
    );
    let helper: &PylibFunctionDeps = functions["bzltest.checks.helper"].as_ref().unwrap();
    assert_eq!(helper.expands, ["${VIA_EXPAND}"]);
    assert!(helper.execs.contains("do_helped"), "{helper:?}");
    // Any public callable of the module gets the prefix, imported ones too.
    assert!(helper.execs.contains("bzltest.checks.join"), "{helper:?}");
    let thing = functions["bzltest.checks.Thing"].as_ref().unwrap();
    assert_eq!(thing.refs, set(&["THING[flag]"]));
    assert_eq!(thing.contains, BTreeMap::new());
    assert_eq!(thing.value.len(), 64);
}
