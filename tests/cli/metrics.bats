#!/usr/bin/env bats
# scvae-metrics: pairing modes, reference values, output formats, --check, code statistics, masks, errors.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    M=$DATA/metrics
}

# near A B TOL: |A - B| <= TOL
near() {
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }' ||
        fail "expected $1 within $3 of $2"
}

@test "two folders: every metric matches the scikit-image reference values" {
    run -0 --separate-stderr scvae-metrics "$M/ref" "$M/dist"
    echo "$output" > report.json
    run -0 jq -r '.images | length' report.json
    assert_output 3
    for name in noise gray smooth64; do
        for key in psnr mse ssim ms_ssim; do
            got=$(jq -r --arg n "$M/ref/$name.png" --arg k "$key" '.images[] | select(.name == $n) | .[$k]' report.json)
            want=$(jq -r --arg n "$name" --arg k "$key" '.images[] | select(.name == $n) | .[$k]' "$M/ssim_reference.json")
            near "$got" "$want" 1e-4
        done
    done
    run -0 jq -r '.mode, .aggregate.count, .images[0].width, .images[0].height' report.json
    assert_equal "${lines[0]}" pairs
    assert_equal "${lines[1]}" 3
    assert_equal "${lines[2]}" 20   # gray.png comes first (sorted by name)
    assert_equal "${lines[3]}" 24
    # The aggregate is the mean of the three SSIMs.
    mean=$(jq -r '[.images[] | select(.name != "smooth180") | .ssim] | add / 3' "$M/ssim_reference.json")
    near "$(jq -r .aggregate.ssim.mean report.json)" "$mean" 1e-6
    near "$(jq -r .aggregate.ssim.std report.json)" 0.0531601 1e-6
}

@test "identical images: PSNR is reported as 100 dB, SSIM and MS-SSIM as 1" {
    run -0 scvae-metrics "$M/ref/noise.png" "$M/ref/noise.png"
    run -0 jq -r '.images[0] | [.psnr, .mse, .ssim, .ms_ssim] | @tsv' <<<"$output"
    assert_output "$(printf '100\t0\t1\t1')"
}

@test "two lists are paired by line; --metrics restricts the columns" {
    printf '%s\n' "$M/ref/noise.png" "# comment" "$M/ref/gray.png" > a.txt
    printf '%s\n' "$M/dist/noise.png" "$M/dist/gray.png" > b.txt
    run -0 scvae-metrics --metrics psnr,ssim --ref-list a.txt --dist-list b.txt
    run -0 jq -c '[.images[] | keys_unsorted] | .[0]' <<<"$output"
    assert_output '["name","reference","distorted","width","height","psnr","ssim"]'
    printf '%s\n' "$M/dist/noise.png" > short.txt
    run -1 scvae-metrics --ref-list a.txt --dist-list short.txt
    assert_output --partial "the lists differ in length (2 in a.txt, 1 in short.txt)"
}

@test "--tsv prints a table with (mean) and (std) rows" {
    run -0 scvae-metrics --tsv --metrics psnr,ssim "$M/ref" "$M/dist"
    assert_equal "${lines[0]}" "$(printf 'name\tpsnr\tssim')"
    assert_equal "${#lines[@]}" 6
    [[ ${lines[1]} == "$M/ref/gray.png"$'\t'26.8823* ]] || fail "row: ${lines[1]}"
    [[ ${lines[4]} == "(mean)"$'\t'* ]]
    [[ ${lines[5]} == "(std)"$'\t'* ]]
}

@test "--tsv is one rectangular table: names with tabs and newlines are escaped" {
    mkdir r d
    cp "$M/ref/gray.png" r/$'tab\there.png'
    cp "$M/dist/gray.png" d/$'tab\there.png'
    cp "$M/ref/gray.png" r/$'new\nline.png'
    cp "$M/dist/gray.png" d/$'new\nline.png'
    run -0 scvae-metrics --tsv --metrics psnr r d
    assert_equal "${#lines[@]}" 5
    run -0 bash -c "scvae-metrics --tsv --metrics psnr r d | awk -F'\t' '{print NF}' | sort -u"
    assert_output 2
    run -0 bash -c "scvae-metrics --tsv --metrics psnr r d | cut -f1"
    assert_line 'r/new\nline.png'
    assert_line 'r/tab\there.png'
}

@test "--summary prints one Table 1-style line" {
    run -0 scvae-metrics --summary "$M/ref" "$M/dist"
    assert_equal "${#lines[@]}" 1
    assert_output --regexp '^n=3  PSNR 26\.88  SSIM 0\.9[0-9]{3}  MS-SSIM 0\.9[0-9]{3}  MSE 133\.[0-9]{2}$'
}

