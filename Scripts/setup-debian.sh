#!/usr/bin/env bash
# Installs the C libraries HistoScreen builds on, from Debian's packages.
# Run as root (or with sudo) on a Debian 12 machine that has the Swift 6 toolchain.
#   --test   also installs what the tests use: Chromium (renders report.html headless),
#            Slurm with munge (a single-node cluster for the job-array test), an aarch64
#            cross compiler with qemu-user (Scripts/check-kernels.sh runs the NEON kernels), and
#            PyTorch with torchvision (Scripts/make-torchvision-models.sh exports the models the
#            ONNX import tests run)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(pkg-config libopenslide-dev libtiff-dev libpng-dev libturbojpeg0-dev libopenblas-dev)
if [ "${1:-}" = "--test" ]; then
    packages+=(chromium slurm-wlm munge gcc python3-torch python3-torchvision python3-pil)
    # The aarch64 check is for x86-64 hosts; an ARM host runs its NEON kernels natively.
    if [ "$(uname -m)" = x86_64 ]; then packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user); fi
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "setup: installed OpenSlide $(pkg-config --modversion openslide), libtiff $(pkg-config --modversion libtiff-4)," \
     "libpng $(pkg-config --modversion libpng), libjpeg-turbo $(pkg-config --modversion libturbojpeg), OpenBLAS $(pkg-config --modversion openblas)"
