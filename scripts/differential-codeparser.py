#!/usr/bin/env python3
"""Compare bitzel's code readers with BitBake's code parser, snippet by snippet.

Usage (as user bb, never root: importing BitBake's shell parser writes its
parser tables next to it when it can):

    python3 scripts/differential-codeparser.py BITBAKE_DIR \\
        --codeparser target/release/examples/codeparser \\
        [--env FILE]...                 `bitbake -e` / `bitzel env` dumps
        [--bitzel BIN --builddir DIR --recipe NAME...]
                                        dumps made here with `bitzel env`
        [--inline-from DIR]...          `${@...}` code of metadata files
        [--snippets FILE]...            JSON lines {"kind", "code"}
        [--cases DIR]...                `#### name` cases of *.sh / *.py files
                                        (tests/data/codeparser)
        [--fuzz N [--seed S]]           generated shell snippets
        [--pylib DIR NAMESPACE]...      addpylib modules, loaded on both sides
        [--show N] [--save FILE]

Every shell function body of the dumps (printed expanded) is read as shell
by both sides, every python function (printed raw) and inline expression as
python. BitBake's side is bb.codeparser.ShellParser / PythonParser from
BITBAKE_DIR/lib; bitzel's side is the `codeparser` example (JSON lines in
and out). For python, the references of bitzel's `expands` strings are
added the way BitBake adds them (BitBake's own expandWithRefs in an empty
datastore), and flag references are written VAR[flag], before comparing.
With --pylib, the addpylib functions (keys `namespace.module.function`)
are compared too.

A snippet agrees when both sides reject it, or both accept it with the same
results. The report gives, per kind, the number of distinct snippets and of
agreements, and shows the first disagreements (exit status 1 if any).
"""

import argparse
import hashlib
import json
import logging
import os
import random
import re
import subprocess
import sys
import tempfile
import warnings


def load_bitbake(bitbake_dir, pylibs):
    # Parser tables are written to the working directory when BitBake's own
    # directory is not writable: keep them out of the way.
    os.chdir(tempfile.mkdtemp(prefix="codeparser-"))
    sys.path.insert(0, os.path.join(bitbake_dir, "lib"))
    import bb
    import bb.codeparser
    import bb.data

    warnings.simplefilter("ignore")  # PLY's own deprecation noise
    logging.disable(logging.CRITICAL)
    bb.error = lambda *args, **kwargs: None
    bb.warn = lambda *args, **kwargs: None
    for libdir, namespace in pylibs:
        # What BitBake's addpylib does (bb.parse.ast.PyLibNode).
        if libdir not in sys.path:
            sys.path.append(libdir)
        package = __import__(namespace)
        bb.utils._context[namespace] = package
        for sub in getattr(package, "BBIMPORTS", []):
            package = __import__(namespace + "." + sub)
            module = getattr(package, sub)
            funcs = {}
            for name in dir(module):
                if name.startswith("_"):
                    continue
                value = getattr(module, name)
                if callable(value):
                    funcs[name] = value
            bb.codeparser.add_module_functions(module.__file__, funcs, "%s.%s" % (namespace, sub))
    return bb


def bitbake_shell(bb, code):
    parser = bb.codeparser.ShellParser("snippet", logging.getLogger("snippet"))
    try:
        return {"ok": True, "execs": sorted(parser.parse_shell(code))}
    except BaseException as e:  # NeedMore, NotImplementedError, ... all fail the parse
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, str(e).splitlines()[:1])}


def normalise_contains(contains):
    return {var: sorted(str(i) for i in items) for var, items in contains.items()}


def bitbake_python(bb, code):
    parser = bb.codeparser.PythonParser("snippet", logging.getLogger("snippet"))
    try:
        parser.parse_python(code)
    except BaseException as e:
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
    return {
        "ok": True,
        "refs": sorted(str(r) for r in parser.references),
        "execs": sorted(str(e) for e in parser.execs),
        "contains": normalise_contains(parser.contains),
    }


