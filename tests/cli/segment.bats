#!/usr/bin/env bats
# scvae-segment: k-means and spectral segmentation from code streams or images, masks, label maps, overlays,
# noise, and the errors.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    cp "$IMAGES/photo64.png" a.png
    cp "$IMAGES/photo2.png" b.png
    scvae-encode -m "$TINY" -o ab.scv a.png b.png
}

# white_png FILE W H: an all-white 8-bit gray PNG (python3 standard library only).
white_png() {
    python3 - "$@" <<'PY'
import struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
raw = b"".join(b"\x00" + b"\xff" * w for _ in range(h))
open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                       + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PY
}

@test "encode | segment --method spectral: one summary per image, masks at the original size" {
    run -0 --separate-stderr bash -c "scvae-encode -m '$TINY' a.png b.png | scvae-segment --method spectral -o 'm-{stem}.png'"
    assert_equal "${#lines[@]}" 2
    [[ -z $stderr ]]
    run -0 jq -c '[.index, .source, .method, .k, (.class_sizes | length), (.class_sizes | add) == (.grid[0] * .grid[1]), .image]' <<<"$output"
    assert_line --index 0 '[0,"a.png","spectral",2,2,true,[64,64]]'
    assert_line --index 1 '[1,"b.png","spectral",2,2,true,[96,96]]'
    run -0 png_size m-a.png
    assert_output "64 64"
    run -0 png_size m-b.png
    assert_output "96 96"
}

@test "the mask's white area is the summary's foreground fraction, and -o equals --mask for spectral" {
    scvae-segment --method spectral -k 3 -o 'o-{stem}.png' --mask 'm-{stem}.png' ab.scv > s.jsonl
    cmp o-a.png m-a.png
    white_png white.png 64 64
    frac=$(jq -r 'select(.source=="a.png") | .foreground_fraction' s.jsonl)
    iou=$(scvae-metrics --masks m-a.png white.png | jq '.images[0].iou')
    run -0 python3 -c "print(abs($frac - $iou) < 1e-6)"
    assert_output True
    run -0 jq -c '[.k, (.bndcon | length), (.bndcon == (.bndcon | sort | reverse))]' s.jsonl
    assert_line --index 0 '[3,3,true]'
}

@test "kmeans (the default) gives 5 classes, label maps and overlays at the original size" {
    run -0 scvae-segment -o 'l-{stem}.png' --labels 'lab-{index}.png' --overlay 'v-{stem}.png' ab.scv
    run -0 jq -c '[.method, .k, (.class_sizes | length), (.foreground_classes | all(. >= 1))]' <<<"$output"
    assert_line --index 0 '["kmeans",5,5,true]'
    cmp l-a.png lab-0.png
    cmp l-b.png lab-1.png
    # the overlay: as wide as the image, taller by its legend band
    read -r w h < <(png_size v-b.png)
    (( w == 96 && h > 96 + 8 ))
    run -0 png_size lab-1.png
    assert_output "96 96"
}

@test "--labels is a palette PNG: k colours, and its indices are the class numbers 0..k-1" {
    scvae-segment -k 4 --labels 'lab-{stem}.png' ab.scv > s.jsonl
    run -0 png_info lab-a.png
    assert_output "64 64 8 3 4"   # 8-bit, colour type 3 (palette), 4 PLTE entries
    # every index is a class number, and the classes the summary counts are the ones present
    want=$(jq -r 'select(.source=="a.png") | [.class_sizes | to_entries[] | select(.value > 0) | .key] | join(" ")' s.jsonl)
    run -0 png_values lab-a.png
    assert_output "$want"
    # -o writes the same label map with kmeans; --mask stays 8-bit gray
    scvae-segment -k 4 -o 'o-{stem}.png' --mask 'm-{stem}.png' ab.scv > /dev/null
    cmp o-a.png lab-a.png
    run -0 png_info m-a.png
    assert_output "64 64 8 0 0"
}

@test "--overlay has a legend band whose height grows with the classes that do not fit on one line" {
    scvae-segment -k 2 --overlay 'v2-{stem}.png' ab.scv > /dev/null
    scvae-segment -k 8 --overlay 'v8-{stem}.png' ab.scv > /dev/null
    read -r w2 h2 < <(png_size v2-a.png)
    read -r w8 h8 < <(png_size v8-a.png)
    (( w2 == 64 && w8 == 64 && h2 > 64 && h8 > h2 ))
    run -0 png_info v8-a.png
    assert_output "64 $h8 8 2 0"  # RGB
}

