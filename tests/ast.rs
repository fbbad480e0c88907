//! The typed AST and its decoders: each test parses a snippet and reads it
//! back through the public API, as the datastore will.

use bitzel::syntax::ast::{HasArgs, SourceFile, Stmt};
use bitzel::syntax::ast_ext::{OperationKeyword, split_operation};
use bitzel::syntax::{self, AssignOp, FileKind};

fn statements(kind: FileKind, text: &str) -> Vec<Stmt> {
    let parse = syntax::parse(kind, text);
    assert!(parse.errors().is_empty(), "{:?}", parse.errors());
    let file: SourceFile = parse.tree();
    file.statements().collect()
}

fn only(kind: FileKind, text: &str) -> Stmt {
    let mut stmts = statements(kind, text);
    assert_eq!(stmts.len(), 1, "{stmts:?}");
    stmts.remove(0)
}

/// (exported, name, flag, operator, value) of a one-assignment snippet.
fn assignment(text: &str) -> (bool, String, Option<String>, AssignOp, String) {
    let Stmt::Assignment(a) = only(FileKind::Recipe, text) else {
        panic!("not an assignment: {text}")
    };
    (
        a.is_exported(),
        a.var_name().unwrap().text(),
        a.flag().and_then(|f| f.name()),
        a.op().unwrap(),
        a.value().unwrap().text(),
    )
}

#[test]
fn assignments_decode_name_flag_operator_value() {
    assert_eq!(
        assignment("export A[doc] ?= \"x y\"\n"),
        (
            true,
            "A".into(),
            Some("doc".into()),
            AssignOp::Default,
            "x y".into()
        )
    );
    assert_eq!(
        assignment("SRC_URI:append:arm = \" file://a\"\n"),
        (
            false,
            "SRC_URI:append:arm".into(),
            None,
            AssignOp::Assign,
            " file://a".into()
        )
    );
    // spec §2.2: continuation lines join; the spaces of the next line stay.
    assert_eq!(
        assignment("FOO = \"bar \\\n       baz\"\n").4,
        "bar        baz"
    );
    assert_eq!(assignment("LONG\\\nNAME = \"x\"\n").1, "LONGNAME");
    // spec §2.6: the value runs to the last quote; no escapes.
    assert_eq!(assignment("A = \"a\\\"b\\\"c\"\n").4, "a\\\"b\\\"c");
    assert_eq!(
        assignment("C = 'I have a \" in my value'\n").4,
        "I have a \" in my value"
    );
    for (text, op) in [
        ("A := \"v\"", AssignOp::Immediate),
        ("A ??= \"v\"", AssignOp::WeakDefault),
        ("A += \"v\"", AssignOp::Append),
        ("A =+ \"v\"", AssignOp::Prepend),
        ("A .= \"v\"", AssignOp::AppendNoSpace),
        ("A =. \"v\"", AssignOp::PrependNoSpace),
    ] {
        assert_eq!(assignment(text).3, op, "{text}");
    }
}

#[test]
fn operation_keywords_split_as_bitbake_does() {
    let op = split_operation("DEPENDS:append:class-native").unwrap();
    assert_eq!(
        (op.base, op.keyword, op.condition),
        ("DEPENDS", OperationKeyword::Append, "class-native")
    );
    assert!(split_operation("RDEPENDS:${PN}").is_none());
}

#[test]
fn export_and_unset() {
    let Stmt::Export(e) = only(FileKind::Conf, "export TZ\n") else {
        panic!()
    };
    assert_eq!(e.var_name().unwrap().text(), "TZ");
    let Stmt::Unset(u) = only(FileKind::Conf, "unset A[doc]\n") else {
        panic!()
    };
    assert_eq!(u.var_name().unwrap().text(), "A");
    assert_eq!(u.flag().unwrap().name().as_deref(), Some("doc"));
}

