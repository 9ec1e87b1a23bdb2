#!/usr/bin/env bash
# One ensemble of trained bundles, measured as the model card measures a run:
#   bash Scripts/ensemble.sh NAME MEMBER.hsmodel MEMBER.hsmodel [...]
# for example (the bundle and the wider network, docs/model-card.md)
#   bash Scripts/ensemble.sh ens-nj-compact Samples/models/histoscreen-pcam.hsmodel .data/runs/compact-cal.hsmodel
# Averages the members' logits into .data/runs/NAME.hsmodel (`histoscreen ensemble`), calibrates it
# on half A of PCam's valid split into .data/runs/NAME-cal.hsmodel (temperature and operating
# points; the report in .data/runs/NAME-cal.json), evaluates it (Scripts/evaluate-model.sh) into
# .data/eval/NAME with half A's predictions in .data/eval/NAME/val-a for Scripts/ensemble_auc.py,
# and copies the calibration report and metrics to docs/ablations/NAME-*.json. A few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: bash Scripts/ensemble.sh NAME MEMBER.hsmodel MEMBER.hsmodel [...]" >&2; exit 2; }
name="$1"; shift
manifest=Samples/datasets/pcam-slide-level.csv
[ -d .data/pcam-more/ai4all-pcam-valid ] || { echo "extract the pcam-more patches first (docs/datasets.md)" >&2; exit 1; }
swift build -c release --product histoscreen >/dev/null
bin="$(swift build -c release --show-bin-path)/histoscreen"
for member in "$@"; do
    case "$(realpath -m "$member")" in
        "$(realpath -m ".data/runs/$name.hsmodel")" | "$(realpath -m ".data/runs/$name-cal.hsmodel")")
            echo "$member would be overwritten by the ensemble: choose another NAME" >&2; exit 2 ;;
    esac
done
mkdir -p .data/runs docs/ablations
rm -rf ".data/runs/$name.hsmodel" ".data/runs/$name-cal.hsmodel"
"$bin" ensemble "$@" --out ".data/runs/$name.hsmodel"
"$bin" calibrate ".data/runs/$name.hsmodel" --manifest "$manifest" --default-point screening \
    --out ".data/runs/$name-cal.hsmodel" --json > ".data/runs/$name-cal.json"
bash Scripts/evaluate-model.sh ".data/runs/$name-cal.hsmodel" ".data/eval/$name"
cp ".data/runs/$name-cal.json" "docs/ablations/$name-calibration.json"
cp ".data/eval/$name/slide-level/metrics.json" "docs/ablations/$name-slide-level-metrics.json"
cp ".data/eval/$name/patch-level/metrics.json" "docs/ablations/$name-patch-level-metrics.json"