@test "--model segments images directly, with the same result as the encode pipeline" {
    scvae-segment --method spectral ab.scv > piped.jsonl
    scvae-segment --method spectral -m "$TINY" a.png b.png > direct.jsonl
    diff piped.jsonl direct.jsonl
}

@test "image workers (-t 3) give what one thread gives, in input order; an unreadable image stops at its place" {
    cp "$IMAGES/photo1.jpg" p1.jpg; cp "$IMAGES/photo2.png" p2.png; cp "$IMAGES/photo3.jpg" p3.jpg
    cp "$IMAGES/photo64.png" p4.png; cp "$IMAGES/gradient.png" p5.png; cp "$IMAGES/progressive.jpg" p6.jpg
    set -- p1.jpg p2.png p3.jpg p4.png p5.png p6.jpg
    for m in "spectral -k 2" "kmeans -k 3"; do
        # --model (encode and segment on the workers), a code stream, and --pixels
        scvae-segment -t 1 --method $m -m "$TINY" --mask 'one-{stem}.png' "$@" > one.jsonl
        scvae-segment -t 3 --method $m -m "$TINY" --mask 'three-{stem}.png' "$@" > three.jsonl
        diff one.jsonl three.jsonl
        for f in "$@"; do cmp "one-${f%.*}.png" "three-${f%.*}.png"; done
        run -0 jq -r '.source' three.jsonl
        assert_output "$(printf '%s\n' "$@")"
        scvae-encode -m "$TINY" -o all.scv "$@"
        scvae-segment -t 1 --method $m all.scv > s1.jsonl
        scvae-segment -t 3 --method $m < all.scv > s3.jsonl
        diff s1.jsonl s3.jsonl
        scvae-segment -t 3 --method $m all.scv > s3f.jsonl  # one file of many records gets workers too
        diff s1.jsonl s3f.jsonl
        scvae-segment -t 1 --method $m --pixels 8 "$@" > x1.jsonl
        scvae-segment -t 3 --method $m --pixels 8 "$@" > x3.jsonl
        diff x1.jsonl x3.jsonl
    done
    # the 4th of 6 images is not an image: the three before it are written, nothing after it
    cp "$IMAGES/notimage.png" p4.png
    run -1 --separate-stderr scvae-segment -t 3 --method spectral -m "$TINY" --mask 'bad-{stem}.png' "$@"
    assert_equal "${#lines[@]}" 3
    [[ $stderr == *"p4.png"* ]]
    [[ -f bad-p1.png && -f bad-p2.png && -f bad-p3.png ]]
    [[ ! -e bad-p5.png && ! -e bad-p6.png ]]
}

@test "--noise adds seeded Gaussian noise before encoding" {
    scvae-segment -m "$TINY" --overlay 'clean-{stem}.png' a.png > clean.jsonl
    scvae-segment -m "$TINY" --noise 0.2 --seed 5 --overlay 'n1-{stem}.png' a.png > n1.jsonl
    scvae-segment -m "$TINY" --noise 0.2 --seed 5 --overlay 'n2-{stem}.png' a.png > n2.jsonl
    cmp n1-a.png n2-a.png
    cmp n1.jsonl n2.jsonl
    ! cmp -s clean-a.png n1-a.png
    run -0 jq '.noise' n1.jsonl
    assert_output 0.2
    run -0 jq 'has("noise")' clean.jsonl
    assert_output false
}

# square_png FILE: a 64x64 RGB PNG, black with a white 32x32 square at (16,16) (python3 standard library only).
square_png() {
    python3 - "$1" <<'PY'
import struct, sys, zlib
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
rows = []
for y in range(64):
    rows.append(b"\x00" + b"".join(b"\xff\xff\xff" if 16 <= x < 48 and 16 <= y < 48 else b"\x00\x00\x00" for x in range(64)))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
                       + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))
PY
}

