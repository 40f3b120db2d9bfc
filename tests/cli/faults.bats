#!/usr/bin/env bats
# Faults around the tools (issue 15): kill -9 of training at random moments, full disks (/dev/full, a small
# tmpfs, RLIMIT_FSIZE), read-only output folders, two writers of one output, signals during encode/decode, and a
# model file replaced while it is read. Every case ends in a documented exit code with a message, and never
# leaves a partial or temporary file.

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    scvae-encode -m "$TINY" -o a.scv "$IMAGES/photo1.jpg"
}

teardown() {
    # a training the first test left running (it failed half-way)
    [[ -n ${pid:-} ]] && kill -9 "$pid" 2> /dev/null
    # a tmpfs a test mounted (the mount point is in the test's folder)
    for m in small ro; do
        mountpoint -q "$BATS_TEST_TMPDIR/$m" 2> /dev/null && umount "$BATS_TEST_TMPDIR/$m"
    done
    return 0
}

# no_temp DIR: no temporary output (NAME.tmp.XXXXXX) under DIR
no_temp() {
    local left
    left=$(find "$1" -name '*.tmp.*' | head -5)
    [[ -z $left ]] || fail "temporary files left behind: $left"
}

# random_delay MAX_MS: sleeps a random time in 0..MAX_MS milliseconds
random_delay() { sleep "$(printf '0.%03d' $((RANDOM % $1)))"; }

@test "kill -9 of scvae-train at 10 random moments: each --resume loads the last checkpoint and continues" {
    mkdir imgs
    cp "$IMAGES"/{photo1.jpg,photo2.png,photo3.jpg,photo64.png,gradient.png,baseline.jpg} imgs/
    d=$BATS_TEST_TMPDIR/run
    # a checkpoint at every step, so that many kills land while one is being written
    scvae-train --preset tiny --size 16 -b 2 -t 1 --data-threads 1 --seed 5 --steps 100000 --log-every 1 \
        --checkpoint-every 1 -q -o "$d" imgs 2> train.err 3>&- &
    pid=$!
    for _ in $(seq 1 900); do [[ -s $d/state.pt ]] && break; sleep 0.1; done
    [[ -s $d/state.pt ]] || fail "no first checkpoint: $(cat train.err)"
    last=0
    for i in $(seq 1 10); do
        random_delay 1500
        kill -9 $pid
        wait $pid || true
        # the next run resumes from what the killed one left
        scvae-train --resume "$d" -t 1 --data-threads 1 > "resume$i.out" 2>&1 3>&- &
        pid=$!
        for _ in $(seq 1 900); do (($(grep -c '"event":"resume"' "$d/log.jsonl") >= i)) && break; sleep 0.1; done
        # (a line the kill cut short may precede the event on its line: the last "step" is the event's)
        step=$(grep '"event":"resume"' "$d/log.jsonl" | sed -n "${i}p" | sed 's/.*"step":\([0-9]*\).*/\1/')
        [[ -n $step ]] || fail "kill $i: no resume: $(cat "resume$i.out")"
        ((step >= last)) || fail "kill $i: resumed at step $step, before the earlier $last"
        last=$step
    done
    kill -9 $pid
    wait $pid || true
    # a last resume loads, trains on past the step it loaded (log lines of later steps), and stops cleanly
    scvae-train --resume "$d" -t 1 --data-threads 1 > final.out 2>&1 3>&- &
    pid=$!
    for _ in $(seq 1 900); do (($(grep -c '"event":"resume"' "$d/log.jsonl") >= 11)) && break; sleep 0.1; done
    step=$(grep '"event":"resume"' "$d/log.jsonl" | sed -n 11p | sed 's/.*"step":\([0-9]*\).*/\1/')
    [[ -n $step ]] || fail "no last resume: $(cat final.out)"
    ((step >= last))
    # (the last training line, read once per try: the log's last line may be a validation line or half-written)
    later() { grep '"type":"train"' "$d/log.jsonl" | tail -1 | sed 's/.*"step":\([0-9]*\).*/\1/'; }
    n=0
    for _ in $(seq 1 900); do n=$(later); ((${n:-0} > step + 2)) && break; sleep 0.1; done
    ((${n:-0} > step + 2)) || fail "no training after the resume at $step (last step $n): $(cat final.out)"
    kill -TERM $pid
    rc=0
    wait $pid || rc=$?
    assert_equal "$rc" 143
    grep -q '"event":"stop"' "$d/log.jsonl"
    run -0 scvae-model info "$d/last.scvm"
    ((last > 0)) || fail "the runs never got past step 0"
}

