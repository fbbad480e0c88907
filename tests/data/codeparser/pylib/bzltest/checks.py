"""Functions as an addpylib module offers them to metadata."""
import ast
from os.path import join

import bb.parse


def report_visitorcode(name, args):
    """A call report("literal", d) tests REPORT_LEVELS for that literal."""
    contains = {}
    execs = set()
    if isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        contains["REPORT_LEVELS"] = {args[0].value}
    else:
        execs.add(name)
    return contains, execs, None


def report(kind, d):
    return kind in (d.getVar("REPORT_LEVELS") or "").split()


report.visitorcode = report_visitorcode


@bb.parse.vardeps("EXTRA_DEP")
@bb.parse.vardepsexclude("DROPPED")
def decorated(d):
    d.getVar("DROPPED")
    d.getVar("KEPT")
    return helper(d)


def helper(d):
    bb.build.exec_func("do_helped", d)
    return d.expand("${VIA_EXPAND}") + join("a", "b")


class Thing:
    def method(self, d):
        return d.getVarFlag("THING", "flag")


CONSTANT = 1
_private = helper
