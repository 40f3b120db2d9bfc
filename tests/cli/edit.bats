#!/usr/bin/env bats
# scvae-edit: edits, traversals, interpolations, stream validity, and every error with its exit code.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    M=$DATA/metrics   # two.scv: records imgs/a.png and imgs/b.png (K=6, 2x2 grid); wide.scv: 1x4 grid
}

component() { # STREAM-JSON POS ATOM
    jq -r --argjson p "$2" --argjson a "$3" '
        . as $r | [range($r.row_ptr[$p]; $r.row_ptr[$p + 1])]
        | map(select($r.indices[.] == $a)) | if length > 0 then $r.values[.[0]] else 0 end' "$1"
}

@test "--set/--add/--scale apply in order at every position, keep the model and tag the source" {
    run -0 --separate-stderr bash -c "scvae-edit --set 3=1.5 --add 3=0.5 --scale 1=2 --json '$M/two.scv' > out.jsonl"
    [[ -z $stderr ]]
    assert_equal "$(wc -l < out.jsonl)" 2
    head -1 out.jsonl > a.json
    for p in 0 1 2 3; do assert_equal "$(component a.json $p 3)" 2; done
    assert_equal "$(component a.json 0 1)" 6
    assert_equal "$(component a.json 0 4)" 4
    run -0 jq -r '[.source, .fingerprint, .K, .grid.h, .grid.w, .nnz] | @tsv' a.json
    assert_output "$(printf 'imgs/a~set3=1.5,add3=0.5,scale1=2.png\t00112233aabbccdd\t6\t2\t2\t8')"
}

@test "--at edits one grid position only; zeros are dropped and indices stay sorted" {
    run -0 bash -c "scvae-edit --scale 1=0 --set 0=7 --at 0,0 --json '$M/two.jsonl' | head -1 > a.json"
    run -0 jq -c '[.row_ptr, .indices, .values]' a.json
    assert_output '[[0,2,2,3,4],[0,4,0,5],[7,4,0.5,-2]]'
    run -0 jq -r .source a.json
    assert_output 'imgs/a~scale1=0,set0=7@0,0.png'
}

@test "without edits the stream is copied (binary <-> JSON) record for record" {
    scvae-edit --json "$M/two.scv" > two.jsonl
    cmp two.jsonl "$M/two.jsonl"
    scvae-edit two.jsonl > two.scv
    cmp two.scv "$M/two.scv"
    scvae-edit -o file.scv < "$M/two.scv"
    cmp file.scv "$M/two.scv"
}

@test "--half stores values as 16-bit floats" {
    run -0 bash -c "scvae-edit --half --set 0=0.1 --at 0,0 --json '$M/two.scv' | head -1 | jq -c '[.half, .values[0]]'"
    assert_output '[true,0.099975586]'   # 0.0999755859375 in f16, printed with float precision
    run -0 bash -c "scvae-edit --set 0=0.1 --at 0,0 --json '$M/two.scv' | head -1 | jq -c '[.half, .values[0]]'"
    assert_output '[false,0.1]'
}

@test "--traverse emits --steps records per input with the component swept" {
    run -0 bash -c "scvae-edit --traverse 2 --from -1 --to 1 --steps 5 --json '$M/two.scv' > t.jsonl"
    assert_equal "$(wc -l < t.jsonl)" 10
    run -0 jq -r .source t.jsonl
    assert_equal "${lines[0]}" "imgs/a~traverse2=-1.png"
    assert_equal "${lines[3]}" "imgs/a~traverse2=0.5.png"
    assert_equal "${lines[9]}" "imgs/b~traverse2=1.png"
    sed -n 2p t.jsonl > r.json
    for p in 0 1 2 3; do assert_equal "$(component r.json $p 2)" -0.5; done
    assert_equal "$(component r.json 0 1)" 3
    run -0 bash -c "scvae-edit --traverse 5 --from 0 --to 2 --steps 3 --at 1,1 --json '$M/two.scv' | sed -n 3p"
    echo "$output" > r.json
    assert_equal "$(component r.json 3 5)" 2
    assert_equal "$(component r.json 0 5)" 0
    run -0 jq -r .source r.json
    assert_output "imgs/a~traverse5@1,1=2.png"
}

