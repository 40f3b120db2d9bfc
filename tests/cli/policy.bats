#!/usr/bin/env bats
# What every tool does alike: one write-error policy (a closed pipe ends it quietly with status 1, as jq or
# gzip do; any other write error names the output and the system's reason) and --help with one usage block.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    cp "$IMAGES/photo64.png" a.png
    scvae-encode -o a.scv a.png
}

# One command per tool that writes to standard output.
commands() {
    cat <<'LIST'
scvae-encode --json a.png
scvae-decode -o - a.scv
scvae-edit --json --scale top1=2 a.scv
scvae-cluster -k 2 a.scv
scvae-metrics a.png a.png
scvae-segment -k 2 a.scv
scvae-model info
scvae-model init --preset tiny -o -
scvae-train --help
LIST
}

# closed_pipe CMD...: runs CMD with standard output a pipe whose reader is gone (SIGPIPE as by default)
closed_pipe() {
    python3 - "$@" <<'PY'
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE)  # restore_signals: SIGPIPE default
sys.stderr.buffer.write(p.stderr)
sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)
PY
}

@test "a closed pipe ends every tool quietly with status 1" {
    local cmd
    while IFS= read -r cmd; do
        # shellcheck disable=SC2086
        run --separate-stderr closed_pipe $cmd
        [[ $status == 1 && -z $stderr ]] || fail "$cmd: status $status, stderr '$stderr' (want 1 and nothing)"
    done < <(commands; echo "scvae-encode --help"; echo "scvae-metrics --version")
}

@test "a full disk is named with the system's reason by every tool" {
    [[ -w /dev/full ]] || skip "no /dev/full"
    local cmd tool
    while IFS= read -r cmd; do
        tool=${cmd%% *}
        run --separate-stderr bash -c "$cmd > /dev/full"
        [[ $status == 1 ]] || fail "$cmd: status $status (want 1)"
        [[ $stderr == "$tool: <stdout>: "*"No space left on device"* ]] || fail "$cmd: stderr '$stderr'"
    done < <(commands)
}

@test "--help has one usage block and shows no default twice" {
    local tool
    for tool in scvae-encode scvae-decode scvae-edit scvae-cluster scvae-metrics scvae-segment "scvae-model init" \
        "scvae-model info" "scvae-model export" scvae-train; do
        # shellcheck disable=SC2086
        run -0 $tool --help
        assert_equal "$(grep -c 'Usage:' <<<"$output")" 1
        # one option's help may wrap over lines: join them before looking for a second "(default"
        assert_equal "$(tr -s ' \n' ' ' <<<"$output" | grep -o '(default[^)]*) (default' | wc -l)" 0
    done
}
