#!/usr/bin/env bash
# One ablation of the bundled recipe, end to end (docs/model-card.md, "What each choice bought"):
#   bash Scripts/ablation.sh NAME [histoscreen train options that change the recipe]
# for example
#   bash Scripts/ablation.sh jpeg --augment d4,jitter,jpeg
#   bash Scripts/ablation.sh ema --weight-average 0.999
#   bash Scripts/ablation.sh slim-mixup --mixup 0.2
# Trains .data/runs/NAME.hsmodel with Scripts/train-bundled-model.sh and the given options
# appended (a repeated option's last value wins), calibrates it on half A of PCam's valid split,
# evaluates it (Scripts/evaluate-model.sh) into .data/eval/NAME, and copies its history and
# metrics to docs/ablations/NAME-*.json, which Scripts/ablation_table.py reads. A run whose
# history.json exists is not trained again; an interrupted one continues with --resume.
# About 70 minutes on one thread of this project's 2-core machines: run two side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bash Scripts/ablation.sh NAME [train options]" >&2; exit 2; }
name="$1"; shift
run=.data/runs/$name.hsmodel
mkdir -p docs/ablations
bash Scripts/train-bundled-model.sh "$run" ".data/runs/$name-cal.hsmodel" --quiet "$@"
bash Scripts/evaluate-model.sh ".data/runs/$name-cal.hsmodel" ".data/eval/$name"
cp "$run/history.json" "docs/ablations/$name-history.json"
cp ".data/eval/$name/slide-level/metrics.json" "docs/ablations/$name-slide-level-metrics.json"
cp ".data/eval/$name/patch-level/metrics.json" "docs/ablations/$name-patch-level-metrics.json"
