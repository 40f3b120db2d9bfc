#!/usr/bin/env bats
# Hostile input (issue 16), replayed on every tool: edited record headers, huge values and sizes, odd output
# targets (devices, FIFOs, links, an input), odd file names, and signals. Every case must end in the
# documented exit code with one line naming the file - never a crash, a huge allocation or a clobbered file.
# Model files with hostile headers are covered by tests/unit/test_model.cpp (ModelFile.HostileHeaders).

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    scvae-encode -m "$TINY" --json -o a.jsonl "$IMAGES/photo1.jpg"
}

# hostile FILTER > FILE: the record of a.jsonl edited with the jq FILTER, its checksum dropped
hostile() { jq -c "$1 | del(.crc32)" a.jsonl; }

# every_reader FILE MESSAGE: each tool that reads codes refuses FILE with exit 1 and exactly MESSAGE
# (after the tool's name), writing nothing
every_reader() {
    local file=$1 message=$2
    run -1 --separate-stderr scvae-decode -o out.png "$file"
    assert_equal "$stderr" "scvae-decode: $message"
    run -1 --separate-stderr scvae-edit -o out.scv "$file"
    assert_equal "$stderr" "scvae-edit: $message"
    run -1 --separate-stderr scvae-cluster -k 2 -o out.jsonl "$file"
    assert_equal "$stderr" "scvae-cluster: $message"
    run -1 --separate-stderr scvae-cluster -k 2 --mosaic out-mosaic.png -o out.jsonl "$file"
    assert_equal "$stderr" "scvae-cluster: $message"
    run -1 --separate-stderr scvae-segment -k 2 -o 'seg_{index}.png' "$file"
    assert_equal "$stderr" "scvae-segment: $message"
    run -1 --separate-stderr scvae-metrics --codes "$file"
    assert_equal "$stderr" "scvae-metrics: $message"
    assert_no_file out.png
    assert_no_file out.scv
    assert_no_file out.jsonl
    assert_no_file out-mosaic.png
    assert_no_file seg_0.png
}

@test "header fields outside their documented ranges are refused by every reader" {
    # d >= 32 once made the pixel->cell shift undefined (an out-of-bounds read in segment)
    hostile '.d=32 | .image.width=1 | .image.height=10000000' > h.jsonl
    every_reader h.jsonl "h.jsonl: record 1: d=32 out of range (0..16)"
    hostile '.d=64' > h.jsonl
    every_reader h.jsonl "h.jsonl: record 1: d=64 out of range (0..16)"
    hostile '.n=0' > h.jsonl
    every_reader h.jsonl "h.jsonl: record 1: n=0 out of range (1..65536)"
    hostile '.image.channels=2' > h.jsonl
    every_reader h.jsonl "h.jsonl: record 1: image channels 2 out of range (1 or 3)"
    hostile '.image.width=0' > h.jsonl
    every_reader h.jsonl "h.jsonl: record 1: image size 0x128 out of range (1..100000000 pixels)"
    # a grid that does not cover the image (d=1000 acted as d=8 in the mosaic)
    hostile '.d=3' > h.jsonl
    every_reader h.jsonl "h.jsonl: record 1: grid 32x32 does not fit image size 128x128 with padding 0,0 for d=3"
    hostile '.pad.right=4 | .image.width=124' > h.jsonl
    every_reader h.jsonl "h.jsonl: record 1: grid 32x32 does not fit image size 124x128 with padding 4,0 for d=2"
    # a row_ptr that rises beyond nnz and falls back (fuzz_codes_binary: the reader read past the indices)
    hostile '.row_ptr[1] = (.indices | length) + 3' > h.jsonl
    every_reader h.jsonl "h.jsonl: record 1: row_ptr exceeds nnz $(jq '.indices | length' a.jsonl) at position 0"
    f=$DATA/fuzz/fuzz_codes_binary/regress-row-ptr-beyond-nnz.scv
    every_reader "$f" "$f: record 1: row_ptr exceeds nnz 6 at position 3"
    # the binary encoding is checked by the same reader
    hostile '.d=32' | scvae-edit -o h.scv 2> /dev/null && fail "scvae-edit wrote a record with d=32"
    assert_no_file h.scv
}

