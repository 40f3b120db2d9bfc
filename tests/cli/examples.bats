#!/usr/bin/env bats
# Every documented example runs as written: the EXAMPLES sections of the man pages and the README's shell
# blocks are extracted (not copied) and run, block by block, with bash -e -o pipefail in a fresh folder
# holding the files they name. SCVAE_MODEL is the tiny test model (the bundled one is slow here). Lines that
# cannot run in a test are listed in SKIP with the reason; every other line runs.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    export HOME=$BATS_TEST_TMPDIR/home
    mkdir -p "$HOME/Pictures/holiday"
}

# pattern (extended regex, matched against a joined line) -> why it does not run here
declare -gA SKIP=(
    ['scvae-train -o runs/photos --preset cpu-f8']='trains the CPU preset for its full default epochs (hours)'
    ['scvae-train --resume runs/photos']='continues that run'
    ['scvae-train -o runs/ddp']='two processes training the default preset for full epochs (hours)'
    ['-o runs/deeper']='trains a grown default model for 4000 steps of 256-px crops (hours; train.bats runs --grown-lr)'
    ['hostA']='needs two machines'
    ['scontrol|^srun ']='needs a Slurm cluster (launch.bats runs examples/slurm-train.sbatch with stand-ins)'
    ['^bash scripts/']='sets up, builds and tests the project: what runs this test'
    ['^(cmake|ctest) ']='builds and tests the project: what runs this test'
    ['scvae-model export|torch.jit.load']='needs PyTorch in Python (python3-torch); tests/cli/python.bats runs export and loads the module'
)

