"""Bitzel's side of the embedded interpreter.

The Rust evaluator calls these functions to run metadata python the way
BitBake's parser does: inline `${@...}` expressions in a shared global
context with unknown bare names read from the datastore, `def` functions
and `addpylib` namespaces added to that context, and anonymous functions
run in order. Written for Bitzel; BitBake's semantics, our code.
"""

import builtins
import sys
from _thread import _local as _thread_local
import types

import _bitzel
import bb
import bb.parse
import bb.utils

_context = bb.utils.get_context()
_compiled = {}


class DataContext(dict):
    """Locals for inline python: `d`, then datastore variables by name."""

    excluded = {name for name in dir(builtins) if not name.startswith("_")} | {"oe"}

    def __init__(self, d):
        dict.__init__(self, d=d)
        self.d = d

    def __missing__(self, key):
        if key in self.excluded or key in _context:
            raise KeyError(key)
        value = self.d.getVar(key)
        if value is None:
            raise KeyError(key)
        return value


# Inline python runs with `d` among its globals (BitBake evaluates with a
# copy of the context plus `d`), so that nested scopes see it. Recipes may
# be parsed on several threads, so each thread evaluates in its own copy of
# the context, brought up to date from a log of the names changed since
# (`None`: anything may have). Copying the whole context on every change
# cost a twentieth of a parse: every recipe defines functions.
_local = _thread_local()
_log = []


def _changed(name=None, new=False):
    """Notes a change of the globals: `name` (re)defined, or (None)
    anything. `new`: the name was not defined before, so only code that
    mentions it can see a difference (for the memo of inline python)."""
    _log.append(name)
    _bitzel.context_changed(name if new else None)


def _thread_globals():
    cached = getattr(_local, "globals", None)
    end = len(_log)
    if cached is None:
        cached = dict(_context)
        _local.globals = cached
        _local.seen = end
        return cached
    if _local.seen != end:
        names = _log[_local.seen:end]
        if None in names:
            # A new dict: an evaluation still running keeps its own.
            cached = dict(_context)
            _local.globals = cached
        else:
            for name in names:
                if name in _context:
                    cached[name] = _context[name]
                else:
                    cached.pop(name, None)
        _local.seen = end
    return cached


def eval_inline(code, d):
    compiled = _compiled.get(code)
    if compiled is None:
        compiled = compile(code.strip(), "<expansion>", "eval")
        _compiled[code] = compiled
    globals_ = _thread_globals()
    previous = globals_.get("d", _MISSING)
    globals_["d"] = d
    try:
        return str(eval(compiled, globals_, DataContext(d)))
    finally:
        if previous is _MISSING:
            del globals_["d"]
        else:
            globals_["d"] = previous


_MISSING = object()


def inline_names(code):
    """The names inline python's bytecode mentions, nested code included:
    the globals its result can depend on are among them."""
    compiled = _compiled.get(code)
    if compiled is None:
        compiled = compile(code.strip(), "<expansion>", "eval")
    names = set()
    pending = [compiled]
    while pending:
        current = pending.pop()
        names.update(current.co_names)
        pending.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return sorted(names)


def _compile_at(text, filename, line):
    # Line numbers in tracebacks point into the metadata file.
    return compile("\n" * max(line - 1, 0) + text, filename, "exec")


# Compiled `def` statements by (text, file, line): every recipe defines
# the functions of the classes it inherits again, and compiling them was a
# twentieth of a parse.
_def_code = {}

_PLAIN_CONSTANTS = (str, int, float, bool, bytes, type(None))


def _plain(defaults):
    if defaults is None:
        return True
    if isinstance(defaults, dict):
        defaults = tuple(defaults.values())
    return all(type(value) in _PLAIN_CONSTANTS for value in defaults)


def _same_function(old, new):
    """Whether calling `old` is calling `new`: the same code, globals and
    constant defaults, no closure or attributes."""
    if type(old) is not types.FunctionType or type(new) is not types.FunctionType:
        return False
    return (
        old.__code__ is new.__code__
        and old.__globals__ is new.__globals__
        and old.__closure__ is None
        and new.__closure__ is None
        and not old.__dict__
        and not new.__dict__
        and _plain(old.__defaults__)
        and _plain(old.__kwdefaults__)
        and old.__defaults__ == new.__defaults__
        and old.__kwdefaults__ == new.__kwdefaults__
    )


