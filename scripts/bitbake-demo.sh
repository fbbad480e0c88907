#!/usr/bin/env bash
# Build the bundled demo layer (recipes/) with the real BitBake, alone (no
# openembedded-core), so that a BitBake run can be compared with a Bitzel run.
#
#   scripts/bitbake-demo.sh BITBAKE_DIR BUILD_DIR [BITBAKE_ARGS...]
#
# e.g. scripts/bitbake-demo.sh /work/ext/bitbake /work/bbwork/demo-build
#      (BITBAKE_ARGS default: greet-app hello)
#      scripts/bitbake-demo.sh /work/ext/bitbake /work/bbwork/demo-build -e greet-app
#
# 1. Sets up BUILD_DIR: conf/bblayers.conf from the layer's
#    conf/templates/default/bblayers.conf.sample (rewritten every run),
#    conf/local.conf from local.conf.sample (only if missing, so your edits
#    stay), conf/auto.conf with DEMO_MIRROR (rewritten every run). Files are
#    only written when their content changes.
# 2. Makes each tarball the layer's recipes fetch over HTTP
#    (recipes/recipes-demo/<recipe>/tarball/<name-version>/ becomes
#    BUILD_DIR/demo-mirror/<name-version>.tar.gz) reproducibly, and checks its
#    sha256 against the recipe's SRC_URI[sha256sum].
# 3. Serves BUILD_DIR/demo-mirror on http://127.0.0.1:PORT (PORT: $DEMO_PORT,
#    else 8000 if free, else any free port), runs
#    scripts/run-bitbake.sh BITBAKE_DIR BUILD_DIR BITBAKE_ARGS (so as user bb
#    when run as root; RUN_BITBAKE_RUSAGE, RUN_BITBAKE_CWD and BB_* work as
#    there), then stops the server. Exit status is bitbake's.
#
# Task hashes ignore DEMO_MIRROR (the checksum pins the content), so a
# different port does not rebuild anything.
set -euo pipefail

usage() {
    echo "usage: $0 BITBAKE_DIR BUILD_DIR [BITBAKE_ARGS...]" >&2
    echo "  BITBAKE_ARGS default: greet-app hello" >&2
    echo "  env: DEMO_PORT (HTTP port for the tarballs), BB_USER (default bb)," >&2
    echo "       RUN_BITBAKE_RUSAGE, RUN_BITBAKE_CWD, BB_* (see scripts/run-bitbake.sh)" >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
SCRIPT_DIR=$(dirname -- "$(realpath -- "${BASH_SOURCE[0]}")")
LAYER_DIR=$(realpath -- "$SCRIPT_DIR/../recipes")
BITBAKE_DIR=$(realpath -- "$1")
BUILD_DIR=$(realpath -m -- "$2")
shift 2
BITBAKE_ARGS=("$@")
[[ ${#BITBAKE_ARGS[@]} -gt 0 ]] || BITBAKE_ARGS=(greet-app hello)
BB_USER=${BB_USER:-bb}
TEMPLATES=$LAYER_DIR/conf/templates/default

[[ -x "$BITBAKE_DIR/bin/bitbake" ]] || { echo "$0: $BITBAKE_DIR/bin/bitbake not found" >&2; usage; }
[[ -f "$LAYER_DIR/conf/layer.conf" ]] || { echo "$0: $LAYER_DIR/conf/layer.conf not found" >&2; exit 1; }

# Writes stdin to FILE unless FILE already has exactly that content (an
# unchanged file keeps its mtime).
write_if_changed() {
    local file=$1 tmp
    tmp=$(mktemp "$file.XXXXXX")
    cat > "$tmp"
    if [[ -f "$file" ]] && cmp -s "$tmp" "$file"; then
        rm -f "$tmp"
    else
        chmod 0644 "$tmp"
        mv -f "$tmp" "$file"
    fi
}

port_is_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# --- 1. the build directory ---------------------------------------------------
mkdir -p "$BUILD_DIR/conf" "$BUILD_DIR/demo-mirror"

if [[ -n "${DEMO_PORT:-}" ]]; then
    PORT=$DEMO_PORT
elif port_is_free 8000; then
    PORT=8000
else
    PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
MIRROR_URL="http://127.0.0.1:$PORT"

bblayers=$(<"$TEMPLATES/bblayers.conf.sample")
printf '%s\n' "${bblayers//##DEMOLAYERDIR##/$LAYER_DIR}" | write_if_changed "$BUILD_DIR/conf/bblayers.conf"
[[ -f "$BUILD_DIR/conf/local.conf" ]] || cp "$TEMPLATES/local.conf.sample" "$BUILD_DIR/conf/local.conf"
printf '# Written by scripts/bitbake-demo.sh on every run.\nDEMO_MIRROR = "%s"\n' "$MIRROR_URL" \
    | write_if_changed "$BUILD_DIR/conf/auto.conf"

# --- 2. the tarballs ------------------------------------------------------------
for tree in "$LAYER_DIR"/recipes-*/*/tarball/*/; do
    [[ -d "$tree" ]] || continue
    tree=${tree%/}
    name=$(basename -- "$tree")
    recipe_dir=$(dirname -- "$(dirname -- "$tree")")
    tarball=$BUILD_DIR/demo-mirror/$name.tar.gz
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
        --mode=u=rwX,go=rX --format=gnu -C "$(dirname -- "$tree")" -cf - "$name" \
        | gzip -9n | write_if_changed "$tarball"
    actual=$(sha256sum "$tarball" | cut -d' ' -f1)
    expected=$(sed -n 's/^SRC_URI\[sha256sum\] *= *"\([0-9a-f]*\)".*/\1/p' "$recipe_dir"/*.bb | head -n1)
    if [[ -n "$expected" && "$actual" != "$expected" ]]; then
        echo "$0: $tarball has sha256 $actual, but $recipe_dir says $expected" >&2
        echo "    (did the files under $tree change, or do this host's tar/gzip write other bytes?)" >&2
        exit 1
    fi
done

if [[ $(id -u) -eq 0 ]] && id -u "$BB_USER" >/dev/null 2>&1; then
    chown "$BB_USER:$BB_USER" "$BUILD_DIR"
    chown -R "$BB_USER:$BB_USER" "$BUILD_DIR/conf" "$BUILD_DIR/demo-mirror"
fi

# --- 3. serve, build, stop ------------------------------------------------------
port_is_free "$PORT" || { echo "$0: port $PORT is in use (set DEMO_PORT)" >&2; exit 1; }
/usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$BUILD_DIR/demo-mirror" \
    > "$BUILD_DIR/demo-mirror.log" 2>&1 &
SERVER_PID=$!
# shellcheck disable=SC2317  # invoked by the EXIT trap
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}
trap stop_server EXIT

for _ in $(seq 100); do
    port_is_free "$PORT" || break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "$0: HTTP server failed, see $BUILD_DIR/demo-mirror.log" >&2; exit 1; }
    sleep 0.1
done
port_is_free "$PORT" && { echo "$0: HTTP server did not start listening on $PORT" >&2; exit 1; }

rc=0
"$SCRIPT_DIR/run-bitbake.sh" "$BITBAKE_DIR" "$BUILD_DIR" "${BITBAKE_ARGS[@]}" || rc=$?

app=$BUILD_DIR/tmp/work/$(uname -m)-linux/greet-app/1.0
if [[ $rc -eq 0 && -x "$app/image/usr/bin/greet-app" ]]; then
    echo "greet-app runs with: LD_LIBRARY_PATH=$app/recipe-sysroot/usr/lib $app/image/usr/bin/greet-app" >&2
fi
exit "$rc"
