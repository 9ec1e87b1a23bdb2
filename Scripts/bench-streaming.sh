#!/usr/bin/env bash
# Streaming benchmark: screens a generated 100,000 × 100,000-pixel pyramidal slide (copies of
# the sample slide's tissue, Samples/slides/CMU-1-Small-Region.svs) and reports peak memory
# (GNU time's maximum resident set size) and tiles/s, next to the model's pure inference
# throughput measured in the same run.
#
#   swift build -c release && bash Scripts/bench-streaming.sh [workdir]
#
# The slide (about 1 GB) is generated once into the work folder (default /tmp/histoscreen-bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.build/release/histoscreen"
work=${1:-/tmp/histoscreen-bench}
mkdir -p "$work"
slide="$work/big-100k.tiff"
if [ ! -s "$slide" ]; then
    "$bin" make-slide "$root/Samples/slides/CMU-1-Small-Region.svs" --out "$slide" --size 100000 --spacing 8000
fi
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
"$bin" info "$slide" | head -n 4
/usr/bin/time -v -o "$work/time.txt" "$bin" screen "$slide" --out "$work/out" --json --quiet > "$work/summary.json"
peak_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
python3 - "$work/summary.json" "$peak_kb" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
t = s["timings"]
print(f"screened {s['tiles']['withTissue']} of {s['tiles']['total']} tiles in {t['totalSeconds']:.1f} s "
      f"({t['tilesPerSecond']:.1f} tiles/s overall; read {t['readSeconds']:.1f} s on the reader thread, "
      f"inference {t['inferenceSeconds']:.1f} s, write {t['writeSeconds']:.1f} s)")
print(f"peak RSS {int(sys.argv[2]) / 1024:.0f} MiB")
PY
# Pure inference of the same architecture as the model the screen used (the bundled default).
arch=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["model"]["architecture"])' "$work/summary.json")
"$bin" bench --arch "$arch" --no-training --no-sgemm --repeats 3 | tail -n 1
