#!/usr/bin/env bash
# corpus-tool.sh OUT: builds scripts/corpus-tool.cpp (the image helper of build-corpus.sh and eval-model.sh) into
# OUT with the system compiler and libscvae's torch-free image sources; no CMake build needed.
set -euo pipefail
out=${1:?usage: corpus-tool.sh OUT}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$(dirname "$out")"
g++ -std=c++17 -O2 -I"$root/lib/include" -I"$root/lib/src" -DSCVAE_VERSION='"corpus-tool"' -o "$out" \
    "$root/scripts/corpus-tool.cpp" "$root/lib/src/image/image.cpp" "$root/lib/src/image/pnm.cpp" \
    "$root/lib/src/io/io.cpp" -ljpeg -lpng -lz -ldl
