# Shared set-up for the Bats CLI tests. PATH holds the built tools; SCVAE_MODEL the tiny test model.
bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

DATA=${SCVAE_TEST_DATA:?run the CLI tests through ctest}
IMAGES=$DATA/images
TINY=$DATA/tiny.scvm

# assert_no_file PATH: the file does not exist (no partial output left behind), nor any temp sibling.
assert_no_file() {
    [[ ! -e $1 ]] || fail "expected no file at $1"
    local left
    left=$(compgen -G "$1.tmp.*" || true)
    [[ -z $left ]] || fail "temporary file left behind: $left"
}

# png_size FILE: prints "W H" of a PNG from its IHDR.
png_size() {
    od -An -tu1 -j16 -N8 "$1" | awk '{printf "%d %d\n", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'
}
