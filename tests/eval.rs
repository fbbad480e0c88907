//! Evaluation cases: every directory under `tests/data/eval` is a mini layer
//! with the values the real BitBake computed for it (`case.json`, written
//! by `scripts/bitbake-eval.py --write`). Each case runs through the
//! configuration phase and recipe parsing, and its variables, flags,
//! expansion errors, skip reason, parse error and variants are compared.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bitzel::datastore::python::EmbeddedPython;
use bitzel::datastore::{
    ConfigInput, DataStore, EvalError, Evaluator, FsLoader, Outcome, parse_configuration,
    parse_recipe,
};
use bitzel::recipe::bbappend;
use serde_json::Value;

/// Cases that do not pass yet, each with what is missing.
// FIXME(#3): the `bb` python API and these behaviours are still incomplete.
const KNOWN_FAILURES: &[&str] = &[];

fn placeholder(text: &str, case: &Path) -> String {
    text.replace("@TOPDIR@", &case.display().to_string())
}

/// Compares one datastore with an `expect` object; returns the mismatches.
fn compare(
    d: &DataStore,
    outcome: &Outcome,
    expect: &Value,
    case: &Path,
    spec: &Value,
    label: &str,
) -> Vec<String> {
    let mut mismatches = Vec::new();
    let expected_errors = expect["expansion_errors"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for name in spec["variables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let actual = d.get_var(name);
        match (expected_errors.get(name), actual) {
            (Some(message), Err(error)) => {
                let _ = message;
                let _ = error;
            }
            (Some(message), Ok(value)) => mismatches.push(format!(
                "{label}{name}: expected an expansion error ({message}), got {value:?}"
            )),
            (None, Err(error)) => mismatches.push(format!(
                "{label}{name}: unexpected expansion error: {error}"
            )),
            (None, Ok(value)) => {
                let expected = expect["variables"][name]
                    .as_str()
                    .map(|v| placeholder(v, case));
                if value != expected {
                    mismatches.push(format!(
                        "{label}{name}: expected {expected:?}, got {value:?}"
                    ));
                }
            }
        }
    }
    if let Some(flags) = spec["flags"].as_object() {
        for (name, wanted) in flags {
            for flag in wanted
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let key = format!("{name}[{flag}]");
                let expected = expect["flags"][name][flag]
                    .as_str()
                    .map(|v| placeholder(v, case));
                let actual = match d.get_var_flag_unexpanded(name, flag) {
                    None => Ok(None),
                    Some(_)
                        if d.raw_flag(name, flag)
                            .is_some_and(|f| f.as_text().is_none()) =>
                    {
                        Ok(d.get_var_flag_unexpanded(name, flag))
                    }
                    Some(_) => d.get_var_flag(name, flag),
                };
                match (expected_errors.get(&key), actual) {
                    (Some(_), Err(_)) => {}
                    (_, Err(error)) => mismatches
                        .push(format!("{label}{key}: unexpected expansion error: {error}")),
                    (_, Ok(value)) if value != expected => mismatches.push(format!(
                        "{label}{key}: expected {expected:?}, got {value:?}"
                    )),
                    _ => {}
                }
            }
        }
    }
    let skipped = match outcome {
        Outcome::Skipped(reason) => Some(reason.clone()),
        Outcome::Parsed => None,
    };
    match (&expect["skipped"], &skipped) {
        (Value::Null, None) | (Value::Bool(true), Some(_)) => {}
        (Value::String(reason), Some(actual)) if placeholder(reason, case) == *actual => {}
        (expected, actual) => mismatches.push(format!(
            "{label}skipped: expected {expected}, got {actual:?}"
        )),
    }
    mismatches
}