@test "huge finite code values are refused where they enter, not inside FAISS (was exit 134)" {
    hostile '.values |= map(. * 1e20)' > h.jsonl
    run -1 --separate-stderr scvae-cluster -k 2 h.jsonl
    [[ $stderr == "scvae-cluster: h.jsonl: record 1: value out of range ("*", |value| at most 1e15) at position "* ]]
    run -1 --separate-stderr scvae-segment -k 2 h.jsonl
    [[ $stderr == "scvae-segment: h.jsonl: record 1: value out of range ("*"at position "* ]]
    run -1 --separate-stderr scvae-metrics --codes h.jsonl
    [[ $stderr == "scvae-metrics: h.jsonl: record 1: value out of range ("*"at position "* ]]
    # the same in binary records whose checksum was fixed up (the issue's 1e19, 1e30, 3e38), for every reader
    for v in 1e19 1e30 3e38; do
        f=$DATA/fuzz/fuzz_codes_binary/regress-values-$v.scv
        for tool in "scvae-decode -o out.png" "scvae-edit -o out.scv" "scvae-cluster -k 2 -o out.jsonl" \
                    "scvae-segment -k 2" "scvae-segment --method spectral" "scvae-metrics --codes"; do
            run -1 --separate-stderr $tool "$f"
            [[ $stderr == "${tool%% *}: $f: record 1: value out of range ("*", |value| at most 1e15) at position "* ]] ||
                fail "$tool $v: $stderr"
        done
    done
    assert_no_file out.png
    assert_no_file out.scv
    assert_no_file out.jsonl
    # up to the bound, values are clustered with finite distances
    hostile '.values |= map(if . > 0 then 1e15 else -1e15 end)' > big.jsonl
    run -0 --separate-stderr scvae-cluster -k 2 big.jsonl
    run -0 jq -s 'map(.distance | isinfinite or isnan) | any' <<< "$output"
    assert_output false
    # ... and segmented (k-means and spectral) and measured, with valid JSON out
    for tool in "scvae-segment -k 2" "scvae-segment --method spectral" "scvae-metrics --codes"; do
        run -0 --separate-stderr bash -c "$tool big.jsonl | jq -c ."
    done
    # edits cannot create values out of range
    for edit in --set --add --scale; do
        run -1 --separate-stderr scvae-edit $edit 0=1e30 -o e.scv big.jsonl
        [[ $stderr == *"the edit of atom 0 gives a value out of range (|value| at most 1e15)" ]]
        assert_no_file e.scv
    done
    run -2 --separate-stderr scvae-edit --traverse 0 --from 0 --to 1e20 -o e.scv a.jsonl
    [[ ${stderr_lines[0]} == *"code values lie within -1e15..1e15" ]]
    assert_no_file e.scv
}

@test "centroid files with values beyond the bound are refused (were assigned with distance inf, invalid JSON)" {
    f=$DATA/fuzz/fuzz_centroids/regress-values-1e30.scvk
    run -1 --separate-stderr scvae-cluster --centroids "$f" -o c.jsonl a.jsonl
    assert_equal "$stderr" "scvae-cluster: $f: centroid 0: value out of range (|value| at most 2e15)"
    assert_no_file c.jsonl
    # centroids trained here and saved are read back and give finite distances
    run -0 scvae-cluster -k 2 --save-centroids c.scvk -o /dev/null a.jsonl
    run -0 bash -c "scvae-cluster --centroids c.scvk a.jsonl | jq -s 'map(.distance | isinfinite or isnan) | any'"
    assert_output false
}

