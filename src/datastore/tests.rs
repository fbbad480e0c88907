//! Datastore and evaluator behaviour, each case an example of the spec with
//! the value BitBake gives (the section is named in each test).

use std::path::Path;
use std::sync::Arc;

use super::{DataStore, Evaluator, FlagValue, MemoryLoader};

/// Evaluates `text` as the recipe `/l/recipes/foo_1.0.bb` (with `files`
/// around it) and returns the datastore.
fn eval_with(text: &str, files: &[(&str, &str)]) -> DataStore {
    let mut loader = MemoryLoader::new();
    loader.add("/l/recipes/foo_1.0.bb", text);
    for (path, body) in files {
        loader.add(*path, body);
    }
    let evaluator = Evaluator::new(Arc::new(loader), None);
    let mut d = DataStore::new();
    d.set_var_parse("BBPATH", "/l".into());
    evaluator
        .eval_file(&mut d, Path::new("/l/recipes/foo_1.0.bb"))
        .unwrap_or_else(|e| panic!("{e}"));
    d
}

fn eval(text: &str) -> DataStore {
    eval_with(text, &[])
}

fn get(d: &DataStore, name: &str) -> Option<String> {
    d.get_var(name).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts every `(name, value)`; `None` means unset.
#[track_caller]
fn check(text: &str, expected: &[(&str, Option<&str>)]) {
    let d = eval(text);
    for (name, value) in expected {
        assert_eq!(get(&d, name).as_deref(), *value, "{name} in:\n{text}");
    }
}

#[test]
fn operators_4_1_to_4_3() {
    check(
        "A = \"1\"\nA = \"2\"\nB = \" \"\nF += \"a\"\nG =+ \"b\"\nH .= \"c\"\nI =. \"d\"\nJ = \"m\"\nJ =+ \"p1\"\nJ =+ \"p2\"\n",
        &[
            ("A", Some("2")),
            ("B", Some(" ")),
            ("F", Some(" a")),
            ("G", Some("b ")),
            ("H", Some("c")),
            ("I", Some("d")),
            ("J", Some("p2 p1 m")),
        ],
    );
    check("BAR = \"${FOO}\"\n", &[("BAR", Some("${FOO}"))]);
    check(
        "X = \"${Y} three\"\nY = \"${Z} two\"\nZ = \"one\"\nX1 := \"${X}\"\nZ = \"uno\"\nX2 := \"${X}\"\nY = \"dos\"\n",
        &[
            ("X1", Some("one two three")),
            ("X2", Some("uno two three")),
            ("X", Some("dos three")),
        ],
    );
    // Queued operations apply after the raw-value operators.
    check(
        "V = \"a\"\nV:append = \"b\"\nV:append = \"c\"\nV += \"d\"\nV .= \"e\"\n",
        &[("V", Some("a debc"))],
    );
}

#[test]
fn defaults_4_2() {
    check("W ??= \"x\"\nW ?= \"y\"\n", &[("W", Some("y"))]);
    check("A ?= \"\"\nA ?= \"x\"\n", &[("A", Some(""))]);
    check(
        "OVERRIDES = \"o\"\nB:o = \"over\"\nB ?= \"b\"\n",
        &[("B", Some("over"))],
    );
    check(
        "A = \"hard\"\nA ??= \"weak\"\nC ??= \"1\"\nC ??= \"2\"\n",
        &[("A", Some("hard")), ("C", Some("2"))],
    );
    check(
        "V ??= \"p\"\nA := \"${V}\"\nV ??= \"q\"\nB := \"${V}\"\nV ??= \"r\"\nC = \"${V}\"\nV ?= \"s\"\n",
        &[
            ("A", Some("p")),
            ("B", Some("q")),
            ("C", Some("s")),
            ("V", Some("s")),
        ],
    );
    check(
        "W ??= \"x\"\nW += \"y\"\nV ??= \"x\"\nV:append = \"y\"\n",
        &[("W", Some(" y")), ("V", Some("xy"))],
    );
    check("A ??= \"x\"\nunset A\n", &[("A", None)]);
}

#[test]
fn immediate_4_4() {
    check(
        "N = \"10\"\nA := \"n=${N}\"\nN = \"20\"\nB := \"${N} ${M}\"\nM = \"m\"\nM := \"${M}+\"\n",
        &[("A", Some("n=10")), ("B", Some("20 m+")), ("M", Some("m+"))],
    );
    check(
        "A = \"1\"\nA:append = \"2\"\nA := \"${A}3\"\n",
        &[("A", Some("1232"))],
    );
    check(
        "OVERRIDES = \"o\"\nA = \"a\"\nA:o = \"ao\"\nA:append = \"+\"\nB := \"${A}\"\nA:append = \"!\"\n",
        &[("B", Some("ao+")), ("A", Some("ao+!"))],
    );
}

#[test]
fn keyword_names_4_5() {
    check("A = \"a\"\nA:append += \"b\"\n", &[("A", Some("a b"))]);
    check(
        "OVERRIDES = \"o\"\nA = \"base\"\nA:o = \"x\"\nA:o += \"y\"\n",
        &[("A", Some("x y"))],
    );
}

#[test]
fn overrides_5_1() {
    check(
        "OVERRIDES = \"${MO}\"\nMO = \"m1\"\nMO:m1 = \"m1:m2\"\nX = \"0\"\nX:m2 = \"two\"\n",
        &[("OVERRIDES", Some("m1:m2")), ("X", Some("two"))],
    );
    check(
        "OVERRIDES = \"a\"\nX = \"0\"\nX:a = \"A\"\nX:b = \"B\"\nEARLY := \"${X}\"\nOVERRIDES = \"b\"\n",
        &[("EARLY", Some("A")), ("X", Some("B"))],
    );
    let d =
        eval("OVERRIDES = \"${A}\"\nA = \"a\"\nA:a = \"b\"\nA:b = \"a\"\nX = \"1\"\nX:a = \"2\"\n");
    let error = d.get_var("X").unwrap_err();
    assert!(error.message.contains("stable state"), "{error}");
}

#[test]
fn variants_5_3_and_5_4() {
    check(
        "OVERRIDES = \"x:y:z\"\nV = \"0\"\nV:y = \"Y\"\nV:z = \"Z\"\nV:x = \"X\"\n",
        &[("V", Some("Z"))],
    );
    check(
        "OVERRIDES = \"a:b\"\nX:a = \"1\"\nX:b = \"2\"\nX:a:b = \"3\"\n",
        &[("X", Some("3"))],
    );
    check(
        "OVERRIDES = \"a:b:c\"\nX:c = \"c\"\nX:b:a = \"ba\"\n",
        &[("X", Some("c"))],
    );
    check("OVERRIDES = \"y\"\nW:y = \"v\"\n", &[("W", Some("v"))]);
    check(
        "OVERRIDES = \"o\"\nA = \"Z\"\nA:o:append = \"X\"\nA2 = \"Y\"\nA2:o:append = \"1\"\nA2:o:append = \"2\"\n",
        &[("A", Some("X")), ("A2", Some("12"))],
    );
    check(
        "OVERRIDES = \"a\"\nA = \"base\"\nA:a = \"over\"\nA:append = \" app\"\nB = \"x y\"\nB:a = \"x y z\"\nB:remove = \"y\"\n",
        &[("A", Some("over app")), ("B", Some("x  z"))],
    );
    check(
        "OVERRIDES = \"a\"\nA = \"x\"\nA:b:append = \"y\"\nA:b = \"z\"\n",
        &[("A", Some("x")), ("A:b", Some("zy"))],
    );
}

#[test]
fn conditional_queues_5_5() {
    check(
        "OVERRIDES = \"machine:local\"\nX = \"liba libb\"\nX:append:machine = \"libc\"\n",
        &[("X", Some("liba libblibc"))],
    );
    check(
        "OVERRIDES = \"a\"\nA:append:a = \"y\"\nB:append:zz = \"y\"\n",
        &[("A", Some("y")), ("B", None)],
    );
    check(
        "P = \"p\"\nQ = \"q\"\nT:prepend = \"${P}:\"\nT:append = \":m\"\nT:append = \":${Q}\"\n",
        &[("T", Some("p::m:q"))],
    );
    check(
        "A = \"v\"\nA:prepend = \"1\"\nA:prepend = \"2\"\n",
        &[("A", Some("21v"))],
    );
    check(
        "A = \"b\"\nA:append = \" c d\"\nA:prepend = \"a \"\nA:remove = \"c\"\n",
        &[("A", Some("a b  d"))],
    );
}

#[test]
fn removes_5_6() {
    check(
        "L = \"aa bb cc aabb aa bb aa bb\"\nL:remove = \"aa\"\nL:remove = \"bb\"\nA = \"  a  b  c  \"\nA:remove = \"b\"\n",
        &[("L", Some("  cc aabb    ")), ("A", Some("  a    c  "))],
    );
    check(
        "M = \"1 2 3\"\nMR = \"1 2 3\"\nM:remove = \"${MR}\"\nMR = \"1 3\"\nP = \"k\"\nQ = \"${P}/a b\"\nQ:remove = \"${P}/a\"\n",
        &[("M", Some(" 2 ")), ("Q", Some(" b"))],
    );
    check(
        "A = \"a b\"\nA:remove = \"b\"\nA:append = \" b c\"\n",
        &[("A", Some("a   c"))],
    );
    check(
        "T = \"w1 w2\"\nT:remove = \"w1\"\nT2 = \"${T} ${T}\"\n",
        &[("T2", Some(" w2  w2"))],
    );
    check(
        "OVERRIDES = \"a:b:c\"\nV = \"v\"\nV:c = \"x1 x2\"\nV:c:remove = \"x1\"\n",
        &[("V", Some(" x2"))],
    );
}

#[test]
fn expansion_6_1_and_6_2() {
    check(
        "C = \"$A ${ A } ${} ${A\"\n",
        &[("C", Some("$A ${ A } ${} ${A"))],
    );
    check(
        "p1 = \"ab\"\np2 = \"cd\"\nkey_abcd = \"found\"\nR = \"${key_${p1}${p2}}\"\nr = \"r\"\nD = \"${${${r}}}\"\n",
        &[("R", Some("found")), ("D", Some("r"))],
    );
    check(
        "A:foo = \"f\"\nB = \"${A:foo}\"\nE = \"\"\nC = \"[${E}][${U}]\"\n",
        &[("B", Some("f")), ("C", Some("[][${U}]"))],
    );
    let d = eval(
        "A = \"x${A}\"\nB = \"${A}\"\nFOO = \"${BAR}\"\nBAR = \"${BAZ}\"\nBAZ = \"${FOO}\"\nOK = \"fine\"\n",
    );
    assert!(
        d.get_var("A")
            .unwrap_err()
            .message
            .contains("references itself")
    );
    assert!(d.get_var("B").is_err());
    assert!(d.get_var("FOO").is_err());
    assert_eq!(get(&d, "OK").as_deref(), Some("fine"));
}

#[test]
fn flags_7() {
    check("V[p] = \"one\"\nV[p] += \"three\"\n", &[("V", None)]);
    let d = eval(
        "V[p] = \"one\"\nV[q] = \"two\"\nV[p] += \"three\"\nA[f] = \"x\"\nA[f] .= \"y\"\nA[f] =. \"w\"\nA[g] =+ \"z\"\n",
    );
    assert_eq!(
        d.get_var_flag("V", "p").unwrap().as_deref(),
        Some("one three")
    );
    assert_eq!(d.get_var_flag("A", "f").unwrap().as_deref(), Some("wxy"));
    assert_eq!(d.get_var_flag("A", "g").unwrap().as_deref(), Some("z "));
    let d = eval(
        "X[a] = \"set\"\nX[a] ?= \"q\"\nX[b] ?= \"q\"\nX[b] ??= \"d\"\nX[c] ??= \"d\"\nX[c] ?= \"q\"\nX[e] ??= \"d1\"\nX[e] ??= \"d2\"\n",
    );
    for (flag, value) in [("a", "set"), ("b", "q"), ("c", "q"), ("e", "d2")] {
        assert_eq!(
            d.get_var_flag("X", flag).unwrap().as_deref(),
            Some(value),
            "X[{flag}]"
        );
    }
    let d = eval(
        "B = \"bee\"\nA[doc] = \"${B}\"\nA[imm] := \"${B}\"\nB = \"bee2\"\nOVERRIDES = \"o\"\nC[f] = \"base\"\nC:o[f] = \"over\"\n",
    );
    assert_eq!(d.get_var_flag("A", "doc").unwrap().as_deref(), Some("bee2"));
    assert_eq!(d.get_var_flag("A", "imm").unwrap().as_deref(), Some("bee"));
    assert_eq!(d.get_var_flag("C", "f").unwrap().as_deref(), Some("base"));
}

#[test]
fn export_and_unset_8() {
    let d = eval("export A = \"1\"\nexport B\nB = \"2\"\nexport E\n");
    assert_eq!(d.raw_flag("A", "export"), Some(&FlagValue::Int(1)));
    assert_eq!(d.raw_flag("E", "export"), Some(&FlagValue::Int(1)));
    assert_eq!(get(&d, "E"), None);
    check(
        "A = \"x\"\nA:append = \"y\"\nunset A\nB = \"x\"\nB:append = \"y\"\nunset B\nB = \"z\"\n",
        &[("A", None), ("B", Some("z"))],
    );
    check(
        "OVERRIDES = \"a\"\nC = \"x\"\nC:a = \"y\"\nunset C\n",
        &[("C", None), ("C:a", Some("y"))],
    );
    let d = eval("A[ff] ??= \"d\"\nA[ff] = \"s\"\nunset A[ff]\nA[gg] ??= \"d\"\nunset A[gg]\n");
    assert_eq!(d.get_var_flag("A", "ff").unwrap(), None);
    assert_eq!(d.get_var_flag("A", "gg").unwrap().as_deref(), Some("d"));
}

#[test]
fn include_and_require_9() {
    let files = [
        ("/l/recipes/foo.inc", "A += \"x\"\n"),
        ("/l/recipes-other/other/otherfile.inc", "O = \"bbpath\"\n"),
    ];
    let d = eval_with(
        "include foo.inc\ninclude foo.inc\ninclude missing.inc\nrequire recipes-other/other/otherfile.inc\n",
        &files,
    );
    assert_eq!(get(&d, "A").as_deref(), Some(" x x"));
    assert_eq!(get(&d, "O").as_deref(), Some("bbpath"));
    let mut loader = MemoryLoader::new();
    loader.add("/l/r.bb", "require nope.inc\n");
    loader.add("/l/t.bb", "include notes.txt\n");
    loader.add("/l/loop.bb", "include a.inc\n");
    loader.add("/l/a.inc", "include b.inc\n");
    loader.add("/l/b.inc", "include a.inc\n");
    let evaluator = Evaluator::new(Arc::new(loader), None);
    for (file, message) in [
        ("/l/r.bb", "Could not include required file nope.inc"),
        ("/l/t.bb", "not a BitBake file"),
        ("/l/loop.bb", "maximum recursion depth exceeded"),
    ] {
        let error = evaluator
            .eval_file(&mut DataStore::new(), Path::new(file))
            .unwrap_err();
        assert!(error.message.contains(message), "{file}: {error}");
        assert_eq!(error.line, 1, "{file}: {error}");
    }
}

#[test]
fn inherit_10() {
    let files = [
        (
            "/l/classes/one.bbclass",
            "A = \"class\"\nB = \"class\"\nWHO = \"${FILE}\"\n",
        ),
        ("/l/classes/two.bbclass", "TWO = \"yes\"\n"),
        (
            "/l/classes-recipe/foo.bbclass",
            "F = \"root-classes-recipe\"\n",
        ),
        ("/l/classes/foo.bbclass", "F = \"classes\"\n"),
    ];
    let d = eval_with(
        "CLS = \"one\"\ninherit ${CLS}\nCLS = \"two\"\nA = \"recipe\"\ninherit foo\n",
        &files,
    );
    assert_eq!(get(&d, "A").as_deref(), Some("recipe"));
    assert_eq!(get(&d, "B").as_deref(), Some("class"));
    assert_eq!(get(&d, "TWO"), None);
    assert_eq!(get(&d, "F").as_deref(), Some("root-classes-recipe"));
    // FILE is not changed by a class.
    assert_eq!(get(&d, "WHO").as_deref(), Some("/l/recipes/foo_1.0.bb"));
    assert_eq!(d.list_var("__inherit_cache").len(), 2);
}

#[test]
fn deferred_inherit_10_3() {
    let mut loader = MemoryLoader::new();
    loader.add(
        "/l/r_1.bb",
        "CLS = \"one\"\ninherit_defer ${CLS}\nCLS = \"two\"\nA = \"recipe\"\n",
    );
    loader.add("/l/classes/one.bbclass", "ONE = \"1\"\n");
    loader.add("/l/classes/two.bbclass", "A = \"class\"\n");
    let evaluator = Evaluator::new(Arc::new(loader), None);
    let mut d = DataStore::new();
    d.set_var_parse("BBPATH", "/l".into());
    evaluator.eval_file(&mut d, Path::new("/l/r_1.bb")).unwrap();
    evaluator.finalise(&mut d, Path::new("/l/r_1.bb")).unwrap();
    assert_eq!(get(&d, "A").as_deref(), Some("class"));
    assert_eq!(get(&d, "ONE"), None);
}

#[test]
fn functions_11() {
    let d = eval(
        "do_compile() {\n    echo \"${PN}\"\n\techo b\n}\ndo_foo() {\n    first\n}\ndo_foo:append() {\n    second\n}\ndo_foo:prepend() {\n    zero\n}\n",
    );
    assert_eq!(
        d.get_var_unexpanded("do_compile").unwrap().as_deref(),
        Some("    echo \"${PN}\"\n\techo b\n")
    );
    assert_eq!(d.raw_flag("do_compile", "func"), Some(&FlagValue::Int(1)));
    assert_eq!(d.raw_flag("do_compile", "python"), None);
    assert_eq!(
        d.raw_flag("do_compile", "lineno")
            .map(FlagValue::to_python_str)
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        get(&d, "do_foo").as_deref(),
        Some("    zero\n    first\n    second\n")
    );
    check(
        "OVERRIDES = \"x\"\ndo_bar() {\n    base\n}\ndo_bar:x() {\n    over\n}\n",
        &[("do_bar", Some("    over\n"))],
    );
    // Redefining a python function as shell drops [python].
    let d = eval("python do_x() {\n    pass\n}\ndo_x() {\n    :\n}\n");
    assert_eq!(d.raw_flag("do_x", "python"), None);
    let d = eval("python () {\n    pass\n}\n");
    let anon = d.list_var("__BBANONFUNCS");
    assert_eq!(anon, ["__anon_3__l_recipes_foo_1_0_bb"]);
    assert_eq!(
        get(&d, &anon[0]).as_deref(),
        Some("def __anon_3__l_recipes_foo_1_0_bb(d):\n    pass\n")
    );
}

#[test]
fn export_functions_11_5() {
    let files = [(
        "/l/classes/mybuild.bbclass",
        "mybuild_do_configure() {\n    ./configure ${EXTRA}\n}\nEXPORT_FUNCTIONS do_configure\n",
    )];
    let d = eval_with(
        "inherit mybuild\ndo_configure:append() {\n    echo extra\n}\n",
        &files,
    );
    assert_eq!(
        get(&d, "do_configure").as_deref(),
        Some("    # Export function set\n    mybuild_do_configure\n    echo extra\n")
    );
}

#[test]
fn tasks_12() {
    let d = eval("addtask fetch\naddtask build\naddtask report after do_fetch before do_build\n");
    assert_eq!(
        d.list_var("__BBTASKS"),
        ["do_fetch", "do_build", "do_report"]
    );
    assert_eq!(d.list_flag("do_report", "deps"), ["do_fetch"]);
    assert_eq!(d.list_flag("do_build", "deps"), ["do_report"]);
    let d = eval("addtask a\naddtask b after a\naddtask c after b\ndeltask b\n");
    assert_eq!(d.list_var("__BBTASKS"), ["do_a", "do_c"]);
    assert!(d.list_flag("do_c", "deps").is_empty());
    let d = eval("addtask a before x after b before y after c\n");
    assert_eq!(d.list_flag("do_a", "deps"), ["do_bc"]);
    assert_eq!(d.list_flag("do_xy", "deps"), ["do_a"]);
}

#[test]
fn key_expansion_16_3() {
    let mut d = eval(
        "A${B} = \"X\"\nB = \"2\"\nA2 = \"Y\"\nK1 = \"k\"\nK2 = \"k\"\nN_${K1} = \"first\"\nN_${K2} = \"second\"\n",
    );
    super::eval::expand_keys(&mut d).unwrap();
    assert_eq!(get(&d, "A2").as_deref(), Some("X"));
    assert_eq!(get(&d, "N_k").as_deref(), Some("second"));
    assert!(d.record("A${B}").is_none_or(|r| r.value.is_none()));
}

#[test]
fn depends_normalisation_16_5() {
    let mut loader = MemoryLoader::new();
    loader.add(
        "/l/r_1.bb",
        "BB_RECIPE_VIRTUAL_PROVIDERS = \"virtual/cc\"\nPREFERRED_PROVIDER_virtual/cc = \"gcc\"\nX = \"c\"\nDEPENDS = \"  virtual/cc   b ${X} \"\nDEPENDS:append = \" d\"\naddtask x\ndo_x[depends] = \"virtual/cc:do_populate_sysroot  zlib:do_a\"\n",
    );
    let evaluator = Evaluator::new(Arc::new(loader), None);
    let mut d = DataStore::new();
    evaluator.eval_file(&mut d, Path::new("/l/r_1.bb")).unwrap();
    evaluator.finalise(&mut d, Path::new("/l/r_1.bb")).unwrap();
    assert_eq!(get(&d, "DEPENDS").as_deref(), Some("gcc b c d"));
    assert_eq!(
        d.get_var_flag("do_x", "depends").unwrap().as_deref(),
        Some("gcc:do_populate_sysroot zlib:do_a")
    );
}

#[test]
fn python_time_writes_3_6() {
    let mut d = eval(
        "OVERRIDES = \"o\"\nA = \"base\"\nA:o = \"over\"\nA:zz = \"inactive\"\nG = \"g\"\nG:append = \" tail\"\n",
    );
    d.set_var_python("A", "py".into());
    d.set_var_python("G", "set in python".into());
    assert_eq!(get(&d, "A").as_deref(), Some("py"));
    assert_eq!(get(&d, "A:o"), None);
    assert_eq!(get(&d, "A:zz").as_deref(), Some("inactive"));
    assert_eq!(get(&d, "G").as_deref(), Some("set in python"));
    let mut d = eval("X = \"a\"\n");
    d.append_var("X", "b".into());
    d.prepend_var("X", "0".into());
    assert_eq!(get(&d, "X").as_deref(), Some("0ab"));
}

#[test]
fn copies_do_not_leak_into_their_parent() {
    let mut base = eval("A = \"1\"\nB = \"b\"\n");
    let mut copy = base.create_copy();
    copy.set_var_parse("A", "2".into());
    copy.del_var("B");
    base.set_var_parse("C", "c".into());
    assert_eq!(get(&base, "A").as_deref(), Some("1"));
    assert_eq!(get(&base, "B").as_deref(), Some("b"));
    assert_eq!(get(&copy, "A").as_deref(), Some("2"));
    assert_eq!(get(&copy, "B"), None);
    assert_eq!(get(&copy, "C"), None);
}

#[test]
fn overrides_follow_writes_to_what_they_were_computed_from() {
    // Only variables read while computing OVERRIDES invalidate them; every
    // one of those must, however deep.
    let mut d = eval(
        "OVERRIDES = \"${A}\"\nA = \"${B}\"\nB = \"x\"\nV = \"0\"\nV:x = \"X\"\nV:y = \"Y\"\n",
    );
    assert_eq!(get(&d, "V").as_deref(), Some("X"));
    d.set_var_parse("UNRELATED", "1".into());
    assert_eq!(get(&d, "V").as_deref(), Some("X"));
    d.set_var_python("B", "y".into());
    assert_eq!(get(&d, "V").as_deref(), Some("Y"));
    d.set_var_parse("B:append", ":x".into());
    assert_eq!(get(&d, "OVERRIDES").as_deref(), Some("y:x"));
    assert_eq!(get(&d, "V").as_deref(), Some("X"));
    // A variant of a variable OVERRIDES reads, once selected, counts too.
    let mut d = eval(
        "OVERRIDES = \"o:${M}\"\nM = \"m1\"\nM:o = \"m2\"\nV:m2 = \"two\"\nV:m3 = \"three\"\n",
    );
    assert_eq!(get(&d, "V").as_deref(), Some("two"));
    d.set_var_parse("M:o", "m3".into());
    assert_eq!(get(&d, "V").as_deref(), Some("three"));
}

proptest::proptest! {
    /// Spec §6.1: the scan that expansion uses finds exactly the
    /// references the reference pattern matches.
    #[test]
    fn reference_scan_agrees_with_the_pattern(text in "[${}@a-zA-Z0-9_:./~+é -]{0,40}") {
        let scanned: Vec<(usize, &str)> =
            super::var_refs(&text).map(|(whole, _, at)| (at, whole)).collect();
        let matched: Vec<(usize, &str)> =
            super::VAR_REF.find_iter(&text).map(|m| (m.start(), m.as_str())).collect();
        proptest::prop_assert_eq!(scanned, matched);
    }
}
