#!/usr/bin/env bash
# Compare the task graphs of `bitbake -g` and `bitzel graph` for targets.
#
#   scripts/compare-graph.sh BITBAKE_DIR BUILD_DIR TARGET...
#
# Runs both in fresh subdirectories of BUILD_DIR (graph-cmp/bitbake and
# graph-cmp/bitzel; BitBake as the unprivileged user, via
# scripts/run-bitbake.sh), then reports nodes and edges of each and lists
# the nodes and edges only one of them has. BITZEL (default: target/release/bitzel
# of this checkout) is run as the same user as BitBake, so metadata event
# handlers create files with the same owner. Set COMPARE_GRAPH_REUSE=1 to
# keep an existing bitbake run (BitBake's -g is the slow half).
# Exit status: 0 when node and edge sets are identical, 1 otherwise.
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 BITBAKE_DIR BUILD_DIR TARGET..." >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
bitbake_dir=$(cd "$1" && pwd)
build_dir=$(cd "$2" && pwd)
shift 2
bitzel=${BITZEL:-$here/../target/release/bitzel}
bb_user=${BB_USER:-bb}
out=$build_dir/graph-cmp
mkdir -p "$out/bitbake" "$out/bitzel"
if [[ $(id -u) -eq 0 ]]; then
    chown "$bb_user" "$out" "$out/bitbake" "$out/bitzel"
fi

if [[ ${COMPARE_GRAPH_REUSE:-0} != 1 || ! -s $out/bitbake/task-depends.dot ]]; then
    RUN_BITBAKE_CWD=$out/bitbake "$here/run-bitbake.sh" "$bitbake_dir" "$build_dir" -g "$@" >"$out/bitbake.log" 2>&1
fi

run_bitzel=(env -i HOME="$(getent passwd "$bb_user" | cut -d: -f6)" USER="$bb_user" LOGNAME="$bb_user"
    SHELL=/bin/bash LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8
    PATH="$bitbake_dir/bin:/usr/local/bin:/usr/bin:/bin" "$bitzel" graph "$@")
if [[ $(id -u) -eq 0 ]]; then
    run_bitzel=(runuser -u "$bb_user" -- "${run_bitzel[@]}")
fi
start=$(date +%s.%N)
(cd "$out/bitzel" && "${run_bitzel[@]}") >"$out/bitzel.log" 2>&1 || {
    echo "bitzel graph failed:" >&2
    tail -20 "$out/bitzel.log" >&2
    exit 1
}
end=$(date +%s.%N)

python3 - "$out" "$(echo "$end - $start" | bc)" <<'PY'
import re, sys
out, seconds = sys.argv[1], float(sys.argv[2])

def load(path):
    nodes, edges = set(), set()
    for line in open(path):
        m = re.match(r'^"([^"]+)" -> "([^"]+)"$', line)
        if m:
            edges.add(m.groups())
            continue
        m = re.match(r'^"([^"]+)" \[label=', line)
        if m:
            nodes.add(m.group(1))
    return nodes, edges

bn, be = load(f"{out}/bitbake/task-depends.dot")
zn, ze = load(f"{out}/bitzel/task-depends.dot")
print(f"bitbake: {len(bn)} tasks, {len(be)} edges")
print(f"bitzel:  {len(zn)} tasks, {len(ze)} edges ({seconds:.2f} s)")
for title, items in [("tasks only in bitbake", bn - zn), ("tasks only in bitzel", zn - bn),
                     ("edges only in bitbake", be - ze), ("edges only in bitzel", ze - be)]:
    print(f"{title}: {len(items)}")
    for item in sorted(items)[:40]:
        print("  ", " -> ".join(item) if isinstance(item, tuple) else item)
same_files = open(f"{out}/bitbake/task-depends.dot").read() == open(f"{out}/bitzel/task-depends.dot").read()
print("task-depends.dot byte-identical" if same_files else "task-depends.dot differs in text")
sys.exit(0 if bn == zn and be == ze else 1)
PY
