#!/usr/bin/env bats
# examples/slurm-train.sbatch, run as Slurm would run it on one node, with stand-ins for srun (starts
# SLURM_NTASKS copies of the command with SLURM_PROCID/SLURM_LOCALID, as srun does) and scontrol (names this
# host): scvae-train takes its ranks from the Slurm variables alone and the ranks train one run together.

bats_require_minimum_version 1.5.0

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    mkdir -p fake photos
    cat > fake/srun <<'SH'
#!/bin/bash
# srun stand-in: drops srun's own options, starts SLURM_NTASKS tasks, exits with the first failing status
while [[ $1 == --* ]]; do shift; done
echo "srun: $SLURM_NTASKS tasks: $*" >> "$SRUN_LOG"
pids=()
for ((i = 0; i < SLURM_NTASKS; i++)); do
    SLURM_PROCID=$i SLURM_LOCALID=$i "$@" & pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || { s=$?; ((rc)) || rc=$s; }; done
exit $rc
SH
    cat > fake/scontrol <<'SH'
#!/bin/bash
[[ $1 == show && $2 == hostnames ]] && echo localhost
SH
    chmod +x fake/srun fake/scontrol
    cp "$IMAGES/photo1.jpg" photos/a.jpg
    cp "$IMAGES/photo3.jpg" photos/b.jpg
}

@test "examples/slurm-train.sbatch: two Slurm tasks train one run; --resume continues it" {
    local script=$SCVAE_SOURCE_DIR/examples/slurm-train.sbatch
    export PATH=$PWD/fake:$PATH SRUN_LOG=$PWD/srun.log
    export SLURM_JOB_NODELIST=node01 SLURM_JOB_ID=4242 SLURM_NTASKS=2 SLURM_CPUS_PER_TASK=1
    unset WORLD_SIZE RANK LOCAL_RANK MASTER_ADDR MASTER_PORT
    # a free port for this test (the script's default is derived from SLURM_JOB_ID)
    export MASTER_PORT=$((30000 + RANDOM % 20000))
    run -0 env PRESET=tiny SIZE=32 BATCH=1 bash "$script" photos runs/slurm --steps 2 --val-fraction 0
    assert_output --partial "2 processes"
    [ -s runs/slurm/last.scvm ]
    run -0 jq -r '.world_size' runs/slurm/options.json
    assert_output 2
    run -0 cat srun.log
    assert_output --partial "2 tasks: scvae-train --device cpu -t 1 -o runs/slurm --preset tiny --size 32 -b 1 --steps 2"

    # the same script continues the run, with the same number of tasks, to step 4
    run -0 bash "$script" --resume runs/slurm --steps 4
    run -0 jq -s 'map(select(.event == "resume")) | length' runs/slurm/log.jsonl
    assert_output 1
    run -0 jq -s 'map(.step // 0) | max' runs/slurm/log.jsonl
    assert_output 4
}
