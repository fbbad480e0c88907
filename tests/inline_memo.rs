//! Inline python results are remembered with the reads they made
//! (`datastore::python::inline_memo`): a remembered result must only ever
//! be used where evaluating the code again would give the same. Every
//! test evaluates the same code in datastores that differ in one thing
//! the code reads, in either order, and expects what a fresh evaluation
//! gives. The memo is per process, so each test uses its own names.

mod common;

use bitzel::datastore::{DataStore, FlagValue};
use common::python::{get, python, store};

fn expand(d: &DataStore, text: &str) -> String {
    d.expand(text).expect("expands")
}

#[test]
fn a_remembered_result_follows_the_values_it_read() {
    let code = "${@d.getVar('MEMO_A_VAR') + '-suffix'}";
    let one = store(&[("MEMO_A_VAR", "one")]);
    let two = store(&[("MEMO_A_VAR", "two")]);
    for _ in 0..2 {
        assert_eq!(expand(&one, code), "one-suffix");
        assert_eq!(expand(&two, code), "two-suffix");
    }
    // An expanded value that changes through a variable the code never
    // names itself.
    let code = "${@d.getVar('MEMO_A_OUTER')}";
    let x = store(&[("MEMO_A_OUTER", "${MEMO_A_INNER}"), ("MEMO_A_INNER", "x")]);
    let y = store(&[("MEMO_A_OUTER", "${MEMO_A_INNER}"), ("MEMO_A_INNER", "y")]);
    assert_eq!(expand(&x, code), "x");
    assert_eq!(expand(&y, code), "y");
    // Unexpanded reads compare the text, not the expansion.
    // (`$` replaced: a result holding `${...}` is expanded again.)
    let code = "${@d.getVar('MEMO_A_OUTER', False).replace('$', '%')}";
    let z = store(&[("MEMO_A_OUTER", "${MEMO_A_OTHER}")]);
    assert_eq!(expand(&x, code), "%{MEMO_A_INNER}");
    assert_eq!(expand(&z, code), "%{MEMO_A_OTHER}");
}

#[test]
fn nested_inline_python_is_remembered_on_its_own() {
    let code = "${@d.getVar('MEMO_B_OUTER') + '!'}";
    let inner = "${@d.getVar('MEMO_B_INNER').upper()}";
    let a = store(&[("MEMO_B_OUTER", inner), ("MEMO_B_INNER", "a")]);
    let b = store(&[("MEMO_B_OUTER", inner), ("MEMO_B_INNER", "b")]);
    assert_eq!(expand(&a, code), "A!");
    assert_eq!(expand(&b, code), "B!");
    assert_eq!(expand(&a, code), "A!");
}

#[test]
fn flags_membership_expansion_and_lists_are_compared() {
    let mut one = store(&[("MEMO_C_VAR", "v"), ("MEMO_C_REF", "r1")]);
    let mut two = store(&[("MEMO_C_VAR", "v"), ("MEMO_C_REF", "r2")]);
    one.set_var_flag("MEMO_C_VAR", "doc", FlagValue::Text("${MEMO_C_REF}".into()));
    two.set_var_flag("MEMO_C_VAR", "doc", FlagValue::Text("${MEMO_C_REF}".into()));
    let code = "${@d.getVarFlag('MEMO_C_VAR', 'doc')}";
    assert_eq!(expand(&one, code), "r1");
    assert_eq!(expand(&two, code), "r2");
    let code = "${@d.getVarFlag('MEMO_C_VAR', 'doc', False).replace('$', '%')}";
    one.set_var_flag("MEMO_C_VAR", "doc", FlagValue::Text("first".into()));
    assert_eq!(expand(&one, code), "first");
    assert_eq!(expand(&two, code), "%{MEMO_C_REF}");

    let code = "${@'yes' if 'MEMO_C_MAYBE' in d else 'no'}";
    let with = store(&[("MEMO_C_MAYBE", "1")]);
    let without = store(&[]);
    assert_eq!(expand(&with, code), "yes");
    assert_eq!(expand(&without, code), "no");

    let code = "${@d.expand('<${MEMO_C_REF}>')}";
    assert_eq!(expand(&one, code), "<r1>");
    assert_eq!(expand(&two, code), "<r2>");

    let code = "${@bb.data.inherits_class('memo-c', d)}";
    let mut inherits = store(&[]);
    inherits.set_list_var(
        "__inherit_cache",
        vec!["/layer/classes/memo-c.bbclass".into()],
    );
    let mut not = store(&[]);
    not.set_list_var(
        "__inherit_cache",
        vec!["/layer/classes/other.bbclass".into()],
    );
    assert_eq!(expand(&inherits, code), "True");
    assert_eq!(expand(&not, code), "False");
}

