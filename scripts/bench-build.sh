#!/usr/bin/env bash
# Times `bitzel build` on the demo layer: cold (empty tmp/ and cache/),
# no-op (hyperfine), and after deleting tmp/ (everything from the cache).
#
#   scripts/bench-build.sh [BUILD_DIR] [TARGET]    (defaults: build-demo, greet-app)
#
# BUILD_DIR must have been set up by scripts/demo.sh.
#
# Side by side with BitBake: with BITBAKE_DIR (a BitBake checkout) set, the
# same three runs are made with the real BitBake on the same layer through
# scripts/bitbake-demo.sh in BITBAKE_BUILD_DIR (default
# BUILD_DIR-bitbake), timing its whole process tree (RUN_BITBAKE_RUSAGE):
# cold (tmp/, sstate-cache/ and cache/ removed), no-op, and after deleting
# tmp/ (from sstate). It runs as user bb when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build_dir=${1:-$repo/build-demo}
target=${2:-greet-app}
bitzel=$repo/target/release/bitzel
[[ -x $bitzel ]] || cargo build --release --locked
cd "$build_dir"

echo "== cold (3 runs, empty tmp/ and cache/)"
for _ in 1 2 3; do
    rm -rf tmp cache
    /usr/bin/time -f "%e s wall" "$bitzel" build "$target" 2>&1 | tail -2
done
echo "== no-op"
hyperfine -N --warmup 2 --runs 20 "$bitzel build $target"
echo "== after deleting tmp/ (3 runs)"
for _ in 1 2 3; do
    rm -rf tmp
    /usr/bin/time -f "%e s wall" "$bitzel" build "$target" 2>&1 | tail -2
done
if [[ -n ${BITBAKE_DIR:-} ]]; then
    bb_build=${BITBAKE_BUILD_DIR:-$build_dir-bitbake}
    rusage=$(mktemp)
    chmod 0666 "$rusage"
    bitbake_run() {
        RUN_BITBAKE_RUSAGE=$rusage "$repo/scripts/bitbake-demo.sh" "$BITBAKE_DIR" "$bb_build" \
            "$target" >/dev/null 2>&1 || { echo "bitbake failed (see $bb_build)"; return 1; }
        /usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.2f s wall (client), %.2f s (whole tree), %.2f CPU-s" % (r["wall_client_s"] or -1, r["wall_tree_s"], r["cpu_s"]))' "$rusage"
    }
    echo "== BitBake cold (3 runs, empty tmp/, sstate-cache/, cache/)"
    for _ in 1 2 3; do
        rm -rf "$bb_build/tmp" "$bb_build/sstate-cache" "$bb_build/cache"
        bitbake_run
    done
    echo "== BitBake no-op (3 runs)"
    for _ in 1 2 3; do bitbake_run; done
    echo "== BitBake after deleting tmp/ (3 runs, from sstate)"
    for _ in 1 2 3; do
        rm -rf "$bb_build/tmp"
        bitbake_run
    done
    rm -f "$rusage"
fi
uptime