def expand_refs(bb, strings):
    """What BitBake adds for `.expand("literal")`: an expansion in an empty
    datastore."""
    refs, execs, contains = set(), set(), {}
    for s in strings:
        parsed = bb.data.init().expandWithRefs(s, "snippet")
        refs |= parsed.references
        execs |= parsed.execs
        for var, items in parsed.contains.items():
            contains.setdefault(var, set()).update(items)
    return refs, execs, contains


def bitzel_python_as_bitbake(bb, answer):
    if not answer["ok"]:
        return {"ok": False, "error": answer["message"]}
    refs = set(answer["refs"]) | {"%s[%s]" % (v, f) for v, f in answer["flag_refs"]}
    execs = set(answer["execs"])
    contains = {var: set(items) for var, items in answer["contains"].items()}
    try:
        more_refs, more_execs, more_contains = expand_refs(bb, answer["expands"])
    except BaseException as e:
        return {"ok": False, "error": "expansion: %s" % e}
    refs |= more_refs
    execs |= more_execs
    for var, items in more_contains.items():
        contains.setdefault(var, set()).update(items)
    return {
        "ok": True,
        "refs": sorted(refs),
        "execs": sorted(execs),
        "contains": normalise_contains(contains),
    }


def agree(ours, theirs):
    if ours["ok"] != theirs["ok"]:
        return False
    if not ours["ok"]:
        return True
    return all(ours.get(k) == theirs.get(k) for k in ("execs", "refs", "contains"))


# --- corpus -----------------------------------------------------------------

_SHELL_HEAD = re.compile(r"^([^\s()]+)\(\) \{$")
_PYTHON_HEAD = re.compile(r"^python (\S+) \(\) \{$")


def functions_of_dump(text):
    """(kind, name, code) of the functions of a `bitbake -e` style dump:
    shell functions `name() {` (expanded body), python ones `python name
    () {` (raw body); a body ends at a line `}` followed by a blank line."""
    lines = text.split("\n")
    found = []
    i = 0
    while i < len(lines):
        shell = _SHELL_HEAD.match(lines[i])
        python = _PYTHON_HEAD.match(lines[i])
        if not shell and not python:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not (lines[j] == "}" and (j + 1 == len(lines) or lines[j + 1] == "")):
            j += 1
        body = "\n".join(lines[i + 1 : j]) + "\n"
        if shell:
            found.append(("shell", shell.group(1), body))
        else:
            found.append(("python", python.group(1), body))
        i = j + 1
    return found


# BitBake's pattern for inline python (bb.data_smart).
_INLINE = re.compile(r"\$\{@(?:\{.*?\}|.)+?\}")


def inline_python_of_tree(root):
    found = []
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith((".bb", ".bbappend", ".bbclass", ".inc", ".conf")):
                continue
            path = os.path.join(dirpath, name)
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read().replace("\\\n", "")
            except (OSError, UnicodeDecodeError):
                continue
            for match in _INLINE.finditer(text):
                code = match.group()[3:-1]
                # BitBake only reads inline python once no ${VAR} is left in it.
                if "${" not in code:
                    found.append(("python", path, code))
    return found


def cases_of_dir(root):
    """The `#### name` cases of the .sh and .py files of a directory (see
    tests/data/codeparser/README.md)."""
    found = []
    for name in sorted(os.listdir(root)):
        kind = {".sh": "shell", ".py": "python"}.get(os.path.splitext(name)[1])
        if kind is None:
            continue
        with open(os.path.join(root, name), encoding="utf-8") as f:
            text = f.read()
        cases = []
        for line in text.splitlines(keepends=True):
            if line.startswith("#### "):
                cases.append([line[5:].rstrip(), ""])
            elif cases:
                cases[-1][1] += line
        for case, code in cases:
            if case.endswith("[no final newline]") and code.endswith("\n"):
                code = code[:-1]
            found.append((kind, "%s: %s" % (name, case), code))
    return found


