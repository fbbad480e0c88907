#!/usr/bin/env python3
"""Compare bitzel's URL decoding (src/fetch/url.rs) with BitBake's
bb.fetch2.decodeurl and encodeurl, on every URL written in a layer tree.

Usage (as user bb, never root):

    python3 scripts/differential-decodeurl.py BITBAKE_DIR LAYER_DIR... \\
        --decoder target/release/examples/decodeurl [--show N]

Every `scheme://...` token in the layers' .bb, .bbappend, .inc, .bbclass
.conf and .py files (up to a quote, space or backslash) is decoded by both
sides, and re-encoded from the decoded parts. Prints the number of URLs
and of disagreements, and the first N disagreements. Exit status 1 when
any disagree. Known, deliberate difference: a parameter without `=`
(`;flag`) is encoded back as `;flag` where BitBake's encodeurl raises
TypeError.
"""

import argparse
import json
import os
import re
import subprocess
import sys

URL = re.compile(r'[a-z][a-z0-9+.-]*://[^"\s\\]+')


def urls_of(dirs):
    found = set()
    for top in dirs:
        for root, _, files in os.walk(top):
            for name in files:
                if name.endswith((".bb", ".bbappend", ".inc", ".bbclass", ".conf", ".py")):
                    with open(os.path.join(root, name), errors="replace") as f:
                        found.update(URL.findall(f.read()))
    return sorted(found)


def bitbake_side(bitbake_dir, urls):
    sys.path.insert(0, os.path.join(bitbake_dir, "lib"))
    sys.path.insert(0, os.path.join(bitbake_dir, "lib", "bb"))
    import bb
    import bb.data
    import bb.fetch2
    results = {}
    for url in urls:
        try:
            t = bb.fetch2.decodeurl(url)
        except Exception:
            results[url] = "ERR"
            continue
        try:
            encoded = bb.fetch2.encodeurl(t)
        except Exception:
            encoded = "ERR"
        results[url] = [t[0], t[1], t[2], t[3], t[4], [list(p) for p in t[5].items()], encoded]
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("bitbake_dir")
    parser.add_argument("layers", nargs="+")
    parser.add_argument("--decoder", required=True)
    parser.add_argument("--show", type=int, default=20)
    args = parser.parse_args()
    urls = urls_of(args.layers)
    ours = {}
    out = subprocess.run([args.decoder], input="\n".join(urls) + "\n", capture_output=True,
                         text=True, check=True).stdout
    for line in out.splitlines():
        url, result = json.loads(line)
        ours[url] = result
    theirs = bitbake_side(args.bitbake_dir, urls)
    differ = [u for u in urls if ours.get(u) != theirs.get(u)]
    for url in differ[:args.show]:
        print(url)
        print("    bitbake:", theirs.get(url))
        print("    bitzel: ", ours.get(url))
    print("%d URLs, %d disagree" % (len(urls), len(differ)))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