@test "--pixels segments raw pixel patches without a model: a white square on black is the foreground" {
    square_png sq.png
    run -0 scvae-segment --pixels 8 --method spectral --mask m.png sq.png
    run -0 jq -c '[.grid, .class_sizes, .foreground_fraction, .foreground_classes]' <<< "$output"
    assert_output '[[8,8],[48,16],0.25,[1]]'
    # the mask is the square, at the image's size (the image itself serves as the reference mask)
    run -0 bash -c "scvae-metrics --masks m.png sq.png | jq -c '.aggregate | [.count, .iou.mean]'"
    assert_output '[1,1]'
    run -0 bash -c "scvae-segment --pixels 4 --method kmeans -k 2 sq.png | jq -c '[.grid, .class_sizes]'"
    assert_output '[[16,16],[192,64]]'
    run -2 scvae-segment --pixels 8 -m "$TINY" sq.png
    assert_output --partial "--model does not apply"
    run -2 scvae-segment --pixels 6 sq.png
    assert_output --partial "power of two"
    run -2 scvae-segment --pixels 8
    assert_output --partial "needs images"
}

@test "--noise on a code stream is a usage error" {
    run -2 scvae-segment --noise 0.1 ab.scv
    assert_output --partial "--noise needs images as input"
}

@test "an overlay without its source image is a clear error; --images finds it" {
    mkdir pics && mv a.png b.png pics/
    run -1 --separate-stderr scvae-segment --overlay 'v-{stem}.png' ab.scv
    assert_equal "$stderr" "scvae-segment: overlay: source image 'a.png' not found (use --images DIR to say where the images are)"
    assert_no_file v-a.png
    run -0 scvae-segment --overlay 'v-{stem}.png' --images pics ab.scv
    [[ -s v-a.png && -s v-b.png ]]
}

@test "k larger than the grid, an empty stream, and bad options" {
    cells=$(scvae-encode -m "$TINY" --json a.png | jq '.grid.h * .grid.w')
    run -1 scvae-segment -k $((cells + 1)) ab.scv
    assert_output "scvae-segment: a.png: k ($((cells + 1))) is larger than the number of grid cells ($cells)"
    run -1 bash -c "scvae-segment < /dev/null"
    assert_output "scvae-segment: <stdin>: no code records (empty stream)"
    run -2 scvae-segment --method watershed ab.scv
    assert_output --partial "expected kmeans or spectral"
    run -2 scvae-segment -k 1 ab.scv
    run -2 scvae-segment -o mask.png ab.scv
    assert_output --partial "more than one image to write"
    rm -f mask.png
    run -2 scvae-segment -m "$TINY" --mask mask.png a.png b.png
    assert_output --partial "more than one image to write"
    assert_no_file mask.png
    run -2 scvae-segment -o 'mask-{stem}.bmp' ab.scv
    assert_output --partial "unknown image extension"
}

@test "a corrupt code stream is a data error naming the file" {
    head -c 100 ab.scv > cut.scv
    run -1 scvae-segment cut.scv
    assert_output --partial "cut.scv"
}

# squares_pgm FILE [MASK]: 64x64 grey, 8x8 cells: the left half dark (40), the right half grey (100), a 4x4-cell
# square in the middle lighter (166), each cell +0..12 by its index; MASK gets the square as a 0/255 mask.
squares_pgm() {
    python3 - "$@" <<'PY'
import sys
img, mask = bytearray(64 * 64), bytearray(64 * 64)
for y in range(64):
    for x in range(64):
        gy, gx = y // 8, x // 8
        square = 2 <= gy <= 5 and 2 <= gx <= 5
        img[y * 64 + x] = (166 if square else 40 if gx < 4 else 100) + ((gy * 8 + gx) % 5) * 3
        mask[y * 64 + x] = 255 if square else 0
open(sys.argv[1], "wb").write(b"P5\n64 64\n255\n" + bytes(img))
if len(sys.argv) > 2: open(sys.argv[2], "wb").write(b"P5\n64 64\n255\n" + bytes(mask))
PY
}

