#!/bin/bash
# make-segmentation-set.sh - a foreground/background test set with exact masks, from real photographs.
#
# Usage: scripts/make-segmentation-set.sh OUTDIR [N] [SEED]        (defaults: 60 images, seed 1)
#
# Foregrounds: the photographed cut-outs with alpha of the Debian package tuxpaint-stamps-default (animals,
#   birds, fish, insects, fruit, vegetables, flowers; drawings in "cartoon" folders are left out).
# Backgrounds: the validation photos of the training corpus (corpus/val/, see scripts/build-corpus.sh) when
#   there are any; else the photos of the Debian package mate-backgrounds.
# Packages are fetched with `apt-get download` (nothing is installed) and unpacked with `dpkg-deb -x` into
#   OUTDIR/.work (reused on later runs; set SCVAE_DEB_DIR to a folder that already holds the .deb files).
# Each image is 256x256: a random square crop of a background and one cut-out scaled to 35-65 % of the side,
#   composited with its alpha; the mask is 255 where alpha >= 0.5. Placement, scale and choice are seeded, so
#   the same N and SEED give the same set. The compositing is bench/segment_set (built with the project);
#   set SEGMENT_SET to its path, else build*/bench/segment_set of the repository is used.
# Writes OUTDIR/images/NNNN.png, OUTDIR/masks/NNNN.png, OUTDIR/manifest.tsv (image, background, cut-out, place,
#   size, foreground fraction) and OUTDIR/SOURCES (package versions).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:?usage: make-segmentation-set.sh OUTDIR [N] [SEED]}
n=${2:-60}
seed=${3:-1}
work=$out/.work
debs=${SCVAE_DEB_DIR:-$work/debs}

tool=${SEGMENT_SET:-}
if [[ -z $tool ]]; then
    for t in "$root"/build/bench/segment_set "$root"/build*/bench/segment_set; do
        [[ -x $t ]] && { tool=$t; break; }
    done
fi
[[ -n $tool && -x $tool ]] || { echo "make-segmentation-set.sh: bench/segment_set not built (set SEGMENT_SET)" >&2; exit 1; }

mkdir -p "$work" "$debs" "$out/images" "$out/masks"
rm -f "$out"/images/*.png "$out"/masks/*.png

fetch() { # fetch PACKAGE: unpack the package into $work/x/PACKAGE, print its version
    local p=$1 deb
    if ! ls "$debs/${p}"_*.deb >/dev/null 2>&1; then
        (cd "$debs" && apt-get download "$p" >&2)
    fi
    deb=$(ls "$debs/${p}"_*.deb | head -1)
    if [[ ! -d $work/x/$p ]]; then
        mkdir -p "$work/x/$p.tmp"
        dpkg-deb -x "$deb" "$work/x/$p.tmp"
        mv "$work/x/$p.tmp" "$work/x/$p"
    fi
    dpkg-deb -f "$deb" Version
}

: > "$out/SOURCES"
v=$(fetch tuxpaint-stamps-default)
printf 'tuxpaint-stamps-default\t%s\n' "$v" >> "$out/SOURCES"
stamps=$work/x/tuxpaint-stamps-default/usr/share/tuxpaint/stamps
find "$stamps"/animals "$stamps"/food/fruit "$stamps"/food/vegetables "$stamps"/plants/flowers \
    -name '*.png' -not -path '*cartoon*' -not -name '*_mirror*' | LC_ALL=C sort > "$work/stamps.txt"

if compgen -G "$root/corpus/val/*.*" >/dev/null; then
    find "$root/corpus/val" -maxdepth 1 \( -name '*.png' -o -name '*.jpg' -o -name '*.jpeg' \) | LC_ALL=C sort > "$work/backgrounds.txt"
    printf 'backgrounds\tcorpus/val (%s photos)\n' "$(wc -l < "$work/backgrounds.txt")" >> "$out/SOURCES"
else
    v=$(fetch mate-backgrounds)
    printf 'mate-backgrounds\t%s\n' "$v" >> "$out/SOURCES"
    find "$work/x/mate-backgrounds/usr/share/backgrounds" \( -name '*.jpg' -o -name '*.png' \) -not -path '*abstract*' \
        | LC_ALL=C sort > "$work/backgrounds.txt"
fi
[[ -s $work/stamps.txt && -s $work/backgrounds.txt ]] || { echo "make-segmentation-set.sh: no cut-outs or backgrounds found" >&2; exit 1; }

"$tool" composite --backgrounds "$work/backgrounds.txt" --stamps "$work/stamps.txt" --out "$out" -n "$n" --seed "$seed" --size 256
echo "make-segmentation-set.sh: $n images in $out ($(wc -l < "$work/stamps.txt") cut-outs, $(wc -l < "$work/backgrounds.txt") backgrounds)" >&2
