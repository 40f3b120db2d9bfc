#!/usr/bin/env bats
# The Debian packages (cmake/packaging.cmake): cpack builds scvae and libscvae-dev from this build tree, they
# are unpacked into a scratch root with dpkg-deb -x (no root, no dpkg database) and used from there: the tools
# find the default model next to themselves, `man scvae` finds scvae(7), and a program outside the tree links
# the installed libscvae through find_package(scvae) and through pkg-config.

bats_require_minimum_version 1.5.0

setup_file() {
    export BUILD=${SCVAE_BIN:?}/..
    export PKG=$BATS_FILE_TMPDIR/pkg ROOT=$BATS_FILE_TMPDIR/root
    mkdir -p "$PKG" "$ROOT"
    # A failure here is shown by the first test (no package files).
    (cd "$PKG" && cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$PKG" > "$PKG/cpack.log" 2>&1) || true
    local deb
    for deb in "$PKG"/*.deb; do
        [[ -e $deb ]] && dpkg-deb -x "$deb" "$ROOT"
    done
}

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    TOOLS_DEB=$(compgen -G "$PKG/scvae_*.deb") || fail "no scvae .deb: $(cat "$PKG/cpack.log")"
    DEV_DEB=$(compgen -G "$PKG/libscvae-dev_*.deb") || fail "no libscvae-dev .deb: $(cat "$PKG/cpack.log")"
}

# tools: the programs of tools/, one per folder
tools() {
    local f
    for f in "$SCVAE_SOURCE_DIR"/tools/scvae-*/main.cpp; do f=${f%/main.cpp}; echo "${f##*/}"; done
}

@test "scvae .deb: every program, man page, completion and the default model, in Debian's places" {
    run -0 dpkg-deb -c "$TOOLS_DEB"
    local listing=$output t m
    for t in $(tools); do
        assert_line --regexp " \./usr/bin/$t\$"
        assert_line --regexp " \./usr/share/man/man1/$t\.1\$"
        assert_line --regexp " \./usr/share/bash-completion/completions/$t -> scvae\$"
        assert_line --regexp " \./usr/share/zsh/vendor-completions/_$t\$"
    done
    for m in "$SCVAE_SOURCE_DIR"/man/*.5; do assert_line --regexp " \./usr/share/man/man5/${m##*/}\$"; done
    assert_line --regexp " \./usr/share/man/man7/scvae\.7\$"
    assert_line --regexp " \./usr/share/bash-completion/completions/scvae\$"
    assert_line --regexp " \./usr/share/scvae/models/default\.scvm\$"
    # the library is in the -dev package only
    refute_line --regexp "libscvae|/include/"
    cmp "$ROOT/usr/share/scvae/models/default.scvm" "$SCVAE_SOURCE_DIR/models/default.scvm"
}

@test "scvae .deb depends on the Debian packages of the libraries the programs link" {
    run -0 dpkg-deb -f "$TOOLS_DEB" Package Depends
    assert_line "Package: scvae"
    local deps=${lines[1]} names name lib pkg
    names=$(sed -e 's/^Depends: //' -e 's/([^)]*)//g' -e 's/[|,]/\n/g' <<<"$deps" | tr -d ' ')
    # every library a program names (DT_NEEDED) comes from a package that Depends names
    for name in $(for t in $(tools); do readelf -d "$ROOT/usr/bin/$t"; done |
                  sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort -u); do
        # libblas/liblapack come through Debian's alternatives (dpkg-shlibdeps writes liblapack3 | liblapack.so.3)
        [[ $name == libblas* || $name == liblapack* ]] && continue
        lib=$(for t in $(tools); do ldd "$ROOT/usr/bin/$t"; done | awk -v n="$name" '$1 == n {print $3; exit}')
        [[ -n $lib ]] || fail "$name is not found by ldd"
        pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "/usr$lib") ||
            fail "no package holds $lib"
        pkg=$(head -n 1 <<<"$pkg" | cut -d: -f1)
        grep -qxF "$pkg" <<<"$names" || fail "Depends lacks $pkg (for $name): $deps"
    done
    [[ $deps =~ libtorch ]] || fail "no LibTorch in Depends: $deps"
    [[ $deps =~ liblapack3 ]] || fail "no LAPACK in Depends: $deps"
    run -0 dpkg-deb -f "$DEV_DEB" Package Depends
    assert_line "Package: libscvae-dev"
    assert_output --partial "libtorch-dev"
    assert_output --partial "libfaiss-dev"
}

