#!/usr/bin/env bash
# Regenerates the image fixtures in tests/data/images from scripts/make-test-images.cpp.
#
# The "photo" fixtures are crops of two real photographs that ship with the Rust documentation
# (embedded-book assets: a development board on a desk). Point PHOTO_A / PHOTO_B elsewhere to use others.
# Needs g++, libpng-dev and libjpeg-dev; builds image.cpp and io.cpp directly, no CMake build required.
set -euo pipefail
cd "$(dirname "$0")/.."
book=$(ls -d "${RUSTUP_HOME:-$HOME/.rustup}"/toolchains/*/share/doc/rust/html/embedded-book/assets 2>/dev/null | head -n1 || true)
PHOTO_A=${PHOTO_A:-$book/verify.jpeg}
PHOTO_B=${PHOTO_B:-$book/f3.jpg}
for f in "$PHOTO_A" "$PHOTO_B"; do
  [[ -f $f ]] || { echo "make-test-images.sh: source photograph not found: $f (set PHOTO_A / PHOTO_B)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
g++ -std=c++17 -O2 -Ilib/include -Ilib/src -DSCVAE_VERSION='"0"' -o "$tmp/make-test-images" \
  scripts/make-test-images.cpp lib/src/image/image.cpp lib/src/image/pnm.cpp lib/src/io/io.cpp -lpng -ljpeg
mkdir -p tests/data/images
"$tmp/make-test-images" tests/data/images "$PHOTO_A" "$PHOTO_B"
ls -l tests/data/images
