#!/usr/bin/env bash
# The whole test command: set-up (Debian packages), build, and every test (GoogleTest + Bats) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
build=${SCVAE_BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j "${SCVAE_JOBS:-$(nproc)}" "$@"
