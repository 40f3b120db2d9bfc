#!/usr/bin/env bats
# scvae-model: init, info and grow, the model file checks, and usage errors.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
}

# same_function A B IMAGE: models A and B encode IMAGE to the same codes (as many non-zeros per vector, within 0.01)
# and decode them to the same image (PSNR >= 60 dB); leaves A's codes and image in a.scv / a.png, B's in b.*
same_function() {
    scvae-encode -q -m "$1" -o a.scv "$3"
    scvae-encode -q -m "$2" -o b.scv "$3"
    scvae-decode -q -m "$1" -o a.png a.scv
    scvae-decode -q -m "$2" -o b.png b.scv
    run -0 scvae-metrics --check 'psnr>=60' a.png b.png
    run -0 jq -n --argjson a "$(scvae-metrics --codes a.scv | jq .codes.nnz_per_vector)" \
        --argjson b "$(scvae-metrics --codes b.scv | jq .codes.nnz_per_vector)" '($a - $b) | fabs < 0.01'
    assert_output true
}

@test "init --preset tiny --seed 1 --half reproduces the checked-in test model byte for byte" {
    run -0 scvae-model init --preset tiny --seed 1 --half -o t.scvm
    [[ -z $output ]]
    cmp t.scvm "$TINY"
}

@test "init with another seed gives another fingerprint; the same seed the same one" {
    scvae-model init --preset tiny --seed 2 -o a.scvm
    scvae-model init --preset tiny --seed 2 -o b.scvm
    a=$(scvae-model info --json a.scvm | jq -r .fingerprint)
    b=$(scvae-model info --json b.scvm | jq -r .fingerprint)
    t=$(scvae-model info --json "$TINY" | jq -r .fingerprint)
    [[ $a =~ ^[0-9a-f]{16}$ ]]
    assert_equal "$a" "$b"
    [[ $a != "$t" ]]
}

@test "info prints config, fingerprint and parameter count of the tiny model" {
    run -0 --separate-stderr scvae-model info "$TINY"
    assert_line "preset: tiny"
    assert_line "d: 2 (downsampling factor 4)"
    assert_line "n: 16"
    assert_line "K: 32"
    assert_line "steps: 4"
    assert_line "ch_mult: 1,2,2"
    assert_line --regexp '^fingerprint: [0-9a-f]{16}$'
    assert_line --regexp '^parameters: [1-9][0-9]+$'
    [[ -z $stderr ]]
}

@test "info --json is one object per file with config and meta" {
    run -0 bash -c "scvae-model info --json '$TINY' '$TINY' | jq -c '[.config.preset, .config.n, .config.K, .d, .factor, .meta.init_seed, .meta.trained]'"
    assert_equal "${#lines[@]}" 2
    assert_equal "${lines[0]}" '["tiny",16,32,2,4,1,false]'
}

@test "info --json parameter count matches the text output" {
    p_json=$(scvae-model info --json "$TINY" | jq .parameters)
    p_text=$(scvae-model info "$TINY" | sed -n 's/^parameters: //p')
    assert_equal "$p_json" "$p_text"
}

@test "init --half halves the weights and keeps its fingerprint through a load" {
    scvae-model init --preset tiny --seed 1 -o full.scvm
    scvae-model init --preset tiny --seed 1 --half -o h.scvm
    full=$(stat -c %s full.scvm)
    half=$(stat -c %s h.scvm)
    (( half < full * 3 / 4 ))
    # the rounded weights give another fingerprint; info (which verifies the file) reads it back
    fh=$(scvae-model info --json h.scvm | jq -r .fingerprint)
    ff=$(scvae-model info --json full.scvm | jq -r .fingerprint)
    [[ $fh =~ ^[0-9a-f]{16}$ && $fh != "$ff" ]]
    # a codec loads the f16 file: the codes carry the fingerprint that info shows
    run -0 bash -c "scvae-encode --json -m h.scvm '$IMAGES/photo1.jpg' | jq -r .fingerprint"
    assert_output "$fh"
}

