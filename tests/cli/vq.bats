#!/usr/bin/env bats
# The VQ-VAE latent in the same network (--latent vq): a VQ model is made and trained by the same tools, its
# codes travel in the same stream format (one non-zero of value 1 per position), and decode, edit, cluster,
# segment and metrics work on them unchanged. Also scvae-encode --solver (ISTA/FISTA at inference).

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
    export VQDIR=$BATS_FILE_TMPDIR
    mkdir -p "$VQDIR/imgs"
    cp "$IMAGES"/{photo1.jpg,photo2.png,photo3.jpg,photo64.png,gradient.png,baseline.jpg} "$VQDIR/imgs"/
    # a VQ model with EMA codebook updates, trained a few steps (validation on two images)
    scvae-train -q --preset tiny --latent vq --vq-ema 0.9 --size 32 -b 2 -t 1 --data-threads 1 --seed 3 \
        --steps 6 --val-every 3 --val-fraction 0 --val "$VQDIR/imgs/photo64.png" -o "$VQDIR/run" "$VQDIR/imgs" \
        2> "$VQDIR/train.log" || { cat "$VQDIR/train.log" >&2; return 1; }
    export VQ=$VQDIR/run/best.scvm
}

@test "scvae-model init --latent vq writes a VQ model; info names the latent" {
    run -0 scvae-model init --preset tiny --latent vq -o vq.scvm --seed 2
    run -0 scvae-model info vq.scvm
    assert_line "latent: vq"
    assert_line "beta: 0.25"
    assert_line "ema_decay: 0"
    refute_line --partial "solver:"
    run -0 bash -c "scvae-model info --json vq.scvm | jq -c '.config | {latent, beta, ema_decay}'"
    assert_output '{"latent":"vq","beta":0.25,"ema_decay":0}'
    # an SC model's config has no latent field: files from before the VQ latent keep their fingerprints
    run -0 bash -c "scvae-model info --json '$TINY' | jq -c '.config | has(\"latent\")'"
    assert_output false
    run -0 scvae-model info "$TINY"
    assert_line "latent: sc"
    # the same seed gives the same file; EMA makes the codebook a buffer (fewer trained parameters)
    run -0 scvae-model init --preset tiny --latent vq -o again.scvm --seed 2
    cmp vq.scvm again.scvm
    run -0 scvae-model init --preset tiny --latent vq --vq-ema 0.99 -o ema.scvm --seed 2
    p1=$(scvae-model info --json vq.scvm | jq .parameters)
    p2=$(scvae-model info --json ema.scvm | jq .parameters)
    [ $((p1 - p2)) -eq $((32 * 16)) ]
}

@test "bad --latent and --vq-ema are usage errors that write nothing" {
    run -2 --separate-stderr scvae-model init --preset tiny --latent vae -o x.scvm
    assert_equal "${stderr_lines[0]}" "scvae-model: --latent: expected sc or vq, got 'vae'"
    assert_no_file x.scvm
    run -2 --separate-stderr scvae-model init --preset tiny --vq-ema 0.9 -o x.scvm
    assert_equal "${stderr_lines[0]}" "scvae-model: init: --vq-ema applies to VQ models only (add --latent vq)"
    assert_no_file x.scvm
    run -2 --separate-stderr scvae-model init --preset tiny --latent vq --vq-ema 1 -o x.scvm
    assert_equal "${stderr_lines[0]}" "scvae-model: --vq-ema: expected a decay in [0, 1) (0: no EMA)"
    run -2 --separate-stderr scvae-train --preset tiny --vq-beta 0.5 --steps 1 -o run "$VQDIR/imgs"
    assert_equal "${stderr_lines[0]}" "scvae-train: --vq-beta and --vq-ema apply to VQ models only (add --latent vq)"
    assert_no_file run/state.pt
    run -2 --separate-stderr scvae-train --preset tiny --latent xx --steps 1 -o run "$VQDIR/imgs"
    assert_equal "${stderr_lines[0]}" "scvae-train: --latent: expected sc or vq, got 'xx'"
}

