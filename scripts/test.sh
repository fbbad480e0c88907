#!/usr/bin/env bash
# Runs Bitzel's whole test suite on a fresh Debian machine with Rust.
# Installs what the tests need first (only when missing), then runs them.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/host-deps.sh
. scripts/host-deps.sh
# BuildGrid and buildbox-casd for tests/remote.rs.
# shellcheck source=scripts/remote-servers.sh
. scripts/remote-servers.sh

cargo test --locked --all-targets
