#!/usr/bin/env python3
"""Ask real BitBake's file parser for a verdict on individual metadata files.

Usage:
    python3 scripts/bitbake-verdict.py [options] BITBAKE_DIR FILE...

For every FILE (.bb .bbclass .inc .bbappend .conf) this imports BitBake from
BITBAKE_DIR/lib and runs only its file parser (lib/bb/parse) on it, against a
fresh, minimal datastore (bb.data.init()), then prints one JSON object per
line:

    {"file": ..., "ok": true|false, "line": N|null, "message": "...",
     "kind": ..., "error_file": ..., "warnings": [...]}

  file        the path as given on the command line
  ok          false if BitBake raised anything
  line        line number BitBake attached to the error (ParseError.lineno,
              or, for a ParseError without one, the AST statement's line;
              "line N" in a bb.fatal()/compile error message, or the line of
              the innermost AST statement being evaluated), else null
  message     ParseError.msg, the text logged by bb.fatal()/bb.error() before
              BBHandledException, or str(exception); "" when ok
  kind        exception class name (ParseError, BBHandledException, ...), null when ok
  error_file  file the error belongs to (may be an included file), null when ok
  warnings    messages BitBake logged at WARNING level (e.g. missing whitespace
              around '=', tabs in python functions)
  statements  (only with --grammar-only) number of top-level statements read
  reader_file, reader_line
              (only when BitBake crashed with a non-BitBake exception, e.g.
              IndexError, while reading lines) the line counter of BitBake's
              line reader at the crash; NOT a location BitBake reports

Modes
  default          .conf -> ConfHandler.handle(file, d, include=1, baseconfig=B)
                   (B per --baseconfig; auto = True for bblayers.conf,
                   layer.conf and bitbake.conf, as the cooker does)
                   .bb/.bbclass/.inc -> bb.parse.handle(file, d, include=True)
                   .bbappend -> BBHandler.handle(file, d, True) (that is how
                   BitBake itself applies appends; bb.parse.handle() would reject
                   the extension). Statements are evaluated, so include/require/
                   inherit are resolved (against --bbpath, default unset) but no
                   recipe finalisation (anonymous python, deferred inherits,
                   key expansion) happens.
  --grammar-only   same handlers, but ast.StatementGroup.eval is replaced by a
                   no-op, so only BitBake's statement reader runs (line joining,
                   comment checks, regex dispatch in the feeders, unclosed
                   function / leftover residue checks). Purely syntactic verdict.

For files named layer.conf, LAYERDIR/LAYERDIR_RE are preset to the layer
directory (parent of conf/), as the cooker does.

Isolation: BBHandler's module globals (__infunc__, __inpython__, __body__,
__classname__, __residue__, cached_statements), the mtime and
vars_from_file caches, the methodpool compile cache and bb.utils' exec
context are reset before every file. --fork additionally parses each file in a
forked child (complete isolation; also enables --timeout).
"""

import argparse
import io
import json
import locale
import logging
import os
import re
import sys
import traceback

EXTS = (".bb", ".bbclass", ".inc", ".bbappend", ".conf")


def ensure_utf8():
    # BitBake opens metadata with the locale's encoding; be deterministic.
    if locale.getpreferredencoding(False).lower().replace("-", "") != "utf8" \
            and os.environ.get("PYTHONUTF8") != "1":
        env = dict(os.environ, PYTHONUTF8="1")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