#[test]
fn reads_that_cannot_be_replayed_are_not_remembered() {
    // keys() and getVarFlags() are not recorded: the code runs each time.
    let code = "${@len([k for k in d.keys() if k.startswith('MEMO_D_')])}";
    let one = store(&[("MEMO_D_A", "1")]);
    let two = store(&[("MEMO_D_A", "1"), ("MEMO_D_B", "2")]);
    assert_eq!(expand(&one, code), "1");
    assert_eq!(expand(&two, code), "2");

    let code = "${@sorted((d.getVarFlags('MEMO_D_A') or {}).keys())}";
    let mut flagged = store(&[("MEMO_D_A", "1")]);
    flagged.set_var_flag("MEMO_D_A", "memo", FlagValue::Text("x".into()));
    assert_eq!(expand(&one, code), "[]");
    assert_eq!(expand(&flagged, code), "['memo']");

    // A python object stored while expanding is not a read either.
    let code = "${@d.setVar('MEMO_D_CACHE', ('t',)) or d.getVar('MEMO_D_A')}";
    assert_eq!(expand(&one, code), "1");
    let other = store(&[("MEMO_D_A", "other")]);
    assert_eq!(expand(&other, code), "other");
}

#[test]
fn a_failed_evaluation_is_not_remembered() {
    let code = "${@d.getVar('MEMO_E_VAR') + 'x'}";
    let unset = store(&[]);
    assert!(unset.expand(code).is_err());
    let set = store(&[("MEMO_E_VAR", "v")]);
    assert_eq!(expand(&set, code), "vx");
    assert!(unset.expand(code).is_err());
}

#[test]
fn changed_python_globals_are_seen() {
    let host = python();
    let define = |body: &str| {
        host.define_function(
            "memo_f_helper",
            &format!("def memo_f_helper(d):\n    return {body}\n"),
            "memo.bbclass",
            1,
        )
        .expect("defines");
    };
    let code = "${@memo_f_helper(d)}";
    define("'first'");
    assert_eq!(expand(&store(&[]), code), "first");
    define("'second'");
    assert_eq!(expand(&store(&[]), code), "second");
    // The same definition again changes nothing.
    define("'second'");
    assert_eq!(expand(&store(&[]), code), "second");

    // A bare name reads the variable until a function of that name exists.
    let code = "${@memo_f_name}";
    let d = store(&[("memo_f_name", "the variable")]);
    assert_eq!(expand(&d, code), "the variable");
    host.define_function(
        "memo_f_name",
        "def memo_f_name(d):\n    pass\n",
        "memo.bbclass",
        10,
    )
    .expect("defines");
    assert!(
        expand(&d, code).starts_with("<function memo_f_name"),
        "{}",
        expand(&d, code)
    );
}

/// The expansion cache of a datastore (`tests/expansion_cache.rs`) too.
#[test]
fn redefined_python_functions_recompute_values_without_a_write() {
    let host = python();
    let define = |body: &str| {
        host.define_function(
            "ec_helper",
            &format!("def ec_helper(d):\n    return {body}\n"),
            "ec.bbclass",
            1,
        )
        .expect("defines");
    };
    define("'first'");
    let d = store(&[
        ("EC_CALL", "${@ec_helper(d)}"),
        ("EC_OUTER", "(${EC_CALL})"),
    ]);
    assert_eq!(get(&d, "EC_OUTER"), "(first)");
    define("'second'");
    assert_eq!(get(&d, "EC_OUTER"), "(second)");
}
