#!/usr/bin/env bash
# Compare the base hashes of every task in a target's graph with BitBake's.
#
#   scripts/compare-signatures-all.sh BITBAKE_DIR BUILD_DIR TARGET
#
# Runs `bitbake -S none TARGET` (writes signature data next to the stamps
# without building) and `bitbake -g TARGET` (for the recipe list) as the
# unprivileged user through scripts/run-bitbake.sh, then for every recipe
# `bitzel env --json --sigdata PN` as the same user, and
# scripts/compare-signatures.py on each. Prints one line per recipe and a
# total. BITZEL defaults to target/release/bitzel of this checkout; results
# are kept in BUILD_DIR/sig-cmp/.
set -euo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 BITBAKE_DIR BUILD_DIR TARGET" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
bitbake_dir=$(cd "$1" && pwd)
build_dir=$(cd "$2" && pwd)
target=$3
bitzel=${BITZEL:-$here/../target/release/bitzel}
bb_user=${BB_USER:-bb}
out=$build_dir/sig-cmp
mkdir -p "$out/graph"
[[ $(id -u) -ne 0 ]] || chown -R "$bb_user" "$out"

"$here/run-bitbake.sh" "$bitbake_dir" "$build_dir" -S none "$target" >"$out/bitbake-S.log" 2>&1
RUN_BITBAKE_CWD=$out/graph "$here/run-bitbake.sh" "$bitbake_dir" "$build_dir" -g "$target" >"$out/bitbake-g.log" 2>&1

run_bitzel=(env -i HOME="$(getent passwd "$bb_user" | cut -d: -f6)" USER="$bb_user" LOGNAME="$bb_user"
    SHELL=/bin/bash LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8
    PATH="$bitbake_dir/bin:/usr/local/bin:/usr/bin:/bin" "$bitzel")
if [[ $(id -u) -eq 0 ]]; then
    run_bitzel=(runuser -u "$bb_user" -- "${run_bitzel[@]}")
fi

equal=0
total=0
while read -r pn; do
    (cd "$build_dir" && "${run_bitzel[@]}" env --json --sigdata "$pn") >"$out/$pn.json" 2>"$out/$pn.err" || true
    if line=$(python3 "$here/compare-signatures.py" "$build_dir" "$out/$pn.json" 2>&1 | tail -1); then :; fi
    echo "$line"
    if [[ $line =~ ^[^:]+:\ ([0-9]+)\ of\ ([0-9]+)\ base ]]; then
        equal=$((equal + BASH_REMATCH[1]))
        total=$((total + BASH_REMATCH[2]))
    fi
done <"$out/graph/pn-buildlist"
echo "total: $equal of $total base hashes equal"
[[ $equal -eq $total ]]
