#!/usr/bin/env bash
# The main job, from a fresh clone: builds Bitzel, sets up a build
# directory for the bundled demo layer (recipes/), builds greet-app
# hermetically with `bitzel build`, and runs it.
#
#   scripts/demo.sh [BUILD_DIR]        (default: build-demo/ in the checkout)
#
# Run it again: nothing is rebuilt. Delete BUILD_DIR/tmp and run it again:
# everything comes back from BUILD_DIR/cache without a task running.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

# shellcheck source=scripts/host-deps.sh
. scripts/host-deps.sh

cargo build --release --locked
build_dir=${1:-$repo/build-demo}
mkdir -p "$build_dir/conf"
build_dir=$(cd "$build_dir" && pwd)
templates=$repo/recipes/conf/templates/default
if [ ! -e "$build_dir/conf/bblayers.conf" ]; then
    sed "s#\#\#DEMOLAYERDIR\#\##$repo/recipes#" "$templates/bblayers.conf.sample" \
        >"$build_dir/conf/bblayers.conf"
fi
if [ ! -e "$build_dir/conf/local.conf" ]; then
    cp "$templates/local.conf.sample" "$build_dir/conf/local.conf"
fi

cd "$build_dir"
"$repo/target/release/bitzel" build greet-app
work=$build_dir/tmp/work/x86_64-linux/greet-app/1.0
echo "running $work/image/usr/bin/greet-app:"
LD_LIBRARY_PATH=$work/recipe-sysroot/usr/lib "$work/image/usr/bin/greet-app"