@test "configs out of range, or of a network too large for any machine, are refused before allocating" {
    for c in '{"preset":"tiny","n":262144}' '{"preset":"tiny","K":65536}' '{"preset":"tiny","steps":0}' \
             '{"preset":"tiny","channels":5000}' '{"preset":"tiny","ch_mult":[1,1,1,1,1,1,1,1,1,1,1,1]}' \
             '{"preset":"tiny","alpha":1e300}' '{"preset":"tiny","channels":18446744073709551615}'; do
        echo "$c" > c.json
        run -1 --separate-stderr scvae-model init --config c.json -o m.scvm
        [[ $stderr == "scvae-model: "*"model config: "* ]] || fail "$c: $stderr"
        assert_no_file m.scvm
    done
    # each field in range, 1e12 parameters in all: refused from the config, under a 2.5 GB address space limit
    echo '{"channels":4096,"ch_mult":[64,64,64,64],"n":65536,"K":65535}' > c.json
    run -1 --separate-stderr bash -c "ulimit -v 2500000; scvae-model init --config c.json -o m.scvm"
    [[ $stderr == *"model config: the network would have "*" parameters (at most 2147483648)" ]] || fail "$stderr"
    run -1 --separate-stderr bash -c "ulimit -v 2500000; scvae-train --config c.json --steps 1 -o run $IMAGES"
    [[ $stderr == *"model config: the network would have "*" parameters (at most 2147483648)" ]] || fail "$stderr"
    assert_no_file m.scvm
}

@test "a few bytes cannot make a tool allocate gigabytes (under ulimit -v)" {
    # LIMIT KB of address space: what the tools map at rest (LibTorch, FAISS, thread stacks) plus about 1.5 GB;
    # before the fixes each case below took 2-6 GB more than that.
    limit=2500000
    # d=11 once made scvae-segment allocate 4.1 GB for a 1,775-byte record: the image size is now bounded
    hostile '.d=11 | .image.width=65536 | .image.height=65536' > h.jsonl
    run -1 --separate-stderr bash -c "ulimit -v $limit; timeout 300 scvae-segment -k 2 -o 'seg_{index}.png' h.jsonl"
    assert_equal "$stderr" "scvae-segment: h.jsonl: record 1: image size 65536x65536 out of range (1..100000000 pixels)"
    # K = 65536 (157 bytes of record) made scvae-cluster allocate 2.25 GB in its assignment buffer
    hostile '.K=65536' > k.jsonl
    run -0 --separate-stderr bash -c "ulimit -v $limit; timeout 300 scvae-cluster -k 2 k.jsonl | wc -l"
    assert_output 1024
    # a 256x256 grid with K=4096 and no nonzeros (262 KB) made scvae-segment take 2.26 GB
    jq -nc '{format:"scvae-codes",version:"1.0",fingerprint:"0123456789abcdef",n:16,K:4096,d:2,source:"big",
             image:{width:1024,height:1024,channels:3},pad:{right:0,bottom:0},grid:{h:256,w:256},
             row_ptr:[range(65537)|0],indices:[],values:[]}' > g.jsonl
    run -0 --separate-stderr bash -c "ulimit -v $limit; timeout 300 scvae-segment -k 2 g.jsonl"
    run -0 jq -c '.class_sizes | add' <<< "$output"
    assert_output 65536
    # spectral clustering is N^2 in the grid cells: a large grid is refused, not allocated
    run -1 --separate-stderr bash -c "ulimit -v $limit; timeout 300 scvae-segment --method spectral g.jsonl"
    assert_equal "$stderr" "scvae-segment: big: spectral segmentation of 65536 grid cells needs too much memory (at most 4096 cells; use --method kmeans)"
    # a mosaic of 2^d-pixel patches beyond the image limit is refused before it is drawn (d=12: 5.9 GB)
    hostile '.d=12 | .image.width=4096 | .image.height=8192 | .grid={h:2,w:1} | .row_ptr=[0,1,2] |
             .indices=[0,1] | .values=[1,2] | del(.nnz)' > m.jsonl
    run -1 --separate-stderr bash -c "ulimit -v $limit; timeout 300 scvae-cluster -k 2 --mosaic mosaic.png -o c.jsonl m.jsonl"
    # (65570 = 2 + 16 x 4098 pixels of patches, plus 35 for the row labels "0 n=1")
    assert_equal "${stderr_lines[-1]}" "scvae-cluster: mosaic.png: a mosaic of 65605x8198 pixels is too large (limit 100000000 pixels); use fewer --rows or --per-row, or a smaller --patch-scale"
    assert_no_file mosaic.png
    assert_no_file c.jsonl
}

