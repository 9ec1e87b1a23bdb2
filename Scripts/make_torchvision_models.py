#!/usr/bin/python3
"""Exports torchvision architectures to ONNX with seeded random weights, for the import tests.

Run with Debian's python3 (python3-torch 1.13 and python3-torchvision 0.14; nothing downloads
pretrained weights):

    /usr/bin/python3 Scripts/make_torchvision_models.py --out .data/torchvision

Each architecture is built with 2 output classes (VGG16's head takes its 3 × 3 features at 96 px), initialised by torchvision from
torch.manual_seed(0), put in eval mode, and exported at 96 × 96 with a free batch size (opset 13).
Scripts/onnx_reference.py then computes onnxruntime's probabilities on real patches.
"""
import argparse
import os

import csv

import numpy as np
import torch
import torchvision
from PIL import Image

ARCHITECTURES = ["vgg16", "resnet18", "resnet50", "densenet121", "mobilenet_v2", "efficientnet_b0"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--arch", action="append", help="only these (default: all six)")
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "pcam-kaggle"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    # The patches the references use (Scripts/onnx_reference.py), ImageNet-normalised.
    ids = sorted(r["id"] for r in csv.DictReader(open(os.path.join(args.data, "train_labels.csv"))))[:256]
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    patches = torch.from_numpy(np.stack([((np.asarray(Image.open(os.path.join(args.data, "train", i + ".tif")).convert("RGB"), np.float32)
                                           / 255 - mean) / std).transpose(2, 0, 1) for i in ids]).astype(np.float32))
    for name in args.arch or ARCHITECTURES:
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(weights=None, num_classes=2)
        if name == "vgg16" and args.size < 224:
            # torchvision's VGG pools to 7 × 7 for its 224-pixel input; at 96 px the features are
            # 3 × 3, so the head takes them as they are (as the seed project's Keras VGG16 did).
            side = args.size // 32
            model.avgpool = torch.nn.Identity()
            model.classifier[0] = torch.nn.Linear(512 * side * side, 4096)
            torch.nn.init.normal_(model.classifier[0].weight, 0, 0.01)
            torch.nn.init.constant_(model.classifier[0].bias, 0)
        model = model.eval()
        # Random weights give near-constant outputs; scale the last linear layer so that the
        # logit difference over the patches has mean 0 and standard deviation 1, so the
        # probabilities spread out and a comparison of them means something.
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        with torch.no_grad():
            z = model(patches)
            difference = (z[:, 1] - z[:, 0]).double()
            scale = 1 / max(float(difference.std()), 1e-12)
            last.weight.mul_(scale)
            last.bias.mul_(scale)
            last.bias[1] -= float(difference.mean()) * scale
        x = torch.randn(1, 3, args.size, args.size)
        path = os.path.join(args.out, f"{name}.onnx")
        torch.onnx.export(model, x, path, opset_version=13, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=True)
        print(f"{name}: {os.path.getsize(path) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