@test "training a VQ model logs codebook usage and perplexity; the model records its latent" {
    run -0 jq -s -c 'map(select(.type == "val")) | last | {latent: .latent_type, used: (.atoms_used > 0), ppl: (.perplexity >= 1 and .perplexity <= 32), nnz: .nnz_per_vector}' "$VQDIR/run/log.jsonl"
    assert_output '{"latent":"vq","used":true,"ppl":true,"nnz":1}'
    run -0 bash -c "scvae-model info --json '$VQ' | jq -c '[.config.latent, .config.ema_decay, (.meta.validation.perplexity > 0)]'"
    assert_output '["vq",0.8999999761581421,true]'
    # resuming may not change the latent
    run -2 --separate-stderr scvae-train --resume "$VQDIR/run" --latent sc --steps 8
    assert_regex "$stderr" "--latent cannot change in a resumed run"
}

@test "VQ codes are one non-zero of value 1 per grid position, in the usual stream" {
    scvae-encode -m "$VQ" -o c.scv "$VQDIR/imgs/photo64.png" "$VQDIR/imgs/gradient.png"
    run -0 bash -c "scvae-encode -m '$VQ' --json '$VQDIR/imgs/photo64.png' | jq -c '[.nnz == (.grid.h * .grid.w), (.values | unique), ([.row_ptr as \$r | range(1; \$r | length) | \$r[.] - \$r[. - 1]] | unique)]'"
    assert_output '[true,[1],[1]]'
    run -0 bash -c "scvae-metrics --codes c.scv | jq -c '.codes | [.nnz_per_vector, .hoyer.mean, (.perplexity >= 1)]'"
    assert_output '[1,1,true]'
    run -0 scvae-metrics --summary --codes c.scv
    assert_output --regexp '^records=2  sparsity 100\.0%  nnz/vector 1\.00  atoms [0-9]+/32 \(entropy [0-9.]+ bits, perplexity [0-9.]+, [0-9]+ dead\)  bpp [0-9.]+$'
}

@test "decode, edit, cluster, segment and metrics work on VQ codes unchanged" {
    scvae-encode -m "$VQ" -o c.scv "$VQDIR/imgs/photo64.png" "$VQDIR/imgs/photo1.jpg"
    run -0 scvae-decode -m "$VQ" -o 'out-{stem}.png' c.scv
    [ "$(png_size out-photo64.png)" = "64 64" ]
    [ "$(png_size out-photo1.png)" = "$(scvae-encode -m "$VQ" --json "$VQDIR/imgs/photo1.jpg" | jq -r '"\(.image.width) \(.image.height)"')" ]
    # an interpolation between two entries is a mix of two codebook rows: it decodes too
    scvae-encode -m "$VQ" -o same.scv "$IMAGES/photo64.png" "$IMAGES/rgba.png"
    run -0 bash -c "scvae-edit --interpolate 0 1 --steps 3 same.scv | scvae-decode -m '$VQ' -o 'i-{index}.png' -"
    [ -s i-0.png ] && [ -s i-2.png ]
    run -0 bash -c "scvae-edit --set 3=1 c.scv | scvae-decode -m '$VQ' -o 'e-{index}.png' -"
    [ -s e-0.png ]
    run -0 bash -c "scvae-cluster -k 3 --seed 1 same.scv | jq -s 'length > 0'"
    assert_output true
    run -0 scvae-segment --method kmeans -k 2 --mask 'm-{stem}.png' c.scv
    [ "$(png_size m-photo64.png)" = "64 64" ]
    run -0 scvae-segment --method spectral -k 2 --mask 's-{stem}.png' c.scv
    [ -s s-photo64.png ]
    run -0 scvae-segment -m "$VQ" --method kmeans -k 2 --mask 'p-{stem}.png' "$IMAGES/photo64.png"
    [ "$(png_size p-photo64.png)" = "64 64" ]
    run -0 bash -c "scvae-metrics -m '$VQ' '$VQDIR/imgs/photo64.png' --codes <(scvae-encode -m '$VQ' '$VQDIR/imgs/photo64.png') | jq '.aggregate.psnr.mean > 5'"
    assert_output true
    # codes of the VQ model are refused by an SC model (another fingerprint), as any other model's codes
    run -1 --separate-stderr scvae-decode -m "$TINY" -o x.png c.scv
    assert_regex "$stderr" "is model [0-9a-f]{16}.*--force"
    assert_no_file x.png
}