@test "--bandwidth: a narrow kernel (the default) finds the square a wide one merges with its side" {
    squares_pgm sq.pgm truth.pgm
    # default 0.25 x the median distance: the lighter square alone is foreground
    run -0 scvae-segment --pixels 8 --method spectral --mask narrow.png sq.pgm
    run -0 jq -c '[.bandwidth, .foreground_fraction]' <<<"$output"
    assert_output '[0.25,0.25]'
    run -0 scvae-metrics --masks narrow.png truth.pgm
    run -0 jq '.images[0].iou' <<<"$output"
    assert_output 1
    # as wide as the median (scvae 0.1): the square goes with the grey half
    run -0 scvae-segment --pixels 8 --method spectral --bandwidth 1 --mask wide.png sq.pgm
    run -0 jq -c '[.bandwidth, .foreground_fraction]' <<<"$output"
    assert_output '[1,0.625]'
    # k-means has no kernel: no bandwidth in its summary
    run -0 scvae-segment --pixels 8 -k 2 sq.pgm
    run -0 jq -c 'has("bandwidth")' <<<"$output"
    assert_output false
    for bad in 0 -1; do
        run -2 --separate-stderr scvae-segment --pixels 8 --method spectral --bandwidth "$bad" sq.pgm
        assert_equal "${stderr_lines[0]}" "scvae-segment: --bandwidth must be a positive number"
    done
    run -2 --separate-stderr scvae-segment --pixels 8 --method spectral --bandwidth wide sq.pgm
    [[ $stderr == *"--bandwidth"* ]] || fail "$stderr"
}

@test "--help lists every option of the man page" {
    run -0 scvae-segment --help
    for o in method classes iters redo seed bndcon-threshold bandwidth model noise output labels mask overlay images batch threads; do
        assert_output --partial -- "--$o"
        grep -q -- "\\\\-\\\\-${o//-/\\\\-}" "$SCVAE_SOURCE_DIR/man/scvae-segment.1" || fail "--$o missing from the man page"
    done
}

@test "a one-file -o pattern with a stream of several records fails and writes nothing" {
    cd "$BATS_TEST_TMPDIR"
    scvae-encode -o two.scv "$IMAGES/photo1.jpg" "$IMAGES/photo2.png"
    run -2 --separate-stderr scvae-segment -o one.png two.scv
    [[ $stderr == *"more than one image to write"* ]]
    assert_no_file one.png
    scvae-encode -o one.scv "$IMAGES/photo1.jpg"
    run -0 --separate-stderr scvae-segment -o one.png one.scv
    [[ -f one.png ]]
}

@test "a code stream that breaks after its first record: that record is segmented and written, then the error" {
    scvae-encode -m "$TINY" -o one.scv "$IMAGES/photo1.jpg"
    scvae-segment -t 1 -o 'one1-{index}.png' one.scv > one1.jsonl
    scvae-segment -t 3 -o 'one3-{index}.png' one.scv > one3.jsonl
    diff one1.jsonl one3.jsonl
    cmp one1-0.png one3-0.png
    { cat one.scv; head -c 300 one.scv; } > broken.scv
    for t in 1 3; do
        run -1 --separate-stderr scvae-segment -t $t -o "b$t-{index}.png" broken.scv
        assert_equal "$output" "$(cat one1.jsonl)"
        [[ $stderr == "scvae-segment: broken.scv: record 2: truncated record"* ]] || fail "$stderr"
        cmp b$t-0.png one1-0.png
        [[ ! -e b$t-1.png ]]
    done
}

@test "a record that cannot be segmented in a stream on image workers: its own message, the records before it only" {
    white_png big.png 272 272  # 68 x 68 = 4624 cells with the tiny model (factor 4): over spectral's 4096
    scvae-encode -m "$TINY" -o mix.scv a.png b.png big.png a.png
    run -1 --separate-stderr bash -c "scvae-segment -t 3 --method spectral -o 's-{index}.png' < mix.scv"
    assert_equal "${#lines[@]}" 2
    [[ $stderr == *"big.png: spectral segmentation of 4624 grid cells needs too much memory"* ]] || fail "$stderr"
    [[ $stderr != *future_error* ]]
    [[ -f s-0.png && -f s-1.png && ! -e s-2.png && ! -e s-3.png ]]
    # the same from a file
    rm -f s-*.png
    run -1 --separate-stderr scvae-segment -t 3 --method spectral -o 's-{index}.png' mix.scv
    assert_equal "${#lines[@]}" 2
    [[ $stderr == *"big.png: spectral segmentation of 4624 grid cells needs too much memory"* ]] || fail "$stderr"
    [[ -f s-0.png && -f s-1.png && ! -e s-2.png && ! -e s-3.png ]]
}
