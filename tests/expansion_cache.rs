//! A datastore's expanded values survive writes that cannot change them
//! (each remembers the names its computation read, python's reads
//! through `d` included). Each test reads a value, writes something the
//! value depends on only indirectly, and expects the value a fresh
//! datastore gives. Nothing here changes python's globals (that would
//! make every value that ran inline python be computed again, hiding a
//! missing dependency): that case is in `tests/inline_memo.rs`, another
//! process.

mod common;

use bitzel::datastore::FlagValue;
use common::python::{get, store};

#[test]
fn a_write_reaches_the_values_that_read_it_through_others() {
    let mut d = store(&[
        ("EC_A", "a-${EC_B}"),
        ("EC_B", "b-${EC_C}"),
        ("EC_C", "1"),
        ("EC_OTHER", "${EC_C}"),
    ]);
    assert_eq!(get(&d, "EC_A"), "a-b-1");
    assert_eq!(get(&d, "EC_OTHER"), "1");
    d.set_var_parse("EC_C", "2".into());
    assert_eq!(get(&d, "EC_A"), "a-b-2");
    assert_eq!(get(&d, "EC_OTHER"), "2");

    // A reference to an unset variable, set later.
    let mut d = store(&[("EC_A", "[${EC_UNSET}]")]);
    assert_eq!(get(&d, "EC_A"), "[${EC_UNSET}]");
    d.set_var_parse("EC_UNSET", "now".into());
    assert_eq!(get(&d, "EC_A"), "[now]");
}

#[test]
fn queued_operations_and_variants_written_later_are_seen() {
    let mut d = store(&[
        ("EC_V", "base"),
        ("EC_USER", "<${EC_V}>"),
        ("OVERRIDES", "ecfoo"),
    ]);
    assert_eq!(get(&d, "EC_USER"), "<base>");
    d.set_var_parse("EC_V:append", "+more".into());
    assert_eq!(get(&d, "EC_USER"), "<base+more>");
    d.set_var_parse("EC_V:ecfoo", "variant".into());
    assert_eq!(get(&d, "EC_USER"), "<variant+more>");
    d.set_var_parse("EC_V:ecfoo", "changed".into());
    assert_eq!(get(&d, "EC_USER"), "<changed+more>");
    d.set_var_parse("EC_V:remove", "changed+more".into());
    assert_eq!(get(&d, "EC_USER"), "<>");
}

#[test]
fn python_reads_are_dependencies() {
    let mut d = store(&[
        ("EC_PY", "${@d.getVar('EC_SRC')}"),
        ("EC_SRC", "one"),
        ("EC_FLAG", "${@d.getVarFlag('EC_SRC', 'note')}"),
        ("EC_IN", "${@'EC_MAYBE' in d}"),
        (
            "EC_KEYS",
            "${@len([k for k in d.keys() if k.startswith('EC_K_')])}",
        ),
    ]);
    assert_eq!(get(&d, "EC_PY"), "one");
    assert_eq!(get(&d, "EC_FLAG"), "None");
    assert_eq!(get(&d, "EC_IN"), "False");
    assert_eq!(get(&d, "EC_KEYS"), "0");
    d.set_var_python("EC_SRC", "two".into());
    d.set_var_flag("EC_SRC", "note", FlagValue::Text("flagged".into()));
    d.set_var_parse("EC_MAYBE", "1".into());
    d.set_var_parse("EC_K_1", "1".into());
    assert_eq!(get(&d, "EC_PY"), "two");
    assert_eq!(get(&d, "EC_FLAG"), "flagged");
    assert_eq!(get(&d, "EC_IN"), "True");
    assert_eq!(get(&d, "EC_KEYS"), "1");
}

#[test]
fn a_filter_set_on_the_base_name_applies_to_cached_overrides() {
    let mut d = store(&[("EC_F:pkg", "b a")]);
    assert_eq!(get(&d, "EC_F:pkg"), "b a");
    d.set_var_flag(
        "EC_F",
        "_filter",
        FlagValue::Text("' '.join(sorted(val.split()))".into()),
    );
    assert_eq!(get(&d, "EC_F:pkg"), "a b");
}

#[test]
fn values_read_through_the_overrides_follow_them() {
    let mut d = store(&[
        ("OVERRIDES", "${EC_MODE}"),
        ("EC_MODE", "a"),
        ("EC_X", "none"),
        ("EC_X:a", "A"),
        ("EC_X:b", "B"),
        ("EC_Y", "<${EC_X}>"),
        ("EC_Z", "z${EC_Y}"),
        ("EC_APP", "base"),
        ("EC_APP:append:b", "+b"),
        ("EC_W", "w"),
        ("EC_W:b", "wb"),
    ]);
    assert_eq!(get(&d, "EC_Z"), "z<A>");
    // Read with the overrides already computed: only the overrides
    // themselves tie it to EC_MODE.
    assert_eq!(get(&d, "EC_APP"), "base");
    assert_eq!(get(&d, "EC_W"), "w");
    d.set_var_parse("EC_MODE", "b".into());
    // (First: before anything makes the overrides be computed again.)
    assert_eq!(get(&d, "EC_W"), "wb");
    assert_eq!(get(&d, "EC_Z"), "z<B>");
    assert_eq!(get(&d, "EC_APP"), "base+b");
    d.set_var_parse("EC_MODE", "c".into());
    assert_eq!(get(&d, "EC_Z"), "z<none>");
    assert_eq!(get(&d, "EC_APP"), "base");
    assert_eq!(get(&d, "EC_W"), "w");
}