# full_output_fails OUT: every tool writing to OUT (a full device, or a file on a full disk) exits 1 with
# "No space left on device" and leaves nothing at OUT
every_tool_to() {
    local out=$1 why=$2
    local -a cmds=(
        "scvae-encode -m $TINY -o $out $IMAGES/photo1.jpg"
        "scvae-edit -o $out a.scv"
        "scvae-cluster -k 2 -o $out a.scv"
        "scvae-metrics --codes a.scv -o $out"
        "scvae-model init --preset tiny -o $out"
    )
    for c in "${cmds[@]}"; do
        run -1 --separate-stderr $c
        [[ $stderr == *"$why"* ]] || fail "$c: $stderr"
        [[ ${#stderr_lines[@]} -eq 1 ]] || fail "$c: more than one line: $stderr"
    done
}

@test "/dev/full as the output of every tool: the write error is reported, exit 1" {
    every_tool_to /dev/full "No space left on device"
    # standard output on a full device: the summary writers and the image writers
    for c in "scvae-cluster -k 2 a.scv" "scvae-segment -k 2 a.scv" "scvae-metrics --codes a.scv" \
             "scvae-decode -o - a.scv" "scvae-encode -m $TINY $IMAGES/photo1.jpg" "scvae-model info --json $TINY"; do
        run -1 --separate-stderr bash -c "$c > /dev/full"
        [[ $stderr == *"No space left on device"* ]] || fail "$c: $stderr"
    done
    # image outputs through a link to the full device
    ln -s /dev/full full.png
    run -1 --separate-stderr scvae-decode -o full.png a.scv
    [[ $stderr == *"No space left on device"* ]]
    run -1 --separate-stderr scvae-segment -k 2 -o full.png a.scv
    [[ $stderr == *"No space left on device"* ]]
    run -1 --separate-stderr scvae-cluster -k 2 --mosaic full.png -o c.jsonl a.scv
    [[ $stderr == *"No space left on device"* ]]
    assert_no_file c.jsonl
}

@test "a full file system (small tmpfs) for every tool's output: reported, exit 1, no partial file" {
    mkdir small
    mount -t tmpfs -o size=256k tmpfs small 2> /dev/null || skip "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)"
    # fill it up to the last byte (a temporary file can still be made: it is the writing that fails)
    dd if=/dev/zero of=small/filler bs=1k 2> /dev/null || true
    [[ $(df -k --output=avail small | tail -1) -eq 0 ]]
    every_tool_to small/out "No space left on device"
    for c in "scvae-decode -o small/out.png a.scv" "scvae-segment -k 2 -o small/seg.png a.scv" \
             "scvae-cluster -k 2 -o c.jsonl --mosaic small/mosaic.png a.scv" \
             "scvae-cluster -k 2 -o c.jsonl --save-centroids small/c.scvk a.scv"; do
        run -1 --separate-stderr $c
        [[ $stderr == *"No space left on device"* ]] || fail "$c: $stderr"
    done
    assert_no_file c.jsonl
    # nothing was left: the filler alone
    run -0 ls -A small
    assert_output filler
    # training into a full disk stops with the error, exit 1
    mkdir imgs && cp "$IMAGES"/{photo1.jpg,photo2.png,photo3.jpg,photo64.png,gradient.png,baseline.jpg} imgs/
    run -1 --separate-stderr scvae-train --preset tiny --size 16 -b 2 -t 1 --data-threads 1 --steps 2 -q \
        --val-fraction 0 -o small/run imgs
    [[ $stderr == *"No space left on device"* ]] || fail "train: $stderr"
    no_temp small
}

@test "a file size limit (RLIMIT_FSIZE) cuts every tool's output: reported, exit 1, no partial file" {
    # the same failure path as a full disk, without a mount: writes beyond 1 KB fail with EFBIG (SIGXFSZ ignored);
    # every output below is larger than that (segment's label maps are not: the tmpfs test covers them)
    cat a.scv a.scv a.scv > three.scv
    for c in "scvae-encode -m $TINY -o out.scv $IMAGES/photo1.jpg" "scvae-edit -o out.scv a.scv" \
             "scvae-cluster -k 2 -o out.jsonl a.scv" "scvae-metrics --codes three.scv -o out.json" \
             "scvae-model init --preset tiny -o out.scvm" "scvae-decode -o out.png a.scv"; do
        run -1 --separate-stderr bash -c "trap '' XFSZ; ulimit -f 1; $c"
        [[ $stderr == *"File too large"* ]] || fail "$c: $stderr"
    done
    # no output, whole or partial, and no temporary file (bats keeps its own separate-stderr files here)
    [[ -z $(compgen -G 'out.*') ]] || fail "left behind: $(compgen -G 'out.*')"
    no_temp .
}

@test "a read-only output folder: every tool refuses with the reason, exit 1, nothing written" {
    mkdir ro
    if (($(id -u) == 0)); then
        # root writes through permissions: a read-only mount instead
        mount -t tmpfs -o ro,size=16k tmpfs ro 2> /dev/null || skip "cannot mount a read-only tmpfs here"
        why="Read-only file system"
    else
        chmod a-w ro
        why="Permission denied"
    fi
    every_tool_to ro/out "$why"
    for c in "scvae-decode -o ro/out.png a.scv" "scvae-segment -k 2 -o ro/seg.png a.scv" \
             "scvae-cluster -k 2 --save-centroids ro/c.scvk -o c.jsonl a.scv"; do
        run -1 --separate-stderr $c
        [[ $stderr == *"$why"* ]] || fail "$c: $stderr"
    done
    run -0 ls -A ro
    assert_output ""
}

@test "two processes writing one output file: it is whole, one or the other, never a mix" {
    scvae-encode -m "$TINY" -o one.scv "$IMAGES/photo1.jpg"
    scvae-encode -m "$TINY" -o two.scv "$IMAGES/photo2.png" "$IMAGES/photo3.jpg"
    for i in $(seq 1 4); do
        scvae-encode -m "$TINY" -o out.scv "$IMAGES/photo1.jpg" &
        p1=$!
        scvae-encode -m "$TINY" -o out.scv "$IMAGES/photo2.png" "$IMAGES/photo3.jpg" &
        p2=$!
        wait $p1
        wait $p2
        cmp -s out.scv one.scv || cmp -s out.scv two.scv || fail "round $i: out.scv is neither output"
        # and two editors of one file
        scvae-edit -o e.scv one.scv &
        p1=$!
        scvae-edit -o e.scv two.scv &
        p2=$!
        wait $p1
        wait $p2
        cmp -s e.scv one.scv || cmp -s e.scv two.scv || fail "round $i: e.scv is neither output"
    done
    no_temp .
}

@test "SIGINT and SIGTERM at random moments of encode and decode leave no temporary files, only whole outputs" {
    for i in $(seq 1 12); do cp "$IMAGES/photo1.jpg" "in$i.jpg"; done
    scvae-encode -m "$TINY" -o many.scv in*.jpg
    for round in $(seq 1 6); do
        sig=INT
        ((round % 2)) && sig=TERM
        rm -rf out && mkdir out
        scvae-encode -m "$TINY" -o out/codes.scv in*.jpg 2> /dev/null &
        p1=$!
        scvae-decode -o 'out/img_{index}.png' many.scv 2> /dev/null &
        p2=$!
        random_delay 2500
        kill -s $sig $p1 $p2 2> /dev/null || true
        wait $p1 || true
        wait $p2 || true
        no_temp out
        # what is there is whole: the code stream reads to its end, every image ends with its IEND chunk
        if [[ -e out/codes.scv ]]; then
            run -0 scvae-metrics --codes out/codes.scv
        fi
        for f in out/img_*.png; do
            [[ -e $f ]] || continue
            [[ $(tail -c 8 "$f" | head -c 4) == IEND ]] || fail "round $round: $f is cut short"
        done
    done
}

@test "a model file replaced or rewritten while tools read it: a clean error or one model's output, never a crash" {
    cp "$TINY" m.scvm
    scvae-model init --preset tiny --seed 9 -o other.scvm
    fa=$(scvae-model info --json "$TINY" | jq -r .fingerprint)
    fb=$(scvae-model info --json other.scvm | jq -r .fingerprint)
    [[ -n $fa && -n $fb && $fa != "$fb" ]]
    # a writer that rewrites m.scvm in place (truncate, then write) and replaces it by a rename, again and again
    (
        while :; do
            cp other.scvm m.scvm
            cp "$TINY" m.new && mv m.new m.scvm
        done
    ) &
    writer=$!
    clean=0 refused=0
    for i in $(seq 1 8); do
        rc=0
        rm -f out.jsonl
        scvae-encode -m m.scvm --json -o out.jsonl "$IMAGES/photo1.jpg" 2> err || rc=$?
        case $rc in
            0)
                fp=$(jq -r .fingerprint out.jsonl)
                [[ $fp == "$fa" || $fp == "$fb" ]] || fail "encode: fingerprint $fp of neither model"
                clean=$((clean + 1)) ;;
            1)
                grep -q "^scvae-encode: m.scvm: " err || fail "encode: $(cat err)"
                assert_no_file out.jsonl
                refused=$((refused + 1)) ;;
            *) fail "encode: exit $rc: $(cat err)" ;;
        esac
        rc=0
        scvae-decode -m m.scvm --force -o out.png a.scv 2> err || rc=$?
        ((rc <= 1)) || fail "decode: exit $rc: $(cat err)"
        ((rc == 0)) || grep -q "^scvae-decode: m.scvm: " err || fail "decode: $(cat err)"
        rc=0
        scvae-model info m.scvm > /dev/null 2> err || rc=$?
        ((rc <= 1)) || fail "model info: exit $rc: $(cat err)"
    done
    kill $writer
    wait $writer || true
    echo "# $clean clean, $refused refused" >&3
}
