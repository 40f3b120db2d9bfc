#!/usr/bin/env bats
# scvae-train: options, run directory, resume, signals, bad data, distributed (tiny preset, small images).

bats_require_minimum_version 1.5.0
load helpers

setup() {
    IMGS=$BATS_TEST_TMPDIR/imgs
    mkdir -p "$IMGS"
    cp "$IMAGES"/{photo1.jpg,photo2.png,photo3.jpg,photo64.png,gradient.png,baseline.jpg} "$IMGS"/
    # a fast, repeatable configuration
    FAST=(--preset tiny --size 16 -b 2 -t 1 --data-threads 1 --seed 5)
}

teardown() {
    # a background training a failed test left running (with its ranks)
    if [[ -n ${pid:-} ]]; then
        for c in $(children "$pid"); do kill -9 "$c" 2> /dev/null; done
        kill -9 "$pid" 2> /dev/null
    fi
    return 0
}

# children PID: the processes whose parent is PID (from /proc, no procps needed)
children() {
    local f pid comm state ppid
    for f in /proc/[0-9]*/stat; do
        read -r pid comm state ppid _ < "$f" 2>/dev/null || continue
        [ "$ppid" = "$1" ] && echo "$pid"
    done
    return 0
}

# wait_for_training RUN_DIR: until the run has logged a training step (at most 30 s)
wait_for_training() {
    for _ in $(seq 1 300); do
        grep -q '"type":"train"' "$1/log.jsonl" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# fingerprint LOGFILE RANK: the fingerprint a --rank-model run printed for that rank
fingerprint() {
    sed -n "s/.*rank $2: weights .* (fingerprint \([0-9a-f]*\)).*/\1/p" "$1"
}

@test "--help lists the options; man page and completions cover every long option" {
    run -0 scvae-train --help
    assert_output --partial "--resume"
    assert_output --partial "--val-fraction"
    opts=$(scvae-train --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
    [ -n "$opts" ]
    for o in $opts; do
        grep -q -- "${o//-/\\\\-}" "$SCVAE_SOURCE_DIR/man/scvae-train.1" || fail "man page lacks $o"
        grep -q -- "$o" "$SCVAE_SOURCE_DIR/completions/_scvae-train" || fail "zsh completion lacks $o"
        sed -n '/^_scvae_train()/,/^complete -F _scvae_train/p' "$SCVAE_SOURCE_DIR/completions/scvae.bash" \
            | grep -q -- "$o" || fail "bash completion lacks $o"
    done
}

@test "usage errors exit 2" {
    run -2 --separate-stderr scvae-train -o "$BATS_TEST_TMPDIR/r"
    [[ $stderr == "scvae-train: no training images (give folders or files, or --files-from)"* ]]
    run -2 scvae-train -o "$BATS_TEST_TMPDIR/r" --lr 0 "$IMGS"
    assert_output --partial "--lr"
    run -2 --separate-stderr scvae-train -o "$BATS_TEST_TMPDIR/r" --init-alpha -1 "$IMGS"
    [[ $stderr == "scvae-train: --init-alpha: expected a number >= 0"* ]]
    run -2 scvae-train -o "$BATS_TEST_TMPDIR/r" --preset nope "$IMGS"
    assert_output --partial "unknown preset 'nope'"
    run -2 scvae-train -o "$BATS_TEST_TMPDIR/r" --preset tiny --size 30 "$IMGS"
    assert_output --partial "not a multiple of 2^d = 4"
    run -2 scvae-train "$IMGS"
    assert_output --partial "no run directory"
    [ ! -e "$BATS_TEST_TMPDIR/r" ]
}

@test "a run writes models, log, pictures, command and config" {
    run -0 --separate-stderr scvae-train "${FAST[@]}" --steps 6 --val-every 3 --log-every 2 -o "$BATS_TEST_TMPDIR/run" "$IMGS"
    assert_equal "$output" ""   # stdout carries no messages
    for f in best.scvm last.scvm log.jsonl loss.png val.png command.txt config.json options.json state.pt; do
        [ -s "$BATS_TEST_TMPDIR/run/$f" ] || fail "missing $f"
    done
    grep -q -- '--steps 6' "$BATS_TEST_TMPDIR/run/command.txt"
    grep -q '"K": 32' "$BATS_TEST_TMPDIR/run/config.json"
    # three train lines (steps 2, 4, 6) with every field, two validations
    [ "$(grep -c '"type":"train"' "$BATS_TEST_TMPDIR/run/log.jsonl")" -eq 3 ]
    [ "$(grep -c '"type":"val"' "$BATS_TEST_TMPDIR/run/log.jsonl")" -eq 2 ]
    line=$(grep '"type":"train"' "$BATS_TEST_TMPDIR/run/log.jsonl" | tail -1)
    for k in step epoch total rec latent psnr hoyer zeros alpha lr images_per_s data_wait skipped; do
        [[ $line == *"\"$k\":"* ]] || fail "train line lacks $k: $line"
    done
    [[ $line == *'"step":6'* ]]
    grep '"type":"val"' "$BATS_TEST_TMPDIR/run/log.jsonl" | tail -1 | grep -q '"ssim":'
    # the pictures are RGB PNGs: loss.png 960x720 (loss and PSNR panels); val.png's 16-pixel tiles enlarged to
    # 128 pixels, two rows, under a caption
    run -0 png_info "$BATS_TEST_TMPDIR/run/loss.png"
    assert_output "960 720 8 2 0"
    read -r w h depth ctype _ < <(png_info "$BATS_TEST_TMPDIR/run/val.png")
    (( ctype == 2 && w >= 128 && h > 2 * 128 + 40 ))
    # plain progress lines off a terminal
    [[ $stderr == *"step 6/6"* ]]
    [[ $stderr == *"done: 6 steps"* ]]
    # the run directory is not overwritten
    run -1 scvae-train "${FAST[@]}" --steps 2 -o "$BATS_TEST_TMPDIR/run" "$IMGS"
    assert_output --partial "already holds a run"
}

@test "-q is silent; --val folder and --files-from are used" {
    mkdir -p "$BATS_TEST_TMPDIR/val"
    mv "$IMGS/photo3.jpg" "$BATS_TEST_TMPDIR/val/"
    ls "$IMGS"/*.png > "$BATS_TEST_TMPDIR/list"
    run -0 --separate-stderr scvae-train "${FAST[@]}" -q --steps 2 --val "$BATS_TEST_TMPDIR/val" \
        --files-from "$BATS_TEST_TMPDIR/list" -o "$BATS_TEST_TMPDIR/run"
    assert_equal "$stderr" ""
    grep -q '"train_images":3,.*"val_images":1' "$BATS_TEST_TMPDIR/run/log.jsonl"
}

@test "bad images are reported once and skipped; empty and too-small data are errors" {
    cp "$IMAGES/notimage.png" "$IMAGES/truncated.jpg" "$IMGS"/
    run -0 --separate-stderr scvae-train "${FAST[@]}" --steps 3 --val-fraction 0 -o "$BATS_TEST_TMPDIR/run" "$IMGS"
    [ "$(grep -c 'notimage.png' <<<"$stderr")" -eq 1 ]
    [ "$(grep -c 'truncated.jpg' <<<"$stderr")" -eq 1 ]
    grep -q '"skipped":2' "$BATS_TEST_TMPDIR/run/log.jsonl"

    mkdir -p "$BATS_TEST_TMPDIR/empty"
    run -1 scvae-train "${FAST[@]}" --steps 3 -o "$BATS_TEST_TMPDIR/r2" "$BATS_TEST_TMPDIR/empty"
    assert_output --partial "no training images"
    run -1 scvae-train "${FAST[@]}" --steps 3 -o "$BATS_TEST_TMPDIR/r3" "$BATS_TEST_TMPDIR/nowhere"
    assert_output --partial "nowhere: no such file or folder"
    # gray4.png is 16x16; paper-f64 needs at least 64x64 - refused before any training
    run -1 scvae-train --preset paper-f64 --size 64 -o "$BATS_TEST_TMPDIR/r4" "$IMAGES/gray4.png"
    assert_output --partial "gray4.png: image too small (16x16; this model needs at least 64x64)"
    [ ! -e "$BATS_TEST_TMPDIR/r4/state.pt" ]
}

@test "resume: N steps in one go equal N/2, resume, N/2" {
    run -0 scvae-train "${FAST[@]}" --steps 6 --val-every 3 --rank-model "$BATS_TEST_TMPDIR/a.scvm" -o "$BATS_TEST_TMPDIR/a" "$IMGS"
    echo "$output" > "$BATS_TEST_TMPDIR/a.log"
    run -0 scvae-train "${FAST[@]}" --steps 3 --val-every 3 -o "$BATS_TEST_TMPDIR/b" "$IMGS"
    run -0 scvae-train --resume "$BATS_TEST_TMPDIR/b" --steps 6 -t 1 --data-threads 1 --rank-model "$BATS_TEST_TMPDIR/b.scvm"
    assert_output --partial "resuming at step 3"
    echo "$output" > "$BATS_TEST_TMPDIR/b.log"
    fa=$(fingerprint "$BATS_TEST_TMPDIR/a.log" 0)
    fb=$(fingerprint "$BATS_TEST_TMPDIR/b.log" 0)
    [ -n "$fa" ]
    assert_equal "$fb" "$fa"
    grep -q '"event":"resume"' "$BATS_TEST_TMPDIR/b/log.jsonl"
    run -1 scvae-train --resume "$BATS_TEST_TMPDIR/imgs"
    assert_output --partial "not a run directory"
}

@test "SIGTERM and SIGINT write a checkpoint and exit; the run resumes" {
    for sig in TERM INT; do
        d=$BATS_TEST_TMPDIR/run-$sig
        scvae-train "${FAST[@]}" --steps 100000 --log-every 1 -o "$d" "$IMGS" 2> "$d.err" 3>&- &
        pid=$!
        wait_for_training "$d"
        kill -$sig $pid
        rc=0
        wait $pid || rc=$?
        if [ $sig = TERM ]; then [ $rc -eq 143 ]; else [ $rc -eq 130 ]; fi
        grep -q "stopped by SIG$sig" "$d.err"
        grep -q '"event":"stop"' "$d/log.jsonl"
        [ -s "$d/state.pt" ] && [ -s "$d/last.scvm" ]
        assert_no_file "$d/state.pt.tmp.$pid"
        step=$(grep '"event":"stop"' "$d/log.jsonl" | sed 's/.*"step":\([0-9]*\).*/\1/')
        run -0 scvae-train --resume "$d" --steps $((step + 2)) -t 1
        assert_output --partial "resuming at step $step"
        assert_output --partial "done: $((step + 2)) steps"
    done
}

@test "distributed: two processes on loopback keep identical replicas" {
    port=$((29600 + RANDOM % 2000))
    for r in 0 1; do
        WORLD_SIZE=2 RANK=$r LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
            scvae-train "${FAST[@]}" --steps 3 --val-fraction 0 --dist-timeout 60 \
            --rank-model "$BATS_TEST_TMPDIR/w{rank}.scvm" -o "$BATS_TEST_TMPDIR/ddp" "$IMGS" \
            > "$BATS_TEST_TMPDIR/rank$r.log" 2>&1 &
    done
    wait %1
    wait %2
    f0=$(fingerprint "$BATS_TEST_TMPDIR/rank0.log" 0)
    f1=$(fingerprint "$BATS_TEST_TMPDIR/rank1.log" 1)
    [ -n "$f0" ]
    assert_equal "$f1" "$f0"
    grep -q '"world_size":2' "$BATS_TEST_TMPDIR/ddp/log.jsonl"
    # only rank 0 talks and writes
    grep -q "2 processes" "$BATS_TEST_TMPDIR/rank0.log"
    ! grep -q "processes" "$BATS_TEST_TMPDIR/rank1.log"
    # a rank that finds nobody at the rendezvous gives up with a clear error
    run -1 scvae-train "${FAST[@]}" --steps 1 --world-size 2 --rank 1 --master-port $((port + 1)) --dist-timeout 2 \
        -o "$BATS_TEST_TMPDIR/lonely" "$IMGS"
    assert_output --partial "rendezvous at 127.0.0.1:$((port + 1)) failed"
}

@test "--procs 2: local ranks share the batch, stay identical, match one process, and resume as two" {
    SMALL=(--preset tiny --size 16 --data-threads 1 --seed 5 --adam-eps 1 --val-fraction 0)
    run -0 scvae-train "${SMALL[@]}" -b 4 --procs 2 --steps 3 --rank-model "$BATS_TEST_TMPDIR/p{rank}.scvm" \
        -o "$BATS_TEST_TMPDIR/two" "$IMGS"
    echo "$output" > "$BATS_TEST_TMPDIR/two.log"
    assert_output --partial "3 steps of 4 images"
    assert_output --partial "2 processes"
    f0=$(fingerprint "$BATS_TEST_TMPDIR/two.log" 0)
    f1=$(fingerprint "$BATS_TEST_TMPDIR/two.log" 1)
    [ -n "$f0" ]
    assert_equal "$f1" "$f0"
    run -0 jq -c '[.world_size, .batch, .procs]' "$BATS_TEST_TMPDIR/two/options.json"
    assert_output "[2,2,2]"
    # the same run in one process on the whole batch: the same model up to float summation order
    run -0 scvae-train "${SMALL[@]}" -b 4 --procs 1 --steps 3 -o "$BATS_TEST_TMPDIR/one" "$IMGS"
    run -0 jq -c '[.world_size, .batch, .procs]' "$BATS_TEST_TMPDIR/one/options.json"
    assert_output "[1,4,1]"
    for r in one two; do
        scvae-encode -m "$BATS_TEST_TMPDIR/$r/last.scvm" "$IMAGES/photo1.jpg" |
            scvae-decode -m "$BATS_TEST_TMPDIR/$r/last.scvm" -o "$BATS_TEST_TMPDIR/$r.png"
    done
    psnr=$(scvae-metrics "$BATS_TEST_TMPDIR/one.png" "$BATS_TEST_TMPDIR/two.png" | jq '.aggregate.psnr.mean')
    awk -v p="$psnr" 'BEGIN { exit !(p >= 50) }' || fail "one process vs two: PSNR $psnr dB"
    # a resume starts as many processes as the run was started with
    run -0 scvae-train --resume "$BATS_TEST_TMPDIR/two" --steps 5
    assert_output --partial "resuming at step 3"
    grep '"event":"resume"' "$BATS_TEST_TMPDIR/two/log.jsonl" | grep -q '"world_size":2'
    run -0 jq -c 'select(.event=="done") | .step' "$BATS_TEST_TMPDIR/two/log.jsonl"
    assert_line "5"
}

@test "--procs: the default uses one process per CPU when the batch divides; bad splits are usage errors" {
    run -0 scvae-train --preset tiny --size 16 --data-threads 1 -b 2 --steps 1 --val-fraction 0 -q \
        -o "$BATS_TEST_TMPDIR/auto" "$IMGS"
    want=$(( $(nproc) >= 2 ? 2 : 1 ))
    run -0 jq '.procs' "$BATS_TEST_TMPDIR/auto/options.json"
    assert_output "$want"
    # --threads alone keeps one process
    run -0 scvae-train --preset tiny --size 16 --data-threads 1 -b 2 -t 1 --steps 1 --val-fraction 0 -q \
        -o "$BATS_TEST_TMPDIR/threads" "$IMGS"
    run -0 jq '.procs' "$BATS_TEST_TMPDIR/threads/options.json"
    assert_output "1"
    run -2 --separate-stderr scvae-train "${FAST[@]}" -b 3 --procs 2 -o "$BATS_TEST_TMPDIR/x" "$IMGS"
    assert_equal "$stderr" "scvae-train: --batch 3 does not split evenly over --procs 2
Try 'scvae-train --help' for more information."
    echo "$IMGS/photo1.jpg" > "$BATS_TEST_TMPDIR/list"
    run -2 --separate-stderr scvae-train "${FAST[@]}" --procs 2 --files-from - -o "$BATS_TEST_TMPDIR/x" < "$BATS_TEST_TMPDIR/list"
    [[ $stderr == "scvae-train: --procs: --files-from - (stdin) can be read by one process only"* ]]
    # an error every rank meets (no readable image) is reported once, not once per rank
    printf 'x' > "$BATS_TEST_TMPDIR/bad.png"
    run -1 --separate-stderr scvae-train --preset tiny --size 16 -b 2 --procs 2 --steps 1 -o "$BATS_TEST_TMPDIR/bad" \
        "$BATS_TEST_TMPDIR/bad.png"
    assert_equal "$stderr" "scvae-train: $BATS_TEST_TMPDIR/bad.png: not a PNG, JPEG or netpbm file (skipped)
scvae-train: training set: no readable images"
    # so is a usage error that only the ranks find (the crop size against the model's 2^d)
    run -2 --separate-stderr scvae-train --preset tiny --size 18 -b 2 --procs 2 --steps 1 -o "$BATS_TEST_TMPDIR/size" \
        "$IMGS"
    assert_equal "$stderr" "scvae-train: --size 18 is not a multiple of 2^d = 4
Try 'scvae-train --help' for more information."
    run -2 scvae-train "${FAST[@]}" --procs 0 -o "$BATS_TEST_TMPDIR/x" "$IMGS"
    assert_output --partial "--procs"
    assert_no_file "$BATS_TEST_TMPDIR/x/options.json"
}

@test "--procs 2: SIGTERM stops both ranks at one step with a checkpoint; a rank killed stops the run" {
    d=$BATS_TEST_TMPDIR/sig
    scvae-train --preset tiny --size 16 --data-threads 1 --seed 5 -b 2 --procs 2 --steps 100000 --log-every 1 \
        -o "$d" "$IMGS" 2> "$d.err" 3>&- &
    pid=$!
    wait_for_training "$d"
    kill -TERM $pid
    rc=0
    wait $pid || rc=$?
    [ $rc -eq 143 ] || fail "exit $rc, expected 143"
    grep -q "stopped by SIGTERM" "$d.err"
    [ -s "$d/state.pt" ]
    step=$(grep '"event":"stop"' "$d/log.jsonl" | sed 's/.*"step":\([0-9]*\).*/\1/')
    run -0 scvae-train --resume "$d" --steps $((step + 2))
    assert_output --partial "done: $((step + 2)) steps"

    # rank 1 dies: the launcher stops rank 0 and exits with rank 1's status, not after the rendezvous timeout
    d2=$BATS_TEST_TMPDIR/dead
    scvae-train --preset tiny --size 16 --data-threads 1 --seed 5 -b 2 --procs 2 --steps 100000 --log-every 1 \
        -o "$d2" "$IMGS" 2> "$d2.err" 3>&- &
    pid=$!
    wait_for_training "$d2"
    ranks=($(children $pid))
    [ ${#ranks[@]} -eq 2 ] || fail "expected 2 ranks, found ${#ranks[@]}"
    start=$SECONDS
    kill -KILL "${ranks[1]}"
    rc=0
    wait $pid || rc=$?
    [ $rc -ne 0 ] || fail "the launcher exited 0 after a rank was killed"
    [ $((SECONDS - start)) -lt 60 ] || fail "the launcher took $((SECONDS - start)) s to stop"
    [ -z "$(children $pid)" ]
}

@test "resume honours the options it can change (even at their defaults) and refuses the rest" {
    d=$BATS_TEST_TMPDIR/res
    run -0 scvae-train "${FAST[@]}" --steps 2 --val-every 2 -q -o "$d" "$IMGS"
    spe=$(jq 'select(.event=="start") | .steps_per_epoch' "$d/log.jsonl")
    # --epochs 10 is the default value, and still a request: 10 epochs in all
    run -0 scvae-train --resume "$d" --epochs 10 --lr 5e-5 -t 1 -q
    run -0 jq -c 'select(.event=="done") | .step' "$d/log.jsonl"
    assert_line "$((10 * spe))"
    run -0 jq -c 'select(.event=="resume") | .changed' "$d/log.jsonl"
    assert_output '{"lr":5e-05,"steps":0}'
    run -0 jq -c 'select(.type=="train") | .lr' "$d/log.jsonl"
    assert_line "5e-05"
    run -0 jq -c '[.lr, .epochs, .steps]' "$d/options.json"
    assert_output "[5e-05,10,0]"
    for bad in "--size 32" "--batch 4" "--seed 9" "--alpha 0.5" "--preset cpu-f8" "-K 64" "--val-fraction 0.5"; do
        run -2 --separate-stderr scvae-train --resume "$d" $bad
        [[ $stderr == "scvae-train: --resume: ${bad%% *} cannot change in a resumed run"* ]] || fail "$bad: $stderr"
    done
    run -2 --separate-stderr scvae-train --resume "$d" "$IMGS"
    [[ $stderr == "scvae-train: --resume: training images cannot change in a resumed run"* ]]
}

@test "validation logs atom usage: atoms used, dead atoms, usage entropy, non-zeros per vector" {
    run -0 scvae-train "${FAST[@]}" --alpha 0.01 --steps 2 --val-every 2 -q -o "$BATS_TEST_TMPDIR/atoms" "$IMGS"
    run -0 jq -c 'select(.type=="val") | [.atoms_used + .dead_atoms, (.atoms_used > 0), (.atom_entropy_bits >= 0),
                   (.atom_entropy_bits <= (.atoms_used | log2) + 1e-9), (.nnz_per_vector >= 0)]' \
        "$BATS_TEST_TMPDIR/atoms/log.jsonl"
    assert_output "[32,true,true,true,true]"
    run -0 jq -c '.meta.validation | has("atoms_used") and has("atom_entropy_bits")' \
        <(head -c 100000 "$BATS_TEST_TMPDIR/atoms/best.scvm" | tail -c +17 | head -c "$(od -An -tu4 -j12 -N4 "$BATS_TEST_TMPDIR/atoms/best.scvm" | tr -d ' ')")
    assert_output "true"
}

@test "resume: a checkpoint with one flipped byte is refused (exit 1); the good one resumes" {
    d=$BATS_TEST_TMPDIR/flip
    run -0 scvae-train "${FAST[@]}" --steps 2 -o "$d" "$IMGS"
    cp "$d/state.pt" "$BATS_TEST_TMPDIR/good.pt"
    size=$(stat -c %s "$d/state.pt")
    # one byte in the middle of the archive (the weights), changed in place
    at=$((size / 2))
    byte=$(od -An -tu1 -j "$at" -N1 "$d/state.pt" | tr -d ' ')
    printf "$(printf '\\%03o' $(((byte + 1) % 256)))" | dd of="$d/state.pt" bs=1 seek="$at" conv=notrunc status=none
    run -1 --separate-stderr scvae-train --resume "$d" --steps 3 -t 1 --data-threads 1
    assert_equal "$stderr" "scvae-train: $d/state.pt: cannot read checkpoint: checksum mismatch: the file is damaged"
    # the refused checkpoint was not replaced; the good one resumes
    cmp -s "$d/state.pt" "$BATS_TEST_TMPDIR/good.pt" && fail "the damaged checkpoint should still be there"
    cp "$BATS_TEST_TMPDIR/good.pt" "$d/state.pt"
    run -0 scvae-train --resume "$d" --steps 3 -t 1 --data-threads 1
    assert_output --partial "resuming at step 2"
    # a checkpoint cut short is refused too
    head -c 1000 "$BATS_TEST_TMPDIR/good.pt" > "$d/state.pt"
    run -1 --separate-stderr scvae-train --resume "$d" --steps 4 -t 1 --data-threads 1
    assert_equal "$stderr" "scvae-train: $d/state.pt: cannot read checkpoint: no checksum trailer: damaged or truncated"
    # a checkpoint from before the trailer (the archive alone) still resumes, with a warning
    head -c $(($(stat -c %s "$BATS_TEST_TMPDIR/good.pt") - 16)) "$BATS_TEST_TMPDIR/good.pt" > "$d/state.pt"
    run -0 --separate-stderr scvae-train --resume "$d" --steps 4 -t 1 --data-threads 1
    [[ $stderr == *"state.pt: a checkpoint without a checksum (written before checkpoints carried one); resuming"* ]]
}

@test "--grown-lr: the layers scvae-model grow added train at a multiple of --lr, kept and changed on resume" {
    d=$BATS_TEST_TMPDIR/grown
    scvae-model grow -r 2 "$TINY" -o "$BATS_TEST_TMPDIR/g.scvm"
    run -0 --separate-stderr scvae-train -q -o "$d" --init "$BATS_TEST_TMPDIR/g.scvm" --grown-lr 10 --lr 1e-3 \
        --size 16 -b 2 -t 1 --data-threads 1 --seed 5 --steps 4 --log-every 2 "$IMGS"
    # the rates Adam applies, as logged
    run -0 jq -c 'select(.type=="train") | [.step, .lr, .grown_layers_lr]' "$d/log.jsonl"
    assert_output "$(printf '%s\n' '[2,0.001,0.01]' '[4,0.001,0.01]')"
    assert_equal "$(jq .grown_lr "$d/options.json")" 10
    run -0 scvae-train -q --resume "$d" --steps 6 --lr 5e-4 --grown-lr 4 -t 1
    run -0 jq -c 'select(.type=="train" and .step == 6) | [.lr, .grown_layers_lr]' "$d/log.jsonl"
    assert_output '[0.0005,0.002]'
    run -0 jq -c 'select(.event=="resume") | .changed' "$d/log.jsonl"
    assert_output '{"grown_lr":4,"lr":0.0005,"steps":6}'
    # one parameter group cannot become two on resume (nor two one)
    run -2 --separate-stderr scvae-train --resume "$d" --steps 8 --grown-lr 1
    [[ $stderr == "scvae-train: --resume: --grown-lr cannot change to or from 1 in a resumed run"* ]] || fail "$stderr"
    # without grown layers: a usage error, and no run folder
    run -2 --separate-stderr scvae-train -q -o "$d-plain" --init "$TINY" --grown-lr 10 "${FAST[@]:2}" --steps 2 "$IMGS"
    [[ $stderr == "scvae-train: --grown-lr: "*"tiny.scvm has no grown layers (--init a model made by scvae-model grow)"* ]] || fail "$stderr"
    [[ ! -e $d-plain ]]
    run -2 --separate-stderr scvae-train -q -o "$d-neg" --grown-lr 0 "${FAST[@]}" --steps 2 "$IMGS"
    [[ $stderr == "scvae-train: --grown-lr: expected a positive number"* ]]
    # without --grown-lr a grown model trains as one group, as before
    run -0 --separate-stderr scvae-train -q -o "$d-one" --init "$BATS_TEST_TMPDIR/g.scvm" --size 16 -b 2 -t 1 \
        --data-threads 1 --steps 2 --log-every 2 "$IMGS"
    run -0 jq -c 'select(.type=="train") | has("grown_layers_lr")' "$d-one/log.jsonl"
    assert_output false
}
