#!/usr/bin/env bash
# Trains the bundled model from scratch, as docs/model-card.md describes: about 80 minutes
# on one thread of this project's 2-core machines. The recipe is D4 flips and rotations only
# (`--augment d4`); the ablations before 2026-12-02 changed one thing about the earlier
# `--augment standard` recipe (D4 and colour jitter), so their commands name it.
#   1. extract the extra patches (docs/datasets.md):
#        python3 ../shared/data/pcam-more/extract.py --ai4all GITDIR --ibm GITDIR --out .data/pcam-more
#   2. bash Scripts/train-bundled-model.sh [OUT.hsmodel [CALIBRATED.hsmodel]] [train options]
# Trains on the train roles of Samples/datasets/pcam-slide-level.csv, chooses the epoch on half A
# of PCam's valid split, then calibrates (temperature, operating points) on the same half: in
# place, or into CALIBRATED.hsmodel with the calibration report in CALIBRATED.json.
# Train options after the paths are appended to the recipe (a repeated option's last value
# wins), so that Scripts/ablation.sh changes one thing and keeps the rest. An interrupted run
# continues from its checkpoint. A trained OUT (with history.json) is only calibrated again
# into CALIBRATED.hsmodel; without CALIBRATED it is an error, not a second calibration.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.data/runs/slim-standard.hsmodel
calibrated=
if [ $# -ge 1 ] && [[ "$1" != -* ]]; then out="$1"; shift; fi
if [ $# -ge 1 ] && [[ "$1" != -* ]]; then calibrated="$1"; shift; fi
manifest=Samples/datasets/pcam-slide-level.csv
[ -d .data/pcam-more/ai4all-pcam-train ] || { echo "extract the pcam-more patches first (docs/datasets.md)" >&2; exit 1; }
swift build -c release --product histoscreen >/dev/null
bin="$(swift build -c release --show-bin-path)/histoscreen"
mkdir -p "$(dirname "$out")"
if [ -f "$out/history.json" ]; then
    # Calibrating in place twice would fit a temperature to calibrated probabilities.
    [ -n "$calibrated" ] || { echo "$out is trained already: remove it to train again" >&2; exit 1; }
    echo "$out is trained already; calibrating it into $calibrated"
else
    resume=(); [ -d "$out.checkpoint" ] && resume=(--resume)
    "$bin" train --manifest "$manifest" --out "$out" --arch compact-slim --epochs 16 --patience 6 \
        --augment d4 --seed 1 --threads 1 "${resume[@]}" "$@"
fi
if [ -n "$calibrated" ]; then
    "$bin" calibrate "$out" --manifest "$manifest" --default-point screening --out "$calibrated" --json \
        > "${calibrated%.hsmodel}.json"
else
    "$bin" calibrate "$out" --manifest "$manifest" --default-point screening
fi
