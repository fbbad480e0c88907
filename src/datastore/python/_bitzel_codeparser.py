"""What python code reads and calls, as BitBake's code parser finds it.

Bitzel's task signatures (spec sections 18.2 and 18.3) need, for every
python function body and inline expression, the datastore variables it
reads, the flags it reads, the `contains` tests it makes, the literal
strings it expands and the names it calls. BitBake finds them by walking
the syntax tree of the code and looking only at call expressions; this
module does the same walk with the same rules (our code, BitBake's
behaviour):

* the called name is the dotted name of the callee when it is a plain
  name or a chain of attributes ending in one (`d.getVar`,
  `oe.utils.conditional`), otherwise the call has no name;
* only literal arguments are followed; a non-literal one is skipped
  (BitBake logs it at debug level);
* a call that BitBake's rule reads an argument of, made without that
  argument, is an error, as it is in BitBake.

Functions of `addpylib` modules can carry a `visitorcode` hook (oe-core's
`oe.qa.handle_error`): a call to such a function is handed to the hook
instead. The same modules' functions are themselves signature keys, and
`pylib_function_deps` analyses them the way BitBake does when it loads
them.
"""

import ast
import hashlib
import inspect
import types

_VAR_READS = (".getVar", ".appendVar", ".prependVar", "oe.utils.conditional")
_FLAG_READS = (".getVarFlag", ".appendVarFlag", ".prependVarFlag")
_CONTAINS = ("bb.utils.contains", "base_contains")
_CONTAINS_ANY = ("bb.utils.contains_any", "bb.utils.filter")
_EXEC_FUNCS = ("bb.build.exec_func", "bb.build.exec_task")


class CodeError(Exception):
    """Code BitBake's parser rejects: kind, line in the code, message."""

    def __init__(self, kind, line, message):
        Exception.__init__(self, message)
        self.kind = kind
        self.line = line
        self.message = message


def _as_module(code):
    """The code as BitBake compiles it: indented code (a function body)
    is put under an `if 1:` line; our caller pads one newline first, which
    this removes again so that line numbers stay put."""
    i = 0
    while code[i] in "\n\t ":
        i += 1
    if i == 0 or code[i - 1] not in "\t ":
        return code
    if code[0] == "\n":
        code = code[1:]
    return "if 1:\n" + code


def _dotted_name(node):
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return ".".join(reversed(parts))
        else:
            return None


def _text(value):
    """A literal as BitBake formats it into a name."""
    return value if isinstance(value, str) else "%s" % (value,)


def _is_str(node):
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


class _Reader:
    def __init__(self, visitors):
        self.visitors = visitors
        self.refs = set()
        self.flag_refs = set()
        self.contains = {}
        self.expands = []
        self.execs = set()
        self.exec_literals = set()

    def argument(self, call, name, index):
        try:
            return call.args[index]
        except IndexError:
            shortage = "without positional arguments" if index == 0 else "with one positional argument"
            raise CodeError("error", call.lineno, "`%s` is called %s" % (name, shortage)) from None

    def call(self, call):
        name = _dotted_name(call.func)
        visitor = self.visitors.get(name) if name else None
        if visitor is not None:
            contains, execs, _ = visitor(name, call.args)
            for var in contains:
                # Replaced, not merged, as BitBake does.
                self.contains[var] = set(contains[var])
            self.execs |= set(execs)
        elif name and (
            name.endswith(_VAR_READS)
            or name.endswith(_FLAG_READS)
            or name in _CONTAINS
            or name in _CONTAINS_ANY
        ):
            first = self.argument(call, name, 0)
            if not _is_str(first):
                return
            var = first.value
            if name in _CONTAINS and isinstance(self.argument(call, name, 1), ast.Constant):
                self.contains.setdefault(var, set()).add(call.args[1].value)
            elif name in _CONTAINS_ANY and isinstance(self.argument(call, name, 1), ast.Constant):
                items = call.args[1].value
                if not isinstance(items, (str, bytes)):
                    raise CodeError(
                        "error", call.lineno, "`%s` is called with a non-string item list" % name
                    )
                self.contains.setdefault(var, set()).update(items.split())
            elif name.endswith(_FLAG_READS):
                flag = self.argument(call, name, 1)
                if isinstance(flag, ast.Constant):
                    self.flag_refs.add((var, _text(flag.value)))
            else:
                self.refs.add(var)
        elif name and name.endswith(".expand"):
            literal = self.argument(call, name, 0)
            if _is_str(literal):
                self.expands.append(literal.value)
        elif name in _EXEC_FUNCS:
            literal = self.argument(call, name, 0)
            if isinstance(literal, ast.Constant):
                self.exec_literals.add(_text(literal.value))
        elif name:
            self.execs.add(name)

    def read(self, tree):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self.call(node)
        self.execs |= self.exec_literals


