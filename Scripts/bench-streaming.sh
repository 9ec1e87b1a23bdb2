#!/usr/bin/env bash
# Streaming benchmark: screens a generated 100,000 × 100,000-pixel pyramidal slide (copies of
# the sample slide's tissue, Samples/slides/CMU-1-Small-Region.svs) and reports peak memory
# (GNU time's maximum resident set size) and tiles/s, next to the model's pure inference
# throughput measured in the same run.
#
#   swift build -c release && bash Scripts/bench-streaming.sh [workdir] [rounds]
#
# The slide (about 1 GB) is generated once into the work folder (default /tmp/histoscreen-bench).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.build/release/histoscreen"
work=${1:-/tmp/histoscreen-bench}
rounds=${2:-3}
mkdir -p "$work"
slide="$work/big-100k.tiff"
if [ ! -s "$slide" ]; then
    "$bin" make-slide "$root/Samples/slides/CMU-1-Small-Region.svs" --out "$slide" --size 100000 --spacing 8000
fi
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
"$bin" info "$slide" | head -n 4
# Rounds alternate the screen with a pure-inference benchmark of the same architecture (the
# bundled model's), so that each ratio compares runs made a few seconds apart. The benchmark
# runs as many batches of 64 as the screen has tiles, and reports two rates: the median over
# its batches, and the rate sustained over all of them (total patches over total time). The
# second is the like-for-like baseline on a shared machine: like the screen, it is one run of
# the same length, so it takes the same share of other tenants' interference; a median of
# short repeats leaves that out.
arch=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["architecture"]["name"])' \
    "$root/Samples/models/histoscreen-pcam.hsmodel/model.json")
for round in $(seq 1 "$rounds"); do
    /usr/bin/time -v -o "$work/time-$round.txt" "$bin" screen "$slide" --out "$work/out" --json --quiet > "$work/summary-$round.json"
    batches=$(python3 -c 'import json, sys; print(max(10, -(-json.load(open(sys.argv[1]))["tiles"]["withTissue"] // 64)))' "$work/summary-$round.json")
    "$bin" bench --arch "$arch" --no-training --no-sgemm --repeats "$batches" --json > "$work/bench-$round.json"
done
python3 - "$work" "$rounds" <<'PY'
import json, re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
ratios, sustained_ratios, rates, pures, sustaineds, peaks = [], [], [], [], [], []
for r in range(1, rounds + 1):
    s = json.load(open(f"{work}/summary-{r}.json"))
    t = s["timings"]
    b = json.load(open(f"{work}/bench-{r}.json"))["architectures"][0]
    pure, sustained = b["inferencePatchesPerSecond"]["median"], b["inferenceSustainedPatchesPerSecond"]
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{work}/time-{r}.txt").read()).group(1)) / 1024
    print(f"round {r}: screened {s['tiles']['withTissue']} of {s['tiles']['total']} tiles in {t['totalSeconds']:.1f} s "
          f"({t['tilesPerSecond']:.1f} tiles/s end to end, writing included; reader thread busy {t['readSeconds']:.1f} s, CPU {t.get('readCPUSeconds', float('nan')):.1f} s, "
          f"inference {t['inferenceSeconds']:.1f} s, write {t['writeSeconds']:.1f} s); pure inference {pure:.1f} patches/s "
          f"(median batch), {sustained:.1f} sustained; ratios {t['tilesPerSecond'] / pure:.3f} and {t['tilesPerSecond'] / sustained:.3f}; "
          f"peak RSS {peak:.0f} MiB")
    ratios.append(t["tilesPerSecond"] / pure); sustained_ratios.append(t["tilesPerSecond"] / sustained)
    rates.append(t["tilesPerSecond"]); pures.append(pure); sustaineds.append(sustained); peaks.append(peak)
m = s["model"]
print(f"model {m['name']} ({m['architecture']}), {rounds} rounds: screen {statistics.median(rates):.1f} tiles/s; "
      f"pure inference {statistics.median(sustaineds):.1f} patches/s sustained, {statistics.median(pures):.1f} median batch; "
      f"peak RSS at most {max(peaks):.0f} MiB")
print(f"screen / sustained pure inference: {statistics.median(sustained_ratios):.3f} "
      f"(range {min(sustained_ratios):.3f}–{max(sustained_ratios):.3f})")
print(f"screen / median-batch pure inference: {statistics.median(ratios):.3f} (range {min(ratios):.3f}–{max(ratios):.3f})")
PY
