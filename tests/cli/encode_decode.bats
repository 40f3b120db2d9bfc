#!/usr/bin/env bats
# scvae-encode and scvae-decode: options, pipelines, and every bad input with its message and exit code.

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
}

@test "encode | decode round trip restores the original size of an odd-sized image" {
    run -0 bash -c "scvae-encode '$IMAGES/interlaced.png' | scvae-decode -o out.png"
    [[ -f out.png ]]
    # interlaced.png is 33x31 (not a multiple of 2^d = 4): decode must give the original size back.
    run -0 png_size out.png
    assert_output "33 31"
    run -0 bash -c "scvae-encode --json '$IMAGES/interlaced.png' | jq -c '[.pad.right, .pad.bottom, .grid.h, .grid.w]'"
    assert_output "[3,1,8,9]"
}

@test "encode --json is JSON Lines that jq reads, one object per image" {
    run -0 --separate-stderr bash -c "scvae-encode --json '$IMAGES/photo1.jpg' '$IMAGES/photo2.png' | jq -c '[.source, .image.width, .image.height, .grid.h, .grid.w]'"
    assert_equal "${#lines[@]}" 2
    assert_equal "${lines[0]}" "[\"$IMAGES/photo1.jpg\",128,128,32,32]"
    assert_equal "${lines[1]}" "[\"$IMAGES/photo2.png\",96,96,24,24]"
    [[ -z $stderr ]]
}

@test "JSON and binary streams carry the same codes and both decode" {
    scvae-encode -o a.scv "$IMAGES/photo1.jpg"
    scvae-encode --json -o a.jsonl "$IMAGES/photo1.jpg"
    scvae-decode -o bin.png a.scv
    scvae-decode -o json.png a.jsonl
    cmp bin.png json.png
}

@test "binary output to a terminal is refused with a hint (exit 2)" {
    command -v script >/dev/null || skip "script(1) not installed"
    run script -qec "scvae-encode '$IMAGES/photo1.jpg'" /dev/null
    assert_output --partial "refusing to write binary codes to a terminal"
    assert_output --partial "--json"
}

@test "concatenated streams decode to one file per record with {stem} and {index}" {
    scvae-encode -o a.scv "$IMAGES/photo1.jpg"
    scvae-encode -o b.scv "$IMAGES/photo2.png"
    run -0 bash -c "cat a.scv b.scv | scvae-decode -o 'rec-{index:03}-{stem}.png'"
    [[ -f rec-000-photo1.png && -f rec-001-photo2.png ]]
}

@test "several images in one run give several records, in order" {
    run -0 bash -c "scvae-encode --json '$IMAGES/photo1.jpg' '$IMAGES/photo2.png' '$IMAGES/photo3.jpg' | jq -r .source"
    assert_equal "${lines[0]}" "$IMAGES/photo1.jpg"
    assert_equal "${lines[2]}" "$IMAGES/photo3.jpg"
}

@test "--batch 1 and --batch 8 give the same codes (up to float rounding)" {
    scvae-encode --batch 1 -o b1.scv "$IMAGES/photo1.jpg" "$IMAGES/photo3.jpg"
    scvae-encode --batch 8 -o b8.scv "$IMAGES/photo1.jpg" "$IMAGES/photo3.jpg"
    scvae-decode -o 'b1-{index}.png' b1.scv
    scvae-decode -o 'b8-{index}.png' b8.scv
    # batched convolutions sum in another order: images must agree to well within one grey level
    run -0 scvae-metrics --check 'psnr>=50' b1-0.png b8-0.png
    run -0 scvae-metrics --check 'psnr>=50' b1-1.png b8-1.png
}

@test "--threads 1 and --threads 2 give the same codes (up to float rounding)" {
    scvae-encode --threads 1 -o t1.scv "$IMAGES/photo1.jpg"
    scvae-encode --threads 2 -o t2.scv "$IMAGES/photo1.jpg"
    scvae-decode -o t1.png t1.scv
    scvae-decode -o t2.png t2.scv
    run -0 scvae-metrics --check 'psnr>=50' t1.png t2.png
    run -2 scvae-encode --threads 0 "$IMAGES/photo1.jpg"
    assert_output --partial "--threads"
}

