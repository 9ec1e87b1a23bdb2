#!/usr/bin/env python3
"""Writes Tests/Fixtures/pcam-jpeg/: two real PatchCamelyon JPEG patches (one per label) from the
extracted `ai4all-pcam-valid` set, and each decoded by Pillow to PNG, the reference HistoScreen's
TurboJPEG decoder is checked against.

    python3 Scripts/make_jpeg_fixtures.py .data/pcam-more/ai4all-pcam-valid
"""
import csv, pathlib, shutil, sys
import numpy as np
from PIL import Image

source = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".data/pcam-more/ai4all-pcam-valid")
out = pathlib.Path(__file__).resolve().parent.parent / "Tests/Fixtures/pcam-jpeg"
out.mkdir(parents=True, exist_ok=True)
rows = list(csv.DictReader(open(source / "train_labels.csv")))
for label in "01":
    row = next(r for r in rows if r["label"] == label)  # the first of each label, in list order
    target = out / f"{row['id']}.jpg"
    shutil.copyfile(source / "train" / target.name, target)
    Image.fromarray(np.asarray(Image.open(target).convert("RGB"))).save(out / f"{row['id']}.pillow.png")
    print(f"{target.name}: label {label}")
