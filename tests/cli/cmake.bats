#!/usr/bin/env bats
# CMake finds a LibTorch outside Debian's directories. The stand-in: a prefix laid out like an unpacked LibTorch
# (its own cmake/Torch and cmake/Caffe2 config files, libraries and include/), built from links to Debian's
# libtorch-dev, given with -DCMAKE_PREFIX_PATH as the README says for the official CUDA LibTorch. Configure only.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
}

@test "configure against a LibTorch in another prefix (-DCMAKE_PREFIX_PATH): its config and libraries are used" {
    local sys=/usr/lib/x86_64-linux-gnu fake=$BATS_TEST_TMPDIR/libtorch f
    mkdir -p "$fake/lib/x86_64-linux-gnu/cmake"
    cp -r "$sys/cmake/Torch" "$sys/cmake/Caffe2" "$fake/lib/x86_64-linux-gnu/cmake/"
    for f in "$sys"/lib{torch,torch_cpu,c10}.so*; do ln -s "$f" "$fake/lib/x86_64-linux-gnu/"; done
    ln -s /usr/include "$fake/include"

    # as the README configures for a CUDA LibTorch: every program on LibTorch (-DSCVAE_LIGHT_TOOLS=OFF)
    run -0 cmake -S "$SCVAE_SOURCE_DIR" -B build -G "Unix Makefiles" -DCMAKE_PREFIX_PATH="$fake" -DSCVAE_BUILD_TESTS=OFF \
        -DSCVAE_LIGHT_TOOLS=OFF
    assert_output --partial "scvae: LibTorch 1.13.0 from $fake/lib/x86_64-linux-gnu/cmake/Torch"
    run -0 grep -x "Torch_DIR:PATH=$fake/lib/x86_64-linux-gnu/cmake/Torch" build/CMakeCache.txt
    # the programs link that prefix's libraries and keep its directory in their run path
    local link tool
    for tool in scvae-encode scvae-train; do
        link=$(cat build/CMakeFiles/$tool.dir/link.txt)
        [[ $link == *"$fake/lib/x86_64-linux-gnu/libtorch.so"* ]] || fail "$tool does not link $fake's libtorch: $link"
        [[ $link == *"$fake/lib/x86_64-linux-gnu/libc10.so"* ]] || fail "$tool does not link $fake's libc10: $link"
        [[ $link == *"-rpath,$fake/lib/x86_64-linux-gnu"* ]] || fail "no run path to $fake: $link"
        [[ $link != *"$sys/libtorch"* ]] || fail "Debian's libtorch is linked too: $link"
    done
    # and libscvae's pkg-config file names it
    run -0 grep "^torchlibdir=$fake/lib/x86_64-linux-gnu\$" build/scvae.pc
}