@test "-o writes through to FIFOs and devices, and follows symbolic links" {
    scvae-encode -m "$TINY" -o a.scv "$IMAGES/photo1.jpg"
    # a FIFO stays a FIFO, and what is written arrives at its reader
    mkfifo fifo
    for tool in "scvae-encode -m $TINY $IMAGES/photo1.jpg" "scvae-edit a.scv" "scvae-cluster -k 2 a.scv" \
                "scvae-metrics --codes a.scv"; do
        timeout 60 cat fifo > got &
        run -0 $tool -o fifo
        wait
        [[ -p fifo ]] || fail "$tool replaced the FIFO"
        [[ -s got ]] || fail "$tool wrote nothing into the FIFO"
    done
    # a character device stays a device (a node made here: /dev/null's numbers)
    if mknod null c 1 3 2> /dev/null; then
        run -0 scvae-encode -m "$TINY" -o null "$IMAGES/photo1.jpg"
        run -0 scvae-cluster -k 2 -o null a.scv
        [[ -c null ]] || fail "the device node was replaced"
    fi
    # a symbolic link stays a link; the file it points to gets the output
    mkdir sub
    ln -s sub/target.scv link.scv
    run -0 scvae-encode -m "$TINY" -o link.scv "$IMAGES/photo1.jpg"
    [[ -L link.scv ]] || fail "the link was replaced by a file"
    cmp a.scv sub/target.scv
    run -0 scvae-edit -o link.scv a.scv
    [[ -L link.scv ]]
    cmp a.scv sub/target.scv
    assert_no_file sub/target.scv.tmp
    [[ -z $(compgen -G 'sub/*.tmp.*') ]]
}

@test "-o naming an input is refused (also through a link or a hard link), and the input is kept" {
    cp "$IMAGES/photo1.jpg" same.jpg
    cp same.jpg keep.jpg
    run -1 --separate-stderr scvae-encode -m "$TINY" -o same.jpg same.jpg
    assert_equal "$stderr" "scvae-encode: same.jpg: is the input same.jpg; refusing to overwrite an input"
    cmp same.jpg keep.jpg
    ln same.jpg hard.jpg
    ln -s same.jpg soft.jpg
    run -1 scvae-encode -m "$TINY" -o hard.jpg same.jpg
    run -1 scvae-encode -m "$TINY" -o same.jpg soft.jpg
    cmp same.jpg keep.jpg
    scvae-encode -m "$TINY" -o c.scv same.jpg
    cp c.scv c.keep
    run -1 --separate-stderr scvae-cluster -k 2 -o c.scv c.scv
    assert_equal "$stderr" "scvae-cluster: c.scv: is the input c.scv; refusing to overwrite an input"
    run -1 scvae-cluster -k 2 --save-centroids c.scv c.scv
    run -1 --separate-stderr scvae-metrics --codes c.scv -o c.scv
    assert_equal "$stderr" "scvae-metrics: c.scv: is the input c.scv; refusing to overwrite an input"
    run -1 scvae-edit -o c.scv c.scv
    cmp c.scv c.keep
    run -1 scvae-segment -m "$TINY" -k 2 -o same.jpg same.jpg
    run -1 scvae-metrics -o same.jpg same.jpg keep.jpg
    cmp same.jpg keep.jpg
}

