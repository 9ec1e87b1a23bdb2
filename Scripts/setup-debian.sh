#!/usr/bin/env bash
# Installs the C libraries HistoScreen builds on, from Debian's packages.
# Run as root (or with sudo) on a Debian 12 machine that has the Swift 6 toolchain.
#   --test   also installs what the tests use: Chromium (renders report.html headless) and
#            Slurm with munge (a single-node cluster for the job-array test)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(pkg-config libopenslide-dev libtiff-dev libpng-dev libopenblas-dev)
if [ "${1:-}" = "--test" ]; then packages+=(chromium slurm-wlm munge); fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "setup: installed OpenSlide $(pkg-config --modversion openslide), libtiff $(pkg-config --modversion libtiff-4)," \
     "libpng $(pkg-config --modversion libpng), OpenBLAS $(pkg-config --modversion openblas)"
