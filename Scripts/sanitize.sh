#!/usr/bin/env bash
# Runs the whole test suite under AddressSanitizer, then with UndefinedBehaviorSanitizer on the C
# code, each in its own build folder (.build-asan, .build-ubsan).
#   bash Scripts/sanitize.sh [address|undefined]...   (default: both)
# - address: `swift test --sanitize=address`. Leak detection is off: LeakSanitizer reports the
#   allocations swift-argument-parser and XCTest still hold when the process exits after a
#   usage error, which are not leaks of HistoScreen's and would change those runs' exit codes.
# - undefined: swiftc has no -sanitize=undefined on Linux ("unsupported option"); Swift code traps
#   on overflow and out-of-bounds access by itself. The C targets (kernels, resampling, libtiff
#   shims) are compiled with -fsanitize=undefined -fno-sanitize-recover, so any undefined
#   behaviour aborts the test that reached it.
set -euo pipefail
cd "$(dirname "$0")/.."
modes=("$@"); [ ${#modes[@]} -eq 0 ] && modes=(address undefined)
for mode in "${modes[@]}"; do
    case "$mode" in
        address)
            ASAN_OPTIONS=detect_leaks=0 swift test --sanitize=address --scratch-path .build-asan ;;
        undefined)
            flags=(-Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined)
            swift build --build-tests --scratch-path .build-ubsan "${flags[@]}"
            swift test --skip-build --scratch-path .build-ubsan ;;
        *) echo "unknown mode $mode (address or undefined)" >&2; exit 64 ;;
    esac
done
