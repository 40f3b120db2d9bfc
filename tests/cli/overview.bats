#!/usr/bin/env bats
# man/scvae.7 (`man scvae`) names every program (tools/scvae-*/), every file format (man/*.5) and every
# environment variable the code reads (getenv/env_int in lib/ and tools/), and each program's page exists.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    PAGE=$SCVAE_SOURCE_DIR/man/scvae.7
}

# sections NAME: the text of section NAME of scvae(7), roff escapes undone
section() {
    sed -n "/^\.SH $1\$/,/^\.SH /p" "$PAGE" | sed -e 's/\\-/-/g' -e 's/\\f[BIR]//g'
}

@test "scvae(7) names every program under PROGRAMS and SEE ALSO" {
    local f t n=0
    for f in "$SCVAE_SOURCE_DIR"/tools/scvae-*/main.cpp; do
        t=${f%/main.cpp}; t=${t##*/}
        n=$((n + 1))
        grep -qx "\.BR $t (1)" <(section PROGRAMS) || fail "$t is not under PROGRAMS"
        grep -q "^\.BR $t (1)" <(section "SEE ALSO") || fail "$t is not under SEE ALSO"
        [ -s "$SCVAE_SOURCE_DIR/man/$t.1" ] || fail "no man page man/$t.1"
    done
    ((n >= 8)) || fail "only $n programs found"
    # and nothing that is not a program
    run -0 grep -c '^\.BR scvae-.* (1)' <(section PROGRAMS)
    assert_output "$n"
}

@test "scvae(7) names every file format page under FILE FORMATS" {
    local f p n=0
    for f in "$SCVAE_SOURCE_DIR"/man/*.5; do
        p=${f##*/}; p=${p%.5}
        n=$((n + 1))
        grep -qx "\.BR $p (5)" <(section "FILE FORMATS") || fail "$p(5) is not under FILE FORMATS"
    done
    ((n >= 2)) || fail "only $n format pages found"
}

@test "scvae(7) names every environment variable the code reads" {
    local vars v n=0
    vars=$(grep -rhoE '(getenv|env_int)\("[A-Z_][A-Z0-9_]*"' "$SCVAE_SOURCE_DIR/lib" "$SCVAE_SOURCE_DIR/tools" |
        sed -E 's/.*"([A-Z0-9_]+)"/\1/' | sort -u)
    for v in $vars; do
        n=$((n + 1))
        grep -qE "^\.B(R)? ([A-Z_, \"]*[ \"])?$v([ ,\"]|\$)" <(section ENVIRONMENT) || fail "\$$v is not under ENVIRONMENT"
    done
    ((n >= 10)) || fail "only $n variables found: $vars"
}
