#!/usr/bin/env bash
# Checks every kernel set of CKernels (and CImaging's resampling) with the C driver in
# Tests/CKernelsDriver: natively, for the sets this CPU runs, and for aarch64 (NEON and portable)
# under qemu-aarch64. Needs gcc, and for aarch64 Debian's gcc-aarch64-linux-gnu,
# libc6-dev-arm64-cross and qemu-user (Scripts/setup-debian.sh --test installs them).
#   bash Scripts/check-kernels.sh            native and aarch64
#   bash Scripts/check-kernels.sh native     native only
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sources=(Sources/CKernels/*.c Tests/CKernelsDriver/driver.c)
includes=(-ISources/CKernels/include -ISources/CImaging/include)
# CImaging keeps its sums unfused (as Package.swift builds it); the driver's reference too.
build() {  # compiler, output, extra flags...
    local cc=$1 binary=$2
    shift 2
    "$cc" -O3 -ffp-contract=off -c Sources/CImaging/resample.c "${includes[@]}" -o "$out/resample-$(basename "$binary").o" "$@"
    "$cc" -O3 -std=gnu11 -Wall -Wextra -Werror "${includes[@]}" "$@" "${sources[@]}" \
        "$out/resample-$(basename "$binary").o" -lm -o "$binary"
}
status=0
echo "== kernel sets, native ($(uname -m))"
build gcc "$out/driver-native"
"$out/driver-native" || status=1
if [ "${1:-}" != native ] && [ "$(uname -m)" = x86_64 ]; then
    echo "== kernel sets, aarch64 under qemu-aarch64"
    build aarch64-linux-gnu-gcc "$out/driver-arm64" -static
    qemu-aarch64 "$out/driver-arm64" || status=1
fi
exit $status