@test "--interpolate between two records of the input, ends included" {
    run -0 bash -c "scvae-edit --interpolate 0 1 --steps 3 --json < '$M/two.scv' > i.jsonl"
    assert_equal "$(wc -l < i.jsonl)" 3
    run -0 jq -r .source i.jsonl
    assert_output "$(printf 'imgs/a~interp(b)=0.png\nimgs/a~interp(b)=0.5.png\nimgs/a~interp(b)=1.png')"
    sed -n 2p i.jsonl > mid.json
    assert_equal "$(component mid.json 0 1)" 1.5
    assert_equal "$(component mid.json 0 2)" 0.5
    assert_equal "$(component mid.json 3 5)" -1
    # Ends equal the inputs' codes.
    assert_equal "$(sed -n 1p i.jsonl | jq -c '[.indices, .values]')" "$(sed -n 1p "$M/two.jsonl" | jq -c '[.indices, .values]')"
    assert_equal "$(sed -n 3p i.jsonl | jq -c '[.indices, .values]')" "$(sed -n 2p "$M/two.jsonl" | jq -c '[.indices, .values]')"
    # Backwards, from files (FILE:INDEX), default 8 steps.
    run -0 bash -c "scvae-edit --interpolate '$M/two.scv:1' '$M/two.jsonl' --json | jq -r .source"
    assert_equal "${#lines[@]}" 8
    assert_equal "${lines[0]}" "imgs/b~interp(a)=0.png"
}

@test "errors: atom >= K, --at outside the grid, other model or grid, missing record (exit 1)" {
    run -1 scvae-edit --set 6=1 -o out.scv "$M/two.scv"
    assert_output "scvae-edit: $M/two.scv: record 1: atom 6 is out of range (the model has K=6 atoms, 0..5)"
    assert_no_file out.scv
    run -1 scvae-edit --traverse 9 --from 0 --to 1 "$M/two.scv" -o out.scv
    assert_output --partial "atom 9 is out of range"
    run -1 scvae-edit --set 0=1 --at 2,0 -o out.scv "$M/two.scv"
    assert_output --partial "record 1: --at 2,0 is outside the 2x2 grid"
    run -1 scvae-edit --interpolate "$M/two.scv" "$M/wide.scv" -o out.scv
    assert_output --partial "cannot interpolate codes of different grids (2x2 vs 1x4)"
    run -1 scvae-edit --interpolate "$M/two.scv" "$M/other-model.scv" -o out.scv
    assert_output --partial "cannot interpolate codes of different models (fingerprints 00112233aabbccdd and ffeeddccbbaa9988)"
    run -1 scvae-edit --interpolate 0 5 -o out.scv "$M/two.scv"
    assert_output --partial "no record 5 to interpolate (the input has 2 records"
    run -1 scvae-edit --interpolate "$M/two.scv:7" 0 -o out.scv "$M/two.scv"
    assert_output --partial "two.scv: no record 7"
    assert_no_file out.scv
    : > empty.scv
    run -1 scvae-edit -o out.scv empty.scv
    assert_output "scvae-edit: empty.scv: no records in the code stream"
    head -c 100 "$M/two.scv" > cut.scv
    run -1 scvae-edit -o out.scv cut.scv
    assert_output --partial "cut.scv: record 1"
    assert_no_file out.scv
}

@test "usage errors (exit 2)" {
    run -2 scvae-edit --set 3 "$M/two.scv"
    assert_output --partial "--set: expected ATOM=VALUE, got '3'"
    run -2 scvae-edit --add x=1 "$M/two.scv"
    assert_output --partial "--add: expected an atom index"
    run -2 scvae-edit --scale 1=abc "$M/two.scv"
    assert_output --partial "--scale: expected a number, got 'abc'"
    run -2 scvae-edit --at 1 --set 0=1 "$M/two.scv"
    assert_output --partial "--at: expected ROW,COL"
    run -2 scvae-edit --traverse 1 --from 0 "$M/two.scv"
    assert_output --partial "--traverse needs --from A and --to B"
    run -2 scvae-edit --from 0 --to 1 "$M/two.scv"
    assert_output --partial "--from and --to go with --traverse"
    run -2 scvae-edit --steps 4 "$M/two.scv"
    assert_output --partial "--steps goes with --traverse or --interpolate"
    run -2 scvae-edit --interpolate 0
    assert_output --partial "--interpolate needs two codes"
    run -2 scvae-edit --interpolate 0 1 --steps 1 "$M/two.scv"
    assert_output --partial "at least 2"
    run -2 scvae-edit --interpolate 0 1 --traverse 1 --from 0 --to 1 "$M/two.scv"
    assert_output --partial "cannot be combined"
    run -2 scvae-edit --bogus
}

@test "binary output to a terminal is refused" {
    command -v script >/dev/null || skip "script(1) not installed"
    run script -qec "scvae-edit '$M/two.scv'" /dev/null
    assert_output --partial "refusing to write binary codes to a terminal"
}