@test "init --config takes a JSON config that names a preset and changes fields" {
    echo '{"preset":"tiny","K":48,"steps":2,"solver":"fista"}' > c.json
    run -0 scvae-model init --config c.json -o c.scvm
    run -0 bash -c "scvae-model info --json c.scvm | jq -c '[.config.preset, .config.K, .config.steps, .config.solver, .config.n]'"
    assert_output '["tiny",48,2,"fista",16]'
}

@test "init --config - reads the config from stdin" {
    run -0 bash -c "echo '{\"preset\":\"tiny\",\"channels\":4}' | scvae-model init --config - -o s.scvm"
    run -0 bash -c "scvae-model info --json s.scvm | jq .config.channels"
    assert_output "4"
}

@test "a bad config file is refused with its name and reason (exit 1), and no file is written" {
    echo '{"preset":"tiny","n":15}' > bad.json
    run -1 scvae-model init --config bad.json -o bad.scvm
    assert_output --partial "scvae-model: bad.json: model config: n must be a perfect square"
    assert_no_file bad.scvm
    echo '{"preset":"tiny","colour":1}' > unknown.json
    run -1 scvae-model init --config unknown.json -o bad.scvm
    assert_output --partial "unknown.json: model config: unknown field 'colour'"
    echo '{nope' > broken.json
    run -1 scvae-model init --config broken.json -o bad.scvm
    assert_output --partial "broken.json: not valid JSON"
    assert_no_file bad.scvm
}

@test "usage errors exit 2" {
    run -2 scvae-model
    assert_output --partial "no command given"
    run -2 scvae-model frobnicate
    assert_output --partial "unknown command 'frobnicate'"
    run -2 scvae-model init --preset tiny
    assert_output --partial "-o FILE is required"
    run -2 scvae-model init -o x.scvm
    assert_output --partial "exactly one of --preset and --config"
    run -2 scvae-model init --preset nonesuch -o x.scvm
    assert_output --partial "unknown preset 'nonesuch'"
    run -2 scvae-model init --preset tiny --seed minus -o x.scvm
    assert_output --partial "--seed: expected an integer"
    run -2 scvae-model info --bogus "$TINY"
    assert_no_file x.scvm
}

@test "grow --channels doubles every hidden width and starts as the same function" {
    run -0 --separate-stderr scvae-model grow --channels 16 "$TINY" -o wide.scvm
    [[ -z $output && -z $stderr ]]
    run -0 scvae-model info --json wide.scvm
    tiny=$(scvae-model info --json "$TINY")
    assert_equal "$(jq -c '[.config.channels, .config.preset, .meta.created_by, .meta.grown_from_channels, .meta.share_spread, .meta.grown_layers]' <<<"$output")" \
        '[16,"","scvae-model grow",8,0.25,[]]'
    assert_equal "$(jq -r .meta.grown_from <<<"$output")" "$(jq -r .fingerprint <<<"$tiny")"
    # only the width changed; the tiny model (mid attention, 4 groups) has about four times the encoder/decoder weights
    assert_equal "$(jq -c '.config | del(.channels, .preset)' <<<"$output")" "$(jq -c '.config | del(.channels, .preset)' <<<"$tiny")"
    (( $(jq .parameters <<<"$output") > 3 * $(jq .parameters <<<"$tiny") ))
    # the same codes and the same reconstruction (each weight's two shares sum to it; rounding aside)
    same_function "$TINY" wide.scvm "$IMAGES/photo1.jpg"
    # the seed sets the shares: the same seed gives the same file, another seed another
    scvae-model grow -c 16 "$TINY" -o again.scvm
    cmp wide.scvm again.scvm
    scvae-model grow -c 16 -s 2 "$TINY" -o other.scvm
    ! cmp -s wide.scvm other.scvm
    # deeper and wider at once: the added blocks keep their names for scvae-train --grown-lr, and it trains on
    scvae-model grow -r 2 "$TINY" -o deep.scvm
    scvae-model grow -r 2 -c 16 "$TINY" -o both.scvm
    run -0 scvae-model info --json both.scvm
    assert_equal "$(jq -c '[.config.channels, .config.num_res_blocks]' <<<"$output")" '[16,2]'
    assert_equal "$(jq -c .meta.grown_layers <<<"$output")" "$(scvae-model info --json deep.scvm | jq -c .meta.grown_layers)"
    same_function "$TINY" both.scvm "$IMAGES/photo1.jpg"
    run -0 --separate-stderr scvae-train -q -o run --init wide.scvm --size 16 -b 2 -t 1 --data-threads 1 --steps 2 \
        "$IMAGES/photo1.jpg" "$IMAGES/photo2.png" "$IMAGES/photo3.jpg"
    assert_equal "$(scvae-model info --json run/last.scvm | jq .config.channels)" 16
}

