#!/usr/bin/env bash
# Run real BitBake in a build directory, as the unprivileged user `bb`, with a
# clean, deterministic environment.
#
#   scripts/run-bitbake.sh BITBAKE_DIR BUILD_DIR [BITBAKE_ARGS...]
#
# e.g. scripts/run-bitbake.sh /work/ext/bitbake /work/bbwork/build -p
#      scripts/run-bitbake.sh /work/ext/bitbake /work/bbwork/build -e zlib > env.txt
#
# - As root: re-runs itself as $BB_USER (default bb) via runuser. As any other
#   user: runs directly as that user.
# - Environment is wiped (env -i) and rebuilt: HOME, USER, LOGNAME, SHELL,
#   LANG/LC_ALL=en_US.UTF-8, PATH=BITBAKE_DIR/bin:/usr/local/bin:/usr/bin:/bin
#   (so BitBake runs under the system /usr/bin/python3), plus every BB_* variable
#   of the caller (e.g. BB_SERVER_TIMEOUT, BB_ENV_PASSTHROUGH_ADDITIONS).
#   Note /usr/local/bin precedes /usr/bin, so anything installed there wins.
#   PYTHONHASHSEED is passed through too if set (makes set-ordered values such
#   as COMBINED_FEATURES reproducible between runs).
# - Runs in BUILD_DIR, or in RUN_BITBAKE_CWD (must be BUILD_DIR or below; created
#   if missing) -- for commands that write to the cwd, such as -g.
# - Exit status is bitbake's. Without RUN_BITBAKE_RUSAGE, the script returns when
#   the UI client exits; the daemonised server may still be shutting down for a
#   second or so (the next invocation then prints "Reconnecting"/"Retrying").
#
# Measuring the whole process tree (BitBake's server daemonises, so a plain
# `time bitbake` only sees the UI client): set RUN_BITBAKE_RUSAGE=FILE. bitbake
# is then started under a small python3 wrapper that makes itself a child
# subreaper (prctl PR_SET_CHILD_SUBREAPER), so the daemonised server and its
# parser processes are re-parented to it; it reaps everything and writes a
# JSON summary to FILE: wall time until the client exited and until the last
# descendant exited, user/system CPU of the whole tree (RUSAGE_CHILDREN), the
# largest single-process max RSS, and peak summed RSS/PSS of the live tree
# sampled every 0.25 s. A one-line summary also goes to stderr.
# RUN_BITBAKE_REAP_TIMEOUT (default 300 s) bounds how long it waits for
# descendants after the client has exited.
set -euo pipefail

