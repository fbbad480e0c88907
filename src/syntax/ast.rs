//! The typed AST: zero-cost wrappers over CST nodes.
//!
//! Each node kind gets a struct implementing `rowan::ast::AstNode`; the
//! alternatives a file is made of are the [`Stmt`] enum. Accessors are named
//! by role and return `Option` (a missing child is normal in broken input) or
//! iterators; none of them panics. Decoding values as BitBake does (joining
//! continuation lines, splitting names into base and overrides, function
//! bodies as BitBake stores them) lives in `ast_ext`.

use rowan::ast::AstNode;

use super::{AssignOp, BitbakeLanguage, SyntaxKind, SyntaxKind::*, SyntaxNode, SyntaxToken};

macro_rules! node {
    ($(#[$meta:meta])* $name:ident, $kind:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(SyntaxNode);

        impl AstNode for $name {
            type Language = BitbakeLanguage;

            fn can_cast(kind: SyntaxKind) -> bool {
                kind == $kind
            }

            fn cast(node: SyntaxNode) -> Option<Self> {
                Self::can_cast(node.kind()).then(|| $name(node))
            }

            fn syntax(&self) -> &SyntaxNode {
                &self.0
            }
        }
    };
}

node!(
    /// A whole file.
    SourceFile, SOURCE_FILE
);
node!(
    /// `[export] NAME[flag] OP "value"`.
    Assignment, ASSIGNMENT
);
node!(
    /// A variable name as written, possibly with `:override` parts.
    VarName, VAR_NAME
);
node!(
    /// `[flag]` after a name.
    Flag, FLAG
);
node!(
    /// A quoted value.
    Value, VALUE
);
node!(
    /// `export NAME`.
    Export, EXPORT
);
node!(
    /// `unset NAME` or `unset NAME[flag]`.
    Unset, UNSET
);
node!(
    /// `include FILES`.
    Include, INCLUDE
);
node!(
    /// `require FILES`.
    Require, REQUIRE
);
node!(
    /// `include_all PATH`.
    IncludeAll, INCLUDE_ALL
);
node!(
    /// `inherit CLASSES`.
    Inherit, INHERIT
);
node!(
    /// `inherit_defer CLASSES`.
    InheritDefer, INHERIT_DEFER
);
node!(
    /// `addtask NAMES [after ...] [before ...]`.
    AddTask, ADDTASK
);
node!(
    /// `deltask NAMES`.
    DelTask, DELTASK
);
node!(
    /// `addhandler NAMES`.
    AddHandler, ADDHANDLER
);
node!(
    /// `EXPORT_FUNCTIONS NAMES`.
    ExportFunctions, EXPORT_FUNCTIONS
);
node!(
    /// `addpylib DIR NAMESPACE`.
    AddPylib, ADDPYLIB
);
node!(
    /// `addfragments PREFIX LISTVAR METAVARS BUILTINVAR`.
    AddFragments, ADDFRAGMENTS
);
node!(
    /// The argument words of a directive.
    Args, ARGS
);
node!(
    /// A shell, python or fakeroot function, named or anonymous.
    Function, FUNCTION
);
node!(
    /// A function's name.
    FunctionName, FUNCTION_NAME
);
node!(
    /// A `def` python function.
    DefFunction, DEF_FUNCTION
);
node!(
    /// A line BitBake would reject.
    ErrorNode, ERROR
);

/// One statement of a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Stmt {
    Assignment(Assignment),
    Export(Export),
    Unset(Unset),
    Include(Include),
    Require(Require),
    IncludeAll(IncludeAll),
    Inherit(Inherit),
    InheritDefer(InheritDefer),
    AddTask(AddTask),
    DelTask(DelTask),
    AddHandler(AddHandler),
    ExportFunctions(ExportFunctions),
    AddPylib(AddPylib),
    AddFragments(AddFragments),
    Function(Function),
    DefFunction(DefFunction),
    Error(ErrorNode),
}

impl AstNode for Stmt {
    type Language = BitbakeLanguage;

