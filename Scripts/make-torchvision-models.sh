#!/usr/bin/env bash
# Makes the torchvision models TorchvisionImportTests uses, in .data/torchvision/:
# six architectures exported to ONNX by Debian's python3-torch (seeded random weights), and
# onnxruntime's probabilities for each on 256 real PCam patches from ../shared/data/pcam-kaggle.
# Needs `bash Scripts/setup-debian.sh --test` (python3-torch, python3-torchvision) and
# onnxruntime from PyPI for python3.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.data/torchvision
/usr/bin/python3 Scripts/make_torchvision_models.py --out "$out" 2>&1 | grep -v -i "warning" || true
for arch in vgg16 resnet18 resnet50 densenet121 mobilenet_v2 efficientnet_b0; do
    [ -f "$out/$arch.onnx" ] || { echo "make-torchvision-models: $out/$arch.onnx was not written" >&2; exit 1; }
    python3 Scripts/onnx_reference.py "$out/$arch.onnx" --out "$out/$arch.reference.json"
done
