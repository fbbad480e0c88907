"""bb.parse for Bitzel: the exceptions metadata raises and the file-name
helpers it calls; the parser itself is Bitzel's Rust code."""

import os


class ParseError(Exception):
    def __init__(self, msg, filename, lineno=0):
        self.msg = msg
        self.filename = filename
        self.lineno = lineno
        Exception.__init__(self, msg, filename, lineno)

    def __str__(self):
        if self.lineno:
            return "ParseError at %s:%d: %s" % (self.filename, self.lineno, self.msg)
        return "ParseError in %s: %s" % (self.filename, self.msg)


class SkipRecipe(Exception):
    """Raised by metadata to skip a recipe; args[0] is the reason."""


SkipPackage = SkipRecipe

_vars_from_file_cache = {}


def vars_from_file(mypkg, d):
    if not mypkg or not mypkg.endswith((".bb", ".bbappend")):
        return (None, None, None)
    if mypkg in _vars_from_file_cache:
        parts = _vars_from_file_cache[mypkg]
    else:
        base = os.path.splitext(os.path.basename(mypkg))[0]
        parts = base.split("_")
        # Cached before the check, as BitBake does.
        _vars_from_file_cache[mypkg] = parts
    if len(parts) > 3:
        raise ParseError("Unable to generate default variables from filename (too many underscores)", mypkg)
    return list(parts) + [None] * (3 - len(parts))


def mark_dependency(d, f):
    pass


def cached_mtime_noerror(f):
    try:
        return os.stat(f).st_mtime
    except OSError:
        return 0


def vardeps(*varnames):
    def decorator(func):
        func.bb_vardeps = varnames
        return func
    return decorator


def vardepsexclude(*varnames):
    def decorator(func):
        func.bb_vardepsexclude = varnames
        return func
    return decorator


siggen = None
