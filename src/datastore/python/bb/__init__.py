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

from bb import utils, data, data_smart, parse, build, event, fetch2, process, siggen, runqueue, filter, msg  # noqa: E402

fetch = fetch2
sys.modules["bb.fetch"] = fetch2
