#!/usr/bin/env python3
"""onnxruntime's class probabilities for real PCam patches, the reference for import tests.

    python3 Scripts/onnx_reference.py MODEL.onnx [--count 256] [--normalization imagenet] --out MODEL.reference.json

Reads the first COUNT patches (sorted by id) of ../shared/data/pcam-kaggle, normalises them
(pixels / 255, then (x − mean) / std) and writes their ids and softmax probabilities.
"""
import argparse
import csv
import json
import os

import numpy as np
import onnxruntime
from PIL import Image

NORMALIZATIONS = {"imagenet": ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "pcam-kaggle"))
    parser.add_argument("--count", type=int, default=256)
    parser.add_argument("--normalization", default="imagenet")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    ids = sorted(r["id"] for r in csv.DictReader(open(os.path.join(args.data, "train_labels.csv"))))[:args.count]
    mean, std = (np.array(v, np.float32) for v in NORMALIZATIONS[args.normalization])
    batch = np.stack([((np.asarray(Image.open(os.path.join(args.data, "train", i + ".tif")).convert("RGB"), np.float32) / 255 - mean) / std)
                      .transpose(2, 0, 1) for i in ids]).astype(np.float32)
    session = onnxruntime.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    logits = np.concatenate([session.run(None, {session.get_inputs()[0].name: batch[k:k + 32]})[0] for k in range(0, len(ids), 32)])
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    with open(args.out, "w") as f:
        json.dump({"model": os.path.basename(args.model), "normalization": args.normalization, "ids": ids,
                   "probabilities": [[float(f"{v:.9g}") for v in row] for row in p]}, f)
        f.write("\n")
    print(f"{args.model}: {len(ids)} patches, P(class 1) {p[:, 1].min():.3f}–{p[:, 1].max():.3f}")


if __name__ == "__main__":
    main()