@test "scvae-encode --solver fista infers codes over the dictionary; a VQ model has no solver" {
    run -0 scvae-encode -m "$TINY" --json "$IMAGES/photo64.png"
    lista=$output
    run -0 scvae-encode -m "$TINY" --json --solver fista --solver-steps 300 "$IMAGES/photo64.png"
    fista=$output
    # other codes, same model: they decode with it
    [ "$(jq -c .values <<< "$lista")" != "$(jq -c .values <<< "$fista")" ]
    [ "$(jq -r .fingerprint <<< "$fista")" = "$(jq -r .fingerprint <<< "$lista")" ]
    scvae-decode -m "$TINY" -o f.png - <<< "$fista"
    [ "$(png_size f.png)" = "64 64" ]
    # ISTA and FISTA converge to the same minimum of Eq. (1): their codes agree closely after many iterations
    run -0 bash -c "paste <(scvae-encode -m '$TINY' --json --solver ista --solver-steps 3000 '$IMAGES/photo64.png' | scvae-metrics --codes - | jq .codes.nnz_per_vector) <(scvae-encode -m '$TINY' --json --solver fista --solver-steps 3000 '$IMAGES/photo64.png' | scvae-metrics --codes - | jq .codes.nnz_per_vector) | awk '{ d = \$1 - \$2; if (d < 0) d = -d; print (d <= 0.05 * \$2 + 0.01) }'"
    assert_output 1
    run -1 --separate-stderr scvae-encode -m "$VQ" --solver ista -o x.scv "$IMAGES/photo64.png"
    assert_equal "$stderr" "scvae-encode: a VQ model has no sparse solver (--solver applies to SC models)"
    assert_no_file x.scv
    run -2 --separate-stderr scvae-encode -m "$TINY" --solver omp -o x.scv "$IMAGES/photo64.png"
    assert_equal "${stderr_lines[0]}" "scvae-encode: --solver: expected lista, ista or fista, got 'omp'"
    assert_no_file x.scv
}

@test "--help, man pages and completions cover the new options" {
    for pair in scvae-train:--latent scvae-train:--vq-beta scvae-train:--vq-ema scvae-model:--latent \
                scvae-model:--vq-ema scvae-encode:--solver scvae-encode:--solver-steps; do
        tool=${pair%%:*} o=${pair#*:}
        if [ "$tool" = scvae-model ]; then help=$(scvae-model init --help); else help=$($tool --help); fi
        grep -q -- "$o" <<< "$help" || fail "$tool --help lacks $o"
        grep -q -- "${o//-/\\\\-}" "$SCVAE_SOURCE_DIR/man/$tool.1" || fail "$tool.1 lacks $o"
        grep -q -- "'$o\[" "$SCVAE_SOURCE_DIR/completions/_$tool" || fail "_$tool lacks $o"
        grep -q -- " $o" "$SCVAE_SOURCE_DIR/completions/scvae.bash" || fail "scvae.bash lacks $o"
    done
    grep -q '"vq.codebook"' "$SCVAE_SOURCE_DIR/man/scvae-model.5"
    grep -q 'one-hot' "$SCVAE_SOURCE_DIR/man/scvae-codes.5"
}
