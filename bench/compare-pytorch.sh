#!/usr/bin/env bash
# bench/compare-pytorch.sh - scvae's tools against the same architecture in PyTorch (Python), in one run.
#
#   bash bench/compare-pytorch.sh [--images N] [--train-steps N]
#
# Runs bench/pytorch_ref.py (the model's networks in PyTorch with its weights, batch 1, 2 threads, in process)
# and build/bench/bench_e2e (the scvae tools as processes with default flags, on the sample photos at 256x256),
# then prints per-image encode and encode+decode time and training throughput (256x256 crops, batch 4) of both,
# and scvae's speed-up. Installs Debian's python3-torch when it is missing (a benchmark dependency only; the
# setup script does not install it). Environment: BUILD (default build), MODEL (default models/default.scvm).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PY=${PYTHON:-/usr/bin/python3}   # Debian's Python, where python3-torch installs
MODEL=${MODEL:-models/default.scvm}
images=16
steps=4
while (($#)); do
    case $1 in
        --images) images=$2; shift 2 ;;
        --train-steps) steps=$2; shift 2 ;;
        *) echo "usage: bash bench/compare-pytorch.sh [--images N] [--train-steps N]" >&2; exit 2 ;;
    esac
done
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
    echo "compare-pytorch: installing python3-torch (benchmark dependency)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-torch python3-numpy >/dev/null
fi
[ -x "$BUILD/bench/bench_e2e" ] || cmake --build "$BUILD" --target bench_e2e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$PY" bench/pytorch_ref.py "$MODEL" --size 256 --images "$images" --threads 2 --train-batch 4 \
    --train-steps "$steps" > "$out/py.json"
"$BUILD/bench/bench_e2e" --model "$MODEL" --sizes 256 --images "$images" --train-size 256 --train-batch 4 \
    --train-steps "$steps" --json "$out/e2e.json" >&2
jq -n --slurpfile py "$out/py.json" --slurpfile sc "$out/e2e.json" '
  ($py[0]) as $p | ($sc[0]) as $s | ($s.sizes["256"]) as $z |
  { pytorch: {version: $p.torch, threads: $p.threads, encode_s: $p.encode_s, encode_decode_s: $p.encode_decode_s,
              train_images_per_s: $p.train_images_per_s},
    scvae:   {encode_s: $z.encode.wall_per_image_s,
              encode_decode_s: ($z.encode.wall_per_image_s + $z.decode.wall_per_image_s),
              train_images_per_s: $s.train.images_per_s},
    speedup: {encode: ($p.encode_s / $z.encode.wall_per_image_s),
              encode_decode: ($p.encode_decode_s / ($z.encode.wall_per_image_s + $z.decode.wall_per_image_s)),
              train: ($s.train.images_per_s / $p.train_images_per_s)} }'