@test "grow --channels keeps the trained default model's function, attention included, and a doubled group count" {
    # The bundled model's trained attention is sharp: without the 1/sqrt(2) on q its reconstructions differ at 51 dB.
    scvae-model grow --channels 64 "$SCVAE_SOURCE_DIR/models/default.scvm" -o wide.scvm
    run -0 scvae-model info --json wide.scvm
    assert_equal "$(jq -c '[.config.channels, .config.groups, .parameters]' <<<"$output")" '[64,16,13485635]'
    same_function "$SCVAE_SOURCE_DIR/models/default.scvm" wide.scvm "$IMAGES/photo2.png"
    # 8 channels in 16 wanted groups is 8 groups of one; at 16 channels 16 groups of one: each old group's channel
    # is in two new groups, once each, and the statistics stay too
    scvae-model info --json "$TINY" | jq '.config | .groups = 16' > g16.json
    scvae-model init --config g16.json --seed 3 -o g16.scvm
    scvae-model grow --channels 16 g16.scvm -o g16w.scvm
    same_function g16.scvm g16w.scvm "$IMAGES/photo1.jpg"
}

@test "grow --channels refuses anything but twice the width, and a model whose GroupNorm groups would change" {
    run -1 --separate-stderr scvae-model grow --channels 12 "$TINY" -o x.scvm
    assert_equal "$stderr" "scvae-model: $TINY: widening doubles the channels: --channels must be 16 (the model has 8)"
    run -1 --separate-stderr scvae-model grow --channels 8 "$TINY" -o x.scvm
    assert_equal "$stderr" "scvae-model: $TINY: widening doubles the channels: --channels must be 16 (the model has 8)"
    # 12 channels in 8 wanted groups is 6 groups of two; at 24 channels it would be 8 groups of three
    scvae-model info --json "$TINY" | jq '.config | .channels = 12 | .groups = 8' > g8.json
    scvae-model init --config g8.json -o g8.scvm
    run -1 --separate-stderr scvae-model grow --channels 24 g8.scvm -o x.scvm
    assert_equal "$stderr" "scvae-model: g8.scvm: cannot widen: the 12-channel layers have 6 GroupNorm groups but would have 8 at 24 channels (config groups 8; the count must stay or double)"
    run -2 --separate-stderr scvae-model grow --channels 0 "$TINY" -o x.scvm
    [[ $stderr == *"--channels"* ]]
    run -2 --separate-stderr scvae-model grow --channels many "$TINY" -o x.scvm
    [[ $stderr == *"--channels"* ]]
    assert_no_file x.scvm
}

@test "--help shows each command's options and exits 0" {
    run -0 scvae-model --help
    assert_output --partial "scvae-model init"
    run -0 scvae-model init --help
    assert_output --partial "--preset"
    assert_output --partial "--half"
    run -0 scvae-model info --help
    assert_output --partial "--json"
    run -0 scvae-model grow --help
    assert_output --partial "--res-blocks"
    assert_output --partial "--channels"
}