@test "--check passes, fails with a message on stderr (exit 1), and refuses unknown metrics (exit 2)" {
    run -0 scvae-metrics --check 'psnr>=26,ssim>0.9' -o r.json "$M/ref" "$M/dist"
    [[ -s r.json ]]
    run -1 --separate-stderr scvae-metrics --check 'psnr>=30, ssim>=0.5, mse<=100' "$M/ref" "$M/dist"
    [[ -n $output ]] || fail "the report is still written"
    [[ $stderr == *"check failed: psnr = 26.87"*", wanted >= 30"* ]] || fail "$stderr"
    [[ $stderr == *"check failed: mse = 133."* ]] || fail "$stderr"
    [[ $stderr != *"ssim"* ]] || fail "ssim passed: $stderr"
    run -2 scvae-metrics --check 'iou>=0.5' "$M/ref" "$M/dist"
    assert_output --partial "'iou' is not computed here"
    run -2 scvae-metrics --check 'psnr~30' "$M/ref" "$M/dist"
    assert_output --partial "--check: expected METRIC>=VALUE"
}

@test "a folder of netpbm images pairs by name with a folder of PNGs" {
    mkdir pnm
    pngtopnm "$M/dist/noise.png" > pnm/noise.ppm
    pngtopnm "$M/dist/gray.png" > pnm/gray.pgm
    pngtopnm "$M/dist/smooth64.png" > pnm/smooth64.pnm
    run -0 bash -c "scvae-metrics --metrics psnr '$M/ref' '$M/dist' | jq -c '[.images[] | [.name, (.psnr * 1000 | round)]]'"
    want=$output
    run -0 bash -c "scvae-metrics --metrics psnr '$M/ref' pnm | jq -c '[.images[] | [.name, (.psnr * 1000 | round)]]'"
    assert_output "$want"
    run -0 jq -n "$output | length"
    assert_output 3
}

@test "errors: different sizes, missing partner, empty folder, one folder and one file" {
    run -1 scvae-metrics "$M/ref/noise.png" "$M/ref/gray.png"
    assert_output --partial "images differ in size (37x29x3 vs 20x24x3)"
    mkdir -p part empty
    cp "$M/dist/noise.png" "$M/dist/gray.png" part/
    run -1 scvae-metrics "$M/ref" part
    assert_output --regexp "scvae-metrics: part: no image named 'smooth64' to pair with .*/ref/smooth64.png"
    run -1 scvae-metrics part "$M/ref"
    assert_output --partial "no image named 'smooth64'"
    run -1 scvae-metrics empty "$M/ref"
    assert_output "scvae-metrics: empty: no PNG, JPEG or netpbm images in this folder"
    run -2 scvae-metrics "$M/ref" "$M/dist/noise.png"
    assert_output --partial "not one of each"
    run -2 scvae-metrics
    assert_output --partial "nothing to measure"
    run -2 scvae-metrics --metrics psnr,foo "$M/ref" "$M/dist"
    assert_output --partial "unknown metric 'foo'"
    run -2 scvae-metrics --tsv --summary "$M/ref" "$M/dist"
    run -1 scvae-metrics "$M/ref/noise.png" "$IMAGES/notimage.png"
    assert_output --partial "notimage.png"
}

@test "-o writes the report atomically; a failure leaves no file" {
    run -0 scvae-metrics -o out.json "$M/ref" "$M/dist"
    run -0 jq -r .aggregate.count out.json
    assert_output 3
    run -1 scvae-metrics -o bad.json "$M/ref/noise.png" "$M/ref/gray.png"
    assert_no_file bad.json
}

