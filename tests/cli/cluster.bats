#!/usr/bin/env bats
# scvae-cluster: k-means over grid positions, assignments, centroid files, the patch mosaic, and the errors.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    # Two images of one size (one grid): copies of the same photo under two names.
    cp "$IMAGES/photo64.png" a.png
    cp "$IMAGES/photo64.png" b.png
    scvae-encode -m "$TINY" -o ab.scv a.png b.png
    # positions per record = grid h * w
    cells=$(scvae-encode -m "$TINY" --json a.png | jq '.grid.h * .grid.w')
}

@test "encode | cluster writes one JSON line per grid position with clusters in 0..k-1" {
    run -0 --separate-stderr bash -c "scvae-encode -m '$TINY' a.png b.png | scvae-cluster -k 4"
    assert_equal "${#lines[@]}" $((2 * cells))
    [[ -z $stderr ]]
    run -0 bash -c "scvae-encode -m '$TINY' a.png b.png | scvae-cluster -k 4 | jq -s '[ (map(.cluster) | min), (map(.cluster) | max), (map(.record) | unique), (map(.distance >= 0) | all), .[0].source, .[0].row, .[0].col ]' -c"
    assert_output '[0,3,[0,1],true,"a.png",0,0]'
}

@test "the same seed gives the same clusters; identical images get identical assignments" {
    scvae-cluster -k 5 --seed 7 ab.scv > one.jsonl
    scvae-cluster -k 5 --seed 7 < ab.scv > two.jsonl
    cmp one.jsonl two.jsonl
    # b.png is a copy of a.png: record 1 repeats record 0's clusters position by position.
    run -0 bash -c "jq -c 'select(.record==0) | [.row,.col,.cluster]' one.jsonl | md5sum; jq -c 'select(.record==1) | [.row,.col,.cluster]' one.jsonl | md5sum"
    assert_equal "${lines[0]}" "${lines[1]}"
}

@test "--tsv has a header and the same assignments as JSON" {
    run -0 scvae-cluster -k 3 --tsv ab.scv
    assert_line --index 0 "$(printf 'record\tsource\trow\tcol\tcluster\tdistance')"
    assert_equal "${#lines[@]}" $((2 * cells + 1))
    diff <(scvae-cluster -k 3 --tsv ab.scv | tail -n +2 | cut -f1,3,4,5) \
         <(scvae-cluster -k 3 ab.scv | jq -r '[.record,.row,.col,.cluster] | @tsv')
}

@test "--save-centroids then --centroids assigns new codes identically without training" {
    scvae-cluster -k 6 --save-centroids c.scvk ab.scv > trained.jsonl
    [[ $(head -c 4 c.scvk) == SCVK ]]
    scvae-cluster --centroids c.scvk ab.scv > reused.jsonl
    cmp trained.jsonl reused.jsonl
    # -k that contradicts the file is a usage error
    run -2 scvae-cluster --centroids c.scvk -k 3 ab.scv
    assert_output --partial "contradicts --centroids"
}

@test "a corrupt centroid file is a data error" {
    scvae-cluster -k 2 --save-centroids c.scvk ab.scv > /dev/null
    size=$(stat -c %s c.scvk)
    printf '\x7f' | dd of=c.scvk bs=1 seek=$((size - 8)) conv=notrunc 2>/dev/null
    run -1 scvae-cluster --centroids c.scvk ab.scv
    assert_output --partial "c.scvk: checksum mismatch"
    echo "hello" > fake.scvk
    run -1 scvae-cluster --centroids fake.scvk ab.scv
    assert_output --partial "not a scvae centroid file"
}

@test "--max-points trains on a sample but assigns every vector; --spherical distances are 1 - cosine" {
    run -0 bash -c "scvae-cluster -k 3 --max-points 20 ab.scv | wc -l"
    assert_output "$((2 * cells))"
    run -0 bash -c "scvae-cluster -k 3 --spherical ab.scv | jq -s 'map(.distance >= -0.0001 and .distance <= 2.0001) | all'"
    assert_output true
    run -2 scvae-cluster -k 3 --max-points 2 ab.scv
    assert_output --partial "smaller than k"
}

@test "--mosaic draws rows x per-row patches cut from the source images, each row labelled with id and size" {
    scvae-cluster -k 5 --mosaic m.png --rows 3 --per-row 5 --patch-scale 2 ab.scv > /dev/null
    # tiny model: d=2, 4x4 patches, x2 = 8 px cells, 2 px gaps; rows at least 9 px high for the 5x7 labels;
    # a label band of at least "0 n=1" (5 characters of 6 px, less 1, plus 6) on the left
    read -r w h < <(png_size m.png)
    (( w >= 2 + 35 + 5 * 10 && h == 2 + 3 * 11 ))
    # default: one row per non-empty cluster, patches zoomed to 16 px; the band fits the longest label
    # "CLUSTER n=SIZE" exactly
    scvae-cluster -k 2 --mosaic all.png --per-row 4 ab.scv > all.jsonl
    band=$(jq -s -r 'group_by(.cluster) | map("\(.[0].cluster) n=\(length)" | length) | max * 6 - 1 + 6' all.jsonl)
    run -0 png_size all.png
    assert_output "$((2 + band + 4 * 18)) $((2 + 2 * 18))"
}