@test "--half makes a smaller stream whose values are f16-rounded" {
    scvae-encode -o full.scv "$IMAGES/photo1.jpg"
    scvae-encode --half -o half.scv "$IMAGES/photo1.jpg"
    full=$(stat -c %s full.scv); half=$(stat -c %s half.scv)
    (( half < full ))
    run -0 bash -c "scvae-encode --half --json '$IMAGES/photo1.jpg' | jq -r .half"
    assert_output "true"
    scvae-decode -o half.png half.scv
}

@test "--model selects the model; SCVAE_MODEL is the default" {
    SCVAE_MODEL=/nonexistent.scvm run -1 scvae-encode -o x.scv "$IMAGES/photo1.jpg"
    assert_output --partial "/nonexistent.scvm"
    SCVAE_MODEL=/nonexistent.scvm run -0 scvae-encode --model "$TINY" -o x.scv "$IMAGES/photo1.jpg"
    assert_no_file x.scv.tmp
}

@test "--files-from reads a list; '-' reads it from stdin" {
    printf '%s\n' "# comment" "$IMAGES/photo1.jpg" "" "$IMAGES/photo2.png" > list.txt
    run -0 bash -c "scvae-encode --json --files-from list.txt | jq -r .source"
    assert_equal "${#lines[@]}" 2
    run -0 bash -c "printf '%s\n' '$IMAGES/photo3.jpg' | scvae-encode --json --files-from - | jq -r .source"
    assert_output "$IMAGES/photo3.jpg"
}

@test "'-' reads an image from stdin" {
    run -0 bash -c "scvae-encode --json - < '$IMAGES/photo2.png' | jq -r .source"
    [[ $output == "-" ]]
    run -0 bash -c "scvae-encode - < '$IMAGES/photo2.png' | scvae-decode -o stdin.png"
    [[ -f stdin.png ]]
}

@test "--shard I/N splits the inputs so that the shards together cover each once" {
    set -- "$IMAGES/photo1.jpg" "$IMAGES/photo2.png" "$IMAGES/photo3.jpg"
    scvae-encode --json --shard 0/2 "$@" | jq -r .source > s0
    scvae-encode --json --shard 1/2 "$@" | jq -r .source > s1
    run -0 cat s0
    assert_equal "${#lines[@]}" 2
    run -0 cat s1
    assert_output "$IMAGES/photo2.png"
    run -2 scvae-encode --shard 2/2 "$@"
    assert_output --partial "--shard: expected I/N"
}

@test "--keep-going reports each bad file, encodes the rest, exits 1" {
    run -1 --separate-stderr scvae-encode --keep-going -o kg.scv "$IMAGES/photo1.jpg" "$IMAGES/notimage.png" "$IMAGES/photo2.png"
    [[ $stderr == *"notimage.png: not a PNG, JPEG or netpbm file"* ]]
    [[ $stderr == *"1 of 3 images could not be encoded"* ]]
    run -0 bash -c "scvae-decode -o 'kg-{index}.png' kg.scv && ls kg-*.png | wc -l"
    assert_output "2"
}

@test "a bad image stops the run without --keep-going and leaves no output file" {
    run -1 --separate-stderr scvae-encode -o bad.scv "$IMAGES/photo1.jpg" "$IMAGES/notimage.png"
    assert_equal "$stderr" "scvae-encode: $IMAGES/notimage.png: not a PNG, JPEG or netpbm file"
    assert_no_file bad.scv
}