usage() {
    echo "usage: $0 BITBAKE_DIR BUILD_DIR [BITBAKE_ARGS...]" >&2
    echo "  env: RUN_BITBAKE_RUSAGE=FILE (measure whole process tree), RUN_BITBAKE_CWD=DIR" >&2
    echo "       (cwd inside BUILD_DIR), BB_USER (default bb), PYTHONHASHSEED (passed through)," >&2
    echo "       BB_* variables are passed through to bitbake" >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
BITBAKE_DIR=$(realpath -- "$1")
BUILD_DIR=$(realpath -- "$2")
shift 2
BB_USER=${BB_USER:-bb}

[[ -x "$BITBAKE_DIR/bin/bitbake" ]] || { echo "$0: $BITBAKE_DIR/bin/bitbake not found" >&2; usage; }
[[ -f "$BUILD_DIR/conf/local.conf" && -f "$BUILD_DIR/conf/bblayers.conf" ]] || {
    echo "$0: $BUILD_DIR is not a build directory (conf/local.conf, conf/bblayers.conf missing);" >&2
    echo "    create one with scripts/bitbake-builddir.sh" >&2
    usage
}

RUSAGE_OUT=""
if [[ -n "${RUN_BITBAKE_RUSAGE:-}" ]]; then
    RUSAGE_OUT=$(realpath -m -- "$RUN_BITBAKE_RUSAGE")
fi

# Who runs bitbake.
if [[ $(id -u) -eq 0 ]]; then
    id -u "$BB_USER" >/dev/null 2>&1 || { echo "$0: user $BB_USER missing; run scripts/setup-bitbake-host.sh" >&2; exit 1; }
    RUN_USER=$BB_USER
    RUN_HOME=$(getent passwd "$BB_USER" | cut -d: -f6)
    if [[ -n "$RUSAGE_OUT" ]]; then
        : > "$RUSAGE_OUT"
        chown "$BB_USER" "$RUSAGE_OUT"
    fi
    AS_USER=(runuser -u "$BB_USER" --)
else
    RUN_USER=$(id -un)
    RUN_HOME=${HOME:-$(getent passwd "$RUN_USER" | cut -d: -f6)}
    AS_USER=()
fi

ENVV=(
    "HOME=$RUN_HOME" "USER=$RUN_USER" "LOGNAME=$RUN_USER" "SHELL=/bin/bash"
    "LANG=en_US.UTF-8" "LC_ALL=en_US.UTF-8"
    "PATH=$BITBAKE_DIR/bin:/usr/local/bin:/usr/bin:/bin"
)
while IFS='=' read -r name _; do
    if [[ "$name" =~ ^BB_[A-Za-z0-9_]*$ && "$name" != BB_USER && -n "${!name+x}" ]]; then
        ENVV+=("$name=${!name}")
    fi
done < <(env)
# Python's set ordering leaks into some values (e.g. COMBINED_FEATURES in
# bitbake -e); pass PYTHONHASHSEED through when the caller wants determinism.
[[ -n "${PYTHONHASHSEED:-}" ]] && ENVV+=("PYTHONHASHSEED=$PYTHONHASHSEED")

# Whole-tree resource measurement wrapper (runs as the bitbake user).
read -r -d '' MEASURE_PY <<'PYEOF' || true
import ctypes, json, os, resource, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed: errno %d" % ctypes.get_errno())
me = os.getpid()
page = os.sysconf("SC_PAGE_SIZE")
reap_timeout = float(os.environ.pop("RUN_BITBAKE_REAP_TIMEOUT", "300"))

def sample():
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(p)
    rss = pss = n = 0
    stack = list(kids.get(me, []))
    while stack:
        p = stack.pop()
        stack.extend(kids.get(int(p), []))
        try:
            with open("/proc/%s/statm" % p) as f:
                rss += int(f.read().split()[1]) * page
            n += 1
            with open("/proc/%s/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            pass
    return rss, pss, n

t0 = time.monotonic()
child = os.posix_spawnp(cmd[0], cmd, os.environ)
rc = None
t_client = None
peak_rss = peak_pss = peak_n = 0
next_sample = t0
lingering = 0
while True:
    try:
        pid, status = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid:
        if pid == child:
            rc = os.waitstatus_to_exitcode(status)
            t_client = time.monotonic() - t0
        continue
    now = time.monotonic()
    if now >= next_sample:
        r, p, n = sample()
        peak_rss, peak_pss, peak_n = max(peak_rss, r), max(peak_pss, p), max(peak_n, n)
        next_sample = now + 0.25
    if t_client is not None and now - t0 - t_client > reap_timeout:
        lingering = sample()[2]
        break
    time.sleep(0.02)
t_tree = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
res = {
    "cmd": cmd, "rc": rc,
    "wall_client_s": round(t_client, 3) if t_client is not None else None,
    "wall_tree_s": round(t_tree, 3),
    "utime_s": round(ru.ru_utime, 3), "stime_s": round(ru.ru_stime, 3),
    "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
    "max_single_rss_kb": ru.ru_maxrss,
    "peak_tree_rss_kb": peak_rss // 1024, "peak_tree_pss_kb": peak_pss // 1024,
    "peak_tree_nproc": peak_n,
    "lingering_descendants": lingering,
}
with open(out, "w") as f:
    json.dump(res, f, indent=1)
    f.write("\n")
sys.stderr.write("run-bitbake: rc=%s client %.2fs tree %.2fs cpu %.2fs (user %.2f sys %.2f) "
                 "max-rss %d MB peak-tree-pss %d MB\n" % (
                     rc, res["wall_client_s"] or -1, t_tree, res["cpu_s"], ru.ru_utime,
                     ru.ru_stime, ru.ru_maxrss // 1024, peak_pss // (1 << 20)))
sys.exit(rc if rc is not None else 1)
PYEOF

if [[ -n "$RUSAGE_OUT" ]]; then
    [[ -n "${RUN_BITBAKE_REAP_TIMEOUT:-}" ]] && ENVV+=("RUN_BITBAKE_REAP_TIMEOUT=$RUN_BITBAKE_REAP_TIMEOUT")
    INNER=(/usr/bin/python3 -c "$MEASURE_PY" "$RUSAGE_OUT" bitbake "$@")
else
    INNER=(bitbake "$@")
fi

# Working directory: BUILD_DIR, or RUN_BITBAKE_CWD which must lie inside
# BUILD_DIR (bitbake finds conf/bblayers.conf by walking up from its cwd; TOPDIR
# stays BUILD_DIR). Useful for commands that write into the cwd, e.g. -g.
RUN_CWD=$BUILD_DIR
if [[ -n "${RUN_BITBAKE_CWD:-}" ]]; then
    RUN_CWD=$(realpath -m -- "$RUN_BITBAKE_CWD")
    case "$RUN_CWD/" in
        "$BUILD_DIR"/*) ;;
        *) echo "$0: RUN_BITBAKE_CWD=$RUN_CWD is not inside $BUILD_DIR" >&2; exit 2 ;;
    esac
    if [[ ! -d "$RUN_CWD" ]]; then
        mkdir -p "$RUN_CWD"
        [[ ${#AS_USER[@]} -gt 0 ]] && chown "$BB_USER:$BB_USER" "$RUN_CWD"
    fi
fi

cd "$RUN_CWD"
exec "${AS_USER[@]}" env -i "${ENVV[@]}" "${INNER[@]}"