class Capture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        try:
            msg = record.getMessage()
        except Exception:  # pragma: no cover
            msg = str(record.msg)
        self.records.append((record.levelno, msg))

    @staticmethod
    def _import_bitbake(lib):
        """Import BitBake without writing anything into its checkout or the cwd.

        No __pycache__; and bb.pysh builds its ply parser tables at import
        time, writing pyshtables.py into lib/bb/pysh if that is writable (e.g.
        when run as root) or else into the cwd. Make it see its own directory
        as read-only and import from a throw-away cwd.
        """
        import shutil
        import tempfile
        sys.dont_write_bytecode = True
        pyshdir = os.path.realpath(os.path.join(lib, "bb", "pysh"))
        real_access = os.access

        def access(path, mode, *a, **kw):
            if mode & os.W_OK and os.path.realpath(path) == pyshdir:
                return False
            return real_access(path, mode, *a, **kw)

        tmp = tempfile.mkdtemp(prefix="bitbake-verdict-")
        cwd = os.getcwd()
        os.chdir(tmp)
        os.access = access
        try:
            import bb  # noqa: F401
            import bb.codeparser  # noqa: F401  (pulls in bb.pysh)
            import bb.pysh.pyshyacc  # noqa: F401
        finally:
            os.access = real_access
            os.chdir(cwd)
            shutil.rmtree(tmp, ignore_errors=True)

    def reset(self):
        self.records = []

    def errors(self):
        return [m for lvl, m in self.records if lvl >= logging.ERROR]

    def warnings(self):
        return [m for lvl, m in self.records if logging.WARNING <= lvl < logging.ERROR]


# Files BitBake's cooker parses as "base configuration" (cookerdata.
# parse_config_file -> baseconfig=True); only there is `addpylib` accepted.
BASECONFIG_NAMES = ("bblayers.conf", "layer.conf", "bitbake.conf")

# Where BitBake's fatal/error messages say where the problem is:
#  feeders:        "... on line N of file F:\n..." / "... starting on line N of file F:\n"
#  better_compile: "Error in compiling python function in F, line N:"
FILE_LINE_RE = re.compile(r"\bline (\d+) of file (.+?):\n")
IN_FILE_LINE_RE = re.compile(r"\bin (/\S+?), line (\d+):")
LINE_RE = re.compile(r"\bline (\d+)\b")


