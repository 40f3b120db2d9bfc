#!/usr/bin/env bats
# bench/: bench_e2e runs the real tools as processes (here on the tiny model, so that it takes a second) and
# prints one JSON document; each tool runs --repeat times and the run of median wall time is reported.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    E2E=$SCVAE_BIN/../bench/bench_e2e
    [[ -x $E2E ]] || fail "bench_e2e is not built at $E2E"
    mkdir photos
    cp "$IMAGES/photo1.jpg" "$IMAGES/photo2.png" "$IMAGES/photo3.jpg" photos/
    # stand-ins that count their runs and then run the real tool
    mkdir bin
    for t in encode decode segment; do
        printf '#!/bin/sh\necho run >> "%s/%s.runs"\nexec "%s/scvae-%s" "$@"\n' "$PWD" "$t" "$SCVAE_BIN" "$t" > "bin/scvae-$t"
        chmod +x "bin/scvae-$t"
    done
}

@test "bench_e2e: every tool runs --repeat times, the JSON holds the median run and the floor ratios" {
    run -0 --separate-stderr "$E2E" --bin "$PWD/bin" --model "$TINY" --photos photos --images 3 --sizes 64 \
        --skip-train --repeat 3 --json e2e.json
    assert_line --partial "encode     64 px:"
    assert_line --partial "segment    64 px:"
    for t in encode decode segment; do assert_equal "$(wc -l < $t.runs)" 3; done
    jq -e '.sizes["64"] as $s
        | ([$s.encode, $s.decode, $s.segment] | all(.wall_s > 0 and .user_s >= 0 and .sys_s >= 0
                                                     and .peak_rss_mib > 0 and .sys_share >= 0 and .sys_share <= 1))
        and ($s.floor.encode_s > 0) and ($s.floor.decode_s > 0)
        and (($s.encode_floor_ratio - $s.encode.wall_s / 3 / $s.floor.encode_s) | fabs < 1e-9)
        and ($s.encode.wall_per_image_s * 3 - $s.encode.wall_s | fabs < 1e-9)' e2e.json
    rm -f ./*.runs
    run -0 --separate-stderr "$E2E" --bin "$PWD/bin" --model "$TINY" --photos photos --images 2 --sizes 64 \
        --skip-train --repeat 1
    for t in encode decode segment; do assert_equal "$(wc -l < $t.runs)" 1; done
}