def _compile(code, filename="<code>"):
    try:
        return compile(_as_module("\n" + code), filename, "exec", ast.PyCF_ONLY_AST)
    except SyntaxError as e:
        raise CodeError("syntax", e.lineno or 1, "%s: %s" % (type(e).__name__, e.msg)) from None
    except ValueError as e:
        # e.g. a NUL character in the source
        raise CodeError("syntax", 1, "%s: %s" % (type(e).__name__, e)) from None


def _contains_items(contains):
    return {var: sorted(_text(item) for item in items) for var, items in contains.items()}


def code_deps(code):
    """Analyses one python function body or inline expression.

    Returns ("ok", refs, flag_refs, contains, expands, execs) or
    ("error", kind, line, message), kind being "syntax" or "error"."""
    if not code.strip():
        return ("ok", [], [], {}, [], [])
    try:
        reader = _Reader(_visitors())
        tree = _compile(code)
        reader.read(tree)
    except CodeError as e:
        # Lines of the compiled text count our one line of padding.
        return ("error", e.kind, max(e.line - 1, 1), e.message)
    except Exception as e:  # a visitor hook failed
        return ("error", "error", 0, "%s: %s" % (type(e).__name__, e))
    return (
        "ok",
        sorted(reader.refs),
        sorted(reader.flag_refs),
        _contains_items(reader.contains),
        reader.expands,
        sorted(reader.execs),
    )


def _pylib_functions():
    """The functions BitBake registers for `addpylib` namespaces: every
    public callable of each module the namespace lists in `BBIMPORTS`,
    defined in that module's own file. Name -> (function, module file)."""
    import bb.utils

    found = {}
    for namespace, package in list(bb.utils.get_context().items()):
        if not isinstance(package, types.ModuleType):
            continue
        for submodule in getattr(package, "BBIMPORTS", []):
            module = getattr(package, submodule, None)
            filename = getattr(module, "__file__", None)
            if module is None or filename is None:
                continue
            for attr in dir(module):
                if attr.startswith("_"):
                    continue
                function = getattr(module, attr)
                if not callable(function):
                    continue
                try:
                    source_file = inspect.getsourcefile(function)
                except TypeError:
                    continue
                if source_file != filename:
                    continue
                found["%s.%s.%s" % (namespace, submodule, attr)] = (function, filename)
    return found


_visitor_cache = [None, {}]


def _visitors():
    import bb.utils

    key = tuple(
        (name, id(value))
        for name, value in bb.utils.get_context().items()
        if isinstance(value, types.ModuleType) and hasattr(value, "BBIMPORTS")
    )
    if _visitor_cache[0] != key:
        _visitor_cache[1] = {
            name: function.visitorcode
            for name, (function, _) in _pylib_functions().items()
            if getattr(function, "visitorcode", None)
        }
        _visitor_cache[0] = key
    return _visitor_cache[1]


def pylib_function_deps():
    """Every `addpylib` function as a signature key, as BitBake analyses
    it when the module is loaded: name -> (refs, execs, contains,
    expands, value), or name -> ("error", message) for source that cannot
    be read. `expands` are literal strings whose references the caller
    adds (BitBake expands them in an empty datastore).
    `refs` includes flag references as `VAR[flag]`; the decorators
    `bb.parse.vardeps` / `vardepsexclude` are applied; calls to functions
    of the same module are named with the module prefix; `value` is the
    hashed value, sha256 of the source padded with one newline per line
    before the function."""
    visitors = _visitors()
    result = {}
    for name, (function, _) in sorted(_pylib_functions().items()):
        try:
            lines, lineno = inspect.getsourcelines(function)
        except (TypeError, OSError) as e:
            result[name] = ("error", "%s: %s" % (type(e).__name__, e))
            continue
        source = "".join(lines)
        reader = _Reader(visitors)
        try:
            reader.read(compile(_as_module("\n" * lineno + source), "<pylib>", "exec", ast.PyCF_ONLY_AST))
        except (CodeError, SyntaxError) as e:
            result[name] = ("error", "%s: %s" % (type(e).__name__, e))
            continue
        refs = set(reader.refs) | {"%s[%s]" % pair for pair in reader.flag_refs}
        refs |= set(getattr(function, "bb_vardeps", ()))
        refs -= set(getattr(function, "bb_vardepsexclude", ()))
        module_prefix = name.rsplit(".", 1)[0]
        module = inspect.getmodule(function)
        execs = set()
        for called in reader.execs:
            if module is not None and called in _public_callables(module):
                execs.add(module_prefix + "." + called)
            else:
                execs.add(called)
        value = hashlib.sha256(("\n" * lineno + source).encode("utf-8")).hexdigest()
        result[name] = (sorted(refs), sorted(execs), _contains_items(reader.contains), reader.expands, value)
    return result


def _public_callables(module):
    return {
        attr
        for attr in dir(module)
        if not attr.startswith("_") and callable(getattr(module, attr))
    }
