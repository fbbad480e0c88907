#!/usr/bin/env bash
# Measures the sandbox's set-up time per task.
#
# usage: scripts/bench-sandbox.sh [--fifo]
#
# Runs `cargo bench --bench sandbox` (criterion, 200 runs per bench, see
# benches/sandbox.rs), then prints each bench's median and mean from
# criterion's estimates, and the load average before and after: on a busy
# machine every process hop waits for a CPU, so note the load with the
# numbers. `set_up_*` are the set-up times proper (sandboxed run minus a
# direct run of the same `true`, pair by pair). With --fifo (root only) the
# bench runs under `chrt -f 10`, so other processes on the machine do not
# preempt it: the figures of an otherwise idle machine. Needs python3 and
# user namespaces (as root, or unprivileged where the kernel allows them).
set -euo pipefail

fifo=
case "${1:-}" in
    "") ;;
    --fifo) fifo=1 ;;
    -h | --help)
        sed -n '2,14s/^# \{0,1\}//p' "$0"
        exit 0
        ;;
    *)
        sed -n '2,14s/^# \{0,1\}//p' "$0" >&2
        exit 2
        ;;
esac

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
if [[ -n $fifo ]]; then
    # Build first, then run the bench binary itself under the real-time
    # policy (cargo and rustc need not be).
    bench=$(cargo bench --bench sandbox --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "sandbox" and m.get("executable"):
        print(m["executable"])')
    chrt -f 10 "$bench" --bench --noplot 2>&1 | grep -E '^(sandbox/|oe_core:)|time:' || true
else
    cargo bench --bench sandbox -- --noplot 2>&1 | grep -E '^(sandbox/|oe_core:)|time:' || true
fi
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "${CARGO_TARGET_DIR:-$repo/target}/criterion/sandbox" <<'EOF'
import json, os, sys
root = sys.argv[1]
names = ["direct", "minimal", "oe_core", "oe_core_network", "set_up_minimal", "set_up_oe_core"]
print(f"{'bench':<18} {'median':>10} {'mean':>10}")
for name in names:
    path = os.path.join(root, name, "new", "estimates.json")
    if not os.path.exists(path):
        continue
    with open(path) as f:
        est = json.load(f)
    median = est["median"]["point_estimate"] / 1e6
    mean = est["mean"]["point_estimate"] / 1e6
    print(f"{name:<18} {median:>8.3f} ms {mean:>8.3f} ms")
EOF