fn check_error(error: &EvalError, expected: &Value, case: &Path) -> Vec<String> {
    let mut mismatches = Vec::new();
    if expected.is_null() {
        return vec![format!("unexpected error: {error}")];
    }
    if let Some(message) = expected["message"].as_str() {
        let message = placeholder(message, case);
        if !error.message.contains(&message) {
            mismatches.push(format!(
                "error message: expected to contain {message:?}, got {:?}",
                error.message
            ));
        }
    }
    if let Some(line) = expected["line"].as_u64()
        && error.line as u64 != line
    {
        mismatches.push(format!(
            "error line: expected {line}, got {} ({})",
            error.line, error.message
        ));
    }
    mismatches
}

fn run_case(case: &Path, evaluator: &Evaluator) -> Vec<String> {
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(case.join("case.json")).unwrap()).unwrap();
    let expect = &spec["expect"];
    let layer = case.join("layer");
    let input = ConfigInput {
        topdir: case.to_path_buf(),
        env: vec![("BBPATH".into(), layer.display().to_string())],
    };
    let config = match parse_configuration(evaluator, &input) {
        Ok(config) => config,
        Err(error) => return check_error(&error, &expect["error"], case),
    };
    let Some(recipe) = spec["recipe"].as_str() else {
        if !expect["error"].is_null() {
            return vec![format!(
                "expected error {}, configuration parsed",
                expect["error"]
            )];
        }
        return compare(&config, &Outcome::Parsed, expect, case, &spec, "");
    };
    let recipe = layer.join(recipe);
    let recipe_name = recipe.file_name().unwrap().to_string_lossy().to_string();
    let appends: Vec<PathBuf> = spec["bbappends"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|a| layer.join(a))
        .filter(|a| bbappend::applies(&recipe_name, &a.file_name().unwrap().to_string_lossy()))
        .collect();
    let layer_store = config.freeze();
    let parsed = match parse_recipe(evaluator, &layer_store, &recipe, &appends) {
        Ok(parsed) => parsed,
        Err(error) => return check_error(&error, &expect["error"], case),
    };
    if !expect["error"].is_null() {
        return vec![format!("expected error {}, recipe parsed", expect["error"])];
    }
    let mut mismatches = compare(
        &parsed.base.datastore,
        &parsed.base.outcome,
        expect,
        case,
        &spec,
        "",
    );
    let expected_variants = expect["variants"].as_object().cloned().unwrap_or_default();
    let actual_names: Vec<&str> = parsed.variants.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected_names: Vec<&str> = expected_variants.keys().map(String::as_str).collect();
    let mut sorted_actual = actual_names.clone();
    sorted_actual.sort();
    expected_names.sort();
    if sorted_actual != expected_names {
        mismatches.push(format!(
            "variants: expected {expected_names:?}, got {actual_names:?}"
        ));
    }
    for (name, variant) in &parsed.variants {
        if let Some(expect) = expected_variants.get(name) {
            mismatches.extend(compare(
                &variant.datastore,
                &variant.outcome,
                expect,
                case,
                &spec,
                &format!("[{name}] "),
            ));
        }
    }
    mismatches
}

#[test]
fn eval_cases_match_bitbake() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/eval");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 50, "only {} eval cases", cases.len());
    let python = EmbeddedPython::start().expect("embedded python starts");
    let mut report = Vec::new();
    let mut unexpected = Vec::new();
    for case in &cases {
        // One evaluator per case: def functions and pylibs are per configuration.
        let evaluator = Evaluator::new(Arc::new(FsLoader), Some(python.clone()));
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let mismatches = run_case(case, &evaluator);
        let known = KNOWN_FAILURES.contains(&name.as_str());
        match (mismatches.is_empty(), known) {
            (true, false) | (false, true) => {}
            (true, true) => {
                unexpected.push(format!("{name}: passes now; remove it from KNOWN_FAILURES"))
            }
            (false, false) => {
                unexpected.push(format!("{name}:\n    {}", mismatches.join("\n    ")))
            }
        }
        report.push(format!(
            "{name}: {}",
            if mismatches.is_empty() { "ok" } else { "FAIL" }
        ));
    }
    println!("{}", report.join("\n"));
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}
