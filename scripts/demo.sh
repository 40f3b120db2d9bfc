#!/usr/bin/env bash
# The main job on the bundled default model and sample photos: set up, build, then
# encode -> decode (-> segment, cluster) every photo under examples/photos/, write everything to
# demo-out/ (or $1) and print a short summary (PSNR and code size per image).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >&2
bash scripts/build.sh >&2
bin=${SCVAE_BUILD_DIR:-build}/bin
out=${1:-demo-out}
model=${SCVAE_MODEL:-models/default.scvm}
[[ -f $model ]] || { echo "demo: no model at $model" >&2; exit 1; }
mkdir -p "$out/codes" "$out/recon"
shopt -s nullglob
photos=(examples/photos/*.jpg examples/photos/*.png)
((${#photos[@]})) || { echo "demo: no photos under examples/photos" >&2; exit 1; }

for p in "${photos[@]}"; do
  stem=$(basename "${p%.*}")
  "$bin/scvae-encode" -q -m "$model" -o "$out/codes/$stem.scv" "$p"
done
cat "$out"/codes/*.scv | "$bin/scvae-decode" -m "$model" -o "$out/recon/{stem}.png"
if [[ -x $bin/scvae-segment ]]; then
  mkdir -p "$out/segment"
  cat "$out"/codes/*.scv | "$bin/scvae-segment" --method spectral -k 2 --images examples/photos \
    -o "$out/segment/{stem}-mask.png" --overlay "$out/segment/{stem}-overlay.png" > "$out/segment/summary.jsonl"
fi
if [[ -x $bin/scvae-cluster ]]; then
  cat "$out"/codes/*.scv | "$bin/scvae-cluster" -k 8 --seed 1 --images examples/photos \
    --mosaic "$out/clusters.png" -o "$out/clusters.jsonl"
fi
"$bin/scvae-metrics" examples/photos "$out/recon" > "$out/metrics.json"

echo "scvae demo: ${#photos[@]} photos, model $model -> $out/"
printf '%-24s %8s %8s %10s %8s\n' image PSNR/dB SSIM code/bytes bpp
for p in "${photos[@]}"; do
  stem=$(basename "${p%.*}")
  bytes=$(stat -c %s "$out/codes/$stem.scv")
  read -r psnr ssim < <(jq -r --arg s "$stem" '.images[] | select((.name|split("/")|last|sub("\\.[^.]*$";"")) == $s) | "\(.psnr) \(.ssim)"' "$out/metrics.json")
  bpp=$("$bin/scvae-metrics" --codes "$out/codes/$stem.scv" | jq -r .codes.bpp)
  printf '%-24s %8.2f %8.4f %10d %8.3f\n' "$stem" "$psnr" "$ssim" "$bytes" "$bpp"
done
echo "reconstructions: $out/recon/  codes: $out/codes/  $( [[ -d $out/segment ]] && echo "masks: $out/segment/  " )$( [[ -f $out/clusters.png ]] && echo "clusters: $out/clusters.png" )"