def define_function(name, text, filename, line):
    key = (text, filename, line)
    code = _def_code.get(key)
    if code is None:
        code = _compile_at(text, filename, line)
        _def_code[key] = code
    previous = _context.get(name)
    exec(code, _context)
    # The same definition again leaves the threads' copies of the context
    # valid: their function behaves as the new one.
    if not _same_function(previous, _context.get(name)):
        _changed(name, new=previous is None)


def run_anonymous(functions, d):
    """Runs `(name, code, file, line)` anonymous functions in order.
    Returns None, or the SkipRecipe reason; other exceptions propagate."""
    for name, code, filename, line in functions:
        if name not in _context:
            exec(_compile_at(code, filename, line), _context)
            _changed(name, new=True)
    try:
        for name, _, _, _ in functions:
            _context[name](d)
    except bb.parse.SkipRecipe as skip:
        return str(skip.args[0]) if skip.args else ""
    return None


def exec_python_func(func, d):
    """Runs the python function `func` of the datastore with `d`, as
    BitBake's worker runs a python task: `def func(d):` + its body,
    compiled at its file and line, in the metadata's globals."""
    body = d.getVar(func, False) or ""
    filename = d.getVarFlag(func, "filename", False) or func
    try:
        line = int(d.getVarFlag(func, "lineno", False) or 1)
    except ValueError:
        line = 1
    key = "__bitzel_func_" + func.replace("-", "_").replace(".", "_")
    text = "def %s(d):\n%s\n" % (key, body if body.strip() else "    pass")
    exec(_compile_at(text, filename, max(line - 1, 0)), _context)
    _changed(key)
    _context[key](d)
    return None


_EVENTS = {
    "ConfigParsed": lambda fn, args: bb.event.ConfigParsed(),
    "RecipePreDeferredInherits": lambda fn, args: bb.event.RecipePreDeferredInherits(fn, args),
    "RecipePreFinalise": lambda fn, args: bb.event.RecipePreFinalise(fn),
    "RecipePostKeyExpansion": lambda fn, args: bb.event.RecipePostKeyExpansion(fn),
    "RecipeTaskPreProcess": lambda fn, args: bb.event.RecipeTaskPreProcess(fn, args),
    "RecipeParsed": lambda fn, args: bb.event.RecipeParsed(fn),
}


def fire_event(name, fn, args, d):
    """Fires a parse event; returns None or a SkipRecipe reason."""
    import bb.event
    try:
        bb.event.fire(_EVENTS[name](fn, list(args)), d)
    except bb.parse.SkipRecipe as skip:
        return str(skip.args[0]) if skip.args else ""
    return None


def add_tasks(tasklist, d):
    import bb.build
    bb.build.add_tasks(list(tasklist), d)


def apply_filter(expression, value):
    import bb.filter
    return str(bb.filter.apply_filters(value, [expression]))


# Every `addpylib` of this process, in order, so that a task's process
# can load the same libraries.
pylibs = []


def add_pylib(libdir, namespace, global_modules, lazy=False):
    """`addpylib`: the namespace's package and every module its BBIMPORTS
    lists, in the metadata's globals. `lazy` (a task's runner): each of
    those modules is imported when first read as an attribute of the
    package, so a task pays only for the modules it uses."""
    pylibs.append((libdir, namespace, list(global_modules)))
    for module in global_modules:
        if module not in _context:
            _context[module] = __import__(module)
    if libdir not in sys.path:
        sys.path.append(libdir)
    package = __import__(namespace)
    _context[namespace] = package
    submodules = list(getattr(package, "BBIMPORTS", []))
    if lazy and "__getattr__" not in vars(package):
        def __getattr__(name, _names=frozenset(submodules), _package=namespace):
            if name in _names:
                import importlib
                return importlib.import_module(_package + "." + name)
            raise AttributeError("module %r has no attribute %r" % (_package, name))
        package.__getattr__ = __getattr__
    else:
        for submodule in submodules:
            __import__(namespace + "." + submodule)
    _changed()


def define_compiled(blob):
    """Runs the metadata's `def` functions, compiled by bitzel's process
    (a marshalled list of code objects), into the metadata's globals."""
    import marshal
    for code in marshal.loads(blob):
        exec(code, _context)
    _changed()


_METADATA_SUFFIXES = (".bb", ".bbappend", ".bbclass", ".inc", ".conf")


def error_location(exc):
    """The innermost metadata file and line in an exception's traceback."""
    location = (None, 0)
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(_METADATA_SUFFIXES):
            location = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return location


def format_exception(exc):
    """One line for an exception, as BitBake reports it."""
    if isinstance(exc, SyntaxError):
        return "%s: %s" % (type(exc).__name__, exc.msg)
    return "%s: %s" % (type(exc).__name__, exc)