@test "--help lists every option of the man page" {
    run -0 scvae-edit --help
    for opt in --set --add --scale --at --traverse --from --to --interpolate --steps --output --json --half; do
        assert_output --partial -- "$opt"
        grep -q -- "${opt//-/\\\\-}" "$SCVAE_SOURCE_DIR/man/scvae-edit.1" || fail "$opt missing from the man page"
    done
}

@test "edited codes decode with the model: edit | decode, traversal sheet (needs the tiny model)" {
    [[ -f $TINY ]] || skip "tests/data/tiny.scvm not present yet"
    scvae-encode -o p.scv "$IMAGES/photo1.jpg"
    run -0 bash -c "scvae-edit --scale 0=3 p.scv | scvae-decode -o edited.png"
    scvae-decode -o plain.png p.scv
    assert_equal "$(png_size edited.png)" "$(png_size plain.png)"
    assert_equal "$(png_size edited.png)" "$(scvae-edit --json p.scv | jq -r '"\(.image.width) \(.image.height)"')"
    ! cmp -s plain.png edited.png || fail "the edit changed nothing"
    run -0 bash -c "scvae-edit --traverse 1 --from -2 --to 2 --steps 4 p.scv | scvae-decode -o 'tr-{stem}.png'"
    [[ -f "tr-photo1~traverse1=-2.png" && -f "tr-photo1~traverse1=2.png" ]] || fail "$(ls)"
    assert_equal "$(ls tr-*.png | wc -l)" 4
    scvae-encode -o q.scv "$IMAGES/photo1.jpg" "$IMAGES/photo1.jpg"
    run -0 bash -c "scvae-edit --interpolate 0 1 --steps 3 q.scv | scvae-decode -o 'i{index}.png'"
    [[ -f i0.png && -f i2.png ]]
}

@test "examples/Makefile: traversal and interpolation sheets and the Table 1 line (tiny model, small photos)" {
    [[ -f $TINY ]] || skip "tests/data/tiny.scvm not present yet"
    command -v make >/dev/null || skip "make not installed"
    mkdir photos
    cp "$IMAGES/photo64.png" "$IMAGES/baseline.jpg" photos/
    run -0 make -C "$SCVAE_SOURCE_DIR/examples" MODEL="$TINY" PHOTOS="$PWD/photos" OUT="$PWD/out" \
        TRAVERSE_STEPS=3 INTERP_A="$PWD/photos/photo64.png" INTERP_B="$PWD/photos/baseline.jpg" INTERP_STEPS=4
    # Traversal: 2 photos x 3 steps of 64x64 tiles in 3 columns; interpolation: 4 tiles in one row.
    read -r w h < <(png_size out/traversal.png)
    (( w >= 3 * 64 && w < 3 * 64 + 20 && h > 2 * 64 )) || fail "traversal sheet is ${w}x${h}"
    read -r w h < <(png_size out/interpolation.png)
    (( w >= 4 * 64 && w < 4 * 64 + 20 && h > 64 && h < 2 * 64 )) || fail "interpolation sheet is ${w}x${h}"
    run -0 cat out/table1.txt
    assert_output --regexp '^n=2  PSNR [0-9.]+  SSIM [0-9.-]+  MS-SSIM [0-9.]+  MSE [0-9.]+  sparsity [0-9.]+%  nnz/vector [0-9.]+  atoms [0-9]+/[0-9]+ \(entropy [0-9.]+ bits, perplexity [0-9.]+, [0-9]+ dead\)  bpp [0-9.]+$'
    run -0 jq -r '.images | length' out/metrics.json
    assert_output 2
    run -2 make -C "$SCVAE_SOURCE_DIR/examples" MODEL="$TINY" PHOTOS="$PWD/photos" OUT="$PWD/out" check CHECK='psnr>=99'  # make exits 2 when a recipe fails
    assert_output --partial "check failed: psnr"
}

@test "a source name that the edit tag makes too long is one message naming the input once" {
    scvae-encode -m "$TINY" --json "$IMAGES/photo1.jpg" | jq -c --arg s "$(printf 'x%.0s' {1..4096})" '.source=$s | del(.crc32)' > long.jsonl
    run -1 --separate-stderr scvae-edit --set 0=1 -o e.scv long.jsonl
    assert_equal "$stderr" "scvae-edit: long.jsonl: record 1: source name of 4103 bytes is too long (at most 4096)"
    assert_no_file e.scv
}
