#!/usr/bin/env python3
"""Checks `histoscreen export` against onnxruntime on real patches.

Exports BUNDLE to ONNX, runs onnxruntime on the PCam patches of a dataset (default: the 200 of
Tests/Fixtures/pcam-mini) normalised as the file's metadata says, and compares the
probabilities with those `histoscreen evaluate` gives for the same bundle.

    python3 Scripts/check_export.py Samples/models/histoscreen-pcam.hsmodel
    python3 Scripts/check_export.py BUNDLE [--data labels.csv] [--bin .build/release/histoscreen]
"""
import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime
from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle")
    parser.add_argument("--data", default="Tests/Fixtures/pcam-mini/labels.csv")
    parser.add_argument("--bin", default=".build/release/histoscreen")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.onnx")
        subprocess.run([args.bin, "export", args.bundle, "--onnx", path], check=True, stdout=subprocess.DEVNULL)
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        meta = {p.key: p.value for p in model.metadata_props}
        numbers = [float(v) for v in re.findall(r"-?\d+\.?\d*(?:e-?\d+)?", meta["histoscreen.normalization"].split(";", 1)[1])]
        mean, std = np.array(numbers[:3], np.float32), np.array(numbers[3:6], np.float32)
        folder = os.path.dirname(args.data)
        rows = list(csv.DictReader(open(args.data)))
        column = "path" if "path" in rows[0] else "id"
        def load(name):
            file = os.path.join(folder, name if os.path.splitext(name)[1] else name + ".tif")
            return ((np.asarray(Image.open(file).convert("RGB"), np.float32) / 255 - mean) / std).transpose(2, 0, 1)
        batch = np.stack([load(r[column]) for r in rows]).astype(np.float32)
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        theirs = session.run(None, {model.graph.input[0].name: batch})[0][:, -1].astype(np.float64)
        subprocess.run([args.bin, "evaluate", args.bundle, args.data, "--out", os.path.join(tmp, "eval"), "--quiet", "--resamples", "10"],
                       check=True, stdout=subprocess.DEVNULL)
        ours = {}
        for r in csv.DictReader(open(os.path.join(tmp, "eval", "predictions.csv"))):
            ours[os.path.basename(r["id"])] = float(r["probability"])
        ours = np.array([ours[os.path.basename(r[column])] for r in rows])
        difference = np.abs(ours - theirs)
        print(f"{args.bundle}: {len(rows)} patches; |histoscreen − onnxruntime| max {difference.max():.2e}, "
              f"median {np.median(difference):.2e}; probabilities {theirs.min():.3f}–{theirs.max():.3f}")
        return 0 if difference.max() <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