class Verdict:
    def __init__(self, bitbake_dir, bbpath=None, grammar_only=False, classtype=None,
                 baseconfig="auto"):
        lib = os.path.join(os.path.abspath(bitbake_dir), "lib")
        if not os.path.isdir(os.path.join(lib, "bb")):
            raise SystemExit("error: %s does not look like a BitBake checkout (no lib/bb)" % bitbake_dir)
        sys.path.insert(0, lib)
        self._import_bitbake(lib)
        import bb  # noqa: F401
        import bb.data
        import bb.parse
        import bb.parse.ast
        import bb.parse.parse_py.BBHandler
        import bb.parse.parse_py.ConfHandler
        import bb.methodpool
        import bb.utils
        self.bb = bb
        self.BBHandler = bb.parse.parse_py.BBHandler
        self.ConfHandler = bb.parse.parse_py.ConfHandler
        self.bbpath = bbpath
        self.grammar_only = grammar_only
        self.classtype = classtype
        self.baseconfig = baseconfig
        self.context0 = dict(bb.utils.get_context())

        self.capture = Capture()
        bblogger = logging.getLogger("BitBake")
        bblogger.addHandler(self.capture)

        self.top_statements = None
        if grammar_only:
            verdict = self
            sg = bb.parse.ast.StatementGroup

            def no_eval(group, data):
                if verdict.top_statements is None:
                    verdict.top_statements = len(group)
            sg.eval = no_eval

    @staticmethod
    def _import_bitbake(lib):
        """Import BitBake without writing anything into its checkout or the cwd.

        No __pycache__; and bb.pysh builds its ply parser tables at import
        time, writing pyshtables.py into lib/bb/pysh if that is writable (e.g.
        when run as root) or else into the cwd. Make it see its own directory
        as read-only and import from a throw-away cwd.
        """
        import shutil
        import tempfile
        sys.dont_write_bytecode = True
        pyshdir = os.path.realpath(os.path.join(lib, "bb", "pysh"))
        real_access = os.access

        def access(path, mode, *a, **kw):
            if mode & os.W_OK and os.path.realpath(path) == pyshdir:
                return False
            return real_access(path, mode, *a, **kw)

        tmp = tempfile.mkdtemp(prefix="bitbake-verdict-")
        cwd = os.getcwd()
        os.chdir(tmp)
        os.access = access
        try:
            import bb  # noqa: F401
            import bb.codeparser  # noqa: F401  (pulls in bb.pysh)
            import bb.pysh.pyshyacc  # noqa: F401
        finally:
            os.access = real_access
            os.chdir(cwd)
            shutil.rmtree(tmp, ignore_errors=True)

    def reset(self):
        bb = self.bb
        H = self.BBHandler
        setattr(H, "__infunc__", [])
        setattr(H, "__inpython__", False)
        setattr(H, "__body__", [])
        setattr(H, "__classname__", "")
        setattr(H, "__residue__", [])
        H.cached_statements.clear()
        bb.parse.clear_cache()
        getattr(bb.parse, "__pkgsplit_cache__").clear()
        bb.methodpool.compilecache.clear()
        ctx = bb.utils.get_context()
        ctx.clear()
        ctx.update(self.context0)
        self.capture.reset()
        self.top_statements = None

    def new_data(self, path):
        d = self.bb.data.init()
        if self.bbpath is not None:
            d.setVar("BBPATH", self.bbpath)
        ct = self.classtype
        if ct is None:
            ct = "global" if path.endswith(".conf") else "recipe"
        d.setVar("__bbclasstype", ct)
        if os.path.basename(path) == "layer.conf":
            # The cooker sets these before parsing <layer>/conf/layer.conf.
            layer = os.path.dirname(os.path.dirname(os.path.abspath(path)))
            d.setVar("LAYERDIR", layer)
            d.setVar("LAYERDIR_RE", re.escape(layer))
        return d

    def parse(self, path):
        bb = self.bb
        d = self.new_data(path)
        fn = os.path.abspath(path)
        if fn.endswith(".conf"):
            if self.baseconfig == "auto":
                base = os.path.basename(fn) in BASECONFIG_NAMES
            else:
                base = self.baseconfig == "always"
            self.ConfHandler.handle(fn, d, 1, baseconfig=base)
        elif fn.endswith(".bbappend"):
            self.BBHandler.handle(fn, d, True)
        else:
            bb.parse.handle(fn, d, include=True)

    @staticmethod
    def ast_location(tb):
        """Innermost AST statement on the traceback, as (filename, lineno)."""
        import bb.parse.ast as ast
        loc = None
        while tb is not None:
            obj = tb.tb_frame.f_locals.get("self")
            if isinstance(obj, ast.AstNode):
                loc = (obj.filename, obj.lineno)
            tb = tb.tb_next
        return loc

    @staticmethod
    def reader_location(tb):
        """Innermost BitBake line-reader frame (ConfHandler.handle,
        BBHandler.get_statements) on the traceback: (file, its lineno local)."""
        loc = None
        while tb is not None:
            f = tb.tb_frame
            co = f.f_code
            if co.co_name in ("handle", "get_statements") and \
                    os.sep + "parse_py" + os.sep in co.co_filename and \
                    isinstance(f.f_locals.get("lineno"), int):
                fn = f.f_locals.get("abs_fn") or f.f_locals.get("absolute_filename") \
                    or f.f_locals.get("fn")
                loc = (fn, f.f_locals["lineno"])
            tb = tb.tb_next
        return loc

    def run_one(self, path):
        bb = self.bb
        self.reset()
        res = {"file": path, "ok": True, "line": None, "message": "",
               "kind": None, "error_file": None}
        try:
            self.parse(path)
        except bb.parse.ParseError as e:
            res.update(ok=False, kind="ParseError", message=e.msg,
                       line=(e.lineno or None), error_file=e.filename)
            if not e.lineno:
                # e.g. "not a BitBake file" for a bad include name: point at
                # the statement that triggered it instead.
                loc = self.ast_location(e.__traceback__)
                if loc:
                    res.update(error_file=loc[0], line=loc[1])
        except BaseException as e:  # BBHandledException is an Exception; be broad
            if isinstance(e, KeyboardInterrupt):
                raise
            tb = e.__traceback__
            kind = type(e).__name__
            errors = self.capture.errors()
            if isinstance(e, bb.BBHandledException) and errors:
                message = "\n".join(errors)
            else:
                message = str(e) or repr(e)
            line = None
            efile = None
            loc = self.ast_location(tb)
            m = FILE_LINE_RE.search(message)
            if m:
                line, efile = int(m.group(1)), m.group(2)
            else:
                m = IN_FILE_LINE_RE.search(message)
                if m:
                    efile, line = m.group(1), int(m.group(2))
                else:
                    m = LINE_RE.search(message)
                    if m:
                        line = int(m.group(1))
            if loc:
                if efile is None:
                    efile = loc[0]
                if line is None:
                    line = loc[1]
            lineno = getattr(e, "lineno", None)
            if line is None and isinstance(lineno, int) and lineno:
                line = lineno
            if efile is None:
                efile = getattr(e, "filename", None) or os.path.abspath(path)
            res.update(ok=False, kind=kind, message=message, line=line, error_file=efile)
            if not isinstance(e, bb.BBHandledException):
                # BitBake itself gives no location for a crash (e.g. IndexError)
                # in its line reader; report the reader's line counter
                # separately so it is not mistaken for a BitBake verdict.
                rl = self.reader_location(tb)
                if rl:
                    res["reader_file"], res["reader_line"] = rl
            if os.environ.get("BITBAKE_VERDICT_DEBUG"):
                traceback.print_exception(type(e), e, tb, file=sys.stderr)
        res["warnings"] = self.capture.warnings()
        if self.grammar_only:
            res["statements"] = self.top_statements
        return res