@test "a file that is not a model is refused" {
    printf 'hello world, this is not a model file at all' > foreign.scvm
    run -1 scvae-model info foreign.scvm
    assert_output "scvae-model: foreign.scvm: not a scvae model file"
    run -1 scvae-model info "$IMAGES/photo1.jpg"
    assert_output --partial "not a scvae model file"
}

@test "a truncated model file is refused" {
    head -c 2000 "$TINY" > cut.scvm
    run -1 scvae-model info cut.scvm
    # (cut inside the JSON header: expected is where the header and the CRC would end, 16 + its length + 4)
    jlen=$(od -An -tu4 -j12 -N4 "$TINY" | tr -d ' ')
    assert_output "scvae-model: cut.scvm: truncated model file (expected $((16 + jlen + 4)) bytes, got 2000)"
    head -c 10 "$TINY" > cut2.scvm
    run -1 scvae-model info cut2.scvm
    assert_output "scvae-model: cut2.scvm: truncated model file (expected 12 bytes, got 10)"
}

@test "a flipped byte in the weights is a checksum mismatch" {
    cp "$TINY" bad.scvm
    size=$(stat -c %s bad.scvm)
    printf '\x55' | dd of=bad.scvm bs=1 seek=$((size - 100)) conv=notrunc status=none
    run -1 scvae-model info bad.scvm
    assert_output "scvae-model: bad.scvm: model file checksum mismatch"
}

@test "an unknown format version is refused" {
    cp "$TINY" v9.scvm
    printf '\x09' | dd of=v9.scvm bs=1 seek=8 conv=notrunc status=none
    run -1 scvae-model info v9.scvm
    assert_output "scvae-model: v9.scvm: unsupported model file version 9"
}

@test "a missing file is a data error" {
    run -1 scvae-model info nonexistent.scvm
    assert_output --partial "nonexistent.scvm"
}

@test "binary model output to a terminal is refused, with a hint that fits a model" {
    command -v script >/dev/null || skip "script(1) not installed"
    run script -qec "scvae-model init --preset tiny -o -" /dev/null
    assert_output --partial "refusing to write a binary model file to a terminal; use -o FILE or a pipe"
    refute_output --partial "--json"
}

@test "info with no file describes the model the tools would use" {
    run -0 --separate-stderr scvae-model info --json
    assert_equal "$(jq -r .file <<<"$output")" "$SCVAE_MODEL"
    assert_equal "$(jq -r .fingerprint <<<"$output")" "$(scvae-model info --json "$TINY" | jq -r .fingerprint)"
    # without SCVAE_MODEL: the bundled default model
    run -0 --separate-stderr env -u SCVAE_MODEL scvae-model info --json
    assert_equal "$(jq -r .config.preset <<<"$output")" "cpu-f8"
    assert_equal "$(basename "$(jq -r .file <<<"$output")")" "default.scvm"
}

@test "init -o - writes the model to stdout" {
    run -0 bash -c "scvae-model init --preset tiny --seed 1 --half -o - > piped.scvm"
    cmp piped.scvm "$TINY"
}