@test "missing, empty, truncated and corrupt images have clear messages" {
    run -1 --separate-stderr scvae-encode -o x.scv missing.png
    [[ $stderr == "scvae-encode: missing.png: cannot open: No such file or directory" ]]
    run -1 --separate-stderr scvae-encode -o x.scv "$IMAGES/empty.png"
    [[ $stderr == *"empty.png: empty file"* ]]
    run -1 --separate-stderr scvae-encode -o x.scv "$IMAGES/truncated.png"
    [[ $stderr == *"truncated.png: truncated or corrupt PNG"* ]]
    run -1 --separate-stderr scvae-encode -o x.scv "$IMAGES/truncated.jpg"
    [[ $stderr == *"truncated.jpg: truncated or corrupt JPEG"* ]]
    assert_no_file x.scv
}

@test "gray, 16-bit, RGBA, progressive and gray JPEG images encode; gray decodes back to gray" {
    for f in gray16.png rgba.png progressive.jpg gray.jpg; do
        scvae-encode -o "$f.scv" "$IMAGES/$f" || fail "encode $f"
        scvae-decode -o "$f.png" "$f.scv" || fail "decode $f"
    done
    # PNG colour type (byte 25): 0 = gray, 2 = RGB.
    run -0 od -An -tu1 -j25 -N1 gray.jpg.png
    assert_equal "$(echo $output)" "0"
    run -0 od -An -tu1 -j25 -N1 rgba.png.png
    assert_equal "$(echo $output)" "2"
}

@test "a wrong or corrupt model file is refused clearly" {
    run -1 --separate-stderr scvae-encode -m "$IMAGES/photo2.png" -o x.scv "$IMAGES/photo1.jpg"
    [[ $stderr == *"photo2.png: not a scvae model file"* ]]
    head -c 2000 "$TINY" > cut.scvm
    run -1 --separate-stderr scvae-encode -m cut.scvm -o x.scv "$IMAGES/photo1.jpg"
    [[ $stderr == *"cut.scvm: truncated model file"* ]]
    assert_no_file x.scv
}

@test "usage errors exit 2: unknown option, bad --batch, bad --device" {
    run -2 scvae-encode --frobnicate "$IMAGES/photo1.jpg"
    assert_output --partial "Try 'scvae-encode --help'"
    run -2 scvae-encode --batch zero "$IMAGES/photo1.jpg"
    assert_output --partial "--batch"
    run -2 scvae-encode --device tpu -o x.scv "$IMAGES/photo1.jpg"
    assert_output --partial "tpu"
}

@test "--help lists every option on stdout and exits 0" {
    for t in scvae-encode scvae-decode; do
        run -0 --separate-stderr $t --help
        [[ -z $stderr ]]
    done
    run -0 scvae-encode --help
    for o in --model --output --json --half --batch --threads --device --files-from --keep-going --shard --quiet; do
        assert_output --partial -- "$o"
    done
    run -0 scvae-decode --help
    for o in --output --format --model --force --batch --threads --device --quality --montage --labels --gap --title; do
        assert_output --partial -- "$o"
    done
}

@test "decode: -o is required, unknown extensions are refused before any work" {
    scvae-encode -o a.scv "$IMAGES/photo1.jpg"
    run -2 scvae-decode a.scv
    assert_output --partial "no output given"
    run -2 scvae-decode -o out.gif a.scv
    assert_output --partial "unknown image extension"
    assert_no_file out.gif
}

@test "decode: JPEG output by extension, --quality changes the file" {
    scvae-encode -o a.scv "$IMAGES/photo1.jpg"
    scvae-decode --quality 95 -o q95.jpg a.scv
    scvae-decode --quality 20 -o q20.jpg a.scv
    [[ $(head -c 3 q95.jpg | od -An -tx1 | tr -d ' ') == ffd8ff ]]
    (( $(stat -c %s q20.jpg) < $(stat -c %s q95.jpg) ))
}

@test "decode: -o - writes one PNG to stdout" {
    scvae-encode -o a.scv "$IMAGES/photo1.jpg"
    scvae-decode -o - a.scv > stdout.png
    [[ $(head -c 8 stdout.png | od -An -tx1 | tr -d ' ') == 89504e470d0a1a0a ]]
}