#[test]
fn directives_give_their_words() {
    let Stmt::Include(i) = only(FileKind::Recipe, "include a.inc  b.inc\n") else {
        panic!()
    };
    assert_eq!(i.words(), ["a.inc", "b.inc"]);
    let Stmt::Inherit(i) = only(FileKind::Recipe, "inherit autotools pkgconfig\n") else {
        panic!()
    };
    assert_eq!(i.words(), ["autotools", "pkgconfig"]);
    let Stmt::AddPylib(p) = only(FileKind::Conf, "addpylib ${LAYERDIR}/lib oe\n") else {
        panic!()
    };
    assert_eq!(p.words(), ["${LAYERDIR}/lib", "oe"]);
    let Stmt::ExportFunctions(x) = only(FileKind::Recipe, "EXPORT_FUNCTIONS do_a do_b\n") else {
        panic!()
    };
    assert_eq!(x.words(), ["do_a", "do_b"]);
}

#[test]
fn addtask_clauses() {
    let Stmt::AddTask(t) = only(
        FileKind::Recipe,
        "addtask report after do_fetch before do_build # c\n",
    ) else {
        panic!()
    };
    assert_eq!(t.task_names(), ["report"]);
    assert_eq!(t.after(), ["do_fetch"]);
    assert_eq!(t.before(), ["do_build"]);
    assert_eq!(t.comment().unwrap().text(), "# c");
    // spec §12.1: repeated clauses fuse.
    let Stmt::AddTask(t) = only(
        FileKind::Recipe,
        "addtask a before x after b before y after c\n",
    ) else {
        panic!()
    };
    assert_eq!(
        (t.task_names(), t.after(), t.before()),
        (
            vec!["a".to_string()],
            vec!["bc".to_string()],
            vec!["xy".to_string()]
        )
    );
}

#[test]
fn shell_and_python_functions() {
    let Stmt::Function(f) = only(
        FileKind::Recipe,
        "do_compile() {\n    echo \"${PN}\"\n\techo b  \n}\n",
    ) else {
        panic!()
    };
    assert_eq!(f.name().unwrap().text(), "do_compile");
    assert!(!f.is_python() && !f.is_fakeroot() && !f.is_anonymous() && f.is_closed());
    // spec §11.1: lines right-stripped, joined with \n, plus a final \n.
    assert_eq!(f.body(), "    echo \"${PN}\"\n\techo b\n");

    let Stmt::Function(f) = only(
        FileKind::Recipe,
        "fakeroot python do_x:append () {\n    pass\n}\n",
    ) else {
        panic!()
    };
    assert!(f.is_python() && f.is_fakeroot());
    assert_eq!(f.name().unwrap().text(), "do_x:append");

    let Stmt::Function(f) = only(FileKind::Recipe, "python () {\n}\n") else {
        panic!()
    };
    assert!(f.is_anonymous() && f.is_python());
    assert_eq!(f.body(), "");
    let Stmt::Function(f) = only(FileKind::Recipe, "python __anonymous () {\n  x\n}\n") else {
        panic!()
    };
    assert!(f.is_anonymous());
}

#[test]
fn def_functions_keep_their_trailing_blank_lines() {
    let stmts = statements(
        FileKind::Recipe,
        "def foo(d):\n    return \"x\"\n\n\nA = \"1\"\n",
    );
    let Stmt::DefFunction(f) = &stmts[0] else {
        panic!()
    };
    assert_eq!(f.name().unwrap().text(), "foo");
    // spec §11.3: no final newline, one \n per trailing blank line.
    assert_eq!(f.text(), "def foo(d):\n    return \"x\"\n\n");
    assert!(matches!(stmts[1], Stmt::Assignment(_)));
}

#[test]
fn crlf_bodies_read_like_lf() {
    let Stmt::Function(f) = only(FileKind::Recipe, "do_x() {\r\n  a\r\n  b\r\n}\r\n") else {
        panic!()
    };
    assert_eq!(f.body(), "  a\n  b\n");
}

#[test]
fn errors_leave_the_rest_of_the_file_usable() {
    let parse = syntax::parse(FileKind::Recipe, "A = \"1\"\nB = oops\nC = \"3\"\n");
    assert_eq!(parse.errors().len(), 1);
    let names: Vec<String> = parse
        .tree()
        .statements()
        .filter_map(|s| match s {
            Stmt::Assignment(a) => a.var_name().map(|n| n.text()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["A", "C"]);
}
