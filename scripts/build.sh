#!/usr/bin/env bash
# Configures and builds scvae into ./build (or $SCVAE_BUILD_DIR). Run scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SCVAE_BUILD_DIR:-build}
jobs=${SCVAE_JOBS:-$(nproc)}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" -j "$jobs"
