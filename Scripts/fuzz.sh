#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each.
#   bash Scripts/fuzz.sh RUNS [TARGET...]     e.g. bash Scripts/fuzz.sh 1000000
#   FUZZ_SECONDS=15 bash Scripts/fuzz.sh 0    each target for 15 s instead (what CI runs)
# Targets: FuzzSafetensors, FuzzModelJSON, FuzzDatasetCSV, FuzzSlide, FuzzAnnotations, FuzzONNX (default: all). Each starts from
# seeds copied from the repository (Tests/Fixtures, Samples), in .build-fuzz/corpus/TARGET/. A
# crash, a sanitizer report, or an allocation over 2 GB fails the script; libFuzzer writes the
# input as .build-fuzz/crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1000000}"; shift || true
targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=(FuzzSafetensors FuzzModelJSON FuzzDatasetCSV FuzzSlide FuzzAnnotations FuzzONNX)
clang=$(dirname "$(readlink -f "$(command -v swift)")")/clang
export HISTOSCREEN_FUZZ=1
# Let libFuzzer, not the Swift runtime's backtracer, handle a crash, so it saves the input.
export SWIFT_BACKTRACE=enable=no
for t in "${targets[@]}"; do
    swift build -c release --scratch-path .build-fuzz --product "$t" -Xswiftc -sanitize=fuzzer >/dev/null
    "$clang" -fsanitize=fuzzer -o ".build-fuzz/$t" -L.build-fuzz/release -l"$t" \
        -Wl,-rpath,"$PWD/.build-fuzz/release" -Wl,-rpath,"$(dirname "$clang")/../lib/swift/linux"
    corpus=".build-fuzz/corpus/$t"; mkdir -p "$corpus"
    case "$t" in
        FuzzSafetensors) python3 - "$corpus" <<'PY'
import json, struct, sys
for n, tensors in enumerate([{"a": ("F32", [2])}, {"k": ("F64", [2, 3]), "b": ("F32", [1])}, {"__metadata__": {"format": "pt"}, "x": ("F32", [0])}]):
    header, blob = {}, b""
    for name, value in tensors.items():
        if name == "__metadata__": header[name] = value; continue
        dtype, shape = value; size = (8 if dtype == "F64" else 4) * (shape[0] * (shape[1] if len(shape) > 1 else 1))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + size]}; blob += b"\1" * size
    text = json.dumps(header).encode(); text += b" " * (-len(text) % 8)
    open(f"{sys.argv[1]}/seed{n}.safetensors", "wb").write(struct.pack("<Q", len(text)) + text + blob)
PY
            ;;
        FuzzModelJSON) cp Samples/models/histoscreen-pcam.hsmodel/model.json "$corpus/bundled.json" ;;
        FuzzDatasetCSV) cp Tests/Fixtures/bad-inputs/files/*.csv Tests/Fixtures/pcam-mini/labels.csv Samples/datasets/*.csv "$corpus/" ;;
        FuzzAnnotations) cp Tests/Fixtures/qupath/qupath-export.geojson Tests/Fixtures/bad-inputs/files/truth-* "$corpus/"
            find Tests/Fixtures/bad-inputs/files -name tiles.csv | while read -r f; do cp "$f" "$corpus/$(echo "$f" | tr / _)"; done ;;
        FuzzONNX) find Tests/Fixtures/onnx -name '*.onnx' -size -64k -exec cp {} "$corpus/" \; ;;
        FuzzSlide) find Tests/Fixtures -maxdepth 3 \( -name '*.tif' -o -name '*.png' -o -name '*.svs' \) -size -64k -exec cp {} "$corpus/" \; ;;
    esac
    limit=(-runs="$runs"); [ "$runs" = 0 ] && limit=(-max_total_time="${FUZZ_SECONDS:-15}")
    echo "fuzz: $t (${limit[*]})"
    ".build-fuzz/$t" "${limit[@]}" -malloc_limit_mb=2048 -rss_limit_mb=4096 -max_len=65536 \
        -artifact_prefix=.build-fuzz/ "$corpus" 2>&1 | grep -E "^#[0-9]+ +DONE|^Done|ERROR|SUMMARY|crash|deadly" || true
    [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: $t failed"; exit 1; }
done
