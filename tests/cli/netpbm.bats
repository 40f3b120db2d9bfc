#!/usr/bin/env bats
# Images in and out as netpbm users expect: PPM/PGM/PAM input (8 and 16 bit), several images concatenated on
# stdin (netpbm streams, and PNG/JPEG files joined by cat), netpbm output (one image per record, concatenated),
# and folders as inputs. Uses the real netpbm programs (Debian's netpbm, installed by scripts/setup.sh).

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    command -v pnmtopng >/dev/null || fail "netpbm is not installed (scripts/setup.sh installs it)"
}

# same_codes A.jsonl B.jsonl: every record has the same header (but the source name), the same CSR structure,
# and values within 1e-5 of each other (relative to the record's largest value).
same_codes() {
    jq -n --slurpfile a "$1" --slurpfile b "$2" '
        ($a | length) == ($b | length) and
        ([range($a | length)] | all(. as $i | $a[$i] as $x | $b[$i] as $y |
            ($x | del(.source, .crc32, .values)) == ($y | del(.source, .crc32, .values)) and
            ([$x.values[] | fabs] | max // 0) as $m |
            ([range($x.values | length)] | all(. as $k | (($x.values[$k] - $y.values[$k]) | fabs) <= 1e-5 * ($m + 1)))))' \
        | grep -qx true
}

@test "a P6 image gives the same codes as the PNG of the same pixels; a 16-bit P5 as the 16-bit PNG" {
    pngtopnm "$IMAGES/photo2.png" > p.ppm
    [[ $(head -c 2 p.ppm) == P6 ]]
    scvae-encode -t 1 --json "$IMAGES/photo2.png" > png.jsonl
    scvae-encode -t 1 --json p.ppm > ppm.jsonl
    same_codes png.jsonl ppm.jsonl
    # the check can fail: another image's codes differ
    scvae-encode -t 1 --json "$IMAGES/photo64.png" > other.jsonl
    ! same_codes png.jsonl other.jsonl
    pngtopnm "$IMAGES/gray16.png" > g.pgm
    [[ $(head -c 2 g.pgm) == P5 ]] && grep -aq 65535 <(head -c 20 g.pgm)
    scvae-encode -t 1 --json "$IMAGES/gray16.png" > g16png.jsonl
    scvae-encode -t 1 --json g.pgm > g16pgm.jsonl
    same_codes g16png.jsonl g16pgm.jsonl
    [[ $(jq .image.channels g16pgm.jsonl) == 1 ]]
    # PAM with alpha (pngtopam -alpha) encodes as the RGBA PNG does (alpha over white)
    pngtopam -alphapam "$IMAGES/rgba.png" > a.pam
    [[ $(head -c 2 a.pam) == P7 ]]
    scvae-encode -t 1 --json "$IMAGES/rgba.png" > rgba.jsonl
    scvae-encode -t 1 --json a.pam > pam.jsonl
    same_codes rgba.jsonl pam.jsonl
}

@test "jpegtopnm x.jpg | pnmscale 0.5 | scvae-encode - | scvae-decode -o - --format pnm | pnmtopng > y.png" {
    run -0 bash -c "set -o pipefail; jpegtopnm '$IMAGES/photo1.jpg' | pnmscale 0.5 | scvae-encode - \
        | scvae-decode -o - --format pnm | pnmtopng > y.png"
    run -0 png_size y.png
    assert_output "64 64"
    # the source of a single image on stdin is "-", as before
    run -0 bash -c "jpegtopnm '$IMAGES/photo1.jpg' 2>/dev/null | scvae-encode --json - | jq -r .source"
    [[ $output == "-" ]] || fail "source '$output'"
}

@test "several images concatenated on stdin: PNG and JPEG files joined by cat, netpbm streams, any mix" {
    run -0 bash -c "cat '$IMAGES/photo1.jpg' '$IMAGES/photo2.png' '$IMAGES/photo3.jpg' | scvae-encode --json - \
        | jq -r '[.source, .image.width, .image.height] | @tsv'"
    assert_output "$(printf 'stdin-0001\t128\t128\nstdin-0002\t96\t96\nstdin-0003\t%s\n' \
        "$(jpegtopnm "$IMAGES/photo3.jpg" 2>/dev/null | pamfile | awk '{print $4 "\t" $6}')")"
    # the records are those of the images one by one
    for f in photo1.jpg photo2.png; do scvae-encode -t 1 --json "$IMAGES/$f"; done > one-by-one.jsonl
    cat "$IMAGES/photo1.jpg" "$IMAGES/photo2.png" | scvae-encode -t 1 --json - > cat.jsonl
    same_codes one-by-one.jsonl cat.jsonl
    # a netpbm stream, and a mix with whitespace between images
    { jpegtopnm "$IMAGES/photo1.jpg"; pngtopnm "$IMAGES/gray16.png"; } 2>/dev/null > stream.pnm
    run -0 bash -c "scvae-encode --json - < stream.pnm | jq -c '[.source, .image.channels]'"
    assert_output "$(printf '["stdin-0001",3]\n["stdin-0002",1]')"
    run -0 bash -c "{ cat stream.pnm; echo; cat '$IMAGES/photo2.png'; } | scvae-encode --json -t 2 - | jq -r .source"
    assert_output "$(printf 'stdin-0001\nstdin-0002\nstdin-0003')"
    # a named netpbm file may hold a stream too; its images are named after it
    run -0 bash -c "scvae-encode --json stream.pnm | jq -r .source"
    assert_output "$(printf 'stream-0001.pnm\nstream-0002.pnm')"
    # decoding with {stem} gives one file per image
    scvae-encode -o s.scv - < stream.pnm
    scvae-decode -o 'out/{stem}.png' s.scv
    run -0 ls out
    assert_output "$(printf 'stdin-0001.png\nstdin-0002.png')"
}

@test "decode writes netpbm: a stream of every record on stdout or in one file, or a file per record" {
    scvae-encode -o three.scv "$IMAGES/photo1.jpg" "$IMAGES/gray.jpg" "$IMAGES/gradient.png"
    scvae-decode -o - --format pnm three.scv > all.pnm
    run -0 pamfile -allimages all.pnm
    assert_line --index 0 --partial "PPM raw, 128 by 128  maxval 255"
    assert_line --index 1 --partial "PGM raw"
    assert_line --index 2 --partial "PPM raw, 64 by 48  maxval 255"
    assert_equal "${#lines[@]}" 3
    # one .ppm file holds the same stream
    scvae-decode -o all.ppm three.scv
    cmp all.pnm all.ppm
    # the pixels are those of the PNG output
    scvae-decode -o 'png/{index}.png' three.scv
    pngtopnm png/2.png > from-png.ppm
    pnmsplit all.pnm 'split-%d.pnm' 2>/dev/null
    cmp from-png.ppm split-2.pnm
    # a file per record, and P7 by the .pam extension (or --format pam)
    scvae-decode -o 'f/{index}.ppm' three.scv
    [[ $(head -c 2 f/0.ppm) == P6 && $(head -c 2 f/1.ppm) == P5 ]]
    scvae-decode -o - --format pam three.scv > all.pam
    run -0 bash -c "pamfile -allimages all.pam | grep -c 'Image .*PAM'"
    assert_output 3
    # -o - is still one PNG by default, and says how to get a stream
    run -1 --separate-stderr scvae-decode -o - three.scv
    [[ $stderr == *"more than one record"*"--format pnm"* ]] || fail "$stderr"
    scvae-encode -o one.scv "$IMAGES/photo1.jpg"
    scvae-decode -o - --format jpeg one.scv > one.jpg
    [[ $(head -c 3 one.jpg | od -An -tx1 | tr -d ' ') == ffd8ff ]]
}

@test "decode --format: bad values and file outputs are usage errors; netpbm is never written to a terminal" {
    scvae-encode -o one.scv "$IMAGES/photo1.jpg"
    run -2 scvae-decode -o - --format gif one.scv
    assert_output --partial "--format: expected png, jpeg, pnm or pam, not 'gif'"
    run -2 scvae-decode -o x.png --format pnm one.scv
    assert_output --partial "--format applies to -o - only"
    assert_no_file x.png
    run -2 scvae-decode -o x.pbm one.scv
    assert_output --partial "x.pbm: unknown image extension (use .png, .jpg, .jpeg, .ppm, .pgm, .pnm or .pam)"
    command -v script >/dev/null || skip "script(1) not installed"
    run script -qec "scvae-decode -o - --format pnm one.scv" /dev/null
    assert_output --partial "refusing to write an image to a terminal"
}

@test "scvae-encode takes folders: searched recursively, sorted, images by extension" {
    mkdir -p d/b/deeper d/a empty
    cp "$IMAGES/photo1.jpg" d/b/deeper/z.jpg
    cp "$IMAGES/photo2.png" d/a/x.PNG
    pngtopnm "$IMAGES/gradient.png" > d/b/y.ppm
    echo "notes" > d/readme.txt
    run -0 bash -c "scvae-encode --json d | jq -r .source"
    assert_output "$(printf 'd/a/x.PNG\nd/b/deeper/z.jpg\nd/b/y.ppm')"
    run -0 bash -c "printf 'd/b\n' | scvae-encode --json --files-from - | jq -r .source"
    assert_output "$(printf 'd/b/deeper/z.jpg\nd/b/y.ppm')"
    run -1 --separate-stderr scvae-encode -o x.scv empty
    assert_equal "$stderr" "scvae-encode: empty: no PNG, JPEG or netpbm images in this folder"
    assert_no_file x.scv
}

@test "bad input in a stream: a clear message naming the image, exit 1, no output; --keep-going goes on" {
    run -1 --separate-stderr bash -c "cat '$IMAGES/notimage.png' | scvae-encode -o x.scv -"
    assert_equal "$stderr" "scvae-encode: <stdin>: not a PNG, JPEG or netpbm file"
    assert_no_file x.scv
    run -1 --separate-stderr bash -c "cat '$IMAGES/photo1.jpg' '$IMAGES/truncated.png' | scvae-encode -o x.scv -"
    [[ $stderr == "scvae-encode: <stdin>: image 2: truncated or corrupt PNG file"* ]] || fail "$stderr"
    assert_no_file x.scv
    run -1 --separate-stderr bash -c "cat '$IMAGES/photo1.jpg' '$IMAGES/truncated.png' | scvae-encode -k -o x.scv -"
    [[ $stderr == *"1 of 2 images could not be encoded"* ]] || fail "$stderr"
    run -0 bash -c "scvae-decode -o 'k/{stem}.png' x.scv && ls k"
    assert_output "stdin-0001.png"
    # a cut netpbm raster, a plain (ASCII) netpbm file
    jpegtopnm "$IMAGES/photo1.jpg" 2>/dev/null | head -c 1000 > cut.ppm
    run -1 --separate-stderr scvae-encode -o x.scv cut.ppm
    assert_equal "$stderr" "scvae-encode: cut.ppm: truncated netpbm file (expected 49152 bytes of pixels, got 985)"
    jpegtopnm "$IMAGES/photo1.jpg" 2>/dev/null | pamtopnm -plain > plain.ppm
    run -1 --separate-stderr scvae-encode -o x.scv plain.ppm
    [[ $stderr == *"plain.ppm: plain (ASCII) netpbm P3 is not supported"* ]] || fail "$stderr"
    # bytes after the last image that start no image are reported, not silently taken
    run -0 --separate-stderr bash -c "{ cat '$IMAGES/photo1.jpg'; echo trailing junk; } | scvae-encode -o x.scv -"
    [[ $stderr == "scvae-encode: <stdin>: ignored 14 bytes after image 1 that start no PNG, JPEG or netpbm image" ]] \
        || fail "$stderr"
    [ -s x.scv ]
}

@test "--format and netpbm names are in --help, the man pages and the bash and zsh completions" {
    run -0 scvae-decode --help
    assert_output --partial "-F, --format"
    run -0 scvae-encode --help
    assert_output --partial "IMAGE|FOLDER..."
    grep -q -- '-\\-format' "$SCVAE_SOURCE_DIR/man/scvae-decode.1"
    grep -q 'P7' "$SCVAE_SOURCE_DIR/man/scvae-encode.1"
    grep -q -- '--format' "$SCVAE_SOURCE_DIR/completions/_scvae-decode"
    grep -q 'ppm' "$SCVAE_SOURCE_DIR/completions/_scvae-encode"
    # shellcheck source=/dev/null
    source "$SCVAE_SOURCE_DIR/completions/scvae.bash"
    touch a.ppm b.pgm c.PAM d.gif
    COMP_WORDS=(scvae-encode '') COMP_CWORD=1 COMPREPLY=()
    _scvae_encode
    assert_equal "$(printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ')" "a.ppm b.pgm c.PAM "
    COMP_WORDS=(scvae-decode -o - --format p) COMP_CWORD=4 COMPREPLY=()
    _scvae_decode
    assert_equal "${COMPREPLY[*]}" "png pnm pam"
}
