#!/usr/bin/env bash
# The README's two pictures of the main job, made again from the bundled model:
#   bash Scripts/make-readme-figures.sh
# Screens Samples/slides/CMU-1-Small-Region.svs as the README's main job does (stride 32, with
# the viewer), copies its overlay.png to docs/figures/overlay-cmu.png, and has headless Chromium
# (Debian's `chromium`) open viewer.html at 1000 × 700, zoom once about the upper middle and
# hover region 1, saving docs/figures/viewer-cmu.png. Prints the screen's summary line, which the
# README quotes. Run it after the bundled model changes.
set -euo pipefail
cd "$(dirname "$0")/.."
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "make-readme-figures: needs chromium (bash Scripts/setup-debian.sh --test)" >&2; exit 1; }
swift build -c release --product histoscreen >/dev/null
bin="$(swift build -c release --show-bin-path)/histoscreen"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" screen Samples/slides/CMU-1-Small-Region.svs --out "$work/out" --stride 32 --viewer --quiet
folder="$work/out/CMU-1-Small-Region"
actions=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("wheel:480,120,-300;hover:1"))')
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,700 \
    --virtual-time-budget=10000 --screenshot="$work/viewer.png" "file://$folder/viewer.html?actions=$actions" 2>/dev/null
[ -s "$work/viewer.png" ] || { echo "make-readme-figures: chromium wrote no screenshot" >&2; exit 1; }
# Copy, then rename: a failed run leaves the committed figures as they were.
cp "$folder/overlay.png" docs/figures/.overlay-cmu.png && mv docs/figures/.overlay-cmu.png docs/figures/overlay-cmu.png
cp "$work/viewer.png" docs/figures/.viewer-cmu.png && mv docs/figures/.viewer-cmu.png docs/figures/viewer-cmu.png
python3 - "$folder/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
t = s["tiles"]
print(f"wrote docs/figures/overlay-cmu.png and viewer-cmu.png: {t['withTissue']} tiles with tissue, "
      f"{t['positive']} positive, tumour fraction {100 * s['tumourFraction']:.1f}%, {s['regionCount']} regions, "
      f"model {s['model']['name']} ({s['model']['architecture']})")
PY
