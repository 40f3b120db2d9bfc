#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/targets.txt, one after the other, each until it has executed RUNS inputs or
# SECONDS have passed (whichever comes first), and prints one line per target: executions, coverage (libFuzzer's
# "cov" edges and "ft" features), corpus size and findings. Not part of CI (scripts/test.sh replays the seeds and
# regression inputs instead).
#
#   fuzz/run.sh [-t SECONDS] [-n RUNS] [-j JOBS] [TARGET...]     defaults: -t 3600 -n 1000000, every target
#
# Builds build-fuzz/ with clang (-DSCVAE_FUZZ=ON: ASan + UBSan + libFuzzer, torch-free core) when needed.
# Per target: the corpus grows in build-fuzz/corpus/NAME (seeded from the files targets.txt names and
# tests/data/fuzz/NAME/), crashes go to build-fuzz/findings/NAME/, the log to build-fuzz/logs/NAME.log.
# A finding becomes a regression input: copy it into tests/data/fuzz/NAME/ (the ctest test fuzz_replay_NAME
# replays that folder), fix the bug, and give the file a name that says what it was. The time-out per input is
# 120 s of wall time: on a loaded machine a shorter one reports inputs that take milliseconds of CPU as hangs.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=3600 runs=1000000 jobs=1
while getopts "t:n:j:" o; do
    case $o in
        t) seconds=$OPTARG ;;
        n) runs=$OPTARG ;;
        j) jobs=$OPTARG ;;
        *) echo "usage: fuzz/run.sh [-t SECONDS] [-n RUNS] [-j JOBS] [TARGET...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
build=${SCVAE_FUZZ_BUILD_DIR:-build-fuzz}
if [[ ! -f $build/CMakeCache.txt ]]; then
    CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DSCVAE_FUZZ=ON -DSCVAE_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j "$jobs" >/dev/null

declare -A dict=([fuzz_codes_binary]=codes_binary [fuzz_codes_json]=codes_json [fuzz_png]=png [fuzz_jpeg]=jpeg
                 [fuzz_pnm]=pnm [fuzz_model_header]=model_header
                 [fuzz_centroids]=centroids [fuzz_model_config]=model_config)
wanted=("$@")
printf '%-20s %12s %8s %8s %8s %9s %s\n' target executions seconds cov ft corpus findings
while read -r name source define seeds; do
    [[ $name =~ ^[a-z] ]] || continue
    if ((${#wanted[@]})) && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
    corpus=$build/corpus/$name findings=$build/findings/$name log=$build/logs/$name.log
    mkdir -p "$corpus" "$findings" "$(dirname "$log")"
    for s in $seeds tests/data/fuzz/$name/*; do
        [[ -f $s ]] && cp -n "$s" "$corpus/seed-$(basename "$s")"
    done
    if [[ $name == fuzz_image_stream ]]; then  # libFuzzer takes one -dict: the three image formats' together
        dictfile=$build/image_stream.dict
        cat fuzz/dict/png.dict fuzz/dict/jpeg.dict fuzz/dict/pnm.dict > "$dictfile"
    else
        dictfile=fuzz/dict/${dict[$name]}.dict
    fi
    start=$(date +%s)
    "$build/fuzz/$name" -runs="$runs" -max_total_time="$seconds" -dict="$dictfile" \
        -artifact_prefix="$findings/" -print_final_stats=1 -rss_limit_mb=2560 -timeout=120 \
        "$corpus" > "$log" 2>&1 || true
    elapsed=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    size=$(find "$corpus" -type f | wc -l)
    found=$(find "$findings" -type f | wc -l)
    printf '%-20s %12s %8s %8s %8s %9s %s\n' "$name" "${execs:-?}" "$elapsed" "${cov:-?}" "${ft:-?}" "$size" "$found"
done < fuzz/targets.txt