    fn can_cast(kind: SyntaxKind) -> bool {
        matches!(
            kind,
            ASSIGNMENT
                | EXPORT
                | UNSET
                | INCLUDE
                | REQUIRE
                | INCLUDE_ALL
                | INHERIT
                | INHERIT_DEFER
                | ADDTASK
                | DELTASK
                | ADDHANDLER
                | EXPORT_FUNCTIONS
                | ADDPYLIB
                | ADDFRAGMENTS
                | FUNCTION
                | DEF_FUNCTION
                | ERROR
        )
    }

    fn cast(node: SyntaxNode) -> Option<Self> {
        Some(match node.kind() {
            ASSIGNMENT => Stmt::Assignment(Assignment(node)),
            EXPORT => Stmt::Export(Export(node)),
            UNSET => Stmt::Unset(Unset(node)),
            INCLUDE => Stmt::Include(Include(node)),
            REQUIRE => Stmt::Require(Require(node)),
            INCLUDE_ALL => Stmt::IncludeAll(IncludeAll(node)),
            INHERIT => Stmt::Inherit(Inherit(node)),
            INHERIT_DEFER => Stmt::InheritDefer(InheritDefer(node)),
            ADDTASK => Stmt::AddTask(AddTask(node)),
            DELTASK => Stmt::DelTask(DelTask(node)),
            ADDHANDLER => Stmt::AddHandler(AddHandler(node)),
            EXPORT_FUNCTIONS => Stmt::ExportFunctions(ExportFunctions(node)),
            ADDPYLIB => Stmt::AddPylib(AddPylib(node)),
            ADDFRAGMENTS => Stmt::AddFragments(AddFragments(node)),
            FUNCTION => Stmt::Function(Function(node)),
            DEF_FUNCTION => Stmt::DefFunction(DefFunction(node)),
            ERROR => Stmt::Error(ErrorNode(node)),
            _ => return None,
        })
    }

    fn syntax(&self) -> &SyntaxNode {
        match self {
            Stmt::Assignment(it) => it.syntax(),
            Stmt::Export(it) => it.syntax(),
            Stmt::Unset(it) => it.syntax(),
            Stmt::Include(it) => it.syntax(),
            Stmt::Require(it) => it.syntax(),
            Stmt::IncludeAll(it) => it.syntax(),
            Stmt::Inherit(it) => it.syntax(),
            Stmt::InheritDefer(it) => it.syntax(),
            Stmt::AddTask(it) => it.syntax(),
            Stmt::DelTask(it) => it.syntax(),
            Stmt::AddHandler(it) => it.syntax(),
            Stmt::ExportFunctions(it) => it.syntax(),
            Stmt::AddPylib(it) => it.syntax(),
            Stmt::AddFragments(it) => it.syntax(),
            Stmt::Function(it) => it.syntax(),
            Stmt::DefFunction(it) => it.syntax(),
            Stmt::Error(it) => it.syntax(),
        }
    }
}

fn child<N: AstNode<Language = BitbakeLanguage>>(parent: &SyntaxNode) -> Option<N> {
    parent.children().find_map(N::cast)
}

fn token(parent: &SyntaxNode, kind: SyntaxKind) -> Option<SyntaxToken> {
    parent
        .children_with_tokens()
        .filter_map(|it| it.into_token())
        .find(|it| it.kind() == kind)
}

/// The text of a node's tokens with continuations (`LINE_CONT`) left out:
/// the node's text as BitBake sees it after joining lines (spec §2.2).
pub(crate) fn joined_text(node: &SyntaxNode) -> String {
    let mut text = String::new();
    for token in node
        .descendants_with_tokens()
        .filter_map(|it| it.into_token())
    {
        if token.kind() != LINE_CONT {
            text.push_str(token.text());
        }
    }
    text
}

impl SourceFile {
    /// Statements in file order (blank lines and comments are tokens, not
    /// statements).
    pub fn statements(&self) -> impl Iterator<Item = Stmt> + use<> {
        self.0.children().filter_map(Stmt::cast)
    }
}

impl Assignment {
    pub fn export_token(&self) -> Option<SyntaxToken> {
        token(&self.0, EXPORT_KW)
    }

    pub fn is_exported(&self) -> bool {
        self.export_token().is_some()
    }

    pub fn var_name(&self) -> Option<VarName> {
        child(&self.0)
    }

