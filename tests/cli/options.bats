#!/usr/bin/env bats
# Every program's options, as its option table prints them in --help (tools/*/main.cpp), are documented in its
# man page's OPTIONS section and offered by both shell completions; the man pages list no option the program
# lacks; and each man page carries the version the programs report (project(VERSION) in CMakeLists.txt).

bats_require_minimum_version 1.5.0

setup() {
    load helpers
}

# help_options CMD...: the option names of CMD --help, one per line: the long name of "-b, --batch N" lines,
# the one name of "--half" and "-d N" lines
help_options() {
    "$@" --help | grep -E '^(  -[A-Za-z0-9][, ]|      --[A-Za-z])' | sed -E 's/^ +(-[A-Za-z0-9], )?//; s/[ =].*//'
}

# man_options PAGE: the option names that head the items (.TP) of PAGE's OPTIONS section (roff escapes undone)
man_options() {
    sed -n '/^\.SH OPTIONS$/,/^\.SH [A-Z]/p' "$1" | sed -n '/^\.TP/{n;p}' | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' |
        grep -oE '(^|[ ,"(])--?[A-Za-z][A-Za-z0-9-]*' | sed -E 's/^[ ,"(]//' | sort -u
}

# bash_words NAME: the words the completion function _scvae_NAME (completions/scvae.bash) offers (through
# _scvae_options or compgen -W), one per line
bash_words() {
    sed -n "/^_scvae_$1() {/,/^}/p" "$SCVAE_SOURCE_DIR/completions/scvae.bash" | tr '\n' ' ' |
        grep -oE "(_scvae_options|compgen -W) '[^']*'" | sed -E "s/^[^']*'//; s/'$//" | tr -s ' ' '\n'
}

# check TOOL MAN_PAGE ZSH_FILE BASH_NAME [COMMAND]: the checks above for one program (or one command of it)
check() {
    local tool=$1 page=$SCVAE_SOURCE_DIR/man/$2 zsh=$SCVAE_SOURCE_DIR/completions/$3 fn=$4 cmd=${5:-}
    local opts o n=0 man bashf
    opts=$(help_options $tool $cmd)
    man=$(man_options "$page")
    bashf=$(bash_words "$fn")
    [[ -n $bashf ]] || fail "no completion function _scvae_$fn"
    for o in $opts; do
        n=$((n + 1))
        [[ $o == --help || $o == --version ]] && continue
        grep -qxF -- "$o" <<<"$man" || fail "$tool ${cmd:+$cmd }$o: not in the OPTIONS of man/$2"
        grep -qxF -- "$o" <<<"$bashf" || fail "$tool ${cmd:+$cmd }$o: not offered by _scvae_$fn (completions/scvae.bash)"
        grep -qE -- "(^|[ '{,(*])$o([][{,=: )']|$)" "$zsh" || fail "$tool ${cmd:+$cmd }$o: not in completions/$3"
    done
    ((n >= 3)) || fail "$tool ${cmd:+$cmd }--help lists only $n options"
}

@test "every option of every program is in its man page and both completions" {
    local t
    for t in cluster decode edit encode metrics segment train; do
        check "scvae-$t" "scvae-$t.1" "_scvae-$t" "$t"
    done
    for c in init info grow export; do
        check scvae-model scvae-model.1 _scvae-model model "$c"
    done
}

@test "no man page documents an option its program lacks" {
    local t o all
    for t in cluster decode edit encode metrics segment train model; do
        if [[ $t == model ]]; then
            all=$( (help_options scvae-model init; help_options scvae-model info; help_options scvae-model grow; help_options scvae-model export) | sort -u)
        else
            all=$(help_options "scvae-$t" | sort -u)
        fi
        for o in $(man_options "$SCVAE_SOURCE_DIR/man/scvae-$t.1"); do
            [[ $o == --* ]] || continue  # long names (short ones appear in prose: "-h", "-o -")
            grep -qxF -- "$o" <<<"$all" || fail "man/scvae-$t.1 documents $o, which scvae-$t --help does not list"
        done
    done
}

@test "every man page carries the version the programs report" {
    local v page
    run -0 scvae-encode --version
    v=${output#scvae-encode }
    [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "odd version '$v'"
    grep -q "^project(scvae VERSION $v " "$SCVAE_SOURCE_DIR/CMakeLists.txt" || fail "$v is not CMakeLists.txt's project(VERSION)"
    for page in "$SCVAE_SOURCE_DIR"/man/*.[157]; do
        grep -q "^\.TH .* \"scvae $v\" " "$page" || fail "${page##*/}: .TH does not say \"scvae $v\""
    done
}
