#!/usr/bin/env bash
# Times `bitzel build` on the demo layer: cold (empty tmp/ and cache/),
# no-op (hyperfine), and after deleting tmp/ (everything from the cache).
#
#   scripts/bench-build.sh [BUILD_DIR] [TARGET]    (defaults: build-demo, greet-app)
#
# BUILD_DIR must have been set up by scripts/demo.sh. Compare with BitBake
# on the same layer: scripts/bitbake-demo.sh with RUN_BITBAKE_RUSAGE=FILE.
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
uptime