@test "decode: several records for a one-file pattern is an error and writes nothing" {
    scvae-encode -o two.scv "$IMAGES/photo1.jpg" "$IMAGES/photo2.png"
    run -1 --separate-stderr scvae-decode -o one.png two.scv
    [[ $stderr == *"record 2: more than one record"* ]]
    assert_no_file one.png
}

@test "decode: two records writing the same file is an error" {
    scvae-encode -o twice.scv "$IMAGES/photo1.jpg" "$IMAGES/photo1.jpg"
    run -1 --separate-stderr scvae-decode -o '{stem}.png' twice.scv
    [[ $stderr == *"photo1.png was already written for record 1"* ]]
}

@test "decode: codes of another model are refused naming both fingerprints, --force decodes" {
    scvae-model init --preset tiny --seed 7 -o other.scvm
    scvae-encode -m other.scvm -o other.scv "$IMAGES/photo1.jpg"
    fp_other=$(scvae-model info --json other.scvm | jq -r .fingerprint)
    fp_tiny=$(scvae-model info --json "$TINY" | jq -r .fingerprint)
    run -1 --separate-stderr scvae-decode -o x.png other.scv
    [[ $stderr == *"record 1: codes were made by model $fp_other"*"is model $fp_tiny"*"--force"* ]]
    assert_no_file x.png
    run -0 scvae-decode --force -o x.png other.scv
    [[ -f x.png ]]
}

@test "decode: an empty stream is an error" {
    : > empty.scv
    run -1 --separate-stderr scvae-decode -o x.png empty.scv
    [[ $stderr == *"empty.scv: no records in the code stream"* ]]
}

@test "decode: a corrupt record stops with its number after decoding the good ones" {
    scvae-encode -o a.scv "$IMAGES/photo1.jpg"
    scvae-encode -o b.scv "$IMAGES/photo2.png"
    size_b=$(stat -c %s b.scv)
    # flip one byte in the middle of the second record
    cat a.scv b.scv > ab.scv
    off=$(( $(stat -c %s a.scv) + size_b / 2 ))
    printf '\x5a' | dd of=ab.scv bs=1 seek=$off conv=notrunc status=none
    run -1 --separate-stderr scvae-decode -o 'c-{index}.png' ab.scv
    [[ $stderr == *"ab.scv: record 2: checksum mismatch"* ]]
    [[ -f c-0.png ]]
    assert_no_file c-1.png
}

@test "decode: a truncated stream and bad magic are reported" {
    scvae-encode -o a.scv "$IMAGES/photo1.jpg"
    head -c 100 a.scv > cut.scv
    run -1 --separate-stderr scvae-decode -o x.png cut.scv
    [[ $stderr == *"cut.scv: record 1: truncated"* ]]
    echo "hello world" > junk.scv
    run -1 --separate-stderr scvae-decode -o x.png junk.scv
    [[ $stderr == *"junk.scv"*"not a scvae code stream"* ]]
}

@test "writing to a closed pipe ends quietly" {
    run bash -c "set -o pipefail; scvae-encode --json '$IMAGES/photo1.jpg' '$IMAGES/photo2.png' | head -c 10 >/dev/null"
    refute_output --partial "Broken pipe"
}

@test "decode --montage tiles every record into one labelled picture" {
    scvae-encode -o three.scv "$IMAGES/photo1.jpg" "$IMAGES/photo1.jpg" "$IMAGES/photo1.jpg"
    scvae-decode --montage 3 --gap 0 -o sheet.png three.scv
    run -0 png_size sheet.png
    assert_output "384 128"
    scvae-decode --montage 3 --gap 4 --labels -o labelled.png three.scv
    read -r w h < <(png_size labelled.png)
    (( w == 384 + 4 * 4 ))
    (( h > 128 + 8 ))     # a label band under the tiles
    run -2 scvae-decode --labels -o x.png three.scv
    assert_output --partial "--labels needs --montage"
}