@test "grow adds residual blocks that start as the identity: the same codes and reconstructions" {
    run -0 --separate-stderr scvae-model grow --res-blocks 3 "$TINY" -o deep.scvm
    [[ -z $output && -z $stderr ]]
    run -0 scvae-model info --json deep.scvm
    assert_equal "$(jq -c '[.config.num_res_blocks, .config.preset, .meta.created_by, .meta.grown_from_res_blocks]' <<<"$output")" \
        '[3,"","scvae-model grow",1]'
    tiny=$(scvae-model info --json "$TINY")
    assert_equal "$(jq -r .meta.grown_from <<<"$output")" "$(jq -r .fingerprint <<<"$tiny")"
    # the added blocks by parameter name (tiny: 3 levels; the encoder body is conv_in, then per level the old block,
    # two new ones and a downsampling)
    assert_equal "$(jq -c .meta.grown_layers <<<"$output")" \
        '["encoder.body.2","encoder.body.3","encoder.body.6","encoder.body.7","encoder.body.10","encoder.body.11","decoder.body.6","decoder.body.7","decoder.body.11","decoder.body.12","decoder.body.16","decoder.body.17"]'

    # the other fields of the config are the tiny model's; the parameters grow by two blocks per encoder level
    # and decoder level
    assert_equal "$(jq -c '.config | del(.num_res_blocks, .preset)' <<<"$output")" \
        "$(jq -c '.config | del(.num_res_blocks, .preset)' <<<"$tiny")"
    (( $(jq .parameters <<<"$output") > $(jq .parameters <<<"$tiny") ))
    [[ $(jq -r .fingerprint <<<"$output") != "$(jq -r .fingerprint <<<"$tiny")" ]]
    # both models encode a photo to the same codes and decode them to the same image
    same_function "$TINY" deep.scvm "$IMAGES/photo1.jpg"
    assert_equal "$(scvae-metrics --codes b.scv | jq -c '.codes.atoms_used')" "$(scvae-metrics --codes a.scv | jq -c '.codes.atoms_used')"
}

@test "grow is repeatable: the same seed gives the same file, another seed other added weights" {
    scvae-model grow -r 2 -s 7 "$TINY" -o a.scvm
    scvae-model grow -r 2 -s 7 "$TINY" -o b.scvm
    scvae-model grow -r 2 -s 8 "$TINY" -o c.scvm
    cmp a.scvm b.scvm
    ! cmp -s a.scvm c.scvm
    # with no MODEL it grows the model the tools would use ($SCVAE_MODEL, the tiny model here)
    scvae-model grow -r 2 -s 7 -o d.scvm
    assert_equal "$(scvae-model info --json d.scvm | jq -r .fingerprint)" "$(scvae-model info --json a.scvm | jq -r .fingerprint)"
    # a grown model trains on (scvae-train --init keeps its architecture)
    run -0 --separate-stderr scvae-train -q -o run --init a.scvm --size 16 -b 2 -t 1 --data-threads 1 --steps 2 \
        "$IMAGES/photo1.jpg" "$IMAGES/photo2.png" "$IMAGES/photo3.jpg"
    assert_equal "$(scvae-model info --json run/last.scvm | jq .config.num_res_blocks)" 2
}

@test "grow refuses a depth the model already has, and writes nothing" {
    run -1 --separate-stderr scvae-model grow --res-blocks 1 "$TINY" -o x.scvm
    assert_equal "$stderr" "scvae-model: $TINY: the model has 1 residual block per level; growing needs more (got 1)"
    assert_no_file x.scvm
    scvae-model grow -r 2 "$TINY" -o two.scvm
    run -1 --separate-stderr scvae-model grow -r 2 two.scvm -o x.scvm
    assert_equal "$stderr" "scvae-model: two.scvm: the model has 2 residual blocks per level; growing needs more (got 2)"
    run -2 --separate-stderr scvae-model grow "$TINY" -o x.scvm
    [[ $stderr == "scvae-model: grow: --res-blocks N or --channels N is required"* ]]
    run -2 --separate-stderr scvae-model grow -r 2 "$TINY"
    [[ $stderr == "scvae-model: grow: -o FILE is required"* ]]
    run -2 --separate-stderr scvae-model grow -r 17 "$TINY" -o x.scvm
    [[ $stderr == *"--res-blocks"* ]]
    assert_no_file x.scvm
    # never over the model it reads
    cp two.scvm keep.scvm
    run -1 --separate-stderr scvae-model grow -r 3 two.scvm -o two.scvm
    [[ $stderr == *"refusing to overwrite an input"* ]]
    cmp two.scvm keep.scvm
}