@test "the unpacked programs run from the scratch root with their own default model" {
    unset SCVAE_MODEL
    local bin=$ROOT/usr/bin
    run -0 "$bin/scvae-encode" --version
    assert_output "scvae-encode 0.1.0"
    # the model the tools would use is the one next to them (../share/scvae/models), not the source tree's
    run -0 "$bin/scvae-model" info
    assert_output --partial "$ROOT/usr/bin/../share/scvae/models/default.scvm"
    run -0 bash -o pipefail -c "'$bin/scvae-encode' '$IMAGES/photo64.png' | '$bin/scvae-decode' -o out.png"
    [ -s out.png ]
    assert_equal "$(png_size out.png)" "64 64"
    # moved elsewhere, it still finds its model
    mv "$ROOT" "$BATS_FILE_TMPDIR/moved"
    run "$BATS_FILE_TMPDIR/moved/usr/bin/scvae-model" info
    mv "$BATS_FILE_TMPDIR/moved" "$ROOT"
    assert_success
    assert_output --partial "$BATS_FILE_TMPDIR/moved/usr/bin/../share/scvae/models/default.scvm"
}

@test "man scvae shows scvae(7) from the package" {
    run -0 env MANPATH="$ROOT/usr/share/man" MANWIDTH=200 man -P cat scvae
    assert_output --partial "scvae - overview of the SC-VAE tools"
    local t
    for t in $(tools); do assert_output --partial "$t(1)"; done
    run -0 env MANPATH="$ROOT/usr/share/man" man -w scvae
    assert_output "$ROOT/usr/share/man/man7/scvae.7"
}

@test "libscvae-dev: a program outside the tree links the installed library (find_package and pkg-config)" {
    run -0 dpkg-deb -c "$DEV_DEB"
    assert_line --regexp " \./usr/include/scvae/model\.h\$"
    assert_line --regexp " \./usr/lib/(.*/)?libscvae\.a\$"
    assert_line --regexp " \./usr/lib/(.*/)?cmake/scvae/scvaeConfig\.cmake\$"
    assert_line --regexp " \./usr/lib/(.*/)?pkgconfig/scvae\.pc\$"
    # no private header, no LibTorch include in a public one
    refute_output --partial "scvae_torch.h"
    run grep -l "include <torch\|include \"scvae_" -r "$ROOT/usr/include/scvae"
    assert_failure 1

    local src=$SCVAE_SOURCE_DIR/tests/package/consumer
    run -0 cmake -S "$src" -B cm -DCMAKE_PREFIX_PATH="$ROOT/usr" -DCMAKE_BUILD_TYPE=Release
    assert_output --partial "scvae: $ROOT/usr/lib"
    run -0 cmake --build cm
    run -0 cm/consumer "$TINY" "$IMAGES/photo64.png"
    assert_output "n=16 K=32 decoded 64x64"

    local pc
    pc=$(dirname "$(compgen -G "$ROOT/usr/lib/*pkgconfig/scvae.pc" || compgen -G "$ROOT/usr/lib/*/pkgconfig/scvae.pc")")
    run -0 env PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs --static scvae
    # the paths are relative to the .pc file (${pcfiledir}): they point into the scratch root
    local inc
    inc=$(tr ' ' '\n' <<<"$output" | sed -n 's/^-I//p' | head -n 1)
    assert_equal "$(realpath "$inc")" "$ROOT/usr/include"
    assert_output --partial "-ltorch"
    # shellcheck disable=SC2046
    run -0 g++ -O1 -o pc-consumer "$src/main.cpp" $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs --static scvae)
    run -0 ./pc-consumer "$TINY" "$IMAGES/photo64.png"
    assert_output "n=16 K=32 decoded 64x64"
}