@test "decode --title puts header lines above the montage, wrapped at spaces, widened for a long word" {
    scvae-encode -o three.scv "$IMAGES/photo1.jpg" "$IMAGES/photo1.jpg" "$IMAGES/photo1.jpg"
    scvae-decode --montage 3 --gap 0 --title 'atom 7, -2 to 2' -o one.png three.scv
    read -r w1 h1 < <(png_size one.png)
    (( w1 == 384 && h1 > 128 + 14 ))
    scvae-decode --montage 3 --gap 0 --title 'atom 7, -2 to 2' --title 'second line' -o two.png three.scv
    read -r w2 h2 < <(png_size two.png)
    (( w2 == 384 && h2 > h1 + 14 ))
    words=$(printf 'ab %.0s' $(seq 1 40))
    scvae-decode --montage 3 --gap 0 --title "$words" -o wrapped.png three.scv
    read -r w4 h4 < <(png_size wrapped.png)
    (( w4 == 384 && h4 > h1 + 14 ))
    long=$(printf 'x%.0s' $(seq 1 40))
    scvae-decode --montage 3 --gap 0 --title "$long" -o wide.png three.scv
    read -r w3 h3 < <(png_size wide.png)
    (( w3 > 40 * 12 && h3 == h1 ))
    run -2 scvae-decode --title x -o x.png three.scv
    assert_output --partial "--title needs --montage"
}

@test "a progress count is shown on a terminal's stderr, and -q silences it" {
    command -v script >/dev/null || skip "script(1) not installed"
    run script -qec "scvae-encode -o p.scv '$IMAGES/photo1.jpg' '$IMAGES/photo2.png'" /dev/null
    assert_output --partial "scvae-encode: 2/2 images"
    run script -qec "scvae-encode -q -o p.scv '$IMAGES/photo1.jpg' '$IMAGES/photo2.png'" /dev/null
    refute_output --partial "images"
    run script -qec "scvae-decode -o 'p-{index}.png' p.scv" /dev/null
    assert_output --partial "scvae-decode: 2 records"
    # not a terminal: nothing on stderr
    run -0 --separate-stderr scvae-encode -o p.scv "$IMAGES/photo1.jpg"
    [[ -z $stderr ]]
}

