#!/usr/bin/env bash
# Times `bitzel build greet-app` of the demo layer with a remote cache on
# loopback, against buildbox-casd and BuildGrid (installed by
# scripts/remote-servers.sh), each started here on a free port:
#   cold        empty tmp/ and local cache, no remote cache
#   upload      the same, uploading every result to an empty server
#               (interleaved with the cold runs)
#   restore     empty tmp/ and local cache, every result on the server
#               (hyperfine)
# and prints the remote summary line of one restore (RPCs per restored
# task). The parse cache (cache/bitzel/) is kept in every case, so that
# the figures are the tasks' and the cache's.
#
#   scripts/bench-remote.sh [RUNS]      (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
runs=${1:-10}
bitzel=$repo/target/release/bitzel
[[ -x $bitzel ]] || cargo build --release --locked
# shellcheck source=scripts/remote-servers.sh
. scripts/remote-servers.sh

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 3000); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "port $1 never opened" >&2
    return 1
}

# A build directory of the demo layer, with a warm parse cache.
build_dir=$work/build
mkdir -p "$build_dir/conf"
templates=$repo/recipes/conf/templates/default
sed "s#\#\#DEMOLAYERDIR\#\##$repo/recipes#" "$templates/bblayers.conf.sample" >"$build_dir/conf/bblayers.conf"
cp "$templates/local.conf.sample" "$build_dir/conf/local.conf"
cd "$build_dir"
"$bitzel" build greet-app >/dev/null
empty_local="rm -rf $build_dir/tmp $build_dir/cache/cas $build_dir/cache/ac $build_dir/cache/tmp $build_dir/cache/remote"

# casd, restarted on an empty store before each upload run by
# $work/casd-fresh.
casd_port=$(free_port)
cat >"$work/casd-fresh" <<EOF
#!/usr/bin/env bash
[ -f $work/casd.pid ] && kill \$(cat $work/casd.pid) 2>/dev/null && while kill -0 \$(cat $work/casd.pid) 2>/dev/null; do sleep 0.01; done
rm -rf $work/casd-store
"$BITZEL_TEST_CASD" --bind=127.0.0.1:$casd_port $work/casd-store >/dev/null 2>&1 &
echo \$! >$work/casd.pid
for _ in \$(seq 1 1000); do (echo >/dev/tcp/127.0.0.1/$casd_port) 2>/dev/null && exit 0; sleep 0.01; done
exit 1
EOF
chmod +x "$work/casd-fresh"
casd=grpc://127.0.0.1:$casd_port

# BuildGrid: one in-memory instance per run, so that each upload run
# meets an empty one.
bgd_port=$(free_port)
{
    printf 'server:\n  - !channel\n    address: "127.0.0.1:%s"\n    insecure-mode: true\n' "$bgd_port"
    printf 'authorization:\n  method: none\ninstances:\n'
    for i in $(seq 1 "$runs"); do
        printf '  - name: "run%s"\n    storages:\n      - !lru-storage &cas%s\n        size: 256M\n' "$i" "$i"
        printf '    caches:\n      - !lru-action-cache &ac%s\n        storage: *cas%s\n        max-cached-refs: 10000\n' "$i" "$i"
        printf '    services:\n      - !action-cache\n        cache: *ac%s\n      - !cas\n        storage: *cas%s\n      - !bytestream\n        storage: *cas%s\n' "$i" "$i" "$i"
    done
} >"$work/bgd.yml"
"$BITZEL_TEST_BGD" server start "$work/bgd.yml" >"$work/bgd.log" 2>&1 &
pids+=($!)
wait_port "$bgd_port"
bgd=grpc://127.0.0.1:$bgd_port
# Upload cost: cold builds without a remote cache and cold builds
# uploading to an empty server, interleaved so that the machine's load
# drifts alike for all; wall and CPU (user + system) time of bitzel.
timed() { /usr/bin/time -f "%e %U %S" "$@" 2>&1 >/dev/null | tail -n 1 >>"$work/times.$label"; }
for i in $(seq 1 "$runs"); do
    $empty_local
    label=cold timed "$bitzel" build greet-app
    $empty_local
    "$work/casd-fresh"
    label=casd-upload timed "$bitzel" build greet-app --remote-cache "$casd"
    $empty_local
    label=buildgrid-upload timed "$bitzel" build greet-app --remote-cache "$bgd" --remote-instance "run$i"
done
pids+=("$(cat "$work/casd.pid")")
echo "== cold builds ($runs of each, interleaved): mean wall, mean CPU of bitzel"
for label in cold casd-upload buildgrid-upload; do
    python3 - "$work/times.$label" "$label" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) == 3]
wall = [float(r[0]) for r in rows]
cpu = [float(r[1]) + float(r[2]) for r in rows]
print("%-17s wall %.3f s ± %.3f, CPU %.3f s ± %.3f (%d runs)" % (
    sys.argv[2], statistics.mean(wall), statistics.stdev(wall),
    statistics.mean(cpu), statistics.stdev(cpu), len(rows)))
PY
done

echo "== restore from buildbox-casd, empty local cache"
hyperfine -N --runs "$runs" --prepare "$empty_local" \
    "$bitzel build greet-app --remote-cache $casd --remote-upload=false"
$empty_local
"$bitzel" build greet-app --remote-cache "$casd" --remote-upload=false | tail -2
echo "== restore from BuildGrid, empty local cache"
hyperfine -N --runs "$runs" --prepare "$empty_local" \
    "$bitzel build greet-app --remote-cache $bgd --remote-instance run1 --remote-upload=false"
$empty_local
"$bitzel" build greet-app --remote-cache "$bgd" --remote-instance run1 --remote-upload=false | tail -2
echo "== for comparison: restore from the local cache (tmp/ deleted)"
hyperfine -N --runs "$runs" --prepare "rm -rf $build_dir/tmp" "$bitzel build greet-app"
uptime
