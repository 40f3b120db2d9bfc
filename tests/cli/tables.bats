#!/usr/bin/env bats
# examples/tables.mk: `make table1` and `make table3` train, evaluate and tabulate (here on the tiny preset,
# two steps per run, a six-photo corpus), with the same recipe a user runs at SCALE=1 on the real corpus.

bats_require_minimum_version 1.5.0
load helpers

setup_file() {
    export TC=$BATS_FILE_TMPDIR/corpus
    mkdir -p "$TC/train" "$TC/val"
    cp "$IMAGES"/{photo2.png,rgba.png,gradient.png,palette.png} "$TC/train"/
    cp "$IMAGES"/{photo64.png,interlaced.png} "$TC/val"/
    # scripts/eval-model.sh builds its resampling helper once, here rather than in the source tree
    export SCVAE_CORPUS_TOOL=$BATS_FILE_TMPDIR/corpus-tool
    export TABLE_ARGS="SCALE=1 TABLE_BASE_STEPS=2 TABLE_PRESET=tiny TABLE_SIZE=32 TABLE_CORPUS=$TC TABLE_PICS=2"
}

@test "make table1: SC, VQ and VQ-EMA trained alike; one JSON document, a Markdown table and a picture" {
    # shellcheck disable=SC2086
    run -0 make -C "$SCVAE_SOURCE_DIR/examples" table1 OUT="$PWD/out" SCVAE_BIN="$SCVAE_BIN" $TABLE_ARGS
    run -0 jq -c '[.runs[] | [.run, .latent, .steps, (.psnr > 0), (.atoms_used >= 1), (.perplexity >= 1)]]' out/table1/table1.json
    assert_output '[["sc","sc",2,true,true,true],["vq","vq",2,true,true,true],["vq-ema","vq",2,true,true,true]]'
    # VQ codes: exactly one non-zero per vector and Hoyer sparsity 1
    run -0 jq -c '[.runs[] | select(.latent == "vq") | [.nnz_per_vector, .hoyer]] | unique' out/table1/table1.json
    assert_output '[[1,1]]'
    # the runs were trained with identical options but the latent
    for r in vq vq-ema; do
        diff <(jq -S 'del(.config_overrides, .run_dir, .command_line)' out/table1/sc/options.json) \
             <(jq -S 'del(.config_overrides, .run_dir, .command_line)' out/table1/$r/options.json) \
            | grep -v '"alpha"\|^---\|^[0-9]' && fail "$r was trained with other options"
    done
    run -0 grep -c '^| ' out/table1/table1.md
    assert_output 4   # header and three runs
    # the picture: two 256x256 originals side by side over three rows of reconstructions (with captions)
    read -r w h < <(png_size out/table1/table1.png)
    (( w == 2 * 256 && h > 4 * 256 )) || fail "table1.png is ${w}x${h}"
}

@test "make table3: LISTA steps s, and ISTA/FISTA at inference on the largest s" {
    # shellcheck disable=SC2086
    run -0 make -C "$SCVAE_SOURCE_DIR/examples" table3 OUT="$PWD/out" SCVAE_BIN="$SCVAE_BIN" $TABLE_ARGS \
        TABLE3_STEPS='1 4' TABLE3_ITERS=50
    run -0 jq -c '[.runs[] | [.run, .lista_steps, .solver, (.psnr > 0), (.hoyer > 0 and .hoyer <= 1)]]' out/table3/table3.json
    assert_output '[["s1",1,null,true,true],["s4",4,null,true,true],["ista-inference",4,"ista x 50 at inference",true,true],["fista-inference",4,"fista x 50 at inference",true,true]]'
    run -0 jq -r '.config.steps' <(scvae-model info --json out/table3/s1/best.scvm)
    assert_output 1
    [ -s out/table3/table3.png ]
    run -0 grep -c '^| ' out/table3/table3.md
    assert_output 5
    # the runs are kept: a second make trains nothing
    run -0 make -C "$SCVAE_SOURCE_DIR/examples" table3 OUT="$PWD/out" SCVAE_BIN="$SCVAE_BIN" $TABLE_ARGS \
        TABLE3_STEPS='1 4' TABLE3_ITERS=50
    refute_output --partial scvae-train
}
