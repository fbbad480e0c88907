#!/usr/bin/env bash
# Runs Bitzel's whole test suite on a fresh Debian machine with Rust.
# Installs what the tests need first (only when missing), then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
# The embedded interpreter links against the system libpython.
dpkg -s python3-dev >/dev/null 2>&1 || need_apt+=(python3-dev)
# The demo layer's HOSTTOOLS (recipes/conf/bitbake.conf), which the build
# tests run in the sandbox.
for tool in make:make patch:patch wget:wget zstd:zstd diff:diffutils bash:bash; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi

cargo test --locked --all-targets