def bitzel_dumps(bitzel, builddir, recipes):
    env = {
        "HOME": os.environ.get("HOME", "/home/bb"),
        "USER": "bb",
        "LOGNAME": "bb",
        "SHELL": "/bin/bash",
        "LANG": "en_US.UTF-8",
        "LC_ALL": "en_US.UTF-8",
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    dumps = []
    for recipe in recipes:
        args = [bitzel, "env"] + ([recipe] if recipe != "-" else [])
        run = subprocess.run(args, cwd=builddir, env=env, capture_output=True, text=True)
        if run.returncode != 0:
            print("bitzel env %s failed: %s" % (recipe, run.stderr[-500:]), file=sys.stderr)
            continue
        dumps.append(run.stdout)
    return dumps


# --- generated shell --------------------------------------------------------

_FRAGMENTS = [
    "echo", "cmd", "a", "b", "x=1", "FOO=bar", "eval", "'q w'", '"d q"', "\\x",
    "$v", "${v}", "${v:-$(dflt)}", "$(sub)", "$(s1 $(s2))", "`bq`", '"$(dq)"',
    '"`dqb`"', "$(", ")", "(", "{", "}", ";", ";;", "&", "&&", "||", "|", "!",
    "if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while",
    "until", "case", "esac", "2>", ">", ">>", "<", "2>&1", "<<EOF", "<<-EOF",
    "\n", "\n", "\n", "# comment", "f()", "$((", "=", "a=b", "--opt=x", "$",
    "\"", "'", "`", "\\\n", "<<'E'", '"a\\"b"', "$@", "${#v}", '"$(a "$(b)")"',
    "cmd_name=z", "TOKEN=z", "12", "2<", "<&", ">|", "<>", "; ;", "{ a; }", "$(a)$(b)",
    "\t", "x\\\ny", 'eval "$(e)"', "EOF", "E", "\nEOF\n", "'a\nb'", "${a:-'}'}",
]

_TEMPLATES = [
    "f() { %s; }\n",
    "if %s; then %s; fi\n",
    "for i in %s; do %s; done\n",
    "case %s in %s) %s;; esac\n",
    "%s | %s && %s\n",
    "x=$(%s) %s\n",
    "while %s; do %s; done\n",
    "%s <<EOF\n%s\nEOF\n",
    "{ %s; } 2>/dev/null\n",
    "( %s )\n",
    'echo "%s" `%s`\n',
]


def fuzz_snippets(count, seed):
    rng = random.Random(seed)
    snippets = []
    for _ in range(count):
        if rng.random() < 0.5:
            words = [rng.choice(_FRAGMENTS) for _ in range(rng.randint(1, 8))]
            code = " ".join(words)
        else:
            template = rng.choice(_TEMPLATES)
            holes = template.count("%s")
            fill = tuple(
                " ".join(rng.choice(_FRAGMENTS[:20]) for _ in range(rng.randint(1, 3)))
                for _ in range(holes)
            )
            code = template % fill
        if rng.random() < 0.7:
            code += "\n"
        snippets.append(("shell", "fuzz", code))
    return snippets


# --- main -------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bitbake_dir")
    parser.add_argument("--codeparser", required=True)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--bitzel")
    parser.add_argument("--builddir")
    parser.add_argument("--recipe", action="append", default=[])
    parser.add_argument("--inline-from", action="append", default=[])
    parser.add_argument("--snippets", action="append", default=[])
    parser.add_argument("--cases", action="append", default=[])
    parser.add_argument("--fuzz", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pylib", nargs=2, action="append", default=[], metavar=("DIR", "NAMESPACE"))
    parser.add_argument("--show", type=int, default=20)
    parser.add_argument("--save", help="write the disagreements as JSON lines here")
    args = parser.parse_args()
    if os.geteuid() == 0:
        sys.exit("run as user bb (runuser -u bb -- ...), not root")

    codeparser = os.path.abspath(args.codeparser)
    save = os.path.abspath(args.save) if args.save else None
    snippet_files = [os.path.abspath(p) for p in args.snippets]
    dumps = []
    for path in args.env:
        with open(path, encoding="utf-8") as f:
            dumps.append(f.read())
    if args.recipe:
        if not args.bitzel or not args.builddir:
            sys.exit("--recipe needs --bitzel and --builddir")
        dumps += bitzel_dumps(os.path.abspath(args.bitzel), args.builddir, args.recipe)

    snippets = []
    for dump in dumps:
        snippets += functions_of_dump(dump)
    for root in args.inline_from:
        snippets += inline_python_of_tree(root)
    for root in args.cases:
        snippets += cases_of_dir(root)
    for path in snippet_files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    item = json.loads(line)
                    snippets.append((item["kind"], item.get("id", path), item["code"]))
    snippets += fuzz_snippets(args.fuzz, args.seed)

    # One check per distinct code text.
    unique = {}
    for kind, origin, code in snippets:
        unique.setdefault((kind, code), origin)
    items = sorted(unique.items(), key=lambda kv: (kv[0][0], kv[1], kv[0][1]))

    pylibs = [(os.path.abspath(d), ns) for d, ns in args.pylib]
    bb = load_bitbake(os.path.abspath(args.bitbake_dir), pylibs)

    requests = "".join(json.dumps({"kind": kind, "code": code}) + "\n" for (kind, code), _ in items)
    if pylibs:
        requests += json.dumps({"kind": "pylib"}) + "\n"
    command = [codeparser]
    for d, ns in pylibs:
        command += ["--pylib", d, ns]
    run = subprocess.run(command, input=requests, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit("codeparser failed: %s" % run.stderr)
    answers = [json.loads(line) for line in run.stdout.splitlines()]

    counts = {}
    disagreements = []
    for ((kind, code), origin), answer in zip(items, answers):
        if kind == "shell":
            theirs = bitbake_shell(bb, code)
            ours = answer if answer["ok"] else {"ok": False, "error": answer["message"]}
        else:
            theirs = bitbake_python(bb, code)
            ours = bitzel_python_as_bitbake(bb, answer)
        total, agreed, rejected = counts.get(kind, (0, 0, 0))
        ok = agree(ours, theirs)
        counts[kind] = (total + 1, agreed + ok, rejected + (not theirs["ok"]))
        if not ok:
            disagreements.append({"kind": kind, "origin": origin, "code": code, "bitzel": ours, "bitbake": theirs})

    if pylibs:
        ours_all = answers[len(items)]["functions"]
        theirs_all = bb.codeparser.modulecode_deps
        total = agreed = 0
        for name in sorted(set(ours_all) | set(theirs_all)):
            total += 1
            ours = ours_all.get(name)
            theirs = theirs_all.get(name)
            if ours is None or theirs is None or "error" in ours:
                disagreements.append({"kind": "pylib", "origin": name, "code": "", "bitzel": ours, "bitbake": str(theirs)})
                continue
            refs, execs, contains = expand_refs(bb, ours["expands"])
            for var, items in ours["contains"].items():
                contains.setdefault(var, set()).update(items)
            mine = {
                "refs": sorted(set(ours["refs"]) | refs),
                "execs": sorted(set(ours["execs"]) | execs),
                "contains": normalise_contains(contains),
                "value": ours["value"],
            }
            real = {
                "refs": sorted(theirs[0]),
                "execs": sorted(theirs[1]),
                "contains": normalise_contains(theirs[3]),
                "value": theirs[4],
            }
            if mine == real:
                agreed += 1
            else:
                disagreements.append({"kind": "pylib", "origin": name, "code": "", "bitzel": mine, "bitbake": real})
        counts["pylib"] = (total, agreed, 0)

    for kind, (total, agreed, rejected) in sorted(counts.items()):
        print("%s: %d snippets, %d agree (%d rejected by BitBake)" % (kind, total, agreed, rejected))
    for d in disagreements[: args.show]:
        print("--- %s %s" % (d["kind"], d["origin"]))
        print(d["code"][:2000])
        print("bitzel: ", json.dumps(d["bitzel"])[:1500])
        print("bitbake:", json.dumps(d["bitbake"])[:1500])
    if save:
        with open(save, "w", encoding="utf-8") as f:
            for d in disagreements:
                f.write(json.dumps(d) + "\n")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
