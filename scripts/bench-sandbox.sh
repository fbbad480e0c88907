#!/usr/bin/env bash
# Measures the sandbox's set-up time per task.
#
# usage: scripts/bench-sandbox.sh
#
# Runs `cargo bench --bench sandbox` (criterion, 200 runs per bench, see
# benches/sandbox.rs), then prints each bench's median and mean from
# criterion's estimates, and the load average before and after: on a busy
# machine every process hop waits for a CPU, so note the load with the
# numbers. `set_up_*` are the set-up times proper (sandboxed run minus a
# direct run of the same `true`, pair by pair). Needs python3; needs user
# namespaces (as root, or unprivileged where the kernel allows them).
set -euo pipefail

if [[ $# -gt 0 ]]; then
    sed -n '2,12s/^# \{0,1\}//p' "$0"
    [[ $1 == -h || $1 == --help ]] && exit 0
    exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
cargo bench --bench sandbox -- --noplot 2>&1 | grep -E '^(sandbox/|oe_core:)|time:' || true
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
