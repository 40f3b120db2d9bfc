#!/usr/bin/env bash
# The torch-free core under AddressSanitizer + UndefinedBehaviorSanitizer: configures build-asan/
# (-DSCVAE_SANITIZE=address,undefined, gcc, no LibTorch), builds the core library, its unit tests and the fuzz
# targets' replay programs, and runs them all through ctest: the unit tests, and every fuzz seed and regression
# input (fuzz/targets.txt, tests/data/fuzz/). Any sanitizer report fails the run. CI runs it after scripts/test.sh.
#
#   scripts/sanitize.sh [CTEST ARGS...]        SCVAE_SANITIZE_BUILD_DIR (build-asan), SCVAE_JOBS (nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${SCVAE_SANITIZE_BUILD_DIR:-build-asan}
jobs=${SCVAE_JOBS:-$(nproc)}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCVAE_SANITIZE=address,undefined
fi
cmake --build "$build" -j "$jobs"
# leaks too (LeakSanitizer); a report of any kind ends the test with an error
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/scripts/lsan.supp}
ctest --test-dir "$build" --output-on-failure -j "$jobs" "$@"
