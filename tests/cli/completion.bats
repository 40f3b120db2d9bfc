#!/usr/bin/env bats
# completions/scvae.bash: file names with spaces stay one word, folders end in '/', the user's shell options
# are left as they were.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    mkdir photos 'my folder'
    touch 'my photo.jpg' other.png notes.txt model.scvm
    # shellcheck source=/dev/null
    source "$SCVAE_SOURCE_DIR/completions/scvae.bash"
}

# complete FUNCTION WORD...: runs the completion function for the command line WORD... (the last word is
# the one being completed) and prints COMPREPLY one per line, sorted.
complete_words() {
    local fn=$1
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    COMPREPLY=()
    "$fn"
    printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort
}

@test "image names with spaces stay one word; folders get a trailing /" {
    run -0 complete_words _scvae_encode scvae-encode ''
    assert_output "$(printf '%s\n' 'my folder/' 'my photo.jpg' other.png photos/)"
    run -0 complete_words _scvae_encode scvae-encode 'my'
    assert_output "$(printf '%s\n' 'my folder/' 'my photo.jpg')"
}

@test "-o completes any file and folder, each once" {
    run -0 complete_words _scvae_decode scvae-decode -o ''
    assert_output "$(printf '%s\n' model.scvm 'my folder/' 'my photo.jpg' notes.txt other.png photos/)"
    run -0 complete_words _scvae_train scvae-train --resume ''
    assert_output "$(printf '%s\n' 'my folder/' photos/)"
    run -0 complete_words _scvae_model scvae-model info ''
    assert_output "$(printf '%s\n' model.scvm 'my folder/' photos/)"
}

@test "completion leaves extglob as the user had it" {
    shopt -u extglob
    complete_words _scvae_encode scvae-encode '' >/dev/null
    complete_words _scvae_decode scvae-decode -m '' >/dev/null
    run shopt -q extglob
    assert_failure
    shopt -s extglob
    complete_words _scvae_encode scvae-encode '' >/dev/null
    run shopt -q extglob
    assert_success
}