@test "file names pass through whole: commas, spaces, newlines, leading dashes, non-UTF-8 bytes" {
    names=('IMG 1, 2.jpg' $'new\nline.jpg' '-dash.jpg' 'a,b,c.jpg' $'bad\xff\xfe.jpg')
    for name in "${names[@]}"; do
        cp -- "$IMAGES/photo1.jpg" "$name"
        run -0 --separate-stderr scvae-encode -m "$TINY" -o codes.scv -- "$name"
        # the same names for code streams, for every tool that reads them
        cp -- codes.scv "$name.scv"
        run -0 --separate-stderr scvae-decode -o out.png -- "$name.scv"
        run -0 --separate-stderr scvae-edit -o edited.scv -- "$name.scv"
        cmp codes.scv edited.scv
        run -0 --separate-stderr scvae-cluster -k 2 -o c.jsonl -- "$name.scv" "$name.scv"
        run -0 jq -s length c.jsonl
        assert_output 2048
        run -0 --separate-stderr scvae-segment -k 2 -o seg.png -- "$name.scv"
        [[ -f seg.png ]]
        run -0 --separate-stderr scvae-metrics -- "$name" out.png
        run -0 --separate-stderr scvae-metrics --codes "$name.scv"
        rm -f -- c.jsonl seg.png out.png codes.scv edited.scv
    done
    # the source name of a UTF-8 name is the name itself
    run -0 bash -c "scvae-encode -m '$TINY' --json -- 'IMG 1, 2.jpg' | jq -r .source"
    assert_output "IMG 1, 2.jpg"
    cp -- "$TINY" 'tiny, copy.scvm'
    run -0 scvae-model info -- 'tiny, copy.scvm'
    assert_line -n 0 --partial "tiny, copy.scvm"
}

@test "non-UTF-8 source names come out as valid JSON with U+FFFD in every tool" {
    name=$'bad\xff.jpg'
    cp "$IMAGES/photo1.jpg" "$name"
    scvae-encode -m "$TINY" -o b.scv "$name"
    # the binary stream keeps the bytes; every JSON writer replaces the bad byte
    run -0 bash -c "scvae-cluster -k 2 b.scv | jq -r .source | sort -u"
    assert_output $'bad\xef\xbf\xbd.jpg'
    run -0 bash -c "scvae-segment -k 2 b.scv | jq -r .source"
    assert_output $'bad\xef\xbf\xbd.jpg'
    run -0 bash -c "scvae-metrics --codes b.scv | jq -r '.codes.per_record[0].source'"
    assert_output $'bad\xef\xbf\xbd.jpg'
    run -0 bash -c "scvae-edit --json b.scv | jq -r .source"
    assert_output $'bad\xef\xbf\xbd.jpg'
}

# signal_leaves_nothing SIG STATUS TOOL...: TOOL (blocked on a FIFO input with its output open) killed by SIG
# ends with STATUS and leaves no temporary file behind
signal_leaves_nothing() {
    local sig=$1 status=$2
    shift 2
    rm -f in.fifo && mkfifo in.fifo
    "$@" &
    local pid=$! i
    for ((i = 0; i < 200; i++)); do
        [[ -n $(compgen -G 'out.*.tmp.*') ]] && break
        sleep 0.05
    done
    [[ -n $(compgen -G 'out.*.tmp.*') ]] || fail "no temporary output appeared"
    kill -s "$sig" $pid
    local rc=0
    wait $pid || rc=$?
    assert_equal "$rc" "$status"
    [[ -z $(compgen -G 'out.*') ]] || fail "left behind: $(compgen -G 'out.*')"
}

@test "SIGTERM and SIGHUP remove temporary outputs (encode, edit)" {
    signal_leaves_nothing TERM 143 scvae-encode -m "$TINY" -o out.scv in.fifo
    signal_leaves_nothing HUP 129 scvae-encode -m "$TINY" -o out.scv in.fifo
    signal_leaves_nothing TERM 143 scvae-edit -o out.scv in.fifo
}

@test "records of one fingerprint that differ in K are reported as such, not as two models" {
    fp=$(jq -r .fingerprint a.jsonl)
    { cat a.jsonl; hostile '.K=64'; } > mixed.jsonl
    run -1 --separate-stderr scvae-metrics --codes mixed.jsonl
    assert_equal "$stderr" "scvae-metrics: mixed.jsonl: record 2: records of model $fp with different K in one stream (K=64 vs 32)"
    run -1 --separate-stderr scvae-cluster -k 2 mixed.jsonl
    assert_equal "$stderr" "scvae-cluster: mixed.jsonl: record 2: codes of model $fp (K=64) mixed with model $fp (K=32); one clustering run needs codes of one model"
}
