#!/usr/bin/env bash
# Installs every Debian package scvae needs to build, test and run, when it is missing.
# Idempotent; run as root (or with sudo available). Does nothing when all packages are present.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake ninja-build make pkg-config ccache git
  # packaging and its tests (cpack -G DEB runs dpkg-shlibdeps, which uses file; man scvae); the torchrun recipe
  dpkg-dev file man-db python3-torch
  # libraries
  libtorch-dev libgloo-dev libfaiss-dev libdnnl-dev libopenblas0-pthread
  libcxxopts-dev nlohmann-json3-dev libpng-dev libjpeg62-turbo-dev zlib1g-dev
  # tests
  libgtest-dev bats bats-assert bats-support jq netpbm python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: run as root (missing: ${missing[*]})" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
