#!/usr/bin/env bash
# The torch-free core under AddressSanitizer + UndefinedBehaviorSanitizer: configures build-asan/
# (-DSCVAE_SANITIZE=address,undefined, gcc, no LibTorch), builds the core library, its unit tests and the fuzz
# targets' replay programs, and runs them all through ctest: the unit tests, and every fuzz seed and regression
# input (fuzz/targets.txt, tests/data/fuzz/). Then the Bats tests of the two tools that need no network
# (tests/cli/cluster.bats, edit.bats) on the sanitized scvae-cluster and scvae-edit, with the main build's other
# tools (SCVAE_BIN, default build/bin; skipped when it is missing) making their inputs. Any sanitizer report
# fails the run. CI runs it after scripts/test.sh.
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

main_bin=${SCVAE_BIN:-build/bin}
if [[ ! -x $main_bin/scvae-encode ]]; then
    echo "sanitize.sh: no tools in $main_bin (build the main tree first): Bats tests under the sanitizers skipped" >&2
    exit 0
fi
# The tools a test runs: the sanitized ones first, the main build's for the rest. Reports go to files (an
# expected failure exits 1 like a tool refusing its input, so the exit code alone would not show them); the
# exit code of a report is 86.
mixed=$PWD/$build/bats-bin logs=$PWD/$build/san-logs
rm -rf "$mixed" "$logs"
mkdir -p "$mixed" "$logs"
for tool in "$main_bin"/scvae-*; do ln -s "$(realpath "$tool")" "$mixed/"; done
for tool in scvae-cluster scvae-edit; do ln -sfn "$(realpath "$build/bin/$tool")" "$mixed/$tool"; done
export ASAN_OPTIONS="$ASAN_OPTIONS:exitcode=86:log_path=$logs/asan"
export UBSAN_OPTIONS="$UBSAN_OPTIONS:exitcode=86:log_path=$logs/ubsan"
PATH=$mixed:$PATH SCVAE_BIN=$mixed SCVAE_TEST_DATA=$PWD/tests/data SCVAE_SOURCE_DIR=$PWD \
    SCVAE_MODEL=$PWD/tests/data/tiny.scvm bats --print-output-on-failure tests/cli/cluster.bats tests/cli/edit.bats
if compgen -G "$logs/*" >/dev/null; then
    echo "sanitize.sh: sanitizer reports from the tools:" >&2
    cat "$logs"/* >&2
    exit 1
fi
echo "sanitize.sh: Bats tests of scvae-cluster and scvae-edit under the sanitizers: no reports"