    pub fn flag(&self) -> Option<Flag> {
        child(&self.0)
    }

    pub fn op_token(&self) -> Option<SyntaxToken> {
        self.0
            .children_with_tokens()
            .filter_map(|it| it.into_token())
            .find(|it| op_of_kind(it.kind()).is_some())
    }

    pub fn op(&self) -> Option<AssignOp> {
        self.op_token().and_then(|t| op_of_kind(t.kind()))
    }

    pub fn value(&self) -> Option<Value> {
        child(&self.0)
    }
}

fn op_of_kind(kind: SyntaxKind) -> Option<AssignOp> {
    Some(match kind {
        COLON_EQ => AssignOp::Immediate,
        QUESTION2_EQ => AssignOp::WeakDefault,
        QUESTION_EQ => AssignOp::Default,
        PLUS_EQ => AssignOp::Append,
        EQ_PLUS => AssignOp::Prepend,
        EQ_DOT => AssignOp::PrependNoSpace,
        DOT_EQ => AssignOp::AppendNoSpace,
        EQ => AssignOp::Assign,
        _ => return None,
    })
}

impl VarName {
    /// The name as BitBake reads it (continuations removed).
    pub fn text(&self) -> String {
        joined_text(&self.0)
    }
}

impl Flag {
    /// The flag's name, without brackets.
    pub fn name(&self) -> Option<String> {
        token(&self.0, IDENT).map(|t| t.text().to_string())
    }
}

impl Value {
    pub fn quote(&self) -> Option<char> {
        token(&self.0, QUOTE).and_then(|t| t.text().chars().next())
    }
}

impl Export {
    pub fn var_name(&self) -> Option<VarName> {
        child(&self.0)
    }
}

impl Unset {
    pub fn var_name(&self) -> Option<VarName> {
        child(&self.0)
    }

    pub fn flag(&self) -> Option<Flag> {
        child(&self.0)
    }
}

impl Args {
    /// The arguments as one string, as BitBake's pattern captured them.
    pub fn text(&self) -> String {
        joined_text(&self.0)
    }
}

/// Directives whose arguments are a list of whitespace-separated words.
pub trait HasArgs: AstNode<Language = BitbakeLanguage> {
    fn args(&self) -> Option<Args> {
        child(self.syntax())
    }

    /// The argument text (empty if missing).
    fn args_text(&self) -> String {
        self.args().map(|a| a.text()).unwrap_or_default()
    }

    /// The arguments split at whitespace, unexpanded.
    fn words(&self) -> Vec<String> {
        self.args_text()
            .split(super::shape::is_py_space)
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl HasArgs for Include {}
impl HasArgs for Require {}
impl HasArgs for IncludeAll {}
impl HasArgs for Inherit {}
impl HasArgs for InheritDefer {}
impl HasArgs for AddTask {}
impl HasArgs for DelTask {}
impl HasArgs for AddHandler {}
impl HasArgs for ExportFunctions {}
impl HasArgs for AddPylib {}
impl HasArgs for AddFragments {}

impl AddTask {
    /// The trailing `#...` comment, if any.
    pub fn comment(&self) -> Option<SyntaxToken> {
        token(&self.0, COMMENT)
    }
}

impl Function {
    pub fn name(&self) -> Option<FunctionName> {
        child(&self.0)
    }

    pub fn is_python(&self) -> bool {
        token(&self.0, PYTHON_KW).is_some()
    }

    pub fn is_fakeroot(&self) -> bool {
        token(&self.0, FAKEROOT_KW).is_some()
    }

    pub fn body_token(&self) -> Option<SyntaxToken> {
        token(&self.0, BODY)
    }

    /// Whether the closing `}` line is present.
    pub fn is_closed(&self) -> bool {
        token(&self.0, R_CURLY).is_some()
    }
}

impl FunctionName {
    pub fn text(&self) -> String {
        joined_text(&self.0)
    }
}

impl DefFunction {
    pub fn name(&self) -> Option<FunctionName> {
        child(&self.0)
    }

    pub fn body_token(&self) -> Option<SyntaxToken> {
        token(&self.0, BODY)
    }
}
