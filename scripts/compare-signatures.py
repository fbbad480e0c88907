#!/usr/bin/env python3
"""Compare Bitzel's task signatures with BitBake's signature data.

    scripts/compare-signatures.py BUILD_DIR ENV_JSON [RECIPE_STAMP_DIR]

BitBake side: run `bitbake -S none TARGET` in BUILD_DIR first; it writes a
`STAMP.do_TASK.sigdata.HASH` file (zstd-compressed JSON) per task into the
stamps directory, without building anything. Bitzel side: ENV_JSON is the
output of `bitzel env --json TARGET` (its "tasks" object). RECIPE_STAMP_DIR
defaults to the directory holding the recipe's stamps, found by PN under
BUILD_DIR/tmp/stamps.

For every task both know, prints whether the base hashes are equal and,
when the dependency sets differ, the variables only one side lists.
Exit status: 0 when every base hash matches.
"""
import glob
import json
import os
import subprocess
import sys


def load_sigdata(path):
    raw = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return json.loads(raw)


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    build_dir, env_json = sys.argv[1], sys.argv[2]
    env = json.load(open(env_json))
    pn = env["variables"]["PN"]
    tasks = env.get("tasks") or {}
    if len(sys.argv) > 3:
        stamp_dir = sys.argv[3]
    else:
        dirs = glob.glob(os.path.join(build_dir, "tmp", "stamps", "*", pn))
        if len(dirs) != 1:
            print(f"cannot find a unique stamp directory for {pn}: {dirs}", file=sys.stderr)
            return 2
        stamp_dir = dirs[0]
    bitbake = {}
    for path in glob.glob(os.path.join(stamp_dir, "*.sigdata.*")):
        data = load_sigdata(path)
        bitbake[data["task"]] = data
    same = differ = 0
    for task in sorted(set(bitbake) & set(tasks)):
        ours, theirs = tasks[task], bitbake[task]
        deps_ours = set(ours["vardeps"])
        deps_theirs = theirs["taskdeps"]
        # BitBake's JSON encoder writes a set as {"_set_object": [...]}.
        if isinstance(deps_theirs, dict):
            deps_theirs = deps_theirs.get("_set_object", [])
        deps_theirs = set(deps_theirs)
        if ours["basehash"] == theirs["basehash"]:
            same += 1
            print(f"{pn}:{task}: basehash equal ({len(deps_theirs)} keys)")
            continue
        differ += 1
        print(f"{pn}:{task}: basehash differs (bitzel {ours['basehash'][:12]}, bitbake {theirs['basehash'][:12]})")
        for name in sorted(deps_theirs - deps_ours):
            print(f"    only bitbake: {name}")
        for name in sorted(deps_ours - deps_theirs):
            print(f"    only bitzel:  {name}")
        if deps_ours == deps_theirs:
            values = theirs.get("varvals", {})
            print("    same keys; a value differs (compare with bitzel env; BitBake's values:)")
            for name in sorted(deps_theirs | {task}):
                print(f"      {name} = {str(values.get(name))[:160]!r}")
    only = sorted(set(bitbake) - set(tasks))
    if only:
        print(f"tasks only BitBake signed: {' '.join(only)}")
    print(f"{pn}: {same} of {same + differ} base hashes equal")
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
