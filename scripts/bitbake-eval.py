#!/usr/bin/env python3
"""Evaluate small metadata trees with real BitBake and record the final values.

Usage:
    python3 scripts/bitbake-eval.py BITBAKE_DIR CASE_DIR... [--write | --check]

Each CASE_DIR (e.g. tests/data/eval/0001_assign_basic/) holds a `layer/`
directory (conf/bitbake.conf, classes/base.bbclass, other classes, recipes,
.inc files, optionally a python package for addpylib) and a `case.json`:

    {
      "description": "...", "spec": "§4.2",
      "recipe": "recipes/foo_1.0.bb" | null,
      "bbappends": ["recipes/foo_%.bbappend"],        (optional)
      "variables": ["A", "B"],
      "flags": {"do_x": ["deps", "func"]},             (optional)
      "expect": {...}                                  (filled by --write)
    }

For every case this imports BitBake from BITBAKE_DIR/lib and drives its own
configuration and recipe pipeline in-process, the way the cooker does:

  * a bb.cookerdata.CookerDataBuilder is built with an environment holding
    only BBPATH = <case>/layer, and TOPDIR preset to the case directory (the
    process also runs with the case directory as its working directory);
  * CookerDataBuilder.parseBaseConfiguration() then parses
    conf/bitbake.conf as base configuration (so addpylib works there),
    inherits `base` and the INHERIT classes, fires ConfigParsed, checks
    renamed variables and switches to the recipe class type. Only two
    cache-related side effects are disabled: the fetcher's persistent caches
    (bb.fetch.fetcher_init) and the code-parser cache file
    (bb.codeparser.parser_cache_init), so nothing is written below the case;
  * if the case names a recipe, the .bbappend files listed in the case that
    BitBake's own append matching (CookerCollectFiles.get_file_appends)
    accepts for it are passed, in the listed order, to
    CookerDataBuilder.parseRecipeVariants() -- the call bb.cache.Cache.parse
    makes -- which runs bb.parse.handle() with __BBAPPEND set, i.e. the
    recipe, its appends and multi_finalize (finalisation plus one datastore
    per BBCLASSEXTEND variant).

Then it reads, from the configuration datastore (recipe null) or from the
recipe's datastore and every variant's datastore:

  variables         d.getVar(NAME) (expanded); null when unset. Non-text
                    values are rendered with str().
  flags             d.getVarFlag(NAME, FLAG) (expanded), rendered with str().
  expansion_errors  NAME (or NAME[FLAG]) -> message, for reads that raised;
                    such names are absent from variables/flags.
  skipped           null, or the SkipRecipe reason (__SKIPPED; true when the
                    skip happened while the recipe's statements were being
                    evaluated, where BitBake keeps no reason).
  error             null, or {"file", "line", "message", "kind"} when parsing
                    failed (file relative to the case directory).
  appends           (recipe cases) the .bbappend files BitBake applied.
  variants          BBCLASSEXTEND variant name -> {variables, flags,
                    expansion_errors, skipped}.

The absolute path of the case directory is replaced by "@TOPDIR@" in every
recorded value and message, so expectations do not depend on where the tree
is checked out.

Modes
  (default)   print one JSON object per case: {"case": DIR, "result": {...}}
  --write     store the result as "expect" in each case.json. An expected
              message (error.message, expansion_errors) that was shortened
              by hand is kept as long as it is still a substring of
              BitBake's message, and an error's "file"/"line" removed by
              hand (because BitBake's location is not stable, e.g. where a
              RecursionError strikes) stays removed.
  --check     compare with the stored "expect" and exit 1 on any difference.
              Messages compare as substrings, an expected error without
              "file"/"line" does not check them; everything else exactly.

Isolation: by default every case runs in a forked child of a process that
has imported BitBake but parsed nothing (complete isolation, also of
addpylib imports, def functions and sys.path). --no-fork runs the cases in
one process and resets BitBake's module-level state in between (parser
globals and caches, the inline-python context, event handlers and queue,
module dependency table, sys.path and newly imported modules).
"""

import argparse
import importlib.util
import json
import logging
import os
import re
import sys
import time
import traceback
import types

