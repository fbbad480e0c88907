#!/usr/bin/env python3
"""Lists the targets BitBake skips in a build directory, with reasons.

Usage (as the user BitBake runs as, in BUILD_DIR, e.g. through
scripts/run-bitbake.sh's environment):
    python3 scripts/bitbake-skipped.py BITBAKE_DIR

Prints `skipped TARGET: REASON` lines, sorted, the same form as
`bitzel parse --skipped`, so the two can be diffed. Uses BitBake's own
client API (tinfoil) to parse the recipes.
"""

import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.path.insert(0, sys.argv[1] + "/lib")
    import bb.tinfoil
    with bb.tinfoil.Tinfoil() as tinfoil:
        tinfoil.prepare(config_only=False, quiet=2)
        lines = []
        for target, info in tinfoil.get_skipped_recipes().items():
            lines.append("skipped %s: %s" % (target, info.skipreason))
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
