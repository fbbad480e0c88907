#!/usr/bin/env python3
"""Compares `bitzel env --json` with `bitbake -e` for the configuration and
for recipes, variable by variable.

Usage:
    python3 scripts/compare-env.py BITBAKE_DIR BUILD_DIR [RECIPE...] [--show N]

BUILD_DIR is a BitBake build directory (see scripts/bitbake-builddir.sh);
BitBake runs there as the non-root user `bb` through scripts/run-bitbake.sh,
bitzel (target/release/bitzel) runs there too. With no RECIPE the
configuration is compared. Prints, per target: variables compared, equal,
different, missing in bitzel, extra in bitzel, and the first N differences.
Values that differ between two BitBake runs (dates, times, PIDs, fifo
paths, BB_ORIGENV, hash-seed ordered lists) are excluded.
"""

import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Values that change from one BitBake run to the next.
VOLATILE = {"DATE", "TIME", "DATETIME", "SOURCE_DATE_EPOCH_FALLBACK", "BB_ORIGENV", "LOGFIFO",
            "BB_TASKHASH", "BUILDNAME", "BB_SERVER_TIMEOUT", "BBSERVER", "PWD", "OLDPWD",
            "COMBINED_FEATURES", "BB_CONSOLELOG", "BB_LOGFIFO", "BB_DEFAULT_EVENTLOG", "PID",
            # The command line of the tool itself.
            "BB_CMDLINE"}


def parse_bitbake_env(text):
    """`NAME="value"` lines of `bitbake -e` (comments, functions skipped)."""
    values = {}
    errors = {}
    lines = text.split("\n")
    i = 0
    assign = re.compile(r'^(?:export )?([^=\s"#]+)="(.*)$')
    # `name() {` / `python name () {` ... `}`: a function, whose body may
    # hold lines that look like assignments (shell code, sed scripts).
    function = re.compile(r'^(?:python |fakeroot )*[^\s=]+ ?\(\) \{$')
    while i < len(lines):
        line = lines[i]
        i += 1
        if function.match(line):
            while i < len(lines) and lines[i] != "}":
                i += 1
            i += 1
            continue
        if line.startswith("# expansion of "):
            name = line[len("# expansion of "):].split(" ", 1)[0]
            errors[name] = line
            continue
        m = assign.match(line)
        if not m:
            continue
        name, rest = m.group(1), m.group(2)
        parts = [rest]
        # A value continues while its line ends in the escaped newline " \".
        while parts[-1].endswith(" \\") and i < len(lines):
            parts.append(lines[i])
            i += 1
        raw = "\n".join(parts)
        if not raw.endswith('"'):
            continue
        raw = raw[:-1].replace(" \\\n", "\n").replace("\\$", "$").replace("\\`", "`").replace('\\"', '"')
        values[name] = raw
    return values, errors


def run_bitbake(bitbake_dir, build_dir, args):
    script = os.path.join(HERE, "run-bitbake.sh")
    out = subprocess.run(["bash", script, bitbake_dir, build_dir, "-e"] + args,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit("bitbake -e %s failed:\n%s" % (" ".join(args), out.stderr[-2000:]))
    return out.stdout


def run_bitzel(bitbake_dir, build_dir, args, user):
    """Runs bitzel as BitBake runs (scripts/run-bitbake.sh): as `user`, with
    the same clean environment, so that user-dependent values agree."""
    bitzel = os.path.join(ROOT, "target", "release", "bitzel")
    home = os.path.expanduser("~" + user)
    env = ["HOME=" + home, "USER=" + user, "LOGNAME=" + user, "SHELL=/bin/bash",
           "LANG=en_US.UTF-8", "LC_ALL=en_US.UTF-8",
           "PATH=%s/bin:/usr/local/bin:/usr/bin:/bin" % bitbake_dir]
    prefix = ["runuser", "-u", user, "--"] if os.getuid() == 0 else []
    out = subprocess.run(prefix + ["env", "-i"] + env + [bitzel, "env", "--json"] + args,
                         cwd=build_dir, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return None, out.stderr.strip()
    return json.loads(out.stdout), None


def compare(label, bitbake_text, bitzel_json, show):
    theirs, their_errors = parse_bitbake_env(bitbake_text)
    ours = bitzel_json["variables"]
    our_errors = bitzel_json.get("expansion_errors", {})
    # Anything that carries this run's timestamp is volatile too.
    stamp = theirs.get("DATETIME")
    names = sorted(n for n in theirs if n not in VOLATILE and not (stamp and stamp in theirs[n]))
    equal = different = missing = 0
    diffs = []
    for name in names:
        if name not in ours:
            missing += 1
            if name in our_errors:
                diffs.append("%s: bitzel expansion error %s" % (name, our_errors[name][:200]))
            else:
                diffs.append("%s: missing in bitzel" % name)
        elif ours[name] == theirs[name]:
            equal += 1
        else:
            different += 1
            diffs.append("%s:\n      bitbake %r\n      bitzel  %r" % (name, theirs[name][:300], ours[name][:300]))
    total = len(names)
    pct = 100.0 * equal / total if total else 0.0
    print("%-28s compared %5d  equal %5d (%.2f%%)  different %4d  missing %4d  bitbake-errors %d" % (
        label, total, equal, pct, different, missing, len(their_errors)))
    for d in diffs[:show]:
        print("    " + d)
    return total, equal


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bitbake_dir")
    parser.add_argument("build_dir")
    parser.add_argument("recipes", nargs="*")
    parser.add_argument("--show", type=int, default=5)
    parser.add_argument("--user", default="bb", help="the non-root user BitBake runs as")
    args = parser.parse_args()
    targets = args.recipes or [None]
    grand_total = grand_equal = 0
    for target in targets:
        bb_args = [target] if target else []
        bz_args = [target] if target else ["--conf"]
        bitzel_json, error = run_bitzel(args.bitbake_dir, args.build_dir, bz_args, args.user)
        label = target or "(configuration)"
        if bitzel_json is None:
            print("%-28s bitzel failed: %s" % (label, error.splitlines()[-1] if error else "?"))
            continue
        total, equal = compare(label, run_bitbake(args.bitbake_dir, args.build_dir, bb_args), bitzel_json, args.show)
        grand_total += total
        grand_equal += equal
    if grand_total:
        print("TOTAL compared %d equal %d (%.2f%%)" % (grand_total, grand_equal, 100.0 * grand_equal / grand_total))


if __name__ == "__main__":
    main()
