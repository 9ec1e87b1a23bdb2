#!/usr/bin/env bash
# The model card's figures for a bundle, each set evaluated once (docs/model-card.md):
#   bash Scripts/evaluate-model.sh NAME.hsmodel OUTDIR
# Writes OUTDIR/{slide-level,slide-level-tta,patch-level,patch-level-tta}/ (metrics.json, ROC,
# calibration, galleries) for
#   slide-level: half B of PCam's valid split (slides never used for training or any choice)
#   patch-level: the 773-patch test subset of pcam-kaggle (may share slides with training)
# and OUTDIR/val-a/: half A, which chose the epoch and thresholds, for the paired differences of
# Scripts/ensemble_auc.py between runs (not a figure of merit).
set -euo pipefail
cd "$(dirname "$0")/.."
model="$1"; out="$2"
bin="$(swift build -c release --show-bin-path)/histoscreen"
valid=.data/pcam-more/ai4all-pcam-valid
[ -d "$valid" ] || { echo "extract the pcam-more patches first (docs/datasets.md)" >&2; exit 1; }
for tta in "" "--tta"; do
    suffix=${tta:+-tta}
    "$bin" evaluate "$model" "$valid" --split Samples/datasets/ai4all-pcam-valid-split.csv --subset test \
        --out "$out/slide-level$suffix" --quiet $tta --json > /dev/null
    "$bin" evaluate "$model" ../shared/data/pcam-kaggle --split Samples/models/pcam-kaggle-split.csv --subset test \
        --out "$out/patch-level$suffix" --quiet $tta --json > /dev/null
done
"$bin" evaluate "$model" "$valid" --split Samples/datasets/ai4all-pcam-valid-split.csv --subset val \
    --out "$out/val-a" --quiet --json > /dev/null
python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
for name in ["slide-level", "slide-level-tta", "patch-level", "patch-level-tta"]:
    m = json.load(open(os.path.join(out, name, "metrics.json")))
    f = lambda i: f"{i['estimate']:.3f} ({i['lower']:.3f}–{i['upper']:.3f})"
    line = f"{name:16s} n={m['patches']:5d} AUC {f(m['auc'])} ECE {m['expectedCalibrationError']:.3f}"
    for point, r in sorted((m.get("operatingPoints") or {}).items()):
        line += f" | {point} t={r['threshold']:.3f} sens {f(r['sensitivity'])} spec {f(r['specificity'])} acc {f(r['accuracy'])}"
    print(line)
PY
