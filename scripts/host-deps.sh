#!/usr/bin/env bash
# Installs, when missing, what building Bitzel and running the demo layer
# need on Debian: a C compiler, the system python's development files (the
# embedded interpreter links libpython) and the demo layer's host tools
# (HOSTTOOLS in recipes/conf/bitbake.conf), and openssl (the remote cache
# tests make TLS certificates). Sourced by scripts/test.sh and
# scripts/demo.sh.
need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(gcc libc6-dev)
dpkg -s python3-dev >/dev/null 2>&1 || need_apt+=(python3-dev)
for tool in make:make patch:patch wget:wget zstd:zstd diff:diffutils bash:bash openssl:openssl; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || need_apt+=("${tool#*:}")
done
if [ "${#need_apt[@]}" -gt 0 ]; then
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq "${need_apt[@]}"
fi