def run_forked(verdict, path, timeout):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = json.dumps(verdict.run_one(path))
        except BaseException as e:  # pragma: no cover
            out = json.dumps({"file": path, "ok": False, "line": None,
                              "message": "verdict harness failure: %r" % e,
                              "kind": "HarnessError", "error_file": None, "warnings": []})
        with os.fdopen(w, "w") as f:
            f.write(out)
        os._exit(0)
    os.close(w)
    import signal
    import select
    chunks = []
    timed_out = False
    with os.fdopen(r, "r") as f:
        if timeout:
            ready, _, _ = select.select([f], [], [], timeout)
            if not ready:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
        if not timed_out:
            chunks.append(f.read())
    _, status = os.waitpid(pid, 0)
    data = "".join(chunks)
    if data:
        return json.loads(data)
    msg = "timed out after %ss" % timeout if timed_out else "child died (status %d)" % status
    return {"file": path, "ok": False, "line": None, "message": msg,
            "kind": "HarnessError", "error_file": None, "warnings": []}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bitbake_dir")
    ap.add_argument("files", nargs="+", metavar="FILE")
    ap.add_argument("--grammar-only", action="store_true",
                    help="only run the statement reader; do not evaluate statements")
    ap.add_argument("--bbpath", default=None,
                    help="set BBPATH in the datastore (for include/require/inherit lookups)")
    ap.add_argument("--classtype", default=None,
                    help="value of __bbclasstype (default: global for .conf, recipe otherwise)")
    ap.add_argument("--baseconfig", choices=("auto", "always", "never"), default="auto",
                    help="parse .conf files as base configuration (allows addpylib); "
                         "auto = only bblayers.conf, layer.conf, bitbake.conf")
    ap.add_argument("--fork", action="store_true",
                    help="parse each file in a forked child for complete isolation")
    ap.add_argument("--timeout", type=float, default=0,
                    help="per-file timeout in seconds (needs --fork)")
    args = ap.parse_args(argv)

    verdict = Verdict(args.bitbake_dir, bbpath=args.bbpath,
                      grammar_only=args.grammar_only, classtype=args.classtype,
                      baseconfig=args.baseconfig)
    out = sys.stdout
    for path in args.files:
        if args.fork:
            res = run_forked(verdict, path, args.timeout)
        else:
            res = verdict.run_one(path)
        out.write(json.dumps(res, ensure_ascii=False) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    ensure_utf8()
    sys.exit(main(sys.argv[1:]))