@test "a missing source image for the mosaic is a clear error and leaves no output; --images finds it" {
    mkdir pics && mv a.png b.png pics/
    run -1 --separate-stderr scvae-cluster -k 3 --mosaic m.png -o out.jsonl ab.scv
    assert_equal "$stderr" "scvae-cluster: mosaic: source image 'a.png' not found (use --images DIR to say where the images are)"
    assert_no_file m.png
    assert_no_file out.jsonl
    run -0 scvae-cluster -k 3 --mosaic m.png -o out.jsonl --images pics ab.scv
    [[ -s m.png && -s out.jsonl ]]
}

@test "k larger than the number of vectors is a data error" {
    run -1 scvae-cluster -k $((2 * cells + 1)) ab.scv
    assert_output "scvae-cluster: k ($((2 * cells + 1))) is larger than the number of code vectors ($((2 * cells)))"
}

@test "an empty stream is a data error" {
    run -1 bash -c "scvae-cluster -k 2 < /dev/null"
    assert_output "scvae-cluster: <stdin>: no code records (empty stream)"
    : > empty.scv
    run -1 scvae-cluster -k 2 empty.scv
    assert_output "scvae-cluster: empty.scv: no code records (empty stream)"
}

@test "codes of different grids or models in one run are refused" {
    scvae-encode -m "$TINY" -o other.scv "$IMAGES/gradient.png"
    run -1 scvae-cluster -k 2 ab.scv other.scv
    assert_output --partial "other.scv: record 1: grid"
    assert_output --partial "one clustering run needs one grid size"
    cat ab.scv other.scv > mixed.scv
    run -1 scvae-cluster -k 2 mixed.scv
    assert_output --partial "mixed.scv: record 3: grid"
    scvae-model init --preset tiny --seed 99 -o other.scvm
    scvae-encode -m other.scvm -o m2.scv a.png
    run -1 scvae-cluster -k 2 ab.scv m2.scv
    assert_output --partial "m2.scv: record 1: codes of model"
    assert_output --partial "one clustering run needs codes of one model"
}

@test "--distances dense and sparse give the same clusters and distances; auto picks one of them" {
    scvae-cluster -k 5 --seed 3 --distances dense ab.scv > dense.jsonl
    scvae-cluster -k 5 --seed 3 --distances sparse ab.scv > sparse.jsonl
    scvae-cluster -k 5 --seed 3 ab.scv > auto.jsonl
    run -0 jq -s -r '[.[].cluster] | join(",")' dense.jsonl
    clusters=$output
    run -0 jq -s -r '[.[].cluster] | join(",")' sparse.jsonl
    assert_output "$clusters"
    run -0 jq -s -r '[.[].cluster] | join(",")' auto.jsonl
    assert_output "$clusters"
    # distances equal up to float rounding; at least two distinct clusters were found
    run -0 jq -n --slurpfile d dense.jsonl --slurpfile s sparse.jsonl \
        '[range($d | length) | ($d[.].distance - $s[.].distance) | fabs] | max < 1e-3 * (1 + ([$d[].distance] | max))'
    assert_output true
    run -0 bash -c "jq .cluster dense.jsonl | sort -u | wc -l"
    (( output >= 2 ))
    run -2 scvae-cluster --distances fast ab.scv
    assert_output --partial "--distances: expected auto, dense or sparse"
}

@test "bad options are usage errors (exit 2)" {
    run -2 scvae-cluster -k 0 ab.scv
    assert_output --partial "-k"
    run -2 scvae-cluster --per-row x ab.scv
    run -2 scvae-cluster --centroids c.scvk --spherical ab.scv
    assert_output --partial "do not apply"
    run -2 scvae-cluster --no-such-option
}

@test "--help lists every option of the man page" {
    run -0 scvae-cluster --help
    for o in clusters iters redo seed max-points spherical output tsv save-centroids centroids mosaic rows per-row patch-scale images threads verbose; do
        assert_output --partial -- "--$o"
        grep -q -- "\\\\-\\\\-${o//-/\\\\-}" "$SCVAE_SOURCE_DIR/man/scvae-cluster.1" || fail "--$o missing from the man page"
    done
}

@test "--mosaic - and --save-centroids - do not share stdout with the assignments" {
    run -2 --separate-stderr scvae-cluster -k 2 --mosaic - ab.scv
    assert_equal "$stderr" "$(printf '%s\n%s' "scvae-cluster: only one of -o (default: stdout), --mosaic and --save-centroids can be '-' (standard output); give the others a FILE" "Try 'scvae-cluster --help' for more information.")"
    [[ -z $output ]]
    run -2 scvae-cluster -k 2 --save-centroids - --mosaic - -o out.jsonl ab.scv
    assert_no_file out.jsonl
    # with the assignments in a file, the mosaic alone goes to stdout
    run -0 bash -c "scvae-cluster -k 2 --mosaic - -o out.jsonl ab.scv > m.png"
    [[ $(head -c 8 m.png | od -An -c | tr -d ' ') == '211PNG\r\n032\n' ]]
    assert_equal "$(wc -l < out.jsonl)" $((2 * cells))
}

@test "--save-centroids - refuses binary output to a terminal" {
    command -v script >/dev/null || skip "script(1) not installed"
    run script -qec "scvae-cluster -k 2 -o a.jsonl --save-centroids - ab.scv" /dev/null
    assert_output --partial "refusing to write binary centroids to a terminal"
    assert_no_file a.jsonl
}
