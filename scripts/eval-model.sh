#!/usr/bin/env bash
# Validation numbers of a model at 256x256, as models/README.md reports them:
#   scripts/eval-model.sh MODEL [VAL_DIR] [OUT_DIR]
# Each validation photo (default corpus/val, made by scripts/build-corpus.sh) is centre-cropped to a square
# and area-averaged to 256x256 (corpus-tool sample), encoded, decoded and compared; prints the scvae-metrics
# aggregate (PSNR, SSIM, MS-SSIM) and the code statistics (sparsity, atoms used, bits per pixel).
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: scripts/eval-model.sh MODEL [VAL_DIR] [OUT_DIR]}
val=${2:-corpus/val}
out=${3:-runs/eval}
bin=${SCVAE_BIN:-${SCVAE_BUILD_DIR:-build}/bin}
tool=${SCVAE_CORPUS_TOOL:-corpus/.work/corpus-tool}  # built here on first use
[[ -x $tool ]] || bash scripts/corpus-tool.sh "$tool"
mkdir -p "$out/val256" "$out/recon"
for f in "$val"/*; do
  stem=$(basename "${f%.*}")
  [[ -f $out/val256/$stem.jpg ]] || "$tool" sample "$f" "$out/val256/$stem.jpg" 256 100
done
# SCVAE_ENCODE_FLAGS: extra scvae-encode options (e.g. --solver fista --solver-steps 500)
"$bin/scvae-encode" -q -m "$model" ${SCVAE_ENCODE_FLAGS:-} -o "$out/val.scv" "$out"/val256/*.jpg
"$bin/scvae-decode" -q -m "$model" -o "$out/recon/{stem}.png" "$out/val.scv"
"$bin/scvae-metrics" "$out/val256" "$out/recon" | jq -c '.aggregate'
"$bin/scvae-metrics" --codes "$out/val.scv" | jq -c '.codes | {hoyer: .hoyer.mean, zeros: .zero_fraction, nnz_per_vector, atoms_used, perplexity, bpp}'
