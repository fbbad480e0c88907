#!/usr/bin/env bash
# Times `bitzel check PATH` end to end with hyperfine.
#
# usage: scripts/bench-parse.sh PATH
#
# Builds the release binary, checks PATH once (showing the summary line:
# files, bytes, errors), then times it with all cores and pinned to core 0
# (`taskset -c 0`), 3 warmup runs and 20 timed runs each. Errors in the
# metadata do not stop the timing; an unreadable PATH does. Needs hyperfine
# (apt-get install hyperfine) and taskset (util-linux). For the parser alone,
# in bytes per second, see `cargo bench --bench parse`.
set -euo pipefail

usage() {
    sed -n '2,11s/^# \{0,1\}//p' "$0"
}

if [[ $# -eq 1 && ($1 == -h || $1 == --help) ]]; then
    usage
    exit 0
fi
if [[ $# -ne 1 ]]; then
    usage >&2
    exit 2
fi
path=$1
if [[ ! -e $path ]]; then
    echo "bench-parse: $path does not exist" >&2
    exit 2
fi
for tool in hyperfine taskset; do
    if ! command -v "$tool" > /dev/null; then
        echo "bench-parse: $tool is not installed" >&2
        exit 2
    fi
done

repo=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
bin="$repo/target/release/bitzel"

# One run up front: the summary says what is being timed, and a bad path
# (exit status 2) stops here instead of being timed.
status=0
summary=$("$bin" check "$path" 2>&1 | tail -n 1) || status=$?
echo "bitzel check $path: $summary (exit status $status)"
if [[ $status -gt 1 ]]; then
    exit "$status"
fi

command="$(printf '%q ' "$bin" check "$path")"
echo
echo "== all cores ($(nproc) available) =="
hyperfine -N --ignore-failure --warmup 3 --runs 20 "$command"
echo
echo "== one core (taskset -c 0) =="
hyperfine -N --ignore-failure --warmup 3 --runs 20 "taskset -c 0 $command"
echo
uptime