@test "several images on two workers: the same bytes as one thread, in input order; --keep-going in the middle" {
    cd "$BATS_TEST_TMPDIR"
    imgs=("$IMAGES/photo1.jpg" "$IMAGES/photo2.png" "$IMAGES/photo3.jpg" "$IMAGES/photo64.png" "$IMAGES/gradient.png")
    scvae-encode -t 2 -o par.scv "${imgs[@]}"
    scvae-encode -t 1 -o one.scv "${imgs[@]}"
    cmp par.scv one.scv
    run -0 bash -c "scvae-encode -t 2 --json ${imgs[*]} | jq -r .source"
    assert_output "$(printf '%s\n' "${imgs[@]}")"
    run -1 --separate-stderr scvae-encode -t 2 -k -o kg.scv "${imgs[0]}" "$IMAGES/notimage.png" "${imgs[2]}" "${imgs[3]}"
    [[ $stderr == *"notimage.png: not a PNG, JPEG or netpbm file"* ]]
    [[ $stderr == *"1 of 4 images could not be encoded"* ]]
    run -0 bash -c "cat kg.scv | scvae-metrics --codes - | jq .codes.records"
    assert_output "3"
    # decoding on two workers writes the same images as one thread, named in stream order
    scvae-decode -t 2 -o 'p/{index}-{stem}.png' par.scv
    scvae-decode -t 1 -o 'o/{index}-{stem}.png' par.scv
    for f in o/*.png; do cmp "$f" "p/${f#o/}"; done
    run -0 bash -c "ls p | sort -n"
    assert_output "$(printf '0-photo1.png\n1-photo2.png\n2-photo3.png\n3-photo64.png\n4-gradient.png')"
}

@test "two decode workers: the records before a damaged one are written, then exit 1" {
    cd "$BATS_TEST_TMPDIR"
    scvae-encode -o a.scv "$IMAGES/photo1.jpg" "$IMAGES/photo3.jpg" "$IMAGES/gradient.png"
    size=$(stat -c %s a.scv)
    head -c $((size - 5)) a.scv > cut.scv
    run -1 --separate-stderr scvae-decode -t 2 -o 'd/{index}.png' cut.scv
    [[ $stderr == "scvae-decode: cut.scv: record 3: "* ]] || fail "$stderr"
    [ -s d/0.png ]
    [ -s d/1.png ]
    [ ! -e d/2.png ]
}

@test "encode, decode and segment default to one image per network batch" {
    for tool in scvae-encode scvae-decode scvae-segment; do
        run -0 bash -c "$tool --help | tr -s ' \n' ' '"
        [[ $output == *"-b, --batch N "*"batch (default: 1)"* ]] || fail "$tool: $output"
    done
}

@test "encode and decode give the golden codes and image of the tiny model (made by the LibTorch networks)" {
    # tests/data/golden/tiny-photo1.* were written by the LibTorch build of these programs (tests/unit/test_codec.cpp
    # holds the library's Codec to them too); the programs built on the torch-free engine must agree to rounding
    scvae-encode -m "$TINY" --json -o got.jsonl "$IMAGES/photo1.jpg"
    run -0 python3 - got.jsonl "$DATA/golden/tiny-photo1.jsonl" <<'PY'
import json, sys
def dense(path):
    r = json.load(open(path))
    rp, d = r["row_ptr"], {}
    for p in range(len(rp) - 1):
        for e in range(rp[p], rp[p + 1]):
            d[(p, r["indices"][e])] = r["values"][e]
    return r, d
(ra, a), (rb, b) = dense(sys.argv[1]), dense(sys.argv[2])
assert ra["fingerprint"] == rb["fingerprint"] and ra["grid"] == rb["grid"], "different model or grid"
scale = max(abs(v) for v in b.values())
worst = max(abs(a.get(k, 0) - b.get(k, 0)) for k in set(a) | set(b))
print(len(b), "golden non-zeros, largest difference", worst, "of", scale)
assert len(b) > 100 and worst < 1e-4 * scale, "codes differ"
PY
    assert_output --partial "golden non-zeros"
    scvae-decode -m "$TINY" -o got.png "$DATA/golden/tiny-photo1.jsonl"
    run -0 --separate-stderr scvae-metrics got.png "$DATA/golden/tiny-photo1.png"
    psnr=$(jq -r '.images[0].psnr' <<<"$output")
    [[ -n $psnr ]] || fail "no PSNR in: $output"
    awk -v p="$psnr" 'BEGIN { exit !(p > 60) }' || fail "decoded image differs from the golden one: PSNR $psnr dB"
}

@test "the tools that need no LibTorch do not load it; --device cuda is refused with the way to get it" {
    cache="$SCVAE_BIN/../CMakeCache.txt"
    [[ -f $cache ]] || skip "not a build tree"
    grep -q '^SCVAE_LIGHT_TOOLS:BOOL=OFF' "$cache" && skip "configured with -DSCVAE_LIGHT_TOOLS=OFF"
    for tool in scvae-encode scvae-decode scvae-segment scvae-cluster scvae-edit; do
        run -0 readelf -d "$SCVAE_BIN/$tool"
        refute_output --partial "libtorch"
        refute_output --partial "libc10"
        case $tool in
            scvae-encode|scvae-decode|scvae-segment) assert_output --partial "libdnnl.so" ;;
        esac
    done
    # and the ones that train, export or run LPIPS do
    run -0 readelf -d "$SCVAE_BIN/scvae-train"
    assert_output --partial "libtorch"
    run -1 --separate-stderr scvae-encode --device cuda -o x.scv "$IMAGES/photo1.jpg"
    [[ $stderr == *"CUDA requested but this program runs on the CPU without LibTorch"*"-DSCVAE_LIGHT_TOOLS=OFF"* ]] ||
        fail "unexpected message: $stderr"
    assert_no_file x.scv
}
