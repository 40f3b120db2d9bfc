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

