#!/usr/bin/env bash
# Times `bitzel parse` on a BitBake build directory, cold and warm, next to
# `bitbake -p` when a BitBake checkout is given.
#
#   scripts/bench-parse-oecore.sh BUILD_DIR [BITBAKE_DIR]
#
# BUILD_DIR is a build directory for openembedded-core (see
# scripts/bitbake-builddir.sh). bitzel runs as the user `bb` (when run as
# root) with the clean environment scripts/run-bitbake.sh gives BitBake, so
# both see the same configuration. Cold: `--no-cache` with one job (in
# bitzel's own process) and with one job per core (the extra jobs are
# worker processes); warm: twice with the cache filled. BitBake: `-p` with
# its cache removed (cold) and again (warm), measured over its whole
# process tree (RUN_BITBAKE_RUSAGE). Prints wall time, CPU (user+sys, the
# whole process tree) and peak RSS (of the largest process: with workers,
# the parent; each worker holds less). With BENCH_PROFILE=1, also records
# a cold one-job parse with `perf` and prints its top costs.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    sed -n '2,17s/^# \{0,1\}//p' "$0" >&2
    exit 2
fi
build_dir=$(cd "$1" && pwd)
bitbake_dir=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

cargo build --release --quiet --manifest-path "$root/Cargo.toml"
bitzel="$root/target/release/bitzel"

user=${BB_USER:-bb}
run=()
if [[ $(id -u) -eq 0 ]]; then
    run=(runuser -u "$user" --)
fi
home=$(getent passwd "$(if [[ $(id -u) -eq 0 ]]; then echo "$user"; else id -un; fi)" | cut -d: -f6)
path="/usr/local/bin:/usr/bin:/bin"
if [[ -n $bitbake_dir ]]; then
    path="$bitbake_dir/bin:$path"
fi
env_vars=(HOME="$home" USER="$user" LOGNAME="$user" SHELL=/bin/bash LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 PATH="$path")

measure() {
    local label=$1
    shift
    (cd "$build_dir" && "${run[@]}" env -i "${env_vars[@]}" /usr/bin/time \
        -f "$label: wall %e s, cpu %U+%S s, peak rss %M KB" "$@" 2>&1 >/dev/null | tail -1)
}

echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
measure "bitzel parse, cold, 1 job" "$bitzel" parse --no-cache -j 1
measure "bitzel parse, cold, $(nproc) jobs" "$bitzel" parse --no-cache
"${run[@]}" rm -f "$build_dir/cache/bitzel/parse.cache"
measure "bitzel parse, filling the cache" "$bitzel" parse
measure "bitzel parse, warm" "$bitzel" parse
measure "bitzel parse, warm again" "$bitzel" parse

if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
    data=$(mktemp)
    (cd "$build_dir" && perf record -q -F 499 -g -o "$data" -- "${run[@]}" env -i "${env_vars[@]}" \
        "$bitzel" parse --no-cache -j 1 >/dev/null 2>&1)
    echo "profile of a cold one-job parse, by library and by symbol (self time):"
    perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -5
    perf report -i "$data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' | head -12
    rm -f "$data"
fi

if [[ -n $bitbake_dir ]]; then
    usage=$(mktemp)
    trap 'rm -f "$usage"' EXIT
    chmod 666 "$usage"
    for round in cold warm; do
        if [[ $round == cold ]]; then
            rm -rf "$build_dir/tmp/cache" "$build_dir/cache/bb_cache.dat"* "$build_dir/cache/bb_codeparser.dat"*
        fi
        RUN_BITBAKE_RUSAGE=$usage bash "$here/run-bitbake.sh" "$bitbake_dir" "$build_dir" -p >/dev/null 2>&1 || true
        python3 - "$usage" "$round" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("bitbake -p, %s: %s" % (sys.argv[2], json.dumps(r, sort_keys=True)))
PY
    done
fi
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