@test "--codes: Hoyer sparsity, zeros, atom usage and bits per pixel of a stream" {
    run -0 scvae-metrics --codes "$M/two.scv"
    echo "$output" > s.json
    run -0 jq -r '.codes | [.records, .vectors, .K, .atoms_used, .bytes, .pixels, .bpp] | @tsv' s.json
    assert_output "$(printf '2\t8\t6\t5\t260\t32\t65')"
    run -0 jq -c '.codes.atom_histogram' s.json
    assert_output '[1,1,4,0,1,1]'
    # Position 0 of a.png is (3, 4): Hoyer (sqrt6 - 7/5)/(sqrt6 - 1); the seven other vectors count 1.
    want=$(awk 'BEGIN { s = sqrt(6); printf "%.15f", ((s - 1.4) / (s - 1) + 7) / 8 }')
    near "$(jq -r .codes.hoyer.mean s.json)" "$want" 1e-9
    near "$(jq -r .codes.zero_fraction s.json)" 0.8333333333 1e-9
    near "$(jq -r .codes.nnz_per_vector s.json)" 1 1e-12
    run -0 jq -r '.codes.per_record | map(.source) | join(" ")' s.json
    assert_output "imgs/a.png imgs/b.png"
    # The JSON twin carries the same codes; its bpp counts its own bytes.
    run -0 bash -c "scvae-metrics --codes - < '$M/two.jsonl' | jq -r '.codes | [.atoms_used, .bytes] | @tsv'"
    assert_output "$(printf '5\t%d' "$(stat -c %s "$M/two.jsonl")")"
    run -0 scvae-metrics --summary --codes "$M/two.scv"
    assert_output "records=2  sparsity 96.6%  nnz/vector 1.00  atoms 5/6 (entropy 2.00 bits, perplexity 4.0, 1 dead)  bpp 65.0000"
    run -0 bash -c "scvae-metrics --codes '$M/two.scv' | jq -c '.codes | [.atoms_used, .dead_atoms, .atom_entropy_bits]'"
    assert_output "[5,1,2]"
    run -0 scvae-metrics --tsv --codes "$M/two.scv"
    assert_equal "${lines[0]}" "$(printf 'source\tvectors\thoyer\tnnz_per_vector\tbytes\tbpp\tatoms_used\tzero_fraction')"
    # one rectangular table: the set-level numbers are a last "(set)" row, in the header's columns
    run -0 bash -c "scvae-metrics --tsv --codes '$M/two.scv' | awk -F'\t' '{print NF}' | sort -u"
    assert_output 8
    run -0 bash -c "scvae-metrics --tsv --codes '$M/two.scv' | awk -F'\t' 'NR==1 {for (i=1;i<=NF;i++) c[\$i]=i} \$1==\"(set)\" {print \$c[\"atoms_used\"]}'"
    assert_output 5
    run -0 scvae-metrics --check 'atoms_used>=5,sparsity>0.9,bpp<70' --codes "$M/two.scv"
    run -1 scvae-metrics --check 'atoms_used>=6' --codes "$M/two.scv"
    assert_output --partial "check failed: atoms_used = 5, wanted >= 6"
}

@test "--codes errors: mixed models, empty and corrupt streams" {
    cat "$M/two.scv" "$M/other-model.scv" > mixed.scv
    run -1 scvae-metrics --codes mixed.scv
    assert_output --partial "mixed.scv: record 3: records of different models"
    : > empty.scv
    run -1 scvae-metrics --codes empty.scv
    assert_output "scvae-metrics: empty.scv: no records in the code stream"
    head -c 100 "$M/two.scv" > cut.scv
    run -1 scvae-metrics --codes cut.scv
    assert_output --partial "cut.scv: record 1"
    run -2 scvae-metrics --codes "$M/two.scv" --lpips-model x.pt
}

@test "--masks: IoU and Dice at 128x128 match the reference" {
    run -0 scvae-metrics --masks "$M/masks/pred" "$M/masks/gt"
    echo "$output" > m.json
    near "$(jq -r '.images[0].iou' m.json)" "$(jq -r .m1.iou "$M/masks/reference.json")" 1e-9
    near "$(jq -r '.images[0].dice' m.json)" "$(jq -r .m1.dice "$M/masks/reference.json")" 1e-9
    near "$(jq -r '.aggregate.iou.mean' m.json)" "$(jq -r .m1.iou "$M/masks/reference.json")" 1e-9
    run -0 jq -r .mode m.json
    assert_output masks
    run -0 scvae-metrics --masks --tsv "$M/masks/pred/m1.png" "$M/masks/pred/m1.png"
    assert_equal "${lines[1]}" "$(printf '%s\t1\t1' "$M/masks/pred/m1.png")"
    run -1 scvae-metrics --check 'iou>=0.9' --masks "$M/masks/pred" "$M/masks/gt"
    assert_output --partial "check failed: iou = 0.76"
}

@test "perceptual networks: a missing or invalid TorchScript file is a clear error" {
    run -1 scvae-metrics --lpips-model nosuch.pt "$M/ref" "$M/dist"
    assert_output --partial "nosuch.pt"
    run -1 scvae-metrics --fid-model "$M/two.scv" "$M/ref" "$M/dist"
    assert_output --partial "two.scv: not a TorchScript file"
}

