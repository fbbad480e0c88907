#!/usr/bin/env python3
"""Differential test of bitzel's parser against BitBake's own statement reader.

Usage:
    python3 scripts/differential-parse.py BITBAKE_DIR [--files N] [--seed S] [--keep DIR]

Generates N random metadata files (recipes and .conf files) from fragments
of BitBake syntax, asks BitBake for its purely syntactic verdict on each
(scripts/bitbake-verdict.py --grammar-only) and bitzel for its own
(`bitzel check --json`), and reports every file where the two disagree on
accept/reject or on the line of the first error. Needs a release build of
bitzel (target/release/bitzel).

Generated files avoid what only evaluation can judge (file names passed to
include/require/inherit are plain `.inc` names, variable names never hold
`_append`/`_prepend`/`_remove`), so both sides judge syntax alone. Known,
documented differences are not counted as disagreements:
  - an unclosed function: bitzel reports its opening line, BitBake the
    file's last line;
  - a file ending in a continued line: BitBake reports one line past the end;
  - errors only evaluation raises (include of a non-metadata name after a
    continuation joined it, and the like) are not compared;
  - BitBake's own crashes (IndexError) have no line.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

NAMES = ["A", "B", "FOO", "do_x", "A:b", "A:append", "A:remove:o", "X${Y}", "a-b.c+d", "~A", "A/B", "+"]
FLAGS = ["[doc]", "[f]", "[a.b]", "[@x]", "[x/y]", " [f]", "[]"]
OPS = ["=", "?=", "??=", ":=", "+=", "=+", ".=", "=.", "==", "", "+ ="]
SPACES = ["", " ", "  ", "\t"]
VALUES = ['"v"', "'v'", '""', '"a"b"', '"a"b"c"', '"x # y"', "v", '"v', '"v\'', '"${A}"', '"${@1}"', '"v" # c']
KEYWORD_LINES = [
    "include a.inc", "require b.inc", "include_all c.inc", "inherit foo", "inherit_defer foo",
    "inherit", "include", "export A", "export A:b", "export", "unset A", "unset A[ff]", "unset A[f]",
    "unset A:b", "addtask x", "addtask x after y before z", "addtask", "addtask #c", "addtask  #c",
    "addtask x # c", "deltask x", "addhandler h", "EXPORT_FUNCTIONS do_x", "addpylib d n",
    "addfragments a b c d", "addfragments a b", "def f(d):", "def f(d)", "def = \"1\"",
    "python () {", "python do_x() {", "fakeroot do_x() {", "do_x() {", "do_x() { echo }", " () {",
    "}", " }", "# comment", "  # indented", "#", "\\", "# c \\", "pass", "    pass", "\t x",
    "export = \"1\"",
]

# bitzel errors that BitBake raises while evaluating statements, not while
# reading them; the grammar-only verdict cannot confirm or refute them.
EVALUATION_ERRORS = ("variable `", "`include`", "`require`", "`inherit", "`foo")


# Fragments BitBake accepts, so that about half the files parse cleanly.
GOOD_FLAGS = ["[doc]", "[a.b]", "[x/y]"]
GOOD_OPS = ["=", "?=", "??=", ":=", "+=", "=+", ".=", "=."]
GOOD_VALUES = ['"v"', "'v'", '""', '"a"b"c"', '"x # y"', '"${A}"', '"${@1}"']
GOOD_KEYWORD_LINES = [
    "include a.inc", "require b.inc", "inherit foo", "export A", "unset A", "unset A[ff]",
    "addtask x after y before z", "addtask x # c", "deltask x", "# comment", "def f(d):",
    "    pass", "python () {", "do_x() {", "}",
]


def random_line(rng, good):
    r = rng.random()
    flags, ops, values, keyword_lines = (
        (GOOD_FLAGS, GOOD_OPS, GOOD_VALUES, GOOD_KEYWORD_LINES) if good else (FLAGS, OPS, VALUES, KEYWORD_LINES))
    if r < 0.45:
        export = rng.choice(["", "", "export ", "export\t"])
        name = rng.choice(NAMES)
        flag = rng.choice(flags) if rng.random() < 0.2 else ""
        return (export + name + flag + rng.choice(SPACES) + rng.choice(ops)
                + rng.choice(SPACES) + rng.choice(values))
    if r < 0.85:
        return rng.choice(keyword_lines)
    return ""


def random_file(rng):
    lines = []
    good = rng.random() < 0.5
    for _ in range(rng.randint(1, 12)):
        line = random_line(rng, good and rng.random() < 0.95)
        if rng.random() < (0.03 if good else 0.15):
            line += rng.choice(["\\", " \\", "\\  "])
        if rng.random() < 0.1:
            line += rng.choice(["  ", "\t"])
        lines.append(line)
    newline = rng.choice(["\n", "\n", "\n", "\r\n", "\r"])
    text = newline.join(lines)
    if rng.random() < 0.8:
        text += newline
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bitbake_dir")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="write the generated files here instead of a temporary directory")
    args = parser.parse_args()

    bitzel = os.path.join(ROOT, "target", "release", "bitzel")
    if not os.access(bitzel, os.X_OK):
        sys.exit("build bitzel first: cargo build --release")
    rng = random.Random(args.seed)
    workdir = args.keep or tempfile.mkdtemp(prefix="bitzel-diff-")
    os.makedirs(workdir, exist_ok=True)
    paths = []
    for i in range(args.files):
        ext = ".conf" if rng.random() < 0.3 else ".bb"
        path = os.path.join(workdir, "f%05d%s" % (i, ext))
        with open(path, "w", newline="") as f:
            f.write(random_file(rng))
        paths.append(path)

    verdict = subprocess.run(
        [sys.executable, os.path.join(HERE, "bitbake-verdict.py"), "--grammar-only",
         "--baseconfig", "always", args.bitbake_dir] + paths,
        capture_output=True, text=True, check=False)
    bitbake = {}
    for line in verdict.stdout.splitlines():
        record = json.loads(line)
        bitbake[os.path.abspath(record["file"])] = record

    ours = {}
    for path in paths:
        out = subprocess.run([bitzel, "check", "--json", path], capture_output=True, text=True, check=False)
        report = json.loads(out.stdout)
        lines = sorted(e["line"] for e in report["errors"]
                       if not e["message"].startswith(EVALUATION_ERRORS)
                       and "is not a BitBake file" not in e["message"])
        ours[path] = lines[0] if lines else None

    disagreements = 0
    n_rejected = 0
    for path in paths:
        theirs = bitbake[path]
        mine = ours[path]
        text = open(path, newline="").read()
        n_lines = len(re.split(r"\r\n|\r|\n", text)) - (1 if re.search(r"[\r\n]$", text) else 0)
        if not theirs["ok"]:
            n_rejected += 1
        if theirs["ok"] and mine is None:
            continue
        if not theirs["ok"] and mine is not None:
            line = theirs["line"]
            message = theirs["message"] or ""
            if line is None or line == mine:
                continue
            if "unclosed function" in message:
                continue
            if message.startswith("Unparsed lines") and line >= n_lines:
                continue
            # BitBake counts the end of the file as one more line when a
            # continued line runs into it.
            if line == n_lines + 1 and mine == n_lines:
                continue
        disagreements += 1
        print("DIFF %s: bitbake %s line %s (%s), bitzel %s" % (
            path, "ok" if theirs["ok"] else "rejects", theirs["line"],
            (theirs["message"] or "").splitlines()[0][:80] if theirs["message"] else "",
            "ok" if mine is None else "rejects at line %d" % mine))
    print("%d files (%d rejected by BitBake), %d disagreements" % (len(paths), n_rejected, disagreements))
    sys.exit(1 if disagreements else 0)


if __name__ == "__main__":
    main()