# blocks FILE: the example blocks of a man page (.nf ... .fi under EXAMPLES) or of a Markdown file (```sh),
# roff escapes undone, continuation lines joined, skipped lines turned into comments; blocks end with a line @@.
blocks() {
    local f=$1
    if [[ $f == *.md ]]; then
        awk '/^```sh/ {on = 1; next} /^```/ {if (on) print "@@"; on = 0; next} on' "$f"
    else
        sed -n '/^\.SH EXAMPLES/,/^\.SH SEE/p' "$f" |
            awk '/^\.nf/ {on = 1; next} /^\.fi/ {if (on) print "@@"; on = 0; next} on' |
            sed -e 's/\\-/-/g' -e 's/\\e/\\/g'
    fi | sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | while IFS= read -r line; do
        local l=${line#"${line%%[![:space:]]*}"} p
        for p in "${!SKIP[@]}"; do
            if [[ $l =~ $p ]]; then line=": # skipped: ${SKIP[$p]}"; break; fi
        done
        printf '%s\n' "$line"
    done
}

# run_examples FILE: runs every block of FILE in the current folder
run_examples() {
    local block="" n=0 line
    while IFS= read -r line; do
        if [[ $line == @@ ]]; then
            n=$((n + 1))
            run bash -e -o pipefail -c "$block"
            [[ $status == 0 ]] || fail "$(printf 'example %d of %s failed (status %d):\n%s\n--- output:\n%s' \
                "$n" "${1##*/}" "$status" "$block" "$output")"
            block=""
        else
            block+="$line"$'\n'
        fi
    done < <(blocks "$1")
    ((n > 0)) || fail "no examples found in $1"
}

img() { cp "$IMAGES/$1" "$2"; }

@test "scvae-encode(1) examples" {
    img photo1.jpg photo.jpg
    img photo1.jpg "$HOME/Pictures/holiday/a.jpg"
    mkdir -p photos/sub && img photo3.jpg photos/b.jpg && img photo1.jpg photos/sub/c.jpg
    printf '%s\n' photos/b.jpg photos/sub/c.jpg > list.txt
    run_examples "$SCVAE_SOURCE_DIR/man/scvae-encode.1"
    [[ -s out.png && -s holiday.scv && -s all.scv && -e part0.scv ]]
}

@test "scvae-decode(1) examples" {
    img photo1.jpg photo.jpg
    scvae-encode -o a.scv "$IMAGES/photo64.png"
    scvae-encode -o b.scv "$IMAGES/photo2.png"
    cp b.scv codes.scv
    run_examples "$SCVAE_SOURCE_DIR/man/scvae-decode.1"
    [[ -s rec/photo64.png && -s rec/photo2.png && -s frame-0000.jpg && -s sheet.png ]]
}

@test "scvae-edit(1) examples" {
    img photo64.png face.png
    img photo64.png a.png
    img photo64.png b.png
    scvae-encode -o a.scv a.png
    for i in 0 1 2 3; do cp b.png "b$i.png"; done
    scvae-encode -o b.scv b0.png b1.png b2.png b3.png  # b.scv:3 is its fourth record
    run_examples "$SCVAE_SOURCE_DIR/man/scvae-edit.1"
    [[ -s face-top1.png && -s row.png && -s mix.png ]]
}

@test "scvae-metrics(1) examples" {
    mkdir originals decoded photos predicted truth
    img photo2.png originals/p.png && img photo2.png decoded/p.png
    img photo64.png originals/q.png && img photo64.png decoded/q.png
    img photo64.png a.png && img photo64.png b.png
    img photo2.png photos/x.png && img photo64.png photos/y.png
    cp "$DATA/metrics/masks/pred/m1.png" predicted/ && cp "$DATA/metrics/masks/gt/m1.png" truth/
    cp "$DATA/metrics/fid-meanstd.pt" fid-inception.pt  # small TorchScript stand-ins
    cp "$DATA/metrics/lpips-l1.pt" lpips-alex.pt
    run_examples "$SCVAE_SOURCE_DIR/man/scvae-metrics.1"
    [[ -s report.json ]]
}

@test "scvae-model(1) examples" {
    run_examples "$SCVAE_SOURCE_DIR/man/scvae-model.1"
    [[ -s tiny.scvm && -s wide.scvm && -s deeper.scvm ]]
}

@test "scvae-cluster(1) examples" {
    mkdir val new
    # one grid size: two 128x128 PNGs, 2048 code vectors for -k 1000
    scvae-encode "$IMAGES/photo1.jpg" | scvae-decode -o val/p1.png
    scvae-encode "$IMAGES/photo3.jpg" | scvae-decode -o val/p3.png
    img photo3.jpg new/n.jpg
    run_examples "$SCVAE_SOURCE_DIR/man/scvae-cluster.1"
    [[ -s fig7.png && -s patches.scvk && -s clusters.jsonl ]]
}

@test "scvae-segment(1) examples" {
    mkdir photos
    img photo1.jpg photos/p1.jpg && img photo3.jpg photos/p3.jpg
    img photo64.png a.png && img photo2.png b.png
    mkdir models && cp "$TINY" models/default.scvm
    scvae-encode photos/*.jpg | scvae-segment --method spectral -o 'truth/{stem}.png' > /dev/null
    run_examples "$SCVAE_SOURCE_DIR/man/scvae-segment.1"
    [[ -s masks/p1.png && -s view/p3.jpg && -s a-labels.png ]]
}

@test "scvae-train(1) examples" {
    mkdir train val photos
    img photo1.jpg train/a.jpg && img photo3.jpg train/b.jpg && img photo2.png val/c.png
    run_examples "$SCVAE_SOURCE_DIR/man/scvae-train.1"
    [[ -s runs/try/last.scvm ]]
}

@test "README examples" {
    img photo1.jpg photo.jpg
    img photo3.jpg "$HOME/Pictures/x.jpg"
    run_examples "$SCVAE_SOURCE_DIR/README.md"
    [[ -s out.png ]]
    # the torchrun recipe: two ranks, one run directory
    [[ -s runs/torchrun/last.scvm ]]
    run -0 jq -r .world_size runs/torchrun/options.json
    assert_output 2
}

@test "the skipped lines are only those that cannot run here" {
    local f all
    all=$(for f in "$SCVAE_SOURCE_DIR"/man/*.1 "$SCVAE_SOURCE_DIR/README.md"; do blocks "$f"; done)
    assert_equal "$(grep -c "^: # skipped" <<<"$all")" 19
}
