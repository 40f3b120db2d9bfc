#!/usr/bin/env bash
# The whole test command: set-up (Debian packages), build, and every test (GoogleTest + Bats) through ctest; then
# the torch-free core and its unit tests again under ASan + UBSan (scripts/sanitize.sh; SCVAE_SKIP_SANITIZE=1 skips).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
build=${SCVAE_BUILD_DIR:-build}
ctest --test-dir "$build" --output-on-failure -j "${SCVAE_JOBS:-$(nproc)}" "$@"
if [[ ${SCVAE_SKIP_SANITIZE:-0} != 1 ]]; then
    start=$(date +%s)
    bash scripts/sanitize.sh
    echo "test: sanitizer build and tests took $(($(date +%s) - start)) s"
fi