@test "perceptual networks from TorchScript files: LPIPS per image, FID of the sets, wrong shapes refused" {
    [[ -f $M/lpips-l1.pt ]] || skip "TorchScript fixtures not generated"
    run -0 scvae-metrics --lpips-model "$M/lpips-l1.pt" --fid-model "$M/fid-meanstd.pt" "$M/ref" "$M/dist"
    echo "$output" > p.json
    # lpips-l1.pt is mean |x - y| on [-1,1] inputs: 2/255 x mean |difference| in levels.
    run -0 jq -r '[.images[].lpips] | map(. > 0.01 and . < 0.2) | all' p.json
    assert_output true
    run -0 jq -r '.aggregate.fid | . > 0' p.json
    assert_output true
    run -1 scvae-metrics --fid-model "$M/fid-spatial.pt" "$M/ref" "$M/dist"
    assert_output --partial "output shape [1, 3, 4, 4] is not [1, D] or [1, D, 1, 1]"
    run -1 scvae-metrics --lpips-model "$M/fid-meanstd.pt" "$M/ref" "$M/dist"
    assert_output --partial "fid-meanstd.pt"
}

@test "REF --codes: decoded records are compared by name, with code statistics (needs the tiny model)" {
    [[ -f $TINY ]] || skip "tests/data/tiny.scvm not present yet"
    mkdir refs
    cp "$IMAGES/photo1.jpg" "$IMAGES/photo2.png" refs/
    scvae-encode -o codes.scv refs/photo2.png refs/photo1.jpg
    run -0 scvae-metrics refs --codes codes.scv
    echo "$output" > r.json
    run -0 jq -r '(.images | length), .codes.records, (.codes.bpp > 0), (.aggregate.psnr.mean > 5)' r.json
    assert_output "$(printf '2\n2\ntrue\ntrue')"
    # The numbers are those of the decoded PNG files, to float rounding: scvae-decode runs the torch-free engine
    # and scvae-metrics the LibTorch networks (the same function; sums in another order), and a pixel near a
    # rounding edge may go to the other 8-bit level.
    mkdir dec
    scvae-decode -t 1 -o 'dec/{stem}.png' codes.scv
    run -0 scvae-metrics -t 1 --tsv --metrics psnr,ssim refs --codes codes.scv
    a=$(sort <<<"$output" | grep photo1)
    run -0 scvae-metrics --tsv --metrics psnr,ssim refs dec
    b=$(sort <<<"$output" | grep photo1)
    paste <(cut -f2-3 <<<"$a") <(cut -f2- <<<"$b") |
        awk -F'\t' '{ d1 = $1 - $3; d2 = $2 - $4; if (d1 < 0) d1 = -d1; if (d2 < 0) d2 = -d2
                      if (!(d1 < 1e-3 && d2 < 1e-4 && $1 > 5)) { print "differ: " $0; exit 1 } }' ||
        fail "--codes numbers differ from the decoded files': $a / $b"
    # A gray source is decoded and compared as gray, exactly like its decoded PNG.
    mkdir grefs gdec
    cp "$IMAGES/gray.jpg" grefs/
    scvae-encode -o g.scv grefs/gray.jpg
    scvae-decode -t 1 -o 'gdec/{stem}.png' g.scv
    run -0 scvae-metrics -t 1 --tsv grefs --codes g.scv
    a=$(sed -n 2p <<<"$output" | cut -f2-5)
    run -0 scvae-metrics --tsv grefs gdec
    assert_equal "$(sed -n 2p <<<"$output" | cut -f2-)" "$a"
    # A record without a reference image, and a reference without a record.
    rm refs/photo1.jpg
    run -1 scvae-metrics refs --codes codes.scv
    assert_output --partial "no reference image named 'photo1'"
    scvae-encode -o one.scv refs/photo2.png
    cp "$IMAGES/photo3.jpg" refs/
    run -1 scvae-metrics refs --codes one.scv
    assert_output --partial "no record for the reference image refs/photo3.jpg"
    # Codes of another model are refused; --force tries, and the shapes must still fit.
    run -1 scvae-metrics "$M/ref/noise.png" --codes "$M/other-model.scv"
    assert_output --partial "made by model ffeeddccbbaa9988"
    run -1 scvae-metrics --force --threads 1 --device cpu "$M/ref/noise.png" --codes "$M/other-model.scv"
    refute_output --partial "made by model"
    assert_output --partial "other-model.scv: record 1: "
    run -2 scvae-metrics --device tpu refs --codes codes.scv
}

@test "--help lists every option of the man page" {
    run -0 scvae-metrics --help
    for opt in --ref-list --dist-list --codes --masks --model --force --metrics --lpips-model --fid-model --tsv \
               --summary --check --output --threads --device; do
        assert_output --partial -- "$opt"
        grep -q -- "${opt//-/\\\\-}" "$SCVAE_SOURCE_DIR/man/scvae-metrics.1" || fail "$opt missing from the man page"
    done
}
