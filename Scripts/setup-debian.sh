#!/usr/bin/env bash
# Installs the C libraries HistoScreen builds on, from Debian's packages.
# Run as root (or with sudo) on a Debian 12 machine that has the Swift 6 toolchain.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    pkg-config libopenslide-dev libtiff-dev libpng-dev libopenblas-dev >/dev/null
echo "setup: installed OpenSlide $(pkg-config --modversion openslide), libtiff $(pkg-config --modversion libtiff-4)," \
     "libpng $(pkg-config --modversion libpng), OpenBLAS $(pkg-config --modversion openblas)"
