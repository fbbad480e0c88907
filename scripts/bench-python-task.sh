#!/usr/bin/env bash
# What running a task through the runner (`bitzel __run-task` in the
# sandbox: python tasks, tasks with prefuncs/postfuncs) costs, on the demo
# layer with a probe recipe:
#
# 1. `bitzel build -f probe -c compile` with do_compile an empty shell task
#    and then an empty python task (hyperfine): the difference is what a
#    python task costs beyond a shell task (task file written and read,
#    interpreter start, `bb` import, exec_task);
# 2. the runner alone, outside the sandbox, on the task file of the
#    python task (hyperfine): interpreter start and task file load.
#
#   scripts/bench-python-task.sh [RUNS]    (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
runs=${1:-30}
bitzel=$repo/target/release/bitzel
[[ -x $bitzel ]] || cargo build --release --locked
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$repo/recipes" "$work/layer"
mkdir -p "$work/conf" "$work/layer/recipes-demo/probe"
sed "s|##DEMOLAYERDIR##|$work/layer|" "$work/layer/conf/templates/default/bblayers.conf.sample" \
    > "$work/conf/bblayers.conf"
cp "$work/layer/conf/templates/default/local.conf.sample" "$work/conf/local.conf"
cd "$work"
probe=layer/recipes-demo/probe/probe_1.0.bb
header='LICENSE = "MIT"
S = "${UNPACKDIR}"'

printf '%s\ndo_compile() {\n    :\n}\n' "$header" > $probe
"$bitzel" build probe -c compile > /dev/null
echo "== shell do_compile, forced"
hyperfine -N --warmup 3 --runs "$runs" "$bitzel build -f probe -c compile"

printf '%s\npython do_compile() {\n    pass\n}\n' "$header" > $probe
"$bitzel" build probe -c compile > /dev/null
echo "== python do_compile, forced"
hyperfine -N --warmup 3 --runs "$runs" "$bitzel build -f probe -c compile"

# A python task that fails in its sandbox (no BITZEL_BENCH there) keeps
# its task file; outside, with BITZEL_BENCH set, it succeeds.
printf '%s\npython do_compile() {\n    import os\n    if "BITZEL_BENCH" not in os.environ:\n        bb.fatal("kept for the bench")\n}\n' \
    "$header" > $probe
"$bitzel" build probe -c compile > /dev/null 2>&1 || true
file=$(ls "$work"/tmp/work/*/probe/1.0/temp/bitzel-task.do_compile)
echo "== the runner alone, outside the sandbox ($(stat -c %s "$file") bytes of task file)"
BITZEL_BENCH=1 hyperfine -N --warmup 3 --runs "$runs" "$bitzel __run-task $file"
uptime
