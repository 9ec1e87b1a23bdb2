#!/usr/bin/env python3
"""Copies a small, fixed subset of the shared PCam patches into Tests/Fixtures/pcam-mini/ as
lossless PNG (smaller than the uncompressed TIFFs), with a path,label CSV.

    pip install pillow && python3 Scripts/make_patch_subset.py

The subset is every k-th id of each class in sorted order, so it is the same on every run.
"""
import csv
from pathlib import Path

from PIL import Image

root = Path(__file__).resolve().parent.parent
source = root.parent / "shared/data/pcam-kaggle"
out = root / "Tests/Fixtures/pcam-mini"
PER_CLASS = 100

labels = {}
with open(source / "train_labels.csv") as f:
    for row in csv.DictReader(f):
        labels[row["id"]] = int(row["label"])

chosen = []
for label in (0, 1):
    ids = sorted(i for i, l in labels.items() if l == label)
    step = len(ids) // PER_CLASS
    chosen += [(i, label) for i in ids[::step][:PER_CLASS]]

out.mkdir(parents=True, exist_ok=True)
with open(out / "labels.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "label"])
    for i, label in sorted(chosen):
        Image.open(source / "train" / f"{i}.tif").convert("RGB").save(out / f"{i}.png", optimize=True)
        w.writerow([f"{i}.png", label])
print(f"wrote {len(chosen)} patches to {out.relative_to(root)}")
