#!/usr/bin/env bash
# Trains the bundled model from scratch, as docs/model-card.md describes: about 80 minutes
# on this project's 2-core machines.
#   1. extract the extra patches (docs/datasets.md):
#        python3 ../shared/data/pcam-more/extract.py --ai4all GITDIR --ibm GITDIR --out .data/pcam-more
#   2. bash Scripts/train-bundled-model.sh [standard|robust] [OUT.hsmodel]
# Trains on the train roles of Samples/datasets/pcam-slide-level.csv, chooses the epoch on half A
# of PCam's valid split, then calibrates (temperature, operating points) on the same half.
set -euo pipefail
cd "$(dirname "$0")/.."
augment="${1:-standard}"
out="${2:-.data/runs/slim-$augment.hsmodel}"
manifest=Samples/datasets/pcam-slide-level.csv
[ -d .data/pcam-more/ai4all-pcam-train ] || { echo "extract the pcam-more patches first (docs/datasets.md)" >&2; exit 1; }
swift build -c release --product histoscreen >/dev/null
bin="$(swift build -c release --show-bin-path)/histoscreen"
"$bin" train --manifest "$manifest" --out "$out" --arch compact-slim --epochs 16 --patience 6 \
    --augment "$augment" --seed 1 --threads 1
"$bin" calibrate "$out" --manifest "$manifest" --default-point screening
