"""Bitzel's `bb` package: the parts of BitBake's python API that metadata
uses while it is parsed, written for Bitzel over its Rust datastore.

Messages go to standard error with BitBake's prefixes.
"""

import sys

__version__ = "2.19.0"


class BBHandledException(Exception):
    """An error that was already reported (bb.fatal)."""


def _log(prefix, args):
    sys.stderr.write("%s%s\n" % (prefix, "".join(str(a) for a in args)))


def plain(*args, **kwargs):
    _log("", args)


def note(*args, **kwargs):
    pass


def verbnote(*args, **kwargs):
    _log("NOTE: ", args)


def debug(level, *args, **kwargs):
    pass


def warn(*args, **kwargs):
    _log("WARNING: ", args)


def error(*args, **kwargs):
    _log("ERROR: ", args)


def fatal(*args, **kwargs):
    _log("ERROR: ", args)
    raise BBHandledException("".join(str(a) for a in args))


def deprecate_import(current, modulename, fromlist, renames=None):
    return None


# BitBake makes `bb` and `os` builtins, and layer libraries rely on it.
import builtins as _builtins  # noqa: E402
import os as _os  # noqa: E402

_builtins.bb = sys.modules[__name__]
_builtins.os = _os

# Submodules are imported on first use (`bb.utils`, `import bb.fetch2`):
# importing them all, and the standard modules they use, would cost every
# task's start tens of milliseconds.
_SUBMODULES = {"utils", "data", "data_smart", "parse", "build", "event", "fetch2", "process",
               "siggen", "runqueue", "filter", "msg", "progress", "tinfoil", "cookerdata",
               "compress", "multiprocessing"}


def __getattr__(name):
    if name == "fetch":
        name = "fetch2"
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module("bb." + name)
    raise AttributeError("module 'bb' has no attribute %r" % name)


class _FetchAlias(type(sys)):
    """`bb.fetch`, BitBake's old name of `bb.fetch2`, for `import
    bb.fetch`: reads go to bb.fetch2, imported then."""

    def __getattr__(self, name):
        import bb.fetch2
        return getattr(bb.fetch2, name)


sys.modules["bb.fetch"] = _FetchAlias("bb.fetch")