HERE = os.path.dirname(os.path.abspath(__file__))
PLACEHOLDER = "@TOPDIR@"
# "File: '<path>', lineno: N, function: ..." in bb.utils.better_exec reports
PY_FRAME_RE = re.compile(r"^File: '([^']+)', lineno: (\d+),", re.M)


def load_verdict_module():
    """scripts/bitbake-verdict.py: reuse its BitBake import and locators."""
    path = os.path.join(HERE, "bitbake-verdict.py")
    spec = importlib.util.spec_from_file_location("bitbake_verdict", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


verdict = load_verdict_module()


class LogCapture(logging.Handler):
    """Collects BitBake's WARNING-and-above log records (with exc_info)."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        try:
            msg = record.getMessage()
        except Exception:  # pragma: no cover
            msg = str(record.msg)
        self.records.append((record.levelno, msg, record.exc_info))

    def errors(self):
        return [r for r in self.records if r[0] >= logging.ERROR]


class CaseError(Exception):
    pass


class Evaluator:
    def __init__(self, bitbake_dir):
        lib = os.path.join(os.path.abspath(bitbake_dir), "lib")
        if not os.path.isdir(os.path.join(lib, "bb")):
            raise SystemExit("error: %s does not look like a BitBake checkout (no lib/bb)" % bitbake_dir)
        sys.path.insert(0, lib)
        verdict.Verdict._import_bitbake(lib)
        import bb
        import bb.cache
        import bb.codeparser
        import bb.cooker
        import bb.cookerdata
        import bb.data
        import bb.event
        import bb.fetch2
        import bb.methodpool
        import bb.parse
        import bb.parse.ast
        import bb.parse.parse_py.BBHandler
        import bb.utils
        self.bb = bb
        self.capture = LogCapture()
        logging.getLogger("BitBake").addHandler(self.capture)
        # Snapshots for --no-fork resets.
        self.context0 = dict(bb.utils.get_context())
        self.sys_path0 = list(sys.path)
        self.modules0 = set(sys.modules)
        self.moddeps0 = dict(bb.codeparser.modulecode_deps)

    # ------------------------------------------------------------------
    # global state

    def reset(self):
        bb = self.bb
        H = bb.parse.parse_py.BBHandler
        setattr(H, "__infunc__", [])
        setattr(H, "__inpython__", False)
        setattr(H, "__body__", [])
        setattr(H, "__classname__", "")
        setattr(H, "__residue__", [])
        H.cached_statements.clear()
        bb.parse.clear_cache()
        getattr(bb.parse, "__pkgsplit_cache__").clear()
        bb.methodpool.compilecache.clear()
        # bb.utils.set_context() does not replace the module's context
        # dictionary, so restore its contents in place.
        ctx = bb.utils.get_context()
        ctx.clear()
        ctx.update(self.context0)
        bb.event.set_class_handlers(bb.event.clean_class_handlers())
        bb.event.ui_queue.clear()
        bb.codeparser.modulecode_deps.clear()
        bb.codeparser.modulecode_deps.update(self.moddeps0)
        sys.path[:] = self.sys_path0
        for name in set(sys.modules) - self.modules0:
            del sys.modules[name]
        self.capture.records = []

    # ------------------------------------------------------------------
    # running BitBake

    def build_datastores(self, topdir, case):
        """Returns (config datastore, {variant: datastore} or None, appends).

        topdir is the case directory (absolute)."""
        bb = self.bb
        layer = os.path.join(topdir, "layer")
        cfg = types.SimpleNamespace(prefile=[], postfile=[], tracking=False,
                                    skip_fragments=False, env={"BBPATH": layer})
        builder = bb.cookerdata.CookerDataBuilder(cfg)
        builder.basedata.setVar("TOPDIR", topdir)

        real_fetcher_init = bb.fetch2.fetcher_init
        real_cache_init = bb.codeparser.parser_cache_init
        bb.fetch2.fetcher_init = lambda d, servercontext=True: None
        bb.fetch.fetcher_init = bb.fetch2.fetcher_init
        bb.codeparser.parser_cache_init = lambda cachedir: None
        try:
            builder.parseBaseConfiguration()
        finally:
            bb.fetch2.fetcher_init = real_fetcher_init
            bb.fetch.fetcher_init = real_fetcher_init
            bb.codeparser.parser_cache_init = real_cache_init

        recipe = case.get("recipe")
        if not recipe:
            return builder.data, None, None

        fn = os.path.join(layer, recipe)
        listed = [os.path.join(layer, a) for a in case.get("bbappends", [])]
        # Keyed like CookerCollectFiles.collect_bbfiles does: the append's
        # base name with .bbappend turned into .bb.
        collector = types.SimpleNamespace(
            bbappends=[(os.path.basename(a).replace(".bbappend", ".bb"), a) for a in listed])
        appends = bb.cooker.CookerCollectFiles.get_file_appends(collector, fn)
        # What bb.cache.Cache.parse() does for the default multiconfig.
        datastores = builder.parseRecipeVariants(fn, appends, mc="", layername=None)
        return builder.data, datastores, list(appends)

    # ------------------------------------------------------------------
    # reading results

    def norm(self, text, topdir):
        if text is None:
            return None
        if not isinstance(text, str):
            text = str(text)
        for p in {os.path.realpath(topdir), topdir}:
            text = text.replace(p, PLACEHOLDER)
        return text

    def relfile(self, path, topdir):
        if not path:
            return None
        path = str(path)
        for p in (topdir, os.path.realpath(topdir)):
            if path.startswith(p + os.sep):
                return os.path.relpath(path, p)
        return self.norm(path, topdir)

    def failure_message(self, e):
        bb = self.bb
        if isinstance(e, bb.parse.ParseError):
            return e.msg
        if isinstance(e, bb.BBHandledException):
            errs = [m for _, m, _ in self.capture.errors()]
            if errs:
                return "\n".join(errs)
        return str(e) or repr(e)

    def read_store(self, d, case, topdir):
        out = {"variables": {}, "flags": {}, "expansion_errors": {}}
        for name in case.get("variables", []):
            self.capture.records = []
            try:
                value = d.getVar(name)
            except Exception as e:
                out["expansion_errors"][name] = self.norm(self.failure_message(e), topdir)
                continue
            out["variables"][name] = self.norm(value, topdir)
        for name, flags in (case.get("flags") or {}).items():
            for flag in flags:
                key = "%s[%s]" % (name, flag)
                self.capture.records = []
                try:
                    value = d.getVarFlag(name, flag)
                except Exception as e:
                    out["expansion_errors"][key] = self.norm(self.failure_message(e), topdir)
                    continue
                out["flags"].setdefault(name, {})[flag] = self.norm(value, topdir)
        skipped = d.getVar("__SKIPPED", False)
        if skipped is None or skipped is False:
            out["skipped"] = None
        elif skipped is True:
            out["skipped"] = True
        else:
            out["skipped"] = self.norm(skipped, topdir)
        return out

    def describe_error(self, e, topdir):
        """Where and why BitBake failed: file, line, message, kind."""
        bb = self.bb
        # Configuration files are parsed through cookerdata.catch_parse_error,
        # which logs "Unable to parse FILE" with the original exception and
        # raises BBHandledException; report the original exception.
        if isinstance(e, bb.BBHandledException):
            for _, msg, exc_info in self.capture.errors():
                if exc_info and msg.startswith("Unable to parse") and exc_info[1] is not None:
                    e = exc_info[1]
                    break
        kind = type(e).__name__
        message = self.failure_message(e)
        efile = line = None
        if isinstance(e, bb.parse.ParseError):
            efile, line = e.filename, (e.lineno or None)
            if not line:
                loc = verdict.Verdict.ast_location(e.__traceback__)
                if loc:
                    efile, line = loc
        else:
            m = verdict.FILE_LINE_RE.search(message)
            if m:
                line, efile = int(m.group(1)), m.group(2)
            else:
                m = verdict.IN_FILE_LINE_RE.search(message)
                if m:
                    efile, line = m.group(1), int(m.group(2))
            if efile is None:
                # bb.utils.better_exec's report of a failing python function
                # (e.g. anonymous python): innermost frame inside the case.
                for m in PY_FRAME_RE.finditer(message):
                    if m.group(1).startswith(PLACEHOLDER) or m.group(1).startswith(topdir):
                        efile, line = m.group(1).replace(PLACEHOLDER, topdir), int(m.group(2))
            loc = verdict.Verdict.ast_location(e.__traceback__)
            if loc:
                if efile is None:
                    efile = loc[0]
                if line is None:
                    line = loc[1]
        return {"file": self.relfile(efile, topdir), "line": line,
                "message": self.norm(message, topdir), "kind": kind}

    def run_case(self, casedir):
        topdir = os.path.abspath(casedir)
        with open(os.path.join(casedir, "case.json"), encoding="utf-8") as f:
            case = json.load(f)
        self.capture.records = []
        result = {"variables": {}, "flags": {}, "expansion_errors": {},
                  "skipped": None, "error": None}
        if case.get("recipe"):
            result["appends"] = []
            result["variants"] = {}
        cwd = os.getcwd()
        os.chdir(topdir)
        try:
            try:
                cfg, stores, appends = self.build_datastores(topdir, case)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:
                if os.environ.get("BITBAKE_EVAL_DEBUG"):
                    traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
                result["error"] = self.describe_error(e, topdir)
                return result
            if stores is None:
                result.update(self.read_store(cfg, case, topdir))
                result["skipped"] = None
                return result
            result["appends"] = [self.relfile(a, topdir) for a in appends]
            result.update(self.read_store(stores[""], case, topdir))
            for name in sorted(k for k in stores if k):
                result["variants"][name] = self.read_store(stores[name], case, topdir)
            return result
        finally:
            os.chdir(cwd)


def run_forked(ev, casedir, timeout):
    import select
    import signal
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = json.dumps({"ok": ev.run_case(casedir)})
        except BaseException as e:
            out = json.dumps({"harness_error": "".join(
                traceback.format_exception(type(e), e, e.__traceback__))})
        with os.fdopen(w, "w") as f:
            f.write(out)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "r") as f:
        ready, _, _ = select.select([f], [], [], timeout or None)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise CaseError("timed out after %ss" % timeout)
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise CaseError("child died (status %d)" % status)
    msg = json.loads(data)
    if "harness_error" in msg:
        raise CaseError(msg["harness_error"])
    return msg["ok"]


# ----------------------------------------------------------------------
# expectations


def merge_expect(old, new):
    """New expectation, keeping hand-shortened messages that still match."""
    if not isinstance(old, dict):
        return new
    out = dict(new)
    olderr = old.get("expansion_errors") or {}
    out["expansion_errors"] = {
        k: (olderr[k] if isinstance(olderr.get(k), str) and olderr[k] in v else v)
        for k, v in new.get("expansion_errors", {}).items()}
    if new.get("error") and old.get("error"):
        oe, ne = old["error"], dict(new["error"])
        if isinstance(oe.get("message"), str) and oe["message"] in ne["message"]:
            ne["message"] = oe["message"]
        # A location field removed by hand (because it is not stable, e.g.
        # where a RecursionError happens to strike) stays removed.
        for f in ("file", "line"):
            if f not in oe and ne.get("kind") == oe.get("kind"):
                ne.pop(f, None)
        out["error"] = ne
    if "variants" in new:
        ov = old.get("variants") or {}
        out["variants"] = {k: merge_expect(ov.get(k), v) for k, v in new["variants"].items()}
    return out


def compare(expect, actual, path="expect"):
    """List of human-readable differences (messages compare as substrings)."""
    diffs = []
    if not isinstance(expect, dict):
        return ["%s: no expectation stored" % path]
    keys = set(expect) | set(actual)
    for k in sorted(keys):
        p = "%s.%s" % (path, k)
        e, a = expect.get(k), actual.get(k)
        if k == "expansion_errors":
            e, a = e or {}, a or {}
            for n in sorted(set(e) | set(a)):
                if n not in a:
                    diffs.append("%s[%s]: expected error %r, but reading it succeeded" % (p, n, e[n]))
                elif n not in e:
                    diffs.append("%s[%s]: unexpected error %r" % (p, n, a[n]))
                elif e[n] not in a[n]:
                    diffs.append("%s[%s]: %r is not part of %r" % (p, n, e[n], a[n]))
        elif k == "error" and e is not None and a is not None:
            for f in ("file", "line", "kind"):
                if f in e and e.get(f) != a.get(f):
                    diffs.append("%s.%s: expected %r, got %r" % (p, f, e.get(f), a.get(f)))
            if e.get("message", "") not in a.get("message", ""):
                diffs.append("%s.message: %r is not part of %r" % (p, e.get("message"), a.get("message")))
        elif k == "variants":
            e, a = e or {}, a or {}
            for n in sorted(set(e) | set(a)):
                if n not in a:
                    diffs.append("%s.%s: variant missing" % (p, n))
                elif n not in e:
                    diffs.append("%s.%s: unexpected variant" % (p, n))
                else:
                    diffs.extend(compare(e[n], a[n], "%s.%s" % (p, n)))
        elif k in ("variables", "flags"):
            e, a = e or {}, a or {}
            for n in sorted(set(e) | set(a)):
                if n not in e:
                    diffs.append("%s.%s: not in expectation (got %r)" % (p, n, a[n]))
                elif n not in a:
                    diffs.append("%s.%s: expected %r, not read" % (p, n, e[n]))
                elif e[n] != a[n]:
                    diffs.append("%s.%s: expected %r, got %r" % (p, n, e[n], a[n]))
        elif e != a:
            diffs.append("%s: expected %r, got %r" % (p, e, a))
    return diffs


def write_case_json(path, case):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(case, f, indent=2, ensure_ascii=False)
        f.write("\n")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bitbake_dir")
    ap.add_argument("cases", nargs="+", metavar="CASE_DIR")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="store BitBake's result as 'expect'")
    mode.add_argument("--check", action="store_true", help="compare with 'expect'; exit 1 on differences")
    ap.add_argument("--no-fork", action="store_true",
                    help="run all cases in this process (state is reset between cases)")
    ap.add_argument("--timeout", type=float, default=120,
                    help="per-case timeout in seconds when forking (0 = none)")
    args = ap.parse_args(argv)

    cases = [c.rstrip("/") for c in args.cases
             if os.path.isfile(os.path.join(c, "case.json"))]
    skipped = [c for c in args.cases if c.rstrip("/") not in cases]
    for c in skipped:
        print("note: %s has no case.json, ignored" % c, file=sys.stderr)

    ev = Evaluator(args.bitbake_dir)
    failures = 0
    start = time.monotonic()
    for casedir in cases:
        cjson = os.path.join(casedir, "case.json")
        try:
            if args.no_fork:
                ev.reset()
                result = ev.run_case(casedir)
            else:
                result = run_forked(ev, casedir, args.timeout)
        except CaseError as e:
            print("%s: HARNESS ERROR: %s" % (casedir, e), file=sys.stderr)
            failures += 1
            continue
        if args.write:
            with open(cjson, encoding="utf-8") as f:
                case = json.load(f)
            case["expect"] = merge_expect(case.get("expect"), result)
            write_case_json(cjson, case)
            print("%s: written" % casedir)
        elif args.check:
            with open(cjson, encoding="utf-8") as f:
                case = json.load(f)
            diffs = compare(case.get("expect"), result)
            if diffs:
                failures += 1
                print("%s: FAIL" % casedir)
                for dline in diffs:
                    print("    " + dline)
            else:
                print("%s: ok" % casedir)
        else:
            print(json.dumps({"case": casedir, "result": result}, ensure_ascii=False))
        sys.stdout.flush()
    elapsed = time.monotonic() - start
    if args.check or args.write:
        print("%d case(s), %d failure(s), %.1fs" % (len(cases), failures, elapsed))
    return 1 if failures else 0


if __name__ == "__main__":
    verdict.ensure_utf8()
    sys.exit(main(sys.argv[1:]))
